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
use wasmtime::{Config, Engine};

/// How often the epoch advances; the granularity of timeouts inside guest code.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Which code generator compiles plugins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
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
        self.into()
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
            Ok(engine) => (engine, pooling),
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
    let mut config = engine_config(
        pooling,
        match compiler {
            Compiler::Cranelift => wasmtime::Strategy::Cranelift,
            Compiler::Winch => wasmtime::Strategy::Winch,
        },
    );
    // Lets built-ins run from the executable's own pages
    // (plugin::mapped). Not a compilation setting: the embedded code still
    // matches (wasmtime leaves it out of the compatibility hash).
    if cfg!(target_arch = "x86_64") {
        config.with_custom_code_memory(Some(Arc::new(crate::plugin::mapped_code_memory())));
    }
    // The pooling allocator keeps its own stacks; on demand, stores take
    // theirs from a pool instead of mapping a new one each (crate::stacks).
    if !pooling {
        config.with_host_stack(Arc::new(crate::stacks::StackPool::new()));
    }
    config
}

// The `Config` itself lives in a file that host/sandbox/build.rs includes too: the
// build script precompiles the built-in plugins with it, and the code it embeds
// is only usable if both engines are configured identically.
include!("engine_config.rs");

#[cfg(test)]
mod tests {
    use super::GateEngine;

    /// `pooling` says how the engine allocates: on demand when asked for,
    /// not only when the pool could not be reserved.
    #[test]
    fn the_engine_reports_the_allocation_it_was_built_with() {
        assert!(!GateEngine::with_pooling(false).unwrap().pooling);
    }
}
