//! Stubbed capabilities, for testing a plugin without touching the world
//! (`gate plugin test`).
//!
//! A [`Sandbox`] built with [`Sandbox::stubbed`] carries a [`Stubs`]: canned
//! answers for `env`, `http`, `net` and `sql` calls. Each of those
//! capabilities asks [`HostState::stubbed`] first: in a real sandbox it says
//! nothing and the capability runs unchanged; in a stubbed one a call that
//! matches a stub gets the stubbed answer, in the capability's own WIT type,
//! and any other call is denied with the very message an ungranted call gets.
//! A stubbed sandbox grants nothing but its `fs` fixture directory, so every
//! other capability (`unix`, `metrics`, files outside the fixture) is denied
//! by its own grant check. Nothing real is read or reached: no environment
//! variable, no network, no database.
//!
//! Requests are matched on parsed objects, like grants: a URL through
//! [`check_url`], a target through [`NetTarget::parse`], never as text.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use url::Url;

use super::{HostState, Sandbox};
use crate::bindings::gate::plugin::http::Response;
use crate::bindings::gate::plugin::net::ConnectResult;
use crate::bindings::gate::plugin::sql::QueryResult;
use crate::grant::NetTarget;
use crate::grants::{FsGrant, Grants};
use gate_core::clock::Clock;

/// Every canned answer of one stubbed run.
#[derive(Clone, Debug, Default)]
pub struct Stubs {
    /// `env.get(name)` answers `Some(value)`.
    pub env: BTreeMap<String, String>,
    pub http: Vec<HttpStub>,
    pub net: Vec<NetStub>,
    pub sql: Vec<SqlStub>,
}

/// One HTTP exchange: a request (method and parsed URL) and its response.
#[derive(Clone, Debug)]
pub struct HttpStub {
    /// Upper case, e.g. `GET`.
    pub method: String,
    pub url: Url,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One `net` target: what a connect probe sees and what an exchange replies.
#[derive(Clone, Debug)]
pub struct NetStub {
    pub target: NetTarget,
    /// `None`: a connect probe to the target is refused as ungranted.
    pub connect: Option<ConnectStub>,
    /// `None`: an exchange with the target is refused as ungranted.
    pub reply: Option<Vec<u8>>,
}

/// The answer of a connect probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectStub {
    pub connected: bool,
    /// Why it did not connect (`connection refused`), when it did not.
    pub error: Option<String>,
}

/// One SQL query on a named connection and its rows.
#[derive(Clone, Debug)]
pub struct SqlStub {
    pub connection: String,
    pub statement: StatementMatch,
    pub columns: Vec<String>,
    /// SQL NULL is `None`.
    pub rows: Vec<Vec<Option<String>>>,
}

/// Which statements a [`SqlStub`] answers.
#[derive(Clone, Debug)]
pub enum StatementMatch {
    /// The same statement, ignoring leading and trailing whitespace and
    /// runs of whitespace inside.
    Exact(String),
    /// Any statement the regex finds a match in.
    Pattern(regex::Regex),
}

impl StatementMatch {
    pub fn matches(&self, statement: &str) -> bool {
        match self {
            StatementMatch::Exact(text) => words(text).eq(words(statement)),
            StatementMatch::Pattern(re) => re.is_match(statement),
        }
    }
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split_whitespace()
}

impl Stubs {
    /// The stubbed value of environment variable `name`.
    pub fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    /// The stubbed response to `method url` (`url` already checked).
    pub fn http(&self, method: &str, url: &Url, max_bytes: u32) -> Option<Response> {
        let stub = self
            .http
            .iter()
            .find(|s| s.method.eq_ignore_ascii_case(method) && &s.url == url)?;
        let cap = max_bytes.clamp(1, super::http::MAX_BODY) as usize;
        Some(Response {
            status: stub.status,
            headers: stub.headers.clone(),
            body: stub.body[..stub.body.len().min(cap)].to_vec(),
            truncated: stub.body.len() > cap,
            elapsed_ms: 0,
        })
    }

    fn net_stub(&self, target: &NetTarget) -> Option<&NetStub> {
        self.net.iter().find(|s| &s.target == target)
    }

    /// The stubbed connect probe to `target`.
    pub fn connect(&self, target: &NetTarget) -> Option<ConnectResult> {
        let answer = self.net_stub(target)?.connect.as_ref()?;
        Some(ConnectResult {
            connected: answer.connected,
            address: Some(target.to_string()),
            elapsed_ms: 0,
            error: answer.error.clone(),
        })
    }

    /// The stubbed reply of an exchange with `target`, cut at `max_bytes`.
    pub fn exchange(&self, target: &NetTarget, max_bytes: u32) -> Option<Vec<u8>> {
        let reply = self.net_stub(target)?.reply.as_ref()?;
        let cap = max_bytes.clamp(1, super::exchange::MAX_REPLY) as usize;
        Some(reply[..reply.len().min(cap)].to_vec())
    }

    /// The stubbed rows of `statement` on `connection`.
    pub fn query(&self, connection: &str, statement: &str) -> Option<QueryResult> {
        let stub = self
            .sql
            .iter()
            .find(|s| s.connection == connection && s.statement.matches(statement))?;
        Some(QueryResult {
            columns: stub.columns.clone(),
            rows: stub.rows.clone(),
            elapsed_ms: 0,
        })
    }
}

impl Sandbox {
    /// A sandbox that reaches nothing real: it runs in `cwd`, its only
    /// grants are `fs` (typically `cwd` itself, a fixture directory, or
    /// nothing), and `env`, `http`, `net` and `sql` calls are answered from
    /// `stubs` or denied.
    pub fn stubbed(plugin: &str, cwd: &Path, fs: Vec<FsGrant>, clock: Clock, stubs: Stubs) -> Self {
        let grants = Grants {
            fs,
            ..Grants::default()
        };
        let mut sandbox = Sandbox::new(plugin, grants, cwd, clock);
        sandbox.stubs = Some(Arc::new(stubs));
        sandbox
    }
}

impl HostState {
    /// The one switch between real and stubbed capabilities. `None` in a
    /// real sandbox: the capability goes on. In a stubbed sandbox, the answer
    /// `lookup` finds among the stubs, or else the message `denied` writes
    /// for an ungranted call.
    pub(super) fn stubbed<T>(
        &self,
        lookup: impl FnOnce(&Stubs) -> Option<T>,
        denied: impl FnOnce(&Sandbox) -> String,
    ) -> Option<Result<T, String>> {
        let stubs = self.sandbox.stubs.as_ref()?;
        Some(lookup(stubs).ok_or_else(|| denied(&self.sandbox)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::check_url;

    fn stubs() -> Stubs {
        Stubs {
            env: BTreeMap::from([("APP_MODE".to_string(), "prod".to_string())]),
            http: vec![HttpStub {
                method: "GET".into(),
                url: check_url("https://status.example/api/health").unwrap(),
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: b"ok, all good".to_vec(),
            }],
            net: vec![NetStub {
                target: NetTarget::parse("db.internal:5432").unwrap(),
                connect: Some(ConnectStub {
                    connected: false,
                    error: Some("connection refused".into()),
                }),
                reply: None,
            }],
            sql: vec![
                SqlStub {
                    connection: "app".into(),
                    statement: StatementMatch::Exact("SELECT 1".into()),
                    columns: vec!["one".into()],
                    rows: vec![vec![Some("1".into())]],
                },
                SqlStub {
                    connection: "app".into(),
                    statement: StatementMatch::Pattern(
                        regex::Regex::new(r"(?i)from\s+users").unwrap(),
                    ),
                    columns: vec!["name".into()],
                    rows: vec![vec![None]],
                },
            ],
        }
    }

    #[test]
    fn http_matches_the_parsed_url_and_method() {
        let s = stubs();
        let same = check_url("HTTPS://Status.Example:443/api/health").unwrap();
        let r = s
            .http("get", &same, 1024)
            .expect("the parsed URL is the stub's");
        assert_eq!(
            (r.status, r.body.as_slice(), r.truncated),
            (200, &b"ok, all good"[..], false)
        );
        let cut = s.http("GET", &same, 2).unwrap();
        assert_eq!((cut.body.as_slice(), cut.truncated), (&b"ok"[..], true));
        assert!(s.http("POST", &same, 1024).is_none());
        let other = check_url("https://status.example/api/health/x").unwrap();
        assert!(s.http("GET", &other, 1024).is_none());
    }

    #[test]
    fn net_matches_the_parsed_target() {
        let s = stubs();
        let t = NetTarget::parse("DB.internal:5432").unwrap();
        let r = s.connect(&t).expect("same host, same port");
        assert!(!r.connected);
        assert_eq!(r.error.as_deref(), Some("connection refused"));
        assert!(
            s.connect(&NetTarget::parse("db.internal:5433").unwrap())
                .is_none()
        );
        // A target stubbed only for connect probes refuses exchanges.
        assert!(s.exchange(&t, 64).is_none());
    }

    #[test]
    fn sql_matches_statements_exactly_or_by_regex() {
        let s = stubs();
        assert!(s.query("app", "  SELECT\n  1 ").is_some());
        assert!(s.query("app", "SELECT 2").is_none());
        assert!(s.query("other", "SELECT 1").is_none());
        let nulls = s.query("app", "select name FROM users").unwrap();
        assert_eq!(nulls.rows, vec![vec![None]]);
    }

    #[test]
    fn env_answers_only_stubbed_names() {
        let s = stubs();
        assert_eq!(s.env("APP_MODE").as_deref(), Some("prod"));
        assert_eq!(s.env("HOME"), None);
    }
}
