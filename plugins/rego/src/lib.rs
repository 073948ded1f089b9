//! gate's built-in `rego` plugin: Rego policies written for OPA and Conftest,
//! evaluated with the `regorus` interpreter inside the sandbox.
//!
//! [`conftest`] is the check. The pieces it is made of each own one step:
//! [`params`] (what a policy may ask for), [`files`] (finding and reading
//! files through the `fs` grant), [`inputs`] (input and data files as JSON
//! documents, split as Conftest splits them), [`policy`] (loading Rego:
//! syntax errors with positions, namespaces, rules, calls to functions that
//! do not exist) and [`results`] (what a rule's value means as findings).
//! File access goes through [`files::Grants`], so everything but the host call
//! runs in native unit tests.

use gate_plugin_sdk::{Check, Context, Finding, Plugin, Status};

pub mod conftest;
pub mod files;
pub mod inputs;
pub mod params;
pub mod policy;
pub mod results;

#[cfg(test)]
mod testutil;

/// The plugin: `rego.conftest`.
pub struct Rego;

impl Plugin for Rego {
    const ID: &'static str = "rego";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Rego policies (OPA, Conftest) evaluated in the sandbox with the regorus interpreter";

    fn checks() -> Vec<Box<dyn Check>> {
        vec![Box::new(conftest::Conftest)]
    }
}

gate_plugin_sdk::plugin!(Rego);

/// Findings beyond this many per run are folded into one summary finding, so
/// a policy that denies every line of a large input cannot blow the host's
/// output cap.
pub const MAX_FINDINGS: usize = 500;

/// Order of statuses, as the host ranks them: pass < skip < warn < fail < error.
fn status_rank(status: Status) -> u8 {
    match status {
        Status::Pass => 0,
        Status::Skip => 1,
        Status::Warn => 2,
        Status::Fail => 3,
        Status::Error => 4,
    }
}

/// Keeps at most [`MAX_FINDINGS`] findings; the rest become one finding that
/// carries their worst status, so the check's verdict is unchanged.
pub(crate) fn cap(ctx: &Context, mut findings: Vec<Finding>) -> Vec<Finding> {
    if findings.len() <= MAX_FINDINGS {
        return findings;
    }
    let rest = findings.split_off(MAX_FINDINGS - 1);
    let worst = rest
        .iter()
        .map(|f| f.status)
        .max_by_key(|s| status_rank(*s))
        .unwrap_or(Status::Fail);
    findings.push(
        ctx.finding(ctx.check.clone(), worst)
            .message(format!(
                "{} more findings not shown (limit {MAX_FINDINGS})",
                rest.len()
            ))
            .evidence("omitted", rest.len())
            .build(),
    );
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids in the `rego.` namespace, well-formed; titles, capabilities and
    /// parameters declared (the SDK's catalogue invariants).
    #[test]
    fn catalogue_invariants_hold() {
        let info = gate_plugin_sdk::describe::<Rego>();
        gate_plugin_sdk::testing::assert_catalogue_invariants(&info);
        assert_eq!(info.checks.len(), 1);
        assert_eq!(info.checks[0].id, "rego.conftest");
    }

    /// Every check has a docs page that mentions each of its parameters.
    #[test]
    fn every_check_is_documented() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/checks");
        let info = gate_plugin_sdk::describe::<Rego>();
        gate_plugin_sdk::testing::assert_checks_documented(&info, &docs);
    }

    #[test]
    fn cap_keeps_the_worst_status() {
        let ctx = testutil::ctx();
        let mut findings: Vec<Finding> = (0..MAX_FINDINGS + 10)
            .map(|i| ctx.finding(format!("f{i}"), Status::Warn).build())
            .collect();
        findings.push(ctx.finding("last", Status::Error).build());
        let capped = cap(&ctx, findings);
        assert_eq!(capped.len(), MAX_FINDINGS);
        let last = capped.last().unwrap();
        assert_eq!(last.status, Status::Error);
        assert!(
            last.message.contains("12 more findings"),
            "{}",
            last.message
        );
    }
}
