//! Signed exemptions end to end, with keys made by the real `ssh-keygen`:
//! a policy naming `exemption_signers` honours an exemption only when its
//! approver signed it; unsigned, edited and wrongly signed exemptions are
//! not honoured and the report says so, naming the exemption's place.
//! `gate exemption sign` then `verify`, keeping the file's comments.

mod common;

use std::process::Command;

use common::*;

const FAIL_KEY: &str = r#"{ subject = "key:legacy-billing", status = "fail" }"#;

/// A key pair made by `ssh-keygen` in the workspace; its public line.
fn keygen(ws: &Workspace, name: &str, kind: &str) -> String {
    let path = ws.path().join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen runs");
    assert!(out.status.success(), "{out:?}");
    std::fs::read_to_string(path.with_extension("pub")).unwrap()
}

fn policy(signers: &str) -> String {
    format!(
        "[policy]\nname = \"signed\"\nexemptions = [\"exemptions.toml\"]\n{signers}\n{}[[gate]]\nname = \"preflight\"\nchecks = [\"echo.*\"]\n\n\
         [[check]]\nid = \"echo.findings\"\nparams = {{ findings = [{FAIL_KEY}] }}\n",
        plugin_block("echo", "")
    )
}

const EXEMPTIONS: &str = "# Billing keys: the vendor rotates them.\n[[exemption]]\ncheck = \"echo.findings\"\nmatch = \"key:legacy-*\"\nreason = \"vendor rotates in January\"\napproved_by = \"secops@example.com\"   # the security lead\nexpires = 2026-12-31\n";

fn eval(ws: &Workspace) -> (i32, serde_json::Value, String) {
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        &[("GATE_TEST_NOW", "2026-12-01T12:00:00Z")],
    );
    let report = if code(&out) == 2 {
        serde_json::Value::Null
    } else {
        json(&out)
    };
    (code(&out), report, stderr(&out))
}

fn notices(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["exemption_notices"].as_array().unwrap().clone()
}

fn verify(ws: &Workspace) -> (i32, String) {
    let out = ws.gate(&[
        "exemption",
        "verify",
        "--signers",
        "signers",
        "exemptions.toml",
    ]);
    (code(&out), format!("{}{}", stdout(&out), stderr(&out)))
}

#[test]
fn only_exemptions_signed_by_their_approver_are_honoured() {
    let ws = Workspace::new();
    let secops = keygen(&ws, "secops", "ed25519");
    let dev = keygen(&ws, "dev", "rsa");
    ws.write(
        "signers",
        &format!("secops@example.com namespaces=\"gate-exemption\" {secops}dev@example.com {dev}"),
    );
    ws.write("policy.toml", &policy("exemption_signers = \"signers\""));
    ws.write("exemptions.toml", EXEMPTIONS);

    // Unsigned: not honoured, the check fails, and the notice names the exemption's place.
    let (c, report, err) = eval(&ws);
    assert_eq!(c, 1, "{err}");
    assert_eq!(
        check(&report, "preflight", "echo.findings")["status"],
        "fail"
    );
    let n = notices(&report);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0]["kind"], "unverified");
    assert!(
        n[0]["exemption"]["source"]
            .as_str()
            .unwrap()
            .ends_with("exemptions.toml:2:1"),
        "{n:?}"
    );
    assert!(
        n[0]["message"].as_str().unwrap().contains("unsigned"),
        "{n:?}"
    );
    let (c, text) = verify(&ws);
    assert_eq!(c, 1, "{text}");
    assert!(text.contains("exemptions.toml:2:1: not honoured"), "{text}");

    // Signed in place by the approver: honoured; comments and layout kept.
    let out = ws.gate(&["exemption", "sign", "--key", "secops", "exemptions.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let signed = std::fs::read_to_string(ws.path().join("exemptions.toml")).unwrap();
    assert!(signed.starts_with(EXEMPTIONS.trim_end()), "{signed}");
    assert!(signed.contains("-----BEGIN SSH SIGNATURE-----"), "{signed}");
    let (c, text) = verify(&ws);
    assert_eq!(c, 0, "{text}");
    assert!(
        text.contains("ok: `echo.findings` signed by secops@example.com (SHA256:"),
        "{text}"
    );
    let (c, report, err) = eval(&ws);
    assert_eq!(c, 0, "{err}");
    let chk = check(&report, "preflight", "echo.findings");
    assert_eq!(chk["status"], "exempt");
    assert_eq!(
        chk["exemption"]["signed_by"]["principal"],
        "secops@example.com"
    );
    assert!(notices(&report).is_empty());

    // Any edited field invalidates the signature.
    for (from, to) in [
        ("vendor rotates in January", "vendor rotates in June"),
        ("2026-12-31", "2026-12-30"),
        ("key:legacy-*", "key:*"),
        ("check = \"echo.findings\"", "check = \"echo.*\""),
    ] {
        ws.write("exemptions.toml", &signed.replace(from, to));
        let (c, report, err) = eval(&ws);
        assert_eq!(c, 1, "{from} -> {to}: {err}");
        let n = notices(&report);
        assert_eq!(n[0]["kind"], "unverified", "{from} -> {to}");
        assert!(
            n[0]["message"]
                .as_str()
                .unwrap()
                .contains("edited after it was signed"),
            "{n:?}"
        );
        assert_eq!(verify(&ws).0, 1, "{from} -> {to}");
    }

    // Signed by a listed key whose principal is not `approved_by`.
    ws.write("exemptions.toml", EXEMPTIONS);
    let out = ws.gate(&["exemption", "sign", "--key", "dev", "exemptions.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (c, report, _) = eval(&ws);
    assert_eq!(c, 1);
    let message = notices(&report)[0]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("not for `secops@example.com`"),
        "{message}"
    );
    let (c, text) = verify(&ws);
    assert_eq!(c, 1, "{text}");
}

#[test]
fn the_policy_s_own_signers_are_used_and_their_errors_are_located() {
    let ws = Workspace::new();
    let secops = keygen(&ws, "secops", "ecdsa");
    ws.write("signers", &format!("secops@example.com {secops}"));
    ws.write(
        "policy.toml",
        &format!(
            "{}{EXEMPTIONS}",
            policy("exemption_signers = \"signers\"")
                .replace("exemptions = [\"exemptions.toml\"]\n", "")
        ),
    );
    let out = ws.gate(&["exemption", "sign", "--key", "secops", "policy.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = ws.gate(&["exemption", "verify", "policy.toml"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let (c, _, err) = eval(&ws);
    assert_eq!(c, 0, "{err}");

    // A broken allowed_signers line stops the policy from loading, located in that file.
    ws.write(
        "signers",
        &format!("secops@example.com cert-authority {secops}"),
    );
    let (c, _, err) = eval(&ws);
    assert_eq!(c, 2);
    assert!(
        err.contains("signers:1:20: error: `cert-authority` lines are not supported"),
        "{err}"
    );
    assert!(err.contains("help:"), "{err}");

    // An exemption file has no signers of its own: `--signers` is required.
    ws.write("exemptions.toml", EXEMPTIONS);
    let out = ws.gate(&["exemption", "verify", "exemptions.toml"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--signers"), "{}", stderr(&out));
}
