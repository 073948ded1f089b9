//! `infra.network`: `host:port` targets accept TCP connections and names
//! resolve, each within a timeout, as seen from the host gate runs on.
//!
//! A refused or timed-out connect and a name that does not resolve are what the
//! check looks for, so they `fail`. Only a probe the check could not make (a
//! target outside the `net` grant) is an `error`.

use gate_plugin_sdk::host::net::{self, ConnectResult};
use gate_plugin_sdk::target::{Target, is_grant_denial};
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use crate::tcp_probe::{self, PortState};

pub const ID: &str = "infra.network";
const DEFAULT_TIMEOUT_MS: u32 = 3000;
const MAX_TIMEOUT_MS: u32 = 60_000;

pub struct Network;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub resolve: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_MS
}

impl Params {
    /// Every problem with parameters that parsed, so the user fixes them in one go.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.targets.is_empty() && self.resolve.is_empty() {
            problems.push("set `targets`, `resolve` or both".to_string());
        }
        for target in &self.targets {
            if let Err(e) = Target::parse(target) {
                problems.push(format!("`targets`: {e}"));
            }
        }
        for name in &self.resolve {
            if let Some(problem) = name_problem(name) {
                problems.push(format!("`resolve`: {problem}"));
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

fn name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("contains an empty name".to_string());
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    if name.contains(':') {
        return Some(format!(
            "`{name}` is not a host name (put host:port in `targets`)"
        ));
    }
    let valid = name.len() <= 253
        && name
            .trim_end_matches('.')
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(is_name_byte));
    (!valid).then(|| format!("`{name}` is not a valid host name"))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

impl Check for Network {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Network reachability".to_string(),
            description:
                "host:port targets accept TCP connections and names resolve, within a timeout"
                    .to_string(),
            default_severity: Severity::High,
            params: vec![
                param(
                    "targets",
                    "list<string>",
                    false,
                    "host:port targets that must accept a TCP connection ([v6]:port for IPv6)",
                ),
                param(
                    "resolve",
                    "list<string>",
                    false,
                    "Host names that must resolve to at least one address",
                ),
                param_default(
                    "timeout_ms",
                    "integer",
                    "Timeout for each connect and each lookup, in milliseconds",
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
        evaluate(ctx, &params, net::connect, net::resolve)
    }
}

/// Probes every target and name; `connect` and `resolve` are the host's
/// `net.connect` and `net.resolve` (closures so tests can fake them).
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    connect: impl Fn(&str, u32) -> Result<ConnectResult, String>,
    resolve: impl Fn(&str, u32) -> Result<Vec<String>, String>,
) -> Vec<Finding> {
    let problems = params.problems();
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    let timeout = params.timeout_ms;
    let mut findings: Vec<Finding> = params
        .targets
        .iter()
        .map(|t| {
            let target = Target::parse(t).expect("validated").to_string();
            match connect(&target, timeout) {
                Ok(result) => assess_connect(ctx, &target, &result, timeout),
                Err(e) => cannot_probe(ctx, &target, "connect", &e),
            }
        })
        .collect();
    findings.extend(params.resolve.iter().map(|name| {
        let name = name.trim();
        match resolve(name, timeout) {
            Ok(addresses) => assess_resolve(ctx, name, &addresses),
            Err(e) if is_grant_denial(&e) => cannot_probe(ctx, name, "resolve", &e),
            Err(e) => {
                // The host prefixes "resolve <name>: "; the subject already says it.
                let e = e.strip_prefix(&format!("resolve {name}: ")).unwrap_or(&e);
                ctx.finding(name, Status::Fail)
                .rule("resolve")
                .message(format!("{name} does not resolve: {e}"))
                .evidence("error", e)
                .evidence("timeout_ms", timeout)
                .remediation(
                    "check the DNS record and the resolver configuration (/etc/resolv.conf) of this host",
                )
                .build()
            }
        }
    }));
    findings
}

fn assess_connect(ctx: &Context, target: &str, result: &ConnectResult, timeout: u32) -> Finding {
    let state = tcp_probe::state(result);
    if state == PortState::Open {
        let address = result.address.as_deref().unwrap_or(target);
        return ctx
            .finding(target, Status::Pass)
            .rule("connect")
            .message(format!(
                "{target} accepts TCP connections ({address}, {} ms)",
                result.elapsed_ms
            ))
            .evidence("state", state.as_str())
            .evidence("elapsed_ms", result.elapsed_ms)
            .evidence("address", address)
            .build();
    }
    ctx.finding(target, Status::Fail)
        .rule("connect")
        .message(format!(
            "{target} is not reachable: {}",
            tcp_probe::describe(result, timeout)
        ))
        .evidence("state", state.as_str())
        .evidence("elapsed_ms", result.elapsed_ms)
        .evidence("timeout_ms", timeout)
        .evidence("error", result.error.as_deref().unwrap_or(""))
        .remediation(
            "start the service, or open the path to it from this host (firewall rules, security groups, routes)",
        )
        .build()
}

fn assess_resolve(ctx: &Context, name: &str, addresses: &[String]) -> Finding {
    if addresses.is_empty() {
        return ctx
            .finding(name, Status::Fail)
            .rule("resolve")
            .message(format!("{name} resolves to no address"))
            .evidence("addresses", "")
            .remediation("add an A or AAAA record for the name")
            .build();
    }
    ctx.finding(name, Status::Pass)
        .rule("resolve")
        .message(format!("{name} resolves to {}", addresses.join(", ")))
        .evidence("addresses", addresses.join(", "))
        .evidence("count", addresses.len())
        .build()
}

fn cannot_probe(ctx: &Context, subject: &str, rule: &str, error: &str) -> Finding {
    let grant = if rule == "resolve" {
        format!("{subject}:*")
    } else {
        subject.to_string()
    };
    ctx.finding(subject, Status::Error)
        .rule(rule)
        .message(format!("cannot {rule} {subject}: {error}"))
        .remediation(format!(
            "grant the probe: `net = [\"{grant}\"]` under [plugin.grants] of the `infra` plugin"
        ))
        .build()
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

    fn evidence<'a>(f: &'a Finding, key: &str) -> Option<&'a str> {
        f.evidence
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    const DENIED: &str = "plugin `infra` is not granted `net` access to `10.0.0.9:22`; add `net = [\"10.0.0.9:22\"]`";

    fn fake_connect(target: &str, _timeout: u32) -> Result<ConnectResult, String> {
        match target {
            "db:5432" => Ok(probe(true, None, 4)),
            "db:5433" => Ok(probe(false, Some("Connection refused (os error 111)"), 1)),
            "10.9.9.9:443" => Ok(probe(false, Some("timed out after 300 ms"), 300)),
            _ => Err(DENIED.to_string()),
        }
    }

    fn fake_resolve(name: &str, _timeout: u32) -> Result<Vec<String>, String> {
        match name {
            "db.internal" => Ok(vec!["10.0.0.5".into(), "10.0.0.6".into()]),
            "empty.internal" => Ok(vec![]),
            "gone.internal" => Err(
                "resolve gone.internal: failed to lookup address information: Name or service not known"
                    .into(),
            ),
            _ => Err("plugin `infra` is not granted `net` access to `x`".into()),
        }
    }

    #[test]
    fn open_target_and_resolving_name_pass_with_evidence() {
        let p = params(serde_json::json!({"targets": ["db:5432"], "resolve": ["db.internal"]}));
        let out = evaluate(&ctx(), &p, fake_connect, fake_resolve);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].status, Status::Pass);
        assert_eq!(out[0].subject, "db:5432");
        assert_eq!(out[0].rule.as_deref(), Some("connect"));
        assert_eq!(evidence(&out[0], "elapsed_ms"), Some("4"));
        assert_eq!(evidence(&out[0], "address"), Some("127.0.0.1:8080"));
        assert_eq!(out[1].status, Status::Pass);
        assert_eq!(out[1].subject, "db.internal");
        assert_eq!(evidence(&out[1], "addresses"), Some("10.0.0.5, 10.0.0.6"));
    }

    #[test]
    fn refused_and_timed_out_targets_fail_with_elapsed() {
        let p =
            params(serde_json::json!({"targets": ["db:5433", "10.9.9.9:443"], "timeout_ms": 300}));
        let out = evaluate(&ctx(), &p, fake_connect, fake_resolve);
        assert_eq!(out[0].status, Status::Fail);
        assert_eq!(
            out[0].message,
            "db:5433 is not reachable: connection refused after 1 ms"
        );
        assert_eq!(evidence(&out[0], "state"), Some("refused"));
        assert!(out[0].remediation.is_some());
        assert_eq!(out[1].status, Status::Fail);
        assert_eq!(
            out[1].message,
            "10.9.9.9:443 is not reachable: no answer within 300 ms"
        );
        assert_eq!(evidence(&out[1], "elapsed_ms"), Some("300"));
        assert_eq!(evidence(&out[1], "state"), Some("timed-out"));
    }

    #[test]
    fn names_that_do_not_resolve_fail() {
        let p = params(serde_json::json!({"resolve": ["gone.internal", "empty.internal"]}));
        let out = evaluate(&ctx(), &p, fake_connect, fake_resolve);
        assert_eq!(out[0].status, Status::Fail);
        assert_eq!(
            out[0].message,
            "gone.internal does not resolve: failed to lookup address information: Name or service not known"
        );
        assert_eq!(out[1].status, Status::Fail);
        assert_eq!(out[1].message, "empty.internal resolves to no address");
    }

    #[test]
    fn denied_grants_are_errors_naming_the_grant() {
        let p =
            params(serde_json::json!({"targets": ["10.0.0.9:22"], "resolve": ["secret.internal"]}));
        let out = evaluate(&ctx(), &p, fake_connect, fake_resolve);
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("is not granted"));
        assert!(
            out[0]
                .remediation
                .as_deref()
                .unwrap()
                .contains("net = [\"10.0.0.9:22\"]")
        );
        assert_eq!(out[1].status, Status::Error);
        assert!(
            out[1]
                .remediation
                .as_deref()
                .unwrap()
                .contains("secret.internal:*")
        );
    }

    #[test]
    fn targets_are_normalised_before_probing() {
        let p = params(serde_json::json!({"targets": [" db:5432 "]}));
        let out = evaluate(&ctx(), &p, fake_connect, fake_resolve);
        assert_eq!(out[0].subject, "db:5432");
        assert_eq!(out[0].status, Status::Pass);
    }

    #[test]
    fn bad_params_are_one_error_listing_every_problem() {
        let p = params(serde_json::json!({}));
        let out = evaluate(&ctx(), &p, fake_connect, fake_resolve);
        assert_eq!(out.len(), 1);
        assert!(out[0].message.contains("set `targets`, `resolve` or both"));

        let p = params(serde_json::json!({
            "targets": ["db", "db:99999"],
            "resolve": ["db.internal:53", "bad name", ""],
            "timeout_ms": 0
        }));
        let out = evaluate(&ctx(), &p, |_, _| unreachable!(), |_, _| unreachable!());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Error);
        let m = &out[0].message;
        for needle in [
            "`db` is not host:port",
            "`99999` is not a port",
            "put host:port in `targets`",
            "`bad name` is not a valid host name",
            "empty name",
            "`timeout_ms` must be between",
        ] {
            assert!(m.contains(needle), "{needle} missing from {m}");
        }
    }

    #[test]
    fn names_accept_ips_underscores_and_trailing_dots() {
        for ok in ["10.0.0.1", "::1", "_srv.example.com", "example.com."] {
            assert_eq!(name_problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn unknown_params_are_errors() {
        let out = Network.run(&ctx(), &serde_json::json!({"target": ["db:5432"]}));
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("target"), "{}", out[0].message);
    }
}
