//! Fiber stacks kept for reuse by engines that allocate instances on demand.
//!
//! Every call into a plugin runs on a fiber stack of its own (4 MiB under a
//! guard page). Left to itself, an on-demand engine maps a new stack for
//! every store and unmaps it when the store is dropped: three system calls
//! per check, and the unmapping makes the kernel flush the other cores'
//! TLBs (docs/benchmarks.md, "Sixth pass").
//!
//! [`StackPool`] hands out stacks it made earlier: a dropped stack goes back
//! on a free list, up to [`KEPT`] of them, and the next store takes it. The
//! pooling allocator (`gate rollout`, `gate serve`) does the same with its
//! own stacks. What a reused stack still holds (frames of an earlier call)
//! is out of any plugin's reach: guest code addresses only its own linear
//! memory, never a native stack. When the engine asks for zeroed stacks, a
//! reused one is zeroed before it is handed out.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use wasmtime::{StackCreator, StackMemory};

/// The most stacks kept for reuse: as many as stores may be alive at once,
/// so a pool never holds more than the peak of one run.
pub const KEPT: usize = crate::engine::MAX_CONCURRENT_STORES;

/// One mapping: a guard page at its low end, the stack above it.
struct Mapping {
    base: usize,
    guard: usize,
    size: usize,
}

impl Mapping {
    fn new(size: usize, guard: usize) -> wasmtime::Result<Mapping> {
        let len = size + guard;
        // SAFETY: a fresh anonymous mapping at an address the kernel picks.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(wasmtime::format_err!(
                "mapping a {} KiB fiber stack: {}",
                len >> 10,
                std::io::Error::last_os_error()
            ));
        }
        let mapping = Mapping {
            base: base as usize,
            guard,
            size,
        };
        // SAFETY: the range lies inside the mapping just made, above its guard.
        let rc = unsafe {
            libc::mprotect(
                (mapping.base + guard) as *mut libc::c_void,
                size,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            drop(mapping);
            return Err(wasmtime::format_err!(
                "making a fiber stack writable: {error}"
            ));
        }
        Ok(mapping)
    }

    fn stack(&self) -> Range<usize> {
        self.base + self.guard..self.base + self.guard + self.size
    }

    /// Gives the stack's pages back; the next touch reads zeros.
    fn zero(&self) -> wasmtime::Result<()> {
        let stack = self.stack();
        // SAFETY: the stack range is private anonymous memory of this mapping,
        // not in use (it is off the free list, not yet handed out).
        let rc = unsafe {
            libc::madvise(
                stack.start as *mut libc::c_void,
                stack.len(),
                libc::MADV_DONTNEED,
            )
        };
        if rc != 0 {
            return Err(wasmtime::format_err!(
                "zeroing a fiber stack: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `Mapping::new` and nothing uses it.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.guard + self.size);
        }
    }
}

#[derive(Default)]
struct Free {
    stacks: Mutex<Vec<Mapping>>,
}

impl Free {
    fn take(&self, size: usize) -> Option<Mapping> {
        let mut stacks = self.stacks.lock().ok()?;
        let at = stacks.iter().rposition(|m| m.size == size)?;
        Some(stacks.swap_remove(at))
    }

    fn give_back(&self, mapping: Mapping) {
        if let Ok(mut stacks) = self.stacks.lock()
            && stacks.len() < KEPT
        {
            stacks.push(mapping);
        }
        // Otherwise the mapping drops here and is unmapped.
    }

    fn len(&self) -> usize {
        self.stacks.lock().map_or(0, |s| s.len())
    }
}

/// The engine's stack creator: reuses stacks dropped earlier.
#[derive(Clone, Default)]
pub struct StackPool {
    free: Arc<Free>,
}

impl StackPool {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stacks on the free list now.
    pub fn kept(&self) -> usize {
        self.free.len()
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

// SAFETY: every stack handed out is a live private mapping, page-aligned,
// with a PROT_NONE guard page below it, used by nothing else until wasmtime
// drops it (then it returns to the free list, never to two users at once).
unsafe impl StackCreator for StackPool {
    fn new_stack(&self, size: usize, zeroed: bool) -> wasmtime::Result<Box<dyn StackMemory>> {
        let page = page_size();
        let size = size.div_ceil(page) * page;
        let mapping = match self.free.take(size) {
            Some(kept) => {
                if zeroed {
                    kept.zero()?;
                }
                kept
            }
            // A fresh anonymous mapping is zeroed already.
            None => Mapping::new(size, page)?,
        };
        Ok(Box::new(PooledStack {
            mapping: Some(mapping),
            free: self.free.clone(),
        }))
    }
}

/// A stack on loan from a [`StackPool`]; dropping it returns it.
struct PooledStack {
    mapping: Option<Mapping>,
    free: Arc<Free>,
}

impl PooledStack {
    fn mapping(&self) -> &Mapping {
        self.mapping
            .as_ref()
            .expect("a stack on loan has its mapping")
    }
}

// SAFETY: see `StackCreator for StackPool`; the ranges describe that mapping.
unsafe impl StackMemory for PooledStack {
    fn top(&self) -> *mut u8 {
        self.mapping().stack().end as *mut u8
    }

    fn range(&self) -> Range<usize> {
        self.mapping().stack()
    }

    fn guard_range(&self) -> Range<*mut u8> {
        let m = self.mapping();
        m.base as *mut u8..(m.base + m.guard) as *mut u8
    }
}

impl Drop for PooledStack {
    fn drop(&mut self) {
        if let Some(mapping) = self.mapping.take() {
            self.free.give_back(mapping);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: usize = 256 << 10;

    #[test]
    fn a_dropped_stack_is_handed_out_again() {
        let pool = StackPool::new();
        let first = pool.new_stack(SIZE, false).unwrap();
        let top = first.top();
        assert_eq!(first.range().len(), SIZE);
        assert_eq!(first.range().end, top as usize);
        assert_eq!(first.guard_range().end as usize, first.range().start);
        drop(first);
        assert_eq!(pool.kept(), 1);
        let second = pool.new_stack(SIZE, false).unwrap();
        assert_eq!(second.top(), top, "the kept stack is reused");
        assert_eq!(pool.kept(), 0);
        // Two at once are two mappings.
        let third = pool.new_stack(SIZE, false).unwrap();
        assert_ne!(third.top(), top);
    }

    #[test]
    fn a_zeroed_stack_is_zero_even_when_reused() {
        let pool = StackPool::new();
        let stack = pool.new_stack(SIZE, false).unwrap();
        let range = stack.range();
        // SAFETY: the stack is on loan to this test, and writable.
        unsafe { std::ptr::write_bytes(range.start as *mut u8, 0xAB, range.len()) };
        drop(stack);
        let again = pool.new_stack(SIZE, true).unwrap();
        assert_eq!(again.range(), range);
        // SAFETY: as above.
        let bytes = unsafe { std::slice::from_raw_parts(range.start as *const u8, range.len()) };
        assert!(bytes.iter().all(|&b| b == 0));
    }

    #[test]
    fn stacks_of_another_size_are_not_mixed_up() {
        let pool = StackPool::new();
        drop(pool.new_stack(SIZE, false).unwrap());
        let bigger = pool.new_stack(2 * SIZE, false).unwrap();
        assert_eq!(bigger.range().len(), 2 * SIZE);
        assert_eq!(pool.kept(), 1, "the smaller one stays kept");
    }

    #[test]
    fn the_pool_keeps_at_most_its_bound() {
        let pool = StackPool::new();
        let many: Vec<_> = (0..KEPT + 3)
            .map(|_| pool.new_stack(4096 * 4, false).unwrap())
            .collect();
        drop(many);
        assert_eq!(pool.kept(), KEPT);
    }
}
