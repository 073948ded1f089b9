//! Failpoints for the crash tests: with `GATE_AUDIT_FAILPOINT=NAME`, an
//! append kills its own process with SIGKILL at NAME, as a power cut would.
//! Names: `mid-entry` (half the entry line written), `after-entry` (the
//! entry written and fsynced, no checkpoint yet), `mid-checkpoint` (half
//! the checkpoint written), `after-checkpoint` (both written, the saved
//! state not yet updated).

use std::sync::OnceLock;

fn armed_name() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| std::env::var("GATE_AUDIT_FAILPOINT").ok())
        .as_deref()
}

/// Whether the failpoint `name` is armed.
pub fn armed(name: &str) -> bool {
    armed_name() == Some(name)
}

/// Kills the process when the failpoint `name` is armed.
pub fn hit(name: &str) {
    if armed(name) {
        eprintln!("audit failpoint {name}: killing the process");
        // SAFETY: sending a signal to ourselves.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
