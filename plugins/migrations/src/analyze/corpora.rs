//! Runs for the tests that hold a run's pieces (replays, parts) to the run
//! in one piece: every rule case, all of them as one long run under
//! several configs, hand-written runs whose later files depend on earlier
//! ones, the repository's sqlx fixtures, and generated runs of statements
//! that create, alter, roll back and validate the same few objects.

use crate::MigrationFile;
use crate::rules::cases;

/// A run to validate: its name (for failures), files and config.
pub(super) struct Run {
    pub(super) name: String,
    pub(super) files: Vec<MigrationFile>,
    pub(super) config: String,
}

fn file(path: &str, sql: &str, in_transaction: bool) -> MigrationFile {
    MigrationFile {
        path: path.to_string(),
        contents: sql.to_string(),
        first_line: 1,
        in_transaction,
    }
}

/// The configs every multi-file run is validated under.
const CONFIGS: &[&str] = &[
    "",
    r#"{"scope": "run"}"#,
    r#"{"scope": "migration"}"#,
    r#"{"scope": "run", "exclude": ["parse-coverage"]}"#,
    r#"{"exclude": ["parse-coverage", "file-summary", "unused-ignore"]}"#,
    r#"{"scope": "run", "include": ["require-statement-timeout", "require-table-schema"]}"#,
    r#"{"scope": "run", "pg_version": 11, "assume_in_transaction": true}"#,
];

/// Configs the validator refuses.
pub(super) const BAD_CONFIGS: &[&str] = &[
    "not json",
    "[1]",
    r#"{"scope": "pending"}"#,
    r#"{"exclude": ["no-such-rule"]}"#,
];

/// Every run the tests hold to the run in one piece, with valid configs.
pub(super) fn runs() -> Vec<Run> {
    let mut out: Vec<Run> = cases::runs()
        .into_iter()
        .map(|(name, files, config)| Run {
            name,
            files,
            config,
        })
        .collect();
    let sets = [
        ("every case in one run", every_case()),
        ("dependent files", dependent()),
        ("sqlx fixtures", fixtures()),
        ("no file", Vec::new()),
        (
            "one file",
            vec![file("1.sql", "CREATE TABLE t (id int);", true)],
        ),
        (
            "empty files",
            vec![file("1.sql", "", true), file("2.sql", "", false)],
        ),
    ];
    let generated = (1..=12).map(|seed| (format!("generated {seed}"), generated(seed)));
    let sets = sets
        .into_iter()
        .map(|(name, files)| (name.to_string(), files))
        .chain(generated);
    for (name, files) in sets {
        for config in CONFIGS {
            out.push(Run {
                name: format!("{name} with `{config}`"),
                files: files.clone(),
                config: config.to_string(),
            });
        }
    }
    out
}

/// The files of every rule case, in registry order, as one run.
fn every_case() -> Vec<MigrationFile> {
    cases::runs()
        .into_iter()
        .flat_map(|(_, files, _)| files)
        .collect()
}

/// Files whose findings depend on what earlier files did: a table created
/// in one file and altered two files later, a NOT VALID check validated in
/// a later file before SET NOT NULL, objects a rolled-back transaction
/// created, renamed objects, a type and an index used files later.
fn dependent() -> Vec<MigrationFile> {
    vec![
        file(
            "001.sql",
            "CREATE TABLE accounts (id bigint, email text);\nCREATE TYPE mood AS ENUM ('ok');\nCREATE INDEX accounts_email ON accounts (email);",
            true,
        ),
        file(
            "002.sql",
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;",
            true,
        ),
        file(
            "003.sql",
            "ALTER TABLE accounts ADD COLUMN nick text NOT NULL DEFAULT 'x';\nALTER TABLE accounts ALTER COLUMN id TYPE text;\nALTER TYPE mood ADD VALUE 'meh';\nDROP INDEX accounts_email;",
            true,
        ),
        file(
            "004.sql",
            "ALTER TABLE users VALIDATE CONSTRAINT email_nn;",
            true,
        ),
        file(
            "005.sql",
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\nALTER TABLE orders ALTER COLUMN total SET NOT NULL;",
            true,
        ),
        file(
            "006.sql",
            "BEGIN;\nCREATE TABLE scratch (id int);\nCREATE INDEX scratch_id ON scratch (id);\nROLLBACK;\nBEGIN;\nCREATE TABLE kept (id int);\nCOMMIT;",
            false,
        ),
        file(
            "007.sql",
            "ALTER TABLE scratch ADD COLUMN x int DEFAULT random();\nALTER TABLE kept ADD COLUMN x int DEFAULT random();\nDROP INDEX scratch_id;",
            true,
        ),
        file(
            "008.sql",
            "ALTER TABLE accounts RENAME TO members;\nALTER INDEX accounts_email RENAME TO members_email;\nSELECT * INTO archive FROM members;",
            true,
        ),
        file(
            "009.sql",
            "ALTER TABLE members ADD CONSTRAINT nick_nn CHECK (nick IS NOT NULL);\nALTER TABLE members ALTER COLUMN nick SET NOT NULL;\nALTER TABLE archive DROP COLUMN email;\nDROP TABLE members;",
            true,
        ),
        file(
            "010.sql",
            "ALTER TABLE orders ADD CONSTRAINT total_nn CHECK (total IS NOT NULL) NOT VALID;\nCOMMIT;\nALTER TABLE orders VALIDATE CONSTRAINT total_nn;\nBEGIN;",
            true,
        ),
        file(
            "011.sql",
            "ALTER TABLE orders ALTER COLUMN total SET NOT NULL;\nALTER TYPE mood RENAME VALUE 'ok' TO 'fine';",
            true,
        ),
    ]
}

/// The sqlx fixtures of the repository's tests, in name order.
fn fixtures() -> Vec<MigrationFile> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/migrations/sqlx");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures in {}", dir.display());
    paths
        .iter()
        .map(|p| {
            let sql = std::fs::read_to_string(p).unwrap();
            file(&p.display().to_string(), &sql, true)
        })
        .collect()
}

/// Statements over a few tables (`t0`…), columns and constraints (`c0`…,
/// `k0`…), indexes, types and domains; `{a}` and `{b}` pick which.
const STATEMENTS: &[&str] = &[
    "CREATE TABLE t{a} (id bigint, c{b} text);",
    "CREATE TABLE IF NOT EXISTS app.t{a} (id int);",
    "ALTER TABLE t{a} ADD COLUMN c{b} text;",
    "ALTER TABLE t{a} ADD CONSTRAINT k{b} CHECK (c{b} IS NOT NULL) NOT VALID;",
    "ALTER TABLE t{a} ADD CONSTRAINT k{b} CHECK (c{b} IS NOT NULL);",
    "ALTER TABLE t{a} VALIDATE CONSTRAINT k{b};",
    "ALTER TABLE t{a} ALTER COLUMN c{b} SET NOT NULL;",
    "ALTER TABLE t{a} RENAME TO t{b};",
    "ALTER TABLE app.t{a} ALTER COLUMN c{b} TYPE bigint;",
    "CREATE INDEX i{b} ON t{a} (c{b});",
    "CREATE INDEX CONCURRENTLY i{b} ON app.t{a} (id);",
    "ALTER INDEX i{a} RENAME TO i{b};",
    "DROP INDEX i{a};",
    "DROP TABLE t{a};",
    "CREATE TYPE e{a} AS ENUM ('x');",
    "ALTER TYPE e{a} ADD VALUE 'v{b}';",
    "CREATE DOMAIN d{a} AS text;",
    "ALTER DOMAIN d{a} ADD CONSTRAINT k{b} CHECK (VALUE <> '');",
    "SELECT * INTO t{a} FROM t{b};",
    "BEGIN;",
    "COMMIT;",
    "ROLLBACK;",
    "SET lock_timeout = '1s';",
    "UPDATE t{a} SET c{b} = 1;",
    "-- gate:ignore set-not-null,adding-field-with-default checked\nALTER TABLE t{a} ALTER COLUMN c{b} SET NOT NULL;",
    "DROP INDEX CONCURRENTLY IF EXISTS i{a};",
];

/// A run of up to 12 files of up to 8 statements each from [`STATEMENTS`],
/// drawn by a linear congruential generator seeded with `seed`.
fn generated(seed: u64) -> Vec<MigrationFile> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % n as u64) as usize
    };
    let files = 1 + next(12);
    (0..files)
        .map(|k| {
            let sql: Vec<String> = (0..next(9))
                .map(|_| {
                    let template = STATEMENTS[next(STATEMENTS.len())];
                    template
                        .replace("{a}", &next(4).to_string())
                        .replace("{b}", &next(4).to_string())
                })
                .collect();
            file(&format!("{k:03}.sql"), &sql.join("\n"), next(3) > 0)
        })
        .collect()
}
