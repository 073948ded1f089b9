//! `cargo xtask new-rule` on a copy of the plugins workspace: the scaffold
//! registers the rule, writes its docs section, builds, and its skeleton
//! case fails until the check is written.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// The migrations crate, what it depends on, and its docs, in `dir`; the
/// plugins workspace trimmed to those members.
fn copy_tree(dir: &Path) {
    let repo = repo();
    for crate_dir in [
        "plugins/sdk",
        "plugins/sqlkit",
        "plugins/migrations",
        "docs/migrations",
    ] {
        copy_dir(&repo.join(crate_dir), &dir.join(crate_dir));
    }
    fs::copy(
        repo.join("plugins/Cargo.lock"),
        dir.join("plugins/Cargo.lock"),
    )
    .unwrap();
    fs::copy(
        repo.join("rust-toolchain.toml"),
        dir.join("rust-toolchain.toml"),
    )
    .unwrap();
    let manifest = fs::read_to_string(repo.join("plugins/Cargo.toml")).unwrap();
    let members = manifest
        .lines()
        .find(|l| l.starts_with("members = "))
        .unwrap();
    let manifest = manifest.replace(members, r#"members = ["sdk", "sqlkit", "migrations"]"#);
    fs::write(dir.join("plugins/Cargo.toml"), manifest).unwrap();
}

fn cargo(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(dir)
        // Reuse the worktree's plugin builds for the dependencies.
        .env("CARGO_TARGET_DIR", repo().join("plugins/target"))
        .env_remove("GATE_WRITE_DOCS");
    c
}

#[test]
fn new_rule_scaffolds_a_failing_rule_that_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_tree(dir);

    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "--root",
            dir.to_str().unwrap(),
            "new-rule",
            "ban-example-thing",
        ])
        .env("CARGO_TARGET_DIR", repo().join("plugins/target"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "new-rule failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let rules = dir.join("plugins/migrations/src/rules");
    let module = fs::read_to_string(rules.join("ban_example_thing.rs")).unwrap();
    assert!(module.contains("\"ban-example-thing\""));
    assert!(module.contains("TODO positive case"));
    let registry = fs::read_to_string(rules.join("mod.rs")).unwrap();
    assert!(registry.contains("    ban_example_thing: BanExampleThing,\n"));
    let docs = fs::read_to_string(dir.join("docs/migrations/rules.md")).unwrap();
    assert!(docs.contains("### `ban-example-thing`"), "no docs section");

    // A second scaffold of the same id is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "--root",
            dir.to_str().unwrap(),
            "new-rule",
            "ban-example-thing",
            "--no-docs",
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());

    // The crate's tests build and run: only the new rule's case fails.
    let manifest = dir.join("plugins/Cargo.toml");
    let out = cargo(dir)
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
