//! `security.dependencies-audited`: the packages lockfiles pin, against an
//! offline directory of OSV advisories.
//!
//! Offline on purpose: the advisory set a deployment was judged against is a
//! file tree that CI can pin, mirror and review, and the check needs no network.

pub mod cvss;
pub mod lockfile;
pub mod osv;
pub mod version;

use std::collections::HashMap;

use gate_plugin_sdk::paths::{GrantedPath, join_display, read_bytes};
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use self::lockfile::{Ecosystem, Kind, Lockfile};
use self::osv::Vuln;
use crate::grants::{Grants, HostGrants, unreadable};
use crate::walk::{Item, walk};

pub const ID: &str = "security.dependencies-audited";
const DEFAULT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// One OSV record is a few KiB; anything this big is not one.
const MAX_ADVISORY_BYTES: u64 = 4 * 1024 * 1024;
const SUMMARY_CHARS: usize = 200;

pub struct DependenciesAudited;

impl Check for DependenciesAudited {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Dependencies have no known advisories".to_string(),
            description: "Reads the exact versions pinned by Cargo.lock, package-lock.json (v1-v3), \
                          requirements*.txt (`==` pins) and poetry.lock, and matches them against a \
                          directory of OSV advisories (crates.io, npm, PyPI; SemVer and PEP 440 \
                          ranges, explicit version lists). One failing finding per affected \
                          package version and advisory."
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("lockfiles", "list<string>", true, "Lockfiles, relative to the working directory; the kind is taken from the file name (Cargo.lock, package-lock.json, npm-shrinkwrap.json, *requirements*.txt, poetry.lock)."),
                param("advisories", "string", true, "Directory of OSV JSON files, one vulnerability per file, searched recursively (e.g. a checkout of rustsec/advisory-db's OSV export or an osv.dev ecosystem dump)."),
                param("min_severity", "string", false, "Advisories rated below this (info, low, medium, high, critical) are reported as `warn` instead of `fail`; unrated advisories count as high."),
                param_default("max_file_bytes", "integer", "Larger lockfiles are an error rather than read.", "16777216"),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        run(ctx, params, &HostGrants)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    lockfiles: Vec<String>,
    advisories: String,
    #[serde(default)]
    min_severity: Option<String>,
    #[serde(default = "default_max_file_bytes")]
    max_file_bytes: u64,
}

fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}

fn rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// The advisory database, indexed by ecosystem and normalised package name.
pub struct Database {
    pub vulns: Vec<Vuln>,
    index: HashMap<(Ecosystem, String), Vec<usize>>,
    pub withdrawn: usize,
}

impl Database {
    pub fn new(all: Vec<Vuln>) -> Database {
        let mut vulns = Vec::new();
        let mut withdrawn = 0;
        let mut index: HashMap<(Ecosystem, String), Vec<usize>> = HashMap::new();
        for v in all {
            if v.withdrawn.is_some() {
                withdrawn += 1;
                continue;
            }
            let i = vulns.len();
            for a in &v.affected {
                if let Some(pkg) = &a.package
                    && let Some(eco) = Ecosystem::from_osv(&pkg.ecosystem)
                {
                    let list = index.entry((eco, eco.normalize(&pkg.name))).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
            vulns.push(v);
        }
        Database {
            vulns,
            index,
            withdrawn,
        }
    }

    fn candidates(&self, eco: Ecosystem, name: &str) -> &[usize] {
        self.index
            .get(&(eco, eco.normalize(name)))
            .map_or(&[], Vec::as_slice)
    }
}

pub fn run(ctx: &Context, params: &serde_json::Value, grants: &dyn Grants) -> Vec<Finding> {
    let p: Params = match params::parse(ctx, params) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let mut problems = Vec::new();
    if p.lockfiles.is_empty() {
        problems.push("`lockfiles` must name at least one lockfile".to_string());
    }
    if p.advisories.trim().is_empty() {
        problems.push("`advisories` must name a directory of OSV JSON files".to_string());
    }
    let min_severity = match p
        .min_severity
        .as_deref()
        .map(|s| (s, crate::severity::parse(s)))
    {
        None => None,
        Some((_, Some(s))) => Some(s),
        Some((s, None)) => {
            problems.push(format!(
                "`min_severity` `{s}` is not one of info, low, medium, high, critical"
            ));
            None
        }
    };
    let mut kinds = Vec::new();
    for path in &p.lockfiles {
        match Kind::detect(path) {
            Some(k) => kinds.push((path.as_str(), k)),
            None => problems.push(format!(
                "cannot tell what kind of lockfile `{path}` is: name it Cargo.lock, package-lock.json, \
                 npm-shrinkwrap.json, poetry.lock or *requirements*.txt"
            )),
        }
    }
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }

    let mut findings = Vec::new();
    let db = match load_advisories(ctx, &p.advisories, grants, &mut findings) {
        Some(db) => db,
        None => return findings,
    };
    for (path, kind) in kinds {
        let text = match read_text(grants, path, p.max_file_bytes) {
            Ok(t) => t,
            Err(e) => {
                findings.push(unreadable(ctx, path, &e));
                continue;
            }
        };
        match lockfile::parse(kind, &text) {
            Ok(lock) => findings.extend(audit(ctx, path, kind, &lock, &db, min_severity)),
            Err(e) => findings.push(
                ctx.finding(path, Status::Error)
                    .message(format!("`{path}` does not parse: {e}"))
                    .remediation("regenerate the lockfile with its package manager")
                    .location(path, None, None)
                    .build(),
            ),
        }
    }
    crate::cap(ctx, findings)
}

fn read_text(grants: &dyn Grants, path: &str, max: u64) -> Result<String, String> {
    let granted = grants.resolve(path)?;
    let bytes = read_bytes(&granted, max)?;
    String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())
}

/// Reads every `*.json` under the advisory directory. A record that does not
/// parse is an `error` finding: an advisory gate cannot read is one it cannot
/// check against. `None` when there is no usable database at all.
fn load_advisories(
    ctx: &Context,
    dir: &str,
    grants: &dyn Grants,
    findings: &mut Vec<Finding>,
) -> Option<Database> {
    let granted = match grants.resolve(dir) {
        Ok(g) => g,
        Err(e) => {
            findings.push(unreadable(ctx, dir, &e));
            return None;
        }
    };
    let items = match walk(dir, std::path::Path::new(&granted.absolute), &|_| false) {
        Ok(items) => items,
        Err(e) => {
            findings.push(unreadable(ctx, dir, &e));
            return None;
        }
    };
    let mut vulns = Vec::new();
    for item in items {
        match item {
            Item::File(f) if f.rel.to_ascii_lowercase().ends_with(".json") => {
                let display = join_display(dir, &f.rel);
                let g = GrantedPath {
                    display: display.clone(),
                    absolute: f.absolute.to_string_lossy().into_owned(),
                };
                let parsed = read_bytes(&g, MAX_ADVISORY_BYTES)
                    .and_then(|b| String::from_utf8(b).map_err(|_| "not valid UTF-8".into()))
                    .and_then(|t| Vuln::parse(&t));
                match parsed {
                    Ok(v) => vulns.push(v),
                    Err(e) => findings.push(
                        ctx.finding(&display, Status::Error)
                            .message(format!("advisory `{display}` cannot be read as OSV JSON: {e}"))
                            .remediation("fix or remove the file; every advisory in the directory must be a valid OSV record")
                            .location(&display, None, None)
                            .build(),
                    ),
                }
            }
            Item::Unreadable { display, error } => findings.push(unreadable(ctx, &display, &error)),
            _ => {}
        }
    }
    if vulns.is_empty() {
        findings.push(
            ctx.finding(dir, Status::Error)
                .message(format!(
                    "no OSV advisories found in `{dir}`: an empty database would pass every lockfile"
                ))
                .remediation("point `advisories` at a directory of OSV JSON files (one vulnerability per file)")
                .build(),
        );
        return None;
    }
    Some(Database::new(vulns))
}

/// Findings for one parsed lockfile.
pub fn audit(
    ctx: &Context,
    path: &str,
    kind: Kind,
    lock: &Lockfile,
    db: &Database,
    min_severity: Option<Severity>,
) -> Vec<Finding> {
    let eco = kind.ecosystem();
    let mut out = Vec::new();
    let mut affected = 0usize;
    for pkg in &lock.packages {
        let subject = format!("{path}#{}@{}", pkg.name, pkg.version);
        for &i in db.candidates(eco, &pkg.name) {
            let vuln = &db.vulns[i];
            match vuln.affects(eco, &pkg.name, &pkg.version) {
                Ok(None) => {}
                Ok(Some((index, hit))) => {
                    affected += 1;
                    out.push(vulnerable(
                        ctx,
                        &subject,
                        path,
                        pkg,
                        eco,
                        vuln,
                        &vuln.affected[index],
                        &hit,
                        min_severity,
                    ));
                }
                Err(e) => out.push(
                    ctx.finding(&subject, Status::Error)
                        .rule(&vuln.id)
                        .message(format!(
                            "cannot tell whether `{}` {} is affected by {}: {e}",
                            pkg.name, pkg.version, vuln.id
                        ))
                        .evidence("advisory", &vuln.id)
                        .location(path, pkg.line, None)
                        .build(),
                ),
            }
        }
    }
    for u in &lock.unpinned {
        out.push(
            ctx.finding(format!("{path}#{}", u.name), Status::Error)
                .rule("unpinned")
                .message(format!(
                    "`{}` is not pinned to one version (`{}`), so the version that gets installed cannot be audited",
                    u.name, u.spec
                ))
                .evidence("requirement", &u.spec)
                .remediation("pin every requirement with `==` (e.g. `pip-compile` or `pip freeze > requirements.txt`)")
                .location(path, Some(u.line), None)
                .build(),
        );
    }
    if affected == 0 {
        out.insert(
            0,
            ctx.finding(path, Status::Pass)
                .message(format!(
                    "{} {} package version(s) checked against {} advisories: none affected",
                    lock.packages.len(),
                    eco.osv_name(),
                    db.vulns.len()
                ))
                .evidence("packages", lock.packages.len())
                .evidence("advisories", db.vulns.len())
                .evidence("not_from_registry", lock.skipped)
                .location(path, None, None)
                .build(),
        );
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn vulnerable(
    ctx: &Context,
    subject: &str,
    path: &str,
    pkg: &lockfile::Package,
    eco: Ecosystem,
    vuln: &Vuln,
    affected: &osv::Affected,
    hit: &osv::Hit,
    min_severity: Option<Severity>,
) -> Finding {
    let rated = vuln.rating(Some(affected));
    let effective = rated.as_ref().map_or(Severity::High, |r| r.severity);
    let status = match min_severity {
        Some(min) if rank(effective) < rank(min) => Status::Warn,
        _ => Status::Fail,
    };
    let summary = vuln
        .summary
        .clone()
        .or_else(|| {
            vuln.details
                .as_deref()
                .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
                .map(str::to_string)
        })
        .map(|s| truncate(s.trim(), SUMMARY_CHARS));
    let mut message = format!(
        "`{}` {} is affected by {}",
        pkg.name,
        pkg.version,
        vuln.names()
    );
    if let Some(s) = &summary {
        message.push_str(": ");
        message.push_str(s);
    }
    let mut f = ctx
        .finding(subject, status)
        .rule(&vuln.id)
        .message(message)
        .evidence("advisory", &vuln.id)
        .evidence("package", &pkg.name)
        .evidence("version", &pkg.version)
        .evidence("ecosystem", eco.osv_name());
    if !vuln.aliases.is_empty() {
        f = f.evidence("aliases", vuln.aliases.join(", "));
    }
    if let Some(r) = &rated {
        f = f
            .severity(r.severity)
            .evidence("severity", severity_name(r.severity))
            .evidence("rated_by", &r.source);
    }
    if hit.listed {
        f = f.evidence("matched", "version listed in `versions`");
    }
    let fixed: Vec<&String> = hit
        .fixed
        .iter()
        .filter(|v| eco.scheme().compare(v, &pkg.version) == Some(std::cmp::Ordering::Greater))
        .collect();
    f = match fixed.first() {
        Some(v) => f.evidence("fixed", v).remediation(format!(
            "upgrade `{}` to {v} or later and regenerate `{path}`",
            pkg.name
        )),
        None => f.evidence("fixed", "none").remediation(format!(
            "no fixed version of `{}` is published: replace it, or record an exemption for {} with a reason and an expiry",
            pkg.name, vuln.id
        )),
    };
    f.location(path, pkg.line, None).build()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests;
