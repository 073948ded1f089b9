//! `cargo bench --bench internals`: criterion benchmarks of gate's internals,
//! the parts a whole-process run (`scripts/bench-compare`) cannot separate:
//!
//! - **sandbox/check**: one check in a fresh store (WASI context,
//!   instantiation from the reused `InstancePre`, `run()`, lifting the
//!   findings), echo plugin, with the pooling allocator (`gate rollout`,
//!   `gate serve`) and on demand (one-shot commands);
//! - **migrate/validate**: the built-in validator over 10 and 100 small
//!   migrations, in one fresh store, as `gate migrate lint` runs it;
//! - **policy/load**: loading, merging and validating the bundled example
//!   policy;
//! - **report/json**: rendering the JSON report of a lint-sized run (1,000
//!   findings), the contract CI reads.
//!
//! `cargo bench --bench internals -- sandbox` runs one group. Criterion
//! prints each median with its confidence interval; benches/evaluate.rs
//! prints the same per-check cost as plain medians.

use std::path::Path;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use gate_core::clock::Clock;
use gate_eval::policy::{LoadOptions, load};
use gate_eval::report::json;
use gate_eval::report::sample::sample_report;
use gate_sandbox::capabilities::Sandbox;
use gate_sandbox::plugin::{MigrationFile, PLUGIN_BUILD_DIR, PluginSource, Runtime};

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn echo_source() -> PluginSource {
    let wasm = std::fs::read(Path::new(PLUGIN_BUILD_DIR).join("gate_plugin_echo.wasm"))
        .expect("the echo plugin is built with the built-ins");
    let sha256 = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&wasm))
    };
    PluginSource {
        name: "echo".into(),
        wasm: wasm.into(),
        sha256,
        path: None,
        builtin: None,
    }
}

fn sandbox(plugin: &str) -> Arc<Sandbox> {
    Arc::new(Sandbox::new(
        plugin,
        Default::default(),
        Path::new("."),
        Clock::System,
    ))
}

fn sandbox_check(c: &mut Criterion) {
    let rt = tokio();
    let source = echo_source();
    let params = serde_json::json!({ "findings": [{ "subject": "a", "status": "pass" }] });
    let mut group = c.benchmark_group("sandbox/check");
    for (label, pooling) in [("pooling", true), ("on-demand", false)] {
        let runtime = Runtime::with_pooling(None, pooling).expect("runtime");
        let plugin = rt
            .block_on(runtime.load(&source, sandbox("echo")))
            .expect("load echo");
        group.bench_function(label, |b| {
            b.iter(|| {
                let run = rt.block_on(runtime.run_check(&plugin, "echo.findings", &params));
                assert!(run.outcome.is_ok(), "{:?}", run.outcome);
            })
        });
    }
    group.finish();
}

/// `n` small migrations of the shapes the lint sees most: a table, an
/// index built without CONCURRENTLY, a column added with a default.
fn migrations(n: usize) -> Vec<MigrationFile> {
    (0..n)
        .map(|i| MigrationFile {
            path: format!("{i:05}_change.sql"),
            contents: format!(
                "CREATE TABLE t{i} (id bigint PRIMARY KEY, name text NOT NULL);\n\
                 CREATE INDEX t{i}_name ON t{i} (name);\n\
                 ALTER TABLE t{i} ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();\n"
            ),
            first_line: 1,
            in_transaction: true,
        })
        .collect()
}

fn migrate_validate(c: &mut Criterion) {
    let rt = tokio();
    let runtime = Runtime::with_pooling(None, false).expect("runtime");
    let validator = rt
        .block_on(runtime.load_validator("migrations", sandbox("migrations")))
        .expect("the built-in validator loads");
    let mut group = c.benchmark_group("migrate/validate");
    for n in [10, 100] {
        let files = migrations(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &files, |b, files| {
            // The validator takes the files (its parts share them), so
            // each run gets a copy made outside the timing.
            b.iter_batched(
                || files.clone(),
                |files| {
                    let run = rt.block_on(runtime.validate(&validator, files, "{}"));
                    assert!(run.outcome.is_ok(), "{:?}", run.outcome);
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn policy_load(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("policies/example.toml");
    let options = LoadOptions::now();
    c.bench_function("policy/load example", |b| {
        b.iter(|| load(&path, &options).expect("the example policy loads"))
    });
}

fn report_json(c: &mut Criterion) {
    let mut report = sample_report();
    let finding = report
        .checks()
        .find_map(|(_, c)| c.findings.iter().find(|f| f.location.is_some()))
        .expect("the sample report has a finding with a location")
        .clone();
    report.gates[0].checks[0].findings = (0..1000)
        .map(|i| {
            let mut f = finding.clone();
            f.subject = format!("migrations/{i:05}_change.sql");
            f
        })
        .collect();
    c.bench_function("report/json 1000 findings", |b| {
        b.iter(|| json::render(&report))
    });
}

criterion_group!(
    benches,
    sandbox_check,
    migrate_validate,
    policy_load,
    report_json
);
criterion_main!(benches);
