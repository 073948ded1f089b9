//! What the dashboard serves from: its configuration, the rollout specs and
//! policies it was started with (loaded once, at start), the audit logs they
//! name, and the key their checkpoints are verified with. Route parameters
//! are looked up here among the configured objects, never used as paths.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use gate_audit::Verifier;
use gate_eval::policy::{self, LoadOptions, Policy};
use gate_rollout::Spec;

use crate::audit_index::{AuditIndex, Source};
use crate::error::{ApiError, ServeError};

/// `gate serve`'s options.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub policies: Vec<PathBuf>,
    pub specs: Vec<PathBuf>,
    /// Serve on a non-loopback address.
    pub allow_remote: bool,
    /// More names the server answers to (`Host`), e.g. a proxy's name.
    pub hosts: Vec<String>,
    /// The published verifier key of the audit logs (NAME+KEYID+KEY);
    /// without it, the local signing key's verifier, if there is one.
    pub vkey: Option<String>,
}

/// Everything the handlers share.
pub struct App {
    pub specs: Vec<Spec>,
    pub policies: Vec<Policy>,
    /// Every served audit log (a policy's or a spec's), once each.
    pub audits: Vec<Arc<AuditIndex>>,
    pub verifier: Option<Verifier>,
    /// `Host` values accepted (`127.0.0.1:8080`, `localhost:8080`, …).
    pub hosts: Vec<String>,
    /// Who submits approvals from the page, as recorded.
    pub submitter: String,
}

impl App {
    /// Loads every spec and policy; the first error stops the start.
    pub fn load(config: &Config) -> Result<App, ServeError> {
        if !config.listen.ip().is_loopback() && !config.allow_remote {
            return Err(ServeError::Remote {
                addr: config.listen,
            });
        }
        let mut specs: Vec<Spec> = Vec::new();
        for path in &config.specs {
            let spec = Spec::load(path).map_err(|e| ServeError::Spec(e.to_string()))?;
            if specs.iter().any(|s| s.name == spec.name) {
                return Err(ServeError::DuplicateRollout(spec.name));
            }
            specs.push(spec);
        }
        let options = LoadOptions::at(Utc::now());
        let policies = config
            .policies
            .iter()
            .map(|p| policy::load(p, &options).map_err(|e| ServeError::Policy(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let verifier = verifier(config.vkey.as_deref())?;
        let dirs = policies.iter().map(|p| p.audit.dir.clone()).chain(
            specs
                .iter()
                .filter(|s| s.state_db.is_none())
                .map(|s| s.audit_dir.clone()),
        );
        let audits = crate::audit_index::distinct(dirs)
            .into_iter()
            .map(|dir| AuditIndex::new(Source::Dir(dir), verifier.clone()))
            .collect();
        Ok(App {
            specs,
            policies,
            audits,
            verifier,
            hosts: hosts(config.listen, &config.hosts),
            submitter: format!("gate serve on {}", config.listen),
        })
    }

    /// The configured spec of rollout `name`: 400 for what cannot be a
    /// rollout name (a path, `..`), 404 for a name no spec has.
    pub fn spec(&self, name: &str) -> Result<&Spec, ApiError> {
        valid_name(name, "rollout")?;
        self.specs
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ApiError::NotFound(format!("no rollout `{name}` is served here")))
    }

    /// The index of the audit log in `dir` (a served policy's or spec's).
    pub fn audit(&self, dir: &Path) -> Result<&Arc<AuditIndex>, ApiError> {
        let key = |d: &Path| d.canonicalize().unwrap_or_else(|_| d.to_path_buf());
        let wanted = key(dir);
        self.audits
            .iter()
            .find(|a| a.dir().is_some_and(|d| key(d) == wanted))
            .ok_or_else(|| {
                ApiError::NotFound(format!("no audit log in {} is served here", dir.display()))
            })
    }

    /// The configured policy named `name` (its `[policy] name`).
    pub fn policy(&self, name: &str) -> Result<&Policy, ApiError> {
        valid_name(name, "policy")?;
        self.policies
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| ApiError::NotFound(format!("no policy `{name}` is served here")))
    }
}

/// Names in routes are letters, digits, `-`, `_` and `.`, and not `.` or
/// `..`; anything else (a `/`, an absolute path, a decoded `%2e%2e`) is
/// refused before any lookup.
pub fn valid_name(name: &str, what: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "not a {what} name (letters, digits, `-`, `_`, `.`)"
        )))
    }
}

fn verifier(vkey: Option<&str>) -> Result<Option<Verifier>, ServeError> {
    if let Some(text) = vkey {
        return Verifier::parse(text)
            .map(Some)
            .map_err(|e| ServeError::Verifier(e.to_string()));
    }
    let local = gate_audit::key::path()
        .ok()
        .filter(|p| p.exists())
        .and_then(|p| gate_audit::key::load(&p).ok());
    Ok(local.map(|signer| signer.verifier().clone()))
}

impl App {
    /// Adds the audit log of each database that served rollouts keep their
    /// state in (once per database), read through a rollout's store.
    pub async fn open_databases(&mut self) -> Result<(), ServeError> {
        for spec in self.specs.iter().filter(|s| s.state_db.is_some()) {
            let store = gate_rollout::store::open(spec)
                .await
                .map_err(|e| ServeError::Spec(format!("{}: {e}", spec.file.display())))?;
            let location = store.audit_location();
            if !self.audits.iter().any(|a| a.location == location) {
                self.audits
                    .push(AuditIndex::new(Source::Store(store), self.verifier.clone()));
            }
        }
        Ok(())
    }

    /// Answers to `addr` as bound (a `--listen` port 0 becomes the real one).
    pub fn bound(&mut self, addr: SocketAddr, extra: &[String]) {
        self.hosts = hosts(addr, extra);
        self.submitter = format!("gate serve on {addr}");
    }
}

/// The `Host` values the server answers to.
fn hosts(listen: SocketAddr, extra: &[String]) -> Vec<String> {
    let port = listen.port();
    let mut hosts = vec![listen.to_string()];
    if listen.ip().is_loopback() {
        hosts.push(format!("localhost:{port}"));
    }
    for h in extra {
        hosts.push(if h.contains(':') {
            h.clone()
        } else {
            format!("{h}:{port}")
        });
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_names_are_plain_names() {
        for good in ["web", "web-signed", "api_v2", "security.no-secrets"] {
            assert!(valid_name(good, "rollout").is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../etc",
            "/etc/passwd",
            "a/b",
            "a\\b",
            "web%2f",
            "x\0",
        ] {
            assert!(
                matches!(valid_name(bad, "rollout"), Err(ApiError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hosts_include_localhost_only_on_loopback() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(hosts(loopback, &[]), ["127.0.0.1:8080", "localhost:8080"]);
        let remote: SocketAddr = "10.0.0.5:9000".parse().unwrap();
        assert_eq!(
            hosts(remote, &["gate.example".into(), "proxy:443".into()]),
            ["10.0.0.5:9000", "gate.example:9000", "proxy:443"]
        );
    }
}
