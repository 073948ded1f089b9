//! Alerting rules, as `infra.alert-thresholds` and `infra.runbooks` read them:
//! from a live Prometheus (`/api/v1/rules?type=alert`, what it has really
//! loaded) or from rule files (the YAML Prometheus loads, `groups[].rules[]`).
//!
//! Recording rules are ignored. A rule file that cannot be read or parsed is a
//! [`Problem`]: the checks report it as `error`, because an alert may hide in it.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::file_glob;
use crate::promql;

/// Where the rules come from: exactly one of the two parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A `[metrics.NAME]` provider.
    Provider(String),
    /// Rule-file paths or patterns.
    Files(Vec<String>),
}

impl Source {
    pub fn from_params(
        provider: &Option<String>,
        rule_files: &Option<Vec<String>>,
    ) -> Result<Source, String> {
        match (provider, rule_files) {
            (Some(_), Some(_)) => {
                Err("set either `provider` or `rule_files`, not both".to_string())
            }
            (None, None) => Err(
                "set `provider` (a [metrics.NAME] Prometheus) or `rule_files` (rule-file paths)"
                    .to_string(),
            ),
            (Some(p), None) if p.trim().is_empty() => Err("`provider` is empty".to_string()),
            (Some(p), None) => Ok(Source::Provider(p.clone())),
            (None, Some(files)) if files.is_empty() => {
                Err("`rule_files` must name at least one file or pattern".to_string())
            }
            (None, Some(files)) => Ok(Source::Files(files.clone())),
        }
    }
}

/// One alerting rule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub expr: String,
    /// `for`, in seconds; `None` when the rule has none.
    pub for_seconds: Option<f64>,
    /// A `for` that is not a Prometheus duration.
    pub for_invalid: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub group: String,
    /// The rule file (for the API: the path on the Prometheus server).
    pub file: Option<String>,
    /// 1-based line of `alert: NAME`, for rule files.
    pub line: Option<u32>,
    /// Prometheus' last evaluation error, when the API reports `health: err`.
    pub last_error: Option<String>,
}

/// A rule file (or pattern) that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub subject: String,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<AlertRule>,
    pub problems: Vec<Problem>,
    /// What was read, for messages: the provider or the files.
    pub origin: String,
}

/// A rule file as read by the host side.
pub struct RuleFile {
    pub display: String,
    pub text: Result<String, String>,
}

/// The rules API: `(provider, path)` → HTTP status and body.
pub type RulesApi<'a> = &'a dyn Fn(&str, &str) -> Result<(u16, String), String>;

/// Loads the rules. `Err` means the provider could not be asked (an `error`
/// for the whole check); file problems are collected in the [`RuleSet`].
pub fn load(
    source: &Source,
    api: RulesApi<'_>,
    files: &dyn Fn(&str) -> Result<Vec<RuleFile>, String>,
) -> Result<RuleSet, String> {
    match source {
        Source::Provider(provider) => {
            let (status, body) = api(provider, "/api/v1/rules?type=alert")?;
            if status != 200 {
                return Err(format!(
                    "GET /api/v1/rules on `{provider}` answered HTTP {status}: {}",
                    excerpt(&body)
                ));
            }
            let rules =
                parse_rules_api(&body).map_err(|e| format!("`{provider}` /api/v1/rules: {e}"))?;
            Ok(RuleSet {
                rules,
                problems: Vec::new(),
                origin: format!("Prometheus `{provider}`"),
            })
        }
        Source::Files(patterns) => {
            let mut set = RuleSet {
                origin: patterns.join(", "),
                ..RuleSet::default()
            };
            for pattern in patterns {
                let found = match files(pattern) {
                    Ok(found) => found,
                    Err(message) => {
                        set.problems.push(Problem {
                            subject: pattern.clone(),
                            message,
                        });
                        continue;
                    }
                };
                if found.is_empty() {
                    set.problems.push(Problem {
                        subject: pattern.clone(),
                        message: format!("`{pattern}` matched no rule file"),
                    });
                }
                for file in found {
                    match file
                        .text
                        .and_then(|text| parse_rule_file(&file.display, &text))
                    {
                        Ok(rules) => set.rules.extend(rules),
                        Err(message) => set.problems.push(Problem {
                            subject: file.display.clone(),
                            message,
                        }),
                    }
                }
            }
            Ok(set)
        }
    }
}

/// The host side of [`load`]: expands a pattern and reads each file.
pub fn read_rule_files(pattern: &str) -> Result<Vec<RuleFile>, String> {
    const MAX_RULE_FILE: u64 = 8 << 20;
    let expansion = file_glob::expand(pattern, &file_glob::host_resolve)?;
    let mut out: Vec<RuleFile> = expansion
        .unreadable
        .into_iter()
        .map(|(display, e)| RuleFile {
            text: Err(format!("{display}: {e}")),
            display,
        })
        .collect();
    for f in expansion.files {
        let granted = gate_plugin_sdk::paths::GrantedPath {
            display: f.display.clone(),
            absolute: f.absolute.to_string_lossy().into_owned(),
        };
        let text = gate_plugin_sdk::paths::read_bytes(&granted, MAX_RULE_FILE).and_then(|b| {
            String::from_utf8(b).map_err(|_| format!("{}: not valid UTF-8", f.display))
        });
        out.push(RuleFile {
            display: f.display,
            text,
        });
    }
    Ok(out)
}

fn excerpt(body: &str) -> String {
    let t = body.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct ApiData {
    #[serde(default)]
    groups: Vec<ApiGroup>,
}

#[derive(Deserialize)]
struct ApiGroup {
    name: String,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    rules: Vec<ApiRule>,
}

#[derive(Deserialize)]
struct ApiRule {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    duration: f64,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    health: Option<String>,
    #[serde(default, rename = "lastError")]
    last_error: Option<String>,
}

/// Parses Prometheus' `/api/v1/rules` answer.
pub fn parse_rules_api(body: &str) -> Result<Vec<AlertRule>, String> {
    let resp: ApiResponse = serde_json::from_str(body)
        .map_err(|e| format!("not a Prometheus rules API response: {e}"))?;
    if resp.status != "success" {
        return Err(resp
            .error
            .unwrap_or_else(|| format!("status {}", resp.status)));
    }
    let data = resp.data.ok_or("the response has no `data`")?;
    let mut out = Vec::new();
    for group in data.groups {
        for rule in group.rules {
            if rule.kind != "alerting" {
                continue;
            }
            out.push(AlertRule {
                name: rule.name,
                expr: rule.query,
                for_seconds: (rule.duration > 0.0).then_some(rule.duration),
                for_invalid: None,
                labels: rule.labels,
                annotations: rule.annotations,
                group: group.name.clone(),
                file: group.file.clone().filter(|f| !f.is_empty()),
                line: None,
                last_error: (rule.health.as_deref() == Some("err")).then(|| {
                    rule.last_error
                        .filter(|e| !e.is_empty())
                        .unwrap_or_else(|| "evaluation failed".to_string())
                }),
            });
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct FileDoc {
    #[serde(default)]
    groups: Option<Vec<FileGroup>>,
}

#[derive(Deserialize)]
struct FileGroup {
    name: Option<String>,
    #[serde(default)]
    rules: Option<Vec<yaml_serde::Value>>,
}

fn scalar_text(v: &yaml_serde::Value) -> Option<String> {
    match v {
        yaml_serde::Value::String(s) => Some(s.clone()),
        yaml_serde::Value::Number(n) => Some(n.to_string()),
        yaml_serde::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_map(v: Option<&yaml_serde::Value>) -> BTreeMap<String, String> {
    v.and_then(|v| v.as_mapping())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((scalar_text(k)?, scalar_text(v).unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses a Prometheus rule file (`groups: [{ name, rules: [...] }]`).
pub fn parse_rule_file(display: &str, text: &str) -> Result<Vec<AlertRule>, String> {
    let value: yaml_serde::Value =
        yaml_serde::from_str(text).map_err(|e| format!("{display}: not valid YAML: {e}"))?;
    if value.is_null() {
        return Ok(Vec::new());
    }
    let doc: FileDoc = yaml_serde::from_value(value)
        .map_err(|e| format!("{display}: not a Prometheus rule file: {e}"))?;
    let groups = doc.groups.ok_or_else(|| {
        format!("{display}: not a Prometheus rule file (no top-level `groups:` list)")
    })?;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (gi, group) in groups.into_iter().enumerate() {
        let group_name = group.name.unwrap_or_else(|| format!("#{}", gi + 1));
        for rule in group.rules.unwrap_or_default() {
            let Some(map) = rule.as_mapping() else {
                return Err(format!(
                    "{display}: group `{group_name}` has a rule that is not a mapping"
                ));
            };
            let get = |k: &str| map.get(yaml_serde::Value::String(k.to_string()));
            let Some(name) = get("alert").and_then(scalar_text) else {
                continue; // a recording rule
            };
            let nth = seen.entry(name.clone()).or_default();
            let line = find_key_line(text, "alert", &name, *nth);
            *nth += 1;
            let (for_seconds, for_invalid) = match get("for").and_then(scalar_text) {
                None => (None, None),
                Some(t) => match promql::duration_seconds(&t) {
                    Ok(s) if s > 0.0 => (Some(s), None),
                    Ok(_) => (None, None),
                    Err(e) => (None, Some(e)),
                },
            };
            out.push(AlertRule {
                expr: get("expr").and_then(scalar_text).unwrap_or_default(),
                for_seconds,
                for_invalid,
                labels: string_map(get("labels")),
                annotations: string_map(get("annotations")),
                group: group_name.clone(),
                file: Some(display.to_string()),
                line,
                last_error: None,
                name,
            });
        }
    }
    Ok(out)
}

/// The 1-based line of the `nth` (0-based) `key: value` entry, as YAML writes
/// it: with or without `- `, quotes and a trailing comment.
pub fn find_key_line(text: &str, key: &str, value: &str, nth: usize) -> Option<u32> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let l = line.trim_start();
            let l = l.strip_prefix("- ").map_or(l, str::trim_start);
            let Some(rest) = l.strip_prefix(key) else {
                return false;
            };
            let Some(rest) = rest.trim_start().strip_prefix(':') else {
                return false;
            };
            let rest = rest.split(" #").next().unwrap_or(rest).trim();
            let unquoted = rest
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .or_else(|| rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
                .unwrap_or(rest);
            unquoted == value
        })
        .nth(nth)
        .map(|(i, _)| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const RULES: &str = r#"# alerts for the web tier
groups:
  - name: web
    interval: 30s
    rules:
      - record: job:http_errors:rate5m
        expr: sum by (job) (rate(http_errors_total[5m]))
      - alert: HighErrorRate
        expr: job:http_errors:rate5m > 0.05
        for: 10m
        labels:
          severity: page
        annotations:
          summary: "High error rate on {{ $labels.job }}"
          runbook_url: https://runbooks.example.com/high-error-rate
      - alert: "InstanceDown"   # quoted
        expr: up == 0
  - name: disk
    rules:
      - alert: HighErrorRate
        expr: |
          job:http_errors:rate5m
            > 0.5
        for: 1h30m
"#;

    #[test]
    fn parses_rule_files_with_lines() {
        let rules = parse_rule_file("rules/web.yml", RULES).unwrap();
        assert_eq!(rules.len(), 3);
        let r = &rules[0];
        assert_eq!(r.name, "HighErrorRate");
        assert_eq!(r.expr, "job:http_errors:rate5m > 0.05");
        assert_eq!(r.for_seconds, Some(600.0));
        assert_eq!(r.labels["severity"], "page");
        assert_eq!(
            r.annotations["runbook_url"],
            "https://runbooks.example.com/high-error-rate"
        );
        assert_eq!(r.group, "web");
        assert_eq!(r.file.as_deref(), Some("rules/web.yml"));
        assert_eq!(r.line, Some(8));
        assert_eq!(rules[1].name, "InstanceDown");
        assert_eq!(rules[1].line, Some(16));
        assert_eq!(rules[1].for_seconds, None);
        assert_eq!(rules[2].line, Some(20), "second definition, second line");
        assert_eq!(rules[2].for_seconds, Some(5400.0));
        assert!(rules[2].expr.contains("> 0.5"));
    }

    #[test]
    fn empty_and_foreign_files() {
        assert_eq!(parse_rule_file("a.yml", "").unwrap(), vec![]);
        assert_eq!(parse_rule_file("a.yml", "# nothing\n").unwrap(), vec![]);
        assert_eq!(parse_rule_file("a.yml", "groups: []\n").unwrap(), vec![]);
        let e = parse_rule_file("a.yml", "scrape_configs: []\n").unwrap_err();
        assert!(e.contains("no top-level `groups:`"), "{e}");
        let e = parse_rule_file("a.yml", "groups: [\n").unwrap_err();
        assert!(e.contains("not valid YAML"), "{e}");
        let e = parse_rule_file("a.yml", "groups:\n  - name: x\n    rules: [1]\n").unwrap_err();
        assert!(e.contains("not a mapping"), "{e}");
    }

    #[test]
    fn invalid_for_is_kept_for_the_message() {
        let rules = parse_rule_file(
            "a.yml",
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x > 1\n    for: 5 minutes\n  - alert: B\n    expr: x > 1\n    for: 0s\n",
        )
        .unwrap();
        assert!(rules[0].for_invalid.as_ref().unwrap().contains("5 minutes"));
        assert_eq!(rules[1].for_seconds, None);
        assert_eq!(rules[1].for_invalid, None);
    }

    #[test]
    fn parses_the_rules_api() {
        let body = r#"{"status":"success","data":{"groups":[{"name":"web","file":"/etc/prometheus/rules/web.yml","interval":30,"rules":[
          {"state":"inactive","name":"HighErrorRate","query":"job:http_errors:rate5m > 0.05","duration":600,
           "labels":{"severity":"page"},"annotations":{"runbook_url":"https://r/x"},"alerts":[],"health":"ok","lastError":"","type":"alerting"},
          {"name":"job:x","query":"sum(x)","health":"ok","type":"recording"},
          {"state":"inactive","name":"Broken","query":"foo > 1","duration":0,"labels":{},"annotations":{},"alerts":[],"health":"err","lastError":"many-to-many matching not allowed","type":"alerting"}
        ]}]}}"#;
        let rules = parse_rules_api(body).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].for_seconds, Some(600.0));
        assert_eq!(
            rules[0].file.as_deref(),
            Some("/etc/prometheus/rules/web.yml")
        );
        assert_eq!(rules[0].last_error, None);
        assert_eq!(rules[1].for_seconds, None);
        assert_eq!(
            rules[1].last_error.as_deref(),
            Some("many-to-many matching not allowed")
        );
        assert!(parse_rules_api("<html>").is_err());
        let e = parse_rules_api(r#"{"status":"error","error":"bad"}"#).unwrap_err();
        assert_eq!(e, "bad");
    }

    #[test]
    fn load_collects_file_problems_and_fails_on_provider_errors() {
        let api = |_: &str, path: &str| -> Result<(u16, String), String> {
            assert_eq!(path, "/api/v1/rules?type=alert");
            Err("connection refused".to_string())
        };
        let files = |pattern: &str| -> Result<Vec<RuleFile>, String> {
            match pattern {
                "good.yml" => Ok(vec![RuleFile {
                    display: "good.yml".into(),
                    text: Ok(RULES.to_string()),
                }]),
                "none/*.yml" => Ok(vec![]),
                "bad.yml" => Ok(vec![RuleFile {
                    display: "bad.yml".into(),
                    text: Ok("groups: [".into()),
                }]),
                _ => Err(format!("{pattern}: not granted")),
            }
        };
        let source = Source::Provider("prom".into());
        assert!(load(&source, &api, &files).unwrap_err().contains("refused"));
        let source = Source::Files(vec![
            "good.yml".into(),
            "none/*.yml".into(),
            "bad.yml".into(),
            "/etc/x.yml".into(),
        ]);
        let set = load(&source, &api, &files).unwrap();
        assert_eq!(set.rules.len(), 3);
        let subjects: Vec<_> = set.problems.iter().map(|p| p.subject.as_str()).collect();
        assert_eq!(subjects, ["none/*.yml", "bad.yml", "/etc/x.yml"]);
        assert!(set.problems[0].message.contains("matched no rule file"));
    }

    #[test]
    fn source_takes_exactly_one() {
        assert!(Source::from_params(&None, &None).is_err());
        assert!(Source::from_params(&Some("p".into()), &Some(vec!["a".into()])).is_err());
        assert!(Source::from_params(&None, &Some(vec![])).is_err());
        assert_eq!(
            Source::from_params(&Some("p".into()), &None),
            Ok(Source::Provider("p".into()))
        );
    }

    #[test]
    fn key_lines_ignore_quotes_and_comments() {
        let text = "- alert: A\n  x: 1\n-   alert:   'B' # c\n- alert: \"A\"\n";
        assert_eq!(find_key_line(text, "alert", "A", 0), Some(1));
        assert_eq!(find_key_line(text, "alert", "A", 1), Some(4));
        assert_eq!(find_key_line(text, "alert", "B", 0), Some(3));
        assert_eq!(find_key_line(text, "alert", "C", 0), None);
    }
}
