//! `gate plugin new`, `build` and `inspect` through the real `gate` binary:
//! from an empty directory to a pinned plugin that a policy runs, the
//! refusals on the way, and inspection of a built plugin and of the
//! committed 0.1.0 fixture.
//!
//! The generated Rust projects build with cargo for wasm32-wasip2 (the build
//! adds the target through rustup when it is missing) into one target
//! directory under this repository's `target/`, so their crates.io
//! dependencies are compiled once and reruns are fast.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Shared by every generated project (and every run).
fn cargo_target() -> PathBuf {
    repo().join("target").join("plugin-projects")
}

/// `gate ARGS` in `dir`, with the generated projects' shared target directory.
fn gate_in(ws: &Workspace, dir: &Path, args: &[&str]) -> Output {
    let target = cargo_target();
    ws.gate_in(dir, args, &[("CARGO_TARGET_DIR", target.to_str().unwrap())])
}

fn ok(out: &Output, what: &str) {
    assert_eq!(
        code(out),
        0,
        "{what} failed\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

#[test]
fn from_an_empty_directory_to_a_pinned_plugin_a_policy_runs() {
    let ws = Workspace::new();
    // 1. new: the project and what to type next.
    let out = ws.gate(&["plugin", "new", "acme", "--lang", "rust"]);
    ok(&out, "plugin new");
    assert!(
        stdout(&out).contains("gate plugin build"),
        "{}",
        stdout(&out)
    );
    let project = ws.path().join("acme");
    for file in [
        "gate-plugin.toml",
        "Cargo.toml",
        "src/lib.rs",
        "cases/example.toml",
        "policy-snippet.toml",
        "README.md",
        "vendor/gate-plugin-sdk/Cargo.toml",
        "vendor/gate-plugin-sdk/wit/gate-plugin.wit",
        "vendor/gate-redact/src/lib.rs",
    ] {
        assert!(project.join(file).is_file(), "missing {file}");
    }

    // 2. build, from inside the project: the digest of the file it wrote,
    // and a block whose path is relative to the current directory.
    let out = gate_in(&ws, &project, &["plugin", "build"]);
    ok(&out, "plugin build");
    let wasm = project.join("build/acme.wasm");
    let digest = sha256_file(&wasm);
    let text = stdout(&out);
    assert!(text.contains(&format!("sha256  {digest}")), "{text}");
    assert!(
        text.contains(&format!(
            "[[plugin]]\nname = \"acme\"\npath = \"build/acme.wasm\"\nsha256 = \"{digest}\"\n[plugin.grants]\nfs = [\".\"]"
        )),
        "{text}"
    );
    assert!(text.contains("gate:plugin/check@0.1.1"), "{text}");
    assert!(
        text.contains("relative to the policy file's directory"),
        "{text}"
    );

    // The project's own policy was re-pinned: the five commands work as written.
    let out = gate_in(
        &ws,
        &project,
        &[
            "evaluate",
            "--policy",
            "policy-snippet.toml",
            "--format",
            "json",
        ],
    );
    ok(&out, "evaluate policy-snippet.toml");
    let report = json(&out);
    assert_eq!(
        check(&report, "acme", "acme.example")["status"],
        "pass",
        "{report:#}"
    );

    // 3. For CI: JSON, with the block relative to another policy directory.
    let out = gate_in(
        &ws,
        &project,
        &["plugin", "build", "--format", "json", "--policy-dir", ".."],
    );
    ok(&out, "plugin build --format json");
    let built = json(&out);
    assert_eq!(built["sha256"], digest.as_str());
    assert_eq!(built["world"], "check");
    assert_eq!(built["wit"], "0.1.1");
    assert_eq!(built["size"], std::fs::metadata(&wasm).unwrap().len());
    assert_eq!(built["policy_path"], "acme/build/acme.wasm");
    let block = built["plugin_block"].as_str().unwrap();

    // 4. evaluate: the printed block in a policy beside the project, over
    // fixtures that pass and fail.
    ws.write("services/billing/README.md", "# Billing\n");
    ws.write("services/billing/CHANGELOG.md", "## 1.0\n");
    ws.write("services/ledger/README.md", "# Ledger\n");
    ws.write("services/ledger/CHANGELOG.md", "  \n");
    let policy = |files: &str| {
        format!(
            "[policy]\nname = \"acme-e2e\"\n\n{block}\n[[gate]]\nname = \"docs\"\nchecks = [\"acme.*\"]\n\
             enforcement = \"block\"\n\n[[check]]\nid = \"acme.example\"\nparams = {{ files = {files} }}\n"
        )
    };
    ws.write(
        "pass.toml",
        &policy(r#"["services/billing/README.md", "services/billing/CHANGELOG.md"]"#),
    );
    let out = ws.gate(&["evaluate", "--policy", "pass.toml", "--format", "json"]);
    ok(&out, "evaluate pass.toml");
    let entry = check(&json(&out), "docs", "acme.example").clone();
    assert_eq!(entry["status"], "pass", "{entry:#}");

    ws.write(
        "fail.toml",
        &policy(r#"["services/ledger/README.md", "services/ledger/CHANGELOG.md", "services/ledger/RUNBOOK.md"]"#),
    );
    let out = ws.gate(&["evaluate", "--policy", "fail.toml", "--format", "json"]);
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    let entry = check(&json(&out), "docs", "acme.example").clone();
    assert_eq!(entry["status"], "fail", "{entry:#}");
    let findings: Vec<(String, String)> = entry["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["subject"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            ("services/ledger/README.md".into(), "pass".into()),
            ("services/ledger/CHANGELOG.md".into(), "fail".into()),
            ("services/ledger/RUNBOOK.md".into(), "fail".into()),
        ]
    );

    // 5. inspect what was built.
    let out = ws.gate(&[
        "plugin",
        "inspect",
        "acme/build/acme.wasm",
        "--format",
        "json",
    ]);
    ok(&out, "plugin inspect");
    let inspected = json(&out);
    assert_eq!(inspected["world"], "check");
    assert_eq!(inspected["wit"], "0.1.1");
    assert_eq!(inspected["sha256"], digest.as_str());
    assert_eq!(inspected["plugin"]["id"], "acme");
    let example = &inspected["plugin"]["checks"][0];
    assert_eq!(example["id"], "acme.example");
    assert_eq!(example["capabilities"], serde_json::json!(["fs"]));
    assert_eq!(example["params"][0]["name"], "files");
    let capabilities = inspected["imports"]["capabilities"].as_array().unwrap();
    assert!(
        capabilities.iter().any(|c| *c == "gate:plugin/files@0.1.1"),
        "the example resolves paths through the host: {capabilities:?}"
    );
    assert!(inspected["compile_ms"].as_f64().unwrap() > 0.0);

    // 6. The same project built against a WIT version this gate does not
    // run (as a newer SDK would write it: its copy of the WIT, and the world
    // of its own that includes it) is refused, naming both versions.
    for (file, from, to) in [
        (
            "wit/gate-plugin.wit",
            "package gate:plugin@0.1.1;",
            "package gate:plugin@0.2.0;",
        ),
        (
            "src/lib.rs",
            "include gate:plugin/check-in-parts@0.1.1;",
            "include gate:plugin/check-in-parts@0.2.0;",
        ),
    ] {
        let path = project.join("vendor/gate-plugin-sdk").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}: no `{from}`");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }
    let out = gate_in(&ws, &project, &["plugin", "build"]);
    assert_eq!(code(&out), 2, "{}\n{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("was built against gate:plugin@0.2.0, which this gate does not run (it runs gate:plugin@0.1.0, gate:plugin@0.1.1, gate:plugin@0.1.2)"),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "no block for a refused component");
}

#[test]
fn new_refuses_a_non_empty_directory_and_bad_names() {
    let ws = Workspace::new();
    ws.write("taken/notes.txt", "mine");
    let out = ws.gate(&["plugin", "new", "acme", "--lang", "rust", "--dir", "taken"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("taken: the directory is not empty"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join("taken/notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_dir(ws.path().join("taken")).unwrap().count(),
        1
    );

    for bad in ["Acme", "acme_checks", "9acme", "acme.checks"] {
        let out = ws.gate(&["plugin", "new", bad, "--lang", "rust"]);
        assert_eq!(code(&out), 2, "{bad}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "`{bad}` is not a valid plugin name: a plugin name is lower-case kebab-case"
            )),
            "{err}"
        );
        assert!(!ws.path().join(bad).exists(), "{bad}: nothing written");
    }
    let out = ws.gate(&["plugin", "new", "security", "--lang", "rust"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("built-in plugin"), "{}", stderr(&out));

    // An empty directory is fine.
    std::fs::create_dir(ws.path().join("empty")).unwrap();
    ok(
        &ws.gate(&["plugin", "new", "acme", "--lang", "rust", "--dir", "empty"]),
        "plugin new into an empty directory",
    );
    assert!(ws.path().join("empty/gate-plugin.toml").is_file());
}

/// A project whose code exports the `strategy` world instead of `check`.
const STRATEGY_LIB: &str = r#"
// `PluginInfo` comes into scope from the world's `use types.{plugin-info}`.
wit_bindgen::generate!({ path: "vendor/gate-plugin-sdk/wit", world: "gate:plugin/strategy" });

struct Strategy;

impl Guest for Strategy {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: "strat".into(),
            version: "0.1.0".into(),
            description: "a strategy in a check project".into(),
            checks: Vec::new(),
        }
    }
    fn decide(_spec: String, _state: String) -> Result<String, String> {
        Err("never".into())
    }
}

export!(Strategy);
"#;

#[test]
fn build_refuses_a_strategy_component_for_a_check_project() {
    let ws = Workspace::new();
    ok(
        &ws.gate(&["plugin", "new", "strat", "--lang", "rust"]),
        "plugin new",
    );
    let project = ws.path().join("strat");
    std::fs::write(project.join("src/lib.rs"), STRATEGY_LIB).unwrap();
    let cargo = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    std::fs::write(
        project.join("Cargo.toml"),
        cargo.replace(
            "[dependencies]\n",
            "[dependencies]\nwit-bindgen = \"0.61\"\n",
        ),
    )
    .unwrap();
    let out = gate_in(&ws, &project, &["plugin", "build"]);
    assert_eq!(code(&out), 2, "{}\n{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "implements the `strategy` world, but gate-plugin.toml declares a check plugin"
        ),
        "{err}"
    );
    // The pin of the project's policy is left alone.
    let snippet = std::fs::read_to_string(project.join("policy-snippet.toml")).unwrap();
    assert!(snippet.contains(&format!("sha256 = \"{}\"", "0".repeat(64))));
}

#[test]
fn build_outside_a_project_names_the_manifest() {
    let ws = Workspace::new();
    let out = ws.gate(&["plugin", "build"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("gate-plugin.toml"),
        "{}",
        stderr(&out)
    );
}

/// The committed echo plugin built against 0.1.0 (tests/fixtures/plugins).
fn fixture() -> PathBuf {
    repo().join("tests/fixtures/plugins/echo-wit-0.1.0.wasm")
}

/// Inspect's human output with the measured compile time masked.
fn masked(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix("compile      ") {
            Some(rest) => {
                let unit = rest.find(" ms").expect("a time in ms");
                format!("compile      [ms]{}", &rest[unit..])
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn inspect_the_released_fixture() {
    let ws = Workspace::new();
    std::fs::copy(fixture(), ws.path().join("echo.wasm")).unwrap();
    let out = ws.gate(&["plugin", "inspect", "echo.wasm"]);
    ok(&out, "plugin inspect");
    insta::assert_snapshot!("inspect_fixture", masked(&stdout(&out)));

    let out = ws.gate(&["plugin", "inspect", "echo.wasm", "--format", "json"]);
    ok(&out, "plugin inspect --format json");
    let inspected = json(&out);
    assert_eq!(inspected["world"], "check");
    assert_eq!(inspected["wit"], "0.1.0");
    assert_eq!(inspected["sha256"], sha256_file(&fixture()).as_str());
    assert_eq!(inspected["plugin"]["checks"][0]["id"], "echo.findings");
    assert_eq!(inspected["compiler"], "cranelift");
}

#[test]
fn inspect_names_other_worlds_and_refuses_what_is_not_a_component() {
    let ws = Workspace::new();
    let out = ws.gate(&[
        "plugin",
        "inspect",
        plugin_path("strategies").to_str().unwrap(),
        "--format",
        "json",
    ]);
    ok(&out, "plugin inspect strategies");
    let inspected = json(&out);
    assert_eq!(inspected["world"], "strategy");
    let ids: Vec<&str> = inspected["plugin"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"canary"), "{ids:?}");

    ws.write("junk.wasm", "not wasm");
    let out = ws.gate(&["plugin", "inspect", "junk.wasm"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("junk.wasm is not a component this host can load"),
        "{}",
        stderr(&out)
    );
    let out = ws.gate(&["plugin", "inspect", "absent.wasm"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("absent.wasm"), "{}", stderr(&out));
}

#[test]
fn help_snapshots() {
    let ws = Workspace::new();
    for args in [
        &["plugin", "--help"][..],
        &["plugin", "new", "--help"],
        &["plugin", "build", "--help"],
        &["plugin", "inspect", "--help"],
    ] {
        let out = ws.gate(args);
        assert_eq!(code(&out), 0);
        insta::assert_snapshot!(
            format!("help_{}", args[..args.len() - 1].join("_")),
            help_text(&out)
        );
    }
}
