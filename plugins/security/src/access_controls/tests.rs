use std::os::unix::fs::{MetadataExt, PermissionsExt};

use gate_plugin_sdk::Status;
use serde_json::json;

use super::*;
use crate::pg::Rows;
use crate::testutil::{Sandbox, ctx, evidence, statuses};

/// What the host's `files.stat` returns, computed natively.
fn native_stat(path: &str) -> Result<FileStat, String> {
    let md = std::fs::symlink_metadata(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(FileStat {
        kind: if md.is_dir() { "dir" } else { "file" }.to_string(),
        size: md.len(),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        owner: Some("app".to_string()),
        group: Some("app".to_string()),
        modified: md.mtime(),
    })
}

fn chmod(sb: &Sandbox, rel: &str, mode: u32) {
    std::fs::set_permissions(sb.path(rel), std::fs::Permissions::from_mode(mode)).unwrap();
}

fn no_sql(_: &str, _: &[Option<String>]) -> Result<Rows, String> {
    panic!("no SQL expected")
}

fn files(sb: &Sandbox, params: serde_json::Value) -> Vec<Finding> {
    let p: Params = serde_json::from_value(params).unwrap();
    evaluate(&ctx(ID), &p, &sb.grants(), &native_stat, &no_sql)
}

#[test]
fn modes_within_and_beyond_the_limit() {
    let sb = Sandbox::new();
    sb.write("secrets/db.pem", "-----BEGIN PRIVATE KEY-----");
    sb.write("secrets/api.key", "k");
    sb.write("secrets/readme.txt", "r");
    chmod(&sb, "secrets/db.pem", 0o600);
    chmod(&sb, "secrets/api.key", 0o644);
    chmod(&sb, "secrets/readme.txt", 0o440);
    let out = files(
        &sb,
        json!({"files": [
            "secrets/db.pem",
            {"path": "secrets/api.key", "max_mode": "0600"},
            {"path": "secrets/readme.txt", "max_mode": "440"}
        ]}),
    );
    assert_eq!(
        statuses(&out),
        [Status::Pass, Status::Fail, Status::Pass],
        "{out:#?}"
    );
    let f = &out[1];
    assert_eq!(f.rule.as_deref(), Some("mode"));
    assert_eq!(evidence(f, "mode"), Some("0644"));
    assert!(
        f.message.contains("group read, others read"),
        "{}",
        f.message
    );
    assert_eq!(f.remediation.as_deref(), Some("chmod 0600 secrets/api.key"));
}

#[test]
fn globs_owner_and_group() {
    let sb = Sandbox::new();
    sb.write("keys/a.pem", "a");
    sb.write("keys/b.pem", "b");
    chmod(&sb, "keys/a.pem", 0o600);
    chmod(&sb, "keys/b.pem", 0o4700);
    let out = files(
        &sb,
        json!({"files": [{"path": "keys/*.pem", "max_mode": "0o700", "owner": "root", "group": "app"}]}),
    );
    let summary: Vec<_> = out
        .iter()
        .map(|f| (f.subject.as_str(), f.status, f.rule.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("keys/a.pem", Status::Fail, Some("owner")),
            ("keys/b.pem", Status::Fail, Some("mode")),
            ("keys/b.pem", Status::Fail, Some("owner")),
        ]
    );
    assert!(out[1].message.contains("setuid"), "{}", out[1].message);
    assert!(
        out[0].message.contains("owned by app"),
        "{}",
        out[0].message
    );
}

#[test]
fn unseen_files_are_errors() {
    let sb = Sandbox::new();
    let out = files(
        &sb,
        json!({"files": ["missing.pem", "../outside.pem", "none/*.pem"]}),
    );
    assert_eq!(
        statuses(&out),
        [Status::Error, Status::Error, Status::Error],
        "{out:#?}"
    );
    // A stat the host refuses is an error too.
    sb.write("x.pem", "x");
    let p: Params = serde_json::from_value(json!({"files": ["x.pem"]})).unwrap();
    let out = evaluate(
        &ctx(ID),
        &p,
        &sb.grants(),
        &|_| Err("plugin `security` is not granted `fs` access".to_string()),
        &no_sql,
    );
    assert_eq!(statuses(&out), [Status::Error]);
}

#[test]
fn bad_params_are_reported_together() {
    let sb = Sandbox::new();
    let out = files(
        &sb,
        json!({"files": [{"path": "a", "max_mode": 600}, {"path": "b", "max_mode": "0800"}], "allow": ["superuser"], "role": "app"}),
    );
    assert_eq!(out.len(), 1);
    for part in [
        "octal string",
        "\"0800\"",
        "superuser is never allowed",
        "need a `connection`",
    ] {
        assert!(out[0].message.contains(part), "{part}: {}", out[0].message);
    }
    let out = files(&sb, json!({}));
    assert!(out[0].message.contains("set `files`, `connection`"));
}

fn row(cells: &[Option<&str>]) -> Vec<Option<String>> {
    cells.iter().map(|c| c.map(str::to_string)).collect()
}

fn roles(
    role_row: Option<Vec<Option<String>>>,
    schemas: Rows,
    params: serde_json::Value,
) -> Vec<Finding> {
    let sb = Sandbox::new();
    let p: Params = serde_json::from_value(params).unwrap();
    let query = move |sql: &str, args: &[Option<String>]| -> Result<Rows, String> {
        if sql.contains("pg_roles") {
            assert_eq!(args.len(), 1);
            Ok(role_row.clone().into_iter().collect())
        } else {
            Ok(schemas.clone())
        }
    };
    evaluate(&ctx(ID), &p, &sb.grants(), &native_stat, &query)
}

#[test]
fn a_plain_application_role_passes() {
    let out = roles(
        Some(row(&[
            Some("app"),
            Some("false"),
            Some("false"),
            Some("false"),
            Some("false"),
            Some("false"),
            None,
        ])),
        vec![
            row(&[Some("public"), Some("false")]),
            row(&[Some("app"), Some("false")]),
        ],
        json!({"connection": "db"}),
    );
    assert_eq!(
        statuses(&out),
        [Status::Pass, Status::Pass, Status::Pass],
        "{out:#?}"
    );
    assert_eq!(out[0].subject, "role:app");
    assert_eq!(out[1].subject, "schema:public");
}

#[test]
fn superuser_attributes_and_public_create_fail() {
    let out = roles(
        Some(row(&[
            Some("gate"),
            Some("true"),
            Some("true"),
            Some("true"),
            Some("false"),
            Some("false"),
            Some("postgres"),
        ])),
        vec![row(&[Some("public"), Some("true")])],
        json!({"connection": "db", "allow": ["createdb"]}),
    );
    let summary: Vec<_> = out
        .iter()
        .map(|f| (f.subject.as_str(), f.status, f.rule.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("role:gate", Status::Fail, Some("superuser")),
            ("role:gate", Status::Fail, Some("superuser-member")),
            ("role:gate", Status::Fail, Some("createrole")),
            ("schema:public", Status::Fail, Some("public-create")),
        ]
    );
    assert_eq!(out[0].severity, Some(Severity::Critical));
    assert_eq!(
        out[3].remediation.as_deref(),
        Some("REVOKE CREATE ON SCHEMA \"public\" FROM PUBLIC;")
    );
}

#[test]
fn allowed_attributes_pass_and_are_named() {
    let out = roles(
        Some(row(&[
            Some("migrator"),
            Some("false"),
            Some("false"),
            Some("true"),
            Some("false"),
            Some("false"),
            None,
        ])),
        vec![row(&[Some("public"), Some("false")])],
        json!({"connection": "db", "role": "migrator", "allow": ["createdb"]}),
    );
    assert_eq!(statuses(&out), [Status::Pass, Status::Pass]);
    assert!(
        out[0]
            .message
            .contains("only allowed attributes (CREATEDB)"),
        "{}",
        out[0].message
    );
}

#[test]
fn database_unreachable_or_role_missing_is_an_error() {
    let sb = Sandbox::new();
    let p: Params = serde_json::from_value(json!({"connection": "db"})).unwrap();
    let out = evaluate(&ctx(ID), &p, &sb.grants(), &native_stat, &|_, _| {
        Err("connect to `db`: connection refused".to_string())
    });
    assert_eq!(statuses(&out), [Status::Error, Status::Error]);
    assert_eq!(out[0].subject, "db");
    assert!(out[0].message.contains("connection refused"));

    let out = roles(
        None,
        vec![row(&[Some("public"), Some("false")])],
        json!({"connection": "db", "role": "ghost"}),
    );
    assert_eq!(statuses(&out), [Status::Error, Status::Pass]);
    assert_eq!(out[0].subject, "role:ghost");
}

#[test]
fn mode_rendering() {
    assert_eq!(mode_string(0o100644), "0644");
    assert_eq!(symbolic(0o750), "rwxr-x---");
    assert_eq!(parse_mode(&json!("0600")), Ok(0o600));
    assert_eq!(parse_mode(&json!("0o2750")), Ok(0o2750));
    assert!(parse_mode(&json!("rw-------")).is_err());
}
