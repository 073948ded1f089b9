//! `security.no-secrets` side by side with Yelp's detect-secrets (issue 3 §5):
//! runs `scripts/compare-secrets` on the labelled corpus in
//! `tests/fixtures/secrets-corpus/` with this build's `gate`, and holds gate to
//! the acceptance criterion: for every secret type, recall at least
//! detect-secrets', and no more false positives in all. The three held-out
//! corpora (`tests/fixtures/secrets-heldout*`) are held to issue 18's goals.
//!
//! detect-secrets comes from `scripts/install-deps` (pinned in
//! `scripts/compare-secrets`). When it is missing this test fails with an
//! install hint: it never skips.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/compare-secrets");

/// The detect-secrets version the script pins (`DETECT_SECRETS_VERSION = "…"`).
fn pinned_version() -> String {
    let script = std::fs::read_to_string(SCRIPT).expect("read scripts/compare-secrets");
    script
        .lines()
        .find_map(|l| l.strip_prefix("DETECT_SECRETS_VERSION = "))
        .expect("DETECT_SECRETS_VERSION in scripts/compare-secrets")
        .trim_matches('"')
        .to_string()
}

/// Fails loudly, with the fix, when python3 or the pinned detect-secrets is missing.
fn require_detect_secrets(version: &str) {
    let hint = format!(
        "install it with scripts/install-deps (as root, as CI does) or \
         `python3 -m pip install detect-secrets=={version}`"
    );
    let out = Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('detect-secrets'))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("python3 not found ({e}): {hint}"));
    let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && found == version,
        "detect-secrets {version} is required for the no-secrets comparison, found {}: {hint}",
        if found.is_empty() {
            "none".to_string()
        } else {
            found
        }
    );
}

fn count(v: &Value, tool: &str, ty: &str) -> u64 {
    v[tool]["found"][ty].as_u64().unwrap_or(0)
}

/// Runs `scripts/compare-secrets` with this build's gate on `corpus` (the
/// script's default corpus when `None`) and returns its output and scores.
fn compare(corpus: Option<&str>) -> (std::process::Output, Value) {
    let version = pinned_version();
    require_detect_secrets(&version);

    let ws = Workspace::new();
    let scores = ws.path().join("scores.json");
    let mut cmd = Command::new("python3");
    cmd.arg(SCRIPT)
        .args(["--gate", GATE, "--no-install", "--json"])
        .arg(&scores);
    if let Some(dir) = corpus {
        cmd.args(["--corpus", dir]);
    }
    let out = cmd
        .env("GATE_CACHE_DIR", &ws.cache)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scripts/compare-secrets");
    // The table, for the test log (`cargo test -- --nocapture`).
    println!("{}", stdout(&out));
    eprintln!("{}", stderr(&out));
    assert!(
        Path::new(&scores).exists(),
        "scripts/compare-secrets did not run to the end (exit {:?}):\n{}\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    let v = serde_json::from_str(&std::fs::read_to_string(&scores).unwrap()).unwrap();
    (out, v)
}

/// Issue 18's goals: at least 90% of provider-format secrets found, at most 5%
/// of the near-miss files (one look-alike each) flagged.
fn assert_goals(v: &Value, out: &std::process::Output, min_near: u64) {
    let goals = &v["goals"]["gate"];
    let (found, planted) = (
        goals["provider_found"].as_u64().unwrap(),
        goals["provider_planted"].as_u64().unwrap(),
    );
    assert!(planted >= 100, "too few provider-format secrets: {planted}");
    assert!(
        found * 10 >= planted * 9,
        "provider-format recall {found}/{planted} is under 90%\n{}",
        stdout(out)
    );
    let (flagged, near) = (
        goals["near_miss_flagged"].as_u64().unwrap(),
        goals["near_miss_files"].as_u64().unwrap(),
    );
    assert!(near >= min_near, "too few near-miss files: {near}");
    assert!(
        flagged * 20 <= near,
        "{flagged} of {near} near-miss files flagged (goal: at most 5%): {}",
        goals["near_miss_flagged_files"]
    );
}

/// Secrets found in all, over every scored type.
fn total_found(v: &Value, tool: &str) -> u64 {
    v["scored_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| count(v, tool, t.as_str().unwrap()))
        .sum()
}

/// The held-out corpora were written from the providers' own format
/// documentation by authors who had not read the detectors (their READMEs say
/// how), each one blind to the ones before it. gate meets issue 18's goals on
/// each and finds more in all than detect-secrets, with no more false
/// positives. (Per type it may trail by a case: the figures are in
/// docs/secrets-comparison.md.)
#[test]
fn held_out_corpora_meet_the_goals_and_beat_detect_secrets_overall() {
    for (corpus, near_miss_files) in [
        ("tests/fixtures/secrets-heldout", 100),
        ("tests/fixtures/secrets-heldout-2", 90),
        ("tests/fixtures/secrets-heldout-3", 80),
    ] {
        let (out, v) = compare(Some(corpus));
        assert_goals(&v, &out, near_miss_files);
        let (gate, ds) = (total_found(&v, "gate"), total_found(&v, "detect_secrets"));
        assert!(
            gate > ds && ds > 100,
            "{corpus}: gate found {gate}, detect-secrets {ds}\n{}",
            stdout(&out)
        );
        let gate_fp = v["gate"]["false_positives"].as_u64().unwrap();
        let ds_fp = v["detect_secrets"]["false_positives"].as_u64().unwrap();
        assert!(
            gate_fp <= ds_fp,
            "{corpus}: false positives: gate {gate_fp}, detect-secrets {ds_fp}"
        );
    }
}

#[test]
fn no_secrets_recall_and_false_positives_match_or_beat_detect_secrets() {
    let (out, v) = compare(None);

    // The corpus keeps covering every kind of secret gate claims to find.
    let scored: Vec<&str> = v["scored_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for ty in [
        "aws-access-key-id",
        "aws-secret-access-key",
        "gcp-service-account-key",
        "gcp-api-key",
        "azure-storage-account-key",
        "azure-shared-access-key",
        "azure-client-secret",
        "private-key",
        "github-token",
        "gitlab-token",
        "slack-token",
        "slack-webhook",
        "stripe-live-key",
        "stripe-restricted-key",
        "jwt",
        "url-password",
        "basic-auth",
        "openai-api-key",
        "anthropic-api-key",
        "npm-token",
        "vault-token",
        "huggingface-token",
        "generic-secret",
    ] {
        assert!(scored.contains(&ty), "the corpus plants no {ty}");
    }
    assert!(v["decoys"].as_u64().unwrap() >= 100, "too few decoys");

    // detect-secrets really ran: a comparison against nothing proves nothing.
    let planted: u64 = scored
        .iter()
        .map(|t| v["planted"][t].as_u64().unwrap())
        .sum();
    let ds_found: u64 = scored.iter().map(|t| count(&v, "detect_secrets", t)).sum();
    assert!(
        ds_found * 2 >= planted,
        "detect-secrets found only {ds_found} of {planted}: is it working?"
    );

    // The acceptance criterion.
    for ty in &scored {
        let (gate, ds) = (count(&v, "gate", ty), count(&v, "detect_secrets", ty));
        assert!(
            gate >= ds,
            "{ty}: gate found {gate}, detect-secrets {ds}\n{}",
            stdout(&out)
        );
    }
    assert_goals(&v, &out, 15);

    let gate_fp = v["gate"]["false_positives"].as_u64().unwrap();
    let ds_fp = v["detect_secrets"]["false_positives"].as_u64().unwrap();
    assert!(
        gate_fp <= ds_fp,
        "false positives: gate {gate_fp}, detect-secrets {ds_fp}\n{}",
        stdout(&out)
    );
    assert_eq!(
        code(&out),
        0,
        "scripts/compare-secrets reported a failure:\n{}",
        stdout(&out)
    );
}
