//! Health checks of individual servers, straight to their address (not
//! through the router), before they get traffic and after a rollback.

use std::time::Duration;

use super::driver::ServerState;
use super::spec::Health;

fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .expect("HTTP client")
    })
}

/// One server's verdict: `Ok(())` or why it is unhealthy. A server passes
/// when one of `attempts` tries answers the expected status.
pub async fn check(server: &ServerState, health: &Health) -> Result<(), String> {
    let url = format!("http://{}:{}{}", server.addr, server.port, health.path);
    let mut last = String::new();
    for attempt in 0..health.attempts {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        match tokio::time::timeout(health.timeout, client().get(&url).send()).await {
            Ok(Ok(resp)) if resp.status().as_u16() == health.expect_status => return Ok(()),
            Ok(Ok(resp)) => {
                last = format!(
                    "{url} answered {} (expected {})",
                    resp.status().as_u16(),
                    health.expect_status
                )
            }
            Ok(Err(e)) => last = format!("{url}: {e}"),
            Err(_) => last = format!("{url}: no answer within {} ms", health.timeout.as_millis()),
        }
    }
    Err(last)
}

/// Checks every named server; returns the failing ones with reasons.
pub async fn check_all(
    servers: &[ServerState],
    names: &[String],
    health: &Health,
) -> Vec<(String, String)> {
    let mut failing = Vec::new();
    for name in names {
        match servers.iter().find(|s| &s.name == name) {
            None => failing.push((name.clone(), "not in the router's backend".to_string())),
            Some(s) => {
                if let Err(e) = check(s, health).await {
                    failing.push((name.clone(), e));
                }
            }
        }
    }
    failing
}
