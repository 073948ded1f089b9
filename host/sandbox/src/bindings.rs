//! Host-side bindings of the WIT package `gate:plugin@0.1.2`
//! (wit/v0.1.2/gate-plugin.wit, frozen). 0.1.1 only added the world
//! `check-in-parts` to 0.1.0 and 0.1.2 the world
//! `migration-validator-in-parts`, so components built against 0.1.0 or
//! 0.1.1 link against these bindings unchanged: the linker matches their
//! `@0.1.0` and `@0.1.1` imports to the `@0.1.2` interfaces by the component
//! model's semver rules, and their exports have the same names and types.
//!
//! Every import is async (host calls do I/O under a deadline) and trappable (a
//! plugin that overruns its output budget is stopped).

wasmtime::component::bindgen!({
    path: "../../wit/v0.1.2",
    world: "gate:plugin/check",
    imports: { default: async | trappable },
    exports: { default: async },
});

/// Bindings of a world whose imports and shared types are the check world's,
/// so one `HostState` and one linker serve it too.
macro_rules! world_sharing_check_imports {
    ($world:tt) => {
        wasmtime::component::bindgen!({
            path: "../../wit/v0.1.2",
            world: $world,
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "gate:plugin": crate::bindings::gate::plugin,
            },
        });
    };
}

/// Bindings of the `check-in-parts` world: a check world whose runs can
/// split into parts (`plugin::parts`).
pub mod parts {
    world_sharing_check_imports!("gate:plugin/check-in-parts");
}

/// Bindings of the `migration-validator` world.
pub mod validator {
    world_sharing_check_imports!("gate:plugin/migration-validator");
}

/// Bindings of the `migration-validator-in-parts` world: a validator whose
/// runs can split into parts (`plugin::parts`).
pub mod validator_parts {
    world_sharing_check_imports!("gate:plugin/migration-validator-in-parts");
}

/// Bindings of the `strategy` world: pure decision logic.
pub mod strategy {
    world_sharing_check_imports!("gate:plugin/strategy");
}
