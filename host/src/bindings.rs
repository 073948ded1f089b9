//! Host-side bindings of the WIT package `gate:plugin@0.1.0` (wit/gate-plugin.wit).
//!
//! Every import is async (host calls do I/O under a deadline) and trappable (a
//! plugin that overruns its output budget is stopped).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "gate:plugin/check",
    imports: { default: async | trappable },
    exports: { default: async },
});
