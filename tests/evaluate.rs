//! `gate evaluate` end to end: exit codes, exemptions and their expiry,
//! enforcement, on_error, gate selection, output files and plugin pinning.

mod common;

use common::*;

fn echo_policy(findings: &str, extra: &str) -> String {
    format!(
        "[policy]\nname = \"echo-test\"\nwarn_days = 14\n\n{}[[gate]]\nname = \"preflight\"\nchecks = [\"echo.*\"]\n\n\
         [[check]]\nid = \"echo.findings\"\nparams = {{ findings = [{findings}] }}\n\n{extra}",
        plugin_block("echo", "")
    )
}

const FAIL_KEY: &str = r#"{ subject = "key:legacy-billing", status = "fail", file = "keys.toml", line = 4 }, { subject = "key:new", status = "pass" }"#;

fn exemption(expires: &str, matcher: &str) -> String {
    format!(
        "[[exemption]]\ncheck = \"echo.findings\"\n{matcher}reason = \"vendor rotates in January\"\n\
         approved_by = \"secops@example.com\"\nticket = \"SEC-1234\"\nexpires = {expires}\n"
    )
}

fn eval(ws: &Workspace, now: &str) -> (i32, serde_json::Value, String) {
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        &[("GATE_TEST_NOW", now)],
    );
    let c = code(&out);
    let err = stderr(&out);
    if c == 2 {
        return (c, serde_json::Value::Null, err);
    }
    (c, json(&out), err)
}

#[test]
fn failing_blocking_check_exits_1_and_passing_exits_0() {
    let ws = Workspace::new();
    ws.write("policy.toml", &echo_policy(FAIL_KEY, ""));
    let (c, report, _) = eval(&ws, "2026-11-26");
    assert_eq!(c, 1);
    assert_eq!(report["verdict"], "fail");
    let chk = check(&report, "preflight", "echo.findings");
    assert_eq!(chk["status"], "fail");
    assert_eq!(chk["findings"][0]["location"]["file"], "keys.toml");
    assert_eq!(chk["findings"][0]["location"]["line"], 4);

    ws.write(
        "policy.toml",
        &echo_policy(r#"{ subject = "a", status = "pass" }"#, ""),
    );
    let (c, report, _) = eval(&ws, "2026-11-26");
    assert_eq!(c, 0);
    assert_eq!(report["verdict"], "pass");
}

#[test]
fn active_exemption_makes_the_check_exempt_and_is_shown() {
    let ws = Workspace::new();
    ws.write(
        "policy.toml",
        &echo_policy(
            FAIL_KEY,
            &exemption("2026-12-31", "match = \"key:legacy-*\"\n"),
        ),
    );
    let (c, report, _) = eval(&ws, "2026-11-26");
    assert_eq!(c, 0, "{report:#}");
    let chk = check(&report, "preflight", "echo.findings");
    assert_eq!(chk["status"], "exempt");
    assert_eq!(chk["exemption"]["approved_by"], "secops@example.com");
    assert_eq!(chk["exemption"]["expires"], "2026-12-31");
    assert_eq!(chk["findings"][0]["exemption"]["ticket"], "SEC-1234");
    // No notices: not expired, more than warn_days left, and used.
    assert_eq!(
        report["exemption_notices"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
}

#[test]
fn exemption_holds_through_the_end_of_its_expiry_day() {
    let ws = Workspace::new();
    ws.write(
        "policy.toml",
        &echo_policy(FAIL_KEY, &exemption("2026-12-31", "")),
    );
    let (c, _, _) = eval(&ws, "2026-12-31T23:59:59Z");
    assert_eq!(c, 0, "last day still exempt");
    let (c, report, _) = eval(&ws, "2027-01-01T00:00:00Z");
    assert_eq!(c, 1, "the day after, the finding fails again");
    assert_eq!(
        check(&report, "preflight", "echo.findings")["status"],
        "fail"
    );
    let notices = report["exemption_notices"].as_array().unwrap();
    assert!(
        notices.iter().any(|n| n["kind"] == "expired"),
        "{notices:#?}"
    );
}

#[test]
fn exemption_inside_warn_days_adds_a_warning() {
    let ws = Workspace::new();
    ws.write(
        "policy.toml",
        &echo_policy(FAIL_KEY, &exemption("2026-12-05", "")),
    );
    let (c, report, _) = eval(&ws, "2026-11-26");
    assert_eq!(c, 0);
    let notices = report["exemption_notices"].as_array().unwrap();
    let soon: Vec<_> = notices
        .iter()
        .filter(|n| n["kind"] == "expiring-soon")
        .collect();
    assert_eq!(soon.len(), 1, "{notices:#?}");
    assert!(soon[0]["message"].as_str().unwrap().contains("9 days left"));
    // 15 days ahead is outside the 14-day window.
    let (_, report, _) = eval(&ws, "2026-11-20");
    let notices = report["exemption_notices"].as_array().unwrap();
    assert!(
        !notices.iter().any(|n| n["kind"] == "expiring-soon"),
        "{notices:#?}"
    );
}

#[test]
fn exemption_matching_nothing_is_reported_unused() {
    let ws = Workspace::new();
    ws.write(
        "policy.toml",
        &echo_policy(
            FAIL_KEY,
            &exemption("2026-12-31", "match = \"key:other\"\n"),
        ),
    );
    let (c, report, _) = eval(&ws, "2026-11-26");
    assert_eq!(c, 1, "match limits the exemption to its subject");
    let notices = report["exemption_notices"].as_array().unwrap();
    assert!(
        notices.iter().any(|n| n["kind"] == "unused"),
        "{notices:#?}"
    );
}

#[test]
fn exemption_beyond_max_exemption_days_is_a_policy_error() {
    let ws = Workspace::new();
    let policy = echo_policy(FAIL_KEY, &exemption("2027-06-30", ""))
        .replace("warn_days = 14", "warn_days = 14\nmax_exemption_days = 90");
    ws.write("policy.toml", &policy);
    let (c, _, err) = eval(&ws, "2026-11-26");
    assert_eq!(c, 2);
    assert!(err.contains("policy.toml:") && err.contains("90"), "{err}");
}

#[test]
fn warn_enforcement_and_on_error_warn_do_not_block() {
    let ws = Workspace::new();
    let policy = echo_policy(FAIL_KEY, "").replace(
        "checks = [\"echo.*\"]",
        "checks = [\"echo.*\"]\nenforcement = \"warn\"",
    );
    ws.write("policy.toml", &policy);
    let (c, report, _) = eval(&ws, "2026-11-26");
    assert_eq!(c, 0);
    assert_eq!(report["gates"][0]["verdict"], "warn");

    // An error blocks by default (fail closed) ...
    let erroring = r#"{ subject = "db", status = "error", message = "cannot connect" }"#;
    ws.write("policy.toml", &echo_policy(erroring, ""));
    let (c, _, _) = eval(&ws, "2026-11-26");
    assert_eq!(c, 1);
    // ... unless on_error = "warn".
    let policy = echo_policy(erroring, "").replace(
        "id = \"echo.findings\"",
        "id = \"echo.findings\"\non_error = \"warn\"",
    );
    ws.write("policy.toml", &policy);
    let (c, report, _) = eval(&ws, "2026-11-26");
    assert_eq!(c, 0);
    assert_eq!(
        check(&report, "preflight", "echo.findings")["status"],
        "error"
    );
    assert_eq!(report["gates"][0]["verdict"], "warn");
}

#[test]
fn digest_mismatch_exits_2_naming_plugin_and_both_digests() {
    let ws = Workspace::new();
    let real = sha256_file(&plugin_path("echo"));
    let bogus = "0".repeat(64);
    ws.write(
        "policy.toml",
        &echo_policy(FAIL_KEY, "").replace(&real, &bogus),
    );
    let out = ws.gate(&["evaluate", "--policy", "policy.toml"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("plugin `echo`") && err.contains(&real) && err.contains(&bogus),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "nothing was evaluated");
}

#[test]
fn unknown_gate_and_malformed_policy_exit_2() {
    let ws = Workspace::new();
    ws.write("policy.toml", &echo_policy(FAIL_KEY, ""));
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--gate", "nope"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no gate named `nope`"));

    ws.write("bad.toml", "[policy]\nname = \"x\"\nunknown_key = 1\n[[gate]]\nname = \"g\"\nchecks = []\nenforcement = \"sometimes\"\n");
    let out = ws.gate(&["evaluate", "--policy", "bad.toml"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("bad.toml:3:1"), "{err}");
    assert!(
        err.matches("error").count() >= 2,
        "all errors at once: {err}"
    );
}

#[test]
fn output_file_and_every_format() {
    let ws = Workspace::new();
    ws.write(
        "policy.toml",
        &echo_policy(FAIL_KEY, &exemption("2026-12-31", "")),
    );
    for format in gate_eval::report::Format::all().map(|f| f.name()) {
        let file = format!("report.{format}");
        let out = ws.gate_env(
            &[
                "evaluate",
                "--policy",
                "policy.toml",
                "--format",
                format,
                "--output",
                &file,
            ],
            &[("GATE_TEST_NOW", "2026-11-26")],
        );
        assert_eq!(code(&out), 0, "{format}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{format}: report went to the file");
        let text = std::fs::read_to_string(ws.path().join(&file)).unwrap();
        assert!(text.contains("echo.findings"), "{format}: {text}");
    }
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("report.sarif")).unwrap())
            .unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["suppressions"].as_array().is_some_and(|s| !s.is_empty()))
    );
}

#[test]
fn gate_selection_runs_only_that_gate() {
    let ws = Workspace::new();
    let policy = echo_policy(
        FAIL_KEY,
        "[[gate]]\nname = \"advisory\"\nchecks = [\"echo.findings\"]\nenforcement = \"warn\"\n",
    );
    ws.write("policy.toml", &policy);
    let out = ws.gate(&[
        "evaluate",
        "--policy",
        "policy.toml",
        "--gate",
        "advisory",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0);
    let report = json(&out);
    assert_eq!(report["gates"].as_array().unwrap().len(), 1);
    assert_eq!(report["gates"][0]["name"], "advisory");
}

#[test]
fn a_grant_of_a_single_file_can_be_read() {
    // WASI preopens directories only; a file granted on its own is read
    // through the host, and its siblings stay out of reach.
    let ws = Workspace::new();
    ws.write(
        "flags.json",
        r#"{ "flags": { "checkout": { "state": "ENABLED", "variants": { "on": true, "off": false }, "defaultVariant": "off" } } }"#,
    );
    ws.write("other.json", r#"{ "flags": {} }"#);
    let policy = |file: &str| {
        format!(
            "[policy]\nname = \"file-grant\"\n\n[[plugin]]\nname = \"config\"\n[plugin.grants]\nfs = [\"flags.json\"]\n\n\
             [[gate]]\nname = \"g\"\nchecks = [\"config.feature-flags\"]\n\n\
             [[check]]\nid = \"config.feature-flags\"\nparams = {{ files = [\"{file}\"] }}\n"
        )
    };
    ws.write("policy.toml", &policy("flags.json"));
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(
        check(&json(&out), "g", "config.feature-flags")["status"],
        "pass"
    );

    ws.write("policy.toml", &policy("other.json"));
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    let report = json(&out);
    let c = check(&report, "g", "config.feature-flags");
    assert_eq!(c["status"], "error", "{c:#}");
    assert!(c.to_string().contains("not granted `fs` access"), "{c:#}");
}
