//! `infra.alert-thresholds`: the alerts a service needs are defined, each with
//! a real condition (a comparison against a threshold, over at least one
//! series) and, unless turned off, a `for` duration so one bad scrape does not
//! page anybody.
//!
//! Rules come from a live Prometheus (what it has really loaded) or from rule
//! files (what it will load); see [`crate::alert_rules`].

use gate_plugin_sdk::host::metrics;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use crate::alert_rules::{self, AlertRule, RuleSet, Source};
use crate::promql;

pub const ID: &str = "infra.alert-thresholds";

pub struct AlertThresholds;

fn yes() -> bool {
    true
}

fn default_timeout() -> u32 {
    5000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub rule_files: Option<Vec<String>>,
    pub required: Vec<String>,
    #[serde(default = "yes")]
    pub require_for: bool,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

impl Params {
    fn problems(&self) -> (Option<Source>, Vec<String>) {
        let mut problems = Vec::new();
        let source = Source::from_params(&self.provider, &self.rule_files)
            .map_err(|e| problems.push(e))
            .ok();
        if self.required.is_empty() {
            problems.push("`required` must name at least one alert".to_string());
        }
        if self.required.iter().any(|n| n.trim().is_empty()) {
            problems.push("`required` contains an empty alert name".to_string());
        }
        (source, problems)
    }
}

impl Check for AlertThresholds {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Required alerts have thresholds".to_string(),
            description: "Required Prometheus alerting rules exist (rules API or rule files), compare against a threshold and hold for a `for` duration"
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("provider", "string", false, "A [metrics.NAME] Prometheus whose loaded rules are read (/api/v1/rules); or use `rule_files`"),
                param("rule_files", "list<string>", false, "Prometheus rule files or patterns (`rules/**/*.yml`); or use `provider`"),
                param("required", "list<string>", true, "Alert names that must be defined"),
                param_default("require_for", "bool", "Each required alert must have a non-zero `for`", "true"),
                param_default("timeout_ms", "integer", "Timeout of the rules API call", "5000"),
            ],
            capabilities: vec!["metrics|fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let (source, problems) = p.problems();
        let Some(source) = source.filter(|_| problems.is_empty()) else {
            return params::invalid(ctx, problems.join("; "));
        };
        let timeout = p.timeout_ms;
        let loaded = alert_rules::load(
            &source,
            &|provider, path| metrics::api(provider, path, timeout),
            &alert_rules::read_rule_files,
        );
        evaluate(ctx, &p, &source, loaded)
    }
}

/// Judges the loaded rules against the required alerts.
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    source: &Source,
    loaded: Result<RuleSet, String>,
) -> Vec<Finding> {
    let set = match loaded {
        Ok(set) => set,
        Err(message) => return vec![unavailable(ctx, source, message)],
    };
    let mut out = problem_findings(ctx, &set);
    for name in &params.required {
        let defs: Vec<&AlertRule> = set.rules.iter().filter(|r| &r.name == name).collect();
        if defs.is_empty() {
            out.push(missing(ctx, &set, name));
            continue;
        }
        out.extend(defs.into_iter().map(|r| assess(ctx, params, r)));
    }
    out
}

/// `error` for a provider that could not be asked.
pub fn unavailable(ctx: &Context, source: &Source, message: String) -> Finding {
    let subject = match source {
        Source::Provider(p) => p.clone(),
        Source::Files(f) => f.join(", "),
    };
    ctx.finding(subject, Status::Error)
        .message(format!("cannot read alerting rules: {message}"))
        .remediation(
            "check that Prometheus is up and that the `infra` plugin is granted `metrics` on this provider",
        )
        .build()
}

/// `error` findings for rule files that could not be read.
pub fn problem_findings(ctx: &Context, set: &RuleSet) -> Vec<Finding> {
    set.problems
        .iter()
        .map(|p| {
            ctx.finding(&p.subject, Status::Error)
                .message(format!("cannot read rules: {}", p.message))
                .remediation(
                    "fix the path or pattern, the file's YAML, or the `infra` plugin's `fs` grant",
                )
                .location(&p.subject, None, None)
                .build()
        })
        .collect()
}

fn missing(ctx: &Context, set: &RuleSet, name: &str) -> Finding {
    let similar: Vec<&str> = set
        .rules
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| {
            n.eq_ignore_ascii_case(name)
                || n.to_ascii_lowercase().contains(&name.to_ascii_lowercase())
        })
        .collect();
    let hint = match similar.first() {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    };
    if !set.problems.is_empty() {
        return ctx
            .finding(name, Status::Error)
            .message(format!(
                "alert `{name}` was not found, but {} rule source(s) could not be read and may define it{hint}",
                set.problems.len()
            ))
            .remediation("fix the unreadable rule files first")
            .build();
    }
    ctx.finding(name, Status::Fail)
        .message(format!(
            "no alerting rule named `{name}` in {} ({} alerting rules){hint}",
            set.origin,
            set.rules.len()
        ))
        .evidence("alerting_rules", set.rules.len())
        .remediation(format!(
            "define `- alert: {name}` with an `expr` that compares against a threshold and a `for` duration"
        ))
        .build()
}

fn assess(ctx: &Context, params: &Params, rule: &AlertRule) -> Finding {
    let cond = promql::condition(&rule.expr);
    let mut issues = Vec::new();
    if rule.expr.trim().is_empty() {
        issues.push("has an empty `expr`".to_string());
    } else if !cond.selects_series {
        issues.push(format!(
            "`{}` selects no series, so it does not watch anything",
            rule.expr.trim()
        ));
    } else if cond.comparisons.is_empty() && !cond.absent {
        issues.push(format!(
            "`{}` has no comparison, so it has no threshold and fires whenever a series exists",
            rule.expr.trim()
        ));
    }
    if cond.bool_modifier {
        issues.push(
            "compares with `bool`, which returns a sample (0 or 1) every time, so the alert is always firing"
                .to_string(),
        );
    }
    if let Some(e) = &rule.for_invalid {
        issues.push(format!("has an invalid `for`: {e}"));
    } else if params.require_for && rule.for_seconds.is_none() {
        issues.push("has no `for` duration, so a single evaluation fires it".to_string());
    }
    if let Some(e) = &rule.last_error {
        issues.push(format!("fails to evaluate in Prometheus: {e}"));
    }

    let status = if issues.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let for_text = rule
        .for_seconds
        .map_or_else(|| "none".to_string(), promql::format_duration);
    let message = if issues.is_empty() {
        let condition = if cond.absent {
            "alerts on an absent series".to_string()
        } else {
            format!("threshold `{}`", cond.comparisons.join("`, `"))
        };
        format!(
            "alert `{}` is defined with {condition}, for {for_text}",
            rule.name
        )
    } else {
        format!("alert `{}` {}", rule.name, issues.join("; "))
    };
    let mut f = ctx
        .finding(&rule.name, status)
        .message(message)
        .evidence("expr", rule.expr.trim())
        .evidence("for", for_text)
        .evidence("group", &rule.group);
    if let Some(file) = &rule.file {
        f = f.evidence("file", file);
        if rule.line.is_some() {
            f = f.location(file, rule.line, None);
        }
    }
    if let Some(sev) = rule.labels.get("severity") {
        f = f.evidence("severity", sev);
    }
    if status == Status::Fail {
        f = f.remediation(
            "give the alert an `expr` that compares a series against a threshold (e.g. `rate(errors_total[5m]) > 0.05`) and a `for:` duration (e.g. `for: 5m`)",
        );
    }
    f.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert_rules::{Problem, parse_rule_file};

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(json: serde_json::Value) -> Params {
        serde_json::from_value(json).expect("params")
    }

    const FILE: &str = r#"groups:
- name: web
  rules:
  - alert: HighErrorRate
    expr: rate(http_errors_total{code!="200"}[5m]) > 0.05
    for: 10m
    labels: { severity: page }
  - alert: NoThreshold
    expr: rate(http_errors_total[5m])
    for: 5m
  - alert: NoFor
    expr: up == 0
  - alert: AlwaysFiring
    expr: errors > bool 1
    for: 1m
  - alert: Trivial
    expr: vector(1) > 0
    for: 1m
  - alert: TargetMissing
    expr: absent(up{job="api"})
    for: 5m
"#;

    fn run(json: serde_json::Value) -> Vec<Finding> {
        let p = params(json);
        let source = Source::Files(vec!["rules.yml".into()]);
        let set = RuleSet {
            rules: parse_rule_file("rules.yml", FILE).unwrap(),
            problems: vec![],
            origin: "rules.yml".into(),
        };
        evaluate(&ctx(), &p, &source, Ok(set))
    }

    #[test]
    fn good_alert_passes_with_evidence_and_location() {
        let out = run(
            serde_json::json!({"rule_files": ["rules.yml"], "required": ["HighErrorRate", "TargetMissing"]}),
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].status, Status::Pass, "{}", out[0].message);
        assert_eq!(out[0].subject, "HighErrorRate");
        assert!(
            out[0].message.contains("threshold `>`"),
            "{}",
            out[0].message
        );
        assert!(out[0].message.contains("for 10m"));
        let loc = out[0].location.as_ref().unwrap();
        assert_eq!((loc.file.as_str(), loc.line), ("rules.yml", Some(4)));
        assert!(
            out[0]
                .evidence
                .contains(&("severity".into(), "page".into()))
        );
        assert_eq!(out[1].status, Status::Pass, "{}", out[1].message);
        assert!(out[1].message.contains("absent"));
    }

    #[test]
    fn weak_alerts_fail_with_reasons() {
        let out = run(
            serde_json::json!({"rule_files": ["rules.yml"], "required": ["NoThreshold", "NoFor", "AlwaysFiring", "Trivial"]}),
        );
        let statuses: Vec<_> = out.iter().map(|f| f.status).collect();
        assert_eq!(statuses, [Status::Fail; 4]);
        assert!(
            out[0].message.contains("no comparison"),
            "{}",
            out[0].message
        );
        assert!(out[1].message.contains("no `for`"), "{}", out[1].message);
        assert!(out[2].message.contains("`bool`"), "{}", out[2].message);
        assert!(
            out[3].message.contains("selects no series"),
            "{}",
            out[3].message
        );
        assert!(out.iter().all(|f| f.remediation.is_some()));
    }

    #[test]
    fn require_for_can_be_turned_off() {
        let out = run(
            serde_json::json!({"rule_files": ["rules.yml"], "required": ["NoFor"], "require_for": false}),
        );
        assert_eq!(out[0].status, Status::Pass, "{}", out[0].message);
        assert!(out[0].message.contains("for none"));
    }

    #[test]
    fn missing_alert_fails_and_suggests() {
        let out = run(
            serde_json::json!({"rule_files": ["rules.yml"], "required": ["higherrorrate", "DiskFull"]}),
        );
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0].message.contains("did you mean `HighErrorRate`"),
            "{}",
            out[0].message
        );
        assert_eq!(out[1].status, Status::Fail);
        assert!(out[1].message.contains("no alerting rule named `DiskFull`"));
    }

    #[test]
    fn unreadable_sources_make_missing_alerts_errors() {
        let p =
            params(serde_json::json!({"rule_files": ["a.yml", "b.yml"], "required": ["DiskFull"]}));
        let set = RuleSet {
            rules: vec![],
            problems: vec![Problem {
                subject: "b.yml".into(),
                message: "b.yml: not granted".into(),
            }],
            origin: "a.yml, b.yml".into(),
        };
        let out = evaluate(&ctx(), &p, &Source::Files(vec![]), Ok(set));
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].status, out[0].subject.as_str()),
            (Status::Error, "b.yml")
        );
        assert_eq!(
            (out[1].status, out[1].subject.as_str()),
            (Status::Error, "DiskFull")
        );
    }

    #[test]
    fn provider_down_is_one_error() {
        let p = params(serde_json::json!({"provider": "prom", "required": ["A"]}));
        let out = evaluate(
            &ctx(),
            &p,
            &Source::Provider("prom".into()),
            Err("connection refused".into()),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].status, out[0].subject.as_str()),
            (Status::Error, "prom")
        );
        assert!(out[0].message.contains("connection refused"));
    }

    #[test]
    fn api_rule_errors_fail() {
        let p = params(serde_json::json!({"provider": "prom", "required": ["A"]}));
        let set = RuleSet {
            rules: vec![AlertRule {
                name: "A".into(),
                expr: "x > 1".into(),
                for_seconds: Some(60.0),
                last_error: Some("vector cannot contain metrics with the same labelset".into()),
                ..AlertRule::default()
            }],
            problems: vec![],
            origin: "Prometheus `prom`".into(),
        };
        let out = evaluate(&ctx(), &p, &Source::Provider("prom".into()), Ok(set));
        assert_eq!(out[0].status, Status::Fail);
        assert!(out[0].message.contains("fails to evaluate"));
        assert!(out[0].location.is_none());
    }

    #[test]
    fn bad_params() {
        let out = AlertThresholds.run(&ctx(), &serde_json::json!({"required": []}));
        assert_eq!(out[0].status, Status::Error);
        assert!(
            out[0].message.contains("set `provider`"),
            "{}",
            out[0].message
        );
        assert!(
            out[0].message.contains("at least one alert"),
            "{}",
            out[0].message
        );
        let out = AlertThresholds.run(
            &ctx(),
            &serde_json::json!({"provider": "p", "required": ["A"], "requires_for": true}),
        );
        assert!(out[0].message.contains("requires_for"));
    }
}
