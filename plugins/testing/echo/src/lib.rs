//! Test-only plugin: `echo.findings` returns exactly the findings listed in its
//! params, so host behaviour (exemptions, statuses, reports) can be tested
//! deterministically without depending on a real check.

use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Plugin, Severity, Status, param, params,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    findings: Vec<Spec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    subject: String,
    status: String,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<u32>,
}

fn status(s: &str) -> Option<Status> {
    Some(match s {
        "pass" => Status::Pass,
        "skip" => Status::Skip,
        "warn" => Status::Warn,
        "fail" => Status::Fail,
        "error" => Status::Error,
        _ => return None,
    })
}

fn severity(s: &str) -> Option<Severity> {
    Some(match s {
        "info" => Severity::Info,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        _ => return None,
    })
}

struct Findings;

impl Check for Findings {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: "echo.findings".into(),
            title: "Echo the findings given in params".into(),
            description: "Test-only: returns the findings listed in `findings`.".into(),
            default_severity: Severity::Medium,
            params: vec![param(
                "findings",
                "list<{ subject, status, rule?, severity?, message?, file?, line? }>",
                false,
                "findings to return",
            )],
            capabilities: vec![],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let mut out = Vec::new();
        for s in p.findings {
            let Some(st) = status(&s.status) else {
                return params::invalid(ctx, format!("unknown status `{}`", s.status));
            };
            let mut b = ctx.finding(&s.subject, st).message(
                s.message
                    .unwrap_or_else(|| format!("{} is {}", s.subject, s.status)),
            );
            if let Some(r) = s.rule {
                b = b.rule(r);
            }
            if let Some(sev) = s.severity.as_deref().and_then(severity) {
                b = b.severity(sev);
            }
            if let Some(file) = s.file {
                b = b.location(file, s.line, None);
            }
            out.push(b.evidence("echo", "true").build());
        }
        out
    }
}

struct Echo;

impl Plugin for Echo {
    const ID: &'static str = "echo";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Test-only plugin that returns the findings its params describe";
    fn checks() -> Vec<Box<dyn Check>> {
        vec![Box::new(Findings)]
    }
}

gate_plugin_sdk::plugin!(Echo);
