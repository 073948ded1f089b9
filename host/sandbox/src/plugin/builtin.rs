//! Built-in plugins, compiled into the binary by host/sandbox/build.rs.
//!
//! Each comes with native code that the build precompiled with the runtime's
//! own engine configuration. It is deserialised straight from the binary's
//! bytes: built-ins never read or write the on-disk cache, so no cache entry,
//! shared or tampered with, can stand in for them.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::catalog::PluginMeta;
use crate::cache::CacheOutcome;
use crate::engine::Compiler;

/// A plugin shipped inside the `gate` binary.
pub struct Builtin {
    pub name: &'static str,
    pub wasm: &'static [u8],
    /// sha256 of `wasm`, computed at build time.
    pub sha256: &'static str,
    /// `wasm` precompiled by Cranelift for the build machine; empty when the
    /// build could not precompile it (a cross build).
    pub precompiled: &'static [u8],
    /// Pre-initialized at build time: the SDK's `prepare` export ran once and
    /// its state is the component's initial state (host/sandbox/build.rs).
    pub prepared: bool,
    /// What its `describe` export answered at build time, as the JSON of
    /// [`PluginMeta`] (host/sandbox/build/describe.rs); `None` for the
    /// validator and strategy worlds, which the runtime asks through their
    /// own bindings, and when nothing was precompiled (a cross build).
    pub meta: Option<&'static str>,
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builtin")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl Builtin {
    /// What this built-in's `describe()` answers, known without running it:
    /// the answer its code gave at build time. `None` where there is none,
    /// and the runtime asks the plugin instead.
    pub fn meta(&self) -> Option<PluginMeta> {
        serde_json::from_str(self.meta?)
            .inspect_err(|e| {
                tracing::debug!(
                    builtin = self.name,
                    "its build-time describe() is unreadable: {e}"
                )
            })
            .ok()
    }

    /// The `timeout_ms` this built-in's checks get when the policy sets none,
    /// where the sandbox's 10 s default is too short for the work: the
    /// `security` plugin's secret scanner reads every file under its paths,
    /// and a 1 GB tree takes about 20 s on the 2-core build machine.
    pub fn default_timeout_ms(&self) -> Option<u64> {
        match self.name {
            "security" => Some(120_000),
            _ => None,
        }
    }

    /// The built-in's code for `engine`: the embedded native code when it
    /// matches the engine, else compiled from the embedded wasm (Winch, or a
    /// CPU that lacks a feature the build machine had). Never the cache.
    pub fn component(
        &self,
        engine: &Engine,
        compiler: Compiler,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        if compiler == Compiler::Cranelift && !self.precompiled.is_empty() {
            // Mapped from the executable's own pages where it can be: no
            // copy, and only the pages a run touches are read.
            match super::mapped::component(engine, self.precompiled) {
                Ok(component) => return Ok((component, CacheOutcome::Embedded)),
                Err(e) => tracing::debug!(
                    plugin = self.name,
                    "embedded code not mapped in place ({e}); copying it"
                ),
            }
            // SAFETY: these bytes are part of this executable, produced at
            // build time by `Engine::precompile_component`; nothing outside
            // the binary can change them. wasmtime still checks its header
            // (version, target, flags, CPU features) against `engine` and
            // refuses code this engine cannot run.
            match unsafe { Component::deserialize(engine, self.precompiled) } {
                Ok(component) => return Ok((component, CacheOutcome::Embedded)),
                Err(e) => tracing::debug!(
                    plugin = self.name,
                    "embedded code does not match this engine ({e:#}); compiling"
                ),
            }
        }
        Ok((Component::new(engine, self.wasm)?, CacheOutcome::Compiled))
    }
}

/// Page-aligned bytes: a built-in's precompiled code starts on a page of
/// the executable file, so it can be mapped from it.
#[repr(C, align(4096))]
pub struct PageAligned<T: ?Sized>(pub T);

mod generated {
    use super::{Builtin, PageAligned};
    include!(concat!(env!("OUT_DIR"), "/builtins.rs"));
}

/// Built-ins of the `migration-validator` world: they provide no checks and
/// are loaded by `gate migrate` and `config.migrations-tested`, not by gates.
pub const VALIDATORS: &[&str] = &["migrations"];

/// Built-ins of the `strategy` world, loaded by `gate rollout`.
pub const STRATEGIES: &[&str] = &["strategies"];

/// The built-in *check* plugins (validators are listed by [`validator`]).
///
/// It reads `generated::BUILTINS` where it is used, never copies it into
/// another static: a static initialised from another's value gets its own
/// copy of every embedded blob (the binary once carried each plugin twice,
/// 46 MB more).
pub struct Builtins;

impl Builtins {
    pub fn iter(&self) -> impl Iterator<Item = &'static Builtin> + use<> {
        generated::BUILTINS
            .iter()
            .filter(|b| !VALIDATORS.contains(&b.name) && !STRATEGIES.contains(&b.name))
    }
}

pub static BUILTINS: Builtins = Builtins;

pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// A built-in migration validator by name.
pub fn validator(name: &str) -> Option<&'static Builtin> {
    generated::BUILTINS
        .iter()
        .find(|b| b.name == name && VALIDATORS.contains(&b.name))
}

/// A built-in strategy plugin by name.
pub fn strategy(name: &str) -> Option<&'static Builtin> {
    generated::BUILTINS
        .iter()
        .find(|b| b.name == name && STRATEGIES.contains(&b.name))
}

/// Directory holding every plugin component the build produced, test plugins
/// included. Used by tests and benches, never at run time.
pub const PLUGIN_BUILD_DIR: &str = env!("GATE_PLUGIN_BUILD_DIR");
