//! `infra.monitoring`: Prometheus is healthy and scrapes every target of the
//! required jobs successfully (`up == 1`).
//!
//! A job without any `up` series has no targets (or Prometheus does not know
//! it), so nothing watches that service: that fails. For targets that are
//! down, the scrape error Prometheus recorded (`/api/v1/targets`) goes into
//! the evidence.

use std::collections::BTreeMap;

use gate_plugin_sdk::host::metrics;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

pub const ID: &str = "infra.monitoring";

pub struct Monitoring;

fn default_timeout() -> u32 {
    5000
}

fn one() -> u32 {
    1
}

/// A job name, or `{ name, min_targets }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum JobSpec {
    Name(String),
    Detailed(JobDetail),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDetail {
    pub name: String,
    #[serde(default = "one")]
    pub min_targets: u32,
}

impl JobSpec {
    pub fn name(&self) -> &str {
        match self {
            JobSpec::Name(n) => n,
            JobSpec::Detailed(d) => &d.name,
        }
    }

    pub fn min_targets(&self) -> u32 {
        match self {
            JobSpec::Name(_) => 1,
            JobSpec::Detailed(d) => d.min_targets.max(1),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub provider: String,
    pub jobs: Vec<JobSpec>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

/// One target's `up` sample.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetUp {
    pub instance: String,
    pub up: f64,
}

/// What Prometheus answered.
#[derive(Debug)]
pub struct Observed {
    /// `/-/healthy`: status and body, or why it could not be asked.
    pub health: Result<(u16, String), String>,
    /// Per job, in `params.jobs` order.
    pub jobs: Vec<Result<Vec<TargetUp>, String>>,
    /// `(job, instance)` → last scrape error, for targets that are down.
    pub scrape_errors: BTreeMap<(String, String), String>,
}

/// `up{job="..."}`, with the name escaped as a PromQL string.
pub fn up_query(job: &str) -> String {
    let escaped = job.replace('\\', "\\\\").replace('"', "\\\"");
    format!("up{{job=\"{escaped}\"}}")
}

impl Check for Monitoring {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Monitoring scrapes the service".to_string(),
            description: "Prometheus is healthy (/-/healthy) and up == 1 for every target of each required job".to_string(),
            default_severity: Severity::High,
            params: vec![
                param("provider", "string", true, "Named [metrics.NAME] Prometheus provider"),
                param("jobs", "list<string | { name, min_targets = 1 }>", true, "Scrape jobs that must have all targets up"),
                param_default("timeout_ms", "integer", "Timeout of each Prometheus call", "5000"),
            ],
            capabilities: vec!["metrics".to_string()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let mut problems = Vec::new();
        if p.provider.trim().is_empty() {
            problems.push("`provider` is empty");
        }
        if p.jobs.is_empty() {
            problems.push("`jobs` must name at least one scrape job");
        }
        if p.jobs.iter().any(|j| j.name().trim().is_empty()) {
            problems.push("`jobs` contains an empty name");
        }
        if !problems.is_empty() {
            return params::invalid(ctx, problems.join("; "));
        }
        evaluate(ctx, &p, &observe(&p))
    }
}

fn observe(p: &Params) -> Observed {
    let health = metrics::api(&p.provider, "/-/healthy", p.timeout_ms);
    let mut observed = Observed {
        health,
        jobs: Vec::new(),
        scrape_errors: BTreeMap::new(),
    };
    if !matches!(observed.health, Ok((200, _))) {
        return observed;
    }
    for job in &p.jobs {
        let samples = metrics::instant(&p.provider, &up_query(job.name()), p.timeout_ms).map(|s| {
            s.into_iter()
                .map(|s| TargetUp {
                    instance: label(&s.labels, "instance"),
                    up: s.value,
                })
                .collect()
        });
        observed.jobs.push(samples);
    }
    let any_down = observed
        .jobs
        .iter()
        .any(|j| j.as_ref().is_ok_and(|t| t.iter().any(|t| t.up != 1.0)));
    if any_down
        && let Ok((200, body)) =
            metrics::api(&p.provider, "/api/v1/targets?state=active", p.timeout_ms)
    {
        observed.scrape_errors = scrape_errors(&body);
    }
    observed
}

fn label(labels: &[(String, String)], name: &str) -> String {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// `(job, instance)` → `lastError` from `/api/v1/targets`.
pub fn scrape_errors(body: &str) -> BTreeMap<(String, String), String> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    v["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let err = t["lastError"].as_str().filter(|e| !e.is_empty())?;
            let job = t["labels"]["job"].as_str()?.to_string();
            let instance = t["labels"]["instance"].as_str()?.to_string();
            Some(((job, instance), err.to_string()))
        })
        .collect()
}

/// Judges what Prometheus answered.
pub fn evaluate(ctx: &Context, params: &Params, observed: &Observed) -> Vec<Finding> {
    let provider = params.provider.as_str();
    let (status, body) = match &observed.health {
        Ok(h) => h,
        Err(e) => {
            return vec![
                ctx.finding(provider, Status::Error)
                    .message(format!("cannot reach Prometheus `{provider}`: {e}"))
                    .remediation(format!(
                        "check that Prometheus runs, that [metrics.{provider}] has its URL, and that the `infra` plugin is granted `metrics = [\"{provider}\"]`"
                    ))
                    .build(),
            ];
        }
    };
    if *status != 200 {
        return vec![
            ctx.finding(provider, Status::Fail)
                .message(format!(
                    "Prometheus `{provider}` is not healthy: /-/healthy answered HTTP {status} {}",
                    body.trim()
                ))
                .evidence("http_status", status)
                .remediation("look at Prometheus' own logs; a monitoring system that is not healthy does not alert")
                .build(),
        ];
    }
    let mut out = vec![
        ctx.finding(provider, Status::Pass)
            .message(format!("Prometheus `{provider}` is healthy"))
            .evidence("http_status", status)
            .build(),
    ];
    for (job, result) in params.jobs.iter().zip(&observed.jobs) {
        out.push(job_finding(
            ctx,
            provider,
            job,
            result,
            &observed.scrape_errors,
        ));
    }
    out
}

fn job_finding(
    ctx: &Context,
    provider: &str,
    job: &JobSpec,
    result: &Result<Vec<TargetUp>, String>,
    scrape_errors: &BTreeMap<(String, String), String>,
) -> Finding {
    let name = job.name();
    let targets = match result {
        Ok(t) => t,
        Err(e) => {
            return ctx
                .finding(name, Status::Error)
                .message(format!(
                    "cannot query `{}` on `{provider}`: {e}",
                    up_query(name)
                ))
                .build();
        }
    };
    let mut targets = targets.clone();
    targets.sort_by(|a, b| a.instance.cmp(&b.instance));
    let down: Vec<&TargetUp> = targets.iter().filter(|t| t.up != 1.0).collect();
    let up = targets.len() - down.len();
    let min = job.min_targets();
    let mut issues = Vec::new();
    if targets.is_empty() {
        issues.push(format!(
            "job `{name}` has no targets in Prometheus `{provider}`: nothing scrapes it"
        ));
    } else {
        if !down.is_empty() {
            let names: Vec<&str> = down.iter().map(|t| t.instance.as_str()).collect();
            issues.push(format!(
                "job `{name}`: {} of {} targets down ({})",
                down.len(),
                targets.len(),
                names.join(", ")
            ));
        }
        if (targets.len() as u32) < min {
            issues.push(format!(
                "job `{name}` has {} targets, fewer than min_targets {min}",
                targets.len()
            ));
        }
    }
    let status = if issues.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let message = if issues.is_empty() {
        format!("job `{name}`: all {up} targets up")
    } else {
        issues.join("; ")
    };
    let mut f = ctx
        .finding(name, status)
        .message(message)
        .evidence("targets", targets.len())
        .evidence("up", up);
    for t in &targets {
        let mut value = if t.up == 1.0 {
            "up".to_string()
        } else {
            "down".to_string()
        };
        if let Some(e) = scrape_errors.get(&(name.to_string(), t.instance.clone())) {
            value.push_str(&format!(": {e}"));
        }
        f = f.evidence(format!("target:{}", t.instance), value);
    }
    if status == Status::Fail {
        f = f.remediation(if targets.is_empty() {
            "add the job to Prometheus' scrape_configs (check the job name), or fix its service discovery"
        } else {
            "fix the targets that are down (see each target's scrape error) before deploying"
        });
    }
    f.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(json: serde_json::Value) -> Params {
        serde_json::from_value(json).expect("params")
    }

    fn t(instance: &str, up: f64) -> TargetUp {
        TargetUp {
            instance: instance.into(),
            up,
        }
    }

    fn healthy(jobs: Vec<Result<Vec<TargetUp>, String>>) -> Observed {
        Observed {
            health: Ok((200, "Prometheus Server is Healthy.\n".into())),
            jobs,
            scrape_errors: BTreeMap::new(),
        }
    }

    #[test]
    fn all_targets_up_pass() {
        let p = params(
            serde_json::json!({"provider": "prom", "jobs": ["haproxy", {"name": "node", "min_targets": 2}]}),
        );
        let o = healthy(vec![
            Ok(vec![t("127.0.0.1:8404", 1.0)]),
            Ok(vec![t("b:9100", 1.0), t("a:9100", 1.0)]),
        ]);
        let out = evaluate(&ctx(), &p, &o);
        let got: Vec<_> = out.iter().map(|f| (f.subject.as_str(), f.status)).collect();
        assert_eq!(
            got,
            [
                ("prom", Status::Pass),
                ("haproxy", Status::Pass),
                ("node", Status::Pass)
            ]
        );
        assert_eq!(out[2].message, "job `node`: all 2 targets up");
        assert_eq!(out[2].evidence[2], ("target:a:9100".into(), "up".into()));
    }

    #[test]
    fn down_and_missing_targets_fail() {
        let p = params(
            serde_json::json!({"provider": "prom", "jobs": ["api", "ghost", {"name": "node", "min_targets": 3}]}),
        );
        let mut o = healthy(vec![
            Ok(vec![t("a:80", 1.0), t("b:80", 0.0)]),
            Ok(vec![]),
            Ok(vec![t("a:9100", 1.0)]),
        ]);
        o.scrape_errors
            .insert(("api".into(), "b:80".into()), "connection refused".into());
        let out = evaluate(&ctx(), &p, &o);
        assert_eq!(out[1].status, Status::Fail);
        assert_eq!(out[1].message, "job `api`: 1 of 2 targets down (b:80)");
        assert!(
            out[1]
                .evidence
                .contains(&("target:b:80".into(), "down: connection refused".into()))
        );
        assert_eq!(out[2].status, Status::Fail);
        assert!(out[2].message.contains("no targets"));
        assert!(
            out[2]
                .remediation
                .as_ref()
                .unwrap()
                .contains("scrape_configs")
        );
        assert_eq!(out[3].status, Status::Fail);
        assert!(out[3].message.contains("fewer than min_targets 3"));
    }

    #[test]
    fn provider_down_errors_and_unhealthy_fails() {
        let p = params(serde_json::json!({"provider": "prom", "jobs": ["api"]}));
        let o = Observed {
            health: Err("GET /-/healthy on `prom`: connection refused".into()),
            jobs: vec![],
            scrape_errors: BTreeMap::new(),
        };
        let out = evaluate(&ctx(), &p, &o);
        assert_eq!((out.len(), out[0].status), (1, Status::Error));
        let o = Observed {
            health: Ok((503, "Service Unavailable".into())),
            jobs: vec![],
            scrape_errors: BTreeMap::new(),
        };
        let out = evaluate(&ctx(), &p, &o);
        assert_eq!((out.len(), out[0].status), (1, Status::Fail));
        let o = healthy(vec![Err("bad_data: parse error".into())]);
        let out = evaluate(&ctx(), &p, &o);
        assert_eq!(out[1].status, Status::Error);
    }

    #[test]
    fn queries_and_target_errors() {
        assert_eq!(up_query("api"), r#"up{job="api"}"#);
        assert_eq!(up_query(r#"we"ird\"#), r#"up{job="we\"ird\\"}"#);
        let body = r#"{"status":"success","data":{"activeTargets":[
            {"labels":{"job":"api","instance":"b:80"},"health":"down","lastError":"Get \"http://b:80/metrics\": dial tcp: connection refused"},
            {"labels":{"job":"api","instance":"a:80"},"health":"up","lastError":""}]}}"#;
        let e = scrape_errors(body);
        assert_eq!(e.len(), 1);
        assert!(e[&("api".to_string(), "b:80".to_string())].contains("refused"));
        assert!(scrape_errors("garbage").is_empty());
    }

    #[test]
    fn bad_params() {
        let out = Monitoring.run(&ctx(), &serde_json::json!({"provider": "", "jobs": []}));
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("`provider` is empty"));
        assert!(out[0].message.contains("at least one scrape job"));
    }
}
