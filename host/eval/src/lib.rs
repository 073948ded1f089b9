//! gate's policies, evaluation and reports: the layer that decides which
//! checks form which gate and what their results mean.
//!
//! - [`policy`]: loading TOML policies with spans (every error names
//!   file:line:col), merging `include`s, exemptions;
//! - [`evaluate`]: plans the plugins a policy needs, runs each selected check
//!   in the sandbox (`gate-sandbox`), applies exemptions and enforcement;
//! - [`hosted`]: checks the host runs itself, registered through a trait;
//! - [`report`]: the one internal report and its renderers;
//! - [`audit_record`]: the audit-log entry of an evaluation.
//!
//! See ARCHITECTURE.md.

pub mod audit_record;
pub mod evaluate;
pub mod hosted;
pub mod notify_events;
pub mod policy;
pub mod report;
