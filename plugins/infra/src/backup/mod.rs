//! `infra.backup`: the newest backup matching a glob is recent and not empty,
//! and a PostgreSQL `backup_manifest` verifies against the files beside it.
//!
//! Age is the newest file's modification time against the host clock
//! (`clock.now`, which tests pin). Manifest checksums are computed inside the
//! guest (CRC-32C and SHA-2 in pure Rust), so verifying a large backup takes
//! as long as reading it: raise the plugin's `timeout_ms` for big ones.

pub mod crc32c;
pub mod manifest;

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use gate_plugin_sdk::host::clock;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use crate::file_glob::{self, Expansion, MatchedFile};
use crate::size::ByteSize;
use manifest::{Algorithm, FileIssue, Mismatch, Verification};

pub const ID: &str = "infra.backup";

pub struct Backup;

/// A manifest lists every file of the data directory (about a thousand for an
/// empty cluster); more than this many mismatches are summarised.
const MAX_FILE_FINDINGS: usize = 50;
const MAX_MANIFEST_BYTES: u64 = 256 << 20;

fn one_byte() -> ByteSize {
    ByteSize(1)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub glob: Option<String>,
    #[serde(default)]
    pub max_age_hours: Option<f64>,
    #[serde(default = "one_byte")]
    pub min_bytes: ByteSize,
    #[serde(default)]
    pub manifest: Option<String>,
}

impl Params {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.glob.is_none() && self.manifest.is_none() {
            problems.push(
                "set `glob` (backup files) and/or `manifest` (a PostgreSQL backup_manifest)"
                    .to_string(),
            );
        }
        if self.glob.is_some() && self.max_age_hours.is_none() {
            problems.push(
                "`glob` needs `max_age_hours`: a backup check must bound the backup's age"
                    .to_string(),
            );
        }
        if self.glob.is_none() && self.max_age_hours.is_some() {
            problems.push(
                "`max_age_hours` applies to the files `glob` matches; set `glob`".to_string(),
            );
        }
        if let Some(h) = self.max_age_hours
            && !(h.is_finite() && h > 0.0)
        {
            problems.push(format!("`max_age_hours` must be more than 0, not {h}"));
        }
        for (name, value) in [("glob", &self.glob), ("manifest", &self.manifest)] {
            if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
                problems.push(format!("`{name}` is empty"));
            }
        }
        problems
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `2024-06-01T03:00:00Z` for Unix seconds.
pub fn rfc3339(secs: i64) -> String {
    crate::certificates::rfc3339::format(secs)
}

impl Check for Backup {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Recent, verified backup".to_string(),
            description: "The newest backup matching a glob is younger than max_age_hours and at least min_bytes; a PostgreSQL backup_manifest verifies (sizes and checksums of every file)"
                .to_string(),
            default_severity: Severity::Critical,
            params: vec![
                param("glob", "string", false, "Backup files, relative to gate's working directory or absolute; `*` within a directory, `**` across directories"),
                param("max_age_hours", "number", false, "Largest age of the newest matching file (required with `glob`)"),
                param_default("min_bytes", "integer | string", "Smallest size of the newest matching file, e.g. \"1MiB\"", "1"),
                param("manifest", "string", false, "Path of a PostgreSQL backup_manifest; the files it lists are verified relative to its directory"),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let problems = p.problems();
        if !problems.is_empty() {
            return params::invalid(ctx, problems.join("; "));
        }
        let mut out = Vec::new();
        if let Some(glob) = &p.glob {
            let (now, _) = clock::now();
            let expansion = file_glob::expand(glob, &file_glob::host_resolve);
            out.extend(evaluate_newest(ctx, &p, glob, expansion, now));
        }
        if let Some(path) = &p.manifest {
            out.extend(evaluate_manifest(ctx, path, load_and_verify(path)));
        }
        out
    }
}

/// Reads the manifest through the `fs` grant and verifies its directory.
fn load_and_verify(path: &str) -> Result<Verification, String> {
    let granted = gate_plugin_sdk::paths::resolve(path)?;
    let bytes = gate_plugin_sdk::paths::read_bytes(&granted, MAX_MANIFEST_BYTES)?;
    let manifest = manifest::parse(&bytes)?;
    let dir = Path::new(&granted.absolute)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    Ok(manifest::verify(&dir, manifest))
}

/// Judges the newest file `glob` matched, at `now` (Unix seconds).
pub fn evaluate_newest(
    ctx: &Context,
    params: &Params,
    glob: &str,
    expansion: Result<Expansion, String>,
    now: i64,
) -> Vec<Finding> {
    let expansion = match expansion {
        Ok(e) => e,
        Err(e) => {
            return vec![
                ctx.finding(glob, Status::Error)
                    .message(format!("cannot look for backups matching `{glob}`: {e}"))
                    .remediation("check the pattern and that the `infra` plugin's `fs` grant covers the backup directory")
                    .build(),
            ];
        }
    };
    let mut out: Vec<Finding> = expansion
        .unreadable
        .iter()
        .map(|(path, e)| {
            ctx.finding(path, Status::Error)
                .message(format!("cannot read {path} while looking for backups: {e}"))
                .build()
        })
        .collect();
    let newest = expansion
        .files
        .iter()
        .max_by_key(|f| f.modified.and_then(|m| m.duration_since(UNIX_EPOCH).ok()));
    let Some(newest) = newest else {
        if out.is_empty() {
            out.push(
                ctx.finding(glob, Status::Fail)
                    .message(format!("no backup found matching `{glob}`"))
                    .remediation("check that backups run and write where `glob` looks")
                    .build(),
            );
        }
        return out;
    };
    let Some(mtime) = newest
        .modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
    else {
        out.push(
            ctx.finding(&newest.display, Status::Error)
                .message(format!(
                    "{}: modification time not available",
                    newest.display
                ))
                .build(),
        );
        return out;
    };
    out.push(newest_finding(
        ctx,
        params,
        newest,
        mtime,
        now,
        expansion.files.len(),
    ));
    out
}

/// Whether the newest backup is young and large enough.
fn newest_finding(
    ctx: &Context,
    params: &Params,
    newest: &MatchedFile,
    mtime: i64,
    now: i64,
    matched: usize,
) -> Finding {
    let max_hours = params.max_age_hours.unwrap_or(f64::INFINITY);
    let age_hours = (now - mtime) as f64 / 3600.0;
    let mut issues = Vec::new();
    if age_hours > max_hours {
        issues.push(format!(
            "is {age_hours:.1} hours old, older than max_age_hours {max_hours}"
        ));
    }
    if newest.len < params.min_bytes.0 {
        issues.push(format!(
            "is {} ({} bytes), smaller than min_bytes {}",
            ByteSize(newest.len),
            newest.len,
            params.min_bytes
        ));
    }
    let status = if issues.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let message = if issues.is_empty() {
        format!(
            "newest backup {} is {:.1} hours old and {}",
            newest.display,
            age_hours.max(0.0),
            ByteSize(newest.len)
        )
    } else {
        format!("newest backup {} {}", newest.display, issues.join(" and "))
    };
    let mut f = ctx
        .finding(&newest.display, status)
        .message(message)
        .evidence("modified", rfc3339(mtime))
        .evidence("age_hours", format!("{:.1}", age_hours))
        .evidence("bytes", newest.len)
        .evidence("matched", matched);
    if age_hours < 0.0 {
        f = f.evidence(
            "clock_skew",
            "the file's modification time is in the future",
        );
    }
    if status == Status::Fail {
        f = f.remediation(
            "check the backup job (schedule, logs, target storage) and take a fresh backup before deploying",
        );
    }
    f.build()
}

/// The manifest's directory as the user wrote it, for file subjects.
fn manifest_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "",
    }
}

/// Judges a manifest verification.
pub fn evaluate_manifest(
    ctx: &Context,
    path: &str,
    verification: Result<Verification, String>,
) -> Vec<Finding> {
    let v = match verification {
        Ok(v) => v,
        Err(e) => {
            return vec![
                ctx.finding(path, Status::Error)
                    .message(format!("cannot verify backup manifest {path}: {e}"))
                    .remediation("check the path and that the `infra` plugin's `fs` grant covers the backup directory")
                    .build(),
            ];
        }
    };
    let algorithms: Vec<&str> = v.manifest.algorithms().iter().map(|a| a.name()).collect();
    let algorithms = algorithms.join(", ");
    if let Some(tar) = &v.tar_format {
        return vec![
            ctx.finding(path, Status::Error)
                .message(format!(
                    "{path} belongs to a tar-format backup ({tar}); its files cannot be verified without extracting them"
                ))
                .remediation("verify a plain-format backup (pg_basebackup -Fp), or extract the tar and point `manifest` at the extracted copy")
                .build(),
        ];
    }
    let dir = manifest_dir(path);
    let mut out = vec![manifest_summary(ctx, path, &v, &algorithms)];

    for issue in v.issues.iter().take(MAX_FILE_FINDINGS) {
        out.push(issue_finding(ctx, path, dir, issue));
    }
    if v.issues.len() > MAX_FILE_FINDINGS {
        out.push(
            ctx.finding(path, Status::Fail)
                .message(format!(
                    "{} more file(s) do not match {path} (only the first {MAX_FILE_FINDINGS} are listed)",
                    v.issues.len() - MAX_FILE_FINDINGS
                ))
                .build(),
        );
    }
    out
}

/// The manifest's own finding: whether it and every file it lists verify.
fn manifest_summary(ctx: &Context, path: &str, v: &Verification, algorithms: &str) -> Finding {
    let checksum_ok = v.manifest.checksum_ok();
    let failing = v
        .issues
        .iter()
        .filter(|i| !matches!(i.mismatch, Mismatch::Unreadable(_)))
        .count();
    let unreadable = v.issues.len() - failing;
    let ok = checksum_ok && v.issues.is_empty();
    let status = if !checksum_ok || failing > 0 {
        Status::Fail
    } else if unreadable > 0 {
        Status::Error
    } else {
        Status::Pass
    };
    let mut problems = Vec::new();
    if !checksum_ok {
        problems.push(
            "its Manifest-Checksum does not match its contents (edited or truncated)".to_string(),
        );
    }
    if failing > 0 {
        problems.push(format!("{failing} file(s) do not match it"));
    }
    if unreadable > 0 {
        problems.push(format!("{unreadable} file(s) could not be read"));
    }
    let only_sizes = v.manifest.algorithms() == [Algorithm::None].into_iter().collect();
    let message = if ok {
        format!(
            "{} files ({}) match {path} ({}); Manifest-Checksum verified",
            v.files_checked,
            ByteSize(v.bytes_checked),
            if only_sizes {
                "sizes only: the manifest has no checksums".to_string()
            } else {
                format!("sizes and {algorithms} checksums")
            }
        )
    } else {
        format!("backup manifest {path}: {}", problems.join("; "))
    };
    let mut summary = ctx
        .finding(path, status)
        .message(message)
        .evidence("files", v.manifest.files.len())
        .evidence("verified_files", v.files_checked)
        .evidence("verified_bytes", v.bytes_checked)
        .evidence(
            "checksum_algorithm",
            if algorithms.is_empty() {
                "none".to_string()
            } else {
                algorithms.to_string()
            },
        )
        .evidence(
            "manifest_checksum",
            if checksum_ok { "ok" } else { "mismatch" },
        )
        .evidence("manifest_version", v.manifest.version)
        .evidence("wal_ranges", v.manifest.wal_ranges);
    if let Some(id) = v.manifest.system_identifier {
        summary = summary.evidence("system_identifier", id);
    }
    if status != Status::Pass {
        summary = summary.remediation(
            "do not restore from this backup: take a new one, and find out what changed the files (storage corruption, a tool writing into the backup)",
        );
    }
    summary.build()
}

/// One file that does not match the manifest.
fn issue_finding(ctx: &Context, path: &str, dir: &str, issue: &FileIssue) -> Finding {
    let subject = gate_plugin_sdk::paths::join_display(dir, &issue.path);
    let (status, message) = match &issue.mismatch {
        Mismatch::Missing => (
            Status::Fail,
            format!("{subject} is listed in the manifest but missing"),
        ),
        Mismatch::Size { expected, actual } => (
            Status::Fail,
            format!("{subject} is {actual} bytes; the manifest says {expected}"),
        ),
        Mismatch::Checksum {
            algorithm,
            expected,
            actual,
        } => (
            Status::Fail,
            format!(
                "{subject}: {} checksum {actual} does not match the manifest's {expected}",
                algorithm.name()
            ),
        ),
        Mismatch::Unexpected { size } => (
            Status::Fail,
            format!("{subject} ({size} bytes) is not listed in the manifest"),
        ),
        Mismatch::Unreadable(e) => (Status::Error, format!("cannot read {subject}: {e}")),
    };
    ctx.finding(&subject, status)
        .rule(issue.mismatch.rule())
        .message(message)
        .evidence("manifest", path)
        .location(&subject, None, None)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_glob::tests::Tree;
    use manifest::tests::write_backup;
    use std::time::Duration;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(json: serde_json::Value) -> Params {
        serde_json::from_value(json).expect("params")
    }

    fn set_mtime(path: &Path, secs: u64) {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }

    const NOW: i64 = 1_780_000_000;

    fn tree_with_backups() -> Tree {
        let t = Tree::new("backup-glob");
        let a = t.write("backups/2026/db-old.dump", &[1u8; 4096]);
        let b = t.write("backups/2026/db-new.dump", &[1u8; 2048]);
        let c = t.write("backups/notes.txt", b"x");
        set_mtime(&a, NOW as u64 - 48 * 3600);
        set_mtime(&b, NOW as u64 - 2 * 3600);
        set_mtime(&c, NOW as u64);
        t
    }

    #[test]
    fn newest_recent_backup_passes() {
        let t = tree_with_backups();
        let p = params(
            serde_json::json!({"glob": "backups/**/*.dump", "max_age_hours": 24, "min_bytes": "1KiB"}),
        );
        let e = file_glob::expand("backups/**/*.dump", &t.resolve());
        let out = evaluate_newest(&ctx(), &p, "backups/**/*.dump", e, NOW);
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert_eq!(
            (f.subject.as_str(), f.status),
            ("backups/2026/db-new.dump", Status::Pass),
            "{}",
            f.message
        );
        assert!(f.evidence.contains(&("age_hours".into(), "2.0".into())));
        assert!(f.evidence.contains(&("matched".into(), "2".into())));
        assert!(
            f.evidence
                .contains(&("modified".into(), rfc3339(NOW - 7200)))
        );
    }

    #[test]
    fn old_or_small_backup_fails() {
        let t = tree_with_backups();
        let p = params(
            serde_json::json!({"glob": "backups/**/*.dump", "max_age_hours": 1, "min_bytes": "1MiB"}),
        );
        let e = file_glob::expand("backups/**/*.dump", &t.resolve());
        let out = evaluate_newest(&ctx(), &p, "backups/**/*.dump", e, NOW);
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0]
                .message
                .contains("2.0 hours old, older than max_age_hours 1"),
            "{}",
            out[0].message
        );
        assert!(
            out[0].message.contains("smaller than min_bytes 1.0 MiB"),
            "{}",
            out[0].message
        );
    }

    #[test]
    fn empty_file_fails_by_default() {
        let t = Tree::new("backup-empty");
        let f = t.write("b/x.dump", b"");
        set_mtime(&f, NOW as u64);
        let p = params(serde_json::json!({"glob": "b/*.dump", "max_age_hours": 1}));
        let out = evaluate_newest(
            &ctx(),
            &p,
            "b/*.dump",
            file_glob::expand("b/*.dump", &t.resolve()),
            NOW,
        );
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0].message.contains("smaller than min_bytes 1 B"),
            "{}",
            out[0].message
        );
    }

    #[test]
    fn no_match_fails_and_unreadable_errors() {
        let t = Tree::new("backup-none");
        let p = params(serde_json::json!({"glob": "b/*.dump", "max_age_hours": 1}));
        let out = evaluate_newest(
            &ctx(),
            &p,
            "b/*.dump",
            file_glob::expand("b/*.dump", &t.resolve()),
            NOW,
        );
        assert_eq!(
            (out[0].status, out[0].subject.as_str()),
            (Status::Fail, "b/*.dump")
        );
        assert!(out[0].message.contains("no backup found"));
        let out = evaluate_newest(
            &ctx(),
            &p,
            "/denied/*",
            file_glob::expand("/denied/*", &t.resolve()),
            NOW,
        );
        assert_eq!(out[0].status, Status::Error);
        let e = Expansion {
            files: vec![],
            unreadable: vec![("b/private".into(), "Permission denied".into())],
        };
        let out = evaluate_newest(&ctx(), &p, "b/**", Ok(e), NOW);
        assert_eq!(
            (out.len(), out[0].status),
            (1, Status::Error),
            "a hidden backup may exist"
        );
    }

    #[test]
    fn manifest_pass_and_tamper() {
        let t = Tree::new("backup-manifest");
        write_backup(
            &t,
            &[("PG_VERSION", b"15\n"), ("base/1/1259", &[3u8; 100])],
            "CRC32C",
        );
        let path = format!("{}/backup_manifest", t.dir.display());
        let verify = || {
            let bytes = std::fs::read(&path).unwrap();
            Ok(manifest::verify(&t.dir, manifest::parse(&bytes).unwrap()))
        };
        let out = evaluate_manifest(&ctx(), "pg/backup_manifest", verify());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Pass, "{}", out[0].message);
        assert_eq!(
            out[0].message,
            "2 files (103 B) match pg/backup_manifest (sizes and CRC32C checksums); Manifest-Checksum verified"
        );

        t.write("base/1/1259", &[4u8; 100]);
        let out = evaluate_manifest(&ctx(), "pg/backup_manifest", verify());
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0].message.contains("1 file(s) do not match"),
            "{}",
            out[0].message
        );
        assert_eq!(out[1].subject, "pg/base/1/1259");
        assert_eq!(out[1].rule.as_deref(), Some("checksum-mismatch"));
        assert_eq!(out[1].status, Status::Fail);
    }

    #[test]
    fn manifest_errors() {
        let out = evaluate_manifest(
            &ctx(),
            "x/backup_manifest",
            Err("x/backup_manifest: No such file".into()),
        );
        assert_eq!((out.len(), out[0].status), (1, Status::Error));
    }

    #[test]
    fn bad_params() {
        let out = Backup.run(&ctx(), &serde_json::json!({}));
        assert!(out[0].message.contains("set `glob`"));
        let out = Backup.run(&ctx(), &serde_json::json!({"glob": "x"}));
        assert!(out[0].message.contains("needs `max_age_hours`"));
        let out = Backup.run(
            &ctx(),
            &serde_json::json!({"glob": "x", "max_age_hours": 0}),
        );
        assert!(out[0].message.contains("more than 0"));
        let out = Backup.run(
            &ctx(),
            &serde_json::json!({"manifest": "x", "min_bytes": "1G"}),
        );
        assert!(out[0].message.contains("ambiguous"));
    }

    #[test]
    fn formats_timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(
            gate_plugin_sdk::date::parse_timestamp(&rfc3339(1_780_000_123)),
            Ok(1_780_000_123)
        );
    }
}
