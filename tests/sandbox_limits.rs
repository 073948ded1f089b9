//! Limits that hold a plugin to what it is: its own check ids (a plugin that
//! claims another plugin's id, or one of its own twice, is refused at load
//! time with exit 2), one memory budget however it grows, and a cap on the
//! host handles (open files, directories, streams) one check may hold.

mod common;

use common::*;

/// The impostor plugin, told by `GATE_IMPOSTOR_CLAIM` what to claim.
fn impostor(ws: &Workspace, claim: &str, checks: &str, args: &[&str]) -> std::process::Output {
    ws.write(
        "policy.toml",
        &format!(
            "[policy]\nname = \"impostor\"\n\n{}[[gate]]\nname = \"g\"\nchecks = [{checks}]\n",
            plugin_block("impostor", "env = [\"GATE_IMPOSTOR_CLAIM\"]")
        ),
    );
    let mut all = args.to_vec();
    all.extend(["--policy", "policy.toml"]);
    ws.gate_env(&all, &[("GATE_IMPOSTOR_CLAIM", claim)])
}

const EVALUATE: &[&str] = &["evaluate", "--format", "json"];

#[test]
fn a_plugin_claiming_a_builtins_check_id_is_refused() {
    let ws = Workspace::new();
    // Under a wildcard gate the impostor would otherwise run as infra.disk-space.
    for checks in ["\"infra.*\", \"impostor.*\"", "\"impostor.*\""] {
        let out = impostor(&ws, "foreign", checks, EVALUATE);
        assert_eq!(code(&out), 2, "{checks}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.contains(
                "plugin `impostor` declares check `infra.disk-space`, outside its namespace"
            ) && err.contains("must start with `impostor.`"),
            "{err}"
        );
        assert!(stdout(&out).is_empty(), "no report: {}", stdout(&out));
    }
    let out = impostor(&ws, "foreign", "\"impostor.*\"", &["checks", "list"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("`infra.disk-space`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_plugin_declaring_an_id_twice_is_refused() {
    let ws = Workspace::new();
    let out = impostor(&ws, "duplicate", "\"impostor.*\"", EVALUATE);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("plugin `impostor` declares check `impostor.twice` twice"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_honest_plugin_loads_and_runs() {
    let ws = Workspace::new();
    let out = impostor(&ws, "honest", "\"impostor.*\"", EVALUATE);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    let c = check(&report, "g", "impostor.ok");
    assert_eq!(c["status"], "pass", "{c:#}");
}

/// Runs one hostile attack with `params` under `grants`.
fn hostile(ws: &Workspace, id: &str, params: &str, grants: &str) -> serde_json::Value {
    ws.write(
        "policy.toml",
        &format!(
            "[policy]\nname = \"limits\"\n\n{}[[gate]]\nname = \"g\"\nchecks = [\"{id}\"]\n\n\
             [[check]]\nid = \"{id}\"\nparams = {params}\n",
            plugin_block("hostile", grants)
        ),
    );
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    assert!(code(&out) <= 1, "{}", stderr(&out));
    check(&json(&out), "g", id).clone()
}

fn message(c: &serde_json::Value) -> &str {
    c["findings"][0]["message"].as_str().unwrap_or_default()
}

#[test]
fn a_check_cannot_hold_more_host_handles_than_the_cap() {
    let ws = Workspace::new();
    let file = ws.write("granted/f.txt", "x");
    let grants = "fs = [\"granted\"]\ntimeout_ms = 5000";
    let c = hostile(
        &ws,
        "hostile.handles",
        &format!(
            "{{ path = {:?}, count = 10000 }}",
            file.display().to_string()
        ),
        grants,
    );
    assert_eq!(c["status"], "error", "{c:#}");
    let m = message(&c);
    assert!(
        m.contains("host handle limit of 256 exceeded (plugin `hostile`)"),
        "{m}"
    );
    // Well under the cap, the same plugin opens what it needs.
    let c = hostile(
        &ws,
        "hostile.handles",
        &format!("{{ path = {:?}, count = 200 }}", file.display().to_string()),
        grants,
    );
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(message(&c).contains("held 200 handles"), "{c:#}");
}

#[test]
fn memory_grown_without_the_allocator_stops_at_memory_mb() {
    let ws = Workspace::new();
    let grants = "memory_mb = 48\ntimeout_ms = 5000";
    let c = hostile(&ws, "hostile.memory-grow", "{ mb = 2048 }", grants);
    assert_eq!(c["status"], "error", "{c:#}");
    let m = message(&c);
    assert!(
        m.contains("memory limit of 48 MiB exceeded (plugin `hostile` memory_mb)"),
        "{m}"
    );
    // The budget counts what the store already holds: 16 MiB more fits.
    let c = hostile(&ws, "hostile.memory-grow", "{ mb = 16 }", grants);
    assert_eq!(c["status"], "pass", "{c:#}");
}
