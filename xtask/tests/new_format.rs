//! `cargo xtask new-format` on a copy of the host crates up to gate-eval:
//! the scaffold adds the module, its `Format` variant, its `render` arm and
//! its docs, and the crate and its tests still compile.

mod common;

use std::fs;
use std::path::Path;

use common::{cargo, copy_paths, copy_workspace_manifest, output, repo, xtask, xtask_unchecked};

/// gate-core, gate-sandbox and gate-eval (and what they need) in `dir`, in a
/// host workspace trimmed to them.
fn copy_tree(dir: &Path) {
    copy_paths(
        dir,
        &[
            "host/core",
            "host/sandbox",
            "host/eval",
            "host/trust",
            "host/audit",
            "host/notify",
            "plugins/sqlkit",
            "plugins/redact",
            "plugins/Cargo.lock",
            "wit",
            "vendor",
            "Cargo.lock",
            "rust-toolchain.toml",
            "docs/reports.md",
        ],
    );
    copy_workspace_manifest(dir, "plugins/Cargo.toml", &["sqlkit", "redact"]);
    // The root manifest is also the `gate` package: keep only the workspace,
    // its profiles and the patched wasmtime (vendor/README.md).
    let manifest = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let mut kept = String::new();
    let mut keep = true;
    for line in manifest.lines() {
        if line.starts_with('[') {
            keep = line.starts_with("[workspace")
                || line.starts_with("[profile")
                || line.starts_with("[patch");
        }
        if keep {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    let members = kept
        .lines()
        .find(|l| l.starts_with("members = "))
        .unwrap()
        .to_string();
    let kept = kept.replace(
        &members,
        r#"members = ["host/core", "host/sandbox", "host/eval", "host/trust", "host/audit", "host/notify"]"#,
    );
    fs::write(dir.join("Cargo.toml"), kept).unwrap();
}

#[test]
fn new_format_adds_a_variant_and_module_that_compile() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_tree(dir);

    xtask(dir, &["new-format", "example"]);

    let report = dir.join("host/eval/src/report");
    let module = fs::read_to_string(report.join("example.rs")).unwrap();
    assert!(module.contains("pub fn render(report: &Report) -> String"));
    assert!(module.contains("fn renders_the_sample_report()"));
    let registry = fs::read_to_string(report.join("mod.rs")).unwrap();
    assert!(
        registry.contains("pub mod example;\npub mod github;\n"),
        "{registry}"
    );
    assert!(registry.contains("    Example,\n    // New formats go above"));
    assert!(registry.contains("Format::Example => example::render(report),\n"));
    let docs = fs::read_to_string(dir.join("docs/reports.md")).unwrap();
    assert!(docs.contains("| `example` | TODO"), "no table row");
    assert!(docs.ends_with("\n\n## example\n\nTODO: what the `example` format is for, what it shows, what it leaves out and\nhow plugin text is escaped.\n"));

    for name in ["example", "Bad", "with-dash", "sample", "type"] {
        let again = xtask_unchecked(dir, &["new-format", name]);
        assert!(!again.status.success(), "{name} was accepted");
    }

    // The crate and its unit tests (the skeleton's included) compile. The
    // plugins are not built: the sandbox's build script embeds none.
    let fmt = cargo(dir, &repo().join("target"))
        .args(["fmt", "-p", "gate-eval", "--", "--check"])
        .output()
        .unwrap();
    assert!(fmt.status.success(), "not rustfmt-clean:\n{}", output(&fmt));
    let out = cargo(dir, &repo().join("target/scaffold-check"))
        .env("GATE_SKIP_PLUGIN_BUILD", "1")
        .args(["check", "--release", "-p", "gate-eval", "--lib", "--tests"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output(&out));
}
