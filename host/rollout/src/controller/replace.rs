//! Rolling updates: replacing one server's version behind the router —
//! drain, wait for its connections to end, stop, start the new version,
//! health-check it, put it back and wait for the router to see it up. Each
//! part is safe to repeat after a crash.

use std::time::{Duration, Instant};

use serde_json::json;

use super::Controller;
use crate::driver::{AdminState, RouterError};
use crate::{failpoint, health, hooks};

/// Why a server could not be replaced.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReplaceError {
    #[error("the spec has no [rolling] table")]
    NotRolling,
    #[error(transparent)]
    Router(#[from] RouterError),
    #[error("{which} command failed: {summary}")]
    Command {
        which: &'static str,
        summary: String,
    },
    #[error("server `{0}` vanished from the router")]
    Vanished(String),
    #[error("health check: {0}")]
    Health(String),
    #[error("the router did not mark `{0}` up within 10 s")]
    NotUp(String),
}

impl Controller {
    /// Drain, wait for connections to end, stop, start `version`, health-check,
    /// ready. Each part is safe to repeat after a crash.
    pub(super) async fn replace_server(
        &mut self,
        server: &str,
        version: &str,
    ) -> Result<(), ReplaceError> {
        let rolling = self.spec.rolling.clone().ok_or(ReplaceError::NotRolling)?;
        self.driver.set_admin(server, AdminState::Drain).await?;
        let deadline = Instant::now() + rolling.drain_timeout;
        loop {
            let sessions = self
                .driver
                .counters()
                .await?
                .get(server)
                .map_or(0, |c| c.current_sessions);
            if sessions == 0 {
                break;
            }
            if Instant::now() >= deadline {
                self.events.emit(
                    "drain-timeout",
                    &format!(
                        "`{server}` still has {sessions} sessions after {} s; stopping it anyway",
                        rolling.drain_timeout.as_secs()
                    ),
                    json!({ "server": server, "sessions": sessions }),
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let env = [
            ("GATE_ROLLOUT", self.spec.name.as_str()),
            ("GATE_SERVER", server),
            ("GATE_VERSION", version),
        ];
        let stop = hooks::substitute(&rolling.stop, server, version);
        let out = hooks::run(&stop, &self.spec.dir, &env, self.spec.hooks.timeout).await;
        if !out.ok {
            return Err(ReplaceError::Command {
                which: "stop",
                summary: out.summary,
            });
        }
        failpoint::hit("in-replace");
        let start = hooks::substitute(&rolling.start, server, version);
        let out = hooks::run(&start, &self.spec.dir, &env, self.spec.hooks.timeout).await;
        if !out.ok {
            return Err(ReplaceError::Command {
                which: "start",
                summary: out.summary,
            });
        }
        let servers = self.driver.servers().await?;
        let me = servers
            .iter()
            .find(|s| s.name == server)
            .ok_or_else(|| ReplaceError::Vanished(server.to_string()))?
            .clone();
        // Give a starting instance a few seconds before calling it unhealthy.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match health::check(&me, &self.spec.health).await {
                Ok(()) => break,
                Err(e) if Instant::now() >= deadline => return Err(ReplaceError::Health(e)),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        self.driver.set_admin(server, AdminState::Ready).await?;
        // Wait for the router's own checks to see it up, so the next server
        // is not drained while this one cannot take traffic yet.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let up = self
                .driver
                .servers()
                .await?
                .iter()
                .any(|s| s.name == server && s.up);
            if up {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ReplaceError::NotUp(server.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
