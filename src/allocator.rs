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
        let arenas = cpus().saturating_mul(ARENAS_PER_CPU as libc::c_int);
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

/// The CPUs this process may run on, from one `sched_getaffinity` call.
/// (`std::thread::available_parallelism` also reads the cgroup's CPU quota,
/// three more files at every start, and tokio asks it again for its
/// workers; the arena limit needs only the CPUs threads can run on.)
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn cpus() -> libc::c_int {
    // SAFETY: a zeroed cpu_set_t is a valid empty set, and sched_getaffinity
    // writes at most size_of::<cpu_set_t>() bytes into it.
    let count = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 1;
        }
        libc::CPU_COUNT(&set)
    };
    count.max(1)
}
