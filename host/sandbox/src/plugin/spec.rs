//! A `[[plugin]]` entry: a built-in or an external component pinned by
//! digest, with its grants.

use std::path::PathBuf;

use gate_core::origin::Origin;

use crate::grants::Grants;

#[derive(Clone, Debug)]
pub struct PluginSpec {
    pub name: String,
    /// External plugin file, resolved against the directory of the policy file that
    /// declared it. `None` configures a built-in.
    pub path: Option<PathBuf>,
    /// Lower-case hex sha256 pin; required with `path`.
    pub sha256: Option<String>,
    pub grants: Grants,
    pub origin: Origin,
}
