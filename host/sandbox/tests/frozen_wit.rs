//! `gate:plugin@0.1.0` is released: its WIT never changes, and components
//! built against it keep running on every later host. The fixture is the echo
//! test plugin (plugins/testing/echo) as built against 0.1.0 and committed;
//! it is never rebuilt, so a host change that breaks 0.1.0 plugins fails here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gate_core::clock::Clock;
use gate_core::model::Status;
use gate_core::origin::Origin;
use gate_sandbox::capabilities::Sandbox;
use gate_sandbox::grants::Grants;
use gate_sandbox::plugin::{PluginSource, PluginSpec, Runtime, World};
use sha2::{Digest, Sha256};

/// The sha256 of `wit/v0.1.0/gate-plugin.wit` as released. A released
/// version never changes: add `wit/vX.Y.Z/` beside it instead (docs/plugins.md,
/// "Compatibility").
const FROZEN_0_1_0: &str = "1d9e42da50202b1cff2d1c3a07b7a6a24f442ba374030646fa52c95132dde60a";

/// The sha256 of `wit/v0.1.1/gate-plugin.wit` as released (0.1.0 plus the
/// world `check-in-parts`).
const FROZEN_0_1_1: &str = "d0c85dcc540658a252dbdb4aa62da8966fb0e7438de0737fbbbd95b2d551e1b4";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_released_wit_is_unchanged() {
    let path = repo().join("wit/v0.1.0/gate-plugin.wit");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        hex::encode(Sha256::digest(&text)),
        FROZEN_0_1_0,
        "{} changed; gate:plugin@0.1.0 is released and frozen: put changes in a new version beside it",
        path.display()
    );
    assert!(String::from_utf8_lossy(&text).contains("package gate:plugin@0.1.0;"));
}

/// The sha256 of `wit/v0.1.2/gate-plugin.wit` as released (0.1.1 plus the
/// world `migration-validator-in-parts`).
const FROZEN_0_1_2: &str = "0d6e2101d82571ea6dd7698ba1460a0d96c17594d7745560f099ae4693596c34";

fn read(version: &str) -> String {
    let path = repo().join(format!("wit/v{version}/gate-plugin.wit"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `new` is frozen at `sha256` and holds every line of `old` from its package
/// line on, in order: a component built against `old` links against the
/// host of `new` by semver.
fn unchanged_and_only_adds(old: &str, new: &str, sha256: &str) {
    let (old_text, new_text) = (read(old), read(new));
    assert_eq!(
        hex::encode(Sha256::digest(new_text.as_bytes())),
        sha256,
        "wit/v{new}/gate-plugin.wit changed; gate:plugin@{new} is released and frozen"
    );
    assert!(new_text.contains(&format!("package gate:plugin@{new};")));
    let body = |text: &str| -> Vec<String> {
        let from = text.find("package gate:plugin@").unwrap();
        text[from..].lines().skip(1).map(str::to_string).collect()
    };
    let mut added = body(&new_text).into_iter();
    for line in body(&old_text) {
        assert!(
            added.any(|l| l == line),
            "{new} drops or moves a line of {old}: {line:?}"
        );
    }
}

#[test]
fn the_released_wit_0_1_1_is_unchanged_and_only_adds_to_0_1_0() {
    unchanged_and_only_adds("0.1.0", "0.1.1", FROZEN_0_1_1);
}

#[test]
fn the_released_wit_0_1_2_is_unchanged_and_only_adds_to_0_1_1() {
    unchanged_and_only_adds("0.1.1", "0.1.2", FROZEN_0_1_2);
}

fn fixture() -> PluginSource {
    let path = repo().join("tests/fixtures/plugins/echo-wit-0.1.0.wasm");
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = PluginSpec {
        name: "echo".into(),
        path: Some(path),
        sha256: Some(hex::encode(Sha256::digest(&wasm))),
        grants: Grants::default(),
        origin: Origin {
            file: "frozen_wit.rs".into(),
            line: 1,
            column: 1,
        },
    };
    PluginSource::resolve("echo", Some(&spec)).expect("the fixture resolves")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_built_against_0_1_0_loads_and_runs() {
    let runtime = Runtime::new(None).expect("runtime");
    let source = fixture();
    assert_eq!(runtime.world_of(&source).expect("its world"), World::Check);
    let cwd = std::env::temp_dir();
    let clock = Clock::System;
    let sandbox = Arc::new(Sandbox::new("echo", Grants::default(), &cwd, clock));
    let plugin = runtime.load(&source, sandbox).await.expect("loads");
    assert_eq!(plugin.meta.id, "echo");
    let ids: Vec<&str> = plugin.meta.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["echo.findings"]);

    let params = serde_json::json!({ "findings": [
        { "subject": "a", "status": "pass" },
        { "subject": "b", "status": "fail", "message": "b broke", "rule": "r1", "file": "x.txt", "line": 3 },
    ]});
    let run = runtime.run_check(&plugin, "echo.findings", &params).await;
    let findings = run.outcome.expect("the check runs");
    let seen: Vec<(&str, Status, &str)> = findings
        .iter()
        .map(|f| (f.subject.as_str(), f.status, f.message.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("a", Status::Pass, "a is pass"),
            ("b", Status::Fail, "b broke")
        ]
    );
    let b = &findings[1];
    assert_eq!(b.rule.as_deref(), Some("r1"));
    assert_eq!(b.evidence, [("echo".to_string(), "true".to_string())]);
    let location = b.location.as_ref().expect("a location");
    assert_eq!((location.file.as_str(), location.line), ("x.txt", Some(3)));

    // Bad params are still an `error` finding, not a trap.
    let bad = serde_json::json!({ "findings": [{ "subject": "c", "status": "maybe" }] });
    let run = runtime.run_check(&plugin, "echo.findings", &bad).await;
    let findings = run.outcome.expect("the check runs");
    assert_eq!(findings[0].status, Status::Error, "{findings:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn inspecting_the_fixture_names_its_version_and_imports() {
    let runtime = Runtime::new(None).expect("runtime");
    let inspection = runtime
        .inspect(&fixture(), &std::env::temp_dir(), Clock::System)
        .await
        .expect("inspects");
    assert_eq!(inspection.world, World::Check);
    assert_eq!(inspection.wit_version.as_deref(), Some("0.1.0"));
    assert!(
        inspection
            .imports
            .iter()
            .any(|i| i.0 == "gate:plugin/types@0.1.0"),
        "{:?}",
        inspection.imports
    );
    assert!(inspection.compile.as_nanos() > 0);
}
