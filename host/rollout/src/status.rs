//! What `gate status` shows and the dashboard serves: a rollout's recorded
//! state, the live holder of its lease, and the router's weights read through
//! the spec's traffic driver, gathered once and rendered as one JSON document.
//! Reading takes no lease and writes nothing.

use serde_json::{Map, Value, json};

use crate::approvals::Tally;
use crate::driver::{self, RouterError, ServerState};
use crate::spec::Spec;
use crate::state::RolloutState;
use crate::store::{Holder, Store, StoreError};

/// A rollout as read at one moment.
pub struct RolloutStatus {
    pub state: Option<RolloutState>,
    /// The runner holding the lease, if a rollout is running.
    pub holder: Option<Holder>,
    /// The router's servers, or why they could not be read.
    pub live: Result<Vec<ServerState>, RouterError>,
    /// The candidate's share of traffic as the router has it.
    pub router_percent: Option<u8>,
    /// The approvals of the current step, on a spec with `[approvals]`.
    pub tally: Option<Tally>,
    /// Where the state is kept (never a password).
    pub describe: String,
    /// Where the audit log is.
    pub audit: String,
}

impl RolloutStatus {
    /// Reads the state and lease holder from `store` and the weights from the router.
    pub async fn read(spec: &Spec, store: &dyn Store) -> Result<RolloutStatus, StoreError> {
        let state = store.load().await?;
        let holder = store.holder().await?;
        let driver = driver::for_router(&spec.router);
        let live = driver.servers().await;
        let router_percent = live.as_ref().ok().map(|servers| {
            driver::candidate_percent(servers, &spec.stable.servers, &spec.candidate.servers)
        });
        let tally = state
            .as_ref()
            .zip(spec.approvals.as_ref())
            .map(|(s, rules)| Tally::of(s, rules.required));
        Ok(RolloutStatus {
            state,
            holder,
            live,
            router_percent,
            tally,
            describe: store.describe(),
            audit: store.audit_location(),
        })
    }

    pub fn running(&self) -> bool {
        self.holder.is_some()
    }

    /// The last measurement of each analysis.
    pub fn last_analysis(&self) -> Map<String, Value> {
        self.state
            .as_ref()
            .map(|s| {
                s.analysis
                    .iter()
                    .filter_map(|(k, v)| v.last().map(|m| (k.clone(), json!(m))))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The router's weights per server, when it could be read.
    pub fn weights(&self) -> Option<Map<String, Value>> {
        self.live.as_ref().ok().map(|servers| {
            servers
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        json!({ "weight": s.weight, "state": s.admin.as_str(), "up": s.up }),
                    )
                })
                .collect()
        })
    }

    /// The document `gate status --format json` prints (docs/rollouts.md).
    pub fn to_json(&self, spec: &Spec) -> Value {
        let state = self.state.as_ref();
        json!({
            "name": spec.name,
            "strategy": spec.strategy.kind(),
            "running": self.running(),
            "phase": state.map(|s| s.phase),
            "step": state.map(|s| s.step),
            "candidate_percent": state.map(|s| s.candidate_percent),
            "router_candidate_percent": self.router_percent,
            "router": self.weights(),
            "router_error": self.live.as_ref().err().map(ToString::to_string),
            "last_analysis": self.last_analysis(),
            "run_id": state.map(|s| s.run_id.clone()),
            "revision": state.map(|s| s.revision),
            "approval": state.and_then(|s| s.approval.clone()),
            "approvals_tally": self.tally,
            "approvals": state.map(|s| s.approvals.clone()).unwrap_or_default(),
            "replaced": state.map(|s| s.replaced.clone()).unwrap_or_default(),
            "outcome": state.and_then(|s| s.outcome.clone()),
            "stages": state.map_or_else(
                || spec.stages.iter().map(crate::pipeline::StageState::pending).collect(),
                |s| s.stages.clone(),
            ),
            "last_action": state.and_then(|s| s.last_action.clone()),
            "runner": self.holder,
            "state": self.describe,
            "audit": self.audit,
        })
    }
}
