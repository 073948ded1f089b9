//! Plugins: where their bytes come from, how they are compiled and cached, and
//! how one check runs inside a fresh, limited store.

mod builtin;
mod catalog;
mod runner;
mod source;

pub use builtin::{BUILTINS, Builtin, PLUGIN_BUILD_DIR, builtin};
pub use catalog::{CheckMeta, ParamMeta, PluginMeta};
pub use runner::{CheckRun, LoadedPlugin, Runtime};
pub use source::{PluginError, PluginSource};
