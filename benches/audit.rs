//! `cargo bench --bench audit`: the cost of the audit log on a log of
//! `GATE_BENCH_ENTRIES` entries (default 100 000), each an `evaluation`
//! entry of seven checks (about 1 KB, the size the example policy writes).
//!
//! - **append**: one `AuditLog::append`, fsyncs included (entry, checkpoint,
//!   saved state), `GATE_BENCH_RUNS` × 5 times (default 45);
//! - **rebuild**: the first append after the saved state was lost, which
//!   rehashes the whole log (as after a crash);
//! - **verify**: `gate_audit::verify` of the whole log (every leaf, every
//!   signed checkpoint), `GATE_BENCH_RUNS` times (default 9).
//!
//! The log is laid out directly with the crate's own encoding, tree and
//! signer (one checkpoint per entry, as appends write them), because
//! building it through 100 000 fsynced appends would take the bench most of
//! an hour. Medians with quartiles; the machines are noisy.

use std::time::Instant;

use gate_audit::entry::{CheckOutcome, CheckStatus, Evaluation, PolicyRef, Verdict};
use gate_audit::merkle::{Frontier, leaf_hash};
use gate_audit::note::{Checkpoint, KEY_NAME};
use gate_audit::{AuditLog, Draft, Entry, Record, Signer};

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    assert!(!v.is_empty());
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn record(n: usize) -> Record {
    let checks = [
        "infra.disk-space",
        "config.env-vars",
        "config.feature-flags",
        "security.no-secrets",
        "security.compliance",
        "config.logging-levels",
        "infra.backup",
    ];
    Record::Evaluation(Evaluation {
        policy_name: "production".into(),
        policy: PolicyRef {
            file: "policies/production.toml".into(),
            sha256: format!("{:064x}", n),
        },
        gate: None,
        verdict: Verdict::Pass,
        checks: checks
            .iter()
            .map(|id| CheckOutcome {
                gate: "preflight".into(),
                id: id.to_string(),
                status: CheckStatus::Pass,
                findings: 0,
            })
            .collect(),
        exemptions_used: Vec::new(),
        exemptions_expired: Vec::new(),
        inputs: vec![PolicyRef {
            file: "policies/production.toml".into(),
            sha256: format!("{:064x}", n),
        }],
    })
}

/// Writes a log of `count` entries with one signed checkpoint per entry.
fn lay_out(dir: &std::path::Path, signer: &Signer, count: usize) {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new().mode(0o700).create(dir).unwrap();
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    let mut frontier = Frontier::default();
    let start = chrono::Utc::now() - chrono::TimeDelta::days(1);
    for n in 0..count {
        let entry = Entry {
            seq: n as u64,
            time: start,
            actor: "ci".into(),
            run_id: Some(format!("run-{n}")),
            record: record(n),
        };
        let line = entry.encode();
        frontier.push(leaf_hash(&line));
        entries.extend_from_slice(&line);
        entries.push(b'\n');
        let checkpoint = Checkpoint {
            origin: KEY_NAME.into(),
            size: frontier.size(),
            root: frontier.root(),
        };
        notes.extend_from_slice(signer.sign(&checkpoint).as_bytes());
    }
    for (name, bytes) in [("entries.jsonl", entries), ("checkpoints", notes)] {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true).mode(0o600);
        let mut file = options.open(dir.join(name)).unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
    }
}

fn report(name: &str, samples: Vec<f64>) {
    let n = samples.len();
    let (q1, median, q3) = quartiles(samples);
    println!("{name:<28} median {median:>10.2} ms   q1 {q1:>10.2}   q3 {q3:>10.2}   ({n} runs)");
}

fn main() {
    let count = env_or("GATE_BENCH_ENTRIES", 100_000);
    let runs = env_or("GATE_BENCH_RUNS", 9);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let signer = Signer::from_seed(&[3u8; 32]);
    let laid = Instant::now();
    lay_out(&dir, &signer, count);
    let size = std::fs::metadata(dir.join("entries.jsonl")).unwrap().len()
        + std::fs::metadata(dir.join("checkpoints")).unwrap().len();
    println!(
        "audit log: {count} entries, {:.1} MB, laid out in {:.1} s",
        size as f64 / 1e6,
        laid.elapsed().as_secs_f64()
    );
    let log = AuditLog::open(&dir, false).unwrap().unwrap();

    let started = Instant::now();
    log.append(&signer, Draft::new(record(count))).unwrap();
    report("rebuild + append", vec![ms(started)]);

    let appends = (0..runs * 5)
        .map(|i| {
            let started = Instant::now();
            log.append(&signer, Draft::new(record(count + 1 + i)))
                .unwrap();
            ms(started)
        })
        .collect();
    report("append (fsync included)", appends);

    let verifies = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let snap = log.snapshot().unwrap();
            let verified = gate_audit::verify(&snap, signer.verifier(), None).unwrap();
            assert!(verified.entries > count as u64);
            ms(started)
        })
        .collect();
    report("verify (whole log)", verifies);
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
