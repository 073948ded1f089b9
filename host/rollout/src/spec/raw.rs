//! The rollout spec's TOML tables as serde types. Each table is decoded on its
//! own by the policy loader's decoder (`gate_eval::policy::toml_spans`), so unknown
//! keys get a did-you-mean and every bad value its own file:line:col.

use std::path::PathBuf;

use serde::Deserialize;

use gate_eval::policy::toml_spans::Item;

/// `[rollout]`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRollout {
    pub name: String,
    pub strategy: RawStrategy,
    pub state_dir: Option<PathBuf>,
    /// `postgres://…`: the rollout's state, lease, commands, events and
    /// audit log in PostgreSQL instead of files.
    pub state: Option<String>,
    /// How long a PostgreSQL lease lasts unless renewed (`15s`).
    pub lease_ttl: Option<String>,
    pub preflight: Option<RawPreflight>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawStrategy {
    Name(String),
    Plugin {
        kind: Option<String>,
        path: PathBuf,
        sha256: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPreflight {
    pub policy: PathBuf,
    pub gate: Option<String>,
}

/// `[router]`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRouter {
    pub kind: String,
    pub admin_socket: PathBuf,
    pub backend: String,
    pub timeout: Option<String>,
}

/// `[stable]`, `[candidate]`
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSide {
    #[serde(default)]
    pub servers: Vec<String>,
    pub version: Option<String>,
}

/// `[health]`
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    pub path: Option<String>,
    pub expect_status: Option<u16>,
    pub timeout_ms: Option<u64>,
    pub attempts: Option<u32>,
}

/// `[canary]`
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCanary {
    pub steps: Option<Vec<i64>>,
    pub pause: Option<String>,
}

/// `[blue_green]` (or `[blue-green]`)
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBlueGreen {
    pub pause: Option<String>,
    #[serde(default)]
    pub pre_promotion_analysis: Vec<String>,
    pub post_promotion_analysis: Option<Vec<String>>,
    pub post_promotion: Option<String>,
}

/// `[rolling]`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRolling {
    pub servers: Option<Vec<String>>,
    pub start: String,
    pub stop: String,
    pub drain_timeout: Option<String>,
    pub pause: Option<String>,
}

/// `[hooks]`
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHooks {
    #[serde(default)]
    pub pre_rollout: Vec<String>,
    #[serde(default)]
    pub post_promote: Vec<String>,
    #[serde(default)]
    pub post_rollback: Vec<String>,
    pub timeout: Option<String>,
}

/// `[[analysis]]`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAnalysis {
    pub name: String,
    pub provider: String,
    pub query: String,
    pub samples_query: Option<String>,
    pub max: Option<f64>,
    pub min: Option<f64>,
    pub max_increase: Option<f64>,
    pub max_ratio: Option<f64>,
    pub interval: Option<String>,
    pub min_samples: Option<u64>,
    pub failure_limit: Option<u32>,
    pub inconclusive_limit: Option<u32>,
    pub consecutive_error_limit: Option<u32>,
}

/// `[approvals]`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApprovals {
    pub allowed_signers: PathBuf,
    pub required: Option<u32>,
    pub self_approval: Option<bool>,
}

/// `[[stage]]`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    pub name: String,
    pub kind: String,
    /// `gate`: the policy and, optionally, the one gate of it to evaluate.
    pub policy: Option<PathBuf>,
    pub gate: Option<String>,
    /// `verify`: how long, and which analyses.
    pub duration: Option<String>,
    pub analysis: Option<Vec<String>>,
    /// `migration`: the operations file, the database (`policy` and
    /// `connection`, or `url_env`) and the backfill's tuning.
    pub file: Option<PathBuf>,
    pub connection: Option<String>,
    pub url_env: Option<String>,
    pub batch_size: Option<u64>,
    pub lock_timeout: Option<String>,
    /// `migration`: the flagd file and flag that pin the version applications read.
    pub flagd: Option<PathBuf>,
    pub flag: Option<String>,
}

impl RawStage {
    /// The optional keys this table sets.
    pub fn keys_set(&self) -> Vec<&'static str> {
        [
            ("policy", self.policy.is_some()),
            ("gate", self.gate.is_some()),
            ("duration", self.duration.is_some()),
            ("analysis", self.analysis.is_some()),
            ("file", self.file.is_some()),
            ("connection", self.connection.is_some()),
            ("url_env", self.url_env.is_some()),
            ("batch_size", self.batch_size.is_some()),
            ("lock_timeout", self.lock_timeout.is_some()),
            ("flagd", self.flagd.is_some()),
            ("flag", self.flag.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }
}

/// `[audit]`: where the rollout's decisions are recorded.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    pub dir: Option<PathBuf>,
}

/// `[metrics.NAME]`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    /// An analysis provider kind with a table of its own; `prometheus` by default.
    pub kind: Option<String>,
    pub url: String,
    pub timeout_ms: Option<u64>,
}

impl Item for RawRollout {}
impl Item for RawRouter {}
impl Item for RawSide {}
impl Item for RawHealth {}
impl Item for RawCanary {}
impl Item for RawBlueGreen {}
impl Item for RawRolling {}
impl Item for RawHooks {}
impl Item for RawAnalysis {}
impl Item for RawMetrics {}
impl Item for RawApprovals {}
impl Item for RawAudit {}
impl Item for RawStage {}
