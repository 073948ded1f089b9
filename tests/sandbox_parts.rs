//! Checks that split their run into parts (WIT world `check-in-parts`),
//! through the real `gate` binary: the parts run at once, each in an
//! instance of its own; the plugin's `parallel` limit bounds them; a part
//! that panics or never returns fails the run by its number within the
//! check's deadline; and `security.no-secrets` reports the same findings
//! in parts as whole, and splits only a tree worth it.

mod common;

use std::time::Instant;

use common::*;

/// Evaluates one check of the hostile plugin with `params` (TOML inline
/// table) under `grants`, and returns the JSON report's check.
fn hostile_parts(ws: &Workspace, grants: &str, params: &str) -> serde_json::Value {
    let policy = format!(
        "[policy]\nname = \"parts\"\n\n{}[[gate]]\nname = \"g\"\nchecks = [\"hostile.parts\"]\n\n\
         [[check]]\nid = \"hostile.parts\"\nparams = {params}\n",
        plugin_block("hostile", grants)
    );
    ws.write("policy.toml", &policy);
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    let report = json(&out);
    check(&report, "g", "hostile.parts").clone()
}

fn subjects(check: &serde_json::Value) -> Vec<String> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["subject"].as_str().unwrap().to_string())
        .collect()
}

fn message(check: &serde_json::Value) -> String {
    check["findings"][0]["message"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_parts_of_a_check_run_at_once_in_instances_of_their_own() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("meet")).unwrap();
    // Each part waits until every other part has written its file: this
    // only ends if all three run at the same time.
    let c = hostile_parts(
        &ws,
        "fs = [\"meet:rw\"]\nparallel = 3\ntimeout_ms = 30000",
        "{ meet = \"meet\" }",
    );
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(
        subjects(&c),
        ["part-0", "part-1", "part-2", "merged"],
        "{c:#}"
    );
    assert_eq!(c["findings"][3]["message"], "merged 3 parts");
    assert_eq!(c["instances"], 3, "{c:#}");
}

#[test]
fn parallel_bounds_the_parts_and_one_runs_the_check_whole() {
    let ws = Workspace::new();
    let c = hostile_parts(&ws, "parallel = 2", "{ ask = 50 }");
    assert_eq!(subjects(&c), ["part-0", "part-1", "merged"], "{c:#}");
    assert_eq!(c["instances"], 2);
    let c = hostile_parts(&ws, "parallel = 1", "{}");
    assert_eq!(subjects(&c), ["whole"], "{c:#}");
    assert_eq!(c["instances"], 1, "{c:#}");
    let c = hostile_parts(&ws, "parallel = 4", "{ ask = 1 }");
    assert_eq!(
        subjects(&c),
        ["whole"],
        "a plugin may decline to split: {c:#}"
    );
}

#[test]
fn a_part_that_panics_fails_the_run_by_its_number() {
    let ws = Workspace::new();
    let c = hostile_parts(&ws, "parallel = 3", "{ panic_part = 2 }");
    assert_eq!(c["status"], "error", "{c:#}");
    let m = message(&c);
    assert!(
        m.starts_with("part 3 of 3: trapped: the plugin panicked or aborted")
            && m.contains("hostile part 2 panics on purpose"),
        "{m}"
    );
    let c = hostile_parts(&ws, "parallel = 2", "{ panic_part = 0 }");
    let m = message(&c);
    assert!(m.starts_with("part 1 of 2: trapped"), "{m}");
}

#[test]
fn a_part_that_never_returns_ends_at_the_checks_deadline() {
    let ws = Workspace::new();
    let started = Instant::now();
    let c = hostile_parts(&ws, "parallel = 2\ntimeout_ms = 1500", "{ loop_part = 1 }");
    assert_eq!(c["status"], "error", "{c:#}");
    assert!(
        message(&c).contains("timed out after 1500 ms (plugin `hostile` timeout_ms)"),
        "{c:#}"
    );
    let ms = c["duration_ms"].as_u64().unwrap();
    assert!((1500..2500).contains(&ms), "{ms} ms");
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn a_merge_with_no_findings_is_an_error() {
    let ws = Workspace::new();
    let c = hostile_parts(&ws, "parallel = 2", "{ empty_merge = true }");
    assert_eq!(c["status"], "error", "{c:#}");
    assert!(message(&c).contains("returned no findings"), "{c:#}");
}

#[test]
fn parallel_must_be_positive() {
    let ws = Workspace::new();
    ws.write(
        "policy.toml",
        &format!(
            "[policy]\nname = \"parts\"\n\n{}[[gate]]\nname = \"g\"\nchecks = [\"hostile.ok\"]\n",
            plugin_block("hostile", "parallel = 0")
        ),
    );
    let out = ws.gate(&["policy", "lint", "policy.toml"]);
    let err = stderr(&out) + &stdout(&out);
    assert_ne!(code(&out), 0, "{err}");
    assert!(err.contains("`parallel` must be greater than 0"), "{err}");
    assert!(
        err.contains("policy.toml:"),
        "names the file and line: {err}"
    );
}

/// Deterministic base62 text, a stand-in for a generated credential.
fn token(seed: u64) -> String {
    const B62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    (0..32)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            B62[((x >> 33) % 62) as usize] as char
        })
        .collect()
}

/// A tree with a secret in every 45th file, spread over directories: 1,040
/// files, above the 1,000 below which the scanner does not split.
fn secrets_tree(ws: &Workspace) {
    for d in 0..8u64 {
        for f in 0..130u64 {
            let body = if (d * 130 + f) % 45 == 0 {
                format!("api_secret = \"{}\"\n", token(d * 100 + f))
            } else {
                format!("fn f{f}() -> u32 {{ {d} }}\n")
            };
            ws.write(&format!("tree/d{d}/s{}/f{f}.rs", f % 3), &body);
        }
    }
}

#[test]
fn no_secrets_reports_the_same_findings_in_parts_as_whole() {
    let ws = Workspace::new();
    secrets_tree(&ws);
    let run = |parallel: u32| {
        let policy = format!(
            "[policy]\nname = \"parts\"\n\n[[plugin]]\nname = \"security\"\n[plugin.grants]\n\
             fs = [\"tree\"]\nparallel = {parallel}\n\n[[gate]]\nname = \"g\"\n\
             checks = [\"security.no-secrets\"]\n\n[[check]]\nid = \"security.no-secrets\"\n\
             params = {{ paths = [\"tree\"] }}\n"
        );
        ws.write("policy.toml", &policy);
        let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
        check(&json(&out), "g", "security.no-secrets").clone()
    };
    let whole = run(1);
    assert_eq!(whole["status"], "fail", "{whole:#}");
    assert!(
        whole["findings"].as_array().unwrap().len() >= 20,
        "{whole:#}"
    );
    assert_eq!(whole["instances"], 1);
    for parallel in [2, 3] {
        let parts = run(parallel);
        assert_eq!(parts["instances"], parallel, "{parts:#}");
        assert_eq!(parts["findings"], whole["findings"], "{parallel} parts");
        assert_eq!(parts["status"], whole["status"]);
    }
}

#[test]
fn no_secrets_scans_a_small_tree_in_one_instance() {
    let ws = Workspace::new();
    for f in 0..50 {
        ws.write(&format!("small/f{f}.rs"), "fn main() {}\n");
    }
    let policy = "[policy]\nname = \"parts\"\n\n[[plugin]]\nname = \"security\"\n[plugin.grants]\n\
                  fs = [\"small\"]\nparallel = 4\n\n[[gate]]\nname = \"g\"\n\
                  checks = [\"security.no-secrets\"]\n\n[[check]]\nid = \"security.no-secrets\"\n\
                  params = { paths = [\"small\"] }\n";
    ws.write("policy.toml", policy);
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    let c = check(&json(&out), "g", "security.no-secrets").clone();
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(c["instances"], 1, "{c:#}");
    assert_eq!(c["findings"][0]["evidence"]["files_scanned"], "50", "{c:#}");
}
