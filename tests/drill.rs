//! `gate drill` end to end, against real services: the rollback drill on a
//! real HAProxy in front of real nginx servers under load, the restore drill
//! on a real PostgreSQL 15 primary archiving its WAL, and the `infra.drills`
//! check reading the records the drills wrote.

#[path = "services/mod.rs"]
mod services;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use services::Postgres;
use services::rollout::{Load, LoadOptions, RolloutBed, SIDES, backend, now_ms};

fn gate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate"));
    cmd.env("GATE_USER", "ci").env_remove("GATE_POLICY");
    cmd
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn canary_spec(bed: &RolloutBed) -> PathBuf {
    bed.write_spec(
        "web",
        "canary",
        &format!(
            r#"{SIDES}
[canary]
steps = [10, 100]
pause = "1s"

[[notify]]
name = "status-page"
target = "markdown"
dir = "status"
events = ["drill-result"]
"#
        ),
    )
}

/// The audit log's entries of kind `drill`.
fn drill_entries(audit: &Path) -> Vec<Value> {
    let out = gate()
        .args([
            "audit", "show", "--kind", "drill", "--format", "json", "--audit",
        ])
        .arg(audit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json(&out);
    v.as_array()
        .cloned()
        .or_else(|| v["entries"].as_array().cloned())
        .unwrap_or_else(|| panic!("entries in {v:#}"))
}

#[test]
fn rollback_drill_moves_traffic_and_rolls_back_under_load_with_zero_failed_requests() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let spec = canary_spec(&bed);
    let load = Load::start(
        &bed.frontend,
        LoadOptions {
            concurrency: 4,
            rate_per_sec: Some(500.0),
            max_requests: 50_000,
            max_duration: Duration::from_secs(60),
        },
    );
    while load.count() < 200 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = now_ms();
    let drill = |extra: &[&str]| {
        gate()
            .args(["drill", "rollback", "--spec"])
            .arg(&spec)
            .args(["--percent", "10", "--hold", "2s", "--format", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let first = drill(&[]);
    let ended = now_ms();
    let second = drill(&[]);
    std::thread::sleep(Duration::from_millis(300));
    let report = load.stop();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));

    // Zero failed requests, and the candidate really served its share.
    assert_eq!(
        report.failed(),
        0,
        "{} of {} requests failed: {:?}",
        report.failed(),
        report.total(),
        report.failed_samples().iter().take(5).collect::<Vec<_>>()
    );
    let split = report.split(started, ended);
    let v2 = *split.get("v2").unwrap_or(&0);
    assert!(v2 > 20, "the candidate served {v2} requests: {split:?}");
    // All weight is back on stable: nothing reached v2 after the last drill.
    assert_eq!(bed.weights()["green1"], 0);
    let last_v2 = report.last_at("v2").unwrap();
    assert!(
        report.first_at("v1", last_v2).is_some(),
        "stable serves after the last v2 response"
    );

    let d = json(&first);
    assert_eq!(d["kind"], "rollback");
    assert_eq!(d["subject"], "web");
    assert_eq!(d["result"], "pass");
    let m = &d["measures"];
    assert_eq!(m["percent"], 10);
    assert!(m["candidate_responses"].as_u64().unwrap() > 0, "{d:#}");
    let to_stable = m["to_stable_ms"].as_u64().expect("to_stable_ms");
    let to_healthy = m["to_healthy_ms"].as_u64().expect("to_healthy_ms");
    assert!(to_stable <= to_healthy && to_healthy < 300_000, "{d:#}");
    assert_eq!(m["target_ms"], 300_000);
    assert!(d["previous"].is_null());
    let d2 = json(&second);
    assert_eq!(d2["previous"]["drills"], 1, "{d2:#}");
    assert_eq!(d2["previous"]["last_result"], "pass");
    eprintln!(
        "FIGURES rollback drill: to 100% stable {} ms / {} ms, healthy {} ms / {} ms; \
         {} requests, {} failed, {} from the candidate",
        to_stable,
        d2["measures"]["to_stable_ms"],
        to_healthy,
        d2["measures"]["to_healthy_ms"],
        report.total(),
        report.failed(),
        v2
    );

    // Each drill's result is notified once: a status page file per drill,
    // and the latest.
    let status = bed.dir.join("status");
    let mut pages: Vec<String> = std::fs::read_dir(&status)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages.contains(&"web.md".to_string()), "{pages:?}");
    let latest = std::fs::read_to_string(status.join("web.md")).unwrap();
    assert!(latest.contains("Drill passed: rollback of web"), "{latest}");
    assert!(
        latest.contains(&format!(
            "| to_healthy_ms | {} |",
            d2["measures"]["to_healthy_ms"]
        )),
        "{latest}"
    );

    // Recorded: the drill records beside the spec, `gate drill list`, the audit log.
    let records = bed.dir.join(".gate/drills/drills.jsonl");
    let lines = std::fs::read_to_string(&records).unwrap();
    assert_eq!(lines.lines().count(), 2);
    let list = gate()
        .args(["drill", "list", "--spec"])
        .arg(&spec)
        .output()
        .unwrap();
    assert_eq!(list.status.code(), Some(0), "{}", text(&list));
    let listed = String::from_utf8_lossy(&list.stdout);
    assert_eq!(listed.matches("rollback web").count(), 2, "{listed}");
    let entries = drill_entries(&bed.dir.join(".gate/audit"));
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert_eq!(entries[0]["detail"]["measures"]["to_stable_ms"], to_stable);

    // The check reads what the drills wrote.
    std::fs::write(
        bed.dir.join("drills-policy.toml"),
        r#"[policy]
name = "drills"

[[plugin]]
name = "infra"
[plugin.grants]
fs = ["./.gate/drills:ro"]

[[gate]]
name = "preflight"
checks = ["infra.drills"]

[[check]]
id = "infra.drills"
params = { records = ".gate/drills/drills.jsonl", max_age_days = 31, kinds = ["rollback"] }
"#,
    )
    .unwrap();
    let eval = gate()
        .current_dir(&bed.dir)
        .args([
            "evaluate",
            "--policy",
            "drills-policy.toml",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(eval.status.code(), Some(0), "{}", text(&eval));

    // A drill refuses to start with traffic already on the candidate.
    bed.command("set server web/green1 weight 100");
    let refused = drill(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("starts from all traffic on stable"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        bed.weights()["green1"],
        100,
        "a refused drill touches nothing"
    );
    assert_eq!(std::fs::read_to_string(&records).unwrap(), lines);
}

/// `scratch instance DIR (127.0.0.1:PORT) stopped and removed` from stderr.
fn scratch_of(o: &Output) -> (PathBuf, u16) {
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("stopped and removed"))
        .unwrap_or_else(|| panic!("no scratch line: {}", text(o)));
    let rest = line.trim().strip_prefix("scratch instance ").unwrap();
    let (dir, rest) = rest.split_once(" (127.0.0.1:").unwrap();
    let port = rest.split_once(')').unwrap().0.parse().unwrap();
    (PathBuf::from(dir), port)
}

fn server_time(pg: &Postgres) -> String {
    pg.psql(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    )
}

#[test]
fn restore_drill_recovers_to_the_noted_time_and_removes_its_scratch_instance() {
    let pg = Postgres::start_archiving();
    let archive = pg.archive_dir.clone().unwrap();
    pg.psql(
        "CREATE TABLE orders (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());\n\
         INSERT INTO orders (id) SELECT generate_series(1, 5);",
    );
    pg.base_backup("2026-12-03");
    // After the base backup: only the archived WAL brings these back.
    pg.psql("INSERT INTO orders (id) SELECT generate_series(6, 10);");
    std::thread::sleep(Duration::from_millis(200));
    let noted = server_time(&pg);
    std::thread::sleep(Duration::from_millis(200));
    pg.psql("INSERT INTO orders (id) SELECT generate_series(11, 15);");
    let segment = pg.psql("SELECT pg_walfile_name(pg_switch_wal())");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !archive.join(&segment).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{segment} never archived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let work = tempfile::tempdir().unwrap();
    let policy = |expect: &str| {
        let path = work.path().join("policy.toml");
        std::fs::write(
            &path,
            format!(
                r#"[policy]
name = "drills"

[connections.primary]
kind = "postgres"
url_env = "PRIMARY_URL"

[[notify]]
name = "status-page"
target = "markdown"
dir = "status"
events = ["drill-result"]

[drills.restore.primary]
base_backups = "{backups}"
wal_archive = "{archive}"
timeout_secs = 120
verify = [
  {{ sql = "SELECT count(*), min(id), max(id) FROM orders", expect = "{expect}" }},
  {{ sql = "SELECT count(*) FROM pg_tables WHERE tablename = 'orders'", expect = "1" }},
]
"#,
                backups = pg.backups_dir().display(),
                archive = archive.display(),
            ),
        )
        .unwrap();
        path
    };
    // A password in the URL must never come out (trust authentication ignores it).
    let url = pg.url.replace("gate@", "gate:Pw0rdS3cret9@");
    let restore = |policy: &Path, target: Option<&str>| {
        let mut cmd = gate();
        cmd.env("PRIMARY_URL", &url)
            .args([
                "drill",
                "restore",
                "--connection",
                "primary",
                "--format",
                "json",
                "--policy",
            ])
            .arg(policy);
        if let Some(t) = target {
            cmd.args(["--target-time", t]);
        }
        cmd.output().unwrap()
    };

    // To the noted time: exactly the ten rows written before it.
    let out = restore(&policy("10|1|10"), Some(&noted));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let d = json(&out);
    assert_eq!(d["kind"], "restore");
    assert_eq!(d["subject"], "primary");
    assert_eq!(d["result"], "pass", "{d:#}");
    let m = &d["measures"];
    assert!(
        m["queries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["ok"] == true),
        "{d:#}"
    );
    assert!(m["backup"].as_str().unwrap().ends_with("2026-12-03"));
    let restore_ms = m["restore_ms"].as_u64().expect("restore_ms");
    let loss_ms = m["data_loss_ms"].as_u64().expect("data_loss_ms");
    let last = m["last_transaction"].as_str().expect("last_transaction");
    // The last transaction recovered is the second insert, ~200 ms before the target.
    assert!(last < noted.as_str(), "{last} vs {noted}");
    assert!(
        (150..5_000).contains(&loss_ms),
        "data loss window {loss_ms} ms"
    );
    let (dir, port) = scratch_of(&out);
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(
        !services::port_open(port),
        "scratch instance still listening"
    );
    eprintln!(
        "FIGURES restore drill: restore {restore_ms} ms, data loss window {loss_ms} ms \
         (target {noted}, last transaction {last})"
    );

    // To the end of the archive: all fifteen rows, so expecting ten fails,
    // and the scratch instance is removed all the same.
    let out = restore(&policy("10|1|10"), None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let d = json(&out);
    assert_eq!(d["result"], "fail");
    assert_eq!(d["measures"]["queries"][0]["got"], "15|1|15", "{d:#}");
    assert_eq!(d["previous"]["drills"], 1);
    let (dir, port) = scratch_of(&out);
    assert!(!dir.exists() && !services::port_open(port));

    // The failed drill is the latest notified.
    let page = std::fs::read_to_string(work.path().join("status/primary.md")).unwrap();
    assert!(page.contains("Drill failed: restore of primary"), "{page}");
    assert!(
        page.contains("1 of 2 verification queries passed"),
        "{page}"
    );

    // Recorded, and never with the password.
    let records = work.path().join(".gate/drills/drills.jsonl");
    let stored = std::fs::read_to_string(&records).unwrap();
    assert_eq!(stored.lines().count(), 2);
    let audit = std::fs::read_to_string(work.path().join(".gate/audit/entries.jsonl")).unwrap();
    assert_eq!(drill_entries(&work.path().join(".gate/audit")).len(), 2);
    for (what, t) in [
        ("stdout", String::from_utf8_lossy(&out.stdout).to_string()),
        ("stderr", String::from_utf8_lossy(&out.stderr).to_string()),
        ("records", stored),
        ("audit", audit),
        ("status page", page),
    ] {
        assert!(!t.contains("Pw0rdS3cret9"), "password in {what}: {t}");
    }

    // A policy without [drills.restore.NAME] for the connection: exit 2, named.
    let bare = work.path().join("bare.toml");
    std::fs::write(
        &bare,
        "[policy]\nname = \"bare\"\n\n[connections.primary]\nkind = \"postgres\"\nurl_env = \"PRIMARY_URL\"\n",
    )
    .unwrap();
    let out = restore(&bare, None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[drills.restore.primary]"));
}

#[test]
fn drill_help_snapshots() {
    for args in [
        &["drill", "--help"][..],
        &["drill", "rollback", "--help"],
        &["drill", "restore", "--help"],
        &["drill", "list", "--help"],
    ] {
        let out = gate().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        insta::assert_snapshot!(
            format!("help_{}", args[..args.len() - 1].join("_")),
            String::from_utf8_lossy(&out.stdout).to_string()
        );
    }
}
