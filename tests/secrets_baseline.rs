//! `gate secrets baseline` end to end: a repository with secrets adopts
//! `security.no-secrets` by accepting what it holds today; accepted secrets are
//! reported as `pass`, a new one fails, and the baseline file never holds a
//! secret in clear. The file is replaced atomically; a symlink at its name is
//! refused.

mod common;

use common::*;

/// A GitHub token with a valid CRC32 (the check verifies it): 30 characters of
/// body from `seed` and six base62 digits of checksum.
fn github_token(seed: u8) -> String {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let body: String = (0..30u32)
        .map(|i| B62[((u32::from(seed) * 31 + i * 17 + i * i) % 62) as usize] as char)
        .collect();
    // CRC-32/ISO-HDLC, bitwise.
    let mut crc = !0u32;
    for b in body.bytes() {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut n = !crc;
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = B62[(n % 62) as usize];
        n /= 62;
    }
    format!("ghp_{body}{}", String::from_utf8_lossy(&check))
}

const POLICY: &str = r#"[policy]
name = "baseline"

[[plugin]]
name = "security"
[plugin.grants]
fs = ["./:ro"]

[[gate]]
name = "secrets"
checks = ["security.no-secrets"]

[[check]]
id = "security.no-secrets"
params = { paths = ["repo"], baseline = ".gate/secrets-baseline.json" }
"#;

fn statuses(ws: &Workspace) -> Vec<(String, String)> {
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    let report = json(&out);
    let c = check(&report, "secrets", "security.no-secrets");
    c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].is_string())
        .map(|f| {
            (
                f["subject"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_baseline_accepts_todays_secrets_by_salted_hash_and_new_ones_fail() {
    let ws = Workspace::new();
    ws.write("policy.toml", POLICY);
    let (old, new) = (github_token(1), github_token(2));
    ws.write("repo/a.env", &format!("GH={old}\n"));

    let out = ws.gate(&["secrets", "baseline", "--policy", "policy.toml"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("accepted 1 secret(s)"),
        "{}",
        stdout(&out)
    );
    let file = std::fs::read_to_string(ws.path().join(".gate/secrets-baseline.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["salt"].as_str().unwrap().len(), 64);
    assert_eq!(doc["secrets"][0]["file"], "repo/a.env");
    assert_eq!(doc["secrets"][0]["rule"], "github-token");
    assert_eq!(doc["secrets"][0]["hash"].as_str().unwrap().len(), 64);
    assert!(!file.contains(&old[4..]), "the secret is in the baseline");

    assert_eq!(
        statuses(&ws),
        [("repo/a.env".to_string(), "pass".to_string())]
    );

    // A new secret fails; the accepted one still passes.
    ws.write("repo/b.env", &format!("GH={new}\n"));
    let mut got = statuses(&ws);
    got.sort();
    assert_eq!(
        got,
        [
            ("repo/a.env".to_string(), "pass".to_string()),
            ("repo/b.env".to_string(), "fail".to_string())
        ]
    );

    // Running it again accepts both and keeps the salt.
    let out = ws.gate(&["secrets", "baseline", "--policy", "policy.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let again: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join(".gate/secrets-baseline.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(again["salt"], doc["salt"]);
    assert_eq!(again["secrets"].as_array().unwrap().len(), 2);
}

#[test]
fn a_symlink_at_the_baseline_name_is_refused_and_its_target_untouched() {
    let ws = Workspace::new();
    ws.write("policy.toml", POLICY);
    ws.write("repo/a.env", &format!("GH={}\n", github_token(3)));
    let before = r#"{"version":1,"salt":"00112233445566778899aabbccddeeff"}"#;
    let outside = ws.write("outside.json", before);
    std::fs::create_dir_all(ws.path().join(".gate")).unwrap();
    std::os::unix::fs::symlink(&outside, ws.path().join(".gate/secrets-baseline.json")).unwrap();
    let out = ws.gate(&["secrets", "baseline", "--policy", "policy.toml"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("is a symbolic link"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), before);
}

#[test]
fn a_policy_without_a_baseline_param_is_a_clear_error() {
    let ws = Workspace::new();
    ws.write(
        "policy.toml",
        &POLICY.replace(r#", baseline = ".gate/secrets-baseline.json""#, ""),
    );
    ws.write("repo/a.env", "x\n");
    let out = ws.gate(&["secrets", "baseline", "--policy", "policy.toml"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("has no `baseline` param"),
        "{}",
        stderr(&out)
    );
}
