//! The secret scanner's built-in starts with its detectors built: the build
//! called its `prepare` export once and snapshotted the instance
//! (host/sandbox/build.rs, `PREPARED`). Building a regex reaches for the
//! host (the standard library seeds the hash map of capture names from
//! `wasi:random`), so calling `prepare` again with every import trapping
//! succeeds only when the work is already in the component's initial state.

use gate_sandbox::plugin::BUILTINS;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

/// Calls `prepare` on `wasm` with every import trapping.
fn prepare_without_the_host(wasm: &[u8]) -> Result<(), String> {
    let engine = Engine::new(Config::new().wasm_component_model(true)).unwrap();
    let component = Component::new(&engine, wasm).map_err(|e| format!("{e:#}"))?;
    let mut linker = Linker::new(&engine);
    linker.define_unknown_imports_as_traps(&component).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker
        .instantiate(&mut store, &component)
        .map_err(|e| format!("{e:#}"))?;
    let prepare = instance
        .get_typed_func::<(), ()>(&mut store, "prepare")
        .map_err(|e| format!("{e:#}"))?;
    prepare.call(&mut store, ()).map_err(|e| format!("{e:#}"))
}

#[test]
fn the_security_builtin_starts_with_its_detectors_built() {
    let security = BUILTINS.iter().find(|b| b.name == "security").unwrap();
    assert!(security.prepared);
    prepare_without_the_host(security.wasm).unwrap();
}

/// The control: the same plugin as cargo built it, before the snapshot,
/// cannot build its detectors without the host.
#[test]
fn the_plugin_as_built_needs_the_host_to_prepare() {
    let built =
        std::path::Path::new(env!("GATE_PLUGIN_BUILD_DIR")).join("gate_plugin_security.wasm");
    let wasm = std::fs::read(&built).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
    let err = prepare_without_the_host(&wasm).unwrap_err();
    assert!(err.contains("wasi:random/insecure-seed"), "{err}");
}
