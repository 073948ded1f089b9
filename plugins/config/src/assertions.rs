//! Assertions over config files, shared by `config.error-handling` and
//! `config.rate-limits`: a dotted key exists, is absent, equals a value,
//! matches a regex, or lies within numeric bounds.
//!
//! Files are read as `gate_configfile` entries, so the same assertion works on
//! JSON, YAML, TOML, `.env`, `.properties` and INI files (and on the nginx
//! entries `config.rate-limits` derives). Keys are dotted paths; `*` matches one
//! segment. What these assertions share with `security.compliance` (presence,
//! patterns, the finding's shape) lives in `gate_configfile::assertion`.

use std::collections::HashSet;

use gate_configfile::assertion::{self, Pattern, Presence, Verdict};
use gate_configfile::{Entry, Format};
use gate_plugin_sdk::redact::shown;
use gate_plugin_sdk::{Context, Finding};
use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub path: String,
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub matches: Option<String>,
    #[serde(default)]
    pub exists: Option<bool>,
    #[serde(default)]
    pub absent: Option<bool>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug)]
pub struct Assertion {
    pub raw: String,
    segments: Vec<String>,
    equals: Option<Value>,
    matches: Option<Pattern>,
    min: Option<f64>,
    max: Option<f64>,
    presence: Presence,
    message: Option<String>,
}

/// The constraint keys, for messages about specs.
const CONSTRAINTS: [&str; 4] = ["equals", "matches", "min", "max"];

/// Validates every spec, collecting all problems.
pub fn compile(specs: &[Spec]) -> Result<Vec<Assertion>, Vec<String>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let n = i + 1;
        let at = format!("assert #{n} (`{}`)", s.path);
        if s.path.trim().is_empty() || s.path.split('.').any(str::is_empty) {
            problems.push(format!("{at}: the path is empty or has an empty segment"));
            continue;
        }
        let matches = match s.matches.as_deref().map(Pattern::new) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                problems.push(format!("{at}: `matches`: {e}"));
                continue;
            }
        };
        if let (Some(min), Some(max)) = (s.min, s.max)
            && min > max
        {
            problems.push(format!("{at}: `min` {min} is above `max` {max}"));
            continue;
        }
        let constrains =
            s.equals.is_some() || matches.is_some() || s.min.is_some() || s.max.is_some();
        let presence = match assertion::presence(s.exists, s.absent, constrains) {
            Ok(p) => p,
            Err(problem) => {
                problems.push(format!("{at}: {}", problem.describe(&CONSTRAINTS)));
                continue;
            }
        };
        if let Some(v) = &s.equals
            && !matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
        {
            problems.push(format!(
                "{at}: `equals` must be a string, number or boolean"
            ));
            continue;
        }
        out.push(Assertion {
            raw: s.path.clone(),
            segments: s.path.split('.').map(str::to_string).collect(),
            equals: s.equals.clone(),
            matches,
            min: s.min,
            max: s.max,
            presence,
            message: s.message.clone(),
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

impl Assertion {
    fn selects(&self, entry: &Entry) -> bool {
        let key = entry.key();
        let parts: Vec<&str> = key.split('.').collect();
        parts.len() == self.segments.len()
            && parts
                .iter()
                .zip(&self.segments)
                .all(|(p, s)| s == "*" || p == s)
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.presence {
            Presence::Exists => parts.push("exists".to_string()),
            Presence::Absent => parts.push("is absent".to_string()),
            Presence::Constrained => {}
        }
        if let Some(v) = &self.equals {
            parts.push(format!("equals {v}"));
        }
        if let Some(p) = &self.matches {
            parts.push(format!("matches /{}/", p.raw));
        }
        match (self.min, self.max) {
            (Some(a), Some(b)) => parts.push(format!("is between {a} and {b}")),
            (Some(a), None) => parts.push(format!("is at least {a}")),
            (None, Some(b)) => parts.push(format!("is at most {b}")),
            _ => {}
        }
        parts.join(" and ")
    }

    /// The first selected entry that violates the assertion, and why; an
    /// error when the `matches` pattern cannot be applied to a value.
    fn first_violation<'e>(
        &self,
        hits: &[&'e Entry],
    ) -> Result<Option<(&'e Entry, String)>, regex::Error> {
        for e in hits {
            if let Some(why) = self.violation(&e.key(), &e.value)? {
                return Ok(Some((*e, why)));
            }
        }
        Ok(None)
    }

    /// Why `value` violates the assertion, or `None` when it satisfies it.
    fn violation(&self, key: &str, value: &str) -> Result<Option<String>, regex::Error> {
        if let Some(want) = &self.equals
            && !equal(want, value)
        {
            return Ok(Some(format!("is `{}`, not {want}", shown(key, value))));
        }
        if let Some(p) = &self.matches
            && !p.is_match(value)?
        {
            return Ok(Some(format!(
                "`{}` does not match /{}/",
                shown(key, value),
                p.raw
            )));
        }
        if self.min.is_some() || self.max.is_some() {
            let Some(n) = leading_number(value) else {
                return Ok(Some(format!("`{}` is not a number", shown(key, value))));
            };
            if let Some(min) = self.min
                && n < min
            {
                return Ok(Some(format!("{n} is below the minimum {min}")));
            }
            if let Some(max) = self.max
                && n > max
            {
                return Ok(Some(format!("{n} is above the maximum {max}")));
            }
        }
        Ok(None)
    }
}

/// Booleans compare as booleans (`on`, `yes`, `1` are true), numbers numerically,
/// strings exactly.
fn equal(want: &Value, value: &str) -> bool {
    match want {
        Value::Bool(b) => truthy(value) == Some(*b),
        Value::Number(n) => value.trim().parse::<f64>().ok() == n.as_f64(),
        Value::String(s) => s == value,
        _ => false,
    }
}

pub fn truthy(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" | "y" => Some(true),
        "false" | "off" | "no" | "0" | "n" => Some(false),
        _ => None,
    }
}

/// The number a value starts with: `100`, `2.5`, and `10r/s` or `100/minute`
/// (rate-limit notations) as 10 and 100.
pub fn leading_number(value: &str) -> Option<f64> {
    let v = value.trim();
    let end = v
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '-' || *c == '+'))))
        .map_or(v.len(), |(i, _)| i);
    v[..end].parse().ok()
}

/// One finding per assertion for one file's entries.
pub fn check_file(
    ctx: &Context,
    file: &str,
    format: Format,
    text: &str,
    entries: &[Entry],
    assertions: &[Assertion],
) -> Vec<Finding> {
    let mut used = HashSet::new();
    let mut locate = |e: &Entry| gate_configfile::locate(format, text, e, &mut used);
    assertions
        .iter()
        .map(|a| {
            let hits: Vec<&Entry> = entries.iter().filter(|e| a.selects(e)).collect();
            let expected = a.describe();
            let verdict = Verdict {
                file,
                path: &a.raw,
                expected: &expected,
                matched: hits.len(),
            };
            let what = a
                .message
                .clone()
                .unwrap_or_else(|| format!("`{}` must satisfy: {expected}", a.raw));
            let fail = |detail: &str| verdict.fail(ctx, &what, detail);
            match (a.presence, hits.first()) {
                (Presence::Exists | Presence::Constrained, None) => {
                    fail("not found").location(file, None, None).build()
                }
                (Presence::Absent, Some(hit)) => {
                    let at = locate(hit);
                    let value = shown(&hit.key(), &hit.value);
                    located(fail(&format!("is set to `{value}`")), file, at)
                }
                (Presence::Constrained, Some(_)) => match a.first_violation(&hits) {
                    Ok(Some((e, why))) => {
                        let at = locate(e);
                        located(fail(&why).evidence("key", e.key()), file, at)
                    }
                    Err(err) => verdict
                        .unmatchable(ctx, &err)
                        .location(file, None, None)
                        .build(),
                    Ok(None) => verdict
                        .pass(ctx, &expected)
                        .location(file, None, None)
                        .build(),
                },
                _ => verdict
                    .pass(ctx, &expected)
                    .location(file, None, None)
                    .build(),
            }
        })
        .collect()
}

fn located(b: gate_plugin_sdk::FindingBuilder, file: &str, at: Option<(u32, u32)>) -> Finding {
    b.location(file, at.map(|l| l.0), at.map(|l| l.1)).build()
}

#[cfg(test)]
mod tests {
    use gate_plugin_sdk::Status;
    use serde_json::json;

    use super::*;

    fn ctx() -> Context {
        Context {
            check: "config.test".to_string(),
            cwd: "/".to_string(),
        }
    }

    fn run(format: Format, text: &str, specs: serde_json::Value) -> Vec<Finding> {
        let specs: Vec<Spec> = serde_json::from_value(specs).unwrap();
        let assertions = compile(&specs).unwrap();
        let entries = gate_configfile::entries(format, text).unwrap();
        check_file(&ctx(), "app.yaml", format, text, &entries, &assertions)
    }

    #[test]
    fn exists_absent_equals_matches_and_bounds() {
        let yaml = "errors:\n  sentry_dsn: https://k@sentry.io/1\n  include_stacktrace: never\nratelimit:\n  rps: 2000\n  burst: 50\n  window: 1m\n";
        let out = run(
            Format::Yaml,
            yaml,
            json!([
                {"path": "errors.sentry_dsn", "exists": true},
                {"path": "errors.include_stacktrace", "equals": "never"},
                {"path": "errors.debug", "absent": true},
                {"path": "ratelimit.rps", "min": 1, "max": 1000},
                {"path": "ratelimit.burst", "max": 100},
                {"path": "ratelimit.window", "matches": "[0-9]+[smh]"},
                {"path": "ratelimit.per_ip", "exists": true},
            ]),
        );
        let statuses: Vec<_> = out.iter().map(|f| f.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Pass,
                Status::Pass,
                Status::Pass,
                Status::Fail,
                Status::Pass,
                Status::Pass,
                Status::Fail
            ]
        );
        assert_eq!(out[3].subject, "app.yaml:ratelimit.rps");
        assert!(
            out[3].message.contains("2000 is above the maximum 1000"),
            "{}",
            out[3].message
        );
        assert_eq!(out[3].location.as_ref().unwrap().line, Some(5));
        assert!(out[6].message.contains("not found"));
    }

    /// `\w{1000}` is within the size limit for ASCII values only: on a
    /// value beyond ASCII the assertion is an error, not a pass or a fail.
    #[test]
    fn a_pattern_too_big_for_a_value_is_an_error() {
        let yaml = format!("a: {}\nb: {}\n", "a".repeat(1000), "é".repeat(1000));
        let out = run(
            Format::Yaml,
            &yaml,
            json!([
                {"path": "a", "matches": "\\w{1000}"},
                {"path": "b", "matches": "\\w{1000}"},
            ]),
        );
        assert_eq!(out[0].status, Status::Pass, "{}", out[0].message);
        assert_eq!(out[1].status, Status::Error, "{}", out[1].message);
        assert!(
            out[1]
                .message
                .starts_with("`b`: the `matches` pattern cannot be applied to a value in app.yaml"),
            "{}",
            out[1].message
        );
    }

    #[test]
    fn wildcards_booleans_and_rate_notation() {
        let toml = "[limits.api]\nrate = \"10r/s\"\n[limits.admin]\nrate = \"500r/s\"\n[debug]\nenabled = \"off\"\n";
        let out = run(
            Format::Toml,
            toml,
            json!([
                {"path": "limits.*.rate", "max": 100},
                {"path": "debug.enabled", "equals": false},
            ]),
        );
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0].message.contains("500 is above"),
            "{}",
            out[0].message
        );
        assert_eq!(out[1].status, Status::Pass);
        assert_eq!(leading_number("100/minute"), Some(100.0));
        assert_eq!(leading_number("-1"), Some(-1.0));
        assert_eq!(leading_number("r10"), None);
    }

    #[test]
    fn secret_values_are_not_shown() {
        let out = run(
            Format::Env,
            "SENTRY_DSN=https://abcdef@o1.ingest.sentry.io/2\n",
            json!([{"path": "SENTRY_DSN", "matches": "https://.*@sentry\\.example/.*"}]),
        );
        assert_eq!(out[0].status, Status::Fail);
        assert!(!format!("{out:?}").contains("abcdef"), "{out:?}");
    }

    #[test]
    fn bounds_do_not_print_a_secret_under_an_ordinary_key() {
        // The value of a numeric assertion that is not a number was printed raw.
        let key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
        let out = run(
            Format::Yaml,
            &format!("limits:\n  rate: {key}\n"),
            json!([{"path": "limits.rate", "min": 1, "max": 50}]),
        );
        assert_eq!(out[0].status, Status::Fail);
        assert!(format!("{out:?}").contains("is not a number"), "{out:?}");
        assert!(!format!("{out:?}").contains(key), "{out:?}");
    }

    #[test]
    fn invalid_specs_are_all_reported() {
        let specs: Vec<Spec> = serde_json::from_value(json!([
            {"path": "a"},
            {"path": "b", "matches": "("},
            {"path": "c", "min": 5, "max": 1},
            {"path": "d", "exists": true, "absent": true},
            {"path": "e", "absent": true, "equals": 1},
            {"path": "f..g", "exists": true},
            {"path": "h", "equals": [1]},
        ]))
        .unwrap();
        let problems = compile(&specs).unwrap_err();
        assert_eq!(problems.len(), 7, "{problems:#?}");
    }
}
