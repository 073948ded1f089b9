use std::path::Path;

use gate_plugin_sdk::{Finding, Severity, Status};
use serde_json::json;

use super::*;
use crate::testutil::{Sandbox, ctx, evidence, statuses};

/// The committed advisory fixtures (tests/fixtures/osv), copied into the sandbox.
fn with_fixtures() -> Sandbox {
    let sb = Sandbox::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/osv");
    copy_dir(&src, &sb.path("osv"));
    sb
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn audit_files(sb: &Sandbox, params: serde_json::Value) -> Vec<Finding> {
    run(&ctx(ID), &params, &sb.grants())
}

fn one<'a>(findings: &'a [Finding], subject: &str, rule: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.subject == subject && f.rule.as_deref() == Some(rule))
        .unwrap_or_else(|| panic!("no {subject} / {rule} in {findings:#?}"))
}

const CARGO_LOCK: &str = r#"version = 3

[[package]]
name = "app"
version = "0.1.0"

[[package]]
name = "rsa"
version = "0.9.6"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "serde"
version = "1.0.193"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "time"
version = "0.1.43"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

#[test]
fn cargo_lock_with_two_advisories() {
    let sb = with_fixtures();
    sb.write("Cargo.lock", CARGO_LOCK);
    let out = audit_files(
        &sb,
        json!({"lockfiles": ["Cargo.lock"], "advisories": "osv"}),
    );
    assert_eq!(statuses(&out), [Status::Fail, Status::Fail], "{out:#?}");

    let time = one(&out, "Cargo.lock#time@0.1.43", "RUSTSEC-2020-0071");
    assert_eq!(time.severity, Some(Severity::Medium));
    assert_eq!(evidence(time, "fixed"), Some("0.2.23"));
    assert_eq!(
        evidence(time, "aliases"),
        Some("CVE-2020-26235, GHSA-wcg3-cvx6-7396")
    );
    assert!(evidence(time, "rated_by").unwrap().starts_with("CVSS 6.2"));
    assert_eq!(time.location.as_ref().unwrap().line, Some(18));
    assert!(
        time.message
            .contains("Potential segfault in the time crate"),
        "{}",
        time.message
    );
    assert!(
        time.remediation
            .as_ref()
            .unwrap()
            .contains("upgrade `time` to 0.2.23")
    );

    let rsa = one(&out, "Cargo.lock#rsa@0.9.6", "RUSTSEC-2023-0071");
    assert_eq!(evidence(rsa, "fixed"), Some("none"));
    assert!(
        rsa.remediation
            .as_ref()
            .unwrap()
            .contains("no fixed version")
    );
}

#[test]
fn clean_lockfiles_pass_once_each() {
    let sb = with_fixtures();
    sb.write(
        "web/package-lock.json",
        r#"{"lockfileVersion": 3, "packages": {
            "": {"name": "web"},
            "node_modules/lodash": {"version": "4.17.21"},
            "node_modules/minimist": {"version": "1.2.6"},
            "node_modules/mkdirp/node_modules/minimist": {"version": "0.2.4"}
        }}"#,
    );
    sb.write(
        "poetry.lock",
        "[[package]]\nname = \"PyYAML\"\nversion = \"6.0.1\"\n\n[[package]]\nname = \"requests\"\nversion = \"2.31.0\"\n\n[[package]]\nname = \"urllib3\"\nversion = \"1.26.5\"\n",
    );
    let out = audit_files(
        &sb,
        json!({"lockfiles": ["web/package-lock.json", "poetry.lock"], "advisories": "osv"}),
    );
    assert_eq!(statuses(&out), [Status::Pass, Status::Pass], "{out:#?}");
    assert_eq!(out[0].subject, "web/package-lock.json");
    assert_eq!(evidence(&out[0], "packages"), Some("3"));
    // The withdrawn urllib3 advisory does not count.
    assert_eq!(evidence(&out[1], "advisories"), Some("7"));
}

#[test]
fn npm_ranges_and_nested_installs() {
    let sb = with_fixtures();
    sb.write(
        "package-lock.json",
        r#"{"lockfileVersion": 2, "packages": {
            "": {"name": "web"},
            "node_modules/lodash": {"version": "4.17.20"},
            "node_modules/minimist": {"version": "1.2.5"},
            "node_modules/optimist/node_modules/minimist": {"version": "0.0.10"}
        }}"#,
    );
    let out = audit_files(
        &sb,
        json!({"lockfiles": ["package-lock.json"], "advisories": "osv"}),
    );
    assert_eq!(out.len(), 3, "{out:#?}");
    let lodash = one(
        &out,
        "package-lock.json#lodash@4.17.20",
        "GHSA-35jh-r3h4-6jhm",
    );
    assert_eq!(lodash.severity, Some(Severity::High));
    let old = one(
        &out,
        "package-lock.json#minimist@0.0.10",
        "GHSA-xvch-5gv4-984h",
    );
    assert_eq!(evidence(old, "fixed"), Some("0.2.4"));
    let new = one(
        &out,
        "package-lock.json#minimist@1.2.5",
        "GHSA-xvch-5gv4-984h",
    );
    assert_eq!(evidence(new, "fixed"), Some("1.2.6"));
    assert_eq!(new.severity, Some(Severity::Critical));
}

#[test]
fn requirements_pep440_listed_versions_and_unpinned() {
    let sb = with_fixtures();
    sb.write(
        "requirements.txt",
        "requests==2.28.1\nDjango==4.1.9\ndjango==4.2.1\nPyYAML==5.3.1\nurllib3==1.26.5\nflask>=2.0\nrequests-toolbelt==1.0.0\n",
    );
    let out = audit_files(
        &sb,
        json!({"lockfiles": ["requirements.txt"], "advisories": "osv"}),
    );
    let requests = one(
        &out,
        "requirements.txt#requests@2.28.1",
        "GHSA-j8r2-6x86-q33q",
    );
    assert_eq!(requests.status, Status::Fail);
    assert_eq!(requests.severity, Some(Severity::Medium));
    assert_eq!(requests.location.as_ref().unwrap().line, Some(1));
    let d41 = one(&out, "requirements.txt#Django@4.1.9", "GHSA-jh3w-4vvf-mjgr");
    assert_eq!(evidence(d41, "fixed"), Some("4.1.10"));
    let d42 = one(&out, "requirements.txt#django@4.2.1", "GHSA-jh3w-4vvf-mjgr");
    assert_eq!(evidence(d42, "fixed"), Some("4.2.3"));
    let yaml = one(&out, "requirements.txt#PyYAML@5.3.1", "GHSA-8q59-q68h-6hv4");
    assert_eq!(yaml.severity, Some(Severity::Critical));
    assert_eq!(
        evidence(yaml, "matched"),
        Some("version listed in `versions`")
    );
    let flask = one(&out, "requirements.txt#flask", "unpinned");
    assert_eq!(flask.status, Status::Error);
    assert_eq!(flask.location.as_ref().unwrap().line, Some(6));
    assert_eq!(out.len(), 5, "{out:#?}");
}

#[test]
fn min_severity_downgrades_to_warn() {
    let sb = with_fixtures();
    sb.write("requirements.txt", "requests==2.30.0\nPyYAML==5.1\n");
    let out = audit_files(
        &sb,
        json!({"lockfiles": ["requirements.txt"], "advisories": "osv", "min_severity": "high"}),
    );
    assert_eq!(
        one(
            &out,
            "requirements.txt#requests@2.30.0",
            "GHSA-j8r2-6x86-q33q"
        )
        .status,
        Status::Warn
    );
    assert_eq!(
        one(&out, "requirements.txt#PyYAML@5.1", "GHSA-8q59-q68h-6hv4").status,
        Status::Fail
    );
}

#[test]
fn no_advisories_is_an_error_never_a_pass() {
    let sb = Sandbox::new();
    sb.write("Cargo.lock", CARGO_LOCK);
    std::fs::create_dir_all(sb.path("empty")).unwrap();
    let out = audit_files(
        &sb,
        json!({"lockfiles": ["Cargo.lock"], "advisories": "empty"}),
    );
    assert_eq!(statuses(&out), [Status::Error]);
    assert!(
        out[0].message.contains("no OSV advisories"),
        "{}",
        out[0].message
    );

    let out = audit_files(
        &sb,
        json!({"lockfiles": ["Cargo.lock"], "advisories": "missing"}),
    );
    assert_eq!(statuses(&out), [Status::Error]);
    assert_eq!(out[0].subject, "missing");
}

#[test]
fn a_broken_advisory_is_an_error_but_the_rest_still_apply() {
    let sb = with_fixtures();
    sb.write(
        "osv/npm/broken.json",
        "{\"id\": \"GHSA-0000\", \"affected\": 3}",
    );
    sb.write("osv/npm/notes.txt", "ignored");
    sb.write("Cargo.lock", CARGO_LOCK);
    let out = audit_files(
        &sb,
        json!({"lockfiles": ["Cargo.lock"], "advisories": "osv"}),
    );
    let broken = out
        .iter()
        .find(|f| f.subject == "osv/npm/broken.json")
        .unwrap();
    assert_eq!(broken.status, Status::Error);
    assert_eq!(out.iter().filter(|f| f.status == Status::Fail).count(), 2);
}

#[test]
fn unreadable_and_broken_lockfiles_are_errors() {
    let sb = with_fixtures();
    sb.write("Cargo.lock", "[[package]\nname =");
    let out = audit_files(
        &sb,
        json!({"lockfiles": ["Cargo.lock", "../outside/requirements.txt"], "advisories": "osv"}),
    );
    assert_eq!(statuses(&out), [Status::Error, Status::Error], "{out:#?}");
    assert!(out[0].message.contains("does not parse"));
    assert!(out[1].message.contains("fs grant"), "{}", out[1].message);
}

#[test]
fn a_version_gate_cannot_order_is_an_error_for_matching_advisories() {
    let sb = with_fixtures();
    sb.write(
        "package-lock.json",
        r#"{"lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "latest-and-greatest"}}}"#,
    );
    let out = audit_files(
        &sb,
        json!({"lockfiles": ["package-lock.json"], "advisories": "osv"}),
    );
    let f = one(
        &out,
        "package-lock.json#lodash@latest-and-greatest",
        "GHSA-35jh-r3h4-6jhm",
    );
    assert_eq!(f.status, Status::Error);
    assert!(
        f.message.contains("not a valid SemVer version"),
        "{}",
        f.message
    );
}

#[test]
fn bad_params_are_reported_together() {
    let sb = with_fixtures();
    let out = audit_files(
        &sb,
        json!({"lockfiles": ["yarn.lock", "Cargo.lock"], "advisories": "", "min_severity": "severe"}),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status, Status::Error);
    for part in ["yarn.lock", "`advisories`", "severe"] {
        assert!(out[0].message.contains(part), "{part}: {}", out[0].message);
    }
    let out = audit_files(
        &sb,
        json!({"lockfile": ["Cargo.lock"], "advisories": "osv"}),
    );
    assert!(out[0].message.contains("lockfile"), "{}", out[0].message);
}

#[test]
fn last_affected_and_explicit_versions() {
    let vuln = Vuln::parse(
        r#"{"id": "GATE-TEST-1", "affected": [{
            "package": {"ecosystem": "crates.io", "name": "tokio-util"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.7.0"}, {"last_affected": "0.7.3"}]}],
            "versions": ["0.6.9"]
        }]}"#,
    )
    .unwrap();
    let hit = |v: &str| {
        vuln.affects(Ecosystem::Cargo, "tokio_util", v)
            .unwrap()
            .is_some()
    };
    assert!(hit("0.7.3"));
    assert!(!hit("0.7.4"));
    assert!(hit("0.6.9"));
    assert!(!hit("0.6.8"));
}
