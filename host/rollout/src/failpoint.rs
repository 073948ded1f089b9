//! Failpoints for the crash-safety tests: `gate rollout --failpoint NAME[:N]`
//! (a hidden flag) kills the process with SIGKILL the N-th time (default 1st)
//! the controller passes NAME. Names: `after-intent`, `after-router-write`
//! (the router changed, the state not yet), `after-state-write` (a step
//! boundary), `after-analysis`, `in-replace` (rolling: drained and stopped,
//! not yet started).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

static SPEC: OnceLock<Option<(String, u32)>> = OnceLock::new();
static HITS: AtomicU32 = AtomicU32::new(0);

pub fn configure(spec: Option<&str>) {
    let parsed = spec.map(|s| match s.split_once(':') {
        Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1)),
        None => (s.to_string(), 1),
    });
    let _ = SPEC.set(parsed);
}

pub fn hit(name: &str) {
    let Some(Some((want, n))) = SPEC.get() else {
        return;
    };
    if want != name {
        return;
    }
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        eprintln!("failpoint {name}:{n}: killing gate rollout");
        // SAFETY: sending a signal to ourselves.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
