//! Host-side bindings of the WIT package `gate:plugin@0.1.0` (wit/v0.1.0/gate-plugin.wit, frozen).
//!
//! Every import is async (host calls do I/O under a deadline) and trappable (a
//! plugin that overruns its output budget is stopped).

wasmtime::component::bindgen!({
    path: "../../wit/v0.1.0",
    world: "gate:plugin/check",
    imports: { default: async | trappable },
    exports: { default: async },
});

/// Bindings of a world whose imports (`log`, `clock`) and shared types are the
/// check world's, so one `HostState` serves it too.
macro_rules! world_sharing_check_imports {
    ($world:tt) => {
        wasmtime::component::bindgen!({
            path: "../../wit/v0.1.0",
            world: $world,
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "gate:plugin/types": crate::bindings::gate::plugin::types,
                "gate:plugin/log": crate::bindings::gate::plugin::log,
                "gate:plugin/clock": crate::bindings::gate::plugin::clock,
            },
        });
    };
}

/// Bindings of the `migration-validator` world.
pub mod validator {
    world_sharing_check_imports!("gate:plugin/migration-validator");
}

/// Bindings of the `strategy` world: pure decision logic.
pub mod strategy {
    world_sharing_check_imports!("gate:plugin/strategy");
}
