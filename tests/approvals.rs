//! Signed rollout approvals end to end: the real `gate` binary drives a real
//! HAProxy in front of real nginx backends while approvers sign with keys
//! made by the real `ssh-keygen` (Ed25519, ECDSA, RSA). k of n distinct
//! principals, duplicates, unknown keys, bad signatures, self-approval and
//! replays on another step and another run; signatures made by `ssh-keygen
//! -Y sign` are accepted, and signatures made by `gate approve --key` verify
//! with `ssh-keygen -Y verify`.

#[path = "services/mod.rs"]
mod services;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use services::rollout::{Backend, RolloutBed};

fn gate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate"));
    cmd.env("GATE_USER", "ci").env_remove("GATE_KEY_PASSPHRASE");
    cmd
}

fn run(args: &[&str]) -> Output {
    gate().args(args).output().expect("running gate")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A key pair made by `ssh-keygen`; `passphrase` encrypts it.
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

/// `ssh-keygen -Y sign -n gate-approval` over `message`; the signature file.
fn keygen_sign(key: &Path, message: &[u8], name: &str) -> PathBuf {
    let file = key.with_file_name(name);
    std::fs::write(&file, message).unwrap();
    let _ = std::fs::remove_file(file.with_extension("sig"));
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "gate-approval", "-f"])
        .arg(key)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    file.with_extension("sig")
}

/// `ssh-keygen -Y verify` of a recorded statement; whether it accepts it.
fn keygen_verify(signers: &Path, statement: &Value) -> bool {
    let sig = signers.with_file_name("recorded.sig");
    std::fs::write(&sig, statement["signature"].as_str().unwrap()).unwrap();
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "gate-approval", "-I"])
        .arg(statement["principal"].as_str().unwrap())
        .arg("-f")
        .arg(signers)
        .arg("-s")
        .arg(&sig)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let message = statement["message"].as_str().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    child.wait().unwrap().success()
}

/// The `approval` entries of the spec's audit log (`.gate/audit` beside it).
fn audited_approvals(bed: &RolloutBed) -> Vec<Value> {
    audited(bed, "approval")
}

/// The entries of one kind in the spec's audit log.
fn audited(bed: &RolloutBed, kind: &str) -> Vec<Value> {
    let dir = bed.dir.join(".gate/audit");
    let out = run(&[
        "audit",
        "show",
        "--audit",
        dir.to_str().unwrap(),
        "--kind",
        kind,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("entries")
}

/// The armored form of an SSHSIG blob kept as hex, as `ssh-keygen -Y sign` writes it.
fn armor(hex_blob: &str) -> String {
    let blob = hex::decode(hex_blob).unwrap();
    let mut child = Command::new("base64")
        .arg("-w70")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("base64 runs");
    child.stdin.take().unwrap().write_all(&blob).unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "-----BEGIN SSH SIGNATURE-----\n{}-----END SSH SIGNATURE-----\n",
        String::from_utf8(out.stdout).unwrap()
    )
}

fn os_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn state(bed: &RolloutBed) -> Value {
    try_state(bed).expect("the rollout has a state file")
}

/// The state, or `None` while there is none (a `--restart` sets the
/// previous run's state aside before the new run writes its first).
fn try_state(bed: &RolloutBed) -> Option<Value> {
    let path = bed.dir.join("state").join("signed.state.json");
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

fn events(bed: &RolloutBed, kind: &str) -> Vec<Value> {
    let path = bed.dir.join("state").join("signed.events.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("event is JSON"))
        .filter(|e| e["event"] == kind)
        .collect()
}

/// Waits for the `n`th event of `kind`.
fn wait_events(bed: &RolloutBed, kind: &str, n: usize) {
    let until = Instant::now() + Duration::from_secs(30);
    while events(bed, kind).len() < n {
        assert!(Instant::now() < until, "no {kind} event #{n}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spec(bed: &RolloutBed) -> PathBuf {
    bed.write_spec(
        "signed",
        "canary",
        r#"[stable]
servers = ["blue1"]
version = "v1"

[candidate]
servers = ["green1"]
version = "v2"

[canary]
steps = [10, 50, 100]
pause = "until-approved"

[approvals]
allowed_signers = "keys/allowed_signers"
required = 2
"#,
    )
}

struct Approvers {
    alice: PathBuf,
    bob: PathBuf,
    carol: PathBuf,
    me: PathBuf,
    mallory: PathBuf,
    locked: PathBuf,
    signers: PathBuf,
}

fn approvers(bed: &RolloutBed) -> Approvers {
    let dir = bed.dir.join("keys");
    std::fs::create_dir_all(&dir).unwrap();
    let a = Approvers {
        alice: keygen(&dir, "alice", "ed25519", ""),
        bob: keygen(&dir, "bob", "ecdsa", ""),
        carol: keygen(&dir, "carol", "rsa", ""),
        me: keygen(&dir, "me", "ed25519", ""),
        mallory: keygen(&dir, "mallory", "ed25519", ""),
        locked: keygen(&dir, "locked", "ed25519", "s3cret"),
        signers: dir.join("allowed_signers"),
    };
    let lines = format!(
        "# release approvers\nalice@example.com namespaces=\"gate-approval\" {}bob@example.com {}carol@example.com {}{}@example.com {}dave@example.com {}",
        public(&a.alice),
        public(&a.bob),
        public(&a.carol),
        os_user(),
        public(&a.me),
        public(&a.locked),
    );
    std::fs::write(&a.signers, lines).unwrap();
    a
}

fn approve(spec: &str, extra: &[&str]) -> Output {
    let mut args = vec!["approve", "--spec", spec];
    args.extend_from_slice(extra);
    run(&args)
}

fn challenge(spec: &str) -> Vec<u8> {
    let out = approve(spec, &["--challenge"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(out.stderr.is_empty(), "{}", text(&out));
    out.stdout
}

fn wait_step(bed: &RolloutBed, step: u64) {
    let until = Instant::now() + Duration::from_secs(30);
    while state(bed)["step"] != step {
        assert!(
            Instant::now() < until,
            "step {step} not reached: {}",
            state(bed)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_rollout(spec: &str, extra: &[&str]) -> Child {
    gate()
        .args(["rollout", "--spec", spec, "--quiet"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn signed_approvals_need_k_distinct_principals_for_this_step_of_this_run() {
    let bed = RolloutBed::start(
        &[
            Backend {
                name: "blue1",
                version: "v1",
                error_percent: 0,
                healthy: true,
            },
            Backend {
                name: "green1",
                version: "v2",
                error_percent: 0,
                healthy: true,
            },
        ],
        &[100, 0],
    );
    let keys = approvers(&bed);
    let spec = spec(&bed);
    let s = spec.to_str().unwrap();
    let mut child = spawn_rollout(s, &[]);
    wait_events(&bed, "awaiting-approval", 1);
    assert_eq!(state(&bed)["step"], 1);

    // A name is not an approval here.
    let out = approve(s, &["--by", "alice"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires signed approvals"));

    // Unknown key: refused, exit 1, recorded.
    let out = approve(s, &["--key", keys.mallory.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not listed in"),
        "{}",
        text(&out)
    );
    assert_eq!(events(&bed, "approval-refused")[0]["reason"], "unknown-key");

    // A listed key's signature over other bytes: bad signature.
    let bad = keygen_sign(&keys.alice, b"gate-approval-v1\nrollout=signed\n", "bad");
    let out = approve(s, &["--signature", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        events(&bed, "approval-refused")[1]["reason"],
        "bad-signature"
    );

    // The OS user who started the rollout may not approve it.
    let out = approve(s, &["--key", keys.me.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        events(&bed, "approval-refused")[2]["reason"],
        "self-approval"
    );

    // An encrypted key without its passphrase fails clearly.
    let out = approve(s, &["--key", keys.locked.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GATE_KEY_PASSPHRASE"));

    // alice signs with her key file: one of two.
    let out = approve(s, &["--key", keys.alice.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 of 2 (alice@example.com)"),
        "{}",
        text(&out)
    );
    // …and again through ssh-keygen: still one principal, counted once.
    let step1 = challenge(s);
    let again = keygen_sign(&keys.alice, &step1, "alice-step1");
    let out = approve(s, &["--signature", again.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("counts once"),
        "{}",
        text(&out)
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        state(&bed)["step"],
        1,
        "one principal must not advance the step"
    );

    let status = run(&["status", "--spec", s]);
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        shown.contains("approvals: 1 of 2 (alice@example.com); 1 more needed"),
        "{shown}"
    );
    let st: Value =
        serde_json::from_slice(&run(&["status", "--spec", s, "--format", "json"]).stdout).unwrap();
    assert_eq!(st["approvals_tally"]["missing"], 1);

    // bob signs the printed challenge with ssh-keygen (ECDSA): two of two, the step advances.
    let by_bob = keygen_sign(&keys.bob, &step1, "bob-step1");
    let out = approve(s, &["--signature", by_bob.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    wait_step(&bed, 2);
    wait_events(&bed, "awaiting-approval", 2);

    // Replay on another step: alice's step-1 signature no longer verifies.
    let out = approve(s, &["--signature", again.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // carol approves step 2 with an RSA key file; the recorded signature
    // verifies with ssh-keygen, as does alice's Ed25519 one from step 1.
    let out = approve(s, &["--key", keys.carol.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let st = state(&bed);
    let recorded: Vec<&Value> = st["approvals"].as_array().unwrap().iter().collect();
    assert_eq!(recorded.len(), 3, "{st}");
    for r in &recorded {
        assert_eq!(r["verified"], true);
        assert!(
            keygen_verify(&keys.signers, &r["statement"]),
            "ssh-keygen refused {r}"
        );
    }
    assert_eq!(recorded[0]["by"], "alice@example.com");
    assert_eq!(recorded[1]["by"], "bob@example.com");
    assert_eq!(recorded[2]["by"], "carol@example.com");
    assert_eq!(recorded[2]["step"], 2);
    // The audit log keeps each counted approval's message and signature:
    // ssh-keygen verifies them from the log alone.
    let logged = audited_approvals(&bed);
    assert_eq!(logged.len(), 3, "{logged:#?}");
    for (entry, r) in logged.iter().zip(&recorded) {
        assert_eq!(entry["detail"]["principal"], r["by"]);
        assert_eq!(entry["run_id"], st["run_id"]);
        let statement = serde_json::json!({
            "principal": entry["detail"]["principal"],
            "message": entry["detail"]["message"],
            "signature": armor(entry["detail"]["signature"].as_str().unwrap()),
        });
        assert!(
            keygen_verify(&keys.signers, &statement),
            "ssh-keygen refused the logged {entry}"
        );
    }
    // Refusals (a duplicate principal, a replay) are on record too.
    let refused = audited(&bed, "rollout")
        .into_iter()
        .filter(|e| e["detail"]["event"]["event"] == "approval-refused")
        .count();
    assert!(refused >= 1, "no refusal in the audit log");
    let signed_events = events(&bed, "approval-signed");
    assert_eq!(signed_events.len(), 3);
    assert!(
        signed_events[0]["statement"]["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("SHA256:")
    );

    // Replay on another run: roll back, start the spec again, and offer
    // bob's step-1 signature of the first run to step 1 of the second.
    let rb = run(&["rollback", "--spec", s, "--by", "ci"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let _ = child.wait();
    let first_run = state(&bed)["run_id"].clone();
    child = spawn_rollout(s, &["--restart"]);
    let until = Instant::now() + Duration::from_secs(30);
    while try_state(&bed).is_none_or(|st| st["run_id"] == first_run || st["step"] != 1) {
        assert!(
            Instant::now() < until,
            "the second run did not reach step 1"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = approve(s, &["--signature", by_bob.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_ne!(challenge(s), step1, "a new run has a new challenge");
    let rb = run(&["rollback", "--spec", s, "--by", "ci"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let _ = child.wait();
}
