//! Lists the sources of the Rust SDK (`plugins/sdk`) and of the one crate it
//! depends on outside crates.io (`plugins/redact`), so the `gate` binary
//! carries them (`include_str!`) and `gate plugin new --lang rust` can vendor
//! them into a project on a machine without gate's sources.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// (directory under `plugins/`, its name under a project's `vendor/`)
const CRATES: &[(&str, &str)] = &[("sdk", "gate-plugin-sdk"), ("redact", "gate-redact")];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let plugins = manifest_dir.join("../../plugins");
    let mut code = String::from(
        "/// (crate under `vendor/`, path inside it, contents)\n\
         pub static FILES: &[(&str, &str, &str)] = &[\n",
    );
    for (dir, vendored) in CRATES {
        let root = plugins.join(dir);
        println!("cargo:rerun-if-changed={}", root.display());
        let mut files = Vec::new();
        collect(&root, &root, &mut files);
        files.sort();
        assert!(
            files.iter().any(|f| f == "Cargo.toml"),
            "{} has no Cargo.toml",
            root.display()
        );
        for rel in files {
            let path = root.join(&rel);
            writeln!(
                code,
                "    ({vendored:?}, {rel:?}, include_str!({:?})),",
                path.display().to_string()
            )
            .unwrap();
        }
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("sdk_files.rs");
    std::fs::write(out, code).unwrap();
}

/// Every file beneath `dir` that is part of the crate: not `target/`, not
/// hidden, not a lock file (a vendored crate is resolved by its project).
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" || name == "Cargo.lock" {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            collect(root, &path, out);
        } else if kind.is_file() {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push(rel);
        }
    }
}
