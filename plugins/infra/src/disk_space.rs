//! `infra.disk-space`: free bytes, free percent and free inodes on the
//! filesystems holding the given paths.
//!
//! "Free" means bytes available to unprivileged users (`f_bavail`), and the
//! percentage is `available / total`, the same ratio node_exporter's standard
//! alerts use. That is stricter than `df`'s `Use%`, which leaves the
//! root-reserved blocks out of the total: a service that does not run as root
//! cannot write into them.

use gate_plugin_sdk::host::system;
use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Severity, Status, param, params};
use serde::Deserialize;

use crate::size::ByteSize;

pub const ID: &str = "infra.disk-space";

pub struct DiskSpace;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub paths: Vec<String>,
    #[serde(default)]
    pub min_free_percent: Option<f64>,
    #[serde(default)]
    pub min_free_bytes: Option<ByteSize>,
    #[serde(default)]
    pub min_free_inodes_percent: Option<f64>,
}

impl Params {
    /// Every problem with parameters that parsed, so the user fixes them in one go.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.paths.is_empty() {
            problems.push("`paths` must name at least one path".to_string());
        }
        if self.paths.iter().any(|p| p.trim().is_empty()) {
            problems.push("`paths` contains an empty path".to_string());
        }
        if self.min_free_percent.is_none()
            && self.min_free_bytes.is_none()
            && self.min_free_inodes_percent.is_none()
        {
            problems.push(
                "set at least one of `min_free_percent`, `min_free_bytes`, `min_free_inodes_percent`"
                    .to_string(),
            );
        }
        for (name, value) in [
            ("min_free_percent", self.min_free_percent),
            ("min_free_inodes_percent", self.min_free_inodes_percent),
        ] {
            if let Some(v) = value
                && !(0.0..=100.0).contains(&v)
            {
                problems.push(format!("`{name}` must be between 0 and 100, not {v}"));
            }
        }
        problems
    }
}

/// What `statvfs` says about the filesystem holding a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskStats {
    pub total_bytes: u64,
    /// Bytes available to unprivileged users.
    pub available_bytes: u64,
    pub total_inodes: u64,
    pub free_inodes: u64,
}

impl Check for DiskSpace {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Free disk space".to_string(),
            description: "Free bytes, free percent and free inodes on the filesystems holding the given paths"
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("paths", "list<string>", true, "Paths whose filesystems are checked"),
                param(
                    "min_free_percent",
                    "number",
                    false,
                    "Minimum free space, as a percentage of the filesystem's size",
                ),
                param(
                    "min_free_bytes",
                    "integer | string",
                    false,
                    "Minimum free space: bytes, or a size such as \"10GiB\" or \"500MB\"",
                ),
                param(
                    "min_free_inodes_percent",
                    "number",
                    false,
                    "Minimum free inodes, as a percentage of the filesystem's inodes",
                ),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        let params: Params = match params::parse(ctx, params) {
            Ok(p) => p,
            Err(findings) => return findings,
        };
        evaluate(ctx, &params, |path| {
            system::disk_usage(path).map(|u| DiskStats {
                total_bytes: u.total_bytes,
                available_bytes: u.available_bytes,
                total_inodes: u.total_inodes,
                free_inodes: u.free_inodes,
            })
        })
    }
}

/// Checks every path; `stat` is the host's `disk-usage` (a closure so tests can fake it).
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    stat: impl Fn(&str) -> Result<DiskStats, String>,
) -> Vec<Finding> {
    let problems = params.problems();
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    params
        .paths
        .iter()
        .map(|path| match stat(path) {
            Ok(stats) => assess(ctx, params, path, &stats),
            Err(message) => ctx
                .finding(path, Status::Error)
                .message(format!("cannot read disk usage of {path}: {message}"))
                .remediation(
                    "check that the path exists and that the `infra` plugin's `fs` grant covers it",
                )
                .build(),
        })
        .collect()
}

fn assess(ctx: &Context, params: &Params, path: &str, stats: &DiskStats) -> Finding {
    if stats.total_bytes == 0 {
        return ctx
            .finding(path, Status::Error)
            .message(format!(
                "the filesystem holding {path} reports a size of 0 bytes (a pseudo filesystem?); free space cannot be measured"
            ))
            .remediation("point `paths` at a directory on the data volume itself")
            .build();
    }
    let free_percent = percent(stats.available_bytes, stats.total_bytes);
    let inodes_percent =
        (stats.total_inodes > 0).then(|| percent(stats.free_inodes, stats.total_inodes));

    let mut shortfalls = Vec::new();
    if let Some(min) = params.min_free_percent
        && free_percent < min
    {
        let needed = share(min, stats.total_bytes).saturating_sub(stats.available_bytes);
        shortfalls.push(format!(
            "free space {}% is below min_free_percent {min}% (short by {:.1} points, {})",
            fmt_percent(free_percent, min),
            min - free_percent,
            ByteSize(needed)
        ));
    }
    if let Some(min) = params.min_free_bytes
        && stats.available_bytes < min.0
    {
        shortfalls.push(format!(
            "free space {} is below min_free_bytes {} (short by {})",
            ByteSize(stats.available_bytes),
            min,
            ByteSize(min.0 - stats.available_bytes)
        ));
    }
    if let (Some(min), Some(free)) = (params.min_free_inodes_percent, inodes_percent)
        && free < min
    {
        let needed = share(min, stats.total_inodes).saturating_sub(stats.free_inodes);
        shortfalls.push(format!(
            "free inodes {}% is below min_free_inodes_percent {min}% (short by {needed} inodes)",
            fmt_percent(free, min),
        ));
    }

    let status = if shortfalls.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let message = if shortfalls.is_empty() {
        let inodes = match inodes_percent {
            Some(p) => format!("{p:.1}% of inodes free"),
            None => "inodes not reported by this filesystem".to_string(),
        };
        format!(
            "{} free of {} ({free_percent:.1}%), {inodes}",
            ByteSize(stats.available_bytes),
            ByteSize(stats.total_bytes)
        )
    } else {
        format!("{path}: {}", shortfalls.join("; "))
    };

    let mut finding = ctx
        .finding(path, status)
        .message(message)
        .evidence("free_bytes", stats.available_bytes)
        .evidence("total_bytes", stats.total_bytes)
        .evidence("free_percent", format!("{free_percent:.1}"))
        .evidence(
            "free_inodes_percent",
            inodes_percent.map_or_else(|| "not reported".to_string(), |p| format!("{p:.1}")),
        );
    if stats.total_inodes == 0 && params.min_free_inodes_percent.is_some() {
        // Filesystems such as btrfs allocate inodes on demand and report 0 in
        // total: they cannot run out of inodes separately from space.
        finding = finding.evidence("inodes", "not reported");
    }
    if status == Status::Fail {
        finding = finding.remediation(
            "free space on this filesystem (rotate logs, prune old data, grow the volume) or revise the threshold",
        );
    }
    finding.build()
}

fn percent(part: u64, whole: u64) -> f64 {
    (part as f64 / whole as f64 * 100.0).min(100.0)
}

/// `percent`% of `whole`, rounded up.
fn share(percent: f64, whole: u64) -> u64 {
    (percent / 100.0 * whole as f64).ceil() as u64
}

/// Formats `value` with enough decimals that it does not print as `threshold`:
/// "9.96% is below 10%" rather than "10.0% is below 10%".
fn fmt_percent(value: f64, threshold: f64) -> String {
    for decimals in 1..=4 {
        let text = format!("{value:.decimals$}");
        if text.parse::<f64>().is_ok_and(|shown| shown < threshold) {
            return text;
        }
    }
    format!("{value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * 1024 * 1024;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(json: serde_json::Value) -> Params {
        serde_json::from_value(json).expect("params parse")
    }

    fn disk(total: u64, available: u64, inodes: u64, free_inodes: u64) -> DiskStats {
        DiskStats {
            total_bytes: total,
            available_bytes: available,
            total_inodes: inodes,
            free_inodes,
        }
    }

    fn evidence<'a>(f: &'a Finding, key: &str) -> Option<&'a str> {
        f.evidence
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn passes_with_evidence_per_path() {
        let p = params(serde_json::json!({"paths": ["/var", "/data"], "min_free_percent": 10}));
        let out = evaluate(&ctx(), &p, |_| Ok(disk(100 * GIB, 42 * GIB, 1000, 875)));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].subject, "/var");
        assert_eq!(out[1].subject, "/data");
        let f = &out[0];
        assert_eq!(f.status, Status::Pass);
        assert_eq!(evidence(f, "free_bytes"), Some("45097156608"));
        assert_eq!(evidence(f, "total_bytes"), Some("107374182400"));
        assert_eq!(evidence(f, "free_percent"), Some("42.0"));
        assert_eq!(evidence(f, "free_inodes_percent"), Some("87.5"));
        assert_eq!(
            f.message,
            "42.0 GiB free of 100.0 GiB (42.0%), 87.5% of inodes free"
        );
    }

    #[test]
    fn percent_threshold_fails_with_shortfall() {
        let p = params(serde_json::json!({"paths": ["/var"], "min_free_percent": 15}));
        let out = evaluate(&ctx(), &p, |_| Ok(disk(100 * GIB, 5 * GIB, 1000, 900)));
        assert_eq!(out[0].status, Status::Fail);
        assert_eq!(
            out[0].message,
            "/var: free space 5.0% is below min_free_percent 15% (short by 10.0 points, 10.0 GiB)"
        );
        assert!(out[0].remediation.is_some());
    }

    #[test]
    fn byte_threshold_accepts_units_and_reports_all_failures() {
        let p = params(serde_json::json!({
            "paths": ["/var"],
            "min_free_bytes": "10GiB",
            "min_free_inodes_percent": 5,
            "min_free_percent": 1
        }));
        let out = evaluate(&ctx(), &p, |_| Ok(disk(100 * GIB, 4 * GIB, 100_000, 2_000)));
        let f = &out[0];
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message
                .contains("free space 4.0 GiB is below min_free_bytes 10.0 GiB (short by 6.0 GiB)"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains(
                "free inodes 2.0% is below min_free_inodes_percent 5% (short by 3000 inodes)"
            ),
            "{}",
            f.message
        );
        assert!(!f.message.contains("min_free_percent 1%"), "{}", f.message);
    }

    #[test]
    fn boundary_values_pass() {
        let p = params(
            serde_json::json!({"paths": ["/"], "min_free_percent": 10, "min_free_bytes": 10}),
        );
        let out = evaluate(&ctx(), &p, |_| Ok(disk(100, 10, 10, 1)));
        assert_eq!(out[0].status, Status::Pass);
    }

    #[test]
    fn near_threshold_prints_enough_decimals() {
        let p = params(serde_json::json!({"paths": ["/"], "min_free_percent": 10}));
        let out = evaluate(&ctx(), &p, |_| Ok(disk(10_000, 996, 0, 0)));
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0].message.contains("free space 9.96% is below"),
            "{}",
            out[0].message
        );
        assert_eq!(evidence(&out[0], "free_percent"), Some("10.0"));
    }

    #[test]
    fn zero_inode_filesystem_is_not_an_inode_failure() {
        let p = params(serde_json::json!({"paths": ["/btrfs"], "min_free_inodes_percent": 10}));
        let out = evaluate(&ctx(), &p, |_| Ok(disk(100 * GIB, 50 * GIB, 0, 0)));
        let f = &out[0];
        assert_eq!(f.status, Status::Pass);
        assert_eq!(evidence(f, "free_inodes_percent"), Some("not reported"));
        assert_eq!(evidence(f, "inodes"), Some("not reported"));
        assert!(f.message.contains("inodes not reported"));
    }

    #[test]
    fn host_denial_is_an_error_naming_the_grant() {
        let p = params(serde_json::json!({"paths": ["/secret", "/ok"], "min_free_percent": 10}));
        let out = evaluate(&ctx(), &p, |path| {
            if path == "/secret" {
                Err("/secret is outside the fs grants; add it to `fs`".to_string())
            } else {
                Ok(disk(100, 50, 10, 5))
            }
        });
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("add it to `fs`"));
        assert_eq!(out[1].status, Status::Pass);
    }

    #[test]
    fn zero_sized_filesystem_is_an_error() {
        let p = params(serde_json::json!({"paths": ["/proc"], "min_free_percent": 10}));
        let out = evaluate(&ctx(), &p, |_| Ok(disk(0, 0, 0, 0)));
        assert_eq!(out[0].status, Status::Error);
    }

    #[test]
    fn bad_params_are_one_error_listing_every_problem() {
        let p = params(serde_json::json!({"paths": [], "min_free_percent": 150}));
        let out = evaluate(&ctx(), &p, |_| unreachable!());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("at least one path"));
        assert!(out[0].message.contains("between 0 and 100"));

        let p = params(serde_json::json!({"paths": ["/"]}));
        let out = evaluate(&ctx(), &p, |_| unreachable!());
        assert!(out[0].message.contains("set at least one of"));
    }

    #[test]
    fn unknown_and_mistyped_params_are_errors() {
        let run = |json| DiskSpace.run(&ctx(), &json);
        let out = run(serde_json::json!({"paths": ["/"], "min_free_pct": 10}));
        assert_eq!(out[0].status, Status::Error);
        assert!(
            out[0].message.contains("min_free_pct"),
            "{}",
            out[0].message
        );
        let out = run(serde_json::json!({"paths": ["/"], "min_free_bytes": "10G"}));
        assert_eq!(out[0].status, Status::Error);
        assert!(
            out[0].message.contains("ambiguous unit"),
            "{}",
            out[0].message
        );
    }
}
