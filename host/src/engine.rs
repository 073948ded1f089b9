//! The shared wasmtime engine: async, epoch-interrupted, pooling-allocated.
//!
//! One engine serves every plugin in a process. A background thread advances
//! the epoch every [`EPOCH_TICK`]; each store yields to tokio at every tick, so
//! a `tokio::time::timeout` around a call can end even an infinite loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; the granularity of timeouts inside guest code.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Largest `memory_mb` a policy may grant; also the pooling slot size.
pub const MAX_MEMORY_MB: u64 = 1024;

/// Guest stack limit; the async (fiber) stack is sized above it, as wasmtime requires.
const MAX_WASM_STACK: usize = 1 << 20;
const ASYNC_STACK: usize = 4 << 20;

/// How many stores may be alive at once; checks beyond this wait for a slot.
pub const MAX_CONCURRENT_STORES: usize = 64;

/// Which code generator compiles plugins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compiler {
    /// Optimising, Tier 1 in wasmtime: the default.
    Cranelift,
    /// Baseline compiler: about 5x faster to compile, slower code. For
    /// runners that start with an empty cache every time.
    Winch,
}

impl Compiler {
    /// Environment variable that selects the compiler.
    pub const ENV: &'static str = "GATE_COMPILER";

    pub fn from_env() -> Result<Compiler> {
        match std::env::var(Self::ENV).ok().as_deref().map(str::trim) {
            None | Some("") | Some("cranelift") => Ok(Compiler::Cranelift),
            Some("winch") => Ok(Compiler::Winch),
            Some(other) => anyhow::bail!("{}=`{other}`: use `cranelift` or `winch`", Self::ENV),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compiler::Cranelift => "cranelift",
            Compiler::Winch => "winch",
        }
    }
}

pub struct GateEngine {
    pub engine: Engine,
    pub pooling: bool,
    pub compiler: Compiler,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl GateEngine {
    /// Builds the engine with the pooling allocator, falling back to on-demand
    /// allocation where the pool cannot reserve its address space.
    pub fn new() -> Result<Self> {
        Self::with_pooling(true)
    }

    /// `pooling = false` forces on-demand allocation (benches compare both).
    pub fn with_pooling(pooling: bool) -> Result<Self> {
        let compiler = Compiler::from_env()?;
        let (engine, pooling) = match Engine::new(&config(pooling, compiler)) {
            Ok(engine) => (engine, true),
            Err(e) => {
                tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation");
                (
                    Engine::new(&config(false, compiler))
                        .map_err(|e| anyhow::anyhow!("creating the wasmtime engine: {e:#}"))?,
                    false,
                )
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("gate-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .context("starting the epoch thread")?
        };
        Ok(GateEngine {
            engine,
            pooling,
            compiler,
            stop,
            ticker: Some(ticker),
        })
    }

    /// A stable text form of the engine's compatibility hash, for cache keys.
    pub fn compatibility_key(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        format!("{}-{:016x}", self.compiler.name(), h.finish())
    }
}

impl Drop for GateEngine {
    fn drop(&mut self) {
        // Not joined: the thread notices within one tick, and waiting for it
        // would add a tick to every process exit.
        self.stop.store(true, Ordering::Relaxed);
        drop(self.ticker.take());
    }
}

fn config(pooling: bool, compiler: Compiler) -> Config {
    let mut config = Config::new();
    config.strategy(match compiler {
        Compiler::Cranelift => wasmtime::Strategy::Cranelift,
        Compiler::Winch => wasmtime::Strategy::Winch,
    });
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
        // Without backtraces the address map is dead weight in every cache
        // entry (about a third of its size), and loading it costs start-up time.
        .generate_address_map(false);
    if pooling {
        let mut pool = PoolingAllocationConfig::new();
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
            .linear_memory_keep_resident(1 << 20)
            .max_unused_warm_slots(stores);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}
