//! The JSON shapes of docs/strategy-plugins.md: the normalised spec, the
//! observed state and the returned decision. They live in
//! plugins/strategy-protocol, shared with the host, so both ends speak one type.

pub use gate_strategy_protocol::{
    Action, Analysis, AnalysisState, Approval, BlueGreenSpec, CanarySpec, Decision, Health,
    HealthStatus, Measurement, RollingSpec, Side, Spec, State, Verdict,
};
