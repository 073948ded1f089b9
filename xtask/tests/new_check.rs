//! `cargo xtask new-check` on a copy of the plugins workspace and of the
//! files that list the built-in checks: the scaffold registers the check,
//! writes its docs page, adds it to the catalogue, builds, and its skeleton
//! test fails until the check is written.

mod common;

use std::fs;
use std::path::Path;

use common::{cargo, copy_paths, copy_workspace_manifest, output, repo, xtask, xtask_unchecked};

/// The infra plugin and the SDK (the plugins workspace trimmed to them), and
/// every file that lists the built-in checks.
fn copy_tree(dir: &Path) {
    copy_paths(
        dir,
        &[
            "plugins/sdk",
            "plugins/infra",
            "plugins/haproxy-stat",
            "plugins/redact",
            "plugins/Cargo.lock",
            "wit",
            "rust-toolchain.toml",
            "docs/checks",
            "README.md",
            "tests/catalogue/mod.rs",
            "policies/production.toml",
        ],
    );
    copy_workspace_manifest(
        dir,
        "plugins/Cargo.toml",
        &["sdk", "redact", "haproxy-stat", "infra"],
    );
}

#[test]
fn new_check_writes_a_registered_documented_check_that_builds_and_fails_until_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_tree(dir);
    let read = |path: &str| fs::read_to_string(dir.join(path)).unwrap();
    let checks_before = read("tests/catalogue/mod.rs")
        .lines()
        .find(|l| l.starts_with("pub const CHECKS: [&str; "))
        .unwrap()
        .to_string();

    xtask(dir, &["new-check", "infra.example-thing"]);

    let module = read("plugins/infra/src/example_thing.rs");
    assert!(module.contains("pub const ID: &str = \"infra.example-thing\";"));
    assert!(module.contains("pub struct ExampleThing;"));
    let lib = read("plugins/infra/src/lib.rs");
    assert!(lib.contains("pub mod example_thing;\n"), "{lib}");
    assert!(
        lib.contains("Box::new(example_thing::ExampleThing),\n"),
        "{lib}"
    );
    let docs = read("docs/checks/infra.example-thing.md");
    assert!(docs.starts_with("# `infra.example-thing`\n"), "{docs}");

    // The lists of built-in checks outside the plugin.
    let readme = read("README.md");
    assert!(
        readme.contains(
            "| [`infra.resource-limits`](docs/checks/infra.resource-limits.md) | Resource limits | system, fs |\n\
             | [`infra.example-thing`](docs/checks/infra.example-thing.md) | TODO: title | TODO: capabilities |\n\
             | [`security."
        ),
        "README row"
    );
    let catalogue = read("tests/catalogue/mod.rs");
    let count: usize = checks_before
        .trim_start_matches("pub const CHECKS: [&str; ")
        .trim_end_matches("] = [")
        .parse()
        .unwrap();
    assert!(
        catalogue.contains(&format!("pub const CHECKS: [&str; {}] = [", count + 1)),
        "CHECKS is recounted"
    );
    assert!(catalogue.contains(
        "    \"infra.disk-space\",\n    \"infra.drills\",\n    \"infra.example-thing\",\n    \"infra.firewall\",\n"
    ));
    assert!(catalogue.contains("id = \"infra.example-thing\"\n"));
    assert!(catalogue.contains("params = {{ targets = [\"TODO\"] }}"));
    let production = read("policies/production.toml");
    assert!(production.contains("[[check]]\nid = \"infra.example-thing\"\n"));

    // The same check again, a check of another plugin, a bad name: refused.
    for id in ["infra.example-thing", "acme.x", "infra.Example", "infra"] {
        let again = xtask_unchecked(dir, &["new-check", id]);
        assert!(!again.status.success(), "{id} was accepted");
    }

    let manifest = dir.join("plugins/Cargo.toml");
    let manifest = manifest.to_str().unwrap();
    let target = repo().join("plugins/target");
    let fmt = cargo(dir, &target)
        .args(["fmt", "--manifest-path", manifest, "--all", "--", "--check"])
        .output()
        .unwrap();
    assert!(fmt.status.success(), "not rustfmt-clean:\n{}", output(&fmt));

    // The crate's tests build and run: only the skeleton test fails, and the
    // catalogue test, until the check declares the capabilities `run` uses;
    // the docs page satisfies `every_check_is_documented`.
    let out = cargo(dir, &target)
        .args(["test", "--manifest-path", manifest])
        .args(["-p", "gate-plugin-infra", "--lib"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "the skeleton test should fail:\n{stdout}"
    );
    assert!(
        stdout
            .contains("example_thing::tests::scaffold_fails_until_the_check_is_written ... FAILED"),
        "{}",
        output(&out)
    );
    assert!(
        stdout.contains("tests::every_check_is_documented ... ok"),
        "{stdout}"
    );
    assert!(
        stdout.contains("example_thing::tests::host_failure_is_an_error ... ok"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tests::check_ids_are_unique_and_namespaced ... FAILED")
            && stdout.contains("infra.example-thing: declares no capability"),
        "{stdout}"
    );
    assert!(stdout.contains(" 2 failed"), "{stdout}");
}
