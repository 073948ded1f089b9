//! Built-in plugins, compiled into the binary by host/build.rs.

/// A plugin shipped inside the `gate` binary.
pub struct Builtin {
    pub name: &'static str,
    pub wasm: &'static [u8],
    /// sha256 of `wasm`, computed at build time.
    pub sha256: &'static str,
}

mod generated {
    use super::Builtin;
    include!(concat!(env!("OUT_DIR"), "/builtins.rs"));
}

/// Built-ins of the `migration-validator` world: they provide no checks and
/// are loaded by `gate migrate` and `config.migrations-tested`, not by gates.
pub const VALIDATORS: &[&str] = &["migrations"];

/// Built-ins of the `strategy` world, loaded by `gate rollout`.
pub const STRATEGIES: &[&str] = &["strategies"];

/// The built-in *check* plugins (validators are listed by [`validator`]).
pub struct Builtins(&'static [Builtin]);

impl Builtins {
    pub fn iter(&self) -> impl Iterator<Item = &'static Builtin> + use<> {
        let all: &'static [Builtin] = self.0;
        all.iter()
            .filter(|b| !VALIDATORS.contains(&b.name) && !STRATEGIES.contains(&b.name))
    }
}

pub static BUILTINS: Builtins = Builtins(generated::BUILTINS);

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
