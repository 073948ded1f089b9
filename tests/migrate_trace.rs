//! `gate migrate trace` against a real PostgreSQL 15 (started by the test,
//! tests/services): locks per statement, rewrites, NOT VALID constraints,
//! statements not traced, scratch refusal, rollback vs --commit, and
//! --verify-down.

mod common;
#[path = "services/mod.rs"]
mod services;

use common::*;
use services::Postgres;

const URL_ENV: &str = "GATE_TRACE_URL";

fn policy(scratch: bool) -> String {
    format!(
        "[policy]\nname = \"trace\"\n\n[connections.scratch]\nkind = \"postgres\"\nurl_env = \"{URL_ENV}\"\nscratch = {scratch}\n"
    )
}

fn setup() -> (Postgres, Workspace) {
    let pg = Postgres::start();
    pg.psql(
        "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
         CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, amount integer);
         INSERT INTO users SELECT g, 'u' || g || '@example.com', 'user ' || g FROM generate_series(1, 200) g;
         INSERT INTO orders SELECT g, 1 + g % 200, g FROM generate_series(1, 500) g;",
    );
    let ws = Workspace::new();
    ws.write("policy.toml", &policy(true));
    (pg, ws)
}

fn trace(ws: &Workspace, pg: &Postgres, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec![
        "migrate",
        "trace",
        "--policy",
        "policy.toml",
        "--connection",
        "scratch",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = ws.gate_env(&args, &[(URL_ENV, &pg.url)]);
    let c = code(&out);
    let err = stderr(&out);
    if c == 2 {
        return (c, serde_json::Value::Null, err);
    }
    (c, json(&out), err)
}

fn findings(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["gates"][0]["checks"][0]["findings"]
        .as_array()
        .expect("findings")
        .clone()
}

/// The finding for the statement at `file:line`.
fn at<'a>(fs: &'a [serde_json::Value], file: &str, line: u64) -> &'a serde_json::Value {
    fs.iter()
        .find(|f| f["file"] == file && f["line"] == line)
        .unwrap_or_else(|| panic!("no finding at {file}:{line} in {fs:#?}"))
}

#[test]
fn locks_rewrites_not_valid_and_not_traced_statements() {
    let (pg, ws) = setup();
    ws.write(
        "m/20240101000000_index.sql",
        "CREATE INDEX users_email_idx ON users (email);\n",
    );
    ws.write(
        "m/20240102000000_column.sql",
        "SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN nickname text;\n",
    );
    ws.write(
        "m/20240103000000_type.sql",
        "ALTER TABLE orders ALTER COLUMN amount TYPE bigint;\n",
    );
    ws.write(
        "m/20240104000000_fk.sql",
        "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n",
    );
    ws.write(
        "m/20240105000000_concurrently.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n",
    );
    let (c, report, err) = trace(&ws, &pg, &["m"]);
    assert_ne!(c, 2, "{err}");
    let fs = findings(&report);

    // CREATE INDEX: ShareLock, which blocks writes but not reads.
    let index = at(&fs, "m/20240101000000_index.sql", 1);
    let locks = index["evidence"]["locks"].as_str().unwrap();
    assert!(locks.contains("ShareLock on public.users"), "{index:#}");
    assert_eq!(index["evidence"]["blocks"], "writes");
    assert_eq!(index["evidence"]["rewrite"], "none");
    assert_eq!(index["status"], "warn");
    // No lock_timeout of its own: flagged (gate's 5s applied only to the trace).
    assert_eq!(index["rule"], "missing-lock-timeout");
    assert_eq!(
        index["evidence"]["lock_timeout"], "5s (set by gate only)",
        "{index:#}"
    );

    // ADD COLUMN: AccessExclusiveLock blocks reads and writes; no rewrite;
    // the migration set its own lock_timeout.
    let column = at(&fs, "m/20240102000000_column.sql", 2);
    assert!(
        column["evidence"]["locks"]
            .as_str()
            .unwrap()
            .contains("AccessExclusiveLock on public.users"),
        "{column:#}"
    );
    assert_eq!(column["evidence"]["blocks"], "reads, writes");
    assert_eq!(column["evidence"]["rewrite"], "none");
    assert_eq!(column["rule"], "blocking-lock");
    assert_eq!(
        column["evidence"]["lock_timeout"],
        "1s (set by the migration)"
    );

    // ALTER COLUMN TYPE int → bigint rewrites the table.
    let ty = at(&fs, "m/20240103000000_type.sql", 1);
    assert_eq!(ty["evidence"]["rewrite"], "public.orders", "{ty:#}");
    assert_eq!(ty["rule"], "table-rewrite");

    // NOT VALID foreign key: reported, and still not valid at the end.
    let fk = at(&fs, "m/20240104000000_fk.sql", 1);
    assert_eq!(fk["evidence"]["not_valid"], "public.orders.orders_user_fk");
    assert!(
        fs.iter()
            .any(|f| f["rule"] == "not-valid-at-end"
                && f["subject"] == "public.orders.orders_user_fk"),
        "{fs:#?}"
    );

    // CONCURRENTLY: not traced, not applied.
    let conc = at(&fs, "m/20240105000000_concurrently.sql", 2);
    assert_eq!(conc["rule"], "not-traced");
    assert!(
        conc["message"].as_str().unwrap().contains("CONCURRENTLY"),
        "{conc:#}"
    );

    // Rolled back: nothing changed.
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_indexes WHERE indexname IN ('users_email_idx', 'users_name_idx')"),
        "0"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'nickname'"),
        "0"
    );
    assert_eq!(
        pg.psql("SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'amount'"),
        "integer"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_constraint WHERE conname = 'orders_user_fk'"),
        "0"
    );
}

#[test]
fn commit_applies_and_a_failing_statement_is_reported() {
    let (pg, ws) = setup();
    ws.write(
        "m/20240101000000_column.sql",
        "ALTER TABLE users ADD COLUMN nickname text;\n",
    );
    ws.write(
        "m/20240101500000_idx.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n",
    );
    let (c, report, err) = trace(&ws, &pg, &["--commit", "m"]);
    assert_eq!(c, 0, "{err} {report:#}");
    assert!(
        report["gates"][0]["checks"][0]["title"]
            .as_str()
            .unwrap()
            .contains("committed")
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'nickname'"),
        "1"
    );
    // The CONCURRENTLY statement cannot be traced; --commit applies it after the commit.
    let fs = findings(&report);
    assert_eq!(at(&fs, "m/20240101500000_idx.sql", 2)["rule"], "not-traced");
    assert!(
        fs.iter()
            .any(|f| f["rule"] == "applied-after-commit" && f["file"] == "m/20240101500000_idx.sql"),
        "{fs:#?}"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_indexes WHERE indexname = 'users_name_idx'"),
        "1"
    );

    // A statement that fails (the column now exists) fails the trace: exit 1,
    // and later migrations are listed as not traced.
    ws.write("m/20240102000000_again.sql", "CREATE TABLE t (id int);\n");
    let (c, report, _) = trace(&ws, &pg, &["m"]);
    assert_eq!(c, 1, "{report:#}");
    let fs = findings(&report);
    let failed = at(&fs, "m/20240101000000_column.sql", 1);
    assert_eq!(failed["rule"], "statement-failed");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{failed:#}"
    );
    assert_eq!(
        at(&fs, "m/20240102000000_again.sql", 1)["rule"],
        "not-traced"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 't'"),
        "0"
    );
}

#[test]
fn lock_timeout_flag_bounds_waiting_for_a_lock() {
    let (pg, ws) = setup();
    ws.write(
        "m/20240101000000_column.sql",
        "ALTER TABLE users ADD COLUMN nickname text;\n",
    );
    // Another session holds a lock on users for the duration.
    let mut holder = std::process::Command::new("/usr/lib/postgresql/15/bin/psql")
        .args([
            &pg.url,
            "-c",
            "BEGIN; LOCK TABLE users IN ACCESS SHARE MODE; SELECT pg_sleep(5);",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("psql");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let started = std::time::Instant::now();
    let (c, report, err) = trace(&ws, &pg, &["--lock-timeout", "300ms", "m"]);
    let elapsed = started.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(c, 1, "{err}");
    let fs = findings(&report);
    let f = at(&fs, "m/20240101000000_column.sql", 1);
    assert_eq!(f["rule"], "statement-failed");
    assert!(
        f["message"].as_str().unwrap().contains("lock timeout"),
        "{f:#}"
    );
    assert!(elapsed < std::time::Duration::from_secs(4), "{elapsed:?}");
}

#[test]
fn refuses_connections_not_marked_scratch() {
    let pg = Postgres::start();
    let ws = Workspace::new();
    ws.write("policy.toml", &policy(false));
    ws.write("m/1_a.sql", "CREATE TABLE a (id int);\n");
    let (c, _, err) = trace(&ws, &pg, &["m"]);
    assert_eq!(c, 2);
    assert!(err.contains("not marked `scratch = true`"), "{err}");
    assert!(err.contains("policy.toml:4:1"), "{err}");
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'a'"),
        "0"
    );

    // No such connection, and no policy at all.
    let out = ws.gate_env(
        &["migrate", "trace", "-p", "policy.toml", "-c", "nope", "m"],
        &[(URL_ENV, &pg.url)],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no connection named `nope`"));
    let out = ws.gate(&["migrate", "trace", "-c", "scratch", "m"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("needs --policy"));
}

#[test]
fn verify_down_catches_a_down_migration_that_does_not_restore_the_schema() {
    let (pg, ws) = setup();
    ws.write(
        "m/1_good.up.sql",
        "ALTER TABLE users ADD COLUMN a integer DEFAULT 0;\nCREATE INDEX users_a_idx ON users (a);\n",
    );
    ws.write("m/1_good.down.sql", "ALTER TABLE users DROP COLUMN a;\n");
    ws.write(
        "m/2_bad.up.sql",
        "CREATE TABLE audit (id bigint PRIMARY KEY);\nALTER TABLE users ADD COLUMN bb integer;\n",
    );
    ws.write("m/2_bad.down.sql", "DROP TABLE audit;\n");
    let (c, report, err) = trace(&ws, &pg, &["--verify-down", "m"]);
    assert_eq!(c, 1, "{err} {report:#}");
    let fs = findings(&report);
    let good: Vec<_> = fs
        .iter()
        .filter(|f| f["file"] == "m/1_good.down.sql")
        .collect();
    assert_eq!(good.len(), 1, "{good:#?}");
    assert_eq!(good[0]["rule"], "down-verified");
    assert_eq!(good[0]["status"], "pass");
    let bad: Vec<_> = fs.iter().filter(|f| f["rule"] == "down-mismatch").collect();
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert_eq!(bad[0]["file"], "m/2_bad.down.sql");
    assert_eq!(bad[0]["status"], "fail");
    assert_eq!(
        bad[0]["evidence"]["object"],
        "column public.users.bb integer"
    );
    assert_eq!(bad[0]["evidence"]["difference"], "left behind by up + down");
    // Rolled back as usual.
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE column_name IN ('a', 'bb')"),
        "0"
    );
}

#[test]
fn human_trace_report() {
    let (pg, ws) = setup();
    ws.write(
        "m/20240101000000_index.sql",
        "CREATE INDEX users_email_idx ON users (email);\n",
    );
    let out = ws.gate_env(
        &[
            "migrate",
            "trace",
            "-p",
            "policy.toml",
            "-c",
            "scratch",
            "m",
        ],
        &[(URL_ENV, &pg.url)],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("trace: WARN"), "{text}");
    assert!(text.contains("[missing-lock-timeout]"), "{text}");
    assert!(text.contains("ShareLock on public.users"), "{text}");
}

#[test]
fn commit_runs_each_migration_in_its_own_transaction() {
    let (pg, ws) = setup();
    ws.write(
        "m/1_a.sql",
        "SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN a integer;\n",
    );
    ws.write(
        "m/2_b.sql",
        "SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN b integer;\n",
    );
    // One rolled-back transaction: the second migration's lock is already
    // held since the first, and said so.
    let (c, report, err) = trace(&ws, &pg, &["m"]);
    assert_eq!(c, 0, "{err}");
    let fs = findings(&report);
    let second = at(&fs, "m/2_b.sql", 2);
    assert_eq!(second["evidence"]["locks"], "none", "{second:#}");
    assert_eq!(
        second["evidence"]["already_held"],
        "AccessExclusiveLock on public.users"
    );
    // --commit: each migration commits on its own, so each takes its locks.
    let (c, report, err) = trace(&ws, &pg, &["--commit", "m"]);
    assert_eq!(c, 0, "{err}");
    let fs = findings(&report);
    let second = at(&fs, "m/2_b.sql", 2);
    assert!(
        second["evidence"]["locks"]
            .as_str()
            .unwrap()
            .contains("AccessExclusiveLock on public.users"),
        "{second:#}"
    );
    assert_eq!(second["evidence"]["blocks"], "reads, writes");
    assert_eq!(
        second["evidence"]["lock_timeout"],
        "1s (set by the migration)"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name IN ('a', 'b')"),
        "2"
    );
}
