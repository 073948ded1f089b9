//! `gate migrate plan --operations FILE`: a SQL migration with breaking
//! changes becomes an operations file that `gate migrate start` runs on a
//! real PostgreSQL 15 with both versions served; what needs a person's
//! decision is marked and refused until decided.

mod common;
#[path = "services/mod.rs"]
mod services;

use common::*;
use services::Postgres;

const MIGRATION: &str = "SET lock_timeout = '2s';
ALTER TABLE users RENAME COLUMN name TO full_name;
ALTER TABLE users ADD COLUMN nickname text;
CREATE INDEX users_city ON users (city);
ALTER TABLE users ADD CONSTRAINT users_id_positive CHECK (id > 0);
ALTER TABLE users ALTER COLUMN amount TYPE bigint;
";

#[test]
fn a_planned_operations_file_runs_once_its_decisions_are_made() {
    let pg = Postgres::start();
    pg.psql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, amount integer NOT NULL, city text);
         INSERT INTO users SELECT g, 'User' || g, g FROM generate_series(1, 2000) g;",
    );
    let ws = Workspace::new();
    ws.write("migrations/20240101000000_users.sql", MIGRATION);
    let out = ws.gate(&[
        "migrate",
        "plan",
        "migrations",
        "--operations",
        "users_v2.toml",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("wrote users_v2.toml: migration `users_v2`, 5 operation(s), 0 raw_sql, 1 statement(s) left out"),
        "{said}"
    );
    assert!(said.contains("1 operation(s) need a decision"), "{said}");
    let text = std::fs::read_to_string(ws.path().join("users_v2.toml")).unwrap();
    assert!(
        text.contains("# migrations/20240101000000_users.sql:6: ALTER TABLE users ALTER COLUMN amount TYPE bigint\n# decide: `down`"),
        "{text}"
    );

    // Undecided: refused at the operation's line, nothing touched.
    let env = [("DATABASE_URL", pg.url.as_str())];
    let out = ws.gate_env(&["migrate", "start", "users_v2.toml"], &env);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("users_v2.toml:"), "{}", stderr(&out));
    assert!(stderr(&out).contains("down"), "{}", stderr(&out));
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'gate_migrate'"),
        "0"
    );

    // Decided: it runs, both versions served, then contracts.
    let decided = text.replace(
        "up = \"amount::bigint\" }",
        "up = \"amount::bigint\", down = \"amount::integer\" }",
    );
    std::fs::write(ws.path().join("users_v2.toml"), decided).unwrap();
    let out = ws.gate_env(&["migrate", "start", "users_v2.toml"], &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let status = ws.gate_env(&["migrate", "status", "--format", "json"], &env);
    let status: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    let new = status["migration"]["new_version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        pg.psql(&format!(
            "SET search_path TO \"{new}\"; SELECT full_name || ' ' || pg_typeof(amount) FROM users WHERE id = 5"
        )),
        "User5 bigint"
    );
    assert_eq!(
        pg.psql("SELECT name || ' ' || pg_typeof(amount) FROM public.users WHERE id = 5"),
        "User5 integer"
    );
    let out = ws.gate_env(&["migrate", "complete"], &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        pg.psql(
            "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY column_name) \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users'"
        ),
        "amount:bigint,city:text,full_name:text,id:bigint,nickname:text"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_indexes WHERE indexname = 'users_city'"),
        "1"
    );
    assert_eq!(
        pg.psql(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'users_id_positive' \
             AND conrelid = 'public.users'::regclass"
        ),
        "t"
    );

    // An existing file is never overwritten.
    let out = ws.gate(&[
        "migrate",
        "plan",
        "migrations",
        "--operations",
        "users_v2.toml",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("new file only"), "{}", stderr(&out));
}
