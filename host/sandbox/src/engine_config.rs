// The wasmtime `Config` shared by the runtime (`engine.rs`) and the build
// script (`host/sandbox/build.rs`), which precompiles the built-in plugins with it.
// Both `include!` this file, so it names everything by full path and uses
// nothing but wasmtime: any setting that changes generated code must be made
// here, once, or the embedded code stops matching the running engine (which
// then falls back to compiling, correctly but slowly).

/// Largest `memory_mb` a policy may grant; also the pooling slot size.
pub const MAX_MEMORY_MB: u64 = 1024;

/// Guest stack limit; the async (fiber) stack is sized above it, as wasmtime requires.
const MAX_WASM_STACK: usize = 1 << 20;
const ASYNC_STACK: usize = 4 << 20;

/// How many stores may be alive at once; checks beyond this wait for a slot.
pub const MAX_CONCURRENT_STORES: usize = 64;

/// The engine configuration for `strategy`. `pooling` only chooses how
/// instances are allocated; wasmtime documents that it never changes the
/// compiled code, so the build script can precompile without a pool.
fn engine_config(pooling: bool, strategy: wasmtime::Strategy) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.strategy(strategy);
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .parallel_compilation(true)
        // Reasons name the plugin and the limit; raw wasm backtraces would
        // only bury them (the guest's own panic message is captured instead).
        .wasm_backtrace_max_frames(None)
        // Without backtraces the address map is dead weight in every
        // precompiled artifact (about a third of its size), and loading it
        // costs start-up time.
        .generate_address_map(false);
    if pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        let stores = MAX_CONCURRENT_STORES as u32;
        pool.total_component_instances(stores)
            .total_core_instances(stores * 8)
            .max_core_instances_per_component(16)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            .total_memories(stores * 4)
            .total_tables(stores * 8)
            .total_stacks(stores)
            .max_memory_size((MAX_MEMORY_MB as usize) << 20)
            .max_component_instance_size(1 << 20)
            .max_core_instance_size(1 << 20)
            .table_elements(20_000)
            // What a check's fresh instance costs (benches/evaluate.rs,
            // echo plugin): 38 us with 1 MiB of each memory kept resident
            // and every slot decommitted as it is freed; 17 us with 64 KiB
            // kept (pages a plugin touches first: its stack top and data)
            // and slots decommitted 32 at a time, in one call. A queued slot
            // is never handed out before it is reset.
            .linear_memory_keep_resident(64 << 10)
            .table_keep_resident(64 << 10)
            .decommit_batch_size(32)
            .max_unused_warm_slots(stores);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    config
}
