use gate_plugin_sdk::Status;
use serde_json::json;

use super::*;
use crate::pg::Rows;
use crate::testutil::{Sandbox, ctx, evidence, statuses};

const NOW: i64 = 1_750_000_000;

fn no_sql(_: &str, _: &[Option<String>]) -> Result<Rows, String> {
    panic!("no SQL expected")
}

fn run_with(
    sb: &Sandbox,
    params: serde_json::Value,
    mtimes: &[(&str, i64)],
    query: Query,
) -> Vec<Finding> {
    let p: Params = match params::parse(&ctx(ID), &params) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let modified = |abs: &str| {
        mtimes
            .iter()
            .find(|(rel, _)| abs.ends_with(rel))
            .map(|(_, t)| *t)
            .ok_or_else(|| format!("{abs}: no such file"))
    };
    evaluate(&ctx(ID), &p, NOW, &sb.grants(), &modified, query)
}

#[test]
fn fresh_stale_and_rotated_logs() {
    let sb = Sandbox::new();
    for f in [
        "audit.log",
        "old.log",
        "rotated/audit-1.log",
        "rotated/audit-2.log",
    ] {
        sb.write(f, "x");
    }
    let out = run_with(
        &sb,
        json!({"files": [
            {"path": "audit.log", "max_age_minutes": 15},
            {"path": "old.log", "max_age_minutes": 60},
            {"path": "rotated/audit-*.log", "max_age_minutes": 10}
        ]}),
        &[
            ("audit.log", NOW - 5 * 60),
            ("old.log", NOW - 26 * 3600),
            ("rotated/audit-1.log", NOW - 3600),
            ("rotated/audit-2.log", NOW - 120),
        ],
        &no_sql,
    );
    assert_eq!(
        statuses(&out),
        [Status::Pass, Status::Fail, Status::Pass],
        "{out:#?}"
    );
    assert_eq!(evidence(&out[0], "age_minutes"), Some("5"));
    assert_eq!(out[1].rule.as_deref(), Some("stale"));
    assert_eq!(evidence(&out[1], "age_minutes"), Some("1560"));
    assert_eq!(out[2].subject, "rotated/audit-*.log");
    assert_eq!(evidence(&out[2], "newest"), Some("rotated/audit-2.log"));
}

#[test]
fn missing_logs_are_errors() {
    let sb = Sandbox::new();
    let out = run_with(
        &sb,
        json!({"files": [
            {"path": "nope.log", "max_age_minutes": 15},
            {"path": "logs/*.log", "max_age_minutes": 15},
            {"path": "../elsewhere.log", "max_age_minutes": 15}
        ]}),
        &[],
        &no_sql,
    );
    assert_eq!(
        statuses(&out),
        [Status::Error, Status::Error, Status::Error],
        "{out:#?}"
    );
}

fn settings<'a>(
    rows: &'a [(&'a str, &'a str)],
) -> impl Fn(&str, &[Option<String>]) -> Result<Rows, String> + 'a {
    move |sql, args| {
        assert!(sql.contains("pg_settings"));
        let asked = args[0].clone().unwrap();
        Ok(rows
            .iter()
            .filter(|(n, _)| asked.split(',').any(|a| a == *n))
            .map(|(n, v)| {
                vec![
                    Some(n.to_string()),
                    Some(v.to_string()),
                    Some("string".into()),
                ]
            })
            .collect())
    }
}

#[test]
fn settings_at_least_booleans_and_exact() {
    let sb = Sandbox::new();
    let q = settings(&[
        ("log_statement", "mod"),
        ("log_connections", "on"),
        ("log_disconnections", "off"),
        ("log_line_prefix", "%m [%p] %u@%d "),
        ("log_min_duration_statement", "-1"),
    ]);
    let out = run_with(
        &sb,
        json!({"connection": "db", "require": {
            "log_statement": "ddl",
            "log_connections": true,
            "log_disconnections": "on",
            "log_line_prefix": "%m [%p] %u@%d ",
            "log_min_duration_statement": 0
        }}),
        &[],
        &q,
    );
    let summary: Vec<_> = out.iter().map(|f| (f.subject.as_str(), f.status)).collect();
    assert_eq!(
        summary,
        [
            ("setting:log_connections", Status::Pass),
            ("setting:log_disconnections", Status::Fail),
            ("setting:log_line_prefix", Status::Pass),
            ("setting:log_min_duration_statement", Status::Fail),
            ("setting:log_statement", Status::Pass),
        ]
    );
    assert_eq!(evidence(&out[4], "required"), Some("at least `ddl`"));
    assert!(
        out[1]
            .remediation
            .as_ref()
            .unwrap()
            .contains("log_disconnections = 'on'")
    );
}

#[test]
fn log_statement_below_the_level_fails() {
    let sb = Sandbox::new();
    let q = settings(&[("log_statement", "none")]);
    let out = run_with(
        &sb,
        json!({"connection": "db", "require": {"log_statement": "mod"}}),
        &[],
        &q,
    );
    assert_eq!(statuses(&out), [Status::Fail]);
    assert_eq!(
        out[0].message,
        "`log_statement` is `none`, required at least `mod`"
    );
}

#[test]
fn unknown_settings_and_dead_databases_are_errors() {
    let sb = Sandbox::new();
    let q = settings(&[("log_statement", "all")]);
    let out = run_with(
        &sb,
        json!({"connection": "db", "require": {"pgaudit.log": "ddl", "log_statement": "all"}}),
        &[],
        &q,
    );
    assert_eq!(statuses(&out), [Status::Pass, Status::Error]);
    assert_eq!(out[1].subject, "setting:pgaudit.log");

    let out = run_with(
        &sb,
        json!({"connection": "db", "require": {"log_statement": "all"}}),
        &[],
        &|_, _| Err("connect to `db`: Connection refused".into()),
    );
    assert_eq!(statuses(&out), [Status::Error]);
    assert_eq!(out[0].subject, "db");
}

#[test]
fn bad_params() {
    let sb = Sandbox::new();
    let out = run_with(
        &sb,
        json!({"require": {"log_statement": "everything", "bad name": "x", "x": [1]}, "files": [{"path": "a", "max_age_minutes": 0}]}),
        &[],
        &no_sql,
    );
    assert_eq!(out.len(), 1);
    for part in [
        "needs a `connection`",
        "everything",
        "`bad name`",
        "`require.x`",
        "at least 1",
    ] {
        assert!(out[0].message.contains(part), "{part}: {}", out[0].message);
    }
    let out = run_with(&sb, json!({"connection": "db"}), &[], &no_sql);
    assert!(out[0].message.contains("needs `require`"));
}
