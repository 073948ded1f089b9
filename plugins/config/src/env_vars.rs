//! `config.env-vars`: required variables are set and match their patterns;
//! forbidden ones are not set.
//!
//! Values are secrets as often as not, so no finding ever carries one: evidence
//! is limited to whether a variable is set and its length.

use std::collections::BTreeMap;

use gate_configfile::assertion::Pattern;
use gate_plugin_sdk::host::env;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

pub const ID: &str = "config.env-vars";

pub struct EnvVars;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub patterns: BTreeMap<String, String>,
    #[serde(default)]
    pub forbidden: Vec<String>,
    #[serde(default)]
    pub allow_empty: bool,
}

/// What the policy expects of one variable.
#[derive(Debug)]
struct Expectation {
    name: String,
    required: bool,
    /// Anchored for a full match.
    pattern: Option<Pattern>,
    forbidden: bool,
}

impl Params {
    /// One expectation per variable, in the order the policy names them.
    fn expectations(&self) -> Result<Vec<Expectation>, Vec<String>> {
        let mut problems = Vec::new();
        if self.required.is_empty() && self.patterns.is_empty() && self.forbidden.is_empty() {
            problems.push("set at least one of `required`, `patterns`, `forbidden`".to_string());
        }
        let names = self
            .required
            .iter()
            .chain(self.patterns.keys())
            .chain(&self.forbidden);
        for name in names {
            if name.is_empty() || name.contains(['=', '\0']) {
                problems.push(format!("`{name}` is not a valid variable name"));
            }
        }
        let mut out: Vec<Expectation> = Vec::new();
        for name in &self.required {
            slot(&mut out, name).required = true;
        }
        for (name, pattern) in &self.patterns {
            match Pattern::new(pattern) {
                Ok(p) => slot(&mut out, name).pattern = Some(p),
                Err(err) => problems.push(format!("pattern for `{name}` does not compile: {err}")),
            }
        }
        for name in &self.forbidden {
            let e = slot(&mut out, name);
            if e.required || self.patterns.contains_key(name) {
                problems.push(format!(
                    "`{name}` is both forbidden and required or patterned"
                ));
            }
            e.forbidden = true;
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }
}

/// The expectation for `name`, added on first mention so findings keep the policy's order.
fn slot<'a>(list: &'a mut Vec<Expectation>, name: &str) -> &'a mut Expectation {
    let i = match list.iter().position(|e| e.name == name) {
        Some(i) => i,
        None => {
            list.push(Expectation {
                name: name.to_string(),
                required: false,
                pattern: None,
                forbidden: false,
            });
            list.len() - 1
        }
    };
    &mut list[i]
}

impl Check for EnvVars {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Environment variables".to_string(),
            description: "Required variables are set and match their patterns, forbidden ones are unset; values are never printed"
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("required", "list<string>", false, "Variables that must be set (and not empty)"),
                param(
                    "patterns",
                    "{ NAME = \"regex\" }",
                    false,
                    "Regular expressions a variable's whole value must match, when it is set",
                ),
                param("forbidden", "list<string>", false, "Variables that must not be set at all"),
                param_default(
                    "allow_empty",
                    "bool",
                    "Count a required variable that is set to the empty string as set",
                    "false",
                ),
            ],
            capabilities: vec!["env".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        match params::parse(ctx, params) {
            Ok(p) => evaluate(ctx, &p, env::get),
            Err(findings) => findings,
        }
    }
}

/// Checks every variable; `lookup` is the host's `env.get` (a parameter so tests can fake it).
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    lookup: impl Fn(&str) -> Result<Option<String>, String>,
) -> Vec<Finding> {
    let expectations = match params.expectations() {
        Ok(e) => e,
        Err(problems) => return params::invalid(ctx, problems.join("; ")),
    };
    expectations
        .iter()
        .map(|e| match lookup(&e.name) {
            Ok(value) => assess(ctx, params, e, value.as_deref()),
            // The host's message names the exact grant to add.
            Err(message) => ctx
                .finding(&e.name, Status::Error)
                .message(format!("cannot read `{}`: {message}", e.name))
                .build(),
        })
        .collect()
}

fn assess(ctx: &Context, params: &Params, e: &Expectation, value: Option<&str>) -> Finding {
    let name = &e.name;
    let (status, message, remediation) = match value {
        None if e.required => (
            Status::Fail,
            format!("required variable `{name}` is not set"),
            Some(format!("set `{name}` in the deployment environment")),
        ),
        None => (Status::Pass, format!("`{name}` is not set"), None),
        Some(_) if e.forbidden => (
            Status::Fail,
            format!("`{name}` is set but must not be"),
            Some(format!("remove `{name}` from the deployment environment")),
        ),
        Some("") if e.required && !params.allow_empty => (
            Status::Fail,
            format!("required variable `{name}` is set but empty"),
            Some(format!(
                "give `{name}` a value, or set `allow_empty = true`"
            )),
        ),
        Some(v) => match e.pattern.as_ref().map(|p| (p, p.is_match(v))) {
            Some((_, Err(err))) => (
                Status::Error,
                format!("pattern for `{name}` cannot be applied to its value: {err}"),
                Some(format!("simplify the pattern for `{name}`")),
            ),
            Some((p, Ok(false))) => (
                Status::Fail,
                format!("`{name}` does not match pattern `{}`", p.raw),
                Some(format!(
                    "fix `{name}`'s value so that all of it matches the pattern"
                )),
            ),
            Some(_) => (
                Status::Pass,
                format!("`{name}` is set and matches its pattern"),
                None,
            ),
            None => (Status::Pass, format!("`{name}` is set"), None),
        },
    };
    let mut finding = ctx
        .finding(name, status)
        .message(message)
        .evidence("set", value.is_some());
    if let Some(v) = value {
        finding = finding.evidence("length", v.chars().count());
    }
    if let Some(pattern) = &e.pattern {
        finding = finding.evidence("pattern", &pattern.raw);
    }
    if let Some(hint) = remediation {
        finding = finding.remediation(hint);
    }
    finding.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-Value-42";

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn run(params: serde_json::Value, vars: &[(&str, &str)]) -> Vec<Finding> {
        let params: Params = serde_json::from_value(params).expect("params parse");
        evaluate(&ctx(), &params, |name| {
            if name.starts_with("DENIED") {
                return Err(format!("env var `{name}` is not granted; add it to `env`"));
            }
            Ok(vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string()))
        })
    }

    fn status_of(findings: &[Finding], subject: &str) -> Status {
        findings
            .iter()
            .find(|f| f.subject == subject)
            .unwrap_or_else(|| panic!("no {subject}"))
            .status
    }

    /// Values appear in no field of any finding.
    fn assert_no_value(findings: &[Finding], value: &str) {
        let dump = format!("{findings:?}");
        assert!(!dump.contains(value), "value leaked: {dump}");
    }

    #[test]
    fn required_and_patterns() {
        let out = run(
            serde_json::json!({
                "required": ["DATABASE_URL", "MISSING", "EMPTY"],
                "patterns": {"DATABASE_URL": "postgres://.*", "PORT": "[0-9]+", "OPTIONAL": "x"}
            }),
            &[
                ("DATABASE_URL", "postgres://u:pw@db/app"),
                ("PORT", "80a"),
                ("EMPTY", ""),
            ],
        );
        assert_eq!(out.len(), 5);
        assert_eq!(
            out.iter().map(|f| f.subject.as_str()).collect::<Vec<_>>(),
            ["DATABASE_URL", "MISSING", "EMPTY", "OPTIONAL", "PORT"]
        );
        assert_eq!(status_of(&out, "DATABASE_URL"), Status::Pass);
        assert_eq!(status_of(&out, "MISSING"), Status::Fail);
        assert_eq!(status_of(&out, "EMPTY"), Status::Fail);
        assert_eq!(status_of(&out, "OPTIONAL"), Status::Pass);
        let port = out.iter().find(|f| f.subject == "PORT").unwrap();
        assert_eq!(port.status, Status::Fail);
        assert_eq!(port.message, "`PORT` does not match pattern `[0-9]+`");
        assert!(port.evidence.contains(&("set".into(), "true".into())));
        assert!(port.evidence.contains(&("length".into(), "3".into())));
        assert_no_value(&out, "u:pw@db");
        assert_no_value(&out, "80a");
    }

    #[test]
    fn patterns_match_the_whole_value() {
        let p = serde_json::json!({"patterns": {"A": "ab|cd", "B": "[a-z]+"}});
        let out = run(p.clone(), &[("A", "abcd"), ("B", "abc\n")]);
        assert!(out.iter().all(|f| f.status == Status::Fail), "{out:?}");
        let out = run(p, &[("A", "cd"), ("B", "abc")]);
        assert!(out.iter().all(|f| f.status == Status::Pass), "{out:?}");
    }

    /// `\w{1000}` is within the size limit for ASCII values only: an ASCII
    /// value is held to it, a value beyond ASCII makes the check an error,
    /// never a pass or a fail.
    #[test]
    fn a_pattern_too_big_for_a_value_is_an_error() {
        let p = serde_json::json!({"patterns": {"A": "\\w{1000}", "B": "\\w{1000}"}});
        let long = "é".repeat(1000);
        let out = run(p, &[("A", &"a".repeat(1000)), ("B", &long)]);
        assert_eq!(status_of(&out, "A"), Status::Pass);
        let b = out.iter().find(|f| f.subject == "B").unwrap();
        assert_eq!(b.status, Status::Error);
        assert!(
            b.message
                .starts_with("pattern for `B` cannot be applied to its value: "),
            "{}",
            b.message
        );
        assert_no_value(&out, &long);
    }

    #[test]
    fn forbidden_variables_must_be_unset() {
        let out = run(
            serde_json::json!({"forbidden": ["DEBUG", "NODE_TLS_REJECT_UNAUTHORIZED"]}),
            &[("DEBUG", SECRET)],
        );
        assert_eq!(out[0].status, Status::Fail);
        assert_eq!(out[0].message, "`DEBUG` is set but must not be");
        assert_eq!(out[1].status, Status::Pass);
        assert!(out[1].evidence.contains(&("set".into(), "false".into())));
        assert_no_value(&out, SECRET);
    }

    #[test]
    fn allow_empty_counts_empty_as_set() {
        let out = run(
            serde_json::json!({"required": ["E"], "allow_empty": true}),
            &[("E", "")],
        );
        assert_eq!(out[0].status, Status::Pass);
    }

    #[test]
    fn denied_grant_is_an_error_with_the_host_message() {
        let out = run(
            serde_json::json!({"required": ["DENIED_KEY", "OK"]}),
            &[("OK", SECRET)],
        );
        assert_eq!(out[0].status, Status::Error);
        assert!(
            out[0].message.contains("add it to `env`"),
            "{}",
            out[0].message
        );
        assert_eq!(out[1].status, Status::Pass);
        assert_no_value(&out, SECRET);
    }

    #[test]
    fn pattern_mismatch_never_prints_the_value() {
        let out = run(
            serde_json::json!({"patterns": {"TOKEN": "tok_[a-f0-9]{8}"}}),
            &[("TOKEN", SECRET)],
        );
        assert_eq!(out[0].status, Status::Fail);
        assert_no_value(&out, SECRET);
    }

    #[test]
    fn bad_params_are_reported_together() {
        let out = run(
            serde_json::json!({"required": ["A", "B=C"], "patterns": {"A": "(", "X": "ok"}, "forbidden": ["X"]}),
            &[],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Error);
        for part in [
            "`B=C` is not a valid variable name",
            "pattern for `A` does not compile",
            "`X` is both forbidden",
        ] {
            assert!(out[0].message.contains(part), "{part}: {}", out[0].message);
        }
        // The error quotes the pattern as written, not its anchored form.
        assert!(!out[0].message.contains(r"\A(?:"), "{}", out[0].message);
        let out = run(serde_json::json!({}), &[]);
        assert!(out[0].message.contains("set at least one of"));
        let out = EnvVars.run(&ctx(), &serde_json::json!({"require": ["A"]}));
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("require"));
    }
}
