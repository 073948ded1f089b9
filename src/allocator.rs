//! How glibc's allocator grows its heaps in a `gate` process.
//!
//! A `gate evaluate` starts a dozen threads in a few milliseconds: tokio's
//! workers, the built-ins' loading threads, and a thread for each check of a
//! plugin granted directories. Left to its defaults, glibc gives most of
//! them an arena of their own, and an arena other than the main one grows
//! its heap one page at a time, an `mprotect` for every page it needs. On the
//! example policy that was about 80 `mprotect` calls a run, besides the
//! arenas' own `mmap`/`munmap`. Each one takes the process's address-space
//! lock for writing, so the threads loading plugins and running checks,
//! which fault pages in under the same lock, waited on one another
//! (docs/benchmarks.md, "Eleventh pass").
//!
//! [`tune`] sets two of glibc's knobs before any thread starts:
//!
//! - `M_TOP_PAD`, the room a heap is given beyond what it needs, to
//!   [`TOP_PAD`]: a new arena's heap is made writable for that much at once.
//!   Its untouched pages cost nothing (the kernel backs them when first
//!   written), and a heap is trimmed only once that much of its top is free.
//! - `M_ARENA_MAX`, the most arenas, to [`ARENAS_PER_CPU`] times the number
//!   of CPUs (glibc's default is eight times): more threads than that share
//!   arenas instead of each mapping its own. With one per CPU, a `migrate
//!   lint` of 1,000 files, whose two validator threads then share an arena
//!   with the runtime's, was 2.7% slower (15 paired runs); the example
//!   policy's time and peak RSS were the same with one or two.
//!
//! Other C libraries (musl) and other systems keep their own behaviour.

/// How far past its need a heap grows at once.
pub const TOP_PAD: usize = 16 << 20;

/// The most arenas for each CPU.
pub const ARENAS_PER_CPU: usize = 2;

/// Sets the allocator's growth knobs; call it first in `main`, before any
/// thread starts. A knob the C library refuses keeps its default.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let arenas = std::thread::available_parallelism().map_or(1, |n| n.get()) * ARENAS_PER_CPU;
        let arenas = libc::c_int::try_from(arenas).unwrap_or(libc::c_int::MAX);
        let pad = libc::c_int::try_from(TOP_PAD).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only changes the allocator's parameters; it is
        // called before any other thread exists, and both values are in the
        // ranges glibc accepts (it returns 0 for one it does not).
        unsafe {
            libc::mallopt(libc::M_TOP_PAD, pad);
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
