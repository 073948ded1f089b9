//! The `sql` capability against a real PostgreSQL 15: `READ ONLY` does not
//! stop a privileged role from reading server files or running programs, so
//! gate refuses superusers, members of a superuser role and members of
//! `pg_read_server_files`, `pg_write_server_files` and
//! `pg_execute_server_program`, checked on the session after connecting. An
//! ordinary role's attempts fail in PostgreSQL itself; a huge result stops at
//! the row cap without being collected first; legitimate queries work.

mod common;
#[path = "services/mod.rs"]
mod services;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use services::Postgres;

struct Db {
    pg: Postgres,
    ws: Workspace,
    /// A file that `COPY … TO PROGRAM 'touch …'` would create.
    marker: PathBuf,
}

impl Db {
    fn start() -> Db {
        let pg = Postgres::start();
        pg.psql(
            "CREATE TABLE accounts (id int, name text);\n\
             INSERT INTO accounts VALUES (1, 'ada'), (2, 'grace');\n\
             CREATE ROLE reader LOGIN;\n\
             GRANT pg_monitor TO reader;\n\
             GRANT SELECT ON accounts TO reader;\n\
             CREATE ROLE runner LOGIN;\n\
             GRANT pg_execute_server_program TO runner;\n\
             CREATE ROLE filer LOGIN;\n\
             GRANT pg_read_server_files TO filer;\n\
             CREATE ROLE writer LOGIN;\n\
             GRANT pg_write_server_files TO writer;\n\
             CREATE ROLE climber LOGIN NOINHERIT;\n\
             GRANT gate TO climber;",
        );
        // Where the server (running as `postgres` under root) may write.
        let marker = std::env::temp_dir().join(format!("gate-sql-marker-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        Db {
            pg,
            ws: Workspace::new(),
            marker,
        }
    }

    /// `hostile.sql` running `statement` on connection `db` as `url`.
    fn command(&self, url: &str, statement: &str) -> Command {
        self.ws.write(
            "policy.toml",
            &format!(
                "[policy]\nname = \"sql\"\n\n[connections.db]\nkind = \"postgres\"\nurl_env = \"DB_URL\"\n\n{}\
                 [[gate]]\nname = \"g\"\nchecks = [\"hostile.sql\"]\n\n\
                 [[check]]\nid = \"hostile.sql\"\nparams = {{ connection = \"db\", statement = {} }}\n",
                plugin_block("hostile", "sql = [\"db\"]\ntimeout_ms = 20000"),
                Value::String(statement.to_string())
            ),
        );
        let mut cmd = Command::new("/usr/bin/time");
        cmd.args(["-f", "gate-max-rss-kb=%M", GATE])
            .args(["evaluate", "--policy", "policy.toml", "--format", "json"])
            .current_dir(self.ws.path())
            .env("GATE_CACHE_DIR", &self.ws.cache)
            .env("DB_URL", url)
            .env_remove("GATE_TEST_NOW")
            .env_remove("GITHUB_ACTIONS");
        cmd
    }

    /// Runs the statement: the check's entry and gate's peak RSS in KiB.
    fn run(&self, url: &str, statement: &str) -> (Value, u64) {
        let out = self.command(url, statement).output().expect("run gate");
        let err = stderr(&out);
        assert!(code(&out) <= 1, "{err}\n{}", stdout(&out));
        let rss = err
            .lines()
            .find_map(|l| l.strip_prefix("gate-max-rss-kb="))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no peak RSS from /usr/bin/time: {err}"));
        (check(&json(&out), "g", "hostile.sql").clone(), rss)
    }

    fn error(&self, url: &str, statement: &str) -> String {
        let (c, _) = self.run(url, statement);
        assert_eq!(c["status"], "error", "{statement}: {c:#}");
        c["findings"][0]["message"].as_str().unwrap().to_string()
    }

    fn touch(&self) -> String {
        format!(
            "COPY (SELECT 1) TO PROGRAM 'touch {}'",
            self.marker.display()
        )
    }

    fn assert_no_marker(&self, what: &str) {
        assert!(
            !self.marker.exists(),
            "{what}: the database server ran a program for the plugin"
        );
    }
}

#[test]
fn privileged_roles_are_refused_before_the_statement_runs() {
    let db = Db::start();

    let m = db.error(&db.pg.url, &db.touch());
    assert!(
        m.contains("connection `db`: login role `gate` is a superuser")
            && m.contains("docs/sandbox.md"),
        "{m}"
    );
    db.assert_no_marker("superuser");

    let m = db.error(&db.pg.url_for("runner"), &db.touch());
    assert!(
        m.contains("login role `runner` is a member of pg_execute_server_program"),
        "{m}"
    );
    db.assert_no_marker("pg_execute_server_program");

    let m = db.error(
        &db.pg.url_for("filer"),
        "SELECT pg_read_file('/etc/hostname')",
    );
    assert!(
        m.contains("role `filer` is a member of pg_read_server_files"),
        "{m}"
    );

    let m = db.error(&db.pg.url_for("writer"), "SELECT 1");
    assert!(
        m.contains("role `writer` is a member of pg_write_server_files"),
        "{m}"
    );

    // Not inherited, but a `set_config('role', 'gate', …)` away.
    let m = db.error(&db.pg.url_for("climber"), "SELECT 1");
    assert!(
        m.contains("role `climber` is a member of superuser role gate"),
        "{m}"
    );

    // An unprivileged current role does not hide a superuser login role,
    // which `RESET ROLE` would return to.
    let switched = format!("{}?options=-c%20role%3Dreader", db.pg.url);
    let m = db.error(&switched, &db.touch());
    assert!(m.contains("login role `gate` is a superuser"), "{m}");
    db.assert_no_marker("SET ROLE");

    // The URL (which may hold a password) never appears in a refusal.
    assert!(!m.contains("127.0.0.1"), "{m}");
}

#[test]
fn an_ordinary_role_cannot_reach_past_the_database() {
    let db = Db::start();
    let reader = db.pg.url_for("reader");
    for statement in [
        db.touch(),
        "SELECT pg_read_file('/etc/passwd')".to_string(),
        "SELECT lo_import('/etc/passwd')".to_string(),
        "SELECT * FROM pg_ls_dir('/')".to_string(),
    ] {
        let m = db.error(&reader, &statement);
        assert!(
            m.starts_with("`db`: 42501") || m.starts_with("`db`: 25006"),
            "{statement}: expected a permission or read-only error, got {m}"
        );
    }
    db.assert_no_marker("ordinary role");
}

#[test]
fn legitimate_queries_work_for_a_least_privileged_role() {
    let db = Db::start();
    let reader = db.pg.url_for("reader");
    let (c, _) = db.run(&reader, "SELECT name FROM accounts ORDER BY id");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(c["findings"][0]["message"], "2 rows; first: ada", "{c:#}");
    // pg_monitor's statistics views.
    let (c, _) = db.run(
        &reader,
        "SELECT count(*)::text FROM pg_stat_activity WHERE query IS NOT NULL",
    );
    assert_eq!(c["status"], "pass", "{c:#}");
}

#[test]
fn a_huge_result_stops_at_the_row_cap_quickly_in_bounded_memory() {
    let db = Db::start();
    let reader = db.pg.url_for("reader");
    let started = Instant::now();
    let (c, rss_kb) = db.run(
        &reader,
        "SELECT g, repeat('x', 100) FROM generate_series(1, 10000000) g",
    );
    let took = started.elapsed();
    assert_eq!(c["status"], "error", "{c:#}");
    let m = c["findings"][0]["message"].as_str().unwrap();
    assert!(
        m.contains("query on `db` returns more than 10000 rows"),
        "{m}"
    );
    eprintln!(
        "10M-row query: stopped after {took:.2?}, gate peak RSS {} MiB",
        rss_kb >> 10
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Collecting 10M rows first needed gigabytes; paging stops at the cap.
    assert!(rss_kb < 400 << 10, "gate peaked at {} MiB", rss_kb >> 10);
}
