//! `config.feature-flags`: flagd flag files are valid, and temporary flags do not
//! outlive their welcome.
//!
//! Follows the flagd flag-definition schema (<https://flagd.dev/schema/v0/flags.json>):
//! `flags` is a map of flag key to definition (or, for flagd imports, an array
//! of definitions with a `key`), each with a `state`, `variants`, a
//! `defaultVariant` (a variant name, or `null` for the code default), optional
//! `targeting` (JsonLogic, possibly `$ref`-ing shared `$evaluators`) and
//! optional `metadata`.

use std::collections::BTreeSet;

use gate_plugin_sdk::host::clock;
use gate_plugin_sdk::redact::text;
use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Severity, Status, param, params};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::date::parse_timestamp;
use crate::source::{self, SourceFile};
use gate_configfile::line_col;

pub const ID: &str = "config.feature-flags";

pub struct FeatureFlags;

/// The kinds of problem this check reports, as finding rule ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// The file is not valid JSON.
    Json,
    /// The file is JSON but not a flagd flag file.
    FlagFile,
    /// A flag definition is not an object, or has no usable key.
    Flag,
    State,
    Variants,
    DefaultVariant,
    VariantTypes,
    Metadata,
    EvaluatorRef,
    Stale,
    CreatedDate,
}

impl Rule {
    pub const ALL: [Rule; 11] = [
        Rule::Json,
        Rule::FlagFile,
        Rule::Flag,
        Rule::State,
        Rule::Variants,
        Rule::DefaultVariant,
        Rule::VariantTypes,
        Rule::Metadata,
        Rule::EvaluatorRef,
        Rule::Stale,
        Rule::CreatedDate,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Rule::Json => "json",
            Rule::FlagFile => "flag-file",
            Rule::Flag => "flag",
            Rule::State => "state",
            Rule::Variants => "variants",
            Rule::DefaultVariant => "default-variant",
            Rule::VariantTypes => "variant-types",
            Rule::Metadata => "metadata",
            Rule::EvaluatorRef => "evaluator-ref",
            Rule::Stale => "stale",
            Rule::CreatedDate => "created-date",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub files: Vec<String>,
    #[serde(default)]
    pub max_age_days: Option<u32>,
}

impl Check for FeatureFlags {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Feature flags".to_string(),
            description: "flagd flag files are valid (state set, default variant exists, variants of one type) and temporary flags are not stale"
                .to_string(),
            default_severity: Severity::Medium,
            params: vec![
                param("files", "list<string>", true, "flagd flag definition files (JSON)"),
                param(
                    "max_age_days",
                    "integer",
                    false,
                    "Maximum age of temporary flags, from their `metadata.created` date; unset means no age check",
                ),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        match params::parse(ctx, params) {
            Ok(p) => evaluate(ctx, &p, clock::now().0, source::read),
            Err(findings) => findings,
        }
    }
}

/// Checks every file against `now` (Unix seconds); `read` is the granted file reader.
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    now: i64,
    read: impl Fn(&str) -> Result<SourceFile, String>,
) -> Vec<Finding> {
    if params.files.is_empty() {
        return params::invalid(ctx, "`files` must name at least one file");
    }
    params
        .files
        .iter()
        .flat_map(|path| match read(path) {
            Ok(file) => check_file(ctx, params, now, &file),
            Err(message) => vec![source::unreadable(ctx, path, &message)],
        })
        .collect()
}

/// One problem with one flag (or with the file, when `flag` is `None`).
#[derive(Debug)]
struct Issue {
    rule: Rule,
    status: Status,
    message: String,
    remediation: &'static str,
}

impl Issue {
    fn fail(rule: Rule, message: String, remediation: &'static str) -> Issue {
        Issue {
            rule,
            status: Status::Fail,
            message,
            remediation,
        }
    }

    fn warn(rule: Rule, message: String, remediation: &'static str) -> Issue {
        Issue {
            status: Status::Warn,
            ..Issue::fail(rule, message, remediation)
        }
    }
}

fn check_file(ctx: &Context, params: &Params, now: i64, file: &SourceFile) -> Vec<Finding> {
    let path = file.path.as_str();
    let doc: Value = match serde_json::from_str(&file.text) {
        Ok(v) => v,
        Err(e) => {
            return vec![
                ctx.finding(path, Status::Error)
                    .rule(Rule::Json.code())
                    .message(format!("{path} is not valid JSON: {e}"))
                    .location(path, Some(e.line() as u32), Some(e.column() as u32))
                    .build(),
            ];
        }
    };
    let file_issue = |message: String| {
        vec![
            ctx.finding(path, Status::Fail)
                .rule(Rule::FlagFile.code())
                .message(format!("{path} is not a flagd flag file: {message}"))
                .remediation("see https://flagd.dev/reference/flag-definitions/")
                .build(),
        ]
    };
    let Some(root) = doc.as_object() else {
        return file_issue("the top level is not an object".to_string());
    };
    let evaluators = match root.get("$evaluators") {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return file_issue("`$evaluators` is not an object".to_string()),
    };
    if root.get("metadata").is_some_and(|m| !m.is_object()) {
        return file_issue("`metadata` is not an object".to_string());
    }
    let flags: Vec<(String, &Value)> = match root.get("flags") {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        // flagd's import format: an array of definitions that carry their key.
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let key = v
                    .get("key")
                    .and_then(Value::as_str)
                    .filter(|k| !k.is_empty());
                (key.map_or_else(|| format!("[{i}]"), str::to_string), v)
            })
            .collect(),
        Some(_) => return file_issue("`flags` is neither an object nor an array".to_string()),
        None => return file_issue("it has no `flags`".to_string()),
    };
    if flags.is_empty() {
        return vec![
            ctx.finding(path, Status::Pass)
                .message(format!("{path} defines no flags"))
                .evidence("flags", 0)
                .build(),
        ];
    }

    let flags_at = file.text.find("\"flags\"").unwrap_or(0);
    let mut findings = Vec::new();
    for (key, definition) in flags {
        let subject = format!("{path}#{key}");
        let (line, column) = locate_key(&file.text, flags_at, &key).unzip();
        let (issues, evidence) = check_flag(params, now, &evaluators, &key, definition);
        if issues.is_empty() {
            let mut finding = ctx
                .finding(&subject, Status::Pass)
                .message(format!("flag `{key}` is valid"))
                .location(path, line, column);
            for (k, v) in &evidence {
                finding = finding.evidence(*k, v);
            }
            findings.push(finding.build());
        }
        for issue in issues {
            let mut finding = ctx
                .finding(&subject, issue.status)
                .rule(issue.rule.code())
                .message(format!("flag `{key}`: {}", issue.message))
                .remediation(issue.remediation)
                .location(path, line, column);
            for (k, v) in &evidence {
                finding = finding.evidence(*k, v);
            }
            findings.push(finding.build());
        }
    }
    findings
}

/// Where a flag's key is written: the first `"key"` followed by `:` after `"flags"`.
fn locate_key(text: &str, from: usize, key: &str) -> Option<(u32, u32)> {
    let quoted = serde_json::to_string(key).ok()?;
    let mut start = from;
    while let Some(i) = text.get(start..)?.find(&quoted) {
        let at = start + i;
        let after = text[at + quoted.len()..].trim_start();
        if after.starts_with(':') {
            return Some(line_col(text, at));
        }
        start = at + quoted.len();
    }
    None
}

type Evidence = Vec<(&'static str, String)>;

fn check_flag(
    params: &Params,
    now: i64,
    evaluators: &Map<String, Value>,
    key: &str,
    definition: &Value,
) -> (Vec<Issue>, Evidence) {
    let mut issues = Vec::new();
    let mut evidence = Evidence::new();
    let Some(flag) = definition.as_object() else {
        issues.push(Issue::fail(
            Rule::Flag,
            "the definition is not an object".to_string(),
            "define the flag as an object with state, variants and defaultVariant",
        ));
        return (issues, evidence);
    };
    if key.starts_with('[') {
        issues.push(Issue::fail(
            Rule::Flag,
            "the definition has no `key`".to_string(),
            "give every flag in a `flags` array a non-empty `key`",
        ));
    }

    check_state(flag, &mut issues, &mut evidence);
    let variants = check_variants(flag, &mut issues, &mut evidence);
    check_default_variant(flag, variants, &mut issues, &mut evidence);
    if let Some(targeting) = flag.get("targeting") {
        check_targeting(targeting, evaluators, &mut issues);
    }

    match flag.get("metadata") {
        None => {}
        Some(Value::Object(metadata)) => {
            check_age(params, now, metadata, &mut issues, &mut evidence)
        }
        Some(_) => issues.push(Issue::fail(
            Rule::Metadata,
            "`metadata` is not an object".to_string(),
            "make `metadata` an object of string, number or boolean values",
        )),
    }
    (issues, evidence)
}

/// `state`: `ENABLED` or `DISABLED`.
fn check_state(flag: &Map<String, Value>, issues: &mut Vec<Issue>, evidence: &mut Evidence) {
    match flag.get("state") {
        Some(Value::String(s)) if s == "ENABLED" || s == "DISABLED" => {
            evidence.push(("state", s.clone()))
        }
        Some(other) => issues.push(Issue::fail(
            Rule::State,
            format!(
                "state {} is not \"ENABLED\" or \"DISABLED\"",
                text(&other.to_string())
            ),
            "set `state` to \"ENABLED\" or \"DISABLED\" (upper case)",
        )),
        None => issues.push(Issue::fail(
            Rule::State,
            "`state` is missing".to_string(),
            "set `state` to \"ENABLED\" or \"DISABLED\"",
        )),
    }
}

/// `variants`: a non-empty object whose values share one type. Returns it.
fn check_variants<'f>(
    flag: &'f Map<String, Value>,
    issues: &mut Vec<Issue>,
    evidence: &mut Evidence,
) -> Option<&'f Map<String, Value>> {
    let variants = flag.get("variants").and_then(Value::as_object);
    match (flag.get("variants"), variants) {
        (_, Some(v)) if !v.is_empty() => {
            evidence.push(("variants", v.len().to_string()));
            let types: BTreeSet<&str> = v.values().map(type_name).collect();
            if types.len() > 1 {
                let list = types.into_iter().collect::<Vec<_>>().join(", ");
                issues.push(Issue::warn(
                    Rule::VariantTypes,
                    format!("variant values mix types ({list})"),
                    "give all variants of a flag the same type; flagd resolves a flag as one type",
                ));
            } else if let Some(t) = types.first() {
                evidence.push(("type", t.to_string()));
            }
        }
        (None, _) => issues.push(Issue::fail(
            Rule::Variants,
            "`variants` is missing".to_string(),
            "add `variants`, e.g. {\"on\": true, \"off\": false}",
        )),
        (Some(_), _) => issues.push(Issue::fail(
            Rule::Variants,
            "`variants` is not a non-empty object".to_string(),
            "add `variants`, e.g. {\"on\": true, \"off\": false}",
        )),
    }
    variants
}

/// `defaultVariant`: one of the variants, or null for the code default.
fn check_default_variant(
    flag: &Map<String, Value>,
    variants: Option<&Map<String, Value>>,
    issues: &mut Vec<Issue>,
    evidence: &mut Evidence,
) {
    match flag.get("defaultVariant") {
        Some(Value::String(name)) => {
            evidence.push(("default_variant", text(name)));
            if variants.is_some_and(|v| !v.is_empty() && !v.contains_key(name)) {
                let known =
                    variants.map(|v| v.keys().map(String::as_str).collect::<Vec<_>>().join(", "));
                issues.push(Issue::fail(
                    Rule::DefaultVariant,
                    format!(
                        "defaultVariant `{}` is not one of its variants ({})",
                        text(name),
                        known.unwrap_or_default()
                    ),
                    "set `defaultVariant` to the name of one of the flag's variants",
                ));
            }
        }
        // flagd: null means "fall back to the default in the application's code".
        Some(Value::Null) => evidence.push(("default_variant", "null (code default)".to_string())),
        Some(other) => issues.push(Issue::fail(
            Rule::DefaultVariant,
            format!(
                "defaultVariant {} is not a variant name",
                text(&other.to_string())
            ),
            "set `defaultVariant` to the name of one of the flag's variants, or null",
        )),
        None => issues.push(Issue::warn(
            Rule::DefaultVariant,
            "`defaultVariant` is missing, so evaluation falls back to the code default".to_string(),
            "set `defaultVariant` to a variant name, or to null to make the code default explicit",
        )),
    }
}

/// Every `$ref` in `targeting` names an evaluator `$evaluators` defines.
fn check_targeting(targeting: &Value, evaluators: &Map<String, Value>, issues: &mut Vec<Issue>) {
    let mut refs = Vec::new();
    collect_refs(targeting, &mut refs);
    for name in refs.into_iter().filter(|r| !evaluators.contains_key(*r)) {
        issues.push(Issue::fail(
            Rule::EvaluatorRef,
            format!("targeting refers to evaluator `{name}`, which `$evaluators` does not define"),
            "define the evaluator under `$evaluators`, or fix the `$ref`",
        ));
    }
}

/// flagd's variant value types; integers and floats are both numbers.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every `{"$ref": "name"}` inside a JsonLogic rule.
fn collect_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("$ref") {
                out.push(name);
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Metadata types that mark a flag as meant to be removed once rolled out.
const TEMPORARY_TYPES: [&str; 3] = ["temporary", "release", "experiment"];
/// Metadata keys that hold a flag's creation date, first match wins.
const CREATED_KEYS: [&str; 3] = ["created", "createdAt", "created_at"];

fn is_temporary(metadata: &Map<String, Value>) -> bool {
    let flagged = match metadata.get("temporary") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let typed = metadata
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| TEMPORARY_TYPES.iter().any(|k| t.eq_ignore_ascii_case(k)));
    flagged || typed
}

fn check_age(
    params: &Params,
    now: i64,
    metadata: &Map<String, Value>,
    issues: &mut Vec<Issue>,
    evidence: &mut Evidence,
) {
    if !is_temporary(metadata) {
        return;
    }
    evidence.push(("temporary", "true".to_string()));
    let Some(max_age) = params.max_age_days else {
        return;
    };
    evidence.push(("max_age_days", max_age.to_string()));
    let created = CREATED_KEYS.iter().find_map(|k| metadata.get(*k));
    let created_at = match created {
        None => {
            issues.push(Issue::warn(
                Rule::CreatedDate,
                "temporary flag has no `metadata.created` date, so its age is unknown".to_string(),
                "add `\"created\": \"YYYY-MM-DD\"` to the flag's metadata",
            ));
            return;
        }
        Some(Value::String(text)) => parse_timestamp(text),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("`{n}` is not whole Unix seconds")),
        Some(other) => Err(format!("{} is not a date", text(&other.to_string()))),
    };
    let created_at = match created_at {
        Ok(t) => t,
        Err(message) => {
            issues.push(Issue::warn(
                Rule::CreatedDate,
                format!("cannot read `metadata.created`: {message}"),
                "write `created` as YYYY-MM-DD or an RFC 3339 timestamp",
            ));
            return;
        }
    };
    if let Some(Value::String(text)) = created {
        evidence.push(("created", text.clone()));
    }
    if created_at > now {
        issues.push(Issue::warn(
            Rule::CreatedDate,
            "`metadata.created` is in the future".to_string(),
            "fix the flag's `created` date",
        ));
        return;
    }
    let age_days = (now - created_at) / 86_400;
    evidence.push(("age_days", age_days.to_string()));
    if age_days > i64::from(max_age) {
        issues.push(Issue::warn(
            Rule::Stale,
            format!("temporary flag is {age_days} days old (max_age_days = {max_age}); stale flag, remove it"),
            "remove the flag and the code paths behind it, or mark it permanent",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-06-01T00:00:00Z
    const NOW: i64 = 1_748_736_000;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn run(params: serde_json::Value, text: &str) -> Vec<Finding> {
        let params: Params = serde_json::from_value(params).expect("params parse");
        evaluate(&ctx(), &params, NOW, |path| Ok(SourceFile::new(path, text)))
    }

    fn only(findings: &[Finding], subject: &str) -> Vec<(Status, String)> {
        findings
            .iter()
            .filter(|f| f.subject == subject)
            .map(|f| (f.status, f.rule.clone().unwrap_or_default()))
            .collect()
    }

    const FLAGS: &str = r#"{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "flags": {
    "new-checkout": {
      "state": "ENABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "off",
      "targeting": { "if": [{ "$ref": "beta-users" }, "on", null] }
    },
    "bad-default": {
      "state": "ENABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "of"
    },
    "no-state": {
      "variants": { "a": "x" },
      "defaultVariant": "a"
    },
    "lower-state": {
      "state": "enabled",
      "variants": { "a": "x" },
      "defaultVariant": "a"
    },
    "mixed": {
      "state": "DISABLED",
      "variants": { "a": "x", "b": 1 },
      "defaultVariant": "a"
    },
    "empty": { "state": "ENABLED", "variants": {}, "defaultVariant": "a" },
    "code-default": { "state": "ENABLED", "variants": { "a": 1 }, "defaultVariant": null },
    "bad-ref": {
      "state": "ENABLED",
      "variants": { "a": 1 },
      "defaultVariant": "a",
      "targeting": { "$ref": "nope" }
    }
  },
  "$evaluators": { "beta-users": { "in": ["@beta.example", { "var": "email" }] } }
}"#;

    #[test]
    fn validates_each_flag() {
        let out = run(serde_json::json!({"files": ["flags.json"]}), FLAGS);
        let s = |flag: &str| only(&out, &format!("flags.json#{flag}"));
        assert_eq!(s("new-checkout"), [(Status::Pass, String::new())]);
        assert_eq!(s("bad-default"), [(Status::Fail, "default-variant".into())]);
        assert_eq!(s("no-state"), [(Status::Fail, "state".into())]);
        assert_eq!(s("lower-state"), [(Status::Fail, "state".into())]);
        assert_eq!(s("mixed"), [(Status::Warn, "variant-types".into())]);
        assert_eq!(s("empty"), [(Status::Fail, "variants".into())]);
        assert_eq!(s("code-default"), [(Status::Pass, String::new())]);
        assert_eq!(s("bad-ref"), [(Status::Fail, "evaluator-ref".into())]);
        assert_eq!(out.len(), 8);

        let bad = out
            .iter()
            .find(|f| f.subject == "flags.json#bad-default")
            .unwrap();
        assert_eq!(
            bad.message,
            "flag `bad-default`: defaultVariant `of` is not one of its variants (on, off)"
        );
        let loc = bad.location.as_ref().unwrap();
        assert_eq!((loc.line, loc.column), (Some(10), Some(5)));

        let ok = out
            .iter()
            .find(|f| f.subject == "flags.json#new-checkout")
            .unwrap();
        assert!(ok.evidence.contains(&("state".into(), "ENABLED".into())));
        assert!(ok.evidence.contains(&("variants".into(), "2".into())));
        assert!(ok.evidence.contains(&("type".into(), "boolean".into())));
        assert!(
            ok.evidence
                .contains(&("default_variant".into(), "off".into()))
        );
    }

    fn temporary(metadata: &str) -> String {
        format!(
            r#"{{"flags": {{"f": {{"state": "ENABLED", "variants": {{"on": true}}, "defaultVariant": "on", "metadata": {metadata}}}}}}}"#
        )
    }

    #[test]
    fn stale_temporary_flags_warn() {
        let p = serde_json::json!({"files": ["f.json"], "max_age_days": 90});
        let out = run(
            p.clone(),
            &temporary(r#"{"temporary": true, "created": "2025-01-01"}"#),
        );
        assert_eq!(only(&out, "f.json#f"), [(Status::Warn, "stale".into())]);
        assert!(
            out[0]
                .message
                .contains("151 days old (max_age_days = 90); stale flag, remove it"),
            "{}",
            out[0].message
        );

        let out = run(
            p.clone(),
            &temporary(r#"{"type": "Release", "created": "2025-05-01T09:30:00+02:00"}"#),
        );
        assert_eq!(out[0].status, Status::Pass);
        assert!(out[0].evidence.contains(&("age_days".into(), "30".into())));

        let out = run(
            p.clone(),
            &temporary(r#"{"type": "release", "created": 1735689600}"#),
        );
        assert_eq!(out[0].status, Status::Warn);

        let out = run(
            p.clone(),
            &temporary(r#"{"type": "permanent", "created": "2020-01-01"}"#),
        );
        assert_eq!(out[0].status, Status::Pass);

        let out = run(p.clone(), &temporary(r#"{"temporary": true}"#));
        assert_eq!(
            only(&out, "f.json#f"),
            [(Status::Warn, "created-date".into())]
        );

        let out = run(
            p.clone(),
            &temporary(r#"{"temporary": true, "created": "last week"}"#),
        );
        assert_eq!(
            only(&out, "f.json#f"),
            [(Status::Warn, "created-date".into())]
        );

        let out = run(
            p,
            &temporary(r#"{"temporary": true, "created": "2030-01-01"}"#),
        );
        assert_eq!(
            only(&out, "f.json#f"),
            [(Status::Warn, "created-date".into())]
        );

        // Without max_age_days there is no age check at all.
        let out = run(
            serde_json::json!({"files": ["f.json"]}),
            &temporary(r#"{"temporary": true}"#),
        );
        assert_eq!(out[0].status, Status::Pass);
    }

    #[test]
    fn invalid_json_is_an_error_with_position() {
        let out = run(
            serde_json::json!({"files": ["f.json"]}),
            "{\n  \"flags\": {\n    \"a\": {,\n}",
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Error);
        assert_eq!(out[0].rule.as_deref(), Some("json"));
        let loc = out[0].location.as_ref().unwrap();
        assert_eq!((loc.line, loc.column), (Some(3), Some(11)));
    }

    #[test]
    fn non_flagd_files_fail() {
        for text in [
            "[]",
            "{}",
            r#"{"flags": 3}"#,
            r#"{"flags": {}, "$evaluators": []}"#,
        ] {
            let out = run(serde_json::json!({"files": ["f.json"]}), text);
            assert_eq!(out[0].status, Status::Fail, "{text}");
            assert_eq!(out[0].rule.as_deref(), Some("flag-file"), "{text}");
        }
        let out = run(serde_json::json!({"files": ["f.json"]}), r#"{"flags": {}}"#);
        assert_eq!(out[0].status, Status::Pass);
    }

    #[test]
    fn flag_arrays_use_their_keys() {
        let text = r#"{"flags": [
            {"key": "a", "state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"},
            {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"},
            "nonsense"
        ]}"#;
        let out = run(serde_json::json!({"files": ["f.json"]}), text);
        assert_eq!(only(&out, "f.json#a"), [(Status::Pass, String::new())]);
        assert_eq!(only(&out, "f.json#[1]"), [(Status::Fail, "flag".into())]);
        assert_eq!(only(&out, "f.json#[2]"), [(Status::Fail, "flag".into())]);
    }

    #[test]
    fn missing_default_variant_warns_and_bad_types_fail() {
        let text = r#"{"flags": {
            "a": {"state": "ENABLED", "variants": {"on": true}},
            "b": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": 1, "metadata": []}
        }}"#;
        let out = run(serde_json::json!({"files": ["f.json"]}), text);
        assert_eq!(
            only(&out, "f.json#a"),
            [(Status::Warn, "default-variant".into())]
        );
        assert_eq!(
            only(&out, "f.json#b"),
            [
                (Status::Fail, "default-variant".into()),
                (Status::Fail, "metadata".into())
            ]
        );
    }

    #[test]
    fn unreadable_files_and_bad_params_are_errors() {
        let params: Params =
            serde_json::from_value(serde_json::json!({"files": ["x.json"]})).unwrap();
        let out = evaluate(&ctx(), &params, NOW, |_| {
            Err("x.json is outside the fs grants; add it to `fs`".into())
        });
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("add it to `fs`"));

        let out = run(serde_json::json!({"files": []}), "{}");
        assert_eq!(out[0].status, Status::Error);
        let out = FeatureFlags.run(&ctx(), &serde_json::json!({"files": ["a"], "max_age": 3}));
        assert_eq!(out[0].status, Status::Error);
        let out = FeatureFlags.run(
            &ctx(),
            &serde_json::json!({"files": ["a"], "max_age_days": -1}),
        );
        assert_eq!(out[0].status, Status::Error);
    }

    #[test]
    fn rule_codes_are_unique_kebab_case() {
        let mut codes: Vec<_> = Rule::ALL.iter().map(|r| r.code()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'))
        );
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), Rule::ALL.len());
    }
}
