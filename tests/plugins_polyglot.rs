//! Plugins in Rust, Python and JavaScript, end to end through the real
//! `gate evaluate`: the same `acme` plugin in each language
//! (examples/plugins), built with the real tools (cargo, componentize-py,
//! jco), pinned in a policy by digest, evaluated over fixtures that pass and
//! fail, with bad params, a denied grant and an exemption. Then a project
//! from `scaffold` in an empty directory, built and loaded, per language;
//! and the SDKs' own unit tests, redaction compared with the Rust crate.

mod common;
mod polyglot;

use std::path::Path;
use std::process::Command;

use common::*;
use gate_devkit::Language;
use polyglot::{INSTALL, component, example_dir, repo};

const TOKEN: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
const NOW: &str = "2026-12-01T12:00:00Z";

fn plugin_block(wasm: &Path, grants: &str) -> String {
    format!(
        "[[plugin]]\nname = \"acme\"\npath = \"{}\"\nsha256 = \"{}\"\n[plugin.grants]\n{grants}\n\n",
        wasm.display(),
        sha256_file(wasm)
    )
}

fn policy(wasm: &Path, grants: &str, runbook: &str, extra: &str) -> String {
    format!(
        "[policy]\nname = \"polyglot\"\n\n{}[[gate]]\nname = \"preflight\"\nchecks = [\"acme.runbook\", \"acme.env\"]\nenforcement = \"block\"\n\n\
         [[check]]\nid = \"acme.runbook\"\nparams = {runbook}\n\n\
         [[check]]\nid = \"acme.env\"\nparams = {{ required = [\"DEPLOY_ENV\", \"DEPLOY_TOKEN\"] }}\n\n{extra}",
        plugin_block(wasm, grants)
    )
}

const GRANTS: &str = "fs = [\"./runbooks\"]\nenv = [\"DEPLOY_*\"]";

fn evaluate(ws: &Workspace) -> (i32, serde_json::Value, String) {
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        &[
            ("DEPLOY_ENV", "production"),
            ("DEPLOY_TOKEN", TOKEN),
            ("GATE_TEST_NOW", NOW),
        ],
    );
    let text = stdout(&out);
    assert!(!text.contains(TOKEN), "the report shows the token: {text}");
    assert!(!stderr(&out).contains(TOKEN), "the log shows the token");
    let report = if code(&out) == 2 {
        serde_json::Value::Null
    } else {
        json(&out)
    };
    (code(&out), report, stderr(&out))
}

/// (subject, status) of every finding of a check.
fn findings(check: &serde_json::Value) -> Vec<(String, String)> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["subject"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(s, t)| (s.to_string(), t.to_string()))
        .collect()
}

fn message<'a>(check: &'a serde_json::Value, subject: &str) -> &'a str {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == subject)
        .unwrap_or_else(|| panic!("no finding for {subject}: {check:#}"))["message"]
        .as_str()
        .unwrap()
}

fn end_to_end(language: Language) {
    let wasm = component(language);
    let ws = Workspace::new();
    ws.write(
        "runbooks/web.md",
        "# web\n## Alerts\n## Rollback\n## Contacts\n",
    );
    ws.write("runbooks/api.md", "# api\n## Alerts\n## Contacts\n");
    std::fs::create_dir_all(ws.path().join("elsewhere")).unwrap();

    // Failing fixtures: a runbook lacks a heading, another is missing.
    ws.write(
        "policy.toml",
        &policy(&wasm, GRANTS, r#"{ services = ["web", "api", "db"] }"#, ""),
    );
    let (c, report, err) = evaluate(&ws);
    assert_eq!(c, 1, "{language}: {err}\n{report:#}");
    let runbook = check(&report, "preflight", "acme.runbook");
    assert_eq!(runbook["status"], "fail", "{language}: {runbook:#}");
    assert_eq!(
        findings(runbook),
        pairs(&[("web", "pass"), ("api", "fail"), ("db", "fail")]),
        "{language}"
    );
    assert_eq!(
        message(runbook, "web"),
        "runbooks/web.md has every required heading"
    );
    assert_eq!(
        message(runbook, "api"),
        "runbooks/api.md lacks headings: Rollback"
    );
    assert_eq!(message(runbook, "db"), "no runbook at runbooks/db.md");
    let env = check(&report, "preflight", "acme.env");
    assert_eq!(env["status"], "pass", "{language}: {env:#}");
    assert_eq!(
        findings(env),
        pairs(&[("DEPLOY_ENV", "pass"), ("DEPLOY_TOKEN", "pass")])
    );
    let token = &env["findings"][1];
    assert_eq!(token["evidence"]["value"], "sk_l…(32 chars)", "{token:#}");
    assert_eq!(env["findings"][0]["evidence"]["value"], "production");

    // Passing fixtures.
    ws.write(
        "policy.toml",
        &policy(&wasm, GRANTS, r#"{ services = ["web"] }"#, ""),
    );
    let (c, report, err) = evaluate(&ws);
    assert_eq!(c, 0, "{language}: {err}\n{report:#}");
    let runbook = check(&report, "preflight", "acme.runbook");
    assert_eq!(findings(runbook), pairs(&[("web", "pass")]));

    // Bad params: an `error` finding, never a trap or a pass.
    for bad in [
        r#"{ services = "web" }"#,
        r#"{ services = ["web"], colour = "blue" }"#,
        "{}",
        "{ services = [] }",
    ] {
        ws.write("policy.toml", &policy(&wasm, GRANTS, bad, ""));
        let (c, report, err) = evaluate(&ws);
        assert_eq!(c, 1, "{language} {bad}: {err}");
        let runbook = check(&report, "preflight", "acme.runbook");
        assert_eq!(runbook["status"], "error", "{language} {bad}: {runbook:#}");
        assert_eq!(
            findings(runbook),
            pairs(&[("params", "error")]),
            "{language} {bad}"
        );
        assert!(
            message(runbook, "params").contains("acme.runbook"),
            "{language} {bad}: {runbook:#}"
        );
    }

    // Denied grants: `error`, not `pass`, naming the grant.
    ws.write(
        "policy.toml",
        &policy(
            &wasm,
            "fs = [\"./elsewhere\"]",
            r#"{ services = ["web"] }"#,
            "",
        ),
    );
    let (c, report, err) = evaluate(&ws);
    assert_eq!(c, 1, "{language}: {err}");
    let runbook = check(&report, "preflight", "acme.runbook");
    assert_eq!(runbook["status"], "error", "{language}: {runbook:#}");
    assert_eq!(findings(runbook), pairs(&[("web", "error")]));
    assert!(
        message(runbook, "web").contains("not granted `fs`"),
        "{language}: {runbook:#}"
    );
    let env = check(&report, "preflight", "acme.env");
    assert_eq!(env["status"], "error", "{language}: {env:#}");
    assert!(
        env["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not granted `env`"),
        "{language}: {env:#}"
    );

    // An exemption waives the failing runbook, and only it.
    let exemption = "[[exemption]]\ncheck = \"acme.runbook\"\nmatch = \"api\"\nreason = \"runbook in review\"\napproved_by = \"sre@example.com\"\nexpires = 2027-01-31\n";
    ws.write(
        "policy.toml",
        &policy(&wasm, GRANTS, r#"{ services = ["web", "api"] }"#, exemption),
    );
    let (c, report, err) = evaluate(&ws);
    assert_eq!(c, 0, "{language}: {err}\n{report:#}");
    let runbook = check(&report, "preflight", "acme.runbook");
    assert_eq!(
        findings(runbook),
        pairs(&[("web", "pass"), ("api", "fail")])
    );
    assert!(
        runbook["findings"][1]["exemption"].is_object(),
        "{language}: {runbook:#}"
    );
    assert!(runbook["findings"][0]["exemption"].is_null());
}

#[test]
fn rust_example_end_to_end() {
    end_to_end(Language::Rust);
}

#[test]
fn python_example_end_to_end() {
    end_to_end(Language::Python);
}

#[test]
fn js_example_end_to_end() {
    end_to_end(Language::Js);
}

/// The workflow a plugin author runs, through the gate binary: `gate plugin
/// new`, `build`, `test` (the scaffold's own cases pass as written, and a
/// second `test` does not rebuild), `inspect`, then the project's
/// policy-snippet.toml, pinned by the build, loads the component in `gate
/// evaluate`: its example check passes on a README with an owner line and
/// fails without one.
fn scaffold_builds_and_loads(language: Language) {
    let ws = Workspace::new();
    let project = ws.path().join("team-checks");
    let dir = project.to_str().unwrap();
    let lang = language.to_string();
    let run = |args: &[&str]| {
        let out = ws.gate(args);
        assert_eq!(
            code(&out),
            0,
            "{language}: gate {}\n{}\n{}\n{}",
            args.join(" "),
            stdout(&out),
            stderr(&out),
            polyglot::INSTALL
        );
        out
    };
    run(&[
        "plugin",
        "new",
        "--lang",
        &lang,
        "--dir",
        dir,
        "team-checks",
    ]);
    for file in [
        "gate-plugin.toml",
        "wit/gate-plugin.wit",
        "README.md",
        "cases/example.toml",
        "policy-snippet.toml",
    ] {
        assert!(project.join(file).is_file(), "{language}: no {file}");
    }
    let built = run(&["plugin", "build", dir]);
    let wasm = project.join("build/plugin.wasm");
    let digest = sha256_file(&wasm);
    assert!(stdout(&built).contains(&digest), "{}", stdout(&built));

    let tested = run(&["plugin", "test", dir]);
    assert!(
        stdout(&tested)
            .lines()
            .last()
            .unwrap_or("")
            .starts_with("PASS"),
        "{language}: {}",
        stdout(&tested)
    );
    assert_eq!(
        sha256_file(&wasm),
        digest,
        "{language}: `plugin test` rebuilt a fresh component"
    );

    let inspected = run(&["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(
        stdout(&inspected).contains("gate:plugin/check@0.1.1"),
        "{}",
        stdout(&inspected)
    );

    // The snippet as the build left it: pinned to the component.
    let snippet = std::fs::read_to_string(project.join("policy-snippet.toml")).unwrap();
    assert!(snippet.contains(&digest), "{language}: {snippet}");
    let snippet = snippet.replace(
        "path = \"build/plugin.wasm\"",
        &format!("path = \"{}\"", wasm.display()),
    );
    ws.write("policy.toml", &snippet);
    ws.write("README.md", "# Payments\n\nOwner: team-payments\n");
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    assert_eq!(code(&out), 0, "{language}: {}", stderr(&out));
    let report = json(&out);
    let example = check(&report, "team-checks", "team-checks.example");
    assert_eq!(findings(example), pairs(&[("README.md", "pass")]));
    assert_eq!(
        example["findings"][0]["message"], "owned by team-payments",
        "{example:#}"
    );
    assert_eq!(example["findings"][0]["location"]["line"], 3);

    ws.write("README.md", "# Payments\n");
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    assert_eq!(code(&out), 1, "{language}: {}", stderr(&out));
    let report = json(&out);
    let example = check(&report, "team-checks", "team-checks.example");
    assert_eq!(findings(example), pairs(&[("README.md", "fail")]));
}

#[test]
fn python_scaffold_builds_and_loads() {
    scaffold_builds_and_loads(Language::Python);
}

#[test]
fn js_scaffold_builds_and_loads() {
    scaffold_builds_and_loads(Language::Js);
}

/// The Python and JavaScript examples carry the SDK exactly as `gate plugin
/// new` writes it, the same cases as the Rust one, and the repository's WIT.
#[test]
fn examples_carry_the_sdk_and_cases_as_shipped() {
    let fix = "copy sdk/python/gate_plugin to examples/plugins/python/src/ and sdk/js/{gate-plugin,package.json,package-lock.json} to examples/plugins/js/ (src/gate-plugin)";
    for (language, files) in [
        (
            Language::Python,
            gate_devkit::python::sdk_files().collect::<Vec<_>>(),
        ),
        (
            Language::Js,
            gate_devkit::js::sdk_files().collect::<Vec<_>>(),
        ),
    ] {
        for (path, text) in files {
            let copy = example_dir(language).join(path);
            let found = std::fs::read_to_string(&copy)
                .unwrap_or_else(|e| panic!("{}: {e}; {fix}", copy.display()));
            assert!(
                found == text,
                "{} differs from the SDK; {fix}",
                copy.display()
            );
        }
    }
    let wit = std::fs::read_to_string(repo().join(format!(
        "wit/v{}/gate-plugin.wit",
        gate_devkit::wit::VERSION
    )))
    .unwrap();
    let cases =
        std::fs::read_to_string(example_dir(Language::Rust).join("cases/acme.toml")).unwrap();
    for language in polyglot::LANGUAGES {
        let dir = example_dir(language);
        assert!(
            std::fs::read_to_string(dir.join("wit/gate-plugin.wit")).unwrap() == wit,
            "{language}: wit/gate-plugin.wit differs from the frozen wit/v{}/gate-plugin.wit; copy it",
            gate_devkit::wit::VERSION
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("cases/acme.toml")).unwrap(),
            cases,
            "{language}"
        );
        let manifest = gate_devkit::Manifest::load(&dir).unwrap();
        assert_eq!(
            (manifest.name.as_str(), manifest.language),
            ("acme", language)
        );
    }
}

/// sdk/redact-vectors.json, which the Python and JavaScript SDKs' tests
/// check themselves against, is what the Rust SDK's masking produces.
#[test]
fn redaction_vectors_are_the_rust_sdks() {
    let text = std::fs::read_to_string(repo().join("sdk/redact-vectors.json")).unwrap();
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(vectors.len() > 30);
    for case in &vectors {
        let value = case["value"].as_str().unwrap();
        let got = match case["fn"].as_str().unwrap() {
            "shown" => gate_redact::shown(case["key"].as_str().unwrap(), value),
            "redact" => gate_redact::redact(value),
            "scrub" => gate_redact::scrub(value),
            "url" => gate_redact::url(value),
            other => panic!("unknown fn {other}"),
        };
        assert_eq!(got, case["expect"].as_str().unwrap(), "{case}");
    }
}

fn run_unit_tests(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run ({e}); {INSTALL}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{program} {args:?} in {}:\n{said}",
        dir.display()
    );
}

#[test]
fn python_sdk_unit_tests() {
    run_unit_tests(
        &repo().join("sdk/python"),
        "python3",
        &["-m", "unittest", "discover", "-s", "tests", "-t", "tests"],
    );
}

#[test]
fn js_sdk_unit_tests() {
    run_unit_tests(&repo().join("sdk/js"), "node", &["--test"]);
}
