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
/// the frozen `gate:plugin` version this SDK speaks: its world `check`, plus
/// one export of the SDK's own, `prepare`, which the host never calls. A build
/// that pre-initializes a plugin calls it once and snapshots the instance
/// (see [`Plugin::prepare`]); a host speaking `gate:plugin/check` ignores it.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        inline: "
            package gate:sdk;

            world prepared-check {
                include gate:plugin/check@0.1.0;
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

pub use bindings::Guest;
pub use bindings::gate::plugin::types::{
    CheckInfo, CheckRequest, Finding, Location, ParamInfo, PluginInfo, Severity, Status,
};
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
    let ctx = Context {
        check: request.check.clone(),
        cwd: request.cwd.clone(),
    };
    let checks = P::checks();
    let Some(check) = checks.iter().find(|c| c.info().id == request.check) else {
        return vec![
            ctx.finding(P::ID, Status::Error)
                .message(format!(
                    "plugin `{}` has no check `{}`",
                    P::ID,
                    request.check
                ))
                .build(),
        ];
    };
    let params: serde_json::Value = if request.params.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        match serde_json::from_str(&request.params) {
            Ok(v) => v,
            Err(e) => {
                return vec![
                    ctx.finding("params", Status::Error)
                        .message(format!("params are not valid JSON: {e}"))
                        .build(),
                ];
            }
        }
    };
    check.run(&ctx, &params)
}

/// Declares the plugin type and exports it as the component's `check` world.
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
