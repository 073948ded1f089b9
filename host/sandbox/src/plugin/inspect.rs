//! What a component is, read from its own type and its own `describe()`:
//! the `gate:plugin` version it was built against, the world it implements,
//! the interfaces it imports, and its cold compile time. `gate plugin build`
//! and `gate plugin inspect` show this; [`Runtime::world_of`] uses the same
//! version check, so `gate policy lint` names a component of another WIT
//! version instead of a missing import.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, InstancePre};

use super::call::with_deadline;
use super::catalog::PluginMeta;
use super::runner::Runtime;
use super::source::{PluginError, PluginSource};
use super::world::World;
use crate::bindings::CheckPre;
use crate::bindings::strategy::StrategyPre;
use crate::bindings::validator::MigrationValidatorPre;
use crate::capabilities::{HostState, Sandbox};
use crate::grants::Grants;
use gate_core::clock::Clock;

/// The WIT package's name, without its version.
pub const PACKAGE_NAME: &str = "gate:plugin";

/// The released `gate:plugin` versions this host runs (each frozen under
/// `wit/vX.Y.Z/`).
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.0", "0.1.1", "0.1.2"];

/// One imported item's name, as the component model spells it:
/// `namespace:package/interface@version` for an interface
/// (`gate:plugin/http@0.1.0`, `wasi:io/streams@0.2.6`), a plain name otherwise.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ImportName(pub String);

impl ImportName {
    /// `namespace:package`, for an interface.
    pub fn package(&self) -> Option<&str> {
        let (package, _) = self.0.split_once('/')?;
        package.contains(':').then_some(package)
    }

    /// The interface's name (`http`), for an interface.
    pub fn interface(&self) -> Option<&str> {
        let (_, rest) = self.0.split_once('/')?;
        Some(rest.split_once('@').map_or(rest, |(name, _)| name))
    }

    /// The package version (`0.1.0`), when the name carries one.
    pub fn version(&self) -> Option<&str> {
        self.package()?;
        self.0.rsplit_once('@').map(|(_, v)| v)
    }

    pub fn is_gate(&self) -> bool {
        self.package() == Some(PACKAGE_NAME)
    }

    pub fn is_wasi(&self) -> bool {
        self.package().is_some_and(|p| p.starts_with("wasi:"))
    }
}

/// Every item `component` imports, sorted.
pub fn imports(component: &Component, engine: &wasmtime::Engine) -> Vec<ImportName> {
    let ty = component.component_type();
    let mut names: Vec<ImportName> = ty
        .imports(engine)
        .map(|(name, _)| ImportName(name.to_string()))
        .collect();
    names.sort();
    names
}

/// The `gate:plugin` version a component with these imports was built
/// against: `Ok(None)` when it imports nothing of the package (its exports
/// alone then decide), an error when it is not a version this host runs.
pub fn wit_version(
    name: &str,
    path: &str,
    imports: &[ImportName],
) -> Result<Option<String>, PluginError> {
    let versions: BTreeSet<&str> = imports
        .iter()
        .filter(|i| i.is_gate())
        .map(|i| i.version().unwrap_or("(none)"))
        .collect();
    let unsupported =
        versions.len() > 1 || versions.iter().any(|v| !SUPPORTED_VERSIONS.contains(v));
    if unsupported {
        return Err(PluginError::UnsupportedWit {
            name: name.to_string(),
            path: path.to_string(),
            found: versions
                .iter()
                .map(|v| format!("{PACKAGE_NAME}@{v}"))
                .collect::<Vec<_>>()
                .join(" and "),
            supported: SUPPORTED_VERSIONS
                .iter()
                .map(|v| format!("{PACKAGE_NAME}@{v}"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(versions.into_iter().next().map(str::to_string))
}

/// The world whose exports `pre` has, if any.
pub(super) fn exported_world(pre: &InstancePre<HostState>) -> Option<World> {
    World::ALL.into_iter().find(|w| match w {
        World::Check => CheckPre::new(pre.clone()).is_ok(),
        World::Strategy => StrategyPre::new(pre.clone()).is_ok(),
        World::MigrationValidator => MigrationValidatorPre::new(pre.clone()).is_ok(),
    })
}

/// What [`Runtime::inspect`] found.
#[derive(Clone, Debug)]
pub struct Inspection {
    pub world: World,
    /// The `gate:plugin` version of its imports (`0.1.0`); `None` when it
    /// imports nothing of the package.
    pub wit_version: Option<String>,
    /// What its `describe()` returned (for a strategy, `checks` are its
    /// strategies; for a validator, its rules).
    pub meta: PluginMeta,
    pub imports: Vec<ImportName>,
    /// Compiling it from scratch with this host's engine, never from a cache.
    pub compile: Duration,
    /// The code generator that compiled it (`GATE_COMPILER`).
    pub compiler: crate::engine::Compiler,
}

impl Runtime {
    /// Compiles `source` cold (bypassing every cache, so `compile` is what a
    /// first run pays), checks its `gate:plugin` version, finds its world and
    /// asks it to describe itself with no grants, in a fresh store under the
    /// default limits. Blocking for the compile; async for the call.
    pub async fn inspect(
        &self,
        source: &PluginSource,
        cwd: &Path,
        clock: Clock,
    ) -> Result<Inspection, PluginError> {
        let path = shown_path(source);
        let not_loadable = |error: String| PluginError::NotLoadable {
            name: source.name.clone(),
            path: path.clone(),
            error,
        };
        let started = Instant::now();
        let component = Component::new(&self.engine.engine, &source.wasm)
            .map_err(|e| not_loadable(format!("{e:#}")))?;
        let compile = started.elapsed();
        let imports = imports(&component, &self.engine.engine);
        let wit_version = wit_version(&source.name, &path, &imports)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| not_loadable(format!("{e:#}")))?;
        let world = exported_world(&pre).ok_or_else(|| unknown_world(source))?;
        let sandbox = Arc::new(Sandbox::new(&source.name, Grants::default(), cwd, clock));
        let info = self
            .describe_any(world, pre, &sandbox)
            .await
            .map_err(|error| PluginError::Invalid {
                name: source.name.clone(),
                error,
            })?;
        Ok(Inspection {
            world,
            wit_version,
            meta: info.into(),
            imports,
            compile,
            compiler: self.engine.compiler,
        })
    }

    /// `describe()` of a component of any world, in a fresh store.
    async fn describe_any(
        &self,
        world: World,
        pre: InstancePre<HostState>,
        sandbox: &Arc<Sandbox>,
    ) -> Result<crate::bindings::gate::plugin::types::PluginInfo, String> {
        let mut store = self
            .new_store(sandbox, "describe")
            .map_err(|e| e.to_string())?;
        let typed = |e: wasmtime::Error| format!("{e:#}");
        match world {
            World::Check => {
                let pre = CheckPre::new(pre).map_err(typed)?;
                with_deadline(&mut store, sandbox, "describe()", async |store| {
                    pre.instantiate_async(&mut *store)
                        .await?
                        .call_describe(store)
                        .await
                })
                .await
            }
            World::Strategy => {
                let pre = StrategyPre::new(pre).map_err(typed)?;
                with_deadline(&mut store, sandbox, "describe()", async |store| {
                    pre.instantiate_async(&mut *store)
                        .await?
                        .call_describe(store)
                        .await
                })
                .await
            }
            World::MigrationValidator => {
                let pre = MigrationValidatorPre::new(pre).map_err(typed)?;
                with_deadline(&mut store, sandbox, "describe()", async |store| {
                    pre.instantiate_async(&mut *store)
                        .await?
                        .call_describe(store)
                        .await
                })
                .await
            }
        }
    }
}

pub(super) fn unknown_world(source: &PluginSource) -> PluginError {
    PluginError::UnknownWorld {
        name: source.name.clone(),
        path: shown_path(source),
        worlds: World::ALL.map(|w| w.name()).join(", "),
        package: World::PACKAGE,
    }
}

pub(super) fn shown_path(source: &PluginSource) -> String {
    source
        .path
        .as_ref()
        .map_or_else(|| "(built in)".to_string(), |p| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<ImportName> {
        list.iter().map(|s| ImportName(s.to_string())).collect()
    }

    #[test]
    fn import_names_are_split_into_package_interface_and_version() {
        let http = ImportName("gate:plugin/http@0.1.0".into());
        assert_eq!(http.package(), Some("gate:plugin"));
        assert_eq!(http.interface(), Some("http"));
        assert_eq!(http.version(), Some("0.1.0"));
        assert!(http.is_gate() && !http.is_wasi());
        let streams = ImportName("wasi:io/streams@0.2.6".into());
        assert!(streams.is_wasi() && !streams.is_gate());
        assert_eq!(streams.interface(), Some("streams"));
        let plain = ImportName("describe".into());
        assert_eq!(
            (plain.package(), plain.interface(), plain.version()),
            (None, None, None)
        );
        let unversioned = ImportName("gate:plugin/log".into());
        assert_eq!(unversioned.version(), None);
    }

    #[test]
    fn only_the_supported_version_is_accepted() {
        let ok = names(&[
            "gate:plugin/types@0.1.0",
            "gate:plugin/files@0.1.0",
            "wasi:io/error@0.2.6",
        ]);
        assert_eq!(
            wit_version("p", "p.wasm", &ok).unwrap().as_deref(),
            Some("0.1.0")
        );
        assert_eq!(
            wit_version("p", "p.wasm", &names(&["wasi:cli/environment@0.2.6"])).unwrap(),
            None
        );
        let newer = names(&["gate:plugin/types@0.2.0"]);
        let e = wit_version("p", "p.wasm", &newer).unwrap_err().to_string();
        assert!(
            e.contains("gate:plugin@0.2.0") && e.contains("gate:plugin@0.1.0"),
            "{e}"
        );
        let mixed = names(&["gate:plugin/types@0.1.0", "gate:plugin/log@0.1.1"]);
        let e = wit_version("p", "p.wasm", &mixed).unwrap_err().to_string();
        assert!(e.contains("gate:plugin@0.1.0 and gate:plugin@0.1.1"), "{e}");
        let unversioned = names(&["gate:plugin/types"]);
        assert!(wit_version("p", "p.wasm", &unversioned).is_err());
    }
}
