//! Resolving user paths against the plugin's `fs` grants.
//!
//! In the component, the host decides (`files.resolve`) and explains a denial by
//! naming the grant to add. Unit tests substitute a resolver rooted in a temp dir.

use gate_plugin_sdk::paths::GrantedPath;
use gate_plugin_sdk::{Context, Finding, Status};

pub trait Grants {
    /// Resolves a path as the user wrote it to the absolute path to open.
    fn resolve(&self, path: &str) -> Result<GrantedPath, String>;

    /// Reads a whole file of at most `max` bytes, found beneath a granted
    /// directory; an error when it is larger. Outside the sandbox (unit
    /// tests) through the standard library.
    fn read_whole(&self, absolute: &str, max: u64) -> Result<Vec<u8>, String> {
        let bytes = std::fs::read(absolute).map_err(|e| e.to_string())?;
        if bytes.len() as u64 > max {
            return Err(format!("larger than {max} bytes"));
        }
        Ok(bytes)
    }
}

/// The real thing: asks the host.
pub struct HostGrants;

impl Grants for HostGrants {
    fn resolve(&self, path: &str) -> Result<GrantedPath, String> {
        gate_plugin_sdk::paths::resolve(path)
    }

    /// One call into the host, which opens the file beneath its grant, reads
    /// and closes it: through WASI the same read takes a call for each step.
    fn read_whole(&self, absolute: &str, max: u64) -> Result<Vec<u8>, String> {
        gate_plugin_sdk::host::files::read(absolute, max)
    }
}

/// The `error` finding for a path the check was asked to read but cannot.
pub fn unreadable(ctx: &Context, display: &str, error: &str) -> Finding {
    ctx.finding(display, Status::Error)
        .message(format!("cannot read `{display}`: {error}"))
        .remediation(
            "make sure the path exists and that the policy grants read access to it \
             (`fs = [...]` in the plugin's grants)",
        )
        .build()
}
