//! `security.compliance`: declarative assertions over JSON, YAML and TOML config
//! files: a value at a path equals something, matches a regex, exists, or is absent.

pub mod path;

use gate_configfile::assertion::{self, Pattern, Presence, Verdict};
use gate_configfile::{Format, ParseError};
use gate_plugin_sdk::paths::{GrantedPath, read_bytes};
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;
use serde_json::Value;

use self::path::{Path, Segment};
use crate::grants::{Grants, HostGrants, unreadable};
use crate::no_secrets::detect::is_secret_key;
use crate::walk::expand;
use gate_plugin_sdk::redact::{redact, shown};

pub const ID: &str = "security.compliance";
const DEFAULT_MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// How many offending values a failure lists before summarising.
const SHOW: usize = 5;
/// Longest rendering of one value in evidence.
const VALUE_CHARS: usize = 120;

pub struct Compliance;

impl Check for Compliance {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Config files satisfy compliance assertions".to_string(),
            description: "Reads JSON, YAML (every document of a stream) and TOML files, chosen by extension, and \
                          checks each assertion against each file: the value at a path equals a value, matches a \
                          regex, exists, or is absent. One finding per file and assertion."
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("files", "list<string>", true, "Config files (.json, .yaml/.yml, .toml), relative to the working directory; globs such as `k8s/**/*.yaml` expand, and must match at least one file."),
                param("assert", "list<{ path, equals?, matches?, exists?, absent?, message?, id?, severity?, optional? }>", true, "Assertions. `path` uses dotted keys, `[n]` indexes, quoted keys (`a.\"b.c\"`) and `*` wildcards; with a wildcard, equals/matches must hold for every match and exists needs at least one."),
                param_default("max_file_bytes", "integer", "Larger files are an error rather than read.", "8388608"),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        run(ctx, params, &HostGrants)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    files: Vec<String>,
    #[serde(rename = "assert")]
    assertions: Vec<AssertionSpec>,
    #[serde(default = "default_max_file_bytes")]
    max_file_bytes: u64,
}

fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssertionSpec {
    path: String,
    equals: Option<Value>,
    matches: Option<String>,
    exists: Option<bool>,
    absent: Option<bool>,
    message: Option<String>,
    /// Becomes the finding's `rule`, so reports and exemptions can name the assertion.
    id: Option<String>,
    severity: Option<String>,
    /// equals/matches only constrain values that exist; nothing matching passes.
    #[serde(default)]
    optional: bool,
}

enum Expect {
    Exists,
    Absent,
    Values {
        equals: Option<Value>,
        matches: Option<Pattern>,
    },
}

struct Assertion {
    raw: String,
    path: Path,
    expect: Expect,
    optional: bool,
    message: Option<String>,
    id: Option<String>,
    severity: Option<Severity>,
}

impl Assertion {
    /// "equals 3" as a statement, or "equal 3" after "must".
    fn describe(&self, imperative: bool) -> String {
        let verb = |statement: &str, command: &str| {
            if imperative {
                command.to_string()
            } else {
                statement.to_string()
            }
        };
        match &self.expect {
            Expect::Exists => verb("exists", "exist"),
            Expect::Absent => verb("is absent", "be absent"),
            Expect::Values { equals, matches } => {
                let mut parts = Vec::new();
                if let Some(v) = equals {
                    parts.push(format!(
                        "{} {}",
                        verb("equals", "equal"),
                        render(&v.to_string())
                    ));
                }
                if let Some(r) = matches {
                    parts.push(format!("{} /{}/", verb("matches", "match"), r.raw));
                }
                parts.join(" and ")
            }
        }
    }
}

fn validate(ctx: &Context, specs: Vec<AssertionSpec>) -> Result<Vec<Assertion>, Vec<Finding>> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (i, spec) in specs.into_iter().enumerate() {
        let n = i + 1;
        let path = match path::parse(&spec.path) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("assert #{n}: {e}"));
                continue;
            }
        };
        let matches = match spec.matches.as_deref().map(Pattern::new) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                problems.push(format!("assert #{n} (`{}`): `matches`: {e}", spec.path));
                continue;
            }
        };
        let severity = match spec
            .severity
            .as_deref()
            .map(|s| (s, crate::severity::parse(s)))
        {
            None => None,
            Some((_, Some(s))) => Some(s),
            Some((s, None)) => {
                problems.push(format!(
                    "assert #{n} (`{}`): severity `{s}` is not one of info, low, medium, high, critical",
                    spec.path
                ));
                continue;
            }
        };
        let wants_value = spec.equals.is_some() || matches.is_some();
        let expect = match assertion::presence(spec.exists, spec.absent, wants_value) {
            Ok(Presence::Exists) => Expect::Exists,
            Ok(Presence::Absent) => Expect::Absent,
            Ok(Presence::Constrained) => Expect::Values {
                equals: spec.equals,
                matches,
            },
            Err(problem) => {
                problems.push(format!(
                    "assert #{n} (`{}`): {}",
                    spec.path,
                    problem.describe(&["equals", "matches"])
                ));
                continue;
            }
        };
        if spec.optional && !matches!(expect, Expect::Values { .. }) {
            problems.push(format!(
                "assert #{n} (`{}`): `optional` only applies to `equals`/`matches`",
                spec.path
            ));
            continue;
        }
        out.push(Assertion {
            raw: spec.path,
            path,
            expect,
            optional: spec.optional,
            message: spec.message,
            id: spec.id,
            severity,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(params::invalid(ctx, problems.join("; ")))
    }
}

pub fn run(ctx: &Context, params: &serde_json::Value, grants: &dyn Grants) -> Vec<Finding> {
    let p: Params = match params::parse(ctx, params) {
        Ok(p) => p,
        Err(f) => return f,
    };
    if p.files.is_empty() || p.assertions.is_empty() {
        return params::invalid(
            ctx,
            "`files` and `assert` must each have at least one entry",
        );
    }
    let assertions = match validate(ctx, p.assertions) {
        Ok(a) => a,
        Err(f) => return f,
    };
    let mut findings = Vec::new();
    for pattern in &p.files {
        let files = match expand(grants, pattern) {
            Ok(f) => f,
            Err(e) => {
                findings.push(unreadable(ctx, pattern, &e));
                continue;
            }
        };
        for file in files {
            let docs = match load_file(&file.display, &file.absolute, p.max_file_bytes) {
                Ok(docs) => docs,
                Err(LoadError::Unreadable(e)) => {
                    findings.push(unreadable(ctx, &file.display, &e));
                    continue;
                }
                Err(LoadError::Invalid(message)) => {
                    findings.push(
                        ctx.finding(&file.display, Status::Error)
                            .message(message)
                            .remediation(
                                "fix the file, or name only JSON, YAML or TOML files in `files`",
                            )
                            .location(&file.display, None, None)
                            .build(),
                    );
                    continue;
                }
            };
            for a in &assertions {
                findings.push(check(ctx, &file.display, &docs, a));
            }
        }
    }
    crate::cap(ctx, findings)
}

enum LoadError {
    Unreadable(String),
    Invalid(String),
}

fn load_file(display: &str, absolute: &std::path::Path, max: u64) -> Result<Vec<Value>, LoadError> {
    let Some(format) = Format::detect_structured(display) else {
        return Err(LoadError::Invalid(format!(
            "cannot tell the format of `{display}`: use a .json, .yaml, .yml or .toml file"
        )));
    };
    let granted = GrantedPath {
        display: display.to_string(),
        absolute: absolute.to_string_lossy().into_owned(),
    };
    let bytes = read_bytes(&granted, max).map_err(LoadError::Unreadable)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| LoadError::Invalid(format!("`{display}` is not valid UTF-8")))?;
    documents(format, &text)
        .map_err(|e| LoadError::Invalid(format!("`{display}` is not valid {}: {e}", format.name())))
}

/// The documents assertions run over: one per YAML document that anyone wrote
/// (`---` separators with nothing between them are skipped), and one null
/// document for an empty file.
pub(crate) fn documents(format: Format, text: &str) -> Result<Vec<Value>, ParseError> {
    let mut docs = gate_configfile::documents(format, text)?;
    if docs.len() > 1 {
        docs.retain(|d| !d.is_null());
    }
    if docs.is_empty() {
        docs.push(Value::Null);
    }
    Ok(docs)
}

/// A concrete place in a file, with the YAML document number when there are several.
struct Place {
    doc: Option<usize>,
    at: String,
    value: Option<Value>,
    last_key: Option<String>,
}

impl Place {
    fn label(&self) -> String {
        match self.doc {
            Some(d) => format!("document {d}: {}", self.at),
            None => self.at.clone(),
        }
    }

    /// The value as evidence: masked (under secret-named keys, or when it
    /// looks like a credential), then truncated.
    fn shown(&self) -> String {
        let Some(v) = &self.value else {
            return "(missing)".to_string();
        };
        let key = self.last_key.as_deref().unwrap_or_default();
        let masked = match v {
            Value::String(s) if is_secret_key(key) => redact(s),
            other if is_secret_key(key) => redact(&other.to_string()),
            other => shown(key, &other.to_string()),
        };
        render(&masked)
    }
}

fn render(s: &str) -> String {
    if s.chars().count() > VALUE_CHARS {
        let cut: String = s.chars().take(VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        s.to_string()
    }
}

fn places(docs: &[Value], path: &Path) -> Vec<Place> {
    let multi = docs.len() > 1;
    let mut out = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        for hit in path::eval(doc, path) {
            out.push(Place {
                doc: multi.then_some(i + 1),
                at: hit.at_string(),
                value: hit.value.cloned(),
                last_key: hit.at.iter().rev().find_map(|s| match s {
                    Segment::Key(k) => Some(k.clone()),
                    _ => None,
                }),
            });
        }
    }
    out
}

/// Equality that treats `1`, `1.0` and a TOML integer alike.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Scalars as the regex sees them: strings as-is, numbers and booleans as written.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `Ok(detail)` passes; `Err((detail, offenders))` fails.
type Outcome<'p> = Result<String, (String, Vec<&'p Place>)>;

fn check(ctx: &Context, file: &str, docs: &[Value], a: &Assertion) -> Finding {
    let found = places(docs, &a.path);
    let (present, missing): (Vec<&Place>, Vec<&Place>) =
        found.iter().partition(|p| p.value.is_some());
    let expected = a.describe(false);
    let verdict = Verdict {
        file,
        path: &a.raw,
        expected: &expected,
        matched: present.len(),
    };
    let mut f = match outcome(a, &expected, &present, &missing) {
        Err(err) => verdict.unmatchable(ctx, &err),
        Ok(Ok(detail)) => verdict.pass(ctx, &detail),
        Ok(Err((detail, offenders))) => {
            let what = a
                .message
                .clone()
                .unwrap_or_else(|| format!("`{}` must {}", a.raw, a.describe(true)));
            let f = verdict.fail(ctx, &what, &detail);
            match offenders_shown(&offenders) {
                Some(text) => f.evidence("found", text),
                None => f,
            }
        }
    };
    if let Some(id) = &a.id {
        f = f.rule(id);
    }
    if let Some(s) = a.severity {
        f = f.severity(s);
    }
    f.location(file, None, None).build()
}

/// The assertion's outcome, or an error when its `matches` pattern cannot be
/// applied to a value (see [`Pattern::is_match`]).
fn outcome<'p>(
    a: &Assertion,
    expected: &str,
    present: &[&'p Place],
    missing: &[&'p Place],
) -> Result<Outcome<'p>, regex::Error> {
    Ok(match &a.expect {
        Expect::Exists if present.is_empty() => Err(("not found".to_string(), missing.to_vec())),
        Expect::Exists => Ok(format!(
            "exists ({})",
            count(present.len(), "match", "matches")
        )),
        Expect::Absent if present.is_empty() => Ok("is absent".to_string()),
        Expect::Absent => Err(("is present".to_string(), present.to_vec())),
        Expect::Values { equals, matches } => {
            let mut bad: Vec<&Place> = Vec::new();
            for p in present.iter().copied() {
                let v = p.value.as_ref().unwrap();
                let eq_ok = equals.as_ref().is_none_or(|e| same(v, e));
                let re_ok = match (matches, as_text(v)) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(r), Some(t)) => r.is_match(&t)?,
                };
                if !(eq_ok && re_ok) {
                    bad.push(p);
                }
            }
            let satisfied = || {
                Ok(format!(
                    "{expected} ({})",
                    count(present.len(), "value", "values")
                ))
            };
            if !bad.is_empty() {
                Err((
                    format!("{} of {} value(s) do not match", bad.len(), present.len()),
                    bad,
                ))
            } else if a.optional {
                satisfied()
            } else if !missing.is_empty() {
                Err(("not found".to_string(), missing.to_vec()))
            } else if present.is_empty() {
                Err(("matched nothing".to_string(), Vec::new()))
            } else {
                satisfied()
            }
        }
    })
}

/// The first [`SHOW`] offenders as evidence, or `None` when there are none.
fn offenders_shown(offenders: &[&Place]) -> Option<String> {
    let shown: Vec<String> = offenders
        .iter()
        .take(SHOW)
        .map(|p| {
            if p.value.is_some() {
                format!("{} = {}", p.label(), p.shown())
            } else {
                format!("{} (missing)", p.label())
            }
        })
        .collect();
    if shown.is_empty() {
        return None;
    }
    let mut text = shown.join("; ");
    if offenders.len() > SHOW {
        text.push_str(&format!("; … {} more", offenders.len() - SHOW));
    }
    Some(text)
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests;
