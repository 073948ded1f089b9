//! `infra.load-balancer`: HAProxy has enough servers UP in each named backend,
//! and the named frontends are open, read from the stats page (CSV over HTTP)
//! or the runtime API's `show stat` on the admin socket.
//!
//! A server counts toward `min_up` only when it is `UP` with a non-zero
//! weight and is not a backup server: that is capacity taking traffic right
//! now. `DRAIN` (and weight 0) servers are healthy but take no new
//! connections, transitional states (`UP 1/3`, `DOWN 1/2`) are not settled,
//! and `no check` servers are unverified (counted only with
//! `count_unchecked = true`).

use gate_plugin_sdk::host::{env, http, net, unix};
use gate_plugin_sdk::redact::url as redact_url;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use crate::haproxy_stats::{self, ServerState, StatRow};

pub const ID: &str = "infra.load-balancer";

pub struct LoadBalancer;

/// Largest stats answer read (a big HAProxy has thousands of servers).
const MAX_STATS_BYTES: u32 = 8 << 20;

fn one() -> u32 {
    1
}

fn default_timeout() -> u32 {
    5000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    pub name: String,
    #[serde(default = "one")]
    pub min_up: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub stats_url: Option<String>,
    #[serde(default)]
    pub admin_socket: Option<String>,
    #[serde(default)]
    pub backends: Vec<Backend>,
    #[serde(default)]
    pub frontends: Vec<String>,
    #[serde(default)]
    pub count_unchecked: bool,
    /// Environment variable holding `user:password` for the stats page.
    #[serde(default)]
    pub auth_env: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

impl Params {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match (&self.stats_url, &self.admin_socket) {
            (Some(_), Some(_)) => {
                problems.push("set either `stats_url` or `admin_socket`, not both".to_string())
            }
            (None, None) => problems.push(
                "set `stats_url` (HAProxy's stats page) or `admin_socket` (its runtime API socket)"
                    .to_string(),
            ),
            _ => {}
        }
        if let Some(url) = &self.stats_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push(format!("`stats_url` must be an http(s) URL, not `{url}`"));
        }
        if self.auth_env.is_some() && self.stats_url.is_none() {
            problems.push("`auth_env` applies to `stats_url` only".to_string());
        }
        if self.backends.is_empty() && self.frontends.is_empty() {
            problems.push(
                "name at least one backend in `backends` (or a frontend in `frontends`)"
                    .to_string(),
            );
        }
        for b in &self.backends {
            if b.name.trim().is_empty() {
                problems.push("a backend in `backends` has an empty name".to_string());
            }
        }
        problems
    }

    /// What the findings name as the source, without credentials.
    fn source(&self) -> String {
        match (&self.stats_url, &self.admin_socket) {
            (Some(url), _) => redact_url(url),
            (_, Some(sock)) => sock.clone(),
            _ => String::new(),
        }
    }
}

/// The stats page serves CSV when the URL ends in `;csv`.
pub fn csv_url(url: &str) -> String {
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (url, None),
    };
    let mut out = if path.split(';').skip(1).any(|o| o == "csv") {
        path.to_string()
    } else {
        format!("{path};csv")
    };
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Check for LoadBalancer {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Load balancer backends have servers up".to_string(),
            description: "HAProxy (stats CSV over HTTP or the runtime API socket): each named backend has at least min_up servers UP; named frontends are OPEN"
                .to_string(),
            default_severity: Severity::Critical,
            params: vec![
                param("stats_url", "string", false, "HAProxy stats page URL; `;csv` is appended when missing. Or use `admin_socket`"),
                param("admin_socket", "string", false, "Path of HAProxy's runtime API socket (`show stat`). Or use `stats_url`"),
                param("backends", "list<{ name, min_up = 1 }>", false, "Backends and the number of servers each needs UP"),
                param_default("frontends", "list<string>", "Frontends that must be OPEN", "[]"),
                param_default("count_unchecked", "bool", "Count servers without health checks (`no check`) as up", "false"),
                param("auth_env", "string", false, "Environment variable holding `user:password` for the stats page (HTTP basic auth)"),
                param_default("timeout_ms", "integer", "Timeout of the stats request", "5000"),
            ],
            capabilities: vec!["http|unix".to_string()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let problems = p.problems();
        if !problems.is_empty() {
            return params::invalid(ctx, problems.join("; "));
        }
        let csv = fetch_stats(&p);
        evaluate(ctx, &p, csv)
    }
}

fn fetch_stats(p: &Params) -> Result<String, String> {
    if let Some(sock) = &p.admin_socket {
        let reply = unix::exchange(
            sock,
            b"show stat\n",
            &net::ExchangeOptions {
                max_bytes: MAX_STATS_BYTES,
                // The runtime API ends each answer with an empty line.
                delimiter: Some(b"\n\n".to_vec()),
                timeout_ms: p.timeout_ms,
            },
        )?;
        if reply.len() >= MAX_STATS_BYTES as usize {
            return Err(format!(
                "`show stat` answered more than {MAX_STATS_BYTES} bytes"
            ));
        }
        return String::from_utf8(reply)
            .map_err(|_| "`show stat` answered non-UTF-8 bytes".to_string());
    }
    let url = csv_url(p.stats_url.as_deref().unwrap_or_default());
    let mut headers = Vec::new();
    if let Some(var) = &p.auth_env {
        let creds =
            env::get(var)?.ok_or_else(|| format!("`auth_env` variable {var} is not set"))?;
        headers.push((
            "Authorization".to_string(),
            format!("Basic {}", base64(creds.as_bytes())),
        ));
    }
    let resp = http::fetch(&http::Request {
        method: "GET".to_string(),
        url: url.clone(),
        headers,
        body: None,
        timeout_ms: p.timeout_ms,
        max_bytes: MAX_STATS_BYTES,
        ca_file: None,
    })?;
    let shown = redact_url(&url);
    match resp.status {
        200 if resp.truncated => Err(format!(
            "{shown}: answer larger than {MAX_STATS_BYTES} bytes"
        )),
        200 => String::from_utf8(resp.body).map_err(|_| format!("{shown}: not UTF-8")),
        401 => Err(format!(
            "{shown} answered HTTP 401: the stats page needs credentials (set `auth_env`)"
        )),
        s => Err(format!("{shown} answered HTTP {s}")),
    }
}

/// Judges the stats; `csv` is what HAProxy answered (or why it could not be read).
pub fn evaluate(ctx: &Context, params: &Params, csv: Result<String, String>) -> Vec<Finding> {
    let source = params.source();
    let rows = match csv.and_then(|text| haproxy_stats::parse(&text)) {
        Ok(rows) => rows,
        Err(e) => {
            return vec![
                ctx.finding(&source, Status::Error)
                    .message(format!("cannot read HAProxy stats from {source}: {e}"))
                    .remediation(if params.admin_socket.is_some() {
                        "check that HAProxy runs with `stats socket <path>` and that the `infra` plugin is granted `unix` on it"
                    } else {
                        "check the stats URL (`stats uri` in HAProxy) and that the `infra` plugin is granted `http` on it"
                    })
                    .build(),
            ];
        }
    };
    let mut out: Vec<Finding> = params
        .frontends
        .iter()
        .map(|name| frontend(ctx, &rows, name, &source))
        .collect();
    out.extend(
        params
            .backends
            .iter()
            .map(|b| backend(ctx, params, &rows, b, &source)),
    );
    out
}

fn frontend(ctx: &Context, rows: &[StatRow], name: &str, source: &str) -> Finding {
    let subject = format!("frontend:{name}");
    let Some(row) = rows.iter().find(|r| r.proxy == name && r.is_frontend()) else {
        return ctx
            .finding(subject, Status::Fail)
            .message(format!("HAProxy has no frontend `{name}`"))
            .evidence("source", source)
            .evidence("frontends", list_names(rows, StatRow::is_frontend))
            .remediation("fix the frontend name, or check that this is the HAProxy that serves it")
            .build();
    };
    let status = if row.status == "OPEN" {
        Status::Pass
    } else {
        Status::Fail
    };
    let mut f = ctx
        .finding(subject, status)
        .message(if status == Status::Pass {
            format!("frontend `{name}` is OPEN")
        } else {
            format!(
                "frontend `{name}` is {}, not OPEN: it does not accept connections",
                row.status
            )
        })
        .evidence("status", &row.status)
        .evidence("source", source);
    if status == Status::Fail {
        f = f.remediation(format!(
            "enable it (`enable frontend {name}` on the runtime API) or raise its maxconn if it is FULL"
        ));
    }
    f.build()
}

fn list_names(rows: &[StatRow], pick: fn(&StatRow) -> bool) -> String {
    let names: Vec<&str> = rows
        .iter()
        .filter(|r| pick(r))
        .map(|r| r.proxy.as_str())
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn backend(
    ctx: &Context,
    params: &Params,
    rows: &[StatRow],
    want: &Backend,
    source: &str,
) -> Finding {
    let name = want.name.as_str();
    let servers: Vec<&StatRow> = rows
        .iter()
        .filter(|r| r.proxy == name && r.is_server())
        .collect();
    let aggregate = rows.iter().find(|r| r.proxy == name && r.is_backend());
    if aggregate.is_none() && servers.is_empty() {
        let frontend_only = rows.iter().any(|r| r.proxy == name);
        return ctx
            .finding(name, Status::Fail)
            .message(if frontend_only {
                format!("`{name}` is a frontend, not a backend")
            } else {
                format!("HAProxy has no backend `{name}`")
            })
            .evidence("source", source)
            .evidence("backends", list_names(rows, StatRow::is_backend))
            .remediation("fix the backend name, or check that this is the HAProxy that serves it")
            .build();
    }
    let counts = |s: &StatRow| match haproxy_stats::classify(s) {
        ServerState::Up => !s.backup,
        ServerState::Unchecked => params.count_unchecked && !s.backup,
        ServerState::Draining | ServerState::NotUp => false,
    };
    let up: Vec<&&StatRow> = servers.iter().filter(|s| counts(s)).collect();
    let active = servers.iter().filter(|s| !s.backup).count();
    let ok = up.len() as u32 >= want.min_up;
    let status = if ok { Status::Pass } else { Status::Fail };
    let message = if servers.is_empty() {
        format!("backend `{name}` has no servers (min_up {})", want.min_up)
    } else {
        let mut m = format!(
            "backend `{name}`: {} of {active} active servers UP (min_up {})",
            up.len(),
            want.min_up
        );
        let not_up: Vec<String> = servers
            .iter()
            .filter(|s| !counts(s) && !s.backup)
            .map(|s| format!("{} {}", s.name, haproxy_stats::describe(s)))
            .collect();
        if !not_up.is_empty() {
            m.push_str(&format!("; not counted: {}", not_up.join(", ")));
        }
        m
    };
    let mut f = ctx
        .finding(name, status)
        .message(message)
        .evidence("up", up.len())
        .evidence("min_up", want.min_up)
        .evidence("servers", servers.len())
        .evidence("source", source);
    if let Some(agg) = aggregate {
        f = f.evidence("backend_status", &agg.status);
    }
    for s in &servers {
        f = f.evidence(format!("server:{}", s.name), haproxy_stats::describe(s));
    }
    if !ok {
        let unchecked = servers
            .iter()
            .any(|s| haproxy_stats::classify(s) == ServerState::Unchecked);
        f = f.remediation(if unchecked && !params.count_unchecked {
            "bring servers up (see each server's check status), add `check` to servers without health checks, or set count_unchecked = true"
        } else {
            "bring servers up or out of maintenance/drain (see each server's check status) before deploying"
        });
    }
    f.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haproxy_stats::tests::{SHOW_STAT, SHOW_STAT_STARTING};

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(json: serde_json::Value) -> Params {
        serde_json::from_value(json).expect("params")
    }

    fn evidence<'a>(f: &'a Finding, key: &str) -> Option<&'a str> {
        f.evidence
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn counts_only_up_active_servers() {
        let p = params(
            serde_json::json!({"admin_socket": "/run/haproxy.sock", "backends": [{"name": "web", "min_up": 1}]}),
        );
        let out = evaluate(&ctx(), &p, Ok(SHOW_STAT.to_string()));
        let f = &out[0];
        assert_eq!(f.status, Status::Pass, "{}", f.message);
        assert_eq!(f.subject, "web");
        assert_eq!(evidence(f, "up"), Some("1"), "only web1; spare is a backup");
        assert_eq!(evidence(f, "servers"), Some("8"));
        assert_eq!(
            evidence(f, "server:web2"),
            Some("DOWN [L4CON: Layer4 connection problem]")
        );
        assert_eq!(evidence(f, "server:web4"), Some("DRAIN [L7OK]"));
        assert_eq!(evidence(f, "backend_status"), Some("UP"));
        assert!(
            f.message.starts_with(
                "backend `web`: 1 of 7 active servers UP (min_up 1); not counted: web2 DOWN"
            ),
            "{}",
            f.message
        );
    }

    #[test]
    fn too_few_up_fails_with_server_statuses() {
        let p = params(
            serde_json::json!({"admin_socket": "s", "backends": [{"name": "web", "min_up": 2}, {"name": "api"}]}),
        );
        let out = evaluate(&ctx(), &p, Ok(SHOW_STAT.to_string()));
        assert_eq!(out[0].status, Status::Fail);
        assert!(out[0].message.contains("web7 MAINT"), "{}", out[0].message);
        assert!(
            out[0].message.contains("web3 no check"),
            "{}",
            out[0].message
        );
        assert!(
            out[0]
                .remediation
                .as_ref()
                .unwrap()
                .contains("count_unchecked")
        );
        assert_eq!(out[1].status, Status::Fail, "api has its only server down");
        assert_eq!(evidence(&out[1], "backend_status"), Some("DOWN"));
    }

    #[test]
    fn unchecked_servers_count_when_asked() {
        let p = params(
            serde_json::json!({"admin_socket": "s", "backends": [{"name": "web", "min_up": 2}], "count_unchecked": true}),
        );
        let out = evaluate(&ctx(), &p, Ok(SHOW_STAT.to_string()));
        assert_eq!(out[0].status, Status::Pass, "{}", out[0].message);
    }

    #[test]
    fn transitional_servers_are_not_up() {
        let p = params(serde_json::json!({"admin_socket": "s", "backends": [{"name": "api"}]}));
        let out = evaluate(&ctx(), &p, Ok(SHOW_STAT_STARTING.to_string()));
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0].message.contains("api1 UP 1/3 (transitional)"),
            "{}",
            out[0].message
        );
    }

    #[test]
    fn missing_backends_and_frontends_fail() {
        let p = params(serde_json::json!({
            "stats_url": "http://lb:8404/stats",
            "backends": [{"name": "nope"}, {"name": "fe_web"}],
            "frontends": ["fe_web", "fe_admin", "fe_gone"]
        }));
        let out = evaluate(&ctx(), &p, Ok(SHOW_STAT.to_string()));
        let got: Vec<_> = out.iter().map(|f| (f.subject.as_str(), f.status)).collect();
        assert_eq!(
            got,
            [
                ("frontend:fe_web", Status::Pass),
                ("frontend:fe_admin", Status::Fail),
                ("frontend:fe_gone", Status::Fail),
                ("nope", Status::Fail),
                ("fe_web", Status::Fail),
            ]
        );
        assert!(out[1].message.contains("PAUSED"));
        assert_eq!(evidence(&out[3], "backends"), Some("web, api"));
        assert!(out[4].message.contains("is a frontend"));
    }

    #[test]
    fn unreadable_stats_are_one_error() {
        let p = params(
            serde_json::json!({"stats_url": "http://admin:secret@lb/stats", "backends": [{"name": "web"}]}),
        );
        let out = evaluate(&ctx(), &p, Err("connection refused".into()));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Error);
        // The SDK's one URL mask keeps the user and hides the password.
        assert_eq!(out[0].subject, "http://admin:***@lb/stats");
        assert!(!out[0].message.contains("secret"));
        assert!(!out[0].subject.contains("secret"));
        let out = evaluate(&ctx(), &p, Ok("<html>".into()));
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains(";csv"));
    }

    #[test]
    fn params_need_one_source_and_something_to_check() {
        let out = LoadBalancer.run(&ctx(), &serde_json::json!({}));
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("`stats_url`"), "{}", out[0].message);
        assert!(
            out[0].message.contains("at least one backend"),
            "{}",
            out[0].message
        );
        let out = LoadBalancer.run(
            &ctx(),
            &serde_json::json!({"admin_socket": "s", "backends": [{"name": "web", "min": 1}]}),
        );
        assert!(out[0].message.contains("min"), "{}", out[0].message);
    }

    #[test]
    fn urls() {
        assert_eq!(csv_url("http://lb/stats"), "http://lb/stats;csv");
        assert_eq!(csv_url("http://lb/stats;csv"), "http://lb/stats;csv");
        assert_eq!(
            csv_url("http://lb/stats;norefresh"),
            "http://lb/stats;norefresh;csv"
        );
        assert_eq!(
            csv_url("http://lb/stats?scope=web"),
            "http://lb/stats;csv?scope=web"
        );
        assert_eq!(redact_url("http://u:p@lb:1/x@y"), "http://u:***@lb:1/x@y");
        assert_eq!(base64(b"admin:secret"), "YWRtaW46c2VjcmV0");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }
}
