//! CLI surface: help text snapshots, `checks list`, `policy lint`, usage errors.

mod common;

use common::*;

#[test]
fn help_snapshots() {
    let ws = Workspace::new();
    for args in [
        &["--help"][..],
        &["evaluate", "--help"],
        &["policy", "lint", "--help"],
        &["checks", "list", "--help"],
        &["exemption", "sign", "--help"],
        &["exemption", "verify", "--help"],
        &["secrets", "baseline", "--help"],
    ] {
        let out = ws.gate(args);
        assert_eq!(code(&out), 0);
        insta::assert_snapshot!(
            format!("help_{}", args[..args.len() - 1].join("_"))
                .trim_end_matches('_')
                .to_string(),
            help_text(&out)
        );
    }
}

#[test]
fn usage_error_exits_2() {
    let ws = Workspace::new();
    let out = ws.gate(&["evaluate"]);
    assert_eq!(code(&out), 2);
    let out = ws.gate(&["evaluate", "--policy", "missing.toml"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));
}

#[test]
fn checks_list_shows_every_builtin_check_with_params() {
    let ws = Workspace::new();
    let out = ws.gate(&["checks", "list", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let plugins = json(&out);
    let ids: Vec<String> = plugins
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string())
        })
        .collect();
    for id in [
        "infra.disk-space",
        "security.no-secrets",
        "security.compliance",
        "security.scan-results",
        "config.env-vars",
        "config.logging-levels",
        "config.feature-flags",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    for p in plugins.as_array().unwrap() {
        for c in p["checks"].as_array().unwrap() {
            assert!(
                !c["params"].as_array().unwrap().is_empty(),
                "{} documents no params",
                c["id"]
            );
        }
    }
    let human = ws.gate(&["checks", "list"]);
    assert!(stdout(&human).contains("security.no-secrets"));
    assert!(stdout(&human).contains("paths"));
}

#[test]
fn policy_lint_reports_missing_grants_and_params() {
    let ws = Workspace::new();
    ws.write(
        "p.toml",
        "[policy]\nname = \"lint\"\n\n[[gate]]\nname = \"g\"\nchecks = [\"config.env-vars\", \"infra.disk-space\"]\n\n\
         [[check]]\nid = \"config.env-vars\"\nparams = { required = [\"HOME\"] }\n",
    );
    let out = ws.gate(&["policy", "lint", "p.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("config.env-vars") && text.contains("needs env"),
        "{text}"
    );
    assert!(
        text.contains("infra.disk-space") && text.contains("requires param `paths`"),
        "{text}"
    );

    ws.write(
        "typo.toml",
        "[policy]\nname = \"lint\"\n\n[[gate]]\nname = \"g\"\nchecks = [\"infra.disk-spaec\"]\n",
    );
    let out = ws.gate(&["policy", "lint", "typo.toml"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("infra.disk-spaec"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bundled_example_policy_passes_lint_and_shows_pass_fail_and_exempt() {
    // A copy of the example on a filesystem with room to spare: the policy
    // checks free space in the working directory, and the machine's own disk
    // may be nearly full (see `common::scratch`).
    let ws = Workspace::roomy();
    let root = ws.path();
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &root.join("policies"),
    );
    let out = std::process::Command::new(GATE)
        .args(["policy", "lint", "policies/example.toml"])
        .current_dir(root)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));

    let out = std::process::Command::new(GATE)
        .args([
            "evaluate",
            "--policy",
            "policies/example.toml",
            "--format",
            "json",
        ])
        .current_dir(root)
        .env("GATE_TEST_NOW", "2026-11-26")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    let statuses: Vec<String> = report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| {
            g["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["status"].as_str().unwrap().to_string())
        })
        .collect();
    for s in ["pass", "fail", "exempt"] {
        assert!(
            statuses.iter().any(|x| x == s),
            "example shows no {s}: {statuses:?}"
        );
    }
}

#[test]
fn policy_lint_accepts_either_source_of_a_two_source_check() {
    // infra.alert-thresholds reads a Prometheus provider *or* rule files
    // (`metrics|fs`): granting one of them is enough, granting neither warns.
    let ws = Workspace::new();
    let policy = |grants: &str| {
        format!(
            "[policy]\nname = \"lint\"\n\n[[plugin]]\nname = \"infra\"\n[plugin.grants]\n{grants}\n\n\
             [[gate]]\nname = \"g\"\nchecks = [\"infra.alert-thresholds\"]\n\n\
             [[check]]\nid = \"infra.alert-thresholds\"\nparams = {{ rule_files = [\"rules.yml\"], required = [\"A\"] }}\n"
        )
    };
    ws.write("ok.toml", &policy("fs = [\".\"]"));
    let out = ws.gate(&["policy", "lint", "ok.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("0 warnings"), "{}", stdout(&out));

    ws.write("none.toml", &policy("timeout_ms = 1000"));
    let out = ws.gate(&["policy", "lint", "none.toml"]);
    assert!(
        stdout(&out).contains("needs metrics|fs"),
        "{}",
        stdout(&out)
    );
}

/// `[[plugin]]` entries with a path that no gate uses: lint verifies them all
/// (file, pin, world), evaluate hashes them (but compiles only what it runs).
#[test]
fn policy_lint_verifies_every_declared_plugin() {
    let ws = Workspace::new();
    let echo = plugin_path("echo");
    let echo_sha = sha256_file(&echo);
    let strategies = plugin_path("strategies");
    let strategies_sha = sha256_file(&strategies);
    let text = ws.write("not-a-component.wasm", "plain text, not wasm");
    let text_sha = sha256_file(&text);
    let wrong = "0".repeat(64);
    let head = "[policy]\nname = \"pins\"\n\n[[gate]]\nname = \"g\"\nchecks = [\"config.env-vars\"]\n\n\
                [[check]]\nid = \"config.env-vars\"\nparams = { required = [\"HOME\"] }\n\n\
                [[plugin]]\nname = \"config\"\n[plugin.grants]\nenv = [\"HOME\"]\n\n";
    let entry = |name: &str, path: &std::path::Path, sha: &str| {
        format!(
            "[[plugin]]\nname = \"{name}\"\npath = \"{}\"\nsha256 = \"{sha}\"\n\n",
            path.display()
        )
    };

    // A correctly pinned check plugin that no gate uses is fine.
    ws.write(
        "good.toml",
        &format!("{head}{}", entry("echo", &echo, &echo_sha)),
    );
    let out = ws.gate(&["policy", "lint", "good.toml"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));

    let broken = format!(
        "{head}{}{}{}{}",
        entry("pinned-wrong", &echo, &wrong),
        entry("missing", &ws.path().join("nowhere.wasm"), &wrong),
        entry("text", &text, &text_sha),
        entry("strategy-not-check", &strategies, &strategies_sha),
    );
    ws.write("broken.toml", &broken);
    let out = ws.gate(&["policy", "lint", "broken.toml"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{}{err}", stdout(&out));
    assert!(!stdout(&out).contains("ok"), "{}", stdout(&out));
    // The wrong pin: plugin, path and both digests, at the entry's line.
    assert!(
        err.contains(&format!("broken.toml:{}:", head.lines().count() + 1))
            && err.contains("plugin `pinned-wrong`")
            && err.contains(&echo.display().to_string())
            && err.contains(&wrong)
            && err.contains(&echo_sha),
        "{err}"
    );
    assert!(
        err.contains("plugin `missing`") && err.contains("nowhere.wasm"),
        "{err}"
    );
    assert!(
        err.contains("plugin `text`")
            && err.contains(&format!(
                "{} is not a component this host can load",
                text.display()
            )),
        "{err}"
    );
    assert!(
        err.contains("plugin `strategy-not-check`")
            && err.contains("implements the `gate:plugin@0.1.1/strategy` world")
            && err.contains("`gate:plugin@0.1.1/check` component is needed"),
        "{err}"
    );
    assert!(err.contains("4 declared plugins cannot be loaded"), "{err}");

    // evaluate loads lazily but still refuses a pin that does not match.
    ws.write(
        "wrong-pin.toml",
        &format!("{head}{}", entry("pinned-wrong", &echo, &wrong)),
    );
    let out = ws.gate(&["evaluate", "--policy", "wrong-pin.toml"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("pinned-wrong") && err.contains(&wrong) && err.contains(&echo_sha),
        "{err}"
    );
    // ... and a well-pinned component of the wrong world that no gate uses
    // is not compiled by evaluate (that is lint's job).
    ws.write(
        "unused-strategy.toml",
        &format!(
            "{head}{}",
            entry("strategy-not-check", &strategies, &strategies_sha)
        ),
    );
    let out = ws.gate(&["evaluate", "--policy", "unused-strategy.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
