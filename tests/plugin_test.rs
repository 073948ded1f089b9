//! `gate plugin test`, end to end through the real binary: case files run
//! against real components (`plugins/testing/probe`, which keeps every
//! plugin rule, and `plugins/testing/careless`, which breaks them) with
//! stubbed capabilities, the rules every plugin keeps, the three output
//! formats, and case-file errors.

mod common;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// A plugin project in the workspace: a manifest, the test plugin's
/// component copied to the default `output` (`build/plugin.wasm`), and
/// `cases` (file name, contents).
fn project(ws: &Workspace, plugin: &str, cases: &[(&str, &str)]) -> PathBuf {
    let dir = ws.path().join(plugin);
    ws.write(
        &format!("{plugin}/gate-plugin.toml"),
        &format!("name = \"{plugin}\"\nlanguage = \"rust\"\nwit = \"0.1.1\"\n"),
    );
    std::fs::create_dir_all(dir.join("build")).unwrap();
    std::fs::copy(plugin_path(plugin), dir.join("build/plugin.wasm")).unwrap();
    for (name, text) in cases {
        ws.write(&format!("{plugin}/cases/{name}"), text);
    }
    dir
}

fn plugin_test(ws: &Workspace, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["plugin", "test", dir.to_str().unwrap(), "--no-build"];
    args.extend_from_slice(extra);
    ws.gate(&args)
}

/// Timings, digests and paths that change from run to run, masked.
fn masked(text: &str, ws: &Workspace) -> String {
    let text = text.replace(&ws.path().display().to_string(), "<workspace>");
    let text = text.replace(
        &plugin_path("probe").parent().unwrap().display().to_string(),
        "<plugins>",
    );
    let patterns = [
        (r"\(\d+ ms\)", "(<ms> ms)"),
        (r"· \d+ ms", "· <ms> ms"),
        (r"sha256 [0-9a-f]{12}", "sha256 <sha256>"),
        (r#"time="\d+\.\d{3}""#, r#"time="<s>""#),
        (r#"timestamp="[^"]+""#, r#"timestamp="<t>""#),
    ];
    patterns.iter().fold(text, |t, (re, with)| {
        regex::Regex::new(re)
            .unwrap()
            .replace_all(&t, *with)
            .into_owned()
    })
}

const HTTP: &str = r#"
[[case]]
name = "health answers 200"
check = "probe.http"
params = { url = "https://status.example/health" }

[[case.http]]
url = "https://status.example/health"
status = 200
headers = { "content-type" = "text/plain" }
body = "ok"

[[case.expect]]
status = "pass"
subject = "https://status.example/health"
message = "^GET answered 200: ok$"

[[case]]
name = "health answers 503"
check = "probe.http"
params = { url = "https://status.example/health" }

[[case.http]]
method = "get"
url = "HTTPS://STATUS.example:443/health"
status = 503
body = "down"

[[case.expect]]
status = "fail"
subject = "https://status.example/health"
message = "answered 503"

[[case]]
name = "an unstubbed URL is denied"
check = "probe.http"
params = { url = "https://status.example/other" }

[[case.http]]
url = "https://status.example/health"

[[case.expect]]
status = "error"
subject = "https://status.example/other"
message = "is not granted `http` access to `https://status.example/other`"
"#;

const ENV: &str = r#"
[[case]]
name = "stubbed variables are set"
check = "probe.env"
params = { names = ["APP_MODE", "API_TOKEN"] }
env = { APP_MODE = "prod", API_TOKEN = "sk_live_0123456789abcdef0123" }

[[case.expect]]
status = "pass"
subject = "APP_MODE"
message = "^set to prod$"

[[case.expect]]
status = "pass"
subject = "API_TOKEN"
message = "^set to sk_l…"

[[case]]
name = "the real environment is out of reach"
check = "probe.env"
params = { names = ["HOME"] }

[[case.expect]]
status = "error"
subject = "HOME"
message = "is not granted `env` access to `HOME`"
"#;

const NET: &str = r#"
[[case]]
name = "the cache answers PING"
check = "probe.net"
params = { target = "cache.internal:6379", send = "PING\r\n", expect = "PONG" }

[[case.net]]
target = "cache.internal:6379"
reply = "+PONG\r\n"

[[case.expect]]
status = "pass"
subject = "cache.internal:6379"
message = "replied \\+PONG"

[[case]]
name = "the database refuses connections"
check = "probe.net"
params = { target = "db.internal:5432" }

[[case.net]]
target = "db.internal:5432"
connected = false
error = "connection refused"

[[case.expect]]
status = "fail"
subject = "db.internal:5432"
message = "connection refused"

[[case]]
name = "an unstubbed target is denied"
check = "probe.net"
params = { target = "db.internal:5433" }

[[case.net]]
target = "db.internal:5432"

[[case.expect]]
status = "error"
subject = "db.internal:5433"
message = "is not granted `net` access to `db.internal:5433`"
"#;

const SQL: &str = r#"
[[case]]
name = "users have emails"
check = "probe.sql"
params = { connection = "app", query = "SELECT name, email FROM users" }

[[case.sql]]
connection = "app"
statement = "SELECT name, email\n  FROM users"
columns = ["name", "email"]
rows = [{ name = "alice", email = "a@example.com" }]

[[case.expect]]
status = "pass"
subject = "app"
message = "^1 rows, 0 NULLs, columns name, email$"

[[case]]
name = "a NULL email fails"
check = "probe.sql"
params = { connection = "app", query = "SELECT name, email FROM users WHERE active" }

[[case.sql]]
connection = "app"
statement_regex = "(?i)from\\s+users"
columns = ["name", "email"]
rows = [{ name = "alice", email = "a@example.com" }, { name = "bob" }]

[[case.expect]]
status = "fail"
subject = "app"
message = "^2 rows, 1 NULLs"

[[case]]
name = "an unstubbed connection is denied"
check = "probe.sql"
params = { connection = "billing", query = "SELECT 1" }

[[case.sql]]
connection = "app"
statement = "SELECT 1"
columns = ["one"]
rows = [{ one = 1 }]

[[case.expect]]
status = "error"
subject = "billing"
message = "is not granted `sql` access to `billing`"
"#;

const FILES: &str = r##"
[[case]]
name = "fixture files are read"
check = "probe.files"
params = { paths = ["README.md", "docs/guide/intro.md", "empty.txt"] }
files = { "README.md" = "# Service\n\nIt works.\n", "docs/guide/intro.md" = "hello\n", "empty.txt" = "" }

[[case.expect]]
status = "pass"
subject = "README.md"
message = "^3 lines$"

[[case.expect]]
status = "pass"
subject = "docs/guide/intro.md"

[[case.expect]]
status = "fail"
subject = "empty.txt"
message = "empty"

[[case]]
name = "files outside the fixture are denied"
check = "probe.files"
params = { paths = ["/etc/hostname"] }
files = { "README.md" = "x" }

[[case.expect]]
status = "error"
subject = "/etc/hostname"
message = "is not granted `fs` access to `/etc/hostname`"
"##;

fn probe_project(ws: &Workspace) -> PathBuf {
    project(
        ws,
        "probe",
        &[
            ("env.toml", ENV),
            ("files.toml", FILES),
            ("http.toml", HTTP),
            ("net.toml", NET),
            ("sql.toml", SQL),
        ],
    )
}

#[test]
fn every_stub_kind_answers_and_every_rule_is_kept() {
    let ws = Workspace::new();
    let dir = probe_project(&ws);
    let out = plugin_test(&ws, &dir, &[]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("PASS · cases: 13 passed, 0 failed"), "{text}");
    // The stubbed secret never shows in clear.
    assert!(!text.contains("sk_live_0123456789abcdef0123"), "{text}");
    insta::assert_snapshot!("probe_human", masked(&text, &ws));
}

#[test]
fn json_lists_cases_rules_and_findings() {
    let ws = Workspace::new();
    let dir = probe_project(&ws);
    let out = plugin_test(&ws, &dir, &["--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["passed"], true);
    assert_eq!(report["plugin"], "probe");
    assert_eq!(report["summary"]["cases"]["passed"], 13);
    assert_eq!(report["summary"]["rules"]["failed"], 0);
    let case = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "a NULL email fails")
        .unwrap();
    assert_eq!(case["file"], "cases/sql.toml");
    assert_eq!(case["line"], 19);
    assert_eq!(case["findings"][0]["status"], "fail");
    let rules: Vec<(String, String, String)> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_string(),
                r["check"].as_str().unwrap_or("").to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for check in [
        "probe.http",
        "probe.env",
        "probe.net",
        "probe.sql",
        "probe.files",
    ] {
        for rule in ["missing-param", "wrong-type", "denied", "not-empty"] {
            assert!(
                rules.contains(&(rule.into(), check.into(), "pass".into())),
                "{rule} on {check}: {rules:?}"
            );
        }
    }
    assert!(rules.contains(&("catalogue".into(), String::new(), "pass".into())));
}

#[test]
fn a_failing_case_names_the_unexpected_and_the_missing_finding() {
    let ws = Workspace::new();
    let dir = project(
        &ws,
        "probe",
        &[(
            "http.toml",
            r#"
[[case]]
name = "health answers"
check = "probe.http"
params = { url = "https://status.example/health" }

[[case.http]]
url = "https://status.example/health"
status = 503
body = "down"

[[case.expect]]
status = "pass"
subject = "https://status.example/health"
"#,
        )],
    );
    let out = plugin_test(&ws, &dir, &[]);
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("FAIL  health answers (probe.http)"), "{text}");
    assert!(
        text.contains(
            "unexpected finding: fail `https://status.example/health`: GET answered 503: down"
        ),
        "{text}"
    );
    assert!(
        text.contains("missing finding: pass `https://status.example/health`"),
        "{text}"
    );
    assert!(text.contains("FAIL · cases: 0 passed, 1 failed"), "{text}");
}

#[test]
fn unstubbed_calls_reach_nothing_real() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let ws = Workspace::new();
    let cases = format!(
        r#"
[[case]]
name = "net"
check = "probe.net"
params = {{ target = "127.0.0.1:{port}" }}

[[case.expect]]
status = "error"
subject = "127.0.0.1:{port}"
message = "not granted `net` access"

[[case]]
name = "http"
check = "probe.http"
params = {{ url = "http://127.0.0.1:{port}/health" }}

[[case.expect]]
status = "error"
subject = "http://127.0.0.1:{port}/health"
message = "not granted `http` access"
"#
    );
    let dir = project(&ws, "probe", &[("real.toml", &cases)]);
    let out = plugin_test(&ws, &dir, &[]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("a listener on 127.0.0.1:{port} was reached: {other:?}"),
    }
}

const CARELESS: &str = r#"
[[case]]
name = "the database is reachable"
check = "careless.reach"
params = { Target = "db.internal:5432" }

[[case.net]]
target = "db.internal:5432"
connected = true

[[case.expect]]
status = "pass"
subject = "db.internal:5432"
"#;

#[test]
fn the_rules_catch_a_careless_plugin() {
    let ws = Workspace::new();
    let dir = project(&ws, "careless", &[("reach.toml", CARELESS)]);
    let out = plugin_test(&ws, &dir, &["--format", "json"]);
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    let report = json(&out);
    assert_eq!(report["cases"][0]["outcome"], "pass", "its case passes");
    let rule = |name: &str| {
        report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == name)
            .unwrap_or_else(|| panic!("no rule {name}: {report}"))
            .clone()
    };
    let problems = |name: &str| {
        let r = rule(name);
        assert_eq!(r["outcome"], "fail", "{name}: {r}");
        r["problems"].to_string()
    };
    let catalogue = problems("catalogue");
    assert!(
        catalogue.contains("careless.reach: no title or description"),
        "{catalogue}"
    );
    assert!(
        catalogue.contains("parameter `Target` is not a snake_case name"),
        "{catalogue}"
    );
    assert!(problems("missing-param").contains("returned no findings"));
    assert!(problems("wrong-type").contains("returned no findings"));
    let denied = problems("denied");
    assert!(
        denied.contains("passed: `db.internal:5432`: probably reachable"),
        "{denied}"
    );
    assert!(problems("not-empty").contains("without required param `Target` returned no findings"));
}

#[test]
fn human_and_junit_output() {
    let ws = Workspace::new();
    let dir = project(&ws, "careless", &[("reach.toml", CARELESS)]);
    let human = plugin_test(&ws, &dir, &[]);
    assert_eq!(code(&human), 1, "{}", stderr(&human));
    insta::assert_snapshot!("careless_human", masked(&stdout(&human), &ws));
    let junit = plugin_test(&ws, &dir, &["--format", "junit"]);
    assert_eq!(code(&junit), 1, "{}", stderr(&junit));
    let xml = stdout(&junit);
    assert!(xml.starts_with("<?xml"), "{xml}");
    insta::assert_snapshot!("careless_junit", masked(&xml, &ws));
}

#[test]
fn bad_case_files_name_the_file_line_and_column() {
    let ws = Workspace::new();
    for (text, expected) in [
        (
            "[[case]]\nname = \"x\"\ncheck = \"probe.env\"\nbogus = 1\n",
            "cases/bad.toml:4:1: unknown field `bogus`",
        ),
        (
            "[[case]]\nname = \"x\"\ncheck = \"probe.env\"\n[[case.expect]]\nstatus = \"pass\"\nsubject = \"s\"\nmessage = \"(\"\n",
            "cases/bad.toml:7:11: [[case.expect]] message is not a valid regex",
        ),
        (
            "[[case]]\nname = \"x\"\ncheck = \"probe.env\"\n[[case.expect]]\nstatus = \"passed\"\nsubject = \"s\"\n",
            "cases/bad.toml:5:10: unknown variant `passed`",
        ),
        (
            "[[case]]\nname = \"x\"\ncheck = \"probe.env\"\n",
            "cases/bad.toml:2:8: case `x` expects nothing",
        ),
        ("[[case]\n", "cases/bad.toml:1:8: "),
    ] {
        let dir = project(&ws, "probe", &[("bad.toml", text)]);
        let out = plugin_test(&ws, &dir, &[]);
        assert_eq!(code(&out), 2, "{text}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("error: {expected}")),
            "{expected}\n{err}"
        );
        assert!(err.contains("help: "), "{err}");
    }
}

#[test]
fn a_case_name_twice_is_an_error() {
    let ws = Workspace::new();
    let case = "[[case]]\nname = \"x\"\ncheck = \"probe.env\"\n[[case.expect]]\nstatus = \"pass\"\nsubject = \"s\"\n";
    let dir = project(&ws, "probe", &[("a.toml", case), ("b.toml", case)]);
    let out = plugin_test(&ws, &dir, &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out)
            .contains("error: cases/b.toml:2:1: case `x` is already defined at cases/a.toml:2"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn component_flag_and_missing_manifest() {
    let ws = Workspace::new();
    let dir = project(&ws, "probe", &[("env.toml", ENV)]);
    // `--component` wins over the manifest's `output`.
    std::fs::write(
        dir.join("gate-plugin.toml"),
        "name = \"probe\"\nlanguage = \"rust\"\nwit = \"0.1.1\"\noutput = \"nowhere.wasm\"\n",
    )
    .unwrap();
    let component = plugin_path("probe");
    let out = ws.gate(&[
        "plugin",
        "test",
        dir.to_str().unwrap(),
        "--component",
        component.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let empty = ws.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = ws.gate(&["plugin", "test", empty.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("gate-plugin.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help() {
    let ws = Workspace::new();
    // `gate plugin --help` is snapshotted by plugin_workflow.rs.
    let out = ws.gate(&["plugin", "test", "--help"]);
    assert_eq!(code(&out), 0);
    insta::assert_snapshot!("help_plugin_test", help_text(&out));
}
