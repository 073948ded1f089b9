//! `cargo bench --bench migrate_expand`: changing a column's type on a table
//! of `GATE_BENCH_ROWS` rows (default 1 000 000) while an application
//! writes to it, two ways, side by side in one run, `GATE_BENCH_RUNS` times
//! each (default 3), alternating:
//!
//! - **ALTER TABLE**: `ALTER TABLE accounts ALTER COLUMN amount TYPE bigint`,
//!   the statement a migration tool runs: PostgreSQL rewrites the table
//!   under an ACCESS EXCLUSIVE lock;
//! - **gate**: the same change as a `change_type` operation, `gate migrate
//!   start` (expand, then the keyed, batched backfill), `validate` and
//!   `complete`, with the CLI's defaults (batches of 1000 rows, lock_timeout
//!   2 s, no pause, no rate limit).
//!
//! Each run starts from a fresh copy of the same database (`CREATE DATABASE
//! … TEMPLATE`). While it runs, a writer updates a random row by key every
//! 5 ms and a sampler reads `pg_locks` and `pg_stat_activity` every 5 ms.
//! Printed per way, as medians with the spread (min–max): the wall time;
//! the backfill rate (gate); the longest transaction that held a lock on the
//! table; the longest a lock that blocks writers (SHARE or stronger) was
//! held; and the longest single write the application saw. Then the ratios.
//!
//! PostgreSQL 15 from tests/services (scripts/install-deps), on 127.0.0.1,
//! with `fsync = off` and `shared_buffers = 256MB`: both ways get the same
//! server.

#[path = "../tests/services/mod.rs"]
mod services;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use services::Postgres;

/// Lock modes that block an application's INSERT, UPDATE and DELETE.
const BLOCKS_WRITES: &str =
    "('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')";

const OPERATION: &str = r#"
name = "amount_bigint"

[[operation]]
change_type = { table = "accounts", column = "amount", type = "bigint", up = "amount::bigint", down = "amount::integer" }
"#;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A connection driven synchronously from one thread.
struct Conn {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
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

    fn exec(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    fn float(&self, sql: &str) -> f64 {
        let row = self
            .rt
            .block_on(self.client.query_one(sql, &[]))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        row.get::<_, Option<f64>>(0).unwrap_or(0.0)
    }
}

/// What one run measured, in seconds.
#[derive(Default)]
struct Run {
    wall: f64,
    rows_per_sec: Option<f64>,
    longest_lock_txn: f64,
    longest_write_blocking_lock: f64,
    longest_write: f64,
}

/// Reads `pg_locks` every 5 ms: the longest transaction holding any lock on
/// the table, and the longest a SHARE-or-stronger lock stayed granted to one
/// transaction. Both exclude the application's writer.
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(f64, f64)>,
}

impl Sampler {
    fn start(url: &str, table_oid: u32, writer_pid: i32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let url = url.to_string();
        let handle = std::thread::spawn(move || {
            let conn = Conn::open(&url);
            let (mut txn, mut blocking) = (0.0f64, 0.0f64);
            let sql_txn = format!(
                "SELECT max(extract(epoch FROM clock_timestamp() - a.xact_start))::float8 \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.relation = {table_oid} AND l.granted AND l.pid <> {writer_pid}"
            );
            // A strong lock is held from when its transaction started, at the
            // latest; the sample bounds its hold from above by that.
            let sql_blocking = format!("{sql_txn} AND l.mode IN {BLOCKS_WRITES}");
            while !stopped.load(Ordering::SeqCst) {
                txn = txn.max(conn.float(&sql_txn));
                blocking = blocking.max(conn.float(&sql_blocking));
                std::thread::sleep(Duration::from_millis(5));
            }
            (txn, blocking)
        });
        Sampler { stop, handle }
    }

    fn stop(self) -> (f64, f64) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("sampler")
    }
}

/// The application: one UPDATE of a random row by key every 5 ms; returns
/// the longest one.
struct Writer {
    stop: Arc<AtomicBool>,
    pid: i32,
    handle: JoinHandle<f64>,
}

impl Writer {
    fn start(url: &str, rows: u64) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let url = url.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let conn = Conn::open(&url);
            tx.send(conn.float("SELECT pg_backend_pid()::float8") as i32)
                .expect("pid");
            let mut longest = 0.0f64;
            let mut n = 0u64;
            while !stopped.load(Ordering::SeqCst) {
                n += 1;
                let id = 1 + (n * 7919) % rows;
                let t = Instant::now();
                conn.exec(&format!(
                    "UPDATE accounts SET owner = owner WHERE id = {id}"
                ));
                longest = longest.max(t.elapsed().as_secs_f64());
                std::thread::sleep(Duration::from_millis(5));
            }
            longest
        });
        let pid = rx.recv().expect("writer pid");
        Writer { stop, pid, handle }
    }

    fn stop(self) -> f64 {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("writer")
    }
}

/// The server's URL with another database.
fn database_url(pg: &Postgres, db: &str) -> String {
    let (server, _) = pg.url.rsplit_once('/').expect("a database in the URL");
    format!("{server}/{db}")
}

/// Runs `migrate` on a fresh copy of the template database under the
/// writer and the sampler.
fn measure(pg: &Postgres, db: &str, rows: u64, migrate: impl FnOnce(&str) -> Option<f64>) -> Run {
    pg.psql(&format!("CREATE DATABASE {db} TEMPLATE bench_template"));
    let url = database_url(pg, db);
    let oid = Conn::open(&url).float("SELECT 'accounts'::regclass::oid::bigint::float8") as u32;
    let writer = Writer::start(&url, rows);
    let sampler = Sampler::start(&url, oid, writer.pid);
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let rows_per_sec = migrate(&url);
    let wall = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(100));
    let (longest_lock_txn, longest_write_blocking_lock) = sampler.stop();
    let longest_write = writer.stop();
    let check = Conn::open(&url);
    let kind = check.float(
        "SELECT (format_type(atttypid, atttypmod) = 'bigint')::int::float8 FROM pg_attribute \
         WHERE attrelid = 'public.accounts'::regclass AND attname = 'amount'",
    );
    assert_eq!(kind, 1.0, "{db}: amount is not bigint after the migration");
    let count = check.float("SELECT count(*)::float8 FROM public.accounts");
    assert_eq!(count as u64, rows, "{db}: rows lost");
    Run {
        wall,
        rows_per_sec,
        longest_lock_txn,
        longest_write_blocking_lock,
        longest_write,
    }
}

fn alter_table(url: &str) -> Option<f64> {
    Conn::open(url).exec("ALTER TABLE accounts ALTER COLUMN amount TYPE bigint");
    None
}

fn gate(url: &str, file: &std::path::Path, rows: u64) -> Option<f64> {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_gate"))
            .args(args)
            .env("DATABASE_URL", url)
            // The audit log goes beside the operations file.
            .current_dir(file.parent().expect("a directory"))
            .output()
            .expect("run gate");
        assert!(
            out.status.success(),
            "gate {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let t = Instant::now();
    run(&["migrate", "start", &file.display().to_string()]);
    let start = t.elapsed().as_secs_f64();
    run(&["migrate", "validate"]);
    run(&["migrate", "complete"]);
    Some(rows as f64 / start)
}

fn spread(runs: &[Run], f: impl Fn(&Run) -> f64) -> (f64, f64, f64) {
    let mut v: Vec<f64> = runs.iter().map(f).collect();
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn print_way(name: &str, runs: &[Run]) {
    let line = |what: &str, (lo, med, hi): (f64, f64, f64), unit: &str, scale: f64| {
        println!(
            "  {what:<38} {:>10.1} {unit} ({:.1}–{:.1})",
            med * scale,
            lo * scale,
            hi * scale
        );
    };
    println!("{name} ({} runs):", runs.len());
    line("wall time", spread(runs, |r| r.wall), "s", 1.0);
    if runs.iter().all(|r| r.rows_per_sec.is_some()) {
        let rate = spread(runs, |r| r.rows_per_sec.unwrap_or(0.0));
        line("backfill rate (start)", rate, "rows/s", 1.0);
    }
    let txn = spread(runs, |r| r.longest_lock_txn);
    line("longest transaction locking the table", txn, "ms", 1e3);
    let blocking = spread(runs, |r| r.longest_write_blocking_lock);
    line("longest lock that blocks writes", blocking, "ms", 1e3);
    line(
        "longest application write",
        spread(runs, |r| r.longest_write),
        "ms",
        1e3,
    );
}

fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let rows = env_or("GATE_BENCH_ROWS", 1_000_000);
    let runs = env_or("GATE_BENCH_RUNS", 3);
    let pg = Postgres::start_with_config("shared_buffers = 256MB\nmax_wal_size = 4GB");
    pg.psql("CREATE DATABASE bench_template");
    let template = database_url(&pg, "bench_template");
    let load = Instant::now();
    let conn = Conn::open(&template);
    conn.exec(&format!(
        "CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, amount integer NOT NULL);
         INSERT INTO accounts SELECT g, 'owner ' || g, g % 100000 FROM generate_series(1, {rows}) g;"
    ));
    conn.exec("VACUUM ANALYZE accounts");
    drop(conn);
    println!(
        "migrate_expand: int → bigint on {rows} rows, PostgreSQL 15 (loaded in {:.1} s)",
        load.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("amount_bigint.toml");
    std::fs::write(&file, OPERATION).expect("write the operations file");
    let (mut plain, mut phased) = (Vec::new(), Vec::new());
    for i in 0..runs {
        plain.push(measure(&pg, &format!("alter_{i}"), rows, alter_table));
        phased.push(measure(&pg, &format!("gate_{i}"), rows, |url| {
            gate(url, &file, rows)
        }));
    }
    print_way("ALTER TABLE … TYPE bigint", &plain);
    print_way("gate migrate start + validate + complete", &phased);
    let ratio = |f: &dyn Fn(&Run) -> f64| spread(&phased, f).1 / spread(&plain, f).1.max(1e-9);
    println!("gate / ALTER TABLE (medians):");
    println!(
        "  wall time                              {:>10.2}×",
        ratio(&|r| r.wall)
    );
    println!(
        "  longest lock that blocks writes        {:>10.3}×",
        ratio(&|r| r.longest_write_blocking_lock)
    );
    println!(
        "  longest application write              {:>10.3}×",
        ratio(&|r| r.longest_write)
    );
}
