//! `infra.firewall`: ports that must be open accept a TCP connection, and ports
//! that must be closed do not, as seen from the host gate runs on.
//!
//! A `closed` port passes when the connection is refused, dropped (no answer
//! within the timeout) or rejected with an ICMP unreachable. It fails when the
//! handshake completes. A probe that never reached the port (a name that does
//! not resolve, a denied grant, an unexplained OS error) says nothing about the
//! firewall, so it is an `error` whichever list the port is in.

use gate_plugin_sdk::host::net::{self, ConnectResult};
use gate_plugin_sdk::target::{Target, is_grant_denial};
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use crate::tcp_probe::{self, PortState};

pub const ID: &str = "infra.firewall";
const DEFAULT_TIMEOUT_MS: u32 = 2000;
const MAX_TIMEOUT_MS: u32 = 60_000;

pub struct Firewall;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub open: Vec<String>,
    #[serde(default)]
    pub closed: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_MS
}

impl Params {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.open.is_empty() && self.closed.is_empty() {
            problems.push("set `open`, `closed` or both".to_string());
        }
        for (list, targets) in [("open", &self.open), ("closed", &self.closed)] {
            for target in targets {
                if let Err(e) = Target::parse(target) {
                    problems.push(format!("`{list}`: {e}"));
                }
            }
        }
        let open: Vec<_> = self
            .open
            .iter()
            .filter_map(|t| Target::parse(t).ok())
            .collect();
        for target in self.closed.iter().filter_map(|t| Target::parse(t).ok()) {
            if open.contains(&target) {
                problems.push(format!("{target} is in both `open` and `closed`"));
            }
        }
        if self.timeout_ms == 0 || self.timeout_ms > MAX_TIMEOUT_MS {
            problems.push(format!(
                "`timeout_ms` must be between 1 and {MAX_TIMEOUT_MS}, not {}",
                self.timeout_ms
            ));
        }
        problems
    }
}

/// Which list a target came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Open,
    Closed,
}

impl Expect {
    fn as_str(self) -> &'static str {
        match self {
            Expect::Open => "open",
            Expect::Closed => "closed",
        }
    }
}

impl Check for Firewall {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Firewall: open and closed ports".to_string(),
            description: "Ports that must be open accept TCP connections; ports that must be closed refuse or drop them"
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param(
                    "open",
                    "list<string>",
                    false,
                    "host:port targets that must accept a TCP connection",
                ),
                param(
                    "closed",
                    "list<string>",
                    false,
                    "host:port targets that must refuse, drop or reject a TCP connection",
                ),
                param_default(
                    "timeout_ms",
                    "integer",
                    "Connect timeout per target, in milliseconds; no answer within it counts as dropped",
                    &DEFAULT_TIMEOUT_MS.to_string(),
                ),
            ],
            capabilities: vec!["net".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        let params: Params = match params::parse(ctx, params) {
            Ok(p) => p,
            Err(findings) => return findings,
        };
        evaluate(ctx, &params, net::connect)
    }
}

/// Probes every port; `connect` is the host's `net.connect`.
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    connect: impl Fn(&str, u32) -> Result<ConnectResult, String>,
) -> Vec<Finding> {
    let problems = params.problems();
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    let timeout = params.timeout_ms;
    let lists = [
        (Expect::Open, &params.open),
        (Expect::Closed, &params.closed),
    ];
    lists
        .into_iter()
        .flat_map(|(expect, targets)| targets.iter().map(move |t| (expect, t)))
        .map(|(expect, t)| {
            let target = Target::parse(t).expect("validated").to_string();
            match connect(&target, timeout) {
                Ok(result) => assess(ctx, &target, expect, &result, timeout),
                Err(e) => {
                    let hint = if is_grant_denial(&e) {
                        format!(
                            "grant the probe: `net = [\"{target}\"]` under [plugin.grants] of the `infra` plugin"
                        )
                    } else {
                        "check the target".to_string()
                    };
                    ctx.finding(&target, Status::Error)
                        .rule(expect.as_str())
                        .message(format!("cannot probe {target}: {e}"))
                        .remediation(hint)
                        .build()
                }
            }
        })
        .collect()
}

fn assess(
    ctx: &Context,
    target: &str,
    expect: Expect,
    result: &ConnectResult,
    timeout: u32,
) -> Finding {
    let state = tcp_probe::state(result);
    let (status, message, remediation) = match (expect, state) {
        (_, PortState::Unresolved | PortState::Failed) => (
            Status::Error,
            format!(
                "cannot tell whether {target} is {}: {}",
                expect.as_str(),
                tcp_probe::describe(result, timeout)
            ),
            Some("fix the target's host name, or probe it by address".to_string()),
        ),
        (Expect::Open, PortState::Open) => (
            Status::Pass,
            format!("{target} is open ({} ms)", result.elapsed_ms),
            None,
        ),
        (Expect::Open, _) => (
            Status::Fail,
            format!(
                "{target} must be open but is not: {}",
                tcp_probe::describe(result, timeout)
            ),
            Some(format!(
                "allow TCP to {target} from this host in the firewall or security group, and check that the service listens"
            )),
        ),
        (Expect::Closed, PortState::Open) => (
            Status::Fail,
            format!("{target} must be closed but accepts TCP connections"),
            Some(format!(
                "block {target} (drop or reject) in the firewall, or stop the service listening there"
            )),
        ),
        (Expect::Closed, PortState::Refused) => (
            Status::Pass,
            format!("{target} is closed (connection refused)"),
            None,
        ),
        (Expect::Closed, PortState::TimedOut) => (
            Status::Pass,
            format!("{target} is closed (no answer within {timeout} ms: dropped)"),
            None,
        ),
        (Expect::Closed, PortState::Unreachable) => (
            Status::Pass,
            format!(
                "{target} is closed (rejected: {})",
                result.error.as_deref().unwrap_or("unreachable")
            ),
            None,
        ),
    };
    let mut finding = ctx
        .finding(target, status)
        .rule(expect.as_str())
        .message(message)
        .evidence("expected", expect.as_str())
        .evidence("state", state.as_str())
        .evidence("elapsed_ms", result.elapsed_ms);
    if let Some(address) = &result.address {
        finding = finding.evidence("address", address);
    }
    if let Some(error) = &result.error {
        finding = finding.evidence("error", error);
    }
    if let Some(hint) = remediation {
        finding = finding.remediation(hint);
    }
    if status == Status::Fail && expect == Expect::Closed {
        // An exposed port is a hole, not a degraded service.
        finding = finding.severity(Severity::Critical);
    }
    finding.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp_probe::probe;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(json: serde_json::Value) -> Params {
        serde_json::from_value(json).expect("params parse")
    }

    fn fake(target: &str, _timeout: u32) -> Result<ConnectResult, String> {
        let refused = "Connection refused (os error 111)";
        Ok(match target {
            "web:443" | "db:5432" => probe(true, None, 3),
            "web:8080" | "db:6379" => probe(false, Some(refused), 1),
            "web:9000" => probe(false, Some("timed out after 200 ms"), 200),
            "web:9100" => probe(false, Some("No route to host (os error 113)"), 2),
            "nowhere.invalid:22" | "nowhere.invalid:23" => probe(
                false,
                Some("failed to lookup address information: Name or service not known"),
                5,
            ),
            _ => return Err("plugin `infra` is not granted `net` access to `x`".to_string()),
        })
    }

    fn run(json: serde_json::Value) -> Vec<Finding> {
        evaluate(&ctx(), &params(json), fake)
    }

    #[test]
    fn open_ports_pass_and_closed_ports_pass_when_refused_dropped_or_rejected() {
        let out = run(serde_json::json!({
            "open": ["web:443"],
            "closed": ["web:8080", "web:9000", "web:9100"],
            "timeout_ms": 200
        }));
        let statuses: Vec<_> = out.iter().map(|f| f.status).collect();
        assert_eq!(statuses, vec![Status::Pass; 4]);
        assert_eq!(out[0].rule.as_deref(), Some("open"));
        assert_eq!(out[1].message, "web:8080 is closed (connection refused)");
        assert_eq!(
            out[2].message,
            "web:9000 is closed (no answer within 200 ms: dropped)"
        );
        assert!(out[3].message.contains("No route to host"));
    }

    #[test]
    fn a_closed_port_that_accepts_is_a_critical_fail() {
        let out = run(serde_json::json!({"closed": ["db:5432"]}));
        assert_eq!(out[0].status, Status::Fail);
        assert_eq!(out[0].severity, Some(Severity::Critical));
        assert_eq!(
            out[0].message,
            "db:5432 must be closed but accepts TCP connections"
        );
        assert!(out[0].remediation.is_some());
    }

    #[test]
    fn an_open_port_that_refuses_or_times_out_fails() {
        let out = run(serde_json::json!({"open": ["db:6379", "web:9000"], "timeout_ms": 200}));
        assert_eq!(out[0].status, Status::Fail);
        assert_eq!(
            out[0].message,
            "db:6379 must be open but is not: connection refused after 1 ms"
        );
        assert_eq!(
            out[1].status,
            Status::Fail,
            "a timeout is a fail, not an error"
        );
        assert!(out[1].message.contains("no answer within 200 ms"));
    }

    #[test]
    fn unresolved_names_and_denied_grants_are_errors_in_either_list() {
        let out = run(serde_json::json!({
            "open": ["nowhere.invalid:22", "10.0.0.1:22"],
            "closed": ["nowhere.invalid:23"]
        }));
        assert_eq!(out.len(), 3);
        for f in &out {
            assert_eq!(f.status, Status::Error, "{}", f.message);
        }
        assert!(
            out[1]
                .remediation
                .as_deref()
                .unwrap()
                .contains("net = [\"10.0.0.1:22\"]")
        );
        assert!(
            out[2]
                .message
                .starts_with("cannot tell whether nowhere.invalid:23 is closed")
        );
    }

    #[test]
    fn bad_params_are_one_error_listing_every_problem() {
        let out = run(serde_json::json!({}));
        assert!(out[0].message.contains("set `open`, `closed` or both"));
        let out = evaluate(
            &ctx(),
            &params(
                serde_json::json!({"open": ["db:5432", "x"], "closed": ["db:5432"], "timeout_ms": 100000}),
            ),
            |_, _| unreachable!(),
        );
        assert_eq!(out.len(), 1);
        let m = &out[0].message;
        assert!(m.contains("db:5432 is in both"), "{m}");
        assert!(m.contains("`open`: `x` is not host:port"), "{m}");
        assert!(m.contains("`timeout_ms`"), "{m}");
    }
}
