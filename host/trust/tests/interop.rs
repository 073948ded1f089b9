//! SSHSIG interoperability with the real `ssh-keygen` (Debian's
//! openssh-client): signatures made by `ssh-keygen -Y sign` verify here, and
//! signatures made here verify with `ssh-keygen -Y verify`, for Ed25519,
//! ECDSA and RSA keys; refusals for unknown keys, bad signatures, other
//! namespaces and principals.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::Utc;
use gate_trust::{AllowedSigners, KeyError, SigningKey, VerifyError};

/// A fresh key pair made by `ssh-keygen`; `passphrase` encrypts it.
fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", passphrase, "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen runs");
    assert!(out.status.success(), "{out:?}");
    path
}

fn public(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub")).unwrap()
}

/// `ssh-keygen -Y sign` over `message`; the armored signature.
fn keygen_sign(key: &Path, namespace: &str, message: &[u8]) -> String {
    let dir = key.parent().unwrap();
    let file = dir.join("message");
    std::fs::write(&file, message).unwrap();
    // ssh-keygen will not overwrite an earlier signature.
    let _ = std::fs::remove_file(dir.join("message.sig"));
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::fs::read_to_string(dir.join("message.sig")).unwrap()
}

/// `ssh-keygen -Y verify`: whether it accepts `signature` by `principal`.
fn keygen_verify(
    signers: &Path,
    principal: &str,
    namespace: &str,
    message: &[u8],
    signature: &str,
) -> bool {
    let sig = signers.with_file_name("to-verify.sig");
    std::fs::write(&sig, signature).unwrap();
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-I", principal, "-n", namespace, "-f"])
        .arg(signers)
        .arg("-s")
        .arg(&sig)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(message).unwrap();
    child.wait().unwrap().success()
}

#[test]
fn signatures_interoperate_with_ssh_keygen_for_every_key_type() {
    let dir = tempfile::tempdir().unwrap();
    let message = b"gate-approval-v1\nrollout=web\n";
    for (kind, principal) in [
        ("ed25519", "alice@example.com"),
        ("ecdsa", "bob@example.com"),
        ("rsa", "carol@example.com"),
    ] {
        let key = keygen(dir.path(), kind, kind, "");
        let signers = dir.path().join(format!("{kind}.signers"));
        std::fs::write(
            &signers,
            format!("{principal} namespaces=\"gate-approval\" {}", public(&key)),
        )
        .unwrap();
        let allowed = AllowedSigners::load(&signers).unwrap();

        // ssh-keygen signs, gate verifies and names the principal.
        let theirs = keygen_sign(&key, "gate-approval", message);
        let v = allowed
            .verify("gate-approval", message, &theirs, None, Utc::now())
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(v.principal, principal);
        assert!(v.fingerprint.starts_with("SHA256:"), "{kind}");

        // gate signs, ssh-keygen verifies.
        let ours = SigningKey::load(&key, None)
            .unwrap()
            .sign("gate-approval", message)
            .unwrap();
        assert!(
            keygen_verify(&signers, principal, "gate-approval", message, &ours),
            "{kind}: ssh-keygen refused gate's signature:\n{ours}"
        );
        // …and refuses it over other bytes, as gate does.
        assert!(!keygen_verify(
            &signers,
            principal,
            "gate-approval",
            b"other",
            &ours
        ));
        let bad = allowed.verify("gate-approval", b"other", &ours, None, Utc::now());
        assert!(
            matches!(bad, Err(VerifyError::BadSignature { .. })),
            "{kind}: {bad:?}"
        );
    }
}

#[test]
fn unknown_keys_namespaces_principals_and_validity_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let listed = keygen(dir.path(), "listed", "ed25519", "");
    let stranger = keygen(dir.path(), "stranger", "ed25519", "");
    let signers = dir.path().join("signers");
    std::fs::write(
        &signers,
        format!(
            "alice@example.com namespaces=\"gate-approval\",valid-before=\"20200101Z\" {}alice@example.com namespaces=\"gate-approval\" {}",
            public(&stranger),
            public(&listed)
        ),
    )
    .unwrap();
    let allowed = AllowedSigners::load(&signers).unwrap();
    let msg = b"m";
    let sign = |key: &Path, ns: &str| SigningKey::load(key, None).unwrap().sign(ns, msg).unwrap();

    // Listed only on a line that expired in 2020.
    let e = allowed
        .verify(
            "gate-approval",
            msg,
            &sign(&stranger, "gate-approval"),
            None,
            Utc::now(),
        )
        .unwrap_err();
    assert!(matches!(e, VerifyError::NotAllowed { .. }), "{e}");
    assert!(e.to_string().contains("expired"), "{e}");

    let e = allowed
        .verify(
            "gate-exemption",
            msg,
            &sign(&listed, "gate-approval"),
            None,
            Utc::now(),
        )
        .unwrap_err();
    assert!(matches!(e, VerifyError::Namespace { .. }), "{e}");

    // Signed in a namespace the line does not allow.
    let e = allowed
        .verify("file", msg, &sign(&listed, "file"), None, Utc::now())
        .unwrap_err();
    assert!(matches!(e, VerifyError::NotAllowed { .. }), "{e}");

    let sig = sign(&listed, "gate-approval");
    let e = allowed
        .verify(
            "gate-approval",
            msg,
            &sig,
            Some("mallory@example.com"),
            Utc::now(),
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("not for `mallory@example.com`"),
        "{e}"
    );
    let ok = allowed
        .verify(
            "gate-approval",
            msg,
            &sig,
            Some("alice@example.com"),
            Utc::now(),
        )
        .unwrap();
    assert_eq!(ok.line, 2);

    let other = keygen(dir.path(), "other", "ecdsa", "");
    let e = allowed
        .verify(
            "gate-approval",
            msg,
            &sign(&other, "gate-approval"),
            None,
            Utc::now(),
        )
        .unwrap_err();
    assert!(matches!(e, VerifyError::UnknownKey { .. }), "{e}");

    let e = allowed
        .verify("gate-approval", msg, "not a signature", None, Utc::now())
        .unwrap_err();
    assert!(matches!(e, VerifyError::Malformed(_)), "{e}");
}

#[test]
fn encrypted_keys_need_their_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "locked", "ed25519", "correct horse");
    assert!(matches!(
        SigningKey::load(&key, None),
        Err(KeyError::Encrypted { .. })
    ));
    assert!(matches!(
        SigningKey::load(&key, Some("wrong")),
        Err(KeyError::Passphrase { .. })
    ));
    let signed = SigningKey::load(&key, Some("correct horse"))
        .unwrap()
        .sign("gate-approval", b"m");
    assert!(signed.is_ok());
    let missing = SigningKey::load(&dir.path().join("absent"), None);
    assert!(matches!(missing, Err(KeyError::Read { .. })));
}

#[test]
/// OpenSSH shortens ECDSA scalars with leading zero bytes (half of all
/// P-521 keys, one P-256 key in 256): every such key must still load.
fn ecdsa_keys_of_every_curve_load() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..24 {
        let bits = ["256", "384", "521"][i % 3];
        let key = dir.path().join(format!("k{i}"));
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ecdsa", "-b", bits, "-N", "", "-f"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success());
        let signed = SigningKey::load(&key, None)
            .and_then(|k| k.sign("gate-approval", b"m"))
            .unwrap_or_else(|e| panic!("P-{bits}: {e}"));
        let signers = format!("ops {}", public(&key));
        let allowed = AllowedSigners::parse(Path::new("signers"), &signers).unwrap();
        allowed
            .verify("gate-approval", b"m", &signed, None, Utc::now())
            .unwrap_or_else(|e| panic!("P-{bits}: {e}"));
    }
}
