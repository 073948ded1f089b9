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

/// The bytes, from the lowest to the highest, that the active data segments
/// of `wasm`'s core modules initialise: the span of the memory image wasmtime
/// writes out in every process that instantiates the component.
fn initial_memory_span(wasm: &[u8]) -> u64 {
    use wasmparser::{DataKind, Operator, Parser, Payload};
    let (mut low, mut high) = (u64::MAX, 0);
    for payload in Parser::new(0).parse_all(wasm) {
        let Payload::DataSection(segments) = payload.unwrap() else {
            continue;
        };
        for segment in segments {
            let segment = segment.unwrap();
            let DataKind::Active { offset_expr, .. } = segment.kind else {
                continue;
            };
            let Ok(Operator::I32Const { value }) = offset_expr.get_operators_reader().read() else {
                panic!("a data segment whose offset is not a constant");
            };
            let start = u64::from(value as u32);
            low = low.min(start);
            high = high.max(start + segment.data.len() as u64);
        }
    }
    high.saturating_sub(low)
}

/// What the snapshot holds is written into a memory image by every process
/// that runs a security check, before the first one starts (4.28 MB took
/// about 2 ms). Most of it is the compiled regexes; the onepass DFAs the
/// `regex` crate builds for capture groups were 40% of it, and the plugins
/// leave them out (plugins/Cargo.toml). A dependency that brings them back,
/// or a detector table that grows past this, fails here.
#[test]
fn the_security_builtins_snapshot_stays_under_three_mib() {
    let security = BUILTINS.iter().find(|b| b.name == "security").unwrap();
    let span = initial_memory_span(security.wasm);
    assert!(
        span > 1 << 20,
        "{span} bytes: the detectors are missing from the snapshot"
    );
    assert!(
        span <= 3 << 20,
        "the security built-in's initial memory spans {span} bytes"
    );
}
