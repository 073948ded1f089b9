//! Host-driven checks: checks that a built-in plugin lists, but that the
//! host runs itself because they combine several plugin kinds.
//!
//! `config.migrations-tested` is one: the host reads the migration files
//! (under the `config` plugin's `fs` grant), asks the database which are
//! already applied (under its `sql` grant), and runs the pending ones through
//! the `migrations` validator component. It appears in the `config` plugin's
//! metadata, so gates, `[[check]]`, exemptions, `gate checks list` and
//! `gate policy lint` treat it like any other check.

use super::catalog::CheckMeta;
use super::runner::{CheckRun, LoadedPlugin, Runtime};

/// The host-driven checks a built-in plugin provides, appended to its `describe()`.
pub(super) fn checks(plugin: &str, builtin: bool) -> Vec<CheckMeta> {
    match (plugin, builtin) {
        ("config", true) => vec![crate::migrate::check::meta()],
        _ => Vec::new(),
    }
}

/// Runs `check` if it is host-driven; `None` sends it to the plugin.
pub(super) async fn run(
    runtime: &Runtime,
    plugin: &LoadedPlugin,
    check: &str,
    params: &serde_json::Value,
) -> Option<CheckRun> {
    if plugin.builtin && plugin.name == "config" && check == crate::migrate::check::ID {
        return Some(crate::migrate::check::run(runtime, plugin, params).await);
    }
    None
}
