//! Each served rollout as read through its store: the `gate status`
//! document (state, lease holder, router weights through the spec's driver),
//! its stages, its analyses with their measurements and charts, its event
//! timeline and, on a spec with `[approvals]`, the challenge of the current
//! step and who has signed it.

use gate_rollout::Spec;
use gate_rollout::analysis::Measurement;
use gate_rollout::approvals::{self, ApprovalAction, Challenge};
use gate_rollout::status::RolloutStatus;
use gate_rollout::store;
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::view::scrub;

/// How many of the latest events a rollout page shows.
pub const EVENTS_SHOWN: usize = 200;

/// One rollout in the overview (and `/api/rollouts`).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub name: String,
    /// The `gate status --format json` document.
    pub status: Value,
    pub servers: Vec<ServerRow>,
    /// The last verdict of each analysis.
    pub verdicts: Vec<(String, String)>,
}

impl Summary {
    fn field(&self, key: &str) -> String {
        match &self.status[key] {
            Value::Null => "–".into(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    pub fn phase(&self) -> String {
        match self.status["phase"].as_str() {
            Some(p) => p.to_string(),
            None => "not started".into(),
        }
    }

    pub fn step(&self) -> String {
        self.field("step")
    }

    pub fn percent(&self) -> String {
        self.field("candidate_percent")
    }

    /// The recorded percent as a number (0 before the rollout starts).
    pub fn percent_value(&self) -> u64 {
        self.status["candidate_percent"].as_u64().unwrap_or(0)
    }

    pub fn router_percent(&self) -> String {
        self.field("router_candidate_percent")
    }

    /// Each stage's name, progress and detail (empty when none).
    pub fn stages(&self) -> Vec<(String, String, String)> {
        let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
        self.status["stages"]
            .as_array()
            .map(|stages| {
                stages
                    .iter()
                    .map(|st| (text(st, "name"), text(st, "progress"), text(st, "detail")))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn running(&self) -> bool {
        self.status["running"].as_bool().unwrap_or(false)
    }
}

/// A router server and its weight now.
#[derive(Clone, Debug, Serialize)]
pub struct ServerRow {
    pub name: String,
    /// `stable` or `candidate` per the spec (or `other`).
    pub side: &'static str,
    pub weight: u16,
    pub state: String,
    pub up: bool,
}

/// One rollout in full (the rollout page and `/api/rollouts/{name}`).
#[derive(Clone, Debug, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub summary: Summary,
    pub stable_version: String,
    pub candidate_version: String,
    pub analyses: Vec<AnalysisView>,
    /// The latest events, oldest first, each with its position.
    pub events: Vec<EventRow>,
    pub approvals: Option<Approvals>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnalysisView {
    pub name: String,
    pub query: String,
    pub relative: bool,
    pub max: Option<f64>,
    pub min: Option<f64>,
    pub max_increase: Option<f64>,
    pub max_ratio: Option<f64>,
    pub measurements: Vec<Measurement>,
    #[serde(skip)]
    pub chart: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct EventRow {
    pub position: u64,
    pub ts: String,
    pub event: String,
    pub message: String,
}

/// The signed approvals of the current step.
#[derive(Clone, Debug, Serialize)]
pub struct Approvals {
    pub required: u32,
    pub approved_by: Vec<String>,
    pub missing: u32,
    /// Principals the allowed_signers file lists for approvals who have not signed this step.
    pub still_to_sign: Vec<String>,
    /// The exact text to sign for `approve` (and `promote`), while the rollout runs.
    pub challenge: Option<String>,
    pub promote_challenge: Option<String>,
    /// Whether the rollout is on its last step, where the approval that
    /// goes on promotes the candidate: the page then asks for a signed
    /// `promote` (what `gate promote --key` signs).
    pub promotes: bool,
}

impl Approvals {
    /// The action the page's form signs: `promote` on the last step, `approve` before.
    pub fn form_action(&self) -> &'static str {
        self.action().into()
    }

    /// The challenge the page's form shows, while the rollout runs.
    pub fn form_challenge(&self) -> Option<&str> {
        match self.action() {
            ApprovalAction::Promote => self.promote_challenge.as_deref(),
            ApprovalAction::Approve => self.challenge.as_deref(),
        }
    }

    fn action(&self) -> ApprovalAction {
        if self.promotes {
            ApprovalAction::Promote
        } else {
            ApprovalAction::Approve
        }
    }
}

/// Whether `state` is on the strategy's last step: the candidate serves all
/// traffic as recorded, or a canary is on the last of its steps.
fn on_last_step(spec: &Spec, state: &gate_rollout::state::RolloutState) -> bool {
    state.candidate_percent >= 100
        || spec
            .canary
            .as_ref()
            .is_some_and(|c| state.step as usize == c.steps.len())
}

fn side(spec: &Spec, server: &str) -> &'static str {
    if spec.stable.servers.iter().any(|s| s == server) {
        "stable"
    } else if spec.candidate.servers.iter().any(|s| s == server) {
        "candidate"
    } else {
        "other"
    }
}

/// Reads `spec`'s rollout through its store.
pub async fn read(spec: &Spec) -> Result<(Summary, RolloutStatus), ApiError> {
    let store = store::open(spec).await?;
    let status = RolloutStatus::read(spec, &*store).await?;
    let mut doc = status.to_json(spec);
    scrub(&mut doc);
    let servers = status
        .live
        .as_ref()
        .map(|servers| {
            servers
                .iter()
                .map(|s| ServerRow {
                    name: s.name.clone(),
                    side: side(spec, &s.name),
                    weight: s.weight,
                    state: s.admin.as_str().to_string(),
                    up: s.up,
                })
                .collect()
        })
        .unwrap_or_default();
    let verdicts = status
        .state
        .as_ref()
        .map(|s| {
            s.analysis
                .iter()
                .filter_map(|(k, v)| {
                    let m = v.last()?;
                    let verdict = serde_json::to_value(m.result).ok()?;
                    Some((k.clone(), verdict.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let summary = Summary {
        name: spec.name.clone(),
        status: doc,
        servers,
        verdicts,
    };
    Ok((summary, status))
}

/// Every served rollout.
pub async fn all(specs: &[Spec]) -> Result<Vec<Summary>, ApiError> {
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        out.push(read(spec).await?.0);
    }
    Ok(out)
}

/// One rollout in full.
pub async fn detail(spec: &Spec) -> Result<Detail, ApiError> {
    let (summary, status) = read(spec).await?;
    let store = store::open(spec).await?;
    let all = store.read_events(None, usize::MAX).await?;
    let history = measurements(&all);
    let skip = all.len().saturating_sub(EVENTS_SHOWN);
    let events = all
        .into_iter()
        .skip(skip)
        .map(|(position, e)| EventRow {
            position,
            ts: e["ts"].as_str().unwrap_or_default().to_string(),
            event: e["event"].as_str().unwrap_or_default().to_string(),
            message: gate_redact::scrub(e["message"].as_str().unwrap_or_default()),
        })
        .collect();
    let analyses = analysis_views(spec, &history);
    Ok(Detail {
        summary,
        stable_version: spec.stable.version.clone(),
        candidate_version: spec.candidate.version.clone(),
        analyses,
        events,
        approvals: approvals(spec, &status),
    })
}

/// The analyses of `spec` with their measurements and charts, read from
/// the rollout's events (the rollout page's analysis section, also served
/// alone so the page can redraw it as measurements arrive).
pub async fn analyses(spec: &Spec) -> Result<Vec<AnalysisView>, ApiError> {
    let store = store::open(spec).await?;
    let all = store.read_events(None, usize::MAX).await?;
    Ok(analysis_views(spec, &measurements(&all)))
}

fn analysis_views(
    spec: &Spec,
    history: &std::collections::BTreeMap<String, Vec<Measurement>>,
) -> Vec<AnalysisView> {
    spec.analysis
        .iter()
        .map(|a| {
            let measurements: Vec<Measurement> = history.get(&a.name).cloned().unwrap_or_default();
            AnalysisView {
                name: a.name.clone(),
                query: gate_redact::scrub(&a.query),
                relative: a.relative(),
                max: a.max,
                min: a.min,
                max_increase: a.max_increase,
                max_ratio: a.max_ratio,
                chart: crate::chart::svg(a, &measurements),
                measurements,
            }
        })
        .collect()
}

/// Every measurement of the run per analysis, from the `analysis` events
/// (the state keeps only the current step's).
fn measurements(events: &[(u64, Value)]) -> std::collections::BTreeMap<String, Vec<Measurement>> {
    let mut out: std::collections::BTreeMap<String, Vec<Measurement>> = Default::default();
    for (_, e) in events.iter().filter(|(_, e)| e["event"] == "analysis") {
        let (Some(name), Ok(m)) = (
            e["analysis"].as_str(),
            serde_json::from_value::<Measurement>(e["measurement"].clone()),
        ) else {
            continue;
        };
        out.entry(name.to_string()).or_default().push(m);
    }
    out
}

fn approvals(spec: &Spec, status: &RolloutStatus) -> Option<Approvals> {
    let rules = spec.approvals.as_ref()?;
    let tally = status.tally.clone();
    let state = status.state.as_ref().filter(|s| !s.phase.terminal());
    let challenge = |action| state.map(|s| Challenge::current(s, action).text());
    let approved_by = tally
        .as_ref()
        .map(|t| t.approved_by.clone())
        .unwrap_or_default();
    let now = chrono::Utc::now();
    let still_to_sign = gate_trust::AllowedSigners::load(&rules.allowed_signers)
        .map(|signers| {
            let mut names: Vec<String> = Vec::new();
            for e in signers.entries() {
                if e.is_pattern() || e.allows(approvals::NAMESPACE, now).is_err() {
                    continue;
                }
                for p in e.principals.split(',') {
                    if !approved_by.iter().any(|a| a == p) && !names.iter().any(|n| n == p) {
                        names.push(p.to_string());
                    }
                }
            }
            names
        })
        .unwrap_or_default();
    Some(Approvals {
        required: rules.required,
        missing: tally.as_ref().map_or(rules.required, |t| t.missing),
        approved_by,
        still_to_sign,
        challenge: challenge(ApprovalAction::Approve),
        promote_challenge: challenge(ApprovalAction::Promote),
        promotes: state.is_some_and(|s| on_last_step(spec, s)),
    })
}
