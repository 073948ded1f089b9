//! Traffic drivers: how the controller reads and changes a router. HAProxy's
//! runtime API is the first implementation (haproxy.rs); nginx (config plus
//! reload) and the Kubernetes Gateway API fit the same trait. [`DRIVERS`] is
//! the registry the spec's `[router] kind` is resolved against.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use super::spec::Router;

/// What the router says about one server right now.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerState {
    pub name: String,
    pub addr: String,
    pub port: u16,
    pub weight: u16,
    pub admin: AdminState,
    /// The router's own health verdict (HAProxy: operational state running).
    pub up: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminState {
    Ready,
    Drain,
    Maint,
}

impl AdminState {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
        }
    }
}

/// Cumulative counters of one server, for analysis windows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerCounters {
    pub responses: u64,
    pub http_5xx: u64,
    /// Connection and response errors (no HTTP status to count).
    pub errors: u64,
    /// Current sessions: what draining waits for.
    pub current_sessions: u64,
    /// Average response time over the router's recent window, ms.
    pub avg_response_ms: f64,
}

pub type DriverFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RouterError>> + Send + 'a>>;

/// Why the router could not be read or changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    /// Its control channel failed: connect, write, read or timeout.
    #[error("{channel}: {detail}")]
    Unreachable { channel: String, detail: String },
    /// It refused a command.
    #[error("{router} refused `{command}`: {answer}")]
    Refused {
        router: String,
        command: String,
        answer: String,
    },
    /// An answer that does not read as the command's.
    #[error("unexpected answer to `{command}`: {answer}")]
    Unexpected { command: String, answer: String },
    /// The backend, or a server the spec names, is not there.
    #[error("{0}")]
    Missing(String),
}

/// A router the controller can drive. Every method is one small, idempotent
/// operation, so a step interrupted by a crash can simply be repeated.
pub trait TrafficDriver: Send + Sync {
    /// `haproxy 127.0.0.1:… backend web`, for messages.
    fn describe(&self) -> String;
    fn servers(&self) -> DriverFuture<'_, Vec<ServerState>>;
    fn set_weight<'a>(&'a self, server: &'a str, weight: u16) -> DriverFuture<'a, ()>;
    fn set_admin<'a>(&'a self, server: &'a str, state: AdminState) -> DriverFuture<'a, ()>;
    fn counters(&self) -> DriverFuture<'_, BTreeMap<String, ServerCounters>>;
}

/// Builds a driver from the spec's `[router]` table.
pub type Connect = fn(&Router) -> Box<dyn TrafficDriver>;

/// Every traffic driver, by the `[router] kind` that names it. Adding a driver
/// is its file (like haproxy.rs) plus one line here.
pub const DRIVERS: &[(&str, Connect)] = &[("haproxy", super::haproxy::HaproxyDriver::connect)];

/// The driver registered for `kind`.
pub fn named(kind: &str) -> Option<Connect> {
    DRIVERS.iter().find(|(k, _)| *k == kind).map(|(_, c)| *c)
}

/// The driver of the spec's router.
pub fn for_router(router: &Router) -> Box<dyn TrafficDriver> {
    (router.driver)(router)
}

/// Weight per server for a split: the candidate side gets `percent` of the
/// traffic, the stable side the rest, each spread evenly over its servers.
/// Weights are on a 0–200 scale per side, so 1 % is expressible.
pub fn split_weights(stable: &[String], candidate: &[String], percent: u8) -> Vec<(String, u16)> {
    let percent = percent.min(100) as u32;
    let per = |share: u32, n: usize| -> u16 {
        if share == 0 || n == 0 {
            0
        } else {
            ((share * 2) / n as u32).max(1) as u16
        }
    };
    let s = per(100 - percent, stable.len());
    let c = per(percent, candidate.len());
    stable
        .iter()
        .map(|n| (n.clone(), s))
        .chain(candidate.iter().map(|n| (n.clone(), c)))
        .collect()
}

/// The candidate's share of traffic implied by the router's weights, counting
/// only servers that take new traffic (admin state ready).
pub fn candidate_percent(servers: &[ServerState], stable: &[String], candidate: &[String]) -> u8 {
    let sum = |names: &[String]| -> u32 {
        servers
            .iter()
            .filter(|s| names.contains(&s.name) && s.admin == AdminState::Ready)
            .map(|s| s.weight as u32)
            .sum()
    };
    let (s, c) = (sum(stable), sum(candidate));
    if s + c == 0 {
        return 0;
    }
    ((c as f64 * 100.0) / (s + c) as f64).round() as u8
}

/// Moves traffic to `percent` on the candidate, make-before-break: the side
/// that gains traffic gets its weights first, so the total weight never drops
/// to zero and no request finds an empty backend. Servers about to take
/// traffic are put back to `ready` first.
pub async fn apply_split(
    driver: &dyn TrafficDriver,
    stable: &[String],
    candidate: &[String],
    percent: u8,
) -> Result<(), RouterError> {
    let current = driver.servers().await?;
    for name in stable.iter().chain(candidate) {
        if !current.iter().any(|s| &s.name == name) {
            return Err(RouterError::Missing(format!(
                "server `{name}` is not in {}",
                driver.describe()
            )));
        }
    }
    let now = candidate_percent(&current, stable, candidate);
    let targets = split_weights(stable, candidate, percent);
    let gaining: &[String] = if percent >= now { candidate } else { stable };
    let (first, second): (Vec<_>, Vec<_>) = targets
        .into_iter()
        .partition(|(name, _)| gaining.contains(name));
    for (name, weight) in first.iter().chain(second.iter()) {
        let state = current.iter().find(|s| &s.name == name).unwrap();
        if *weight > 0 && state.admin != AdminState::Ready {
            driver.set_admin(name, AdminState::Ready).await?;
        }
        if state.weight != *weight {
            driver.set_weight(name, *weight).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn split_spreads_each_side_over_its_servers() {
        let w = split_weights(&names(&["a", "b"]), &names(&["c"]), 10);
        assert_eq!(
            w,
            vec![("a".into(), 90), ("b".into(), 90), ("c".into(), 20)]
        );
        let w = split_weights(&names(&["a"]), &names(&["c"]), 1);
        assert_eq!(w, vec![("a".into(), 198), ("c".into(), 2)]);
        let w = split_weights(&names(&["a"]), &names(&["c"]), 100);
        assert_eq!(w, vec![("a".into(), 0), ("c".into(), 200)]);
    }

    #[test]
    fn percent_reads_back_from_weights() {
        let st = |name: &str, weight: u16, admin: AdminState| ServerState {
            name: name.into(),
            addr: "127.0.0.1".into(),
            port: 1,
            weight,
            admin,
            up: true,
        };
        let servers = vec![
            st("a", 90, AdminState::Ready),
            st("b", 90, AdminState::Ready),
            st("c", 20, AdminState::Ready),
        ];
        assert_eq!(
            candidate_percent(&servers, &names(&["a", "b"]), &names(&["c"])),
            10
        );
        let servers = vec![
            st("a", 100, AdminState::Ready),
            st("c", 100, AdminState::Maint),
        ];
        assert_eq!(
            candidate_percent(&servers, &names(&["a"]), &names(&["c"])),
            0
        );
    }
}
