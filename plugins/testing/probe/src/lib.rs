//! Test-only plugin that keeps every rule a plugin must keep, with one small
//! check per capability, so `gate plugin test` can be tested end to end
//! against stubbed `http`, `env`, `net`, `sql` and files: bad params are an
//! `error` finding, a denied capability is an `error` finding, and every run
//! reports what it saw.

use gate_plugin_sdk::host::{env, http, net, sql};
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Plugin, Severity, Status, param, param_default, params,
    paths, redact,
};
use serde::Deserialize;

/// A check: its metadata and its logic.
struct Probe {
    info: fn() -> CheckInfo,
    run: fn(&Context, &serde_json::Value) -> Vec<Finding>,
}

impl Check for Probe {
    fn info(&self) -> CheckInfo {
        (self.info)()
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        (self.run)(ctx, raw)
    }
}

fn info(id: &str, title: &str, params: Vec<gate_plugin_sdk::ParamInfo>, cap: &str) -> CheckInfo {
    CheckInfo {
        id: format!("probe.{id}"),
        title: title.into(),
        description: format!("Test-only: {title}."),
        default_severity: Severity::Medium,
        params,
        capabilities: vec![cap.into()],
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpParams {
    url: String,
    #[serde(default = "ok")]
    expect_status: u16,
}

fn ok() -> u16 {
    200
}

fn http_info() -> CheckInfo {
    info(
        "http",
        "The URL answers with the expected status",
        vec![
            param("url", "string", true, "URL to GET"),
            param_default("expect_status", "integer", "status expected", "200"),
        ],
        "http",
    )
}

fn http_run(ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
    let p: HttpParams = match params::parse(ctx, raw) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let req = http::Request {
        method: "GET".into(),
        url: p.url.clone(),
        headers: vec![],
        body: None,
        timeout_ms: 2000,
        max_bytes: 4096,
        ca_file: None,
    };
    let finding = match http::fetch(&req) {
        Ok(r) => {
            let body = String::from_utf8_lossy(&r.body);
            let status = if r.status == p.expect_status {
                Status::Pass
            } else {
                Status::Fail
            };
            ctx.finding(&p.url, status)
                .message(format!(
                    "GET answered {}: {}",
                    r.status,
                    redact::text(body.trim())
                ))
                .evidence("status", r.status)
        }
        Err(e) => ctx.finding(&p.url, Status::Error).message(e),
    };
    vec![finding.build()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvParams {
    names: Vec<String>,
}

fn env_info() -> CheckInfo {
    info(
        "env",
        "The environment variables are set",
        vec![param(
            "names",
            "list<string>",
            true,
            "variables that must be set",
        )],
        "env",
    )
}

fn env_run(ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
    let p: EnvParams = match params::parse(ctx, raw) {
        Ok(p) => p,
        Err(f) => return f,
    };
    if p.names.is_empty() {
        return params::invalid(ctx, "`names` is empty");
    }
    p.names
        .iter()
        .map(|name| match env::get(name) {
            Ok(Some(v)) => ctx
                .finding(name, Status::Pass)
                .message(format!("set to {}", redact::shown(name, &v))),
            Ok(None) => ctx.finding(name, Status::Fail).message("not set"),
            Err(e) => ctx.finding(name, Status::Error).message(e),
        })
        .map(|b| b.build())
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetParams {
    target: String,
    #[serde(default)]
    send: Option<String>,
    #[serde(default)]
    expect: Option<String>,
}

fn net_info() -> CheckInfo {
    info(
        "net",
        "The target accepts connections and answers",
        vec![
            param("target", "string", true, "host:port"),
            param("send", "string", false, "bytes to send"),
            param("expect", "string", false, "text the reply must contain"),
        ],
        "net",
    )
}

fn net_run(ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
    let p: NetParams = match params::parse(ctx, raw) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let connect = match net::connect(&p.target, 2000) {
        Ok(c) => c,
        Err(e) => return vec![ctx.finding(&p.target, Status::Error).message(e).build()],
    };
    if !connect.connected {
        let why = connect.error.unwrap_or_default();
        return vec![
            ctx.finding(&p.target, Status::Fail)
                .message(format!("does not accept connections: {why}"))
                .build(),
        ];
    }
    let Some(send) = p.send else {
        return vec![
            ctx.finding(&p.target, Status::Pass)
                .message("accepts connections")
                .build(),
        ];
    };
    let opts = net::ExchangeOptions {
        max_bytes: 1024,
        delimiter: Some(b"\n".to_vec()),
        timeout_ms: 2000,
    };
    let finding = match net::exchange(&p.target, send.as_bytes(), &opts) {
        Ok(reply) => {
            let reply = String::from_utf8_lossy(&reply).trim().to_string();
            let expected = p.expect.as_deref().unwrap_or_default();
            let status = if reply.contains(expected) {
                Status::Pass
            } else {
                Status::Fail
            };
            ctx.finding(&p.target, status)
                .message(format!("replied {}", redact::text(&reply)))
        }
        Err(e) => ctx.finding(&p.target, Status::Error).message(e),
    };
    vec![finding.build()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlParams {
    connection: String,
    query: String,
}

fn sql_info() -> CheckInfo {
    info(
        "sql",
        "The query returns rows without NULLs",
        vec![
            param("connection", "string", true, "connection name"),
            param("query", "string", true, "read-only query"),
        ],
        "sql",
    )
}

fn sql_run(ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
    let p: SqlParams = match params::parse(ctx, raw) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let finding = match sql::query(&p.connection, &p.query, &[], 2000) {
        Ok(r) => {
            let nulls = r.rows.iter().flatten().filter(|c| c.is_none()).count();
            let status = if r.rows.is_empty() || nulls > 0 {
                Status::Fail
            } else {
                Status::Pass
            };
            ctx.finding(&p.connection, status).message(format!(
                "{} rows, {nulls} NULLs, columns {}",
                r.rows.len(),
                r.columns.join(", ")
            ))
        }
        Err(e) => ctx.finding(&p.connection, Status::Error).message(e),
    };
    vec![finding.build()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesParams {
    paths: Vec<String>,
}

fn files_info() -> CheckInfo {
    info(
        "files",
        "The files exist and are not empty",
        vec![param(
            "paths",
            "list<string>",
            true,
            "files that must exist",
        )],
        "fs",
    )
}

fn files_run(ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
    let p: FilesParams = match params::parse(ctx, raw) {
        Ok(p) => p,
        Err(f) => return f,
    };
    if p.paths.is_empty() {
        return params::invalid(ctx, "`paths` is empty");
    }
    p.paths
        .iter()
        .map(|f| match paths::read_to_string(f, 1 << 20) {
            Ok((_, text)) if !text.trim().is_empty() => ctx
                .finding(f, Status::Pass)
                .message(format!("{} lines", text.lines().count())),
            Ok(_) => ctx.finding(f, Status::Fail).message("empty"),
            Err(e) => ctx.finding(f, Status::Error).message(e),
        })
        .map(|b| b.build())
        .collect()
}

struct ProbePlugin;

impl Plugin for ProbePlugin {
    const ID: &'static str = "probe";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Test-only plugin with one well-behaved check per capability";
    fn checks() -> Vec<Box<dyn Check>> {
        let probe = |info, run| Box::new(Probe { info, run }) as Box<dyn Check>;
        vec![
            probe(http_info, http_run),
            probe(env_info, env_run),
            probe(net_info, net_run),
            probe(sql_info, sql_run),
            probe(files_info, files_run),
        ]
    }
}

gate_plugin_sdk::plugin!(ProbePlugin);

#[cfg(test)]
mod tests {
    #[test]
    fn catalogue() {
        gate_plugin_sdk::testing::assert_catalogue_invariants(&gate_plugin_sdk::describe::<
            super::ProbePlugin,
        >());
    }
}
