//! The whole built-in catalogue end to end: every check of `gate checks
//! list` in one policy (`tests/catalogue/mod.rs` writes it), run by the real
//! `gate` binary against real local services. Healthy, every check passes and
//! gate exits 0; then the services break one after another (the replica
//! stops, an HAProxy server goes down, Redis stops) and exactly the checks
//! watching them turn `fail` or `error`, with exit code 1.
//!
//! The same scenario is the bench `cargo bench --bench preflight`.

#[path = "catalogue/mod.rs"]
mod catalogue;
#[path = "services/mod.rs"]
mod services;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use catalogue::{CHECKS, Catalogue, Evaluation, GATE, listed_builtins};
use serde_json::Value;

/// `gate checks list --format json`: every check id, sorted. Run while the
/// services start, it also compiles the built-in plugins into `cache`.
fn listed_checks(cache: &std::path::Path) -> Vec<String> {
    let out = Command::new(GATE)
        .args(["checks", "list", "--format", "json"])
        .env("GATE_CACHE_DIR", cache)
        .output()
        .expect("run gate checks list");
    assert!(
        out.status.success(),
        "gate checks list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plugins: Value = serde_json::from_slice(&out.stdout).expect("checks list JSON");
    let mut ids: Vec<String> = plugins
        .as_array()
        .expect("plugins")
        .iter()
        .flat_map(|p| p["checks"].as_array().expect("checks").iter())
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    ids
}

/// Asserts exit code 1 and that exactly `broken` do not pass, each `fail`
/// or `error`.
fn assert_broken(run: &Evaluation, broken: &[&str]) {
    let not_passing = run.not_passing();
    let mut expected = broken.to_vec();
    expected.sort();
    let actual: Vec<&str> = not_passing.keys().map(String::as_str).collect();
    assert_eq!(actual, expected, "checks not passing\n{}", run.explain());
    for (id, status) in &not_passing {
        assert!(
            status == "fail" || status == "error",
            "{id} is {status}\n{}",
            run.explain()
        );
    }
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run.report["verdict"], "fail", "{}", run.explain());
}

#[test]
fn the_whole_catalogue_passes_on_healthy_services_and_fails_as_they_break() {
    let started = Instant::now();
    let cache = tempfile::tempdir().expect("cache dir");
    let warm = {
        let cache = cache.path().to_path_buf();
        std::thread::spawn(move || listed_checks(&cache))
    };
    let mut cat = Catalogue::start();
    for (step, took) in &cat.startup {
        eprintln!("start-up: {step}: {took:.2?}");
    }
    let listed = warm.join().expect("gate checks list");
    eprintln!(
        "services, fixtures and plugin cache ready after {:.2?}",
        started.elapsed()
    );
    let mut configured: Vec<String> = CHECKS.iter().map(|c| c.to_string()).collect();
    configured.sort();
    assert_eq!(
        listed_builtins(),
        listed,
        "the catalogue must run every checklist check `gate checks list` shows; \
         the others are in BEYOND_CHECKLIST, with their own end-to-end tests"
    );

    // Healthy: every check passes.
    let run = cat.evaluate(cache.path());
    eprintln!(
        "healthy run: {:.2?}, timings {}",
        run.wall, run.report["timings"]
    );
    let statuses: BTreeMap<String, String> = run.statuses();
    assert_eq!(
        statuses.keys().cloned().collect::<Vec<_>>(),
        configured,
        "{}",
        run.explain()
    );
    assert!(
        run.not_passing().is_empty(),
        "not every check passed:\n{}",
        run.explain()
    );
    assert_eq!(run.code, 0, "{}\n{}", run.explain(), run.stderr);
    assert_eq!(run.report["verdict"], "pass");
    assert_eq!(run.report["summary"]["pass"], CHECKS.len());

    // The replica stops: no streaming replica left.
    cat.replica.take().expect("replica").stop();
    let run = cat.evaluate(cache.path());
    assert_broken(&run, &["infra.db-replicas"]);

    // An HAProxy server goes down: backend `web` has 1 of the 2 it needs.
    cat.lb.stop_backend("web2");
    cat.lb.wait_state("web2", false);
    let run = cat.evaluate(cache.path());
    assert_broken(&run, &["infra.db-replicas", "infra.load-balancer"]);

    // Redis stops: the cache check cannot see it, and it is unreachable.
    drop(cat.redis.take());
    let run = cat.evaluate(cache.path());
    assert_broken(
        &run,
        &[
            "config.cache",
            "infra.db-replicas",
            "infra.load-balancer",
            "infra.network",
        ],
    );
    let statuses = run.statuses();
    assert_eq!(statuses["config.cache"], "error", "{}", run.explain());
    assert_eq!(statuses["infra.network"], "fail", "{}", run.explain());
    eprintln!("whole test: {:.2?}", started.elapsed());
}
