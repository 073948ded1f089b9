//! Plugins: where their bytes come from, how they are compiled and cached, and
//! how one check runs inside a fresh, limited store.

mod builtin;
pub mod call;
mod catalog;
mod inspect;
mod mapped;
mod parts;
mod runner;
mod source;
mod spec;
mod validator;
mod world;

pub use builtin::{
    BUILTINS, Builtin, Builtins, PLUGIN_BUILD_DIR, STRATEGIES, VALIDATORS, builtin, strategy,
    validator,
};
pub use catalog::{
    CAPABILITIES, CheckMeta, ParamMeta, PluginMeta, catalogue_problems, check_problems, id_problem,
};
/// The engine's code-memory hook (see [`mapped`]).
pub(crate) fn mapped_code_memory() -> mapped::CodeMemory {
    mapped::CodeMemory
}
pub use inspect::{ImportName, Inspection, PACKAGE_NAME, SUPPORTED_VERSIONS, imports, wit_version};
pub use runner::{CheckRun, LoadedPlugin, NO_FINDINGS, RawFinding, Runtime, explain};
pub use source::{PluginError, PluginSource};
pub use spec::PluginSpec;
pub use validator::{LoadedValidator, MigrationFile, ValidatorRun};
pub use world::World;
