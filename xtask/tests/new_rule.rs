//! `cargo xtask new-rule` on a copy of the plugins workspace: the scaffold
//! registers the rule, writes its docs section, builds, and its skeleton
//! case fails until its `on` hook is written.

mod common;

use std::fs;
use std::path::Path;

use common::{cargo, copy_paths, copy_workspace_manifest, repo, xtask, xtask_unchecked};

/// The migrations crate, what it depends on, and its docs, in `dir`; the
/// plugins workspace trimmed to those members.
fn copy_tree(dir: &Path) {
    copy_paths(
        dir,
        &[
            "plugins/sdk",
            "plugins/sqlkit",
            "plugins/redact",
            "plugins/migrations",
            "docs/migrations",
            "plugins/Cargo.lock",
            "wit",
            "rust-toolchain.toml",
        ],
    );
    copy_workspace_manifest(
        dir,
        "plugins/Cargo.toml",
        &["sdk", "redact", "sqlkit", "migrations"],
    );
}

#[test]
fn new_rule_scaffolds_a_failing_rule_that_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_tree(dir);

    xtask(dir, &["new-rule", "ban-example-thing"]);

    let rules = dir.join("plugins/migrations/src/rules");
    let module = fs::read_to_string(rules.join("ban_example_thing.rs")).unwrap();
    assert!(module.contains("\"ban-example-thing\""));
    assert!(module.contains("TODO positive case"));
    let registry = fs::read_to_string(rules.join("mod.rs")).unwrap();
    assert!(registry.contains("    ban_example_thing: BanExampleThing,\n"));
    let docs = fs::read_to_string(dir.join("docs/migrations/rules.md")).unwrap();
    assert!(docs.contains("### `ban-example-thing`"), "no docs section");

    // A second scaffold of the same id is refused.
    let again = xtask_unchecked(dir, &["new-rule", "ban-example-thing", "--no-docs"]);
    assert!(!again.status.success());

    // The crate's tests build and run: only the new rule's case fails.
    let manifest = dir.join("plugins/Cargo.toml");
    let out = cargo(dir, &repo().join("plugins/target"))
        .args(["test", "--manifest-path", manifest.to_str().unwrap()])
        .args(["-p", "gate-plugin-migrations", "--lib", "rules::"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "the skeleton case should fail:\n{stdout}"
    );
    assert!(
        stdout.contains("rules::rule_cases::ban_example_thing ... FAILED"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 1 failed"), "{stdout}");
}
