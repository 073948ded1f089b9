//! Which world of the WIT package a component implements. A pinned plugin is
//! only useful where its world is expected: a policy's `[[plugin]]` must be a
//! `check` component, a rollout's custom strategy a `strategy` one.

use std::fmt;

use super::inspect::{exported_world, shown_path, unknown_world};
use super::runner::Runtime;
use super::source::{PluginError, PluginSource};

/// The worlds of `gate:plugin` that the host can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum World {
    Check,
    Strategy,
    MigrationValidator,
}

impl World {
    /// The WIT package every world belongs to, at the version new plugins
    /// are built against (every version this host runs:
    /// [`SUPPORTED_VERSIONS`](super::inspect::SUPPORTED_VERSIONS)).
    pub const PACKAGE: &'static str = "gate:plugin@0.1.1";
    pub const ALL: [World; 3] = [World::Check, World::Strategy, World::MigrationValidator];

    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Self::PACKAGE, self.name())
    }
}

impl Runtime {
    /// Compiles (or loads from the cache) `source` and finds the world it
    /// implements: its imports must be of a `gate:plugin` version this host
    /// runs and link against this host's interfaces, and its exports must
    /// have one world's types. Blocking, like [`Runtime::compile`].
    pub fn world_of(&self, source: &PluginSource) -> Result<World, PluginError> {
        let not_loadable = |e: wasmtime::Error| PluginError::NotLoadable {
            name: source.name.clone(),
            path: shown_path(source),
            error: format!("{e:#}"),
        };
        let (component, _) = self.component(source).map_err(not_loadable)?;
        let imports = super::inspect::imports(&component, &self.engine.engine);
        super::inspect::wit_version(&source.name, &shown_path(source), &imports)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(not_loadable)?;
        exported_world(&pre).ok_or_else(|| unknown_world(source))
    }

    /// [`Runtime::world_of`], requiring `expected`.
    pub fn expect_world(&self, source: &PluginSource, expected: World) -> Result<(), PluginError> {
        match self.world_of(source)? {
            found if found == expected => Ok(()),
            found => Err(PluginError::WrongWorld {
                name: source.name.clone(),
                path: shown_path(source),
                found,
                expected,
            }),
        }
    }
}
