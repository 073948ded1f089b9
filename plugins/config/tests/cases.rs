//! Data-driven cases: each `cases/*.toml` file holds `[[case]]`s with the files
//! and environment a check sees, its params, and the findings it must return.

use std::collections::BTreeMap;
use std::path::Path;

use gate_plugin_config::{
    env_vars, error_handling, feature_flags, logging_levels, rate_limits, source::SourceFile,
};
use gate_plugin_sdk::{Context, Finding, Status};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    check: String,
    #[serde(default)]
    params: serde_json::Map<String, serde_json::Value>,
    /// File name → contents; their names become `files` unless params set it.
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// "Now" as an RFC 3339 timestamp or date.
    #[serde(default)]
    now: Option<String>,
    expect: Vec<Expect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    status: String,
    subject: String,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    message: Option<String>,
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Skip => "skip",
        Status::Warn => "warn",
        Status::Fail => "fail",
        Status::Error => "error",
    }
}

fn run(case: &Case) -> Vec<Finding> {
    let ctx = Context {
        check: case.check.clone(),
        cwd: "/work".to_string(),
    };
    let mut params = case.params.clone();
    if !case.files.is_empty() && !params.contains_key("files") {
        params.insert(
            "files".into(),
            case.files.keys().cloned().collect::<Vec<_>>().into(),
        );
    }
    let params = serde_json::Value::Object(params);
    let read = |path: &str| {
        case.files
            .get(path)
            .map(|text| SourceFile::new(path, text.as_str()))
            .ok_or_else(|| format!("{path} is outside the fs grants; add it to `fs`"))
    };
    match case.check.as_str() {
        logging_levels::ID => {
            let p = serde_json::from_value(params).expect("params");
            logging_levels::evaluate(&ctx, &p, read)
        }
        feature_flags::ID => {
            let p = serde_json::from_value(params).expect("params");
            let now = case.now.as_deref().expect("feature-flag cases set `now`");
            let now = gate_plugin_config::date::parse_timestamp(now).expect("now");
            feature_flags::evaluate(&ctx, &p, now, read)
        }
        env_vars::ID => {
            let p = serde_json::from_value(params).expect("params");
            env_vars::evaluate(&ctx, &p, |name| Ok(case.env.get(name).cloned()))
        }
        error_handling::ID => {
            let p = serde_json::from_value(params).expect("params");
            error_handling::evaluate(&ctx, &p, &read, &|_| Err("no network in cases".into()))
        }
        rate_limits::ID => {
            let p = serde_json::from_value(params).expect("params");
            rate_limits::evaluate(&ctx, &p, &read, &|_| Err("no network in cases".into()))
        }
        other => panic!("no runner for {other}"),
    }
}

#[test]
fn cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("cases dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut ran = 0;
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read case file");
        let cases: CaseFile =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in &cases.case {
            ran += 1;
            let got = run(case);
            let summary = got
                .iter()
                .map(|f| {
                    let line = f.location.as_ref().and_then(|l| l.line);
                    format!(
                        "  {} {} rule={:?} line={line:?}: {}",
                        status_name(f.status),
                        f.subject,
                        f.rule,
                        f.message
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            let matches = got.len() == case.expect.len()
                && got.iter().zip(&case.expect).all(|(f, e)| {
                    status_name(f.status) == e.status
                        && f.subject == e.subject
                        && (e.rule.is_none() || f.rule == e.rule)
                        && (e.line.is_none() || f.location.as_ref().and_then(|l| l.line) == e.line)
                        && e.message
                            .as_ref()
                            .is_none_or(|m| f.message.contains(m.as_str()))
                });
            if !matches {
                failures.push(format!("{} / {}:\n{summary}", file.display(), case.name));
            }
        }
    }
    assert!(ran > 0, "no cases found in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
