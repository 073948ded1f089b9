//! The audit log through the real binary: `gate evaluate` and `gate migrate
//! lint` record their decisions; `gate audit verify` names the first bad
//! entry after every kind of tampering; a decision that cannot be recorded
//! is not reported; a crash mid-append is cut off on record; proofs round
//! trip to a third party; no planted secret reaches the log.

mod common;

use std::path::{Path, PathBuf};

use common::{Workspace, code, stderr, stdout};

const SECRET: &str = "ghp_0123456789abcdefABCDEFabcdef01234567";

fn policy(name: &str) -> String {
    format!(
        "[policy]\nname = \"{name}\"\n\n[[gate]]\nname = \"g\"\nchecks = [\"config.env-vars\"]\n\n\
         [[check]]\nid = \"config.env-vars\"\nparams = {{ required = [\"HOME\"] }}\n\n\
         [[plugin]]\nname = \"config\"\n[plugin.grants]\nenv = [\"HOME\"]\n"
    )
}

/// A workspace with the policy and its own signing key.
fn workspace() -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    ws.write("policy.toml", &policy("audited"));
    let key = ws.path().join("keys/audit.key");
    (ws, key)
}

fn gate(ws: &Workspace, key: &Path, args: &[&str]) -> std::process::Output {
    ws.gate_env(args, &[("GATE_AUDIT_KEY", key.to_str().unwrap())])
}

fn evaluate(ws: &Workspace, key: &Path, run: &str) {
    let out = gate(
        ws,
        key,
        &["evaluate", "--policy", "policy.toml", "--run-id", run],
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}

fn verify(ws: &Workspace, key: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["audit", "verify", "--audit", ".gate/audit"];
    args.extend_from_slice(extra);
    gate(ws, key, &args)
}

/// `gate audit show --audit DIR ARGS…`.
fn show(ws: &Workspace, key: &Path, dir: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["audit", "show", "--audit", dir];
    args.extend_from_slice(extra);
    gate(ws, key, &args)
}

fn entries_path(ws: &Workspace) -> PathBuf {
    ws.path().join(".gate/audit/entries.jsonl")
}

fn lines(ws: &Workspace) -> Vec<String> {
    std::fs::read_to_string(entries_path(ws))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn set_lines(ws: &Workspace, lines: &[String]) {
    std::fs::write(entries_path(ws), format!("{}\n", lines.join("\n"))).unwrap();
}

/// `gate audit verify` exits 1 and names `entries.jsonl:LINE: entry SEQ`.
fn names_bad_entry(ws: &Workspace, key: &Path, seq: u64) {
    let out = verify(ws, key, &[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{}{err}", stdout(&out));
    let expected = format!("entries.jsonl:{}: entry {seq}:", seq + 1);
    assert!(err.contains(&expected), "expected `{expected}` in:\n{err}");
}

#[test]
fn evaluations_are_recorded_and_every_tampering_names_the_first_bad_entry() {
    let (ws, key) = workspace();
    for run in ["ci-1", "ci-2", "ci-3"] {
        evaluate(&ws, &key, run);
    }
    let out = verify(&ws, &key, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("verified: 3 entries, 3 checkpoints"));
    let original = lines(&ws);
    assert!(
        original[1].contains("\"kind\":\"evaluation\""),
        "{}",
        original[1]
    );
    assert!(
        original[1].contains("\"run_id\":\"ci-2\""),
        "{}",
        original[1]
    );
    assert!(original[1].contains("\"id\":\"config.env-vars\",\"status\":\"pass\""));

    let mut edited = original.clone();
    edited[1] = edited[1].replace("\"verdict\":\"pass\"", "\"verdict\":\"fail\"");
    set_lines(&ws, &edited);
    names_bad_entry(&ws, &key, 1);

    let mut deleted = original.clone();
    deleted.remove(1);
    set_lines(&ws, &deleted);
    names_bad_entry(&ws, &key, 1);

    let mut reordered = original.clone();
    reordered.swap(1, 2);
    set_lines(&ws, &reordered);
    names_bad_entry(&ws, &key, 1);

    set_lines(&ws, &original[..2]);
    names_bad_entry(&ws, &key, 2);

    set_lines(&ws, &original);
    assert_eq!(code(&verify(&ws, &key, &[])), 0);
}

#[test]
fn a_cut_of_both_files_is_caught_only_by_an_earlier_checkpoint() {
    let (ws, key) = workspace();
    evaluate(&ws, &key, "ci-1");
    let audit = ws.path().join(".gate/audit");
    let entries_then = std::fs::read(audit.join("entries.jsonl")).unwrap();
    let notes_then = std::fs::read(audit.join("checkpoints")).unwrap();
    evaluate(&ws, &key, "ci-2");
    let out = gate(
        &ws,
        &key,
        &["audit", "prove", "1", "--audit", ".gate/audit"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let proof: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    ws.write("seen.note", proof["checkpoint"].as_str().unwrap());

    std::fs::write(audit.join("entries.jsonl"), entries_then).unwrap();
    std::fs::write(audit.join("checkpoints"), notes_then).unwrap();
    assert_eq!(code(&verify(&ws, &key, &[])), 0, "undetectable on its own");
    let out = verify(&ws, &key, &["--checkpoint", "seen.note"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("entries.jsonl:2: entry 1: missing"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unwritable_audit_dir_fails_closed_without_a_verdict() {
    let (ws, key) = workspace();
    ws.write(
        "not-a-dir",
        "a file where the audit directory's parent should be",
    );
    let shared = ws.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    for dir in ["not-a-dir/audit", "shared"] {
        let out = gate(
            &ws,
            &key,
            &[
                "evaluate",
                "--policy",
                "policy.toml",
                "--format",
                "json",
                "--audit",
                dir,
            ],
        );
        assert_eq!(code(&out), 2, "{dir}: {}", stderr(&out));
        assert!(
            stdout(&out).is_empty(),
            "{dir}: a verdict was shown: {}",
            stdout(&out)
        );
        assert!(
            stderr(&out).contains("could not be recorded in the audit log"),
            "{dir}: {}",
            stderr(&out)
        );
    }
    // The same through the policy's [audit] dir.
    ws.write(
        "elsewhere.toml",
        &format!("{}\n[audit]\ndir = \"shared\"\n", policy("audited")),
    );
    let out = gate(&ws, &key, &["evaluate", "--policy", "elsewhere.toml"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_crash_mid_append_is_cut_off_and_recorded() {
    let (ws, key) = workspace();
    evaluate(&ws, &key, "ci-1");
    for (n, point) in ["mid-entry", "after-entry", "mid-checkpoint"]
        .into_iter()
        .enumerate()
    {
        let out = ws.gate_env(
            &["evaluate", "--policy", "policy.toml", "--format", "json"],
            &[
                ("GATE_AUDIT_KEY", key.to_str().unwrap()),
                ("GATE_FAILPOINT", point),
            ],
        );
        assert!(out.status.code().is_none(), "{point}: killed, not exited");
        assert!(
            stdout(&out).is_empty(),
            "{point}: no verdict before the record"
        );
        assert_eq!(
            code(&verify(&ws, &key, &[])),
            1,
            "{point}: the leftover shows"
        );
        evaluate(&ws, &key, &format!("after-{point}"));
        let out = verify(&ws, &key, &[]);
        assert_eq!(code(&out), 0, "{point}: {}", stderr(&out));
        let out = show(
            &ws,
            &key,
            ".gate/audit",
            &["--kind", "recovery", "-f", "json"],
        );
        let recoveries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(recoveries.as_array().unwrap().len(), n + 1, "{point}");
        let last = &recoveries[n]["detail"];
        assert!(
            last["discarded_bytes"].as_u64().unwrap() > 0,
            "{point}: {last}"
        );
        let expected_entries = u64::from(point != "mid-entry");
        assert_eq!(
            last["discarded_entries"], expected_entries,
            "{point}: {last}"
        );
    }
}

#[test]
fn a_proof_round_trips_to_a_third_party_with_the_published_key() {
    let (ws, key) = workspace();
    evaluate(&ws, &key, "ci-1");
    evaluate(&ws, &key, "ci-2");
    let out = gate(&ws, &key, &["audit", "key"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let vkey = stdout(&out).trim().to_string();
    assert!(vkey.starts_with("gate-audit+"), "{vkey}");
    let out = gate(
        &ws,
        &key,
        &["audit", "prove", "1", "--audit", ".gate/audit"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    ws.write("proof.json", &stdout(&out));

    // The third party has only the proof and the published key.
    let other = Workspace::new();
    std::fs::copy(
        ws.path().join("proof.json"),
        other.path().join("proof.json"),
    )
    .unwrap();
    let out = other.gate(&["audit", "check-proof", "proof.json", "--vkey", &vkey]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("verified: entry 1 (evaluation"),
        "{}",
        stdout(&out)
    );
    let out = verify(&ws, &key, &["--vkey", &vkey]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let forged = stdout_of_file(&ws, "proof.json").replace("ci-2", "ci-9");
    other.write("forged.json", &forged);
    let out = other.gate(&["audit", "check-proof", "forged.json", "--vkey", &vkey]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let out = other.gate(&["audit", "check-proof", "proof.json", "--vkey", "nonsense"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

fn stdout_of_file(ws: &Workspace, name: &str) -> String {
    std::fs::read_to_string(ws.path().join(name)).unwrap()
}

#[test]
fn no_planted_secret_reaches_the_log() {
    let (ws, key) = workspace();
    ws.write("secret.toml", &policy(&format!("deploy {SECRET}")));
    let out = gate(
        &ws,
        &key,
        &[
            "evaluate",
            "--policy",
            "secret.toml",
            "--run-id",
            &format!("token={SECRET}"),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(entries_path(&ws)).unwrap();
    assert!(text.contains("\"kind\":\"evaluation\""), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("ghp_…(40 chars)"), "{text}");
    let out = show(&ws, &key, ".gate/audit", &[]);
    assert!(!stdout(&out).contains(SECRET));
    assert_eq!(code(&verify(&ws, &key, &[])), 0);
}

#[test]
fn migrate_lint_records_its_decision_and_show_filters() {
    let (ws, key) = workspace();
    ws.write(
        "m/20240101000000_create.sql",
        "CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);\n",
    );
    let out = gate(&ws, &key, &["migrate", "lint", "--audit", "audit", "m"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    evaluate(&ws, &key, "ci-1");
    let out = show(&ws, &key, "audit", &["--kind", "migrate", "-f", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let detail = &shown[0]["detail"];
    assert_eq!(detail["command"], "lint");
    assert_eq!(detail["verdict"], "pass");
    assert_eq!(
        detail["migrations"][0]["path"],
        "m/20240101000000_create.sql"
    );
    // The evaluation went to the policy's default directory, not `audit`.
    assert_eq!(shown.as_array().unwrap().len(), 1);
    let out = show(&ws, &key, ".gate/audit", &["--since", "1h"]);
    assert!(stdout(&out).contains("evaluation"), "{}", stdout(&out));
    let out = show(
        &ws,
        &key,
        ".gate/audit",
        &["--since", "2999-01-01T00:00:00Z"],
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn help_snapshots() {
    let ws = Workspace::new();
    for args in [
        &["audit", "--help"][..],
        &["audit", "verify", "--help"],
        &["audit", "show", "--help"],
        &["audit", "prove", "--help"],
        &["audit", "check-proof", "--help"],
        &["audit", "key", "--help"],
    ] {
        let out = ws.gate(args);
        assert_eq!(code(&out), 0);
        insta::assert_snapshot!(
            format!("help_{}", args[..args.len() - 1].join("_")),
            stdout(&out)
        );
    }
}
