//! `gate migrate lint`, `plan` and `rules` end to end: the real binary and
//! the real validator component over fixture migrations.

mod common;

use std::path::Path;

use common::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/migrations");

/// Copies `tests/fixtures/migrations/<name>` into the workspace as `<name>`.
fn fixture(ws: &Workspace, name: &str) {
    copy_dir(&Path::new(FIXTURES).join(name), &ws.path().join(name));
}

fn findings(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["gates"][0]["checks"][0]["findings"]
        .as_array()
        .expect("findings")
        .clone()
}

fn by_rule<'a>(fs: &'a [serde_json::Value], rule: &str) -> Vec<&'a serde_json::Value> {
    fs.iter().filter(|f| f["rule"] == rule).collect()
}

#[test]
fn lint_json_has_flat_fields_and_exits_1_on_a_blocking_finding() {
    let ws = Workspace::new();
    fixture(&ws, "sqlx");
    let out = ws.gate(&["migrate", "lint", "--format", "json", "sqlx"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["gates"][0]["name"], "migrations");
    let check = &report["gates"][0]["checks"][0];
    assert_eq!(check["id"], "migrations.lint");
    assert_eq!(check["status"], "fail");
    assert_eq!(check["blocking"], true);
    let fs = findings(&report);
    let index = by_rule(&fs, "create-index-not-concurrently");
    assert_eq!(index.len(), 1, "{fs:#?}");
    let f = index[0];
    assert_eq!(f["status"], "fail");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["file"], "sqlx/20240101000000_add_index.sql");
    assert_eq!(f["line"], 3);
    assert_eq!(f["location"]["line"], 3);
    assert_eq!(f["classification"], "expand");
    assert_eq!(f["evidence"]["classification"], "expand");
    assert!(f["message"].as_str().unwrap().len() > 10);
    assert!(f["remediation"].is_string());
    // The breaking rename carries its expand/contract plan.
    let rename = by_rule(&fs, "rename-column");
    assert_eq!(rename[0]["classification"], "breaking");
    assert_eq!(rename[0]["file"], "sqlx/20240104000000_rename.sql");
    let plan: Vec<String> =
        serde_json::from_str(rename[0]["evidence"]["plan"].as_str().unwrap()).unwrap();
    assert!(plan.len() >= 2, "{plan:?}");
    // Every file has a summary; one parse-coverage finding per run.
    assert_eq!(by_rule(&fs, "file-summary").len(), 4);
    assert_eq!(by_rule(&fs, "parse-coverage").len(), 1);
}

#[test]
fn inline_ignore_skips_with_its_reason_and_unused_ignores_warn() {
    let ws = Workspace::new();
    fixture(&ws, "sqlx");
    let out = ws.gate(&[
        "migrate",
        "lint",
        "--format",
        "json",
        "sqlx/20240102000000_drop_column.sql",
    ]);
    // Only a skip and a warning: exit 0.
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let fs = findings(&json(&out));
    let drop = by_rule(&fs, "drop-column");
    assert_eq!(drop[0]["status"], "skip");
    assert_eq!(
        drop[0]["evidence"]["ignored"],
        "the column was unused since release 41"
    );
    let unused = by_rule(&fs, "unused-ignore");
    assert_eq!(unused.len(), 1, "{fs:#?}");
    assert_eq!(unused[0]["status"], "warn");
    assert_eq!(unused[0]["line"], 4);
}

#[test]
fn non_transactional_file_is_passed_as_such() {
    let ws = Workspace::new();
    fixture(&ws, "sqlx");
    let out = ws.gate(&[
        "migrate",
        "lint",
        "--format",
        "json",
        "sqlx/20240103000000_concurrently.sql",
    ]);
    let fs = findings(&json(&out));
    // `-- no-transaction`: CONCURRENTLY is allowed, so no concurrently-in-transaction.
    assert!(
        by_rule(&fs, "concurrently-in-transaction").is_empty(),
        "{fs:#?}"
    );
    assert_eq!(
        by_rule(&fs, "file-summary")[0]["evidence"]["in_transaction"],
        "false"
    );

    // The same statement in a file run inside a transaction is flagged.
    ws.write(
        "tx/20240101000000_idx.sql",
        "SET lock_timeout = '1s';\nCREATE INDEX CONCURRENTLY i ON users (name);\n",
    );
    let out = ws.gate(&["migrate", "lint", "--format", "json", "tx"]);
    let fs = findings(&json(&out));
    assert_eq!(
        by_rule(&fs, "concurrently-in-transaction").len(),
        1,
        "{fs:#?}"
    );
}

#[test]
fn migrations_table_sets_pg_version_and_exclude() {
    let ws = Workspace::new();
    ws.write(
        "m/1_default.sql",
        "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN score integer DEFAULT 0;\n",
    );
    let policy = |body: &str| format!("[policy]\nname = \"m\"\n\n[migrations]\n{body}\n");
    ws.write("pg10.toml", &policy("pg_version = 10"));
    ws.write("pg15.toml", &policy("pg_version = 15"));
    ws.write(
        "excluded.toml",
        &policy("pg_version = 10\nexclude = [\"add-column-volatile-default\"]"),
    );

    let out = ws.gate(&[
        "migrate",
        "lint",
        "--policy",
        "pg10.toml",
        "-f",
        "json",
        "m",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let fs = findings(&json(&out));
    let hit = by_rule(&fs, "add-column-volatile-default");
    assert_eq!(hit.len(), 1, "{fs:#?}");
    assert_eq!(hit[0]["evidence"]["pg_version"], "10");
    assert_eq!(json(&out)["policy"], "m");

    // From PostgreSQL 11 a constant default is a catalog-only change.
    let out = ws.gate(&[
        "migrate",
        "lint",
        "--policy",
        "pg15.toml",
        "-f",
        "json",
        "m",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(by_rule(&findings(&json(&out)), "add-column-volatile-default").is_empty());

    let out = ws.gate(&[
        "migrate",
        "lint",
        "--policy",
        "excluded.toml",
        "-f",
        "json",
        "m",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(by_rule(&findings(&json(&out)), "add-column-volatile-default").is_empty());
}

#[test]
fn paths_come_from_the_policy_when_none_are_given() {
    let ws = Workspace::new();
    fixture(&ws, "sqlx");
    ws.write(
        "policy.toml",
        "[policy]\nname = \"m\"\n\n[migrations]\npaths = [\"sqlx\"]\n",
    );
    let out = ws.gate(&["migrate", "lint", "--policy", "policy.toml", "-f", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(by_rule(&findings(&json(&out)), "file-summary").len(), 4);

    let out = ws.gate(&["migrate", "lint"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no migration paths"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_migrations_config_is_a_policy_error_with_location_and_suggestion() {
    let ws = Workspace::new();
    fixture(&ws, "sqlx");
    ws.write(
        "bad.toml",
        "[policy]\nname = \"m\"\n\n[migrations]\npg_version = 5\nexclude = [\"Bad_Rule\"]\nassume_in_transactions = true\n",
    );
    let out = ws.gate(&["migrate", "lint", "--policy", "bad.toml", "sqlx"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("bad.toml:5:14: error: `pg_version = 5`"),
        "{err}"
    );
    assert!(
        err.contains("bad.toml:6:12: error: invalid rule id `Bad_Rule`"),
        "{err}"
    );
    assert!(err.contains("did you mean `bad-rule`?"), "{err}");
    assert!(
        err.contains("bad.toml:7:1: error: unknown key `assume_in_transactions` in [migrations]"),
        "{err}"
    );
    assert!(
        err.contains("did you mean `assume_in_transaction`?"),
        "{err}"
    );

    // A well-formed id the validator does not know: caught once it loads.
    ws.write(
        "typo.toml",
        "[policy]\nname = \"m\"\n\n[migrations]\nexclude = [\"prefer-bigints\"]\n",
    );
    let out = ws.gate(&["migrate", "lint", "--policy", "typo.toml", "sqlx"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("typo.toml:5:12: unknown rule `prefer-bigints`"),
        "{err}"
    );
    assert!(err.contains("did you mean `prefer-bigint`?"), "{err}");
}

#[test]
fn missing_path_and_bad_layout_are_usage_errors() {
    let ws = Workspace::new();
    let out = ws.gate(&["migrate", "lint", "nope"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("nope: no such file or directory"));
    let out = ws.gate(&["migrate", "lint", "--layout", "liquibase", "x"]);
    assert_eq!(code(&out), 2);
    // A directory without migrations is most likely the wrong path.
    std::fs::create_dir_all(ws.path().join("empty")).unwrap();
    ws.write("empty/README.md", "nothing here");
    let out = ws.gate(&["migrate", "lint", "empty"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no SQL migrations found under empty"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn clean_migrations_exit_0() {
    let ws = Workspace::new();
    ws.write(
        "m/20240101000000_create.sql",
        "CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);\n",
    );
    let out = ws.gate(&["migrate", "lint", "-f", "json", "m"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(json(&out)["verdict"], "pass");
}

#[test]
fn every_report_format_renders() {
    let ws = Workspace::new();
    fixture(&ws, "sqlx");
    // json is checked on its own below (written to a file).
    let formats =
        gate_eval::report::Format::all().filter(|&f| f != gate_eval::report::Format::Json);
    for format in formats.map(|f| f.name()) {
        let out = ws.gate(&["migrate", "lint", "--format", format, "sqlx"]);
        assert_eq!(code(&out), 1, "{format}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("20240101000000_add_index.sql"),
            "{format}: {}",
            stdout(&out)
        );
    }
    let out = ws.gate(&["migrate", "lint", "-f", "json", "-o", "out.json", "sqlx"]);
    assert_eq!(code(&out), 1);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("out.json")).unwrap())
            .unwrap();
    assert_eq!(written["verdict"], "fail");
}

#[test]
fn human_lint_report_snapshot() {
    let ws = Workspace::new();
    fixture(&ws, "sqlx");
    let out = ws.gate_env(
        &["migrate", "lint", "sqlx"],
        &[("GATE_TEST_NOW", "2026-11-26T12:00:00Z")],
    );
    assert_eq!(code(&out), 1);
    // Durations vary from run to run.
    let text = regex_lite(&stdout(&out));
    insta::assert_snapshot!("migrate_lint_human", text);
}

/// Replaces `N ms` with `_ ms`.
fn regex_lite(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(" ms") {
        let head = &rest[..i];
        let digits = head.chars().rev().take_while(char::is_ascii_digit).count();
        out.push_str(&head[..head.len() - digits]);
        out.push_str(if digits > 0 { "_ ms" } else { " ms" });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

#[test]
fn plan_prints_phases_and_numbered_safe_sequences() {
    let ws = Workspace::new();
    fixture(&ws, "sqlx");
    let out = ws.gate(&["migrate", "plan", "sqlx"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("sqlx/20240103000000_concurrently.sql (sqlx, outside a transaction)"),
        "{text}"
    );
    assert!(text.contains("sqlx/20240101000000_add_index.sql (sqlx, in a transaction)"));
    let rename = text
        .split("\n\n")
        .find(|b| b.starts_with("sqlx/20240104000000_rename.sql"))
        .unwrap();
    assert!(
        rename.contains("L2  breaking  ALTER TABLE users RENAME COLUMN name TO full_name"),
        "{rename}"
    );
    assert!(rename.contains("L2 rename-column [breaking]"), "{rename}");
    assert!(rename.contains("      1. "), "{rename}");
    assert!(rename.contains("      2. "), "{rename}");
    assert!(rename.contains("phases: 1 expand, 1 breaking") || rename.contains("breaking"));
}

#[test]
fn rules_lists_the_validator_rules() {
    let ws = Workspace::new();
    let out = ws.gate(&["migrate", "rules", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rules = json(&out);
    let ids: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in [
        "create-index-not-concurrently",
        "rename-column",
        "parse-error",
        "unused-ignore",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(rules[0]["default_severity"].is_string());
    let out = ws.gate(&["migrate", "rules"]);
    assert!(stdout(&out).contains("create-index-not-concurrently"));
}

#[test]
fn check_plugins_do_not_list_the_validator() {
    let ws = Workspace::new();
    let out = ws.gate(&["checks", "list", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let ids: Vec<String> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!ids.contains(&"migrations".to_string()), "{ids:?}");
}

#[test]
fn help_snapshots() {
    let ws = Workspace::new();
    for args in [
        &["migrate", "--help"][..],
        &["migrate", "lint", "--help"],
        &["migrate", "plan", "--help"],
        &["migrate", "rules", "--help"],
        &["migrate", "trace", "--help"],
        &["migrate", "start", "--help"],
        &["migrate", "validate", "--help"],
        &["migrate", "complete", "--help"],
        &["migrate", "rollback", "--help"],
        &["migrate", "status", "--help"],
        &["migrate", "set-rate", "--help"],
    ] {
        let out = ws.gate(args);
        assert_eq!(code(&out), 0);
        insta::assert_snapshot!(
            format!("help_{}", args[..args.len() - 1].join("_")),
            help_text(&out)
        );
    }
}

#[test]
fn policy_lint_checks_migrations_rule_ids() {
    let ws = Workspace::new();
    let policy = |exclude: &str| {
        format!(
            "[policy]\nname = \"m\"\n\n[[gate]]\nname = \"g\"\nchecks = [\"config.env-vars\"]\n\n\
             [migrations]\nexclude = [\"{exclude}\"]\n"
        )
    };
    ws.write("typo.toml", &policy("prefer-bigints"));
    let out = ws.gate(&["policy", "lint", "typo.toml"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("typo.toml:9:12: unknown rule `prefer-bigints`"),
        "{}",
        stderr(&out)
    );
    ws.write("ok.toml", &policy("prefer-bigint"));
    let out = ws.gate(&["policy", "lint", "ok.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn dbmate_sections_report_lines_of_the_whole_file() {
    let ws = Workspace::new();
    ws.write(
        "db/migrations/20240101000000_index.sql",
        "-- migrate:up\nSET lock_timeout = '2s';\nCREATE INDEX users_email_idx ON users (email);\n\n\
         -- migrate:down\nDROP INDEX users_email_idx;\n",
    );
    let out = ws.gate(&["migrate", "lint", "-f", "json", "db/migrations"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let fs = findings(&json(&out));
    let hit = by_rule(&fs, "create-index-not-concurrently");
    assert_eq!(hit[0]["line"], 3, "{fs:#?}");
    // The down section is not validated: no drop-index finding.
    assert!(by_rule(&fs, "drop-index-not-concurrently").is_empty());
}

#[test]
fn golang_migrate_files_run_outside_a_transaction() {
    let ws = Workspace::new();
    ws.write("go.mod", "module example.com/app\n");
    ws.write(
        "migrations/000001_idx.up.sql",
        "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);\n",
    );
    ws.write(
        "migrations/000001_idx.down.sql",
        "DROP INDEX CONCURRENTLY IF EXISTS users_name_idx;\n",
    );
    let out = ws.gate(&["migrate", "lint", "-f", "json", "migrations"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let fs = findings(&json(&out));
    assert!(
        by_rule(&fs, "concurrently-in-transaction").is_empty(),
        "{fs:#?}"
    );
    assert_eq!(
        by_rule(&fs, "file-summary")[0]["evidence"]["in_transaction"],
        "false"
    );
    // Forced to sqlx, the same file runs in a transaction and is flagged.
    let out = ws.gate(&[
        "migrate",
        "lint",
        "-f",
        "json",
        "--layout",
        "sqlx",
        "migrations",
    ]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        by_rule(&findings(&json(&out)), "concurrently-in-transaction").len(),
        1
    );
}

#[test]
fn github_actions_get_annotations_after_the_human_report() {
    let ws = Workspace::new();
    fixture(&ws, "sqlx");
    let out = ws.gate_env(&["migrate", "lint", "sqlx"], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(
        text.contains("::error file=sqlx/20240101000000_add_index.sql,line=3"),
        "{text}"
    );
    // JSON on stdout stays pure.
    let out = ws.gate_env(
        &["migrate", "lint", "-f", "json", "sqlx"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(json(&out)["verdict"], "fail");
}

#[test]
fn policy_exemptions_apply_to_lint_findings() {
    let ws = Workspace::new();
    fixture(&ws, "sqlx");
    let exemption = |matcher: &str| {
        format!(
            "[[exemption]]\ncheck = \"migrations.*\"\nmatch = \"{matcher}\"\nreason = \"built during the maintenance window\"\n\
             approved_by = \"dba@example.com\"\nexpires = 2026-12-31\n\n"
        )
    };
    ws.write(
        "policy.toml",
        &format!(
            "[policy]\nname = \"m\"\n\n{}{}",
            exemption("sqlx/20240101000000_*"),
            exemption("sqlx/20240104000000_*")
        ),
    );
    let out = ws.gate_env(
        &[
            "migrate",
            "lint",
            "--policy",
            "policy.toml",
            "-f",
            "json",
            "sqlx",
        ],
        &[("GATE_TEST_NOW", "2026-11-26T12:00:00Z")],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let fs = findings(&json(&out));
    let index = by_rule(&fs, "create-index-not-concurrently");
    assert_eq!(index[0]["exemption"]["approved_by"], "dba@example.com");
    assert_eq!(
        by_rule(&fs, "rename-column")[0]["exemption"]["reason"],
        "built during the maintenance window"
    );

    // Expired: it no longer applies.
    let out = ws.gate_env(
        &[
            "migrate",
            "lint",
            "--policy",
            "policy.toml",
            "-f",
            "json",
            "sqlx",
        ],
        &[("GATE_TEST_NOW", "2027-01-05T12:00:00Z")],
    );
    assert_eq!(code(&out), 1);
}

#[test]
fn a_large_repository_lints_with_the_default_limits_and_an_explicit_cap_holds() {
    // 5,000 small migrations give about 5 MB of findings (a summary per
    // file, the rules that fire): more than the 1 MiB default output cap,
    // which therefore grows by 4 KiB per file given to the validator.
    let ws = Workspace::new();
    let sources: Vec<String> = std::fs::read_dir(Path::new(FIXTURES).join("sqlx"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    for i in 0..5_000 {
        ws.write(
            &format!("big/{}_m{i}.sql", 20250101000000u64 + i as u64),
            &sources[i % sources.len()],
        );
    }
    let out = ws.gate(&["migrate", "lint", "--format", "json", "big"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json(&out);
    let fs = findings(&report);
    assert_eq!(by_rule(&fs, "file-summary").len(), 5_000);
    let size = serde_json::to_string(&fs).unwrap().len();
    assert!(size > 2 << 20, "only {size} bytes of findings");

    // A policy's own `output_kb` is its cap, whatever the number of files.
    ws.write(
        "gate.toml",
        "[policy]\nname = \"capped\"\n\n[[plugin]]\nname = \"migrations\"\n[plugin.grants]\noutput_kb = 1024\n",
    );
    let out = ws.gate(&["migrate", "lint", "--policy", "gate.toml", "big"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("exceeds the cap of 1048576 bytes (plugin `migrations` output_kb)"),
        "{}",
        stderr(&out)
    );
}

/// A large lint validates in parts at once (the `migration-validator-in-parts`
/// world): each part replays the files before its own for the state they
/// leave, so a NOT VALID check added in the first third of the files,
/// validated in the second and relied on by SET NOT NULL in the last gives
/// the same findings in parts as whole, byte for byte.
#[test]
fn a_large_lint_runs_in_parts_with_the_same_findings_as_whole() {
    let ws = Workspace::new();
    // About 1 KB per file, so the run is large enough to split.
    let padding = "-- padding so that the run is large enough to split\n".repeat(20);
    let groups = 300;
    let mut n = 0;
    let mut write = |sql: String| {
        ws.write(
            &format!("big/{}_m{n}.sql", 20250101000000u64 + n),
            &format!("{padding}{sql}"),
        );
        n += 1;
    };
    for i in 0..groups {
        write(format!(
            "ALTER TABLE t{i} ADD CONSTRAINT c{i} CHECK (email IS NOT NULL) NOT VALID;\n"
        ));
    }
    for i in 0..groups {
        write(format!("ALTER TABLE t{i} VALIDATE CONSTRAINT c{i};\n"));
    }
    for i in 0..groups {
        write(format!(
            "ALTER TABLE t{i} ALTER COLUMN email SET NOT NULL;\n\
             ALTER TABLE u{i} ALTER COLUMN email SET NOT NULL;\n"
        ));
    }
    let lint = |parallel: u32| {
        ws.write(
            "gate.toml",
            &format!(
                "[policy]\nname = \"parts\"\n\n[[plugin]]\nname = \"migrations\"\n\
                 [plugin.grants]\nparallel = {parallel}\n"
            ),
        );
        let out = ws.gate(&[
            "migrate",
            "lint",
            "--policy",
            "gate.toml",
            "--format",
            "json",
            "big",
        ]);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        json(&out)
    };
    let (whole, in_parts) = (lint(1), lint(2));
    let check = |r: &serde_json::Value| r["gates"][0]["checks"][0].clone();
    assert_eq!(check(&whole)["instances"], 1);
    assert_eq!(check(&in_parts)["instances"], 2, "{:#}", check(&in_parts));
    let fs = findings(&in_parts);
    assert_eq!(fs, findings(&whole));
    // The state crossed the parts: only the tables without a validated
    // check are flagged.
    let set_not_null = by_rule(&fs, "set-not-null");
    assert_eq!(set_not_null.len(), groups, "{set_not_null:#?}");
    assert!(
        set_not_null
            .iter()
            .all(|f| f["evidence"]["object"].as_str().unwrap().starts_with('u')),
        "{set_not_null:#?}"
    );
    assert_eq!(by_rule(&fs, "file-summary").len(), 3 * groups);
    assert_eq!(by_rule(&fs, "parse-coverage").len(), 1);
}
