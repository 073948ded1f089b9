//! What one check's store may hold: a single memory budget for all of the
//! plugin's linear memories and tables together, and a cap on host handles.
//!
//! wasmtime's `StoreLimits` bounds each linear memory on its own, so a
//! component with several core modules (or one module with several memories)
//! could hold `memory_mb` once per memory. [`StoreBudget`] sums every memory
//! and table the store creates or grows instead.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTableError;

/// Why a store was stopped: it asked for more memory than its plugin's
/// `memory_mb`. Carried as the error's source so [`crate::plugin::explain`]
/// can name the plugin and the limit whatever wasmtime wraps it in.
#[derive(Debug, thiserror::Error)]
#[error(
    "memory limit of {limit_mib} MiB exceeded (plugin `{plugin}` memory_mb): its linear memories and tables together would need {wanted_mib} MiB"
)]
pub struct MemoryCapExceeded {
    pub plugin: String,
    pub limit_mib: usize,
    pub wanted_mib: usize,
}

/// The memory budget of one store, shared by all of its memories and tables.
pub struct StoreBudget {
    plugin: String,
    limit: usize,
    used: usize,
}

impl StoreBudget {
    pub fn new(plugin: &str, limit_bytes: usize) -> Self {
        StoreBudget {
            plugin: plugin.to_string(),
            limit: limit_bytes,
            used: 0,
        }
    }

    /// Bytes currently held by the store's memories and tables.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Charges `current → desired` bytes of one memory or table. Over the
    /// limit it fails (a trap, not a `-1` from `memory.grow`), as before:
    /// guests written in Rust abort on allocation failure anyway, and a trap
    /// carries the reason out to the report.
    fn charge(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
        let total = self.used.saturating_add(desired.saturating_sub(current));
        if total > self.limit {
            return Err(MemoryCapExceeded {
                plugin: self.plugin.clone(),
                limit_mib: self.limit >> 20,
                wanted_mib: total.div_ceil(1 << 20),
            }
            .into());
        }
        self.used = total;
        Ok(true)
    }
}

impl ResourceLimiter for StoreBudget {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            // The memory's own maximum: wasmtime refuses the growth itself.
            return Ok(false);
        }
        self.charge(current, desired)
    }

    /// A growth that was allowed but failed (the memory's type or the
    /// allocator refused) ends the store, so nothing needs refunding.
    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(error.context("growing memory failed"))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        // wasmtime stores one pointer per table element.
        let element = std::mem::size_of::<usize>();
        self.charge(
            current.saturating_mul(element),
            desired.saturating_mul(element),
        )
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(error.context("growing a table failed"))
    }
}

/// The reason for a store stopped by a limit of this module, if it was.
pub fn limit_reason(e: &wasmtime::Error, plugin: &str, handles: usize) -> Option<String> {
    for cause in e.chain() {
        if let Some(cap) = cause.downcast_ref::<MemoryCapExceeded>() {
            return Some(cap.to_string());
        }
        if let Some(ResourceTableError::Full) = cause.downcast_ref::<ResourceTableError>() {
            return Some(format!(
                "host handle limit of {handles} exceeded (plugin `{plugin}`): a check may hold at most \
                 {handles} open files, directories and streams at once"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::{Module, Store};

    /// A core module with two linear memories of `pages` 64 KiB pages each.
    fn two_memories(pages: u32) -> Vec<u8> {
        let mut leb = Vec::new();
        let mut n = pages;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                leb.push(byte);
                break;
            }
            leb.push(byte | 0x80);
        }
        let mut memory = vec![0x00];
        memory.extend(&leb);
        let mut section = vec![2u8];
        section.extend(&memory);
        section.extend(&memory);
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(5); // memory section
        wasm.push(section.len() as u8);
        wasm.extend(section);
        wasm
    }

    fn instantiate(pages: u32, limit_mib: usize) -> (wasmtime::Result<()>, usize) {
        // The production engine, without pooling (its slots would bound each
        // memory too, hiding what the limiter does).
        let engine = crate::engine::GateEngine::with_pooling(false).unwrap();
        let module = Module::new(&engine.engine, two_memories(pages)).unwrap();
        let mut store = Store::new(&engine.engine, StoreBudget::new("multi", limit_mib << 20));
        store.limiter(|b| b);
        let result = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(wasmtime::Instance::new_async(&mut store, &module, &[]))
            .map(|_| ());
        let used = store.data().used();
        (result, used)
    }

    #[test]
    fn memories_share_one_budget() {
        // Two memories of 40 MiB each: each fits 64 MiB, together they do not.
        let (result, _) = instantiate(640, 64);
        let e = result.expect_err("two 40 MiB memories must not fit a 64 MiB budget");
        let reason = limit_reason(&e, "multi", 256).unwrap_or_else(|| format!("{e:#}"));
        assert!(
            reason.contains("memory limit of 64 MiB exceeded (plugin `multi` memory_mb)"),
            "{reason}"
        );
        assert!(reason.contains("would need 80 MiB"), "{reason}");
    }

    #[test]
    fn memories_within_the_budget_are_counted_and_allowed() {
        let (result, used) = instantiate(640, 128);
        result.unwrap();
        assert_eq!(used, 2 * 640 * 65536);
    }

    #[test]
    fn tables_count_against_the_same_budget() {
        let mut budget = StoreBudget::new("tables", 1 << 20);
        assert!(budget.table_growing(0, 1000, None).unwrap());
        assert_eq!(budget.used(), 1000 * std::mem::size_of::<usize>());
        assert!(budget.memory_growing(0, 65536 * 15, None).unwrap());
        let e = budget.memory_growing(0, 65536, None).unwrap_err();
        assert!(e.to_string().contains("plugin `tables` memory_mb"), "{e}");
    }
}
