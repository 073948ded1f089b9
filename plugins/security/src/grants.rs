//! Resolving user paths against the plugin's `fs` grants.
//!
//! In the component, the host decides (`files.resolve`) and explains a denial by
//! naming the grant to add. Unit tests substitute a resolver rooted in a temp dir.

use gate_plugin_sdk::paths::GrantedPath;
use gate_plugin_sdk::{Context, Finding, Status};

pub trait Grants {
    /// Resolves a path as the user wrote it to the absolute path to open.
    fn resolve(&self, path: &str) -> Result<GrantedPath, String>;
}

/// The real thing: asks the host.
pub struct HostGrants;

impl Grants for HostGrants {
    fn resolve(&self, path: &str) -> Result<GrantedPath, String> {
        gate_plugin_sdk::paths::resolve(path)
    }
}

/// The `error` finding for a path the check was asked to read but cannot.
pub fn unreadable(ctx: &Context, display: &str, error: &str) -> Finding {
    ctx.finding(display, Status::Error)
        .message(format!("cannot read `{display}`: {error}"))
        .remediation(
            "make sure the path exists and that the policy grants read access to it \
             (`fs = [...]` in the plugin's grants)",
        )
        .build()
}
