//! The Rust SDK's sources, carried in the binary (listed by `build.rs` from
//! `plugins/sdk` and `plugins/redact`), so a new project vendors the SDK of
//! the gate that wrote it without gate's sources or a registry.

use std::path::Path;

use crate::error::DevkitError;

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// Where a project keeps the vendored crates.
pub const VENDOR_DIR: &str = "vendor";

/// The SDK crate's name (and its directory under [`VENDOR_DIR`]).
pub const SDK_CRATE: &str = "gate-plugin-sdk";

/// The SDK's version: gate's own.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Writes the SDK and the crates it needs beside it under `dir/vendor/`.
pub fn vendor_into(dir: &Path) -> Result<(), DevkitError> {
    for (krate, rel, contents) in FILES {
        crate::files::create(dir, &format!("{VENDOR_DIR}/{krate}/{rel}"), contents)?;
    }
    Ok(())
}

/// The contents of one vendored file, e.g. `("gate-plugin-sdk", "Cargo.toml")`.
pub fn file(krate: &str, rel: &str) -> Option<&'static str> {
    FILES
        .iter()
        .find(|(k, r, _)| *k == krate && *r == rel)
        .map(|(_, _, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(krate: &str) -> toml::Table {
        toml::from_str(file(krate, "Cargo.toml").expect("a Cargo.toml")).unwrap()
    }

    #[test]
    fn the_sdk_carries_the_frozen_wit() {
        assert_eq!(
            file(SDK_CRATE, "wit/gate-plugin.wit"),
            Some(crate::wit::GATE_PLUGIN),
            "plugins/sdk/wit/gate-plugin.wit must be a copy of wit/v{}/gate-plugin.wit",
            crate::wit::VERSION
        );
        let lib = file(SDK_CRATE, "src/lib.rs").unwrap();
        assert!(lib.contains("path: \"wit\""), "the SDK binds its own copy");
    }

    #[test]
    fn the_sdk_is_self_contained_and_pinned_to_gates_version() {
        let sdk = manifest(SDK_CRATE);
        let package = sdk["package"].as_table().unwrap();
        assert_eq!(package["version"].as_str(), Some(SDK_VERSION));
        for key in ["version", "edition", "license"] {
            assert!(
                package[key].is_str(),
                "package.{key} must be written out, not inherited from a workspace"
            );
        }
        // No dependency reaches outside the crate: a path dependency would
        // not exist in a vendored copy.
        for (name, dep) in sdk["dependencies"].as_table().unwrap() {
            let path = dep.as_table().and_then(|t| t.get("path"));
            assert!(path.is_none(), "dependency {name} has a path");
            assert!(
                dep.as_table().and_then(|t| t.get("workspace")).is_none(),
                "dependency {name} is inherited from a workspace"
            );
        }
        let redact = manifest("gate-redact");
        assert_eq!(
            redact["package"]["name"].as_str(),
            Some("gate-redact"),
            "the SDK's gate-redact dependency is carried beside it"
        );
        assert!(
            redact
                .get("dependencies")
                .is_none_or(|d| d.as_table().unwrap().is_empty())
        );
    }

    #[test]
    fn vendoring_writes_every_file() {
        let dir = tempfile::tempdir().unwrap();
        vendor_into(dir.path()).unwrap();
        for (krate, rel, contents) in FILES {
            let written =
                std::fs::read_to_string(dir.path().join(VENDOR_DIR).join(krate).join(rel)).unwrap();
            assert_eq!(&written, contents);
        }
        assert!(
            dir.path()
                .join("vendor/gate-plugin-sdk/src/lib.rs")
                .is_file()
        );
        assert!(dir.path().join("vendor/gate-redact/src/lib.rs").is_file());
    }
}
