//! `gate drill rollback`: on the real router, give the rollout's candidate
//! a small share of traffic, then force a rollback and time it.
//!
//! It drives the router through the rollout's own traffic driver and split
//! (`TrafficMode::split`, make-before-break) and judges health with the
//! spec's own health checks, so it practises exactly what `gate rollout`
//! and `gate rollback` do. It holds the rollout's lease for its whole run,
//! so no `gate rollout` of the spec can start meanwhile, and it refuses to
//! start unless all traffic is on stable and no rollout is unfinished. It
//! writes nothing to the rollout's state: the rollout's history stays the
//! rollout's.
//!
//! Measured: from the rollback decision to the router reporting no weight
//! on the candidate (`to_stable_ms`), and to every stable server passing
//! the spec's health check (`to_healthy_ms`), which is compared with the
//! seed's target of five minutes.

use std::time::{Duration, Instant};

use chrono::Utc;
use gate_rollout::driver::{self, AdminState, ServerState, TrafficDriver};
use gate_rollout::health;
use gate_rollout::spec::Spec;
use gate_rollout::store::Store;
use gate_rollout::traffic::TrafficMode;

use crate::{
    Drill, DrillError, DrillKind, DrillMeasures, DrillResult, ROLLBACK_TARGET_MS, RollbackMeasures,
};

/// What the operator chose.
#[derive(Clone, Debug)]
pub struct Options {
    /// The candidate's share during the drill, 1–50 %.
    pub percent: u8,
    /// How long the candidate keeps that share before the rollback.
    pub hold: Duration,
    /// How long the router may take to confirm the weights, and stable to
    /// pass its health checks, before the drill fails.
    pub settle: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            percent: 10,
            hold: Duration::from_secs(5),
            settle: Duration::from_secs(60),
        }
    }
}

/// The largest share a drill may give the candidate: a drill practises the
/// rollback, it is not a rollout.
pub const MAX_PERCENT: u8 = 50;

/// Runs the drill against `spec`'s router. `store` is the rollout's store:
/// the drill takes its lease and reads (never writes) its state.
pub async fn run(spec: &Spec, store: &dyn Store, opts: &Options) -> Result<Drill, DrillError> {
    if opts.percent == 0 || opts.percent > MAX_PERCENT {
        return Err(DrillError::Refused(format!(
            "--percent must be between 1 and {MAX_PERCENT}, not {}",
            opts.percent
        )));
    }
    let mode = TrafficMode::of(spec);
    let TrafficMode::Split { candidate, .. } = &mode else {
        return Err(DrillError::Refused(format!(
            "rollout `{}` is a rolling update: it replaces servers rather than moving weights, so a rollback drill has no traffic to move (use a canary or blue-green spec for the same backend)",
            spec.name
        )));
    };
    let refused = |e: &dyn std::fmt::Display| DrillError::Refused(e.to_string());
    let lease = store
        .acquire(&gate_rollout::controller::runner())
        .await
        .map_err(|e| refused(&e))?
        .map_err(|holder| {
            DrillError::Refused(format!(
                "rollout `{}` is running ({holder}); a drill waits until it has finished",
                spec.name
            ))
        })?;
    if let Some(state) = store.load().await.map_err(|e| refused(&e))?
        && !state.phase.terminal()
    {
        return Err(DrillError::Refused(format!(
            "rollout `{}` is unfinished ({:?} in {}); finish it with `gate rollout` or `gate rollback` before a drill",
            spec.name,
            state.phase,
            store.describe()
        )));
    }
    let driver = driver::for_router(&spec.router);
    let before = mode
        .router_percent(&*driver)
        .await
        .map_err(|e| refused(&e))?
        .unwrap_or(0);
    if before != 0 {
        return Err(DrillError::Refused(format!(
            "{} gives the candidate {before}% already (a promoted rollout?); a rollback drill starts from all traffic on stable ({})",
            driver.describe(),
            spec.stable.version
        )));
    }
    let started = Utc::now();
    let mut measures = RollbackMeasures {
        percent: opts.percent,
        candidate_responses: None,
        to_stable_ms: None,
        to_healthy_ms: None,
        target_ms: ROLLBACK_TARGET_MS,
    };
    let mut problems = Vec::new();
    let servers = driver.servers().await.map_err(|e| refused(&e))?;
    let failing = health::check_all(&servers, candidate, &spec.health).await;
    if failing.is_empty() {
        drill_traffic(
            spec,
            store,
            &lease,
            &*driver,
            &mode,
            opts,
            &mut measures,
            &mut problems,
        )
        .await;
    } else {
        problems.push(format!(
            "the candidate failed its health check, so no traffic moved: {}",
            describe_failing(&failing)
        ));
    }
    if let Some(ms) = measures.to_healthy_ms
        && ms > ROLLBACK_TARGET_MS
    {
        problems.push(format!(
            "stable was healthy {ms} ms after the rollback decision, beyond the {ROLLBACK_TARGET_MS} ms target"
        ));
    }
    Ok(Drill {
        kind: DrillKind::Rollback,
        subject: spec.name.clone(),
        started,
        finished: Utc::now(),
        result: if problems.is_empty() {
            DrillResult::Pass
        } else {
            DrillResult::Fail
        },
        measures: DrillMeasures::Rollback(measures),
        problems,
        previous: None,
    })
}

fn describe_failing(failing: &[(String, String)]) -> String {
    failing
        .iter()
        .map(|(s, e)| format!("{s}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Traffic to the candidate, held, then the timed rollback. Whatever
/// happens after the first router write, the drill ends by putting every
/// weight back on stable.
#[allow(clippy::too_many_arguments)]
async fn drill_traffic(
    spec: &Spec,
    store: &dyn Store,
    lease: &gate_rollout::store::Lease,
    driver: &dyn TrafficDriver,
    mode: &TrafficMode,
    opts: &Options,
    m: &mut RollbackMeasures,
    problems: &mut Vec<String>,
) {
    let responses_before = candidate_responses(driver, mode).await;
    if let Err(e) = store.fence(lease).await {
        problems.push(format!(
            "the rollout's lease was lost before any traffic moved: {e}"
        ));
        return;
    }
    if let Err(e) = mode.split(driver, opts.percent).await {
        problems.push(format!("moving {}% to the candidate: {e}", opts.percent));
    } else {
        tokio::time::sleep(opts.hold).await;
        if let (Some(a), Some(b)) = (responses_before, candidate_responses(driver, mode).await) {
            m.candidate_responses = Some(b.saturating_sub(a));
        }
    }
    // The forced rollback: from here on the clock runs.
    let decided = Instant::now();
    if let Err(e) = split_to_stable(driver, mode).await {
        problems.push(format!(
            "the rollback could not reach the router ({e}); run `gate rollback --spec {}`",
            spec.file.display()
        ));
        return;
    }
    match confirm_stable(driver, mode, decided, opts.settle).await {
        Ok(ms) => m.to_stable_ms = Some(ms),
        Err(e) => {
            problems.push(e);
            return;
        }
    }
    match stable_healthy(spec, driver, mode, decided, opts.settle).await {
        Ok(ms) => m.to_healthy_ms = Some(ms),
        Err(e) => problems.push(e),
    }
}

/// All weight back on stable, retried as the controller's rollback is: a
/// rollback must not give up on a blip.
async fn split_to_stable(
    driver: &dyn TrafficDriver,
    mode: &TrafficMode,
) -> Result<(), driver::RouterError> {
    let mut attempt = 0;
    loop {
        match mode.split(driver, 0).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt >= 4 => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
        }
    }
}

fn ms_since(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

/// Reads the router until no candidate server takes new traffic.
async fn confirm_stable(
    driver: &dyn TrafficDriver,
    mode: &TrafficMode,
    decided: Instant,
    settle: Duration,
) -> Result<u64, String> {
    let candidate = mode.candidate_servers(&[]);
    let mut last = String::new();
    while decided.elapsed() < settle {
        match driver.servers().await {
            Ok(servers) if candidate_idle(&servers, &candidate) => return Ok(ms_since(decided)),
            Ok(servers) => {
                last = format!(
                    "{}% still on the candidate",
                    mode.percent_of(&servers).unwrap_or(0)
                )
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!(
        "{} did not confirm all weight on stable within {} s: {last}",
        driver.describe(),
        settle.as_secs()
    ))
}

/// No candidate server can take a new request: weight 0, or not ready.
fn candidate_idle(servers: &[ServerState], candidate: &[String]) -> bool {
    servers
        .iter()
        .filter(|s| candidate.contains(&s.name))
        .all(|s| s.weight == 0 || s.admin != AdminState::Ready)
}

/// Checks stable's health until every server passes.
async fn stable_healthy(
    spec: &Spec,
    driver: &dyn TrafficDriver,
    mode: &TrafficMode,
    decided: Instant,
    settle: Duration,
) -> Result<u64, String> {
    let stable = mode.stable_servers();
    let mut last = String::new();
    while decided.elapsed() < settle {
        match driver.servers().await {
            Ok(servers) => {
                let failing = health::check_all(&servers, stable, &spec.health).await;
                if failing.is_empty() {
                    return Ok(ms_since(decided));
                }
                last = describe_failing(&failing);
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "stable ({}) did not pass its health check within {} s of the rollback: {last}",
        stable.join(", "),
        settle.as_secs()
    ))
}

/// Responses the candidate servers have answered so far (router counters);
/// `None` when the router's counters cannot be read.
async fn candidate_responses(driver: &dyn TrafficDriver, mode: &TrafficMode) -> Option<u64> {
    let counters = driver.counters().await.ok()?;
    let candidate = mode.candidate_servers(&[]);
    Some(
        counters
            .iter()
            .filter(|(name, _)| candidate.contains(*name))
            .map(|(_, c)| c.responses)
            .sum(),
    )
}
