//! The `acme` example plugin: the same two checks as `../python` and
//! `../js`, so their figures compare like with like.
//!
//! - `acme.runbook` (fs): every listed service has a runbook with the
//!   required headings.
//! - `acme.env` (env): every listed environment variable is set and not
//!   empty; values are shown redacted.

use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Plugin, Severity, Status, host, param, param_default,
    params, paths, redact,
};
use serde::Deserialize;

fn default_dir() -> String {
    "runbooks".into()
}

fn default_headings() -> Vec<String> {
    vec!["Alerts".into(), "Rollback".into(), "Contacts".into()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunbookParams {
    services: Vec<String>,
    #[serde(default = "default_dir")]
    dir: String,
    #[serde(default = "default_headings")]
    headings: Vec<String>,
}

struct Runbook;

/// The headings of a Markdown text, without their `#`s, lower-cased.
fn headings(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim().to_lowercase())
        .collect()
}

impl Check for Runbook {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: "acme.runbook".into(),
            title: "Every service has a runbook".into(),
            description: "Each listed service has DIR/SERVICE.md with every required heading."
                .into(),
            default_severity: Severity::Medium,
            params: vec![
                param(
                    "services",
                    "list<string>",
                    true,
                    "the services that need a runbook",
                ),
                param_default(
                    "dir",
                    "string",
                    "the runbooks' directory, relative to the working directory",
                    "\"runbooks\"",
                ),
                param_default(
                    "headings",
                    "list<string>",
                    "headings every runbook must have",
                    "[\"Alerts\", \"Rollback\", \"Contacts\"]",
                ),
            ],
            capabilities: vec!["fs".into()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: RunbookParams = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        if p.services.is_empty() {
            return params::invalid(ctx, "`services` is empty");
        }
        p.services
            .iter()
            .map(|service| {
                let path = format!("{}/{service}.md", p.dir.trim_end_matches('/'));
                let granted = match paths::resolve(&path) {
                    Ok(g) => g,
                    Err(e) => {
                        return ctx
                            .finding(service, Status::Error)
                            .message(format!("fs: {e}"))
                            .build();
                    }
                };
                let text = match std::fs::read_to_string(&granted.absolute) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return ctx
                            .finding(service, Status::Fail)
                            .message(format!("no runbook at {path}"))
                            .remediation(format!("write {path}"))
                            .build();
                    }
                    Err(e) => {
                        return ctx
                            .finding(service, Status::Error)
                            .message(format!("fs: {path}: {e}"))
                            .build();
                    }
                };
                let found = headings(&text);
                let missing: Vec<&str> = p
                    .headings
                    .iter()
                    .filter(|h| !found.contains(&h.to_lowercase()))
                    .map(String::as_str)
                    .collect();
                if missing.is_empty() {
                    ctx.finding(service, Status::Pass)
                        .message(format!("{path} has every required heading"))
                        .location(&path, None, None)
                        .build()
                } else {
                    ctx.finding(service, Status::Fail)
                        .message(format!("{path} lacks headings: {}", missing.join(", ")))
                        .location(&path, Some(1), None)
                        .remediation("add a `## HEADING` section for each")
                        .build()
                }
            })
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvParams {
    required: Vec<String>,
}

struct Env;

impl Check for Env {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: "acme.env".into(),
            title: "Deploy variables are set".into(),
            description: "Each listed environment variable is set and not empty.".into(),
            default_severity: Severity::High,
            params: vec![param(
                "required",
                "list<string>",
                true,
                "the variables the deploy needs",
            )],
            capabilities: vec!["env".into()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: EnvParams = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        if p.required.is_empty() {
            return params::invalid(ctx, "`required` is empty");
        }
        let mut findings = Vec::new();
        for name in &p.required {
            let finding = match host::env::get(name) {
                // A denied grant: the check cannot see the variable.
                Err(e) => {
                    return vec![
                        ctx.finding(name, Status::Error)
                            .message(format!("env: {e}"))
                            .build(),
                    ];
                }
                Ok(None) => ctx
                    .finding(name, Status::Fail)
                    .message(format!("`{name}` is not set"))
                    .build(),
                Ok(Some(v)) if v.is_empty() => ctx
                    .finding(name, Status::Fail)
                    .message(format!("`{name}` is empty"))
                    .build(),
                Ok(Some(v)) => ctx
                    .finding(name, Status::Pass)
                    .message(format!("`{name}` is set"))
                    .evidence("value", redact::shown(name, &v))
                    .build(),
            };
            findings.push(finding);
        }
        findings
    }
}

struct Acme;

impl Plugin for Acme {
    const ID: &'static str = "acme";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Acme's deployment checks (the Rust example)";

    fn checks() -> Vec<Box<dyn Check>> {
        vec![Box::new(Runbook), Box::new(Env)]
    }
}

gate_plugin_sdk::plugin!(Acme);
