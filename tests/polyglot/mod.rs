//! The example plugins in `examples/plugins` (one plugin, `acme`, in Rust,
//! Python and JavaScript), built once per process: Rust with cargo for
//! wasm32-wasip2 (its own target directory under the repository's
//! `target/`), Python and JavaScript with gate's devkit toolchains.
//! Shared by `tests/plugins_polyglot.rs` and `benches/plugins.rs`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use gate_devkit::Language;

pub const LANGUAGES: [Language; 3] = [Language::Rust, Language::Python, Language::Js];

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/plugins/<language>`.
pub fn example_dir(language: Language) -> PathBuf {
    repo().join("examples/plugins").join(language.to_string())
}

/// What to run when a tool the examples need is missing.
pub const INSTALL: &str = "run scripts/install-deps (it installs the pinned componentize-py and runs `npm ci` in sdk/js and examples/plugins/js)";

/// The example's component, built on first use in this process.
pub fn component(language: Language) -> PathBuf {
    static BUILT: [OnceLock<PathBuf>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match language {
        Language::Rust => &BUILT[0],
        Language::Python => &BUILT[1],
        Language::Js => &BUILT[2],
    };
    slot.get_or_init(|| match language {
        Language::Rust => build_rust(&example_dir(language)),
        other => build_with_devkit(other, &example_dir(other)),
    })
    .clone()
}

/// Builds a Python or JavaScript project with gate's devkit toolchain;
/// panics with the tool's error, its help and its log.
pub fn build_with_devkit(language: Language, project: &Path) -> PathBuf {
    let mut log = Vec::new();
    match gate_devkit::lang::toolchain(language).build(project, &mut log) {
        Ok(path) => path,
        Err(e) => {
            let help = match &e {
                gate_devkit::DevkitError::Tool { help: Some(h), .. } => h.clone(),
                _ => String::new(),
            };
            panic!(
                "building {} failed: {e}\nhelp: {help}\n{INSTALL}\n--- build log ---\n{}",
                project.display(),
                String::from_utf8_lossy(&log)
            )
        }
    }
}

/// `cargo build --release --target wasm32-wasip2` in the Rust example, with
/// the target directory `target/examples-plugins`; the component is copied
/// to the manifest's `output`.
fn build_rust(project: &Path) -> PathBuf {
    let target_dir = repo().join("target/examples-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(project)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        // The outer build's flags are for the host, not the plugin.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo build of {} failed (the wasm32-wasip2 target comes with gate's own build: `rustup target add wasm32-wasip2`):\n{}",
        project.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let built = target_dir.join("wasm32-wasip2/release/acme_checks.wasm");
    let manifest =
        gate_devkit::Manifest::load(project).expect("examples/plugins/rust/gate-plugin.toml");
    let output = project.join(&manifest.output);
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    std::fs::copy(&built, &output).unwrap();
    output
}
