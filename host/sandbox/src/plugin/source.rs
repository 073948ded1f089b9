//! Where a plugin's bytes come from: the binary (built-ins) or a pinned file.

use std::borrow::Cow;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::builtin::{self, Builtin};
use super::spec::PluginSpec;

#[derive(Clone, Debug)]
pub struct PluginSource {
    pub name: String,
    pub wasm: Cow<'static, [u8]>,
    pub sha256: String,
    pub path: Option<PathBuf>,
    /// The built-in this is, whose precompiled code the binary carries;
    /// `None` for a plugin read from a file (its code goes through the cache).
    pub builtin: Option<&'static Builtin>,
}

/// A plugin that could not be loaded. Nothing is evaluated (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error(
        "plugin `{name}`: {path}: sha256 mismatch: pinned to {expected} but the file has {actual}"
    )]
    DigestMismatch {
        name: String,
        path: String,
        expected: String,
        actual: String,
    },
    #[error("plugin `{name}`: cannot read {path}: {error}")]
    Unreadable {
        name: String,
        path: String,
        error: String,
    },
    #[error(
        "plugin `{name}` is not a built-in and the policy gives no `path` for it (built-ins: {builtins})"
    )]
    Unknown { name: String, builtins: String },
    #[error("plugin `{name}`: {path} must be pinned with `sha256 = \"…\"`")]
    Unpinned { name: String, path: String },
    /// `describe()` names a check outside the plugin's namespace, or twice.
    #[error("plugin `{name}` {problem}")]
    CheckIds { name: String, problem: String },
    #[error("plugin `{name}`: not a valid gate check component: {error}")]
    Invalid { name: String, error: String },
    #[error("plugin `{name}`: {path} is not a component this host can load: {error}")]
    NotLoadable {
        name: String,
        path: String,
        error: String,
    },
    #[error(
        "plugin `{name}`: {path} is a component, but of no world this host runs (worlds: {worlds} of {package}); \
         rebuild it with this gate's SDK"
    )]
    UnknownWorld {
        name: String,
        path: String,
        worlds: String,
        package: &'static str,
    },
    /// The component imports `gate:plugin` at a version this host does not run.
    #[error(
        "plugin `{name}`: {path} was built against {found}, which this gate does not run (it runs {supported}); \
         rebuild it with this gate's SDK (`gate plugin new` writes it), or run it with a gate that supports {found}"
    )]
    UnsupportedWit {
        name: String,
        path: String,
        found: String,
        supported: String,
    },
    #[error(
        "plugin `{name}`: {path} implements the `{found}` world, but a `{expected}` component is needed here"
    )]
    WrongWorld {
        name: String,
        path: String,
        found: super::World,
        expected: super::World,
    },
}

impl PluginSource {
    pub fn builtin(name: &str) -> Option<PluginSource> {
        builtin::builtin(name).map(PluginSource::from_builtin)
    }

    /// Any built-in, of any world.
    pub fn from_builtin(b: &'static Builtin) -> PluginSource {
        PluginSource {
            name: b.name.to_string(),
            wasm: Cow::Borrowed(b.wasm),
            sha256: b.sha256.to_string(),
            path: None,
            builtin: Some(b),
        }
    }

    /// Resolves a plugin name: an external `[[plugin]]` with a `path`, else a built-in.
    pub fn resolve(name: &str, spec: Option<&PluginSpec>) -> Result<PluginSource, PluginError> {
        match spec.and_then(|s| s.path.as_ref().map(|p| (s, p))) {
            Some((spec, path)) => {
                let shown = path.display().to_string();
                let expected = spec.sha256.clone().ok_or_else(|| PluginError::Unpinned {
                    name: name.to_string(),
                    path: shown.clone(),
                })?;
                let wasm = std::fs::read(path).map_err(|e| PluginError::Unreadable {
                    name: name.to_string(),
                    path: shown.clone(),
                    error: e.to_string(),
                })?;
                let actual = hex::encode(Sha256::digest(&wasm));
                if !actual.eq_ignore_ascii_case(&expected) {
                    return Err(PluginError::DigestMismatch {
                        name: name.to_string(),
                        path: shown,
                        expected,
                        actual,
                    });
                }
                Ok(PluginSource {
                    name: name.to_string(),
                    wasm: Cow::Owned(wasm),
                    sha256: actual,
                    path: Some(path.clone()),
                    builtin: None,
                })
            }
            None => PluginSource::builtin(name).ok_or_else(|| PluginError::Unknown {
                name: name.to_string(),
                builtins: builtin::BUILTINS
                    .iter()
                    .map(|b| b.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}
