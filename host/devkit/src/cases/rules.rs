//! The rules every plugin keeps, whatever its cases say (docs/plugins.md,
//! "Rules for plugins"): each is tried on every check the plugin describes.
//!
//! * [`Rule::Catalogue`]: `describe()` keeps the catalogue invariants the host
//!   enforces ([`gate_sandbox::plugin::catalogue_problems`]);
//! * [`Rule::MissingParam`]: a required param left out gives an `error`
//!   finding and no `pass`;
//! * [`Rule::WrongType`]: a param of the wrong JSON type gives an `error`
//!   finding and no `pass`;
//! * [`Rule::Denied`]: with every capability denied, a check that declares
//!   capabilities gives an `error` finding and never `pass`;
//! * [`Rule::NotEmpty`]: no run, of a case or of a rule, returns an empty
//!   list of findings.
//!
//! This module derives the runs ([`probes`]) and judges their findings
//! ([`judge`]); [`super::run`] makes the runs.

use gate_core::model::Status;
use gate_sandbox::plugin::CheckMeta;
use serde::Serialize;
use serde_json::{Value, json};

use super::expect::Seen;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Rule {
    Catalogue,
    MissingParam,
    WrongType,
    Denied,
    NotEmpty,
}

impl Rule {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// What the rule asks, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            Rule::Catalogue => "describe() keeps the catalogue invariants",
            Rule::MissingParam => "a missing required param gives an error finding",
            Rule::WrongType => "a param of the wrong JSON type gives an error finding",
            Rule::Denied => "with every capability denied the check errors, never passes",
            Rule::NotEmpty => "no run returns an empty list of findings",
        }
    }
}

/// One run a rule makes: the check's sample params, changed.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub rule: Rule,
    /// What was tried, e.g. "without required param `url`".
    pub label: String,
    pub params: Value,
    /// Run with every capability denied instead of the sample case's
    /// fixture and stubs.
    pub denied: bool,
}

/// A rule that does not apply to a check, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotApplicable {
    pub rule: Rule,
    pub reason: String,
}

/// The runs the rules make for `check`, starting from `sample` (the params
/// of the check's first case, or `{}`), and the rules that do not apply.
pub fn probes(check: &CheckMeta, sample: &Value) -> (Vec<Probe>, Vec<NotApplicable>) {
    let base = sample.as_object().cloned().unwrap_or_default();
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for param in check.params.iter().filter(|p| p.required) {
        let mut params = base.clone();
        params.remove(&param.name);
        runs.push(Probe {
            rule: Rule::MissingParam,
            label: format!("without required param `{}`", param.name),
            params: Value::Object(params),
            denied: false,
        });
    }
    if !check.params.iter().any(|p| p.required) {
        skipped.push(NotApplicable {
            rule: Rule::MissingParam,
            reason: "the check declares no required param".into(),
        });
    }
    for param in &check.params {
        let Some((value, kind_name)) = wrong_value(&param.kind) else {
            skipped.push(NotApplicable {
                rule: Rule::WrongType,
                reason: format!(
                    "param `{}`'s kind `{}` admits every JSON type",
                    param.name, param.kind
                ),
            });
            continue;
        };
        let mut params = base.clone();
        params.insert(param.name.clone(), value);
        runs.push(Probe {
            rule: Rule::WrongType,
            label: format!(
                "param `{}` given {kind_name} (its kind is `{}`)",
                param.name, param.kind
            ),
            params: Value::Object(params),
            denied: false,
        });
    }
    if check.params.is_empty() {
        skipped.push(NotApplicable {
            rule: Rule::WrongType,
            reason: "the check declares no param".into(),
        });
    }
    if check.capabilities.is_empty() {
        skipped.push(NotApplicable {
            rule: Rule::Denied,
            reason: "the check declares no capability".into(),
        });
    } else {
        runs.push(Probe {
            rule: Rule::Denied,
            label: format!(
                "every capability denied (it declares {})",
                check.capabilities.join(", ")
            ),
            params: sample.clone(),
            denied: true,
        });
    }
    (runs, skipped)
}

/// JSON types a param's `kind` admits (`list<string>`, `integer`,
/// `{ url, expect_status }`, `string|list<string>`, …). A kind naming no
/// type gate knows is taken as a string (`semver`, `cron`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Admits {
    bool: bool,
    number: bool,
    string: bool,
    array: bool,
    object: bool,
}

fn admits(kind: &str) -> Admits {
    let k = kind.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| k.contains(w));
    let mut a = Admits {
        bool: any(&["bool"]),
        number: any(&[
            "int", "number", "float", "u8", "u16", "u32", "u64", "i32", "i64", "f64", "port",
        ]),
        string: any(&[
            "str", "path", "url", "duration", "text", "regex", "glob", "name",
        ]),
        array: any(&["list", "array", "["]),
        object: any(&["{", "table", "map", "object"]),
    };
    if a == Admits::default() {
        a.string = true;
    }
    a
}

/// A JSON value `kind` does not admit, and how to name it.
fn wrong_value(kind: &str) -> Option<(Value, &'static str)> {
    let a = admits(kind);
    [
        (!a.bool, json!(true), "a boolean"),
        (!a.number, json!(12345), "a number"),
        (!a.string, json!("not-a-valid-value"), "a string"),
        (!a.object, json!({ "unexpected": true }), "an object"),
        (!a.array, json!([]), "a list"),
    ]
    .into_iter()
    .find(|(wrong, _, _)| *wrong)
    .map(|(_, v, name)| (v, name))
}

/// What a probe's run returned, as the rules see it.
#[derive(Clone, Debug)]
pub enum RunOutcome {
    Findings(Vec<Seen>),
    /// The plugin returned an empty list.
    Empty,
    /// A trap, a timeout or a limit; the reason.
    Failed(String),
}

/// The problems of one probe's run; empty when its rule is kept. Every one
/// of these rules asks for an `error` finding and no `pass`.
pub fn judge(outcome: &RunOutcome) -> Vec<String> {
    match outcome {
        RunOutcome::Empty => vec!["returned no findings, so no error finding".to_string()],
        RunOutcome::Failed(reason) => vec![format!(
            "the run failed instead of reporting an error finding: {reason}"
        )],
        RunOutcome::Findings(seen) => {
            let mut problems: Vec<String> = seen
                .iter()
                .filter(|s| s.status == Status::Pass)
                .map(|s| format!("passed: `{}`: {}", s.subject, s.message))
                .collect();
            if !seen.iter().any(|s| s.status == Status::Error) {
                let statuses: Vec<&str> = seen.iter().map(|s| s.status.as_str()).collect();
                problems.push(format!(
                    "gave no error finding (statuses: {})",
                    statuses.join(", ")
                ));
            }
            problems
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate_core::model::Severity;
    use gate_sandbox::plugin::ParamMeta;

    fn param(name: &str, kind: &str, required: bool) -> ParamMeta {
        ParamMeta {
            name: name.into(),
            kind: kind.into(),
            required,
            description: "d".into(),
            default: None,
        }
    }

    fn check(params: Vec<ParamMeta>, capabilities: &[&str]) -> CheckMeta {
        CheckMeta {
            id: "acme.x".into(),
            title: "t".into(),
            description: "d".into(),
            default_severity: Severity::Low,
            params,
            capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn wrong_values_are_of_a_type_the_kind_refuses() {
        assert_eq!(wrong_value("string").unwrap().0, json!(true));
        assert_eq!(wrong_value("integer").unwrap().0, json!(true));
        assert_eq!(wrong_value("bool").unwrap().0, json!(12345));
        assert_eq!(wrong_value("list<string>").unwrap().0, json!(true));
        assert_eq!(
            wrong_value("{ url, expect_status }").unwrap().0,
            json!(true)
        );
        assert_eq!(wrong_value("semver").unwrap().0, json!(true));
        assert_eq!(
            wrong_value("bool|integer").unwrap().0,
            json!("not-a-valid-value")
        );
        assert_eq!(
            wrong_value("bool|integer|string|list|map").map(|(v, _)| v),
            None
        );
    }

    #[test]
    fn probes_start_from_the_sample() {
        let c = check(
            vec![param("url", "string", true), param("max", "integer", false)],
            &["http"],
        );
        let sample = json!({ "url": "https://x", "max": 3 });
        let (runs, skipped) = probes(&c, &sample);
        assert!(skipped.is_empty(), "{skipped:?}");
        let by_rule = |r| runs.iter().filter(move |p: &&Probe| p.rule == r);
        let missing: Vec<&Probe> = by_rule(Rule::MissingParam).collect();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].params, json!({ "max": 3 }));
        let wrong: Vec<&Value> = by_rule(Rule::WrongType).map(|p| &p.params).collect();
        assert_eq!(
            wrong,
            vec![
                &json!({ "url": true, "max": 3 }),
                &json!({ "url": "https://x", "max": true })
            ]
        );
        let denied: Vec<&Probe> = by_rule(Rule::Denied).collect();
        assert_eq!((denied[0].denied, &denied[0].params), (true, &sample));
    }

    #[test]
    fn rules_without_a_subject_do_not_apply() {
        let (runs, skipped) = probes(&check(vec![], &[]), &json!({}));
        assert!(runs.is_empty());
        let rules: Vec<Rule> = skipped.iter().map(|s| s.rule).collect();
        assert_eq!(
            rules,
            vec![Rule::MissingParam, Rule::WrongType, Rule::Denied]
        );
    }

    fn seen(status: Status) -> Seen {
        Seen {
            status,
            subject: "s".into(),
            message: "m".into(),
        }
    }

    #[test]
    fn an_error_and_no_pass_keeps_the_rule() {
        assert!(
            judge(&RunOutcome::Findings(vec![
                seen(Status::Error),
                seen(Status::Fail)
            ]))
            .is_empty()
        );
        let p = judge(&RunOutcome::Findings(vec![
            seen(Status::Error),
            seen(Status::Pass),
        ]));
        assert_eq!(p, vec!["passed: `s`: m".to_string()]);
        let p = judge(&RunOutcome::Findings(vec![seen(Status::Skip)]));
        assert_eq!(
            p,
            vec!["gave no error finding (statuses: skip)".to_string()]
        );
        assert_eq!(judge(&RunOutcome::Empty).len(), 1);
        assert!(judge(&RunOutcome::Failed("trapped".into()))[0].contains("trapped"));
    }
}
