//! `config.migrations-tested` inside `gate evaluate`: pending migrations are
//! validated by the built-in validator, under the `config` plugin's `fs`
//! and `sql` grants; applied ones (per the tool's table on a real
//! PostgreSQL 15) are skipped.

mod common;
#[path = "services/mod.rs"]
mod services;

use common::*;
use services::Postgres;

const URL_ENV: &str = "GATE_CHECK_DB_URL";

/// A blocking migration first (non-concurrent index), then a clean one.
fn migrations(ws: &Workspace) {
    ws.write(
        "migrations/20240101000000_index.sql",
        "SET lock_timeout = '2s';\nCREATE INDEX users_email_idx ON users (email);\n",
    );
    ws.write(
        "migrations/20240102000000_table.sql",
        "CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);\n",
    );
}

fn policy(grants: &str, params: &str, extra: &str) -> String {
    format!(
        "[policy]\nname = \"check\"\n\n[[plugin]]\nname = \"config\"\n[plugin.grants]\n{grants}\n\n\
         [connections.db]\nkind = \"postgres\"\nurl_env = \"{URL_ENV}\"\n\n\
         [[gate]]\nname = \"preflight\"\nchecks = [\"config.migrations-tested\"]\n\n\
         [[check]]\nid = \"config.migrations-tested\"\nparams = {{ {params} }}\n\n{extra}"
    )
}

fn eval(ws: &Workspace, url: &str) -> (i32, serde_json::Value, String) {
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        &[(URL_ENV, url)],
    );
    let c = code(&out);
    let err = stderr(&out);
    if c == 2 {
        return (c, serde_json::Value::Null, err);
    }
    (c, json(&out), err)
}

fn rules(check: &serde_json::Value) -> Vec<String> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or("-").to_string())
        .collect()
}

fn summary(check: &serde_json::Value) -> &serde_json::Value {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "pending-migrations")
        .expect("summary finding")
}

#[test]
fn without_a_connection_every_file_is_validated() {
    let ws = Workspace::new();
    migrations(&ws);
    ws.write(
        "policy.toml",
        &policy("fs = [\"./migrations\"]", "paths = [\"migrations\"]", ""),
    );
    let (c, report, err) = eval(&ws, "");
    assert_eq!(c, 1, "{err} {report:#}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert_eq!(chk["status"], "fail");
    assert_eq!(chk["plugin"], "config");
    assert_eq!(chk["severity"], "high");
    let r = rules(chk);
    assert!(
        r.contains(&"create-index-not-concurrently".to_string()),
        "{r:?}"
    );
    let s = summary(chk);
    assert_eq!(s["evidence"]["pending"], "2");
    assert_eq!(s["evidence"]["layout"], "sqlx");
    let f = chk["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "create-index-not-concurrently")
        .unwrap();
    assert_eq!(f["location"]["file"], "migrations/20240101000000_index.sql");
    assert_eq!(f["location"]["line"], 2);
}

/// Without a connection every file is pending, and the pending files run
/// together in one deploy: a table one of them creates is new to the next,
/// so indexing it blocks nobody.
#[test]
fn the_pending_files_are_one_deploy() {
    let ws = Workspace::new();
    ws.write(
        "migrations/20240101000000_table.sql",
        "CREATE TABLE public.events (id bigint);\n",
    );
    ws.write(
        "migrations/20240102000000_index.sql",
        "SET lock_timeout = '2s';\nCREATE INDEX events_id ON public.events (id);\n",
    );
    ws.write(
        "policy.toml",
        &policy("fs = [\"./migrations\"]", "paths = [\"migrations\"]", ""),
    );
    let (c, report, err) = eval(&ws, "");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert!(
        !rules(chk).contains(&"create-index-not-concurrently".to_string()),
        "{chk:#}"
    );
    assert_eq!(c, 0, "{err} {report:#}");
}

#[test]
fn the_check_is_listed_and_linted_like_any_other() {
    let ws = Workspace::new();
    let out = ws.gate(&["checks", "list", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let config = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "config")
        .cloned()
        .unwrap();
    let meta = config["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "config.migrations-tested")
        .cloned()
        .expect("listed");
    assert_eq!(meta["params"][0]["name"], "paths");
    assert_eq!(meta["params"][0]["required"], true);

    // policy lint: the missing fs grant and the missing required param.
    ws.write("policy.toml", &policy("env = [\"X\"]", "table = \"t\"", ""));
    let out = ws.gate(&["policy", "lint", "policy.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("config.migrations-tested (gate `preflight`) needs fs"),
        "{text}"
    );
    assert!(text.contains("requires param `paths`"), "{text}");
}

#[test]
fn reading_outside_the_fs_grant_is_an_error_naming_the_grant() {
    let ws = Workspace::new();
    migrations(&ws);
    ws.write(
        "policy.toml",
        &policy("fs = [\"./elsewhere\"]", "paths = [\"migrations\"]", ""),
    );
    std::fs::create_dir_all(ws.path().join("elsewhere")).unwrap();
    let (c, report, err) = eval(&ws, "");
    assert_eq!(c, 1, "{err}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert_eq!(chk["status"], "error");
    let msg = chk["findings"][0]["message"].as_str().unwrap();
    assert!(msg.contains("not granted `fs` access"), "{msg}");
    assert!(msg.contains("add `fs = [\""), "{msg}");
}

#[test]
fn applied_migrations_are_skipped_using_the_sqlx_table() {
    let pg = Postgres::start();
    let reader = pg.monitor_url();
    pg.psql(
        "CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text, success boolean NOT NULL);
         INSERT INTO _sqlx_migrations VALUES (20240101000000, 'index', true);",
    );
    let ws = Workspace::new();
    migrations(&ws);
    ws.write(
        "policy.toml",
        &policy(
            "fs = [\"./migrations\"]\nsql = [\"db\"]",
            "paths = [\"migrations\"], connection = \"db\"",
            "",
        ),
    );
    let (c, report, err) = eval(&ws, &reader);
    assert_eq!(c, 0, "{err} {report:#}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert_eq!(chk["status"], "pass", "{chk:#}");
    let s = summary(chk);
    assert_eq!(s["evidence"]["applied"], "1");
    assert_eq!(s["evidence"]["pending"], "1");
    assert_eq!(s["evidence"]["table"], "_sqlx_migrations");
    assert!(!rules(chk).contains(&"create-index-not-concurrently".to_string()));

    // A failed sqlx run (success = false) does not count as applied.
    pg.psql("UPDATE _sqlx_migrations SET success = false");
    let (c, report, _) = eval(&ws, &reader);
    assert_eq!(c, 1);
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert_eq!(summary(chk)["evidence"]["pending"], "2");

    // Every migration applied: nothing to validate, still a finding.
    pg.psql("UPDATE _sqlx_migrations SET success = true; INSERT INTO _sqlx_migrations VALUES (20240102000000, 'table', true);");
    let (c, report, _) = eval(&ws, &reader);
    assert_eq!(c, 0);
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert!(
        summary(chk)["message"]
            .as_str()
            .unwrap()
            .starts_with("no pending migration"),
        "{chk:#}"
    );
}

#[test]
fn flyway_history_and_a_missing_table() {
    let pg = Postgres::start();
    let reader = pg.monitor_url();
    pg.psql(
        "CREATE TABLE flyway_schema_history (installed_rank int, version varchar(50), success boolean);
         INSERT INTO flyway_schema_history VALUES (1, '1', true);",
    );
    let ws = Workspace::new();
    ws.write(
        "sql/V1__index.sql",
        "SET lock_timeout = '2s';\nCREATE INDEX users_email_idx ON users (email);\n",
    );
    ws.write(
        "sql/V2__table.sql",
        "CREATE TABLE t (id bigint PRIMARY KEY);\n",
    );
    ws.write(
        "policy.toml",
        &policy(
            "fs = [\"./sql\"]\nsql = [\"db\"]",
            "paths = [\"sql\"], connection = \"db\", table = \"flyway_schema_history\"",
            "",
        ),
    );
    let (c, report, err) = eval(&ws, &reader);
    assert_eq!(c, 0, "{err} {report:#}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert_eq!(summary(chk)["evidence"]["applied"], "1");
    assert_eq!(summary(chk)["evidence"]["layout"], "flyway");

    // A table that does not exist: everything is pending, with a warning.
    ws.write(
        "policy.toml",
        &policy(
            "fs = [\"./sql\"]\nsql = [\"db\"]",
            "paths = [\"sql\"], connection = \"db\", table = \"schema_migrations\"",
            "",
        ),
    );
    let (c, report, _) = eval(&ws, &reader);
    assert_eq!(c, 1);
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert!(rules(chk).contains(&"migration-table".to_string()));
    assert_eq!(summary(chk)["evidence"]["pending"], "2");
}

#[test]
fn the_connection_needs_the_sql_grant() {
    let ws = Workspace::new();
    migrations(&ws);
    ws.write(
        "policy.toml",
        &policy(
            "fs = [\"./migrations\"]",
            "paths = [\"migrations\"], connection = \"db\"",
            "",
        ),
    );
    let (c, report, err) = eval(&ws, "postgres://unused@127.0.0.1:1/x");
    assert_eq!(c, 1, "{err}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert_eq!(chk["status"], "error");
    let msg = chk["findings"][0]["message"].as_str().unwrap();
    assert!(msg.contains("not granted `sql` access to `db`"), "{msg}");
    assert!(msg.contains("add `sql = [\"db\"]`"), "{msg}");
}

#[test]
fn migrations_table_settings_are_inherited() {
    let ws = Workspace::new();
    ws.write(
        "migrations/1_default.sql",
        "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN score integer DEFAULT 0;\n",
    );
    ws.write(
        "policy.toml",
        &policy(
            "fs = [\"./migrations\"]",
            "paths = [\"migrations\"]",
            "[migrations]\npg_version = 10\n",
        ),
    );
    let (c, report, err) = eval(&ws, "");
    assert_eq!(c, 1, "{err} {report:#}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert!(rules(chk).contains(&"add-column-volatile-default".to_string()));
}

#[test]
fn pending_migrations_are_traced_on_a_scratch_connection() {
    let pg = Postgres::start();
    pg.psql("CREATE TABLE users (id bigint PRIMARY KEY, email text);");
    let ws = Workspace::new();
    ws.write(
        "migrations/20240101000000_nickname.sql",
        "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN nickname text;\n",
    );
    let with_scratch = |scratch: bool| {
        policy(
            "fs = [\"./migrations\"]\nsql = [\"trace\"]",
            "paths = [\"migrations\"], trace_connection = \"trace\"",
            &format!(
                "[connections.trace]\nkind = \"postgres\"\nurl_env = \"{URL_ENV}\"\nscratch = {scratch}\n"
            ),
        )
    };
    ws.write("policy.toml", &with_scratch(true));
    let (c, report, err) = eval(&ws, &pg.url);
    assert_eq!(c, 0, "{err} {report:#}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    let traced = chk["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "trace:blocking-lock")
        .unwrap_or_else(|| panic!("{chk:#}"));
    assert_eq!(traced["status"], "warn");
    assert_eq!(traced["location"]["line"], 2);
    assert!(
        traced["evidence"]["locks"]
            .as_str()
            .unwrap()
            .contains("AccessExclusiveLock on public.users")
    );
    // Rolled back.
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'nickname'"),
        "0"
    );

    // Not a scratch connection: the check cannot trace, an error.
    ws.write("policy.toml", &with_scratch(false));
    let (c, report, _) = eval(&ws, &pg.url);
    assert_eq!(c, 1);
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert_eq!(chk["status"], "error");
    assert!(
        chk["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not marked `scratch = true`"),
        "{chk:#}"
    );
}

#[test]
fn golang_migrate_records_only_the_current_version() {
    let pg = Postgres::start();
    let reader = pg.monitor_url();
    pg.psql(
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
         INSERT INTO schema_migrations VALUES (2, false);",
    );
    let ws = Workspace::new();
    ws.write("go.mod", "module example.com/app\n");
    for (v, sql) in [
        (1, "CREATE INDEX users_email_idx ON users (email);"),
        (2, "CREATE INDEX users_name_idx ON users (name);"),
        (3, "CREATE TABLE t (id bigint PRIMARY KEY);"),
    ] {
        ws.write(
            &format!("db/00000{v}_m.up.sql"),
            &format!("SET lock_timeout = '2s';\n{sql}\n"),
        );
        ws.write(&format!("db/00000{v}_m.down.sql"), "SELECT 1;\n");
    }
    ws.write(
        "policy.toml",
        &policy(
            "fs = [\"./db\"]\nsql = [\"db\"]",
            "paths = [\"db\"], connection = \"db\", table = \"schema_migrations\"",
            "",
        ),
    );
    let (c, report, err) = eval(&ws, &reader);
    assert_eq!(c, 0, "{err} {report:#}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert_eq!(summary(chk)["evidence"]["layout"], "golang-migrate");
    assert_eq!(summary(chk)["evidence"]["applied"], "2");
    assert_eq!(summary(chk)["evidence"]["pending"], "1");

    // Version 2 is dirty (failed half-way): 1 is applied, 2 and 3 are pending.
    pg.psql("UPDATE schema_migrations SET dirty = true");
    let (c, report, _) = eval(&ws, &reader);
    assert_eq!(c, 1);
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert_eq!(summary(chk)["evidence"]["applied"], "1");
    assert_eq!(summary(chk)["evidence"]["pending"], "2");
}

#[test]
fn a_symlink_out_of_the_grant_is_denied() {
    let ws = Workspace::new();
    migrations(&ws);
    ws.write("outside/secret.sql", "SELECT 1;\n");
    std::os::unix::fs::symlink(
        ws.path().join("outside/secret.sql"),
        ws.path().join("migrations/20240103000000_link.sql"),
    )
    .unwrap();
    ws.write(
        "policy.toml",
        &policy("fs = [\"./migrations\"]", "paths = [\"migrations\"]", ""),
    );
    let (c, report, err) = eval(&ws, "");
    assert_eq!(c, 1, "{err}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert_eq!(chk["status"], "error");
    let msg = chk["findings"][0]["message"].as_str().unwrap();
    assert!(msg.contains("not granted `fs` access"), "{msg}");
}

/// An expand/contract migration in progress on the connection is reported
/// (its phase and both versions' search_path); a pending SQL migration that
/// alters one of its tables fails at that statement's line, one that alters
/// another table does not; and a failed validation fails the check.
#[test]
fn an_expand_contract_migration_in_progress_is_known() {
    let pg = Postgres::start();
    let reader = pg.monitor_url();
    pg.psql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text);
         INSERT INTO users SELECT g, 'User ' || g FROM generate_series(1, 100) g;
         UPDATE users SET name = NULL WHERE id = 7;
         CREATE TABLE orders (id bigint PRIMARY KEY);
         CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text, success boolean NOT NULL);",
    );
    let ws = Workspace::new();
    ws.write(
        "name_not_null.toml",
        "name = \"name_not_null\"\n\n[[operation]]\nset_not_null = { table = \"users\", column = \"name\" }\n",
    );
    ws.write(
        "migrations/20240101000000_orders.sql",
        "SET lock_timeout = '2s';\nALTER TABLE orders ADD COLUMN note text;\n",
    );
    ws.write(
        "migrations/20240102000000_users.sql",
        "SET lock_timeout = '2s';\n\nALTER TABLE public.users ADD COLUMN nickname text;\n",
    );
    ws.write(
        "policy.toml",
        &policy(
            "fs = [\"./migrations\"]\nsql = [\"db\"]",
            "paths = [\"migrations\"], connection = \"db\"",
            "",
        ),
    );
    // Nothing in progress: no expand/contract finding.
    let (c, report, err) = eval(&ws, &reader);
    assert_eq!(c, 0, "{err} {report:#}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert!(!rules(chk).iter().any(|r| r.starts_with("expand-contract")));

    // Row 7 has no name: the validation at the end of start fails.
    let out = ws.gate_env(
        &["migrate", "start", "name_not_null.toml"],
        &[("DATABASE_URL", &pg.url)],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let (c, report, err) = eval(&ws, &reader);
    assert_eq!(c, 1, "{err} {report:#}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    let finding = |rule: &str| -> Vec<serde_json::Value> {
        chk["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == rule)
            .cloned()
            .collect()
    };
    let progress = &finding("expand-contract-in-progress")[0];
    assert_eq!(progress["status"], "warn");
    assert_eq!(progress["evidence"]["migration"], "name_not_null");
    assert_eq!(progress["evidence"]["phase"], "backfilled");
    assert!(
        progress["evidence"]["new_version"]
            .as_str()
            .unwrap()
            .contains("name_not_null"),
        "{progress:#}"
    );
    let conflicts = finding("expand-contract-conflict");
    assert_eq!(conflicts.len(), 1, "{chk:#}");
    assert_eq!(conflicts[0]["status"], "fail");
    assert_eq!(
        conflicts[0]["location"]["file"],
        "migrations/20240102000000_users.sql"
    );
    assert_eq!(conflicts[0]["location"]["line"], 3);
    let validation = finding("expand-contract-validation");
    assert_eq!(validation.len(), 1, "{chk:#}");
    assert_eq!(validation[0]["status"], "fail");
    assert!(
        validation[0]["evidence"]["failures"]
            .as_str()
            .unwrap()
            .contains("id=7"),
        "{validation:#?}"
    );

    // The row fixed and validated again: only the migration in progress and the conflict.
    pg.psql("UPDATE users SET name = 'seven' WHERE id = 7");
    let out = ws.gate_env(&["migrate", "validate"], &[("DATABASE_URL", &pg.url)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (_, report, _) = eval(&ws, &reader);
    let chk = check(&report, "preflight", "config.migrations-tested");
    let r = rules(chk);
    assert!(
        r.contains(&"expand-contract-in-progress".to_string()),
        "{r:?}"
    );
    assert!(
        !r.contains(&"expand-contract-validation".to_string()),
        "{r:?}"
    );

    // Once the migration is contracted, nothing is in progress.
    let out = ws.gate_env(&["migrate", "complete"], &[("DATABASE_URL", &pg.url)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (c, report, err) = eval(&ws, &reader);
    assert_eq!(c, 0, "{err} {report:#}");
    let chk = check(&report, "preflight", "config.migrations-tested");
    assert!(!rules(chk).iter().any(|r| r.starts_with("expand-contract")));
}
