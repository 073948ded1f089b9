//! What one plugin may reach and its resource limits (`[plugin.grants]`),
//! as typed values: the policy loader builds them, the capabilities enforce
//! them. Everything not listed is denied.

use std::path::PathBuf;

use crate::grant;

/// Capabilities and limits granted to one plugin (`[plugin.grants]`). Everything
/// not listed is denied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// URL grants: scheme, host, port and path matched field by field.
    pub http: Vec<grant::HttpGrant>,
    /// `host:port` grants.
    pub net: Vec<grant::NetGrant>,
    /// Unix sockets: a directory and a name pattern.
    pub unix: Vec<grant::UnixGrant>,
    pub fs: Vec<FsGrant>,
    /// Variable names; `*` allowed as a suffix wildcard, e.g. `APP_*`.
    pub env: Vec<String>,
    /// Named `[connections.*]`.
    pub sql: Vec<String>,
    /// Named `[metrics.*]` providers.
    pub metrics: Vec<String>,
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    /// Cap on the size of a plugin's output (findings plus log messages), in KiB.
    pub output_kb: Option<u64>,
    /// At most this many instances of the plugin run one check at once, when
    /// the check splits into parts (WIT world `check-in-parts`); 1 never splits.
    pub parallel: Option<u64>,
}

/// A directory (or file) the plugin may read, as written in the policy
/// (`"./src"`, `"/etc/ssl:ro"`, `"/tmp/out:rw"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsGrant {
    /// As written, without the `:ro`/`:rw` suffix; relative paths resolve against
    /// the working directory at evaluation time.
    pub path: PathBuf,
    pub writable: bool,
}
