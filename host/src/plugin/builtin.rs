//! Built-in plugins, compiled into the binary by host/build.rs.

/// A plugin shipped inside the `gate` binary.
pub struct Builtin {
    pub name: &'static str,
    pub wasm: &'static [u8],
    /// sha256 of `wasm`, computed at build time.
    pub sha256: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Directory holding every plugin component the build produced, test plugins
/// included. Used by tests and benches, never at run time.
pub const PLUGIN_BUILD_DIR: &str = env!("GATE_PLUGIN_BUILD_DIR");
