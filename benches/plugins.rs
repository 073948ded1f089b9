//! `cargo bench --bench plugins`: the same plugin (`acme`, examples/plugins)
//! in Rust, Python and JavaScript, built with the real tools (or reused
//! from an earlier build in this process's tree), side by side: component
//! size; first compile (Cranelift, no cache); warm load (from the
//! authenticated cache); `describe()` (instantiate + call); per-check run
//! time; and whole `gate evaluate` processes with an empty cache and a warm
//! one. Prints medians (and quartiles) over repeated runs.

#[path = "../tests/polyglot/mod.rs"]
mod polyglot;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gate_core::clock::Clock;
use gate_devkit::Language;
use gate_sandbox::cache::CacheOutcome;
use gate_sandbox::capabilities::Sandbox;
use gate_sandbox::grants::{FsGrant, Grants};
use gate_sandbox::plugin::{PluginSource, Runtime};

fn quartiles(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

fn show(label: &str, v: Vec<Duration>) -> Duration {
    let n = v.len();
    let (q1, med, q3) = quartiles(v);
    println!("  {label:<40} median {med:>10.3?}   (q1 {q1:.3?}, q3 {q3:.3?}, n={n})");
    med
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// One whole `gate evaluate` of both checks, with `cache` as the cache dir.
fn whole_process(dir: &Path, cache: &Path, config: &Path) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_gate"))
        .args(["evaluate", "--policy", "policy.toml", "--format", "json"])
        .current_dir(dir)
        .env("GATE_CACHE_DIR", cache)
        .env("XDG_CONFIG_HOME", config)
        .env("GATE_AUDIT_KEY", config.join("audit.key"))
        .env("DEPLOY_ENV", "production")
        .output()
        .expect("run gate");
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "gate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

struct Row {
    language: Language,
    size: u64,
    compile: Duration,
    warm_load: Duration,
    describe: Duration,
    runbook: Duration,
    env: Duration,
    cold_process: Duration,
    warm_process: Duration,
}

fn measure(language: Language, runs: usize, rt: &tokio::runtime::Runtime) -> Row {
    let wasm_path = polyglot::component(language);
    let wasm = std::fs::read(&wasm_path).unwrap();
    println!("{language}: {} ({} bytes)", wasm_path.display(), wasm.len());
    let source = PluginSource {
        name: "acme".into(),
        sha256: sha256(&wasm),
        wasm: wasm.clone().into(),
        path: Some(wasm_path.clone()),
        builtin: None,
    };

    let scratch = tempfile::tempdir().unwrap();
    let fixture = scratch.path().join("fixture");
    for service in ["web", "api", "db"] {
        let path = fixture.join("runbooks").join(format!("{service}.md"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "# runbook\n## Alerts\n## Rollback\n## Contacts\n").unwrap();
    }

    // Compiling: in-process, no cache.
    let uncached = Runtime::new(None).expect("runtime");
    let compile: Vec<Duration> = (0..runs.clamp(1, 3))
        .map(|_| {
            let t = Instant::now();
            uncached.compile(&source).expect("compile");
            t.elapsed()
        })
        .collect();
    let compile = show("first compile (Cranelift, no cache)", compile);

    // Loading from the cache: the first compile fills it.
    let cache = scratch.path().join("cache");
    let cached = Runtime::new(Some(cache.clone())).expect("runtime");
    cached.compile(&source).expect("fill the cache");
    let warm: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let (_, outcome) = cached.compile(&source).expect("load");
            assert_eq!(outcome, CacheOutcome::Hit);
            t.elapsed()
        })
        .collect();
    let warm_load = show("warm load (cache hit)", warm);

    let grants = Grants {
        fs: vec![FsGrant {
            path: "runbooks".into(),
            writable: false,
        }],
        env: vec!["DEPLOY_*".into()],
        ..Default::default()
    };
    let sandbox = Arc::new(Sandbox::new("acme", grants, &fixture, Clock::System));
    let (describe, runbook, env) = rt.block_on(async {
        let mut describe = Vec::new();
        let mut plugin = None;
        for _ in 0..runs {
            let (pre, outcome) = cached.compile(&source).expect("load");
            let t = Instant::now();
            let loaded = cached
                .describe(&source, sandbox.clone(), pre, outcome)
                .await
                .expect("describe");
            describe.push(t.elapsed());
            plugin = Some(loaded);
        }
        let plugin = plugin.unwrap();
        let per_check = |check: &'static str, params: serde_json::Value| {
            let plugin = &plugin;
            let cached = &cached;
            async move {
                let mut out = Vec::new();
                for i in 0..runs * 2 + 3 {
                    let run = cached.run_check(plugin, check, &params).await;
                    let findings = run.outcome.unwrap_or_else(|e| panic!("{check}: {e}"));
                    assert!(!findings.is_empty());
                    if i >= 3 {
                        out.push(run.duration); // after warm-up
                    }
                }
                out
            }
        };
        let runbook = per_check(
            "acme.runbook",
            serde_json::json!({ "services": ["web", "api", "db"] }),
        )
        .await;
        let env = per_check("acme.env", serde_json::json!({ "required": ["HOME"] })).await;
        (describe, runbook, env)
    });
    let describe = show("describe() (instantiate + call)", describe);
    let runbook = show("run acme.runbook (3 runbooks)", runbook);
    let env = show("run acme.env (1 variable)", env);

    // Whole processes.
    let config = scratch.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        fixture.join("policy.toml"),
        format!(
            "[policy]\nname = \"bench\"\n\n[[plugin]]\nname = \"acme\"\npath = \"{}\"\nsha256 = \"{}\"\n[plugin.grants]\nfs = [\"./runbooks\"]\nenv = [\"DEPLOY_*\"]\n\n\
             [[gate]]\nname = \"preflight\"\nchecks = [\"acme.*\"]\n\n[[check]]\nid = \"acme.runbook\"\nparams = {{ services = [\"web\", \"api\", \"db\"] }}\n\n\
             [[check]]\nid = \"acme.env\"\nparams = {{ required = [\"DEPLOY_ENV\"] }}\n",
            wasm_path.display(),
            sha256(&wasm)
        ),
    )
    .unwrap();
    let process_runs = runs.clamp(1, 5);
    let cold: Vec<Duration> = (0..process_runs)
        .map(|i| whole_process(&fixture, &scratch.path().join(format!("cold-{i}")), &config))
        .collect();
    let warm_cache = scratch.path().join("warm");
    whole_process(&fixture, &warm_cache, &config);
    let warm: Vec<Duration> = (0..runs)
        .map(|_| whole_process(&fixture, &warm_cache, &config))
        .collect();
    let cold_process = show("gate evaluate, empty cache", cold);
    let warm_process = show("gate evaluate, warm cache", warm);
    println!();
    Row {
        language,
        size: wasm.len() as u64,
        compile,
        warm_load,
        describe,
        runbook,
        env,
        cold_process,
        warm_process,
    }
}

fn main() {
    let runs: usize = std::env::var("GATE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("the acme plugin (examples/plugins) per language, {runs} runs each\n");
    let rows: Vec<Row> = polyglot::LANGUAGES
        .into_iter()
        .map(|l| measure(l, runs, &rt))
        .collect();

    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    println!(
        "| language | component | first compile | warm load | describe() | acme.runbook | acme.env | gate evaluate, cold | gate evaluate, warm |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.1} MiB | {} | {} | {} | {} | {} | {} | {} |",
            r.language,
            r.size as f64 / (1 << 20) as f64,
            ms(r.compile),
            ms(r.warm_load),
            ms(r.describe),
            ms(r.runbook),
            ms(r.env),
            ms(r.cold_process),
            ms(r.warm_process),
        );
    }
}
