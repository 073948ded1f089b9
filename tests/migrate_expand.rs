//! `gate migrate start | validate | complete | rollback | status | set-rate`
//! on a real PostgreSQL 15 (tests/services), with two application
//! workloads running through every phase: one at the old version and one at
//! the new, each on its own connection with its own `search_path`,
//! inserting, updating and reading continuously. A third connection samples
//! lock waits from `pg_locks`. Also: kill and resume, rollback from every
//! phase, and a failed validation that blocks complete.

mod common;
#[path = "services/mod.rs"]
mod services;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use services::Postgres;

/// Rows in the migrated table.
const ROWS: i64 = 20_000;
/// The per-batch and per-step lock_timeout the tests give gate.
const LOCK_TIMEOUT_MS: u64 = 1000;

/// A client connection of its own, driven synchronously.
struct Conn {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

fn reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    }
}

impl Conn {
    fn open(url: &str) -> Conn {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (client, connection) = rt
            .block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))
            .expect("connect");
        rt.spawn(async move {
            let _ = connection.await;
        });
        Conn { rt, client }
    }

    fn exec(&self, sql: &str) -> Result<(), String> {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .map_err(|e| reason(&e))
    }

    /// Every row of the last result, each column as text ("" for NULL).
    fn rows(&self, sql: &str) -> Result<Vec<Vec<String>>, String> {
        let messages = self
            .rt
            .block_on(self.client.simple_query(sql))
            .map_err(|e| reason(&e))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("").to_string())
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    fn one(&self, sql: &str) -> String {
        let rows = self.rows(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.first()
            .and_then(|r| r.first())
            .cloned()
            .unwrap_or_else(|| panic!("{sql}: no row"))
    }
}

/// What one workload did.
#[derive(Debug, Default)]
struct Report {
    iterations: u64,
    errors: Vec<String>,
    inserted: Vec<i64>,
}

type Insert = dyn Fn(&Conn, i64) -> Result<(), String> + Send + Sync;
type Touch = dyn Fn(&Conn, i64, u64) -> Result<(), String> + Send + Sync;

/// An application at one version: from the moment its schema exists until
/// stopped, it inserts a fresh row, updates an existing one and reads it,
/// in a loop.
struct Workload {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Report>,
}

impl Workload {
    fn start(
        url: &str,
        search_path: &str,
        ids: Arc<AtomicI64>,
        insert: Arc<Insert>,
        touch: Arc<Touch>,
    ) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let url = url.to_string();
        let search_path = search_path.to_string();
        let stopped = stop.clone();
        let handle = std::thread::spawn(move || {
            let conn = Conn::open(&url);
            let mut report = Report::default();
            // The new version's schema appears when `start` has expanded.
            loop {
                let exists = conn.one(&format!(
                    "SELECT count(*) FROM pg_namespace WHERE nspname = '{search_path}'"
                ));
                if exists == "1" {
                    break;
                }
                if stopped.load(Ordering::SeqCst) {
                    report
                        .errors
                        .push(format!("schema {search_path} never appeared"));
                    return report;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            conn.exec(&format!("SET search_path TO \"{search_path}\""))
                .expect("search_path");
            let mut n = 0u64;
            while !stopped.load(Ordering::SeqCst) {
                n += 1;
                report.iterations = n;
                let id = ids.fetch_add(1, Ordering::SeqCst);
                match insert(&conn, id) {
                    Ok(()) => report.inserted.push(id),
                    Err(e) => report.errors.push(format!("insert {id}: {e}")),
                }
                let existing = 1 + (n as i64 * 7919) % ROWS;
                if let Err(e) = touch(&conn, existing, n) {
                    report.errors.push(format!("update/read {existing}: {e}"));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            report
        });
        Workload { stop, handle }
    }

    fn stop(self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("workload thread")
    }
}

/// Samples lock waits (`pg_locks.waitstart` of locks not granted) every
/// 10 ms; reports the longest wait seen, in seconds, and what waited.
struct LockSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(f64, String)>,
}

impl LockSampler {
    fn start(url: &str) -> LockSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let url = url.to_string();
        let handle = std::thread::spawn(move || {
            let conn = Conn::open(&url);
            let mut longest = (0.0f64, String::new());
            while !stopped.load(Ordering::SeqCst) {
                let rows = conn
                    .rows(
                        "SELECT extract(epoch FROM clock_timestamp() - l.waitstart)::float8::text, \
                         l.locktype || ' ' || l.mode || ': ' || left(a.query, 80) \
                         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                         WHERE NOT l.granted AND l.waitstart IS NOT NULL",
                    )
                    .expect("sample pg_locks");
                for r in rows {
                    let secs: f64 = r[0].parse().unwrap_or(0.0);
                    if secs > longest.0 {
                        longest = (secs, r[1].clone());
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            longest
        });
        LockSampler { stop, handle }
    }

    fn stop(self) -> (f64, String) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("sampler thread")
    }
}

fn setup() -> (Postgres, Workspace) {
    let pg = Postgres::start();
    pg.psql(&format!(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, amount integer NOT NULL DEFAULT 0);
         INSERT INTO users SELECT g, 'User ' || g, g % 1000 FROM generate_series(1, {ROWS}) g;"
    ));
    (pg, Workspace::new())
}

fn gate(ws: &Workspace, pg: &Postgres, args: &[&str]) -> (i32, String, String) {
    let out = ws.gate_env(args, &[("DATABASE_URL", &pg.url)]);
    (code(&out), stdout(&out), stderr(&out))
}

fn start_args(file: &str) -> Vec<String> {
    [
        "migrate",
        "start",
        file,
        "--batch-size",
        "500",
        "--lock-timeout",
        &format!("{LOCK_TIMEOUT_MS}ms"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run(ws: &Workspace, pg: &Postgres, args: &[String]) -> (i32, String, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    gate(ws, pg, &args)
}

fn status(ws: &Workspace, pg: &Postgres) -> serde_json::Value {
    let (c, out, err) = gate(ws, pg, &["migrate", "status", "--format", "json"]);
    assert_eq!(c, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn assert_clean(name: &str, report: &Report) {
    assert!(
        report.errors.is_empty(),
        "{name} workload: {} errors of {} iterations, first: {:#?}",
        report.errors.len(),
        report.iterations,
        &report.errors[..report.errors.len().min(5)]
    );
    assert!(
        report.iterations > 20,
        "{name} workload ran only {} iterations",
        report.iterations
    );
}

/// Every row the workloads inserted is in `table`.
fn assert_present_in(pg: &Postgres, table: &str, reports: &[&Report]) {
    let conn = Conn::open(&pg.url);
    for r in reports {
        if r.inserted.is_empty() {
            continue;
        }
        let ids: Vec<String> = r.inserted.iter().map(i64::to_string).collect();
        let found = conn.one(&format!(
            "SELECT count(*) FROM {table} WHERE id IN ({})",
            ids.join(", ")
        ));
        assert_eq!(found, r.inserted.len().to_string(), "rows lost");
    }
}

/// Both versions' applications and a lock sampler, running through a
/// migration: the scenario of every test under load. `start` waits until
/// the workloads are going; `expand` runs `gate migrate start`;
/// `stop` (or `complete`: the old version's applications go first, then
/// `gate migrate complete` runs under the new one's) ends them and asserts
/// that neither saw an error, no row either inserted is lost and no lock
/// wait outlasted the lock_timeout gate was given.
struct UnderLoad {
    sampler: LockSampler,
    old: Workload,
    new: Workload,
    /// The physical table the workloads' rows are looked for in at the end.
    table: &'static str,
}

impl UnderLoad {
    fn start(pg: &Postgres, (old, new): (Workload, Workload)) -> UnderLoad {
        let sampler = LockSampler::start(&pg.url);
        std::thread::sleep(Duration::from_millis(300));
        UnderLoad {
            sampler,
            old,
            new,
            table: "public.users",
        }
    }

    /// The workloads' rows are in `table` at the end (a renamed one).
    fn rows_in(self, table: &'static str) -> UnderLoad {
        UnderLoad { table, ..self }
    }

    /// `gate migrate start FILE`, which must succeed; its stdout and stderr.
    fn expand(&self, ws: &Workspace, pg: &Postgres, file: &str) -> (String, String) {
        let (c, out, err) = run(ws, pg, &start_args(file));
        assert_eq!(c, 0, "{out}\n{err}");
        assert!(!out.contains(&pg.url) && !err.contains(&pg.url));
        std::thread::sleep(Duration::from_millis(300));
        (out, err)
    }

    fn stop(self, pg: &Postgres) {
        let (old, new) = (self.old.stop(), self.new.stop());
        finish(pg, self.sampler, self.table, &old, &new);
    }

    /// The old version's applications stop; `gate migrate complete` runs
    /// while the new version's keep going.
    fn complete(self, ws: &Workspace, pg: &Postgres) {
        let old = self.old.stop();
        let (c, out, err) = gate(ws, pg, &["migrate", "complete", "--lock-timeout", "1s"]);
        assert_eq!(c, 0, "{out}\n{err}");
        assert!(out.contains("contracted"), "{out}");
        std::thread::sleep(Duration::from_millis(300));
        let new = self.new.stop();
        finish(pg, self.sampler, self.table, &old, &new);
    }
}

fn finish(pg: &Postgres, sampler: LockSampler, table: &str, old: &Report, new: &Report) {
    let (longest, what) = sampler.stop();
    assert_clean("old", old);
    assert_clean("new", new);
    assert_present_in(pg, table, &[old, new]);
    let bound = LOCK_TIMEOUT_MS as f64 / 1000.0 + 1.0;
    eprintln!("longest lock wait: {longest:.3}s ({what})");
    assert!(longest < bound, "a lock wait of {longest:.3}s: {what}");
}

/// A workload's read: exactly one row.
fn one_row(rows: Vec<Vec<String>>) -> Result<(), String> {
    if rows.len() != 1 {
        return Err(format!("read {} rows", rows.len()));
    }
    Ok(())
}

const ADD_EMAIL: &str = r#"
name = "add_email"

[[operation]]
[operation.add_column]
table = "users"
column = "email"
type = "text"
not_null = true
up = "lower(replace(name, ' ', '.')) || '@example.com'"
check = "email LIKE '%@%'"
"#;

/// An old-version workload on `public` and a new-version one on
/// `public_add_email` that updates rows the backfill may not have reached
/// yet, without naming the new column.
fn email_workloads(pg: &Postgres, ids: &Arc<AtomicI64>) -> (Workload, Workload) {
    let old = Workload::start(
        &pg.url,
        "public",
        ids.clone(),
        Arc::new(|c: &Conn, id| {
            c.exec(&format!(
                "INSERT INTO users (id, name, amount) VALUES ({id}, 'Old {id}', 1)"
            ))
        }),
        Arc::new(|c: &Conn, id, n| {
            c.exec(&format!(
                "UPDATE users SET name = 'Old touched {n}', amount = amount + 1 WHERE id = {id}"
            ))?;
            one_row(c.rows(&format!(
                "SELECT id, name, amount FROM users WHERE id = {id}"
            ))?)
        }),
    );
    let new = Workload::start(
        &pg.url,
        "public_add_email",
        ids.clone(),
        Arc::new(|c: &Conn, id| {
            c.exec(&format!(
                "INSERT INTO users (id, name, email) VALUES ({id}, 'New {id}', 'new.{id}@example.com')"
            ))
        }),
        Arc::new(|c: &Conn, id, _| {
            c.exec(&format!(
                "UPDATE users SET amount = amount + 1 WHERE id = {id}"
            ))?;
            one_row(c.rows(&format!(
                "SELECT id, name, amount, email FROM users WHERE id = {id}"
            ))?)
        }),
    );
    (old, new)
}

#[test]
fn add_column_serves_both_versions_then_contracts() {
    let (pg, ws) = setup();
    ws.write("add_email.toml", ADD_EMAIL);
    let ids = Arc::new(AtomicI64::new(1_000_000));
    // Before any gate migration, the old version is the tables' own schema.
    let load = UnderLoad::start(&pg, email_workloads(&pg, &ids));
    let (out, _) = load.expand(&ws, &pg, "add_email.toml");
    assert!(out.contains("old version: search_path = public\n"), "{out}");
    assert!(
        out.contains("new version: search_path = public_add_email"),
        "{out}"
    );
    assert!(out.contains("validated"), "{out}");

    // Both versions served: every row the same through both, every email
    // filled as `up` computes it or as the new version wrote it.
    let conn = Conn::open(&pg.url);
    let s = status(&ws, &pg);
    assert_eq!(s["phase"], "validated", "{s:#}");
    assert_eq!(
        s["phases"],
        serde_json::json!([
            "old-only",
            "expanded",
            "backfilled",
            "validated",
            "contracted"
        ])
    );
    assert_eq!(
        s["migration"]["backfill"]["users"]["finished"], true,
        "{s:#}"
    );
    let (c, human, err) = gate(&ws, &pg, &["migrate", "status"]);
    assert_eq!(c, 0, "{err}");
    assert!(
        human.starts_with(
            "phase: old-only -> expanded -> backfilled -> [validated] -> contracted\nmigration: add_email (add_email.toml, sha256 "
        ),
        "{human}"
    );
    assert!(
        human.contains("new version: search_path = public_add_email\n"),
        "{human}"
    );
    assert!(human.contains("  add_column users.email text\n"), "{human}");
    let mismatched = conn.one(
        "SELECT count(*) FROM public.users o FULL JOIN public_add_email.users n USING (id) \
         WHERE o.id IS NULL OR n.id IS NULL OR o.name <> n.name OR o.amount <> n.amount",
    );
    assert_eq!(mismatched, "0");
    let wrong = conn.one(
        "SELECT count(*) FROM public_add_email.users WHERE email IS NULL \
         OR (name NOT LIKE 'New %' AND email <> lower(replace(name, ' ', '.')) || '@example.com')",
    );
    assert_eq!(wrong, "0");

    // Old applications go; complete while the new version keeps working.
    load.complete(&ws, &pg);
    assert_eq!(
        conn.one("SELECT attnotnull::text FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'email'"),
        "true"
    );
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_constraint WHERE conname = 'users_email_check' AND convalidated"),
        "1"
    );
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'gate_%'"),
        "0"
    );
    assert_eq!(status(&ws, &pg)["phase"], "contracted");
    // start and complete were recorded in the audit log, without the URL.
    let out = ws.gate(&[
        "audit",
        "show",
        "--audit",
        ".gate/audit",
        "--kind",
        "migrate",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let commands: Vec<&str> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"]["command"].as_str().unwrap())
        .collect();
    assert_eq!(commands, ["start", "complete"], "{shown:#}");
    assert_eq!(
        shown[0]["detail"]["migrations"][0]["path"],
        "add_email.toml"
    );
    let log = std::fs::read_to_string(ws.path().join(".gate/audit/entries.jsonl")).unwrap();
    assert!(!log.contains(&pg.url), "the URL reached the audit log");
}

/// `add_note` first, so the old version of the migration under test is a
/// version schema (`public_add_note`), as for every migration after the
/// first.
const ADD_NOTE: &str = r#"
[[operation]]
add_column = { table = "users", column = "note", type = "text" }
"#;

const RENAME_RETYPE: &str = r#"
name = "cents"

[[operation]]
rename_column = { table = "users", from = "name", to = "full_name" }

[[operation]]
change_type = { table = "users", column = "amount", type = "bigint", up = "amount::bigint * 100", down = "(amount / 100)::integer", default = "0" }

[[operation]]
drop_column = { table = "users", column = "note", down = "'from ' || split_part(full_name, ' ', 1)" }
"#;

/// An old-version workload on `public_add_note` and a new-version one on
/// `public_cents` that writes the renamed column and amounts in cents.
fn cents_workloads(pg: &Postgres, ids: &Arc<AtomicI64>) -> (Workload, Workload) {
    let old = Workload::start(
        &pg.url,
        "public_add_note",
        ids.clone(),
        Arc::new(|c: &Conn, id| {
            c.exec(&format!(
                "INSERT INTO users (id, name, amount, note) VALUES ({id}, 'Old {id}', 7, 'o')"
            ))
        }),
        Arc::new(|c: &Conn, id, n| {
            c.exec(&format!(
                "UPDATE users SET name = 'Old touched {n}', amount = amount + 1 WHERE id = {id}"
            ))?;
            one_row(c.rows(&format!("SELECT name, amount FROM users WHERE id = {id}"))?)
        }),
    );
    let new = Workload::start(
        &pg.url,
        "public_cents",
        ids.clone(),
        Arc::new(|c: &Conn, id| {
            c.exec(&format!(
                "INSERT INTO users (id, full_name, amount) VALUES ({id}, 'New {id}', 500)"
            ))
        }),
        Arc::new(|c: &Conn, id, n| {
            c.exec(&format!(
                "UPDATE users SET full_name = 'New touched {n}', amount = amount + 100 WHERE id = {id}"
            ))?;
            one_row(c.rows(&format!(
                "SELECT full_name, amount FROM users WHERE id = {id}"
            ))?)
        }),
    );
    (old, new)
}

/// `add_note` run and completed: the old version of the next migration is
/// the version schema `public_add_note`.
fn after_add_note(ws: &Workspace, pg: &Postgres) {
    ws.write("add_note.toml", ADD_NOTE);
    let (c, out, err) = run(ws, pg, &start_args("add_note.toml"));
    assert_eq!(c, 0, "{out}\n{err}");
    let (c, _, err) = gate(ws, pg, &["migrate", "complete"]);
    assert_eq!(c, 0, "{err}");
}

#[test]
fn rename_change_type_and_drop_column_serve_both_versions_then_contract() {
    let (pg, ws) = setup();
    after_add_note(&ws, &pg);
    ws.write("cents.toml", RENAME_RETYPE);
    let ids = Arc::new(AtomicI64::new(1_000_000));
    let load = UnderLoad::start(&pg, cents_workloads(&pg, &ids));
    let (out, _) = load.expand(&ws, &pg, "cents.toml");
    assert!(
        out.contains("old version: search_path = public_add_note"),
        "{out}"
    );
    assert!(
        out.contains("new version: search_path = public_cents"),
        "{out}"
    );

    // One snapshot, both versions: the same rows, the name under both
    // names, the amount in units and in cents.
    let conn = Conn::open(&pg.url);
    let mismatched = conn.one(
        "SELECT count(*) FROM public_add_note.users o FULL JOIN public_cents.users n USING (id) \
         WHERE o.id IS NULL OR n.id IS NULL OR o.name <> n.full_name OR o.amount::bigint * 100 <> n.amount",
    );
    assert_eq!(mismatched, "0");
    assert_eq!(
        conn.one(
            "SELECT (SELECT count(*) FROM public_add_note.users) = (SELECT count(*) FROM public_cents.users)"
        ),
        "t"
    );
    // The dropped column: gone from the new version, given by `down` (over
    // the new version's columns) in rows the new version wrote.
    assert_eq!(
        conn.one("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public_cents' AND column_name = 'note'"),
        "0"
    );
    assert_eq!(
        conn.one("SELECT count(*) FROM public_add_note.users WHERE name LIKE 'New %' AND note IS DISTINCT FROM 'from New'"),
        "0"
    );
    assert!(
        conn.one("SELECT count(*) FROM public_add_note.users WHERE note = 'from New'") != "0",
        "the new version wrote no row"
    );
    // A new-version insert that leaves the changed column out gets its
    // `default`, and the old version sees it through `down`.
    conn.exec(
        "SET search_path TO public_cents; INSERT INTO users (id, full_name) VALUES (-1, 'Defaulted One'); RESET search_path",
    )
    .unwrap();
    assert_eq!(
        conn.one("SELECT o.amount || ' ' || n.amount FROM public_add_note.users o JOIN public_cents.users n USING (id) WHERE id = -1"),
        "0 0"
    );

    load.complete(&ws, &pg);
    // The old version's schema is gone; the table has the new names and type.
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'public_add_note'"),
        "0"
    );
    assert_eq!(
        conn.one(
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) \
             FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attnum > 0 AND NOT attisdropped"
        ),
        "id bigint, full_name text, amount bigint"
    );
    assert_eq!(
        conn.one("SELECT attnotnull::text FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'amount'"),
        "true"
    );
    // The new version's views follow the contracted table.
    assert_eq!(
        conn.one("SELECT count(*) FROM public_cents.users WHERE amount % 100 <> 0 AND full_name LIKE 'New%'"),
        "0"
    );
}

/// A `gate` child process, killed and reaped when dropped (also when a test
/// fails half-way).
struct Child(std::process::Child);

impl Child {
    fn spawn(cmd: &mut std::process::Command) -> Child {
        Child(
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn gate"),
        )
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    fn wait(&mut self) -> Option<i32> {
        self.0.wait().expect("reap gate").code()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

fn md5_of_old_data(pg: &Postgres) -> String {
    pg.psql("SELECT md5(string_agg(id || ':' || name || ':' || amount, ',' ORDER BY id)) FROM public.users")
}

/// `gate migrate start` killed in the middle of its backfill; run again,
/// it resumes after the last committed batch.
#[test]
fn killed_backfill_resumes_then_rolls_back_untouched() {
    let (pg, ws) = setup();
    ws.write("add_email.toml", ADD_EMAIL);
    let before = md5_of_old_data(&pg);
    let mut child = Child::spawn(&mut ws.command_in(
        ws.path(),
        &[
            "migrate",
            "start",
            "add_email.toml",
            "--batch-size",
            "200",
            "--rate",
            "4000",
        ],
        &[("DATABASE_URL", &pg.url)],
    ));
    let conn = Conn::open(&pg.url);
    let deadline = Instant::now() + Duration::from_secs(60);
    let done_at_kill = loop {
        assert!(Instant::now() < deadline, "the backfill never started");
        let done = conn
            .rows("SELECT (backfill -> 'users' ->> 'done')::bigint FROM gate_migrate.migrations")
            .unwrap_or_default();
        let done: i64 = done.first().and_then(|r| r[0].parse().ok()).unwrap_or(0);
        if done >= 2000 {
            child.kill();
            break done;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(done_at_kill < ROWS, "killed too late: {done_at_kill}");
    let s = status(&ws, &pg);
    assert_eq!(s["phase"], "expanded", "{s:#}");
    let recorded = s["migration"]["backfill"]["users"]["done"]
        .as_i64()
        .unwrap();
    assert!((2000..ROWS).contains(&recorded), "{s:#}");

    // A human raises the rate while nothing runs; the next run keeps it.
    let (c, out, err) = gate(&ws, &pg, &["migrate", "set-rate", "0"]);
    assert_eq!(c, 0, "{err}");
    assert!(out.contains("unlimited"), "{out}");

    let (c, out, err) = run(&ws, &pg, &start_args("add_email.toml"));
    assert_eq!(c, 0, "{out}\n{err}");
    assert!(out.contains("resumed"), "{out}");
    let s = status(&ws, &pg);
    assert_eq!(s["phase"], "validated", "{s:#}");
    // Resumed after the last batch: no row backfilled twice.
    assert_eq!(s["migration"]["backfill"]["users"]["done"], ROWS, "{s:#}");
    assert_eq!(s["migration"]["backfill"]["users"]["total"], ROWS, "{s:#}");
    assert_eq!(
        conn.one("SELECT count(*) FROM public.users WHERE email IS NULL"),
        "0"
    );

    // Rollback from validated: the new version and its column are gone, the
    // old version's data is as it was.
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert!(out.contains("rolled back"), "{out}");
    assert_eq!(md5_of_old_data(&pg), before);
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'email' AND NOT attisdropped"),
        "0"
    );
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'public_add_email'"),
        "0"
    );
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'gate_%'"),
        "0"
    );
    let s = status(&ws, &pg);
    assert_eq!(s["phase"], "rolled-back", "{s:#}");
    // Nothing in progress: complete and rollback say so.
    let (c, _, err) = gate(&ws, &pg, &["migrate", "complete"]);
    assert_eq!(c, 2);
    assert!(err.contains("no migration in progress"), "{err}");
}

/// Runs gate with the failpoint `point` armed: it must kill itself there
/// (SIGKILL, as `kill -9` or a power cut would).
fn killed_at(ws: &Workspace, pg: &Postgres, point: &str, args: &[String]) {
    use std::os::unix::process::ExitStatusExt;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ws.gate_env(
        &args,
        &[("DATABASE_URL", &pg.url), ("GATE_FAILPOINT", point)],
    );
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{point}: not killed there ({:?})\n{}\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(&format!("failpoint {point}")),
        "{}",
        stderr(&out)
    );
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// gate killed at each step of start, complete and rollback: the database
/// keeps the last committed phase, the old version's data is untouched, and
/// the same command run again carries on from there.
#[test]
fn killed_at_each_step_the_command_run_again_resumes() {
    let (pg, ws) = setup();
    ws.write("add_email.toml", ADD_EMAIL);
    let before = md5_of_old_data(&pg);
    let conn = Conn::open(&pg.url);
    let done = |s: &serde_json::Value| s["migration"]["backfill"]["users"]["done"].as_i64();

    // Killed once the expand committed: expanded, nothing backfilled; the
    // new version is already served.
    killed_at(
        &ws,
        &pg,
        "migrate-after-expand",
        &start_args("add_email.toml"),
    );
    let s = status(&ws, &pg);
    assert_eq!(s["phase"], "expanded", "{s:#}");
    assert_eq!(done(&s).unwrap_or(0), 0, "{s:#}");
    assert_eq!(
        conn.one("SELECT count(*) FROM public_add_email.users WHERE email IS NOT NULL"),
        "0"
    );

    // Killed after the third batch committed: exactly three batches done.
    killed_at(
        &ws,
        &pg,
        "migrate-after-batch:3",
        &start_args("add_email.toml"),
    );
    let s = status(&ws, &pg);
    assert_eq!(s["phase"], "expanded", "{s:#}");
    assert_eq!(done(&s), Some(1500), "{s:#}");
    assert_eq!(
        conn.one("SELECT count(*) FROM public.users WHERE email IS NOT NULL"),
        "1500"
    );

    // Run again: resumes after the last batch and validates.
    let (c, out, err) = run(&ws, &pg, &start_args("add_email.toml"));
    assert_eq!(c, 0, "{out}\n{err}");
    assert!(out.contains("resumed"), "{out}");
    let s = status(&ws, &pg);
    assert_eq!(s["phase"], "validated", "{s:#}");
    assert_eq!(done(&s), Some(ROWS), "{s:#}");

    // Rollback killed before its commit: nothing of it happened.
    killed_at(
        &ws,
        &pg,
        "migrate-before-rollback-commit",
        &args(&["migrate", "rollback"]),
    );
    assert_eq!(status(&ws, &pg)["phase"], "validated");
    assert_eq!(
        conn.one("SELECT count(*) FROM public_add_email.users WHERE email IS NULL"),
        "0"
    );
    // Run again: rolled back, the old version's data as it was.
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(status(&ws, &pg)["phase"], "rolled-back");
    assert_eq!(md5_of_old_data(&pg), before);
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'public_add_email'"),
        "0"
    );

    // Started afresh, then complete killed before its commit: still
    // validated, both versions still served.
    let (c, out, err) = run(&ws, &pg, &start_args("add_email.toml"));
    assert_eq!(c, 0, "{out}\n{err}");
    killed_at(
        &ws,
        &pg,
        "migrate-before-contract-commit",
        &args(&["migrate", "complete"]),
    );
    assert_eq!(status(&ws, &pg)["phase"], "validated");
    assert_eq!(
        conn.one("SELECT count(*) FROM public_add_email.users"),
        ROWS.to_string()
    );
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'gate_%'"),
        "1"
    );
    // Run again: contracted, the column NOT NULL, no trigger left.
    let (c, out, err) = gate(&ws, &pg, &["migrate", "complete"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(status(&ws, &pg)["phase"], "contracted");
    assert_eq!(
        conn.one("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'email'"),
        "t"
    );
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'gate_%'"),
        "0"
    );
}

/// Rollback from `expanded` (mid-backfill, with a running `start` asked to
/// stop) and from `backfilled` (a failed validation), each leaving the old
/// version's data untouched; the failed validation names rows and blocks
/// complete until they are fixed.
#[test]
fn failed_validation_blocks_complete_and_rollback_works_from_each_phase() {
    let (pg, ws) = setup();
    let before = md5_of_old_data(&pg);
    ws.write(
        "bad_email.toml",
        r#"
[[operation]]
add_column = { table = "users", column = "email", type = "text", not_null = true, up = "CASE WHEN id % 5000 = 0 THEN NULL ELSE 'u' || id || '@example.com' END", check = "email LIKE '%@%'" }
"#,
    );
    let (c, out, err) = run(&ws, &pg, &start_args("bad_email.toml"));
    assert_eq!(c, 1, "{out}\n{err}");
    assert!(
        err.contains("validation of migration `bad_email` failed"),
        "{err}"
    );
    assert!(
        err.contains("email is NULL where NOT NULL is coming"),
        "{err}"
    );
    for id in ["id=5000", "id=10000", "id=15000", "id=20000"] {
        assert!(err.contains(id), "{id} not named: {err}");
    }
    assert_eq!(status(&ws, &pg)["phase"], "backfilled");

    // Complete is blocked, naming the rows again.
    let (c, _, err) = gate(&ws, &pg, &["migrate", "complete"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("id=5000"), "{err}");
    assert_eq!(status(&ws, &pg)["phase"], "backfilled");
    let conn = Conn::open(&pg.url);
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'public_bad_email'"),
        "1"
    );

    // Rollback from backfilled.
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(md5_of_old_data(&pg), before);
    assert_eq!(status(&ws, &pg)["phase"], "rolled-back");

    // Started again (the same name after a rollback), fixed through the new
    // version, validated, completed.
    let (c, _, err) = run(&ws, &pg, &start_args("bad_email.toml"));
    assert_eq!(c, 1, "{err}");
    conn.exec("SET search_path TO public_bad_email; UPDATE users SET email = 'fixed@example.com' WHERE email IS NULL")
        .expect("fix rows");
    let (c, out, err) = gate(&ws, &pg, &["migrate", "validate"]);
    assert_eq!(c, 0, "{out}\n{err}");
    let (c, _, err) = gate(&ws, &pg, &["migrate", "complete"]);
    assert_eq!(c, 0, "{err}");
    assert_eq!(
        conn.one("SELECT count(*) FROM public.users WHERE email = 'fixed@example.com'"),
        "4"
    );

    // Rollback from expanded, while a slow backfill runs in another gate:
    // it is asked to stop, and the rollback goes ahead.
    ws.write(ADD_NOTE_SLOW.0, ADD_NOTE_SLOW.1);
    let mut child = Child::spawn(&mut ws.command_in(
        ws.path(),
        &[
            "migrate",
            "start",
            ADD_NOTE_SLOW.0,
            "--batch-size",
            "100",
            "--rate",
            "500",
        ],
        &[("DATABASE_URL", &pg.url)],
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while conn
        .rows("SELECT 1 FROM gate_migrate.migrations WHERE name = 'slow_note' AND (backfill -> 'users' ->> 'done')::bigint > 0")
        .map(|r| r.is_empty())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "the backfill never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The running backfill keeps to a rate changed while it runs: 2000 more
    // rows take 4 s at 500 rows/s, 0.4 s at 5000.
    let done = || -> i64 {
        conn.one("SELECT backfill -> 'users' ->> 'done' FROM gate_migrate.migrations WHERE name = 'slow_note'")
            .parse()
            .unwrap()
    };
    let (c, out, err) = gate(&ws, &pg, &["migrate", "set-rate", "5000"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert!(out.contains("5000 rows/s"), "{out}");
    let from = done();
    let raised = Instant::now();
    while done() < from + 2000 {
        assert!(
            raised.elapsed() < Duration::from_millis(2500),
            "the backfill did not speed up: {} rows in {:?}",
            done() - from,
            raised.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(done() < ROWS, "the backfill finished before the rollback");
    let before = md5_of_old_data(&pg);
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(child.wait(), Some(2), "the stopped start exits 2");
    assert_eq!(md5_of_old_data(&pg), before);
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'note2' AND NOT attisdropped"),
        "0"
    );
    assert_eq!(status(&ws, &pg)["phase"], "rolled-back");
}

const ADD_NOTE_SLOW: (&str, &str) = (
    "slow_note.toml",
    r#"
[[operation]]
add_column = { table = "users", column = "note2", type = "text", default = "'n'" }
"#,
);

#[test]
fn a_bad_operations_file_is_named_at_its_line_and_column() {
    let (pg, ws) = setup();
    ws.write(
        "bad.toml",
        "[[operation]]\nrename_column = { table = \"users\", from = \"name\", too = \"x\" }\n",
    );
    let (c, _, err) = gate(&ws, &pg, &["migrate", "start", "bad.toml"]);
    assert_eq!(c, 2);
    assert!(err.contains("bad.toml:2:51: unknown field `too`"), "{err}");
    ws.write(
        "missing.toml",
        "\n[[operation]]\nrename_column = { table = \"users\", from = \"nope\", to = \"x\" }\n",
    );
    let (c, _, err) = gate(&ws, &pg, &["migrate", "start", "missing.toml"]);
    assert_eq!(c, 2);
    assert!(
        err.contains("missing.toml:2:1: rename_column: no column users.nope"),
        "{err}"
    );
    // A check that reads a column whose type changes would be dropped with
    // the old column at complete: refused at its place, nothing changed.
    ws.write(
        "lost_check.toml",
        "[[operation]]\nchange_type = { table = \"users\", column = \"amount\", type = \"bigint\", up = \"amount\", down = \"amount::integer\", default = \"0\" }\n\
         \n[[operation]]\nadd_constraint = { table = \"users\", name = \"users_amount_positive\", kind = \"check\", check = \"name <> '' AND amount >= 0\" }\n",
    );
    let (c, _, err) = gate(&ws, &pg, &["migrate", "start", "lost_check.toml"]);
    assert_eq!(c, 2, "{err}");
    assert!(
        err.contains("lost_check.toml:4:1: add_constraint: the check reads users.amount, which is replaced by change_type (line 1)"),
        "{err}"
    );
    // A column with a default changes type only with the new type's
    // `default`: a new-version insert that leaves it out would otherwise
    // store NULL.
    ws.write(
        "no_default.toml",
        "[[operation]]\nchange_type = { table = \"users\", column = \"amount\", type = \"bigint\", up = \"amount\", down = \"amount::integer\" }\n",
    );
    let (c, _, err) = gate(&ws, &pg, &["migrate", "start", "no_default.toml"]);
    assert_eq!(c, 2, "{err}");
    assert!(
        err.contains(
            "no_default.toml:1:1: change_type: users.amount has a default (0): give `default`"
        ),
        "{err}"
    );
    // (A check on a column that stays, beside a change_type of the same
    // table, runs: tests/migrate_plan_operations.rs.)
    // Nothing changed, and the URL is never printed.
    assert_eq!(status(&ws, &pg)["phase"], "old-only");
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_class WHERE relname = 'gate_check_probe'"),
        "0"
    );
    let out = ws.gate_env(
        &["migrate", "status"],
        &[("DATABASE_URL", "postgres://gate:s3cret@127.0.0.1:1/gate")],
    );
    assert_eq!(code(&out), 2);
    assert!(!stderr(&out).contains("s3cret"), "{}", stderr(&out));
    let out = ws.gate_env(&["migrate", "status"], &[]);
    assert!(stderr(&out).contains("DATABASE_URL"), "{}", stderr(&out));
}

const CITY_REQUIRED: &str = r#"
name = "city_required"

[[operation]]
set_not_null = { table = "users", column = "city", up = "'unknown'" }
"#;

/// An old-version workload on `public` that leaves `city` NULL, and a
/// new-version one on `public_city_required` that always gives it.
fn city_workloads(pg: &Postgres, ids: &Arc<AtomicI64>) -> (Workload, Workload) {
    let old = Workload::start(
        &pg.url,
        "public",
        ids.clone(),
        Arc::new(|c: &Conn, id| {
            c.exec(&format!(
                "INSERT INTO users (id, name, amount) VALUES ({id}, 'Old {id}', 1)"
            ))
        }),
        Arc::new(|c: &Conn, id, n| {
            c.exec(&format!(
                "UPDATE users SET name = 'Old touched {n}', city = NULL WHERE id = {id}"
            ))?;
            one_row(c.rows(&format!("SELECT name, city FROM users WHERE id = {id}"))?)
        }),
    );
    let new = Workload::start(
        &pg.url,
        "public_city_required",
        ids.clone(),
        Arc::new(|c: &Conn, id| {
            c.exec(&format!(
                "INSERT INTO users (id, name, amount, city) VALUES ({id}, 'New {id}', 2, 'New city')"
            ))
        }),
        Arc::new(|c: &Conn, id, n| {
            c.exec(&format!(
                "UPDATE users SET name = 'New touched {n}', city = 'Touched' WHERE id = {id}"
            ))?;
            let rows = c.rows(&format!("SELECT name, city FROM users WHERE id = {id}"))?;
            if rows.len() != 1 || rows[0][1].is_empty() {
                return Err(format!("read {rows:?}"));
            }
            Ok(())
        }),
    );
    (old, new)
}

#[test]
fn set_not_null_fills_nulls_under_both_versions_rolls_back_then_contracts() {
    let (pg, ws) = setup();
    pg.psql("ALTER TABLE users ADD COLUMN city text; UPDATE users SET city = 'C' || id WHERE id % 2 = 0;");
    ws.write("city_required.toml", CITY_REQUIRED);
    let conn = Conn::open(&pg.url);
    let constraint = "SELECT count(*) FROM pg_constraint WHERE conname = 'gate_city_required_0_not_null' AND convalidated";
    let not_null = "SELECT attnotnull::text FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'city'";

    // First run: expanded, backfilled, validated under both workloads,
    // then rolled back.
    let ids = Arc::new(AtomicI64::new(1_000_000));
    let load = UnderLoad::start(&pg, city_workloads(&pg, &ids));
    load.expand(&ws, &pg, "city_required.toml");
    // NULLs got `up` (existing rows by the backfill, old-version writes by
    // the trigger); values written are kept; both versions see the same rows.
    assert_eq!(
        conn.one("SELECT count(*) FROM public.users WHERE city IS NULL"),
        "0"
    );
    assert_eq!(
        conn.one("SELECT count(*) FROM public.users WHERE name = 'User ' || id AND id % 2 = 0 AND city <> 'C' || id"),
        "0"
    );
    assert_eq!(
        conn.one("SELECT count(*) FROM public.users WHERE name = 'User ' || id AND id % 2 = 1 AND city <> 'unknown'"),
        "0"
    );
    assert!(conn.one("SELECT count(*) FROM public.users WHERE city = 'unknown'") != "0");
    assert_eq!(
        conn.one(
            "SELECT count(*) FROM public.users o FULL JOIN public_city_required.users n USING (id) \
             WHERE o.id IS NULL OR n.id IS NULL OR o.city IS DISTINCT FROM n.city"
        ),
        "0"
    );
    assert_eq!(conn.one(constraint), "1");
    assert_eq!(conn.one(not_null), "false");
    load.stop(&pg);

    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(conn.one(constraint), "0");
    assert_eq!(conn.one(not_null), "false");
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'public_city_required'"),
        "0"
    );
    conn.exec("INSERT INTO public.users (id, name, amount) VALUES (-1, 'null city', 0)")
        .expect("NULL is allowed again after the rollback");

    // Second run, completed: the column is NOT NULL, the check is gone.
    let load = UnderLoad::start(&pg, city_workloads(&pg, &ids));
    load.expand(&ws, &pg, "city_required.toml");
    load.complete(&ws, &pg);
    assert_eq!(conn.one(not_null), "true");
    assert_eq!(
        conn.one(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'gate_city_required_0_not_null'"
        ),
        "0"
    );
    assert_eq!(
        conn.one("SELECT city FROM public.users WHERE id = -1"),
        "unknown"
    );
    let e = conn
        .exec("INSERT INTO public_city_required.users (id, name, amount) VALUES (-2, 'x', 0)")
        .unwrap_err();
    assert!(e.starts_with("23502"), "{e}");
}

const CREATE_ORDERS: &str = r#"
name = "orders"

[[operation]]
[operation.create_table]
table = "orders"
primary_key = ["id"]
columns = [
  { name = "id", type = "bigint" },
  { name = "user_id", type = "bigint", not_null = true },
  { name = "note", type = "text", not_null = true, default = "'none'" },
]
"#;

/// An old-version workload on `public_add_note` (users only) and a
/// new-version one on `public_orders` that also writes and reads orders.
fn orders_workloads(pg: &Postgres, ids: &Arc<AtomicI64>) -> (Workload, Workload) {
    let old = Workload::start(
        &pg.url,
        "public_add_note",
        ids.clone(),
        Arc::new(|c: &Conn, id| {
            c.exec(&format!(
                "INSERT INTO users (id, name, amount, note) VALUES ({id}, 'Old {id}', 1, 'o')"
            ))
        }),
        Arc::new(|c: &Conn, id, n| {
            c.exec(&format!(
                "UPDATE users SET name = 'Old touched {n}' WHERE id = {id}"
            ))?;
            one_row(c.rows(&format!("SELECT name, note FROM users WHERE id = {id}"))?)
        }),
    );
    let new = Workload::start(
        &pg.url,
        "public_orders",
        ids.clone(),
        Arc::new(|c: &Conn, id| {
            c.exec(&format!(
                "INSERT INTO users (id, name, amount, note) VALUES ({id}, 'New {id}', 2, 'n'); \
                 INSERT INTO orders (id, user_id) VALUES ({id}, {id})"
            ))
        }),
        Arc::new(|c: &Conn, id, n| {
            c.exec(&format!(
                "UPDATE users SET name = 'New touched {n}' WHERE id = {id}"
            ))?;
            let rows = c.rows(&format!(
                "SELECT u.name, o.note FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.id = {id}"
            ))?;
            if rows.len() != 1 {
                return Err(format!("read {} rows", rows.len()));
            }
            Ok(())
        }),
    );
    (old, new)
}

#[test]
fn create_table_is_seen_by_the_new_version_only_rolls_back_then_contracts() {
    let (pg, ws) = setup();
    after_add_note(&ws, &pg);
    ws.write("orders.toml", CREATE_ORDERS);
    let conn = Conn::open(&pg.url);
    let users_equal = "SELECT count(*) FROM public_add_note.users o FULL JOIN public_orders.users n USING (id) \
                       WHERE o.id IS NULL OR n.id IS NULL OR o.name <> n.name OR o.note IS DISTINCT FROM n.note";

    // First run, under both workloads, then rolled back.
    let ids = Arc::new(AtomicI64::new(1_000_000));
    let load = UnderLoad::start(&pg, orders_workloads(&pg, &ids));
    load.expand(&ws, &pg, "orders.toml");
    assert_eq!(conn.one(users_equal), "0");
    assert_eq!(
        conn.one("SELECT to_regclass('public_add_note.orders') IS NULL"),
        "t",
        "the old version sees the created table"
    );
    assert!(conn.one("SELECT count(*) FROM public_orders.orders WHERE note = 'none'") != "0");
    assert_eq!(
        conn.one("SELECT count(*) FROM public_orders.orders o LEFT JOIN public.users u ON u.id = o.user_id WHERE u.id IS NULL"),
        "0"
    );
    load.stop(&pg);
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(conn.one("SELECT to_regclass('public.orders') IS NULL"), "t");
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'public_orders'"),
        "0"
    );

    // Second run, completed: the table stays, served by the new version.
    let load = UnderLoad::start(&pg, orders_workloads(&pg, &ids));
    load.expand(&ws, &pg, "orders.toml");
    assert_eq!(conn.one(users_equal), "0");
    load.complete(&ws, &pg);
    assert_eq!(
        conn.one("SELECT (SELECT count(*) FROM public.orders) = (SELECT count(*) FROM public_orders.orders)"),
        "t"
    );
    assert!(conn.one("SELECT count(*) FROM public.orders") != "0");
    assert_eq!(
        conn.one(
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull, ', ' ORDER BY attnum) \
             FROM pg_attribute WHERE attrelid = 'public.orders'::regclass AND attnum > 0 AND NOT attisdropped"
        ),
        "id bigint true, user_id bigint true, note text true"
    );
    // Started again: refused.
    let (c, _, err) = gate(&ws, &pg, &["migrate", "start", "orders.toml"]);
    assert_ne!(c, 0);
    assert!(err.contains("already"), "{err}");
}

const AMOUNT_INDEX: &str = r#"
name = "amount_idx"

[[operation]]
create_index = { table = "users", name = "users_amount_idx", columns = ["amount", "id"] }
"#;

fn amount_workloads(pg: &Postgres, ids: &Arc<AtomicI64>) -> (Workload, Workload) {
    let workload = |path: &str, who: &'static str| {
        Workload::start(
            &pg.url,
            path,
            ids.clone(),
            Arc::new(move |c: &Conn, id| {
                c.exec(&format!(
                    "INSERT INTO users (id, name, amount) VALUES ({id}, '{who} {id}', {id} % 1000)"
                ))
            }),
            Arc::new(move |c: &Conn, id, n| {
                c.exec(&format!(
                    "UPDATE users SET name = '{who} touched {n}', amount = amount + 1 WHERE id = {id}"
                ))?;
                one_row(c.rows(&format!("SELECT name FROM users WHERE id = {id}"))?)
            }),
        )
    };
    (
        workload("public", "Old"),
        workload("public_amount_idx", "New"),
    )
}

#[test]
fn create_index_is_built_concurrently_rebuilt_when_invalid_rolls_back_then_contracts() {
    let (pg, ws) = setup();
    ws.write("amount_idx.toml", AMOUNT_INDEX);
    let conn = Conn::open(&pg.url);
    // What a failed or killed build leaves: an invalid index of the name.
    assert!(
        conn.exec("CREATE UNIQUE INDEX CONCURRENTLY users_amount_idx ON users (amount)")
            .is_err()
    );
    let index = "SELECT coalesce((SELECT indisvalid::text || ' ' || indisunique::text || ' ' || indkey::text \
                 FROM pg_index WHERE indexrelid = to_regclass('public.users_amount_idx')), 'none')";
    assert_eq!(conn.one(index), "false true 3");

    let ids = Arc::new(AtomicI64::new(1_000_000));
    let load = UnderLoad::start(&pg, amount_workloads(&pg, &ids));
    load.expand(&ws, &pg, "amount_idx.toml");
    // Dropped and built again, valid, as the file says.
    assert_eq!(conn.one(index), "true false 3 1");
    assert_eq!(
        conn.one(
            "SELECT count(*) FROM public.users o FULL JOIN public_amount_idx.users n USING (id) \
             WHERE o.id IS NULL OR n.id IS NULL OR o.name <> n.name OR o.amount <> n.amount"
        ),
        "0"
    );
    load.stop(&pg);
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(conn.one(index), "none");

    // An index gone since the start (dropped by hand) stops complete with
    // nothing changed: a migration never completes without what it built.
    let (c, out, err) = run(&ws, &pg, &start_args("amount_idx.toml"));
    assert_eq!(c, 0, "{out}\n{err}");
    pg.psql("DROP INDEX public.users_amount_idx");
    let (c, out, err) = gate(&ws, &pg, &["migrate", "complete"]);
    assert_ne!(c, 0, "{out}\n{err}");
    assert!(
        err.contains("the index users_amount_idx on users would not survive the contract"),
        "{err}"
    );
    assert_eq!(status(&ws, &pg)["phase"], "validated");
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");

    let load = UnderLoad::start(&pg, amount_workloads(&pg, &ids));
    load.expand(&ws, &pg, "amount_idx.toml");
    load.complete(&ws, &pg);
    assert_eq!(conn.one(index), "true false 3 1");
}

/// Both versions insert, update and read users: the old one by the name
/// `users`, the new one (on `new_path`) by `new_name`.
fn renamed_workloads(
    pg: &Postgres,
    ids: &Arc<AtomicI64>,
    new_path: &str,
    new_name: &'static str,
) -> (Workload, Workload) {
    let workload = |path: &str, table: &'static str, who: &'static str| {
        Workload::start(
            &pg.url,
            path,
            ids.clone(),
            Arc::new(move |c: &Conn, id| {
                c.exec(&format!(
                    "INSERT INTO {table} (id, name, amount) VALUES ({id}, '{who} {id}', 1)"
                ))
            }),
            Arc::new(move |c: &Conn, id, n| {
                c.exec(&format!(
                    "UPDATE {table} SET name = '{who} touched {n}', amount = amount + 1 WHERE id = {id}"
                ))?;
                one_row(c.rows(&format!("SELECT name FROM {table} WHERE id = {id}"))?)
            }),
        )
    };
    (
        workload("public", "users", "Old"),
        workload(new_path, new_name, "New"),
    )
}

const RENAME_USERS: &str = r#"
name = "customers"

[[operation]]
rename_table = { table = "users", to = "customers" }
"#;

#[test]
fn rename_table_serves_both_names_rolls_back_then_contracts() {
    let (pg, ws) = setup();
    ws.write("customers.toml", RENAME_USERS);
    let conn = Conn::open(&pg.url);
    let before = md5_of_old_data(&pg);
    let same_rows = "SELECT count(*) FROM public.users o FULL JOIN public_customers.customers n USING (id) \
                     WHERE o.id IS NULL OR n.id IS NULL OR o.name <> n.name OR o.amount <> n.amount";

    // First run: both names served, then rolled back.
    let ids = Arc::new(AtomicI64::new(1_000_000));
    let load = UnderLoad::start(
        &pg,
        renamed_workloads(&pg, &ids, "public_customers", "customers"),
    );
    load.expand(&ws, &pg, "customers.toml");
    assert_eq!(conn.one(same_rows), "0");
    assert_eq!(
        conn.one("SELECT to_regclass('public_customers.users') IS NULL AND to_regclass('public.customers') IS NULL"),
        "t",
        "the new version sees the old name, or the table was renamed early"
    );
    assert!(conn.one("SELECT count(*) FROM public.users WHERE name LIKE 'New %'") != "0");
    load.stop(&pg);
    let touched = md5_of_old_data(&pg);
    assert_ne!(touched, before, "the workloads wrote nothing");
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(
        md5_of_old_data(&pg),
        touched,
        "the rollback changed the old version's rows"
    );
    assert_eq!(
        conn.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'public_customers'"),
        "0"
    );

    // Second run, completed: the table has the new name.
    let load = UnderLoad::start(
        &pg,
        renamed_workloads(&pg, &ids, "public_customers", "customers"),
    )
    .rows_in("public.customers");
    load.expand(&ws, &pg, "customers.toml");
    load.complete(&ws, &pg);
    assert_eq!(
        conn.one("SELECT to_regclass('public.users') IS NULL AND to_regclass('public.customers') IS NOT NULL"),
        "t"
    );
    assert_eq!(
        conn.one("SELECT (SELECT count(*) FROM public.customers) = (SELECT count(*) FROM public_customers.customers)"),
        "t"
    );
}

/// A table of notes both versions keep writing to through the old
/// version, until the new version no longer sees it.
fn legacy_workloads(pg: &Postgres, ids: &Arc<AtomicI64>) -> (Workload, Workload) {
    let old = Workload::start(
        &pg.url,
        "public",
        ids.clone(),
        Arc::new(|c: &Conn, id| {
            c.exec(&format!(
                "INSERT INTO users (id, name, amount) VALUES ({id}, 'Old {id}', 1); \
                 INSERT INTO legacy (id, note) VALUES ({id}, 'old')"
            ))
        }),
        Arc::new(|c: &Conn, id, n| {
            c.exec(&format!(
                "UPDATE legacy SET note = 'touched {n}' WHERE id = {id}"
            ))?;
            one_row(c.rows(&format!("SELECT note FROM legacy WHERE id = {id}"))?)
        }),
    );
    let new = Workload::start(
        &pg.url,
        "public_drop_legacy",
        ids.clone(),
        Arc::new(|c: &Conn, id| {
            c.exec(&format!(
                "INSERT INTO users (id, name, amount) VALUES ({id}, 'New {id}', 2)"
            ))
        }),
        Arc::new(|c: &Conn, id, n| {
            c.exec(&format!(
                "UPDATE users SET name = 'New touched {n}' WHERE id = {id}"
            ))?;
            one_row(c.rows(&format!("SELECT name FROM users WHERE id = {id}"))?)
        }),
    );
    (old, new)
}

const DROP_LEGACY: &str = r#"
name = "drop_legacy"

[[operation]]
drop_table = { table = "legacy" }
"#;

#[test]
fn drop_table_hides_it_from_the_new_version_rolls_back_then_contracts() {
    let (pg, ws) = setup();
    pg.psql(&format!(
        "CREATE TABLE legacy (id bigint PRIMARY KEY, note text);
         INSERT INTO legacy SELECT g, 'note ' || g FROM generate_series(1, {ROWS}) g;
         CREATE TABLE legacy_refs (id bigint PRIMARY KEY, legacy_id bigint REFERENCES legacy (id));"
    ));
    ws.write("drop_legacy.toml", DROP_LEGACY);
    let conn = Conn::open(&pg.url);
    let legacy = "SELECT md5(string_agg(id || ':' || note, ',' ORDER BY id)) FROM public.legacy";

    // A table another table's foreign key references is refused, at its
    // place in the file.
    let (c, _, err) = run(&ws, &pg, &start_args("drop_legacy.toml"));
    assert_eq!(c, 2, "{err}");
    assert!(
        err.contains("drop_legacy.toml:4:1: drop_table: legacy is referenced by the foreign key of legacy_refs"),
        "{err}"
    );
    assert_eq!(status(&ws, &pg)["phase"], "old-only");
    pg.psql("DROP TABLE legacy_refs;");

    // First run: the new version does not see it, the old one keeps
    // writing to it; rolled back, it is as the old version left it.
    let ids = Arc::new(AtomicI64::new(1_000_000));
    let load = UnderLoad::start(&pg, legacy_workloads(&pg, &ids));
    load.expand(&ws, &pg, "drop_legacy.toml");
    assert_eq!(
        conn.one("SELECT to_regclass('public_drop_legacy.legacy') IS NULL AND to_regclass('public_drop_legacy.users') IS NOT NULL"),
        "t"
    );
    load.stop(&pg);
    let written = conn.one(legacy);
    assert!(conn.one("SELECT count(*) FROM public.legacy WHERE note = 'old'") != "0");
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(conn.one(legacy), written);

    // Second run, completed: the table is gone.
    let load = UnderLoad::start(&pg, legacy_workloads(&pg, &ids));
    load.expand(&ws, &pg, "drop_legacy.toml");
    load.complete(&ws, &pg);
    assert_eq!(conn.one("SELECT to_regclass('public.legacy') IS NULL"), "t");
    assert!(
        conn.one("SELECT count(*) FROM public_drop_legacy.users WHERE name LIKE 'New %'") != "0"
    );
}

const CONSTRAINTS: &str = r#"
name = "constraints"

[[operation]]
add_constraint = { table = "users", name = "users_amount_positive", kind = "check", check = "amount >= 0" }

[[operation]]
add_constraint = { table = "orders", name = "orders_code_key", kind = "unique", columns = ["code"] }

[[operation]]
[operation.add_constraint]
table = "orders"
name = "orders_user_fk"
kind = "foreign_key"
columns = ["user_id"]
references = { table = "users", columns = ["id"] }
on_delete = "cascade"
"#;

/// Both versions insert a user and an order of theirs (keeping every
/// constraint to come), rename users and read them with their orders.
fn order_code_workloads(pg: &Postgres, ids: &Arc<AtomicI64>) -> (Workload, Workload) {
    let workload = |path: &str, who: &'static str| {
        Workload::start(
            &pg.url,
            path,
            ids.clone(),
            Arc::new(move |c: &Conn, id| {
                c.exec(&format!(
                    "INSERT INTO users (id, name, amount) VALUES ({id}, '{who} {id}', 1); \
                     INSERT INTO orders (id, user_id, code) VALUES ({id}, {id}, '{who}{id}')"
                ))
            }),
            Arc::new(move |c: &Conn, id, n| {
                c.exec(&format!(
                    "UPDATE users SET name = '{who} touched {n}' WHERE id = {id}"
                ))?;
                one_row(c.rows(&format!(
                    "SELECT u.name, o.code FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.id = {id}"
                ))?)
            }),
        )
    };
    (
        workload("public", "Old"),
        workload("public_constraints", "New"),
    )
}

#[test]
fn add_constraint_reports_offending_rows_validates_rolls_back_then_contracts() {
    let (pg, ws) = setup();
    pg.psql(
        "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, code text);
         INSERT INTO orders SELECT g, g, 'c' || g FROM generate_series(1, 5000) g;
         UPDATE users SET amount = -1 WHERE id = 7;
         UPDATE orders SET user_id = 999999 WHERE id = 11;
         UPDATE orders SET code = 'c12' WHERE id = 13;",
    );
    ws.write("constraints.toml", CONSTRAINTS);
    let conn = Conn::open(&pg.url);
    let constraints = "SELECT coalesce(string_agg(conname || ' ' || contype::text || ' ' || convalidated, ', ' ORDER BY conname), '') \
                       FROM pg_constraint WHERE conname IN ('users_amount_positive', 'orders_code_key', 'orders_user_fk')";
    let index = "SELECT coalesce((SELECT indisvalid::text || ' ' || indisunique::text FROM pg_index \
                 WHERE indexrelid = to_regclass('public.orders_code_key')), 'none')";
    let data = "SELECT md5(string_agg(id || ':' || coalesce(user_id::text, '') || ':' || code, ',' ORDER BY id)) FROM public.orders";

    // First run: the rows that break each constraint are named, complete
    // is blocked; fixed, they validate; rolled back from there, nothing of
    // the constraints is left.
    let ids = Arc::new(AtomicI64::new(1_000_000));
    let load = UnderLoad::start(&pg, order_code_workloads(&pg, &ids));
    let (c, out, err) = run(&ws, &pg, &start_args("constraints.toml"));
    assert_eq!(c, 1, "{out}\n{err}");
    for failure in [
        "add_constraint users_amount_positive on users: fails the check (amount >= 0): 1 row(s): id=7",
        "add_constraint orders_code_key on orders: duplicate (code): 2 row(s): ",
        "add_constraint orders_user_fk on orders: references no row of users: 1 row(s): id=11",
    ] {
        assert!(err.contains(failure), "{failure} not in: {err}");
    }
    assert!(err.contains("id=12") && err.contains("id=13"), "{err}");
    assert_eq!(status(&ws, &pg)["phase"], "backfilled");
    let (c, _, err) = gate(&ws, &pg, &["migrate", "complete"]);
    assert_eq!(c, 1, "{err}");
    assert_eq!(conn.one(constraints), "");
    pg.psql(
        "UPDATE users SET amount = 0 WHERE id = 7;
         UPDATE orders SET user_id = 11 WHERE id = 11;
         UPDATE orders SET code = 'c13' WHERE id = 13;",
    );
    let (c, out, err) = gate(&ws, &pg, &["migrate", "validate"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(
        conn.one(constraints),
        "orders_user_fk f true, users_amount_positive c true"
    );
    assert_eq!(conn.one(index), "true true");
    // From validation on the constraints hold for the old version's writes
    // too.
    let e = conn
        .exec("INSERT INTO public.users (id, name, amount) VALUES (-1, 'negative', -5)")
        .unwrap_err();
    assert!(e.starts_with("23514"), "{e}");
    load.stop(&pg);
    let before = (md5_of_old_data(&pg), conn.one(data));
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!((md5_of_old_data(&pg), conn.one(data)), before);
    assert_eq!(conn.one(constraints), "");
    assert_eq!(conn.one(index), "none");
    conn.exec("INSERT INTO public.users (id, name, amount) VALUES (-1, 'negative', -5); DELETE FROM public.users WHERE id = -1")
        .expect("the check is gone after the rollback");

    // Second run, completed: the unique index becomes the constraint.
    let load = UnderLoad::start(&pg, order_code_workloads(&pg, &ids));
    load.expand(&ws, &pg, "constraints.toml");
    load.complete(&ws, &pg);
    assert_eq!(
        conn.one(constraints),
        "orders_code_key u true, orders_user_fk f true, users_amount_positive c true"
    );
    let e = conn
        .exec("INSERT INTO public_constraints.orders (id, user_id, code) VALUES (-2, 424242, 'zz')")
        .unwrap_err();
    assert!(e.starts_with("23503"), "{e}");
    let e = conn
        .exec("INSERT INTO public_constraints.orders (id, user_id, code) VALUES (-3, 1, 'c1')")
        .unwrap_err();
    assert!(e.starts_with("23505"), "{e}");
}

const RAW_REFUSED: &str = r#"
[[operation]]
raw_sql = { up = "CREATE INDEX users_name_idx ON users (name)" }
"#;

const RAW: &str = r#"
name = "raw"

[[operation]]
raw_sql = { up = "CREATE TABLE public.audit_log (id bigint PRIMARY KEY, note text)", down = "DROP TABLE public.audit_log" }

[[operation]]
raw_sql = { up = "CREATE INDEX users_name_idx ON users (name)", down = "DROP INDEX users_name_idx", lint = "warn" }
"#;

#[test]
fn raw_sql_is_linted_first_runs_at_start_rolls_back_by_down_then_contracts() {
    let (pg, ws) = setup();
    ws.write("raw_refused.toml", RAW_REFUSED);
    ws.write("raw.toml", RAW);
    let conn = Conn::open(&pg.url);
    let made = "SELECT (to_regclass('public.audit_log') IS NOT NULL)::text || ' ' || (to_regclass('public.users_name_idx') IS NOT NULL)::text";

    // A finding that fails `gate migrate lint` refuses the file before
    // anything runs.
    let (c, out, err) = run(&ws, &pg, &start_args("raw_refused.toml"));
    assert_eq!(c, 2, "{out}\n{err}");
    assert!(
        err.contains("raw_refused.toml:2:1: raw_sql: the migration validator"),
        "{err}"
    );
    assert!(
        err.contains("create-index-not-concurrently (fail)"),
        "{err}"
    );
    assert!(err.contains("lint = \"warn\""), "{err}");
    assert_eq!(status(&ws, &pg)["phase"], "old-only");
    assert_eq!(conn.one(made), "false false");

    // `lint = "warn"`: shown, and run at the start, seen by both versions.
    let ids = Arc::new(AtomicI64::new(1_000_000));
    let load = UnderLoad::start(&pg, renamed_workloads(&pg, &ids, "public_raw", "users"));
    let (_, err) = load.expand(&ws, &pg, "raw.toml");
    assert!(
        err.contains("warning: raw.toml:7:1: raw_sql: the migration validator"),
        "{err}"
    );
    assert!(
        err.contains("create-index-not-concurrently (fail)"),
        "{err}"
    );
    assert_eq!(conn.one(made), "true true");
    assert_eq!(
        conn.one("SELECT to_regclass('public_raw.audit_log') IS NOT NULL"),
        "t"
    );
    load.stop(&pg);
    let before = md5_of_old_data(&pg);
    let (c, out, err) = gate(&ws, &pg, &["migrate", "rollback"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert_eq!(conn.one(made), "false false", "the `down`s did not run");
    assert_eq!(md5_of_old_data(&pg), before);

    // Second run, completed: what the raw SQL made stays.
    let load = UnderLoad::start(&pg, renamed_workloads(&pg, &ids, "public_raw", "users"));
    load.expand(&ws, &pg, "raw.toml");
    load.complete(&ws, &pg);
    assert_eq!(conn.one(made), "true true");
    assert_eq!(status(&ws, &pg)["phase"], "contracted");
}
