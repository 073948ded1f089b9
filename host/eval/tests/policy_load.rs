//! Data-driven policy loading tests.
//!
//! Every `fixtures/policies/bad/*.toml` must fail to load; the rendered errors
//! (with file:line:col and help) are snapshots in `fixtures/policies/snapshots/`.
//! Every `fixtures/policies/good/**` top-level policy must load; the tests below
//! check what it loads to.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use gate_eval::policy::{self, Enforcement, FsGrant, LoadOptions, OnError, Policy, Severity};
use serde_json::json;

const FIXTURES: &str = "tests/fixtures/policies";

fn options() -> LoadOptions {
    LoadOptions::at(date(2026, 3, 1).and_hms_opt(12, 0, 0).unwrap().and_utc())
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(FIXTURES).join(rel)
}

fn load_ok(rel: &str) -> Policy {
    match policy::load(&fixture(rel), &options()) {
        Ok(p) => p,
        Err(e) => panic!("{rel} should load:\n{e}"),
    }
}

/// The errors as a user sees them, with the fixtures prefix dropped for brevity.
fn render_errors(path: &Path) -> String {
    match policy::load(path, &options()) {
        Ok(_) => panic!("{} should fail to load", path.display()),
        Err(e) => e.to_string().replace(&format!("{FIXTURES}/"), ""),
    }
}

fn snapshot(name: &str, rendered: String) {
    insta::with_settings!({
        snapshot_path => "fixtures/policies/snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, rendered);
    });
}

#[test]
fn bad_policies_report_every_error() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixture("bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "fixtures not found: run from the host crate"
    );
    for case in cases {
        let name = case.file_stem().unwrap().to_str().unwrap().to_string();
        snapshot(&format!("bad-{name}"), render_errors(&case));
    }
}

#[test]
fn unreadable_policy_file() {
    let rendered = render_errors(&fixture("bad/does-not-exist.toml"));
    assert_eq!(
        rendered,
        "bad/does-not-exist.toml: error: cannot read policy file: no such file\n1 error in policy"
    );
}

#[test]
fn every_error_carries_a_position() {
    let err = policy::load(&fixture("bad/names.toml"), &options()).unwrap_err();
    assert!(err.0.len() > 5);
    for e in &err.0 {
        let o = e.origin.as_ref().expect("positioned");
        assert!(o.line >= 1 && o.column >= 1, "{e}");
        assert_eq!(o.file, e.file);
    }
}

#[test]
fn good_policies_load() {
    for rel in [
        "good/design-example.toml",
        "good/full.toml",
        "good/extends/prod.toml",
        "good/extends/base.toml",
        "good/diamond/top.toml",
    ] {
        load_ok(rel);
    }
}

#[test]
fn design_example() {
    let p = load_ok("good/design-example.toml");
    assert_eq!(p.name, "production");
    assert_eq!(p.source, fixture("good/design-example.toml"));
    assert_eq!(p.max_exemption_days, Some(90));
    assert_eq!(p.warn_days, 14);

    let acme = p.plugin("acme-checks").unwrap();
    assert_eq!(
        acme.path.as_deref(),
        Some(fixture("good/plugins/acme.wasm").as_path())
    );
    // Pins are normalised to lower case.
    assert_eq!(
        acme.sha256.as_deref(),
        Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    );
    let g = &acme.grants;
    assert_eq!(shown(&g.http), ["https://status.internal/*"]);
    assert_eq!(shown(&g.net), ["db.internal:5432", "127.0.0.1:*"]);
    assert_eq!(
        g.fs,
        [
            FsGrant {
                path: "./".into(),
                writable: false
            },
            FsGrant {
                path: "/etc/ssl".into(),
                writable: false
            },
        ]
    );
    assert_eq!(g.env, ["DATABASE_URL", "APP_*"]);
    assert_eq!(g.sql, ["primary"]);
    assert_eq!(g.metrics, ["prom"]);
    assert_eq!(
        (g.timeout_ms, g.memory_mb, g.output_kb),
        (Some(5000), Some(64), None)
    );
    assert_eq!((acme.origin.line, acme.origin.column), (6, 1));

    let primary = &p.connections["primary"];
    assert_eq!(
        (
            primary.kind.as_str(),
            primary.url_env.as_str(),
            primary.scratch
        ),
        ("postgres", "DATABASE_URL", false)
    );
    assert_eq!(p.metrics["prom"].url, "http://127.0.0.1:9090");

    let gate = p.gate("preflight").unwrap();
    assert_eq!(gate.checks, ["infra.*", "security.*", "config.*"]);
    assert_eq!(gate.enforcement, Enforcement::Block);

    let check = p.check_config("infra.disk-space").unwrap();
    assert_eq!(check.severity, Some(Severity::High));
    assert_eq!(check.enforcement, Some(Enforcement::Warn));
    assert_eq!(check.on_error, Some(OnError::Fail));
    assert_eq!(
        check.params,
        json!({"paths": ["/var/lib/postgresql"], "min_free_percent": 15})
    );

    let [e] = p.exemptions.as_slice() else {
        panic!("one exemption")
    };
    assert_eq!(e.check, "security.api-keys-rotated");
    assert_eq!(e.subject_match.as_deref(), Some("key:legacy-billing"));
    assert_eq!(e.ticket.as_deref(), Some("SEC-1234"));
    assert_eq!(e.expires, date(2026, 4, 30));
    assert!(e.matches("security.api-keys-rotated", "key:legacy-billing"));
    assert!(!e.matches("security.api-keys-rotated", "key:other"));
}

#[test]
fn defaults_params_and_exemption_files() {
    let p = load_ok("good/full.toml");
    assert_eq!(p.warn_days, 7);
    assert_eq!(p.max_exemption_days, None);

    // A built-in configured only for grants has no path and no pin.
    let security = p.plugin("security").unwrap();
    assert_eq!(
        (security.path.as_ref(), security.sha256.as_ref()),
        (None, None)
    );
    assert_eq!(
        security.grants.fs,
        [
            FsGrant {
                path: "/etc/ssl".into(),
                writable: false
            },
            FsGrant {
                path: "/var/run/out".into(),
                writable: true
            },
            FsGrant {
                path: "./certs".into(),
                writable: false
            },
        ]
    );
    assert_eq!(security.grants.output_kb, Some(256));
    assert!(p.connections["scratch"].scratch);

    let names: Vec<_> = p
        .gates
        .iter()
        .map(|g| (g.name.as_str(), g.enforcement))
        .collect();
    assert_eq!(
        names,
        [
            ("preflight", Enforcement::Block),
            ("advisory", Enforcement::Warn)
        ]
    );

    let tls = p.check_config("security.tls-expiry").unwrap();
    assert_eq!(
        (tls.severity, tls.enforcement, tls.on_error),
        (None, None, Some(OnError::Warn))
    );
    // TOML dates and datetimes become strings.
    assert_eq!(
        tls.params,
        json!({
            "checked_at": "2026-01-15T10:00:00Z",
            "hosts": [{"name": "api.internal", "port": 443}],
            "min_days": 21,
            "not_before": "2026-01-15",
        })
    );

    // Exemption files are read in sorted order, relative to the policy file.
    let from: Vec<_> = p
        .exemptions
        .iter()
        .map(|e| (e.check.as_str(), e.origin.file.clone()))
        .collect();
    assert_eq!(
        from,
        [
            ("infra.*", fixture("good/exemptions/payments.toml")),
            (
                "security.tls-expiry",
                fixture("good/exemptions/search.toml")
            ),
        ]
    );
    // Expired exemptions load; they are reported when evaluating.
    let today = options().today;
    assert!(p.exemptions[0].is_active(today));
    assert!(!p.exemptions[1].is_active(today));
    assert!(p.exemptions[0].matches("infra.disk-space", "/var/lib/payments-db"));
}

#[test]
fn extends_merges_key_by_key() {
    let p = load_ok("good/extends/prod.toml");
    // The loaded file names the policy.
    assert_eq!(p.name, "prod");
    // `[audit] dir` comes from the base, resolved against the base's directory.
    assert_eq!(p.audit.dir, fixture("good/extends/records/audit"));
    let full = load_ok("good/full.toml");
    assert_eq!(full.audit.dir, fixture("good/.gate/audit"));
    assert!(full.audit.origin.is_none());
    assert_eq!(p.warn_days, 3);
    assert_eq!(p.max_exemption_days, Some(90));

    // A child sets one key of a gate and keeps the rest; new gates come after.
    let gates: Vec<_> = p
        .gates
        .iter()
        .map(|g| (g.name.as_str(), g.checks.join(","), g.enforcement))
        .collect();
    assert_eq!(
        gates,
        [
            (
                "preflight",
                "infra.*,security.*".to_string(),
                Enforcement::Off
            ),
            ("config", "config.*".to_string(), Enforcement::Warn),
            ("release", "security.*".to_string(), Enforcement::Block),
        ]
    );
    assert_eq!(
        p.gate("preflight").unwrap().origin.file,
        fixture("good/extends/prod.toml")
    );

    // Grants: lists are unioned, limits from the last file that sets them.
    let security = p.plugin("security").unwrap();
    assert_eq!(security.grants.env, ["TLS_HOSTS", "APP_*"]);
    assert_eq!(shown(&security.grants.net), ["api.internal:443"]);
    assert_eq!(security.grants.timeout_ms, Some(5000));
    assert_eq!(security.grants.memory_mb, Some(128));

    // Plugin paths resolve against the file that declares them.
    let acme = p.plugin("acme-checks").unwrap();
    assert_eq!(
        acme.path.as_deref(),
        Some(fixture("good/extends/shared/../plugins/acme.wasm").as_path())
    );

    // Checks merge by id; params merge recursively.
    let disk = p.check_config("infra.disk-space").unwrap();
    assert_eq!(disk.severity, Some(Severity::High));
    assert_eq!(
        disk.params,
        json!({"paths": ["/var"], "min_free_percent": 15, "limits": {"warn": 25, "fail": 10}})
    );

    // Exemptions from every file apply; the base's exemption files resolve
    // against the base.
    let exemptions: Vec<_> = p.exemptions.iter().map(|e| e.check.as_str()).collect();
    assert_eq!(exemptions, ["security.tls-expiry", "infra.disk-space"]);
    assert_eq!(
        p.exemptions[0].origin.file,
        fixture("good/extends/exemptions/base-team.toml")
    );
}

#[test]
fn diamond_extends_merges_shared_base_once() {
    let p = load_ok("good/diamond/top.toml");
    assert_eq!(p.name, "top");
    assert_eq!(p.gate("preflight").unwrap().enforcement, Enforcement::Warn);
    assert_eq!(p.exemptions.len(), 1);
}

#[test]
fn max_exemption_days_is_measured_from_today() {
    // 2026-03-01 + 30 days = 2026-03-31: allowed on the day, not after.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cap.toml");
    let policy = |expires: &str| {
        format!(
            "[policy]\nname = \"cap\"\nmax_exemption_days = 30\n\n[[exemption]]\ncheck = \"infra.disk-space\"\n\
             reason = \"r\"\napproved_by = \"a\"\nexpires = {expires}\n"
        )
    };
    std::fs::write(&path, policy("2026-03-31")).unwrap();
    policy::load(&path, &options()).unwrap();

    std::fs::write(&path, policy("2026-04-01")).unwrap();
    let err = policy::load(&path, &options()).unwrap_err();
    let [e] = err.0.as_slice() else {
        panic!("{err}")
    };
    assert_eq!(
        e.message,
        "exemption expires 2026-04-01, 31 days from today (2026-03-01), beyond the policy's limit of 30 days"
    );
    let o = e.origin.as_ref().unwrap();
    assert_eq!((o.line, o.column), (9, 11));
    assert!(
        e.help
            .as_deref()
            .unwrap()
            .starts_with("expire it on or before 2026-03-31")
    );
}

/// Typed grants as they print (the policy syntax).
fn shown<T: std::fmt::Display>(grants: &[T]) -> Vec<String> {
    grants.iter().map(T::to_string).collect()
}
