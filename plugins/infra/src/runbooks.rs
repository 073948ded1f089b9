//! `infra.runbooks`: every alerting rule links a runbook
//! (`annotations.runbook_url`), and the link works.
//!
//! Links are checked with `HEAD`, retried as `GET` when the answer to `HEAD`
//! is outside `allowed_status` (some servers refuse `HEAD` with 405). Each distinct
//! URL (fragment removed) is fetched once, however many alerts share it.

use std::collections::HashMap;

use gate_plugin_sdk::host::{http, metrics};
use gate_plugin_sdk::target::is_grant_denial;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, FindingBuilder, Severity, Status, param, param_default,
    params,
};
use serde::Deserialize;

use crate::alert_rules::{self, AlertRule, RuleSet, Source};
use crate::alert_thresholds::{problem_findings, unavailable};

pub const ID: &str = "infra.runbooks";

pub struct Runbooks;

fn yes() -> bool {
    true
}

fn default_annotation() -> String {
    "runbook_url".to_string()
}

fn default_timeout() -> u32 {
    5000
}

fn default_allowed() -> Vec<StatusSpec> {
    vec![StatusSpec::Text("200-399".to_string())]
}

/// One entry of `allowed_status`: `200`, `"200-399"` or `"2xx"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum StatusSpec {
    Code(u16),
    Text(String),
}

impl StatusSpec {
    fn range(&self) -> Result<(u16, u16), String> {
        let bad = |t: &str| {
            format!(
                "`{t}` in `allowed_status` is not a status, a range such as \"200-399\", or a class such as \"2xx\""
            )
        };
        match self {
            StatusSpec::Code(c) if (100..=599).contains(c) => Ok((*c, *c)),
            StatusSpec::Code(c) => Err(bad(&c.to_string())),
            StatusSpec::Text(t) => {
                let s = t.trim().to_ascii_lowercase();
                let range = if let Some(class) = s.strip_suffix("xx") {
                    let d: u16 = class.parse().map_err(|_| bad(t))?;
                    (d * 100, d * 100 + 99)
                } else if let Some((a, b)) = s.split_once(['-', '.']) {
                    let b = b.trim_start_matches('.');
                    (
                        a.trim().parse().map_err(|_| bad(t))?,
                        b.trim().parse().map_err(|_| bad(t))?,
                    )
                } else {
                    let c: u16 = s.parse().map_err(|_| bad(t))?;
                    (c, c)
                };
                if range.0 < 100 || range.1 > 599 || range.0 > range.1 {
                    return Err(bad(t));
                }
                Ok(range)
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub rule_files: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub resolve: bool,
    #[serde(default = "default_allowed")]
    pub allowed_status: Vec<StatusSpec>,
    #[serde(default = "default_annotation")]
    pub annotation: String,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

impl Params {
    fn validate(&self) -> Result<(Source, Vec<(u16, u16)>), String> {
        let mut problems = Vec::new();
        let source = Source::from_params(&self.provider, &self.rule_files)
            .map_err(|e| problems.push(e))
            .ok();
        let mut ranges = Vec::new();
        for spec in &self.allowed_status {
            match spec.range() {
                Ok(r) => ranges.push(r),
                Err(e) => problems.push(e),
            }
        }
        if self.allowed_status.is_empty() {
            problems.push("`allowed_status` must allow at least one status".to_string());
        }
        if self.annotation.trim().is_empty() {
            problems.push("`annotation` is empty".to_string());
        }
        match source {
            Some(s) if problems.is_empty() => Ok((s, ranges)),
            _ => Err(problems.join("; ")),
        }
    }
}

/// The outcome of fetching one URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    Status(u16),
    /// The request failed (DNS, refused, timeout, TLS, or a denied grant).
    Failed(String),
}

impl Check for Runbooks {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Alerts link working runbooks".to_string(),
            description: "Every Prometheus alerting rule has a runbook_url annotation, and the URL answers 2xx/3xx"
                .to_string(),
            default_severity: Severity::Medium,
            params: vec![
                param("provider", "string", false, "A [metrics.NAME] Prometheus whose loaded rules are read (/api/v1/rules); or use `rule_files`"),
                param("rule_files", "list<string>", false, "Prometheus rule files or patterns (`rules/**/*.yml`); or use `provider`"),
                param_default("resolve", "bool", "Fetch each runbook URL and require an allowed status", "true"),
                param_default("allowed_status", "list<integer | string>", "Statuses that count as working: codes, ranges (\"200-399\") or classes (\"2xx\")", "[\"200-399\"]"),
                param_default("annotation", "string", "The annotation that holds the runbook link", "\"runbook_url\""),
                param_default("timeout_ms", "integer", "Timeout of each request", "5000"),
            ],
            capabilities: vec!["metrics|fs".to_string(), "http".to_string()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let (source, ranges) = match p.validate() {
            Ok(v) => v,
            Err(e) => return params::invalid(ctx, e),
        };
        let timeout = p.timeout_ms;
        let loaded = alert_rules::load(
            &source,
            &|provider, path| metrics::api(provider, path, timeout),
            &alert_rules::read_rule_files,
        );
        evaluate(ctx, &p, &source, &ranges, loaded, |url| {
            fetch(url, timeout, &ranges)
        })
    }
}

/// `HEAD`, then `GET` when `HEAD` is refused or answered with a disallowed status.
fn fetch(url: &str, timeout_ms: u32, ranges: &[(u16, u16)]) -> Fetched {
    let request = |method: &str| {
        http::fetch(&http::Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: vec![("Accept".to_string(), "text/html,*/*".to_string())],
            body: None,
            timeout_ms,
            max_bytes: 1024,
            ca_file: None,
        })
    };
    match request("HEAD") {
        Ok(r) if allowed(r.status, ranges) => Fetched::Status(r.status),
        Ok(_) => match request("GET") {
            Ok(r) => Fetched::Status(r.status),
            Err(e) => Fetched::Failed(e),
        },
        Err(e) => Fetched::Failed(e),
    }
}

fn allowed(status: u16, ranges: &[(u16, u16)]) -> bool {
    ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&status))
}

/// Judges every alert's runbook link; `fetch` is the HTTP probe (a closure so
/// tests can fake it).
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    source: &Source,
    ranges: &[(u16, u16)],
    loaded: Result<RuleSet, String>,
    fetch: impl Fn(&str) -> Fetched,
) -> Vec<Finding> {
    let set = match loaded {
        Ok(set) => set,
        Err(message) => return vec![unavailable(ctx, source, message)],
    };
    let mut out = problem_findings(ctx, &set);
    if set.rules.is_empty() {
        if set.problems.is_empty() {
            out.push(
                ctx.finding(&set.origin, Status::Fail)
                    .message(format!("no alerting rules in {}, so no alert has a runbook", set.origin))
                    .remediation("define alerting rules (and check `rule_files` or `provider` point at them)")
                    .build(),
            );
        }
        return out;
    }
    let mut cache: HashMap<String, Fetched> = HashMap::new();
    for rule in &set.rules {
        out.push(assess(ctx, params, ranges, rule, &mut cache, &fetch));
    }
    out
}

fn assess(
    ctx: &Context,
    params: &Params,
    ranges: &[(u16, u16)],
    rule: &AlertRule,
    cache: &mut HashMap<String, Fetched>,
    fetch: &impl Fn(&str) -> Fetched,
) -> Finding {
    let key = params.annotation.as_str();
    let base = |status: Status| rule_finding(ctx, rule, status);
    let raw = rule
        .annotations
        .get(key)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    let Some(raw) = raw else {
        return base(Status::Fail)
            .message(format!("alert `{}` has no `{key}` annotation", rule.name))
            .remediation(format!(
                "add `annotations: {{ {key}: https://runbooks.example.com/{} }}` to the rule, pointing at what on-call should do",
                rule.name
            ))
            .build();
    };
    if !params.resolve {
        return base(Status::Pass)
            .message(format!("alert `{}` links {raw}", rule.name))
            .evidence(key, raw)
            .build();
    }
    let url = match expand_template(raw, rule) {
        Ok(u) => u,
        Err(e) => {
            return base(Status::Error)
                .message(format!(
                    "alert `{}`: {key} `{raw}` {e}, so it cannot be resolved before the alert fires",
                    rule.name
                ))
                .evidence(key, raw)
                .remediation("use a static URL, or template only on `$labels.alertname` and static rule labels; or set resolve = false")
                .build();
        }
    };
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return base(Status::Fail)
            .message(format!(
                "alert `{}`: {key} `{url}` is not an absolute http(s) URL",
                rule.name
            ))
            .evidence(key, &url)
            .remediation("link the runbook by its full URL, e.g. https://runbooks.example.com/…")
            .build();
    }
    let target = url.split('#').next().unwrap_or(&url).to_string();
    let result = cache
        .entry(target.clone())
        .or_insert_with(|| fetch(&target))
        .clone();
    fetched_finding(ctx, rule, key, &url, result, ranges)
}

/// A finding about `rule`, with its group and where it is written.
fn rule_finding(ctx: &Context, rule: &AlertRule, status: Status) -> FindingBuilder {
    let mut f = ctx
        .finding(&rule.name, status)
        .evidence("group", &rule.group);
    if let Some(file) = &rule.file {
        f = f.evidence("file", file);
        if rule.line.is_some() {
            f = f.location(file, rule.line, None);
        }
    }
    f
}

/// Judges what fetching the runbook `url` gave.
fn fetched_finding(
    ctx: &Context,
    rule: &AlertRule,
    key: &str,
    url: &str,
    result: Fetched,
    ranges: &[(u16, u16)],
) -> Finding {
    let base = |status: Status| rule_finding(ctx, rule, status);
    match result {
        Fetched::Status(code) if allowed(code, ranges) => base(Status::Pass)
            .message(format!(
                "alert `{}` links {url} (HTTP {code})",
                rule.name
            ))
            .evidence(key, url)
            .evidence("http_status", code)
            .build(),
        Fetched::Status(code) => base(Status::Fail)
            .message(format!(
                "alert `{}`: runbook {url} answered HTTP {code}",
                rule.name
            ))
            .evidence(key, url)
            .evidence("http_status", code)
            .remediation("fix the link or publish the runbook page")
            .build(),
        Fetched::Failed(e) if is_grant_denial(&e) => base(Status::Error)
            .message(format!("alert `{}`: cannot fetch runbook: {e}", rule.name))
            .evidence(key, url)
            .remediation("grant the `infra` plugin `http` access to the runbook host, or set resolve = false")
            .build(),
        Fetched::Failed(e) => base(Status::Fail)
            .message(format!(
                "alert `{}`: runbook {url} does not resolve: {e}",
                rule.name
            ))
            .evidence(key, url)
            .remediation("fix the link, or make the runbook host reachable from where gate runs")
            .build(),
    }
}

/// Fills `{{ $labels.alertname }}` / `{{ .Labels.x }}` from what is known
/// before the alert fires: its name and its static labels.
fn expand_template(raw: &str, rule: &AlertRule) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            return Err("has an unterminated `{{`".to_string());
        };
        let inner = rest[start + 2..start + end].trim().trim_matches('-').trim();
        let label = inner
            .strip_prefix("$labels.")
            .or_else(|| inner.strip_prefix(".Labels."));
        let value = match label {
            Some("alertname") => Some(rule.name.clone()),
            Some(l) => rule.labels.get(l).cloned(),
            None => None,
        };
        match value {
            Some(v) => out.push_str(&v),
            None => return Err(format!("is templated on `{{{{ {inner} }}}}`")),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert_rules::parse_rule_file;
    use std::cell::RefCell;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    const FILE: &str = r#"groups:
- name: web
  rules:
  - alert: Good
    expr: up == 0
    annotations:
      runbook_url: https://runbooks.example.com/good#section
  - alert: AlsoGood
    expr: up == 0
    labels: { team: web }
    annotations:
      runbook_url: "https://runbooks.example.com/{{ $labels.team }}/{{ $labels.alertname }}"
  - alert: Missing
    expr: up == 0
    annotations:
      summary: no runbook here
  - alert: Broken
    expr: up == 0
    annotations:
      runbook_url: https://runbooks.example.com/broken
  - alert: Unreachable
    expr: up == 0
    annotations:
      runbook_url: https://gone.example.com/x
  - alert: PerInstance
    expr: up == 0
    annotations:
      runbook_url: https://runbooks.example.com/{{ $labels.instance }}
  - alert: Relative
    expr: up == 0
    annotations:
      runbook_url: wiki/Relative
  - alert: Denied
    expr: up == 0
    annotations:
      runbook_url: https://private.example.com/x
"#;

    fn run_with(json: serde_json::Value) -> (Vec<Finding>, Vec<String>) {
        let p: Params = serde_json::from_value(json).unwrap();
        let (source, ranges) = p.validate().unwrap();
        let set = RuleSet {
            rules: parse_rule_file("rules.yml", FILE).unwrap(),
            problems: vec![],
            origin: "rules.yml".into(),
        };
        let fetched = RefCell::new(Vec::new());
        let out = evaluate(&ctx(), &p, &source, &ranges, Ok(set), |url| {
            fetched.borrow_mut().push(url.to_string());
            match url {
                "https://runbooks.example.com/broken" => Fetched::Status(404),
                "https://gone.example.com/x" => Fetched::Failed("dns error: no such host".into()),
                "https://private.example.com/x" => Fetched::Failed(
                    "plugin `infra` is not granted `http` access to `https://private.example.com/x`"
                        .into(),
                ),
                _ => Fetched::Status(200),
            }
        });
        (out, fetched.into_inner())
    }

    fn statuses(out: &[Finding]) -> Vec<(&str, Status)> {
        out.iter().map(|f| (f.subject.as_str(), f.status)).collect()
    }

    #[test]
    fn each_alert_gets_a_verdict() {
        let (out, fetched) = run_with(serde_json::json!({"rule_files": ["rules.yml"]}));
        assert_eq!(
            statuses(&out),
            [
                ("Good", Status::Pass),
                ("AlsoGood", Status::Pass),
                ("Missing", Status::Fail),
                ("Broken", Status::Fail),
                ("Unreachable", Status::Fail),
                ("PerInstance", Status::Error),
                ("Relative", Status::Fail),
                ("Denied", Status::Error),
            ]
        );
        assert_eq!(
            fetched[0], "https://runbooks.example.com/good",
            "fragment removed"
        );
        assert_eq!(fetched[1], "https://runbooks.example.com/web/AlsoGood");
        assert!(out[2].message.contains("no `runbook_url` annotation"));
        assert_eq!(out[2].location.as_ref().unwrap().line, Some(13));
        assert!(out[3].message.contains("HTTP 404"));
        assert!(out[4].message.contains("does not resolve"));
        assert!(
            out[5].message.contains("$labels.instance"),
            "{}",
            out[5].message
        );
        assert!(out[6].message.contains("not an absolute"));
        assert!(out[7].remediation.as_ref().unwrap().contains("`http`"));
    }

    #[test]
    fn urls_are_fetched_once() {
        let p: Params = serde_json::from_value(serde_json::json!({"provider": "prom"})).unwrap();
        let (source, ranges) = p.validate().unwrap();
        let rule = |n: &str| AlertRule {
            name: n.into(),
            expr: "x > 1".into(),
            annotations: [("runbook_url".to_string(), "https://r/x".to_string())].into(),
            ..AlertRule::default()
        };
        let set = RuleSet {
            rules: vec![rule("A"), rule("B")],
            problems: vec![],
            origin: "Prometheus `prom`".into(),
        };
        let count = RefCell::new(0);
        let out = evaluate(&ctx(), &p, &source, &ranges, Ok(set), |_| {
            *count.borrow_mut() += 1;
            Fetched::Status(301)
        });
        assert_eq!(*count.borrow(), 1);
        assert!(out.iter().all(|f| f.status == Status::Pass));
    }

    #[test]
    fn presence_only_without_resolve() {
        let (out, fetched) =
            run_with(serde_json::json!({"rule_files": ["rules.yml"], "resolve": false}));
        assert!(fetched.is_empty());
        let failing: Vec<_> = out.iter().filter(|f| f.status != Status::Pass).collect();
        assert_eq!(failing.len(), 1);
        assert_eq!(failing[0].subject, "Missing");
    }

    #[test]
    fn allowed_status_forms() {
        let (out, _) = run_with(
            serde_json::json!({"rule_files": ["rules.yml"], "allowed_status": [200, "4xx"]}),
        );
        assert_eq!(out[3].status, Status::Pass, "404 allowed by 4xx");
        for (spec, want) in [
            (StatusSpec::Code(204), Ok((204, 204))),
            (StatusSpec::Text("200-399".into()), Ok((200, 399))),
            (StatusSpec::Text("200..399".into()), Ok((200, 399))),
            (StatusSpec::Text("3XX".into()), Ok((300, 399))),
        ] {
            assert_eq!(spec.range(), want);
        }
        for bad in ["abc", "399-200", "700", "9xx"] {
            assert!(StatusSpec::Text(bad.into()).range().is_err(), "{bad}");
        }
        assert!(StatusSpec::Code(42).range().is_err());
    }

    #[test]
    fn no_rules_fails_and_provider_down_errors() {
        let p: Params = serde_json::from_value(serde_json::json!({"provider": "prom"})).unwrap();
        let (source, ranges) = p.validate().unwrap();
        let set = RuleSet {
            origin: "Prometheus `prom`".into(),
            ..RuleSet::default()
        };
        let out = evaluate(&ctx(), &p, &source, &ranges, Ok(set), |_| unreachable!());
        assert_eq!(out[0].status, Status::Fail);
        let out = evaluate(
            &ctx(),
            &p,
            &source,
            &ranges,
            Err("refused".into()),
            |_| unreachable!(),
        );
        assert_eq!(
            (out[0].status, out[0].subject.as_str()),
            (Status::Error, "prom")
        );
    }

    #[test]
    fn bad_params() {
        let out = Runbooks.run(
            &ctx(),
            &serde_json::json!({"provider": "p", "allowed_status": ["abc"]}),
        );
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("`abc`"), "{}", out[0].message);
    }
}
