//! Progressive delivery: the rollout controller, its persisted state, traffic
//! drivers, analysis, health checks and hooks. Strategy plugins decide; this
//! module observes and acts (docs/rollouts.md, docs/strategy-plugins.md).

pub mod analysis;
pub mod approvals;
pub mod controller;
pub mod driver;
pub mod events;
pub use gate_core::failpoint;
pub mod haproxy;
pub mod health;
pub mod hooks;
pub mod incident;
pub mod migration;
pub mod notify;
pub mod pipeline;
pub mod preflight;
pub mod record;
pub mod signed_approval;
pub mod spec;
pub mod state;
pub mod status;
pub mod store;
pub mod strategy;
pub mod traffic;

pub use controller::{Controller, Options, Outcome, RolloutError};
pub use spec::Spec;
