//! `gate migrate lint` over a migration history: each migration judged after
//! the ones before it by default, and a pending set with `--applied-through`
//! or `--base` (a real git repository in a temp dir, the real `git` binary).

mod common;

use common::*;

/// A sqlx history: `store` is created, then indexed by a later migration
/// (it holds data by then); `events` is created and indexed in one file,
/// then indexed again by the next one.
const HISTORY: &[(&str, &str)] = &[
    (
        "20231201000000_create_store.sql",
        "CREATE TABLE public.store (id bigint PRIMARY KEY, k text);\n",
    ),
    (
        "20231203000000_store_index.sql",
        "CREATE UNIQUE INDEX record_uniq ON public.store (k);\n",
    ),
    (
        "20240101000000_create_events.sql",
        "CREATE TABLE public.events (id bigint, at timestamptz);\n\
         CREATE INDEX events_at ON public.events (at);\n",
    ),
    (
        "20240102000000_events_index.sql",
        "CREATE INDEX events_id ON public.events (id);\n",
    ),
];

fn history(ws: &Workspace, files: &[(&str, &str)]) {
    for (name, sql) in files {
        ws.write(&format!("migrations/{name}"), sql);
    }
}

/// (file, object) of every create-index-not-concurrently finding.
fn index_findings(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["gates"][0]["checks"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "create-index-not-concurrently")
        .map(|f| {
            let file = f["file"].as_str().unwrap_or("");
            let file = file.rsplit('/').next().unwrap_or(file);
            (
                file.to_string(),
                f["evidence"]["object"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pair(file: &str, object: &str) -> (String, String) {
    (file.to_string(), object.to_string())
}

fn pending(report: &serde_json::Value) -> Vec<String> {
    report["lint_scope"]["pending"]
        .as_array()
        .expect("lint_scope.pending")
        .iter()
        .map(|p| p.as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect()
}

#[test]
fn by_default_each_migration_is_judged_after_the_ones_before_it() {
    let ws = Workspace::new();
    history(&ws, HISTORY);
    let out = ws.gate(&["migrate", "lint", "--format", "json", "migrations"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json(&out);
    // `store` and `events` exist and hold data when the later files run;
    // `events_at` is built in the file that creates `events`.
    assert_eq!(
        index_findings(&report),
        vec![
            pair("20231203000000_store_index.sql", "record_uniq"),
            pair("20240102000000_events_index.sql", "events_id"),
        ]
    );
    assert_eq!(report["lint_scope"]["mode"], "per-migration");
    assert_eq!(report["lint_scope"]["boundary"], serde_json::Value::Null);
    assert_eq!(report["lint_scope"]["applied"], 0);
    assert_eq!(pending(&report).len(), 4);

    let human = ws.gate(&["migrate", "lint", "migrations"]);
    let text = stdout(&human);
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.starts_with("mode per-migration: each of 4 migrations")),
        "{text}"
    );
}

#[test]
fn applied_through_makes_the_rest_one_pending_set() {
    let ws = Workspace::new();
    history(&ws, HISTORY);
    let out = ws.gate(&[
        "migrate",
        "lint",
        "--format",
        "json",
        "--applied-through",
        "20231203000000",
        "migrations",
    ]);
    // `events` is created in the pending set, so indexing it blocks nobody;
    // the applied store index is not judged again.
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let report = json(&out);
    assert_eq!(index_findings(&report), vec![]);
    assert_eq!(report["lint_scope"]["mode"], "applied-through");
    assert_eq!(report["lint_scope"]["boundary"], "20231203000000");
    assert_eq!(report["lint_scope"]["applied"], 2);
    assert_eq!(
        pending(&report),
        vec![
            "20240101000000_create_events.sql",
            "20240102000000_events_index.sql"
        ]
    );

    // With `events` applied too, its new index is flagged.
    let out = ws.gate(&[
        "migrate",
        "lint",
        "--format",
        "json",
        "--applied-through",
        "20240101000000",
        "migrations",
    ]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        index_findings(&json(&out)),
        vec![pair("20240102000000_events_index.sql", "events_id")]
    );

    let human = ws.gate(&[
        "migrate",
        "lint",
        "--applied-through",
        "20231203000000",
        "migrations",
    ]);
    let text = stdout(&human);
    assert!(
        text.contains("mode applied-through (applied through 20231203000000): pending set of 2 migrations, judged as one deploy; 2 applied, not judged: migrations/20240101000000_create_events.sql, migrations/20240102000000_events_index.sql"),
        "{text}"
    );
}

#[test]
fn applied_through_an_unknown_version_is_a_usage_error() {
    let ws = Workspace::new();
    history(&ws, HISTORY);
    let out = ws.gate(&[
        "migrate",
        "lint",
        "--applied-through",
        "20230101000000",
        "migrations",
    ]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("--applied-through 20230101000000: no migration has that version")
            && err.contains("20231201000000, 20231203000000"),
        "{err}"
    );
}

fn git(ws: &Workspace, args: &[&str]) {
    common::git(ws.path(), args);
}

#[test]
fn base_makes_the_files_a_branch_adds_the_pending_set() {
    let ws = Workspace::new();
    git(&ws, &["init", "-q", "-b", "main"]);
    history(&ws, &HISTORY[..2]);
    git(&ws, &["add", "migrations"]);
    git(&ws, &["commit", "-q", "-m", "store"]);
    // The pull request adds the events migrations.
    git(&ws, &["checkout", "-q", "-b", "feature"]);
    history(&ws, &HISTORY[2..]);
    git(&ws, &["add", "migrations"]);
    git(&ws, &["commit", "-q", "-m", "events"]);

    let out = ws.gate(&[
        "migrate",
        "lint",
        "--format",
        "json",
        "--base",
        "main",
        "migrations",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let report = json(&out);
    assert_eq!(index_findings(&report), vec![]);
    assert_eq!(report["lint_scope"]["mode"], "base");
    assert_eq!(report["lint_scope"]["boundary"], "main");
    assert_eq!(report["lint_scope"]["applied"], 2);
    assert_eq!(
        pending(&report),
        vec![
            "20240101000000_create_events.sql",
            "20240102000000_events_index.sql"
        ]
    );

    // An uncommitted file counts as pending too; the store index does not.
    ws.write(
        "migrations/20240103000000_store_again.sql",
        "CREATE INDEX store_id ON public.store (id);\n",
    );
    let out = ws.gate(&[
        "migrate",
        "lint",
        "--format",
        "json",
        "--base",
        "feature",
        "migrations",
    ]);
    assert_eq!(code(&out), 1);
    let report = json(&out);
    assert_eq!(pending(&report), vec!["20240103000000_store_again.sql"]);
    assert_eq!(
        index_findings(&report),
        vec![pair("20240103000000_store_again.sql", "store_id")]
    );

    let out = ws.gate(&["migrate", "lint", "--base", "no-such-ref", "migrations"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--base no-such-ref: not a commit of the git repository"),
        "{}",
        stderr(&out)
    );
}
