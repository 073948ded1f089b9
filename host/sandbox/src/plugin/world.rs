//! Which world of the WIT package a component implements. A pinned plugin is
//! only useful where its world is expected: a policy's `[[plugin]]` must be a
//! `check` component, a rollout's custom strategy a `strategy` one.

use std::fmt;

use super::runner::Runtime;
use super::source::{PluginError, PluginSource};
use crate::bindings::CheckPre;
use crate::bindings::strategy::StrategyPre;
use crate::bindings::validator::MigrationValidatorPre;
use crate::capabilities::HostState;

/// The worlds of `gate:plugin` that the host can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum World {
    Check,
    Strategy,
    MigrationValidator,
}

impl World {
    /// The WIT package every world belongs to, at the version this host speaks.
    pub const PACKAGE: &'static str = "gate:plugin@0.1.0";
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
    /// implements: its imports must link against this host's interfaces (the
    /// same package version) and its exports must have one world's types.
    /// Blocking, like [`Runtime::compile`].
    pub fn world_of(&self, source: &PluginSource) -> Result<World, PluginError> {
        let (pre, _) = self.instance_pre(source).map_err(|e| match e {
            PluginError::Invalid { name, error } => PluginError::NotLoadable {
                name,
                path: shown_path(source),
                error,
            },
            other => other,
        })?;
        let world = World::ALL.into_iter().find(|w| exports(*w, &pre));
        world.ok_or_else(|| PluginError::UnknownWorld {
            name: source.name.clone(),
            path: shown_path(source),
            worlds: World::ALL.map(|w| w.name()).join(", "),
            package: World::PACKAGE,
        })
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

fn exports(world: World, pre: &wasmtime::component::InstancePre<HostState>) -> bool {
    match world {
        World::Check => CheckPre::new(pre.clone()).is_ok(),
        World::Strategy => StrategyPre::new(pre.clone()).is_ok(),
        World::MigrationValidator => MigrationValidatorPre::new(pre.clone()).is_ok(),
    }
}

fn shown_path(source: &PluginSource) -> String {
    source
        .path
        .as_ref()
        .map_or_else(|| "(built in)".to_string(), |p| p.display().to_string())
}
