//! Guest-side SDK for gate check plugins.
//!
//! A plugin is a list of [`Check`] implementations plus one call to
//! [`export_check!`](crate::export_check). The SDK owns the WIT bindings, turns
//! parameter errors into `error` findings instead of traps, and guarantees that
//! a run never returns an empty finding list by accident.
//!
//! ```ignore
//! struct Plugin;
//! impl gate_plugin_sdk::Plugin for Plugin {
//!     const ID: &'static str = "acme";
//!     const DESCRIPTION: &'static str = "Acme's own checks";
//!     fn checks() -> Vec<Box<dyn gate_plugin_sdk::Check>> { vec![Box::new(MyCheck)] }
//! }
//! gate_plugin_sdk::plugin!(Plugin);
//! ```

/// Bindings generated from the crate's own `wit/gate-plugin.wit`, a copy of
/// the frozen `gate:plugin` version this SDK speaks: its world
/// `check-in-parts` (a check whose runs may split into parts), plus
/// one export of the SDK's own, `prepare`, which the host never calls. A build
/// that pre-initializes a plugin calls it once and snapshots the instance
/// (see [`Plugin::prepare`]); a host never calls it.
#[doc(hidden)]
// The generated lifting code of `merge` takes one argument per flattened
// value of its parameters.
#[allow(clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        inline: "
            package gate:sdk;

            world prepared-check {
                include gate:plugin/check-in-parts@0.1.1;
                /// Does the work every instance would otherwise repeat; never
                /// calls the host.
                export prepare: func();
            }
        ",
        world: "gate:sdk/prepared-check",
        pub_export_macro: true,
        export_macro_name: "export_check",
        default_bindings_module: "gate_plugin_sdk::bindings",
        generate_all,
    });
}

pub mod date;
pub mod finding;
pub mod params;
pub mod paths;
pub mod redact;
pub mod target;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use bindings::gate::plugin::types::{
    CheckInfo, CheckRequest, Finding, Location, ParamInfo, PluginInfo, Severity, Status,
};
pub use bindings::{Guest, Part};
pub use finding::FindingBuilder;
pub use serde_json;

/// Host capabilities, re-exported under short names.
pub mod host {
    pub use crate::bindings::gate::plugin::clock;
    pub use crate::bindings::gate::plugin::env;
    pub use crate::bindings::gate::plugin::files;
    pub use crate::bindings::gate::plugin::http;
    pub use crate::bindings::gate::plugin::log;
    pub use crate::bindings::gate::plugin::metrics;
    pub use crate::bindings::gate::plugin::net;
    pub use crate::bindings::gate::plugin::sql;
    pub use crate::bindings::gate::plugin::system;
    pub use crate::bindings::gate::plugin::unix;
}

/// Everything a check needs while it runs.
pub struct Context {
    pub check: String,
    pub cwd: String,
}

impl Context {
    /// Starts a finding for this check.
    pub fn finding(&self, subject: impl Into<String>, status: Status) -> FindingBuilder {
        FindingBuilder::new(&self.check, subject, status)
    }

    /// Logs through the host's tracing output.
    pub fn log(&self, level: host::log::Level, message: &str) {
        host::log::log(level, message);
    }
}

/// One check inside a plugin.
pub trait Check {
    fn info(&self) -> CheckInfo;
    /// Runs the check. `params` is the policy's `params` table as JSON (`{}` when unset).
    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding>;

    /// How many parts a run with these `params` can use when the host can
    /// run `available` at once. The default, 1, always runs the check whole
    /// with [`Check::run`]; a check whose work divides (files of a tree)
    /// returns more and implements [`Check::run_part`] and [`Check::merge`].
    fn parts(&self, _ctx: &Context, _params: &serde_json::Value, _available: u32) -> u32 {
        1
    }

    /// Runs one part: every part gets the same `params`, and the parts
    /// together must do the whole work once. The default runs the whole
    /// check in part 0 and nothing in the others.
    fn run_part(&self, ctx: &Context, params: &serde_json::Value, part: Part) -> Vec<Finding> {
        if part.index == 0 {
            self.run(ctx, params)
        } else {
            Vec::new()
        }
    }

    /// The check's findings from every part's, in part order. The default
    /// puts them one after the other.
    fn merge(
        &self,
        _ctx: &Context,
        _params: &serde_json::Value,
        parts: Vec<Vec<Finding>>,
    ) -> Vec<Finding> {
        parts.into_iter().flatten().collect()
    }
}

/// A plugin: an id, a description and its checks.
pub trait Plugin {
    const ID: &'static str;
    const VERSION: &'static str;
    const DESCRIPTION: &'static str;
    fn checks() -> Vec<Box<dyn Check>>;

    /// Work that every fresh instance would otherwise repeat before its
    /// first check: compiling regexes, building lookup tables. gate's build
    /// calls it once for a built-in and snapshots the instance into the
    /// component (host/sandbox/build.rs, docs/plugins.md), so each run
    /// starts with it done. It must not call the host (files, env, clock,
    /// log, …): the snapshot is taken with every import trapping but the
    /// standard library's hash-map seed. The default does nothing.
    fn prepare() {}
}

/// Implements the WIT `describe`/`run` exports for a [`Plugin`].
pub fn describe<P: Plugin>() -> PluginInfo {
    PluginInfo {
        id: P::ID.to_string(),
        version: P::VERSION.to_string(),
        description: P::DESCRIPTION.to_string(),
        checks: P::checks().iter().map(|c| c.info()).collect(),
    }
}

pub fn run<P: Plugin>(request: CheckRequest) -> Vec<Finding> {
    with_check::<P, _>(request, |check, ctx, params| check.run(ctx, params))
        .unwrap_or_else(|problem| problem)
}

/// Implements the WIT `parts` export: 1 (run whole) for an unknown check or
/// bad parameters, which `run` then reports.
pub fn parts<P: Plugin>(request: CheckRequest, available: u32) -> u32 {
    with_check::<P, _>(request, |check, ctx, params| {
        check
            .parts(ctx, params, available)
            .clamp(1, available.max(1))
    })
    .unwrap_or(1)
}

/// Implements the WIT `run-part` export.
pub fn run_part<P: Plugin>(request: CheckRequest, part: Part) -> Vec<Finding> {
    with_check::<P, _>(request, |check, ctx, params| {
        check.run_part(ctx, params, part)
    })
    .unwrap_or_else(|problem| problem)
}

/// Implements the WIT `merge` export.
pub fn merge<P: Plugin>(request: CheckRequest, parts: Vec<Vec<Finding>>) -> Vec<Finding> {
    with_check::<P, _>(request, |check, ctx, params| {
        check.merge(ctx, params, parts)
    })
    .unwrap_or_else(|problem| problem)
}

/// Finds the requested check and parses its parameters, then calls `call`;
/// an unknown check or parameters that are not JSON come back as the
/// `error` finding to report instead.
fn with_check<P: Plugin, T>(
    request: CheckRequest,
    call: impl FnOnce(&dyn Check, &Context, &serde_json::Value) -> T,
) -> Result<T, Vec<Finding>> {
    let ctx = Context {
        check: request.check.clone(),
        cwd: request.cwd.clone(),
    };
    let checks = P::checks();
    let Some(check) = checks.iter().find(|c| c.info().id == request.check) else {
        return Err(vec![
            ctx.finding(P::ID, Status::Error)
                .message(format!(
                    "plugin `{}` has no check `{}`",
                    P::ID,
                    request.check
                ))
                .build(),
        ]);
    };
    let params: serde_json::Value = if request.params.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        match serde_json::from_str(&request.params) {
            Ok(v) => v,
            Err(e) => {
                return Err(vec![
                    ctx.finding("params", Status::Error)
                        .message(format!("params are not valid JSON: {e}"))
                        .build(),
                ]);
            }
        }
    };
    Ok(call(check.as_ref(), &ctx, &params))
}

/// Declares the plugin type and exports it as the component's
/// `check-in-parts` world.
#[macro_export]
macro_rules! plugin {
    ($plugin:ty) => {
        struct __GateExport;
        impl $crate::Guest for __GateExport {
            fn describe() -> $crate::PluginInfo {
                $crate::describe::<$plugin>()
            }
            fn run(request: $crate::CheckRequest) -> ::std::vec::Vec<$crate::Finding> {
                $crate::run::<$plugin>(request)
            }
            fn parts(request: $crate::CheckRequest, available: u32) -> u32 {
                $crate::parts::<$plugin>(request, available)
            }
            fn run_part(
                request: $crate::CheckRequest,
                part: $crate::Part,
            ) -> ::std::vec::Vec<$crate::Finding> {
                $crate::run_part::<$plugin>(request, part)
            }
            fn merge(
                request: $crate::CheckRequest,
                parts: ::std::vec::Vec<::std::vec::Vec<$crate::Finding>>,
            ) -> ::std::vec::Vec<$crate::Finding> {
                $crate::merge::<$plugin>(request, parts)
            }
            fn prepare() {
                <$plugin as $crate::Plugin>::prepare()
            }
        }
        $crate::bindings::export_check!(__GateExport with_types_in $crate::bindings);
    };
}

/// Builds a [`ParamInfo`].
pub fn param(name: &str, kind: &str, required: bool, description: &str) -> ParamInfo {
    ParamInfo {
        name: name.to_string(),
        kind: kind.to_string(),
        required,
        description: description.to_string(),
        default: None,
    }
}

/// Builds a [`ParamInfo`] with a default (TOML text).
pub fn param_default(name: &str, kind: &str, description: &str, default: &str) -> ParamInfo {
    ParamInfo {
        default: Some(default.to_string()),
        ..param(name, kind, false, description)
    }
}
