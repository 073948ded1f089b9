//! gate's built-in `security` plugin.
//!
//! Each check lives in its own module with the same three parts: its parameters,
//! its logic and the findings it reports. File access goes through [`grants`], so
//! the logic runs unchanged in native unit tests with a stand-in for the host.

use gate_plugin_sdk::{Check, Context, Finding, Plugin, Status};

pub mod access_controls;
pub mod api_keys_rotated;
pub mod audit_logging;
pub mod compliance;
pub mod dependencies_audited;
pub mod grants;
pub mod no_secrets;
pub mod pg;
pub mod scan_results;
mod severity;
pub mod tls;
mod walk;
// New check modules go above this line (`cargo xtask new-check`).

#[cfg(test)]
mod testutil;

/// The plugin: `security.no-secrets`, `security.compliance`, `security.scan-results`.
pub struct Security;

impl Plugin for Security {
    const ID: &'static str = "security";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Security checks over files: committed secrets, config compliance assertions, SARIF scan results";

    fn checks() -> Vec<Box<dyn Check>> {
        vec![
            Box::new(no_secrets::NoSecrets),
            Box::new(compliance::Compliance),
            Box::new(scan_results::ScanResults),
            Box::new(tls::Tls),
            Box::new(dependencies_audited::DependenciesAudited),
            Box::new(api_keys_rotated::ApiKeysRotated),
            Box::new(access_controls::AccessControls),
            // New checks go above this line (`cargo xtask new-check`).
            Box::new(audit_logging::AuditLogging),
        ]
    }

    /// The secret scanner's regexes and keyword automaton: about 4 ms of
    /// compiling natively, more in wasm, which every instance would repeat.
    fn prepare() {
        no_secrets::detect::prepare();
    }
}

gate_plugin_sdk::plugin!(Security);

/// Findings beyond this many per check run are folded into one summary finding,
/// so a fixture full of fake keys cannot blow the host's output cap.
pub(crate) const MAX_FINDINGS: usize = 500;

/// Order of statuses, as the host ranks them: pass < skip < warn < fail < error.
pub(crate) fn status_rank(status: Status) -> u8 {
    match status {
        Status::Pass => 0,
        Status::Skip => 1,
        Status::Warn => 2,
        Status::Fail => 3,
        Status::Error => 4,
    }
}

/// Keeps at most [`MAX_FINDINGS`] findings; the rest become one finding that carries
/// their worst status, so the check's verdict is unchanged.
pub(crate) fn cap(ctx: &Context, findings: Vec<Finding>) -> Vec<Finding> {
    cap_with(ctx, findings, Dropped::default())
}

/// Findings a part of a run left out before its findings were merged
/// (`security.no-secrets` in parts): they count as findings past the cap.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Dropped {
    pub count: usize,
    pub worst: Option<Status>,
}

impl Dropped {
    pub fn add(&mut self, count: usize, status: Option<Status>) {
        self.count += count;
        self.worst = worst(self.worst.into_iter().chain(status));
    }
}

/// The worst of `statuses`, as the host ranks them.
pub(crate) fn worst(statuses: impl IntoIterator<Item = Status>) -> Option<Status> {
    statuses.into_iter().max_by_key(|s| status_rank(*s))
}

/// [`cap`], counting `dropped` findings already left out as past the cap.
pub(crate) fn cap_with(
    ctx: &Context,
    mut findings: Vec<Finding>,
    dropped: Dropped,
) -> Vec<Finding> {
    if findings.len() + dropped.count <= MAX_FINDINGS {
        return findings;
    }
    let rest = findings.split_off((MAX_FINDINGS - 1).min(findings.len()));
    let worst = worst(rest.iter().map(|f| f.status).chain(dropped.worst)).unwrap_or(Status::Fail);
    let omitted = rest.len() + dropped.count;
    findings.push(
        ctx.finding(ctx.check.clone(), worst)
            .message(format!(
                "{omitted} more findings not shown (limit {MAX_FINDINGS})"
            ))
            .evidence("omitted", omitted)
            .build(),
    );
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids in the `security.` namespace, unique and well-formed; titles,
    /// capabilities and parameters declared (the SDK's catalogue invariants);
    /// and every security check takes parameters.
    #[test]
    fn check_ids_are_unique_and_namespaced() {
        let info = gate_plugin_sdk::describe::<Security>();
        gate_plugin_sdk::testing::assert_catalogue_invariants(&info);
        for check in &info.checks {
            assert!(!check.params.is_empty(), "{} takes no parameters", check.id);
        }
    }

    /// Every check has a docs page that mentions each of its parameters.
    #[test]
    fn every_check_is_documented() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/checks");
        let info = gate_plugin_sdk::describe::<Security>();
        gate_plugin_sdk::testing::assert_checks_documented(&info, &docs);
    }
}
