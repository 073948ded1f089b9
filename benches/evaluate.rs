//! `cargo bench --bench evaluate`: whole-process `gate evaluate` on the bundled
//! example policy, cold (empty cache) and warm, plus the per-check host
//! overhead in-process, with and without the pooling allocator side by side;
//! whole-process runs with Cranelift (the default) and Winch side by side.
//! Prints medians (and quartiles): the machines are noisy, so no single run
//! means much.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gate_core::clock::Clock;
use gate_sandbox::capabilities::Sandbox;
use gate_sandbox::plugin::{PLUGIN_BUILD_DIR, PluginSource, Runtime};

fn quartiles(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

fn show(label: &str, v: Vec<Duration>) -> Duration {
    let n = v.len();
    let (q1, med, q3) = quartiles(v);
    println!("{label:<48} median {med:>10.3?}   (q1 {q1:.3?}, q3 {q3:.3?}, n={n})");
    med
}

fn whole_process(root: &Path, cache: &Path, compiler: &str) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_gate"))
        .args([
            "evaluate",
            "--policy",
            "policies/example.toml",
            "--format",
            "json",
        ])
        .current_dir(root)
        .env("GATE_CACHE_DIR", cache)
        .env("GATE_COMPILER", compiler)
        .output()
        .expect("run gate");
    let took = started.elapsed();
    assert!(
        out.status.code() == Some(0),
        "gate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn per_check(rt: &tokio::runtime::Runtime, pooling: bool, iterations: usize) -> Vec<Duration> {
    rt.block_on(async {
        let runtime = Runtime::with_pooling(None, pooling).expect("runtime");
        let wasm =
            std::fs::read(Path::new(PLUGIN_BUILD_DIR).join("gate_plugin_echo.wasm")).unwrap();
        let sha = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&wasm))
        };
        let source = PluginSource {
            name: "echo".into(),
            wasm: wasm.into(),
            sha256: sha,
            path: None,
            builtin: None,
        };
        let sandbox = Arc::new(Sandbox::new(
            "echo",
            Default::default(),
            Path::new("."),
            Clock::System,
        ));
        let plugin = runtime.load(&source, sandbox).await.expect("load echo");
        let params = serde_json::json!({ "findings": [{ "subject": "a", "status": "pass" }] });
        let mut out = Vec::with_capacity(iterations);
        for _ in 0..iterations + 50 {
            let t = Instant::now();
            let run = runtime.run_check(&plugin, "echo.findings", &params).await;
            out.push(t.elapsed());
            assert!(run.outcome.is_ok(), "{:?}", run.outcome);
        }
        out.split_off(50) // drop warm-up
    })
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let runs: usize = std::env::var("GATE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    println!("gate evaluate on policies/example.toml, {runs} runs each\n");

    let scratch = tempfile::tempdir().unwrap();
    let mut medians = Vec::new();
    // GATE_BENCH_ONLY=per-check skips the whole-process runs (for profiling).
    let whole = std::env::var("GATE_BENCH_ONLY").as_deref() != Ok("per-check");
    for compiler in ["cranelift", "winch"].into_iter().filter(|_| whole) {
        let cold: Vec<Duration> = (0..runs)
            .map(|i| {
                whole_process(
                    root,
                    &scratch.path().join(format!("cold-{compiler}-{i}")),
                    compiler,
                )
            })
            .collect();
        let warm_cache = scratch.path().join(format!("warm-{compiler}"));
        whole_process(root, &warm_cache, compiler);
        let warm: Vec<Duration> = (0..runs)
            .map(|_| whole_process(root, &warm_cache, compiler))
            .collect();
        let cold_med = show(
            &format!("whole process, cold (empty cache), {compiler}"),
            cold,
        );
        let warm_med = show(&format!("whole process, warm (cached), {compiler}"), warm);
        println!(
            "{:<44} {:.1}x",
            "cold / warm",
            cold_med.as_secs_f64() / warm_med.as_secs_f64()
        );
        medians.push((cold_med, warm_med));
    }
    if let [cranelift, winch] = medians[..] {
        println!(
            "{:<44} {:.2}x cold, {:.2}x warm",
            "cranelift / winch",
            cranelift.0.as_secs_f64() / winch.0.as_secs_f64(),
            cranelift.1.as_secs_f64() / winch.1.as_secs_f64()
        );
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let iterations: usize = std::env::var("GATE_BENCH_CHECKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    println!();
    let pooled = show(
        "per-check host overhead, pooling allocator",
        per_check(&rt, true, iterations),
    );
    let on_demand = show(
        "per-check host overhead, on-demand allocation",
        per_check(&rt, false, iterations),
    );
    println!(
        "{:<44} {:.2}x",
        "on-demand / pooling",
        on_demand.as_secs_f64() / pooled.as_secs_f64()
    );
    println!(
        "\n(per-check = fresh store + WASI context + instantiate + run() + lift findings, echo plugin)"
    );
}
