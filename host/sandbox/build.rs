//! Builds every plugin crate in `plugins/` as a wasm32-wasip2 component (a
//! nested cargo build with its own target directory), then embeds the
//! built-in ones into the binary with their sha256 computed here, once, and
//! their native code precompiled here with the runtime's own engine
//! configuration (`src/engine_config.rs`), so built-ins never go through the
//! on-disk cache. Built-ins with work that every instance would repeat are
//! pre-initialized first (`PREPARED`).

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

#[path = "build/describe.rs"]
mod describe;
#[path = "build/layout.rs"]
mod layout;

/// Built-ins pre-initialized here: the SDK's `prepare` export is called once,
/// with every import trapping, and the instance's memory and globals become
/// the component's initial state (wasmtime's wizer), so a fresh instance
/// starts with the work done. The security plugin compiles its secret
/// scanner's regexes and keyword automaton there (docs/benchmarks.md).
const PREPARED: &[&str] = &["security"];

/// Built-in plugins: (name, crate's artifact name).
const BUILTINS: &[(&str, &str)] = &[
    ("infra", "gate_plugin_infra"),
    ("security", "gate_plugin_security"),
    ("config", "gate_plugin_config"),
    ("rego", "gate_plugin_rego"),
    ("strategies", "gate_plugin_strategies"),
    ("migrations", "gate_plugin_migrations"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let plugins = root.join("plugins");
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| if d.is_absolute() { d } else { root.join(d) })
        .unwrap_or_else(|| root.join("target"))
        .join("wasm");

    println!("cargo:rerun-if-changed={}", plugins.display());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    let orders = root.join(ORDERS);
    println!("cargo:rerun-if-changed={}", orders.display());

    // Escape hatch for working on the host while a plugin is half-written:
    // reuse whatever components the last plugin build left behind.
    println!("cargo:rerun-if-env-changed=GATE_SKIP_PLUGIN_BUILD");
    let skip = env::var_os("GATE_SKIP_PLUGIN_BUILD").is_some_and(|v| v == "1");
    if !skip {
        ensure_wasm_target(&root);
        build_plugins(&plugins, &target_dir);
    }
    let gen_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    let out_dir = target_dir.join("wasm32-wasip2").join("release");
    println!(
        "cargo:rustc-env=GATE_PLUGIN_BUILD_DIR={}",
        out_dir.display()
    );

    let precompiler = Precompiler::new();
    // Each built-in's precompiled code is a page-aligned static, so its
    // pages in the executable file can be mapped in place
    // (src/plugin/mapped.rs) instead of copied.
    let mut statics = String::new();
    let mut code = String::from("pub static BUILTINS: &[Builtin] = &[\n");
    for (name, artifact) in BUILTINS {
        let mut path = out_dir.join(format!("{artifact}.wasm"));
        if skip && !path.exists() {
            // Embedded as empty: loading it fails with "not a valid component".
            path = gen_dir.join(format!("{artifact}.missing.wasm"));
            std::fs::write(&path, b"").unwrap();
        }
        let mut bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        if !bytes.is_empty() {
            bytes = lay_out(name, &bytes, &orders, &target_dir);
            path = gen_dir.join(format!("{artifact}.wasm"));
            std::fs::write(&path, &bytes).unwrap();
        }
        let prepared = PREPARED.contains(name) && !bytes.is_empty();
        if prepared {
            bytes = preinitialize(name, &bytes);
            path = gen_dir.join(format!("{artifact}.prepared.wasm"));
            std::fs::write(&path, &bytes).unwrap();
        }
        let digest = hex::encode(Sha256::digest(&bytes));
        let native = gen_dir.join(format!("{artifact}.cwasm"));
        let precompiled = precompiler.precompile(name, &bytes);
        let native_len = precompiled.len();
        let meta = precompiler.describe(name, &precompiled).map(|json| {
            let path = gen_dir.join(format!("{artifact}.describe.json"));
            std::fs::write(&path, json).unwrap();
            format!("Some(include_str!({:?}))", path.display().to_string())
        });
        let meta = meta.unwrap_or_else(|| "None".into());
        std::fs::write(&native, precompiled).unwrap();
        let code_static = format!("CODE_{}", name.to_uppercase());
        writeln!(
            statics,
            "static {code_static}: PageAligned<[u8; {native_len}]> = PageAligned(*include_bytes!({native:?}));",
            native = native.display().to_string(),
        )
        .unwrap();
        writeln!(
            code,
            "    Builtin {{ name: {name:?}, wasm: include_bytes!({path:?}), sha256: {digest:?}, \
             precompiled: &{code_static}.0, prepared: {prepared}, meta: {meta} }},",
            path = path.display().to_string(),
        )
        .unwrap();
    }
    code.push_str("];\n");
    code.push_str(&statics);
    let generated = gen_dir.join("builtins.rs");
    std::fs::write(generated, code).unwrap();
}

/// Where the built-ins' function orders are kept, from the repository root:
/// `<name>.order` (build/layout.rs).
const ORDERS: &str = "link/builtins";

/// `wasm` with the functions its order file lists first and its function
/// names dropped (build/layout.rs). The names of the functions in their new
/// order go to `<target>/wasm/builtins/<name>.functions`, one line per
/// defined function (core module, function index, name; tab-separated), for
/// scripts/order-functions to resolve samples of the precompiled code.
fn lay_out(name: &str, wasm: &[u8], orders: &Path, target_dir: &Path) -> Vec<u8> {
    let order_file = orders.join(format!("{name}.order"));
    let order = match std::fs::read_to_string(&order_file) {
        Ok(text) => layout::parse_order(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("reading {}: {e}", order_file.display()),
    };
    let laid_out = layout::lay_out(wasm, &order)
        .unwrap_or_else(|e| panic!("laying out the built-in plugin `{name}`'s functions: {e}"));
    let mut text = String::new();
    for (module, functions) in laid_out.modules.iter().enumerate() {
        for (index, function) in (functions.first..).zip(&functions.names) {
            writeln!(text, "{module}\t{index}\t{function}").unwrap();
        }
    }
    let dir = target_dir.join("builtins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.functions")), text).unwrap();
    laid_out.wasm
}

// The runtime's engine configuration, shared so the embedded code matches it.
#[allow(dead_code)]
mod engine_config {
    include!("src/engine_config.rs");

    pub fn cranelift() -> wasmtime::Config {
        engine_config(false, wasmtime::Strategy::Cranelift)
    }
}

/// Compiles built-in components to native code for the machine running the
/// build, which is the machine that runs `gate` in all but cross builds.
struct Precompiler(Option<wasmtime::Engine>);

impl Precompiler {
    fn new() -> Self {
        // A cross build's host CPU says nothing about the target's: embed no
        // code and let the runtime compile from the embedded wasm.
        let native = env::var("TARGET").ok() == env::var("HOST").ok();
        if !native {
            println!("cargo:warning=cross build: built-in plugins are compiled at run time");
            return Precompiler(None);
        }
        let mut config = engine_config::cranelift();
        // This copy of wasmtime also serves the pre-initializer, whose cargo
        // features (threads, GC) turn on proposals the runtime's copy is
        // built without; code compiled with them on would not load there.
        config.wasm_features(UNUSED_PROPOSALS, false);
        match wasmtime::Engine::new(&config) {
            Ok(engine) => Precompiler(Some(engine)),
            Err(e) => {
                println!(
                    "cargo:warning=cannot precompile the built-in plugins ({e}); they are compiled at run time"
                );
                Precompiler(None)
            }
        }
    }

    /// What the built-in's `describe` answers, as JSON (build/describe.rs).
    fn describe(&self, name: &str, precompiled: &[u8]) -> Option<String> {
        describe::describe(self.0.as_ref()?, name, precompiled)
    }

    /// Native code for `wasm`, or nothing (the runtime then compiles `wasm`).
    fn precompile(&self, name: &str, wasm: &[u8]) -> Vec<u8> {
        let Some(engine) = &self.0 else {
            return Vec::new();
        };
        if wasm.is_empty() {
            // GATE_SKIP_PLUGIN_BUILD with no component: nothing to compile.
            return Vec::new();
        }
        engine
            .precompile_component(wasm)
            .unwrap_or_else(|e| panic!("precompiling the built-in plugin `{name}`: {e:#}"))
    }
}

/// Proposals the plugins do not use and the runtime's wasmtime is built
/// without.
const UNUSED_PROPOSALS: wasmtime::WasmFeatures = wasmtime::WasmFeatures::THREADS
    .union(wasmtime::WasmFeatures::SHARED_EVERYTHING_THREADS)
    .union(wasmtime::WasmFeatures::GC)
    .union(wasmtime::WasmFeatures::GC_TYPES)
    .union(wasmtime::WasmFeatures::FUNCTION_REFERENCES)
    .union(wasmtime::WasmFeatures::EXCEPTIONS)
    .union(wasmtime::WasmFeatures::LEGACY_EXCEPTIONS)
    .union(wasmtime::WasmFeatures::STACK_SWITCHING);

/// `wasm` with its `prepare` export run and snapshotted. Stops the build
/// when `prepare` calls an import or traps: the plugin's `Plugin::prepare`
/// must not touch the host.
fn preinitialize(name: &str, wasm: &[u8]) -> Vec<u8> {
    let engine = wasmtime::Engine::new(wasmtime::Config::new().wasm_component_model(true))
        .unwrap_or_else(|e| panic!("pre-initializing `{name}`: engine: {e:#}"));
    let mut store = wasmtime::Store::new(&engine, ());
    let mut wizer = wasmtime_wizer::Wizer::new();
    // Kept: the component's `prepare` is lifted from the core export that
    // wizer would remove. Calling it again finds the work done.
    wizer.init_func("prepare").keep_init_func(true);
    let run = wizer.run_component(&mut store, wasm, async |store, component| {
        let mut linker = wasmtime::component::Linker::new(store.engine());
        link_build_imports(&mut linker, component, store.engine())?;
        linker.instantiate_async(store, component).await
    });
    let (prepared, _) = block_on(run).unwrap_or_else(|e| {
        panic!("pre-initializing the built-in plugin `{name}` (its `prepare` export): {e:#}")
    });
    prepared
}

/// The imports a built-in may reach while the build runs it (`prepare`,
/// `describe`): the seed of the standard library's hash maps (the regex
/// crate keeps its capture names in one), drawn here once per build so that
/// every instance of a pre-initialized built-in continues from it
/// (docs/security.md, "Pre-initialized built-ins"); every other import traps.
fn link_build_imports<T: 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    component: &wasmtime::component::Component,
    engine: &wasmtime::Engine,
) -> wasmtime::Result<()> {
    let imports: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    for name in imports
        .iter()
        .filter(|n| n.starts_with("wasi:random/insecure-seed@"))
    {
        linker
            .instance(name)?
            .func_wrap("insecure-seed", |_, ()| Ok((build_seed(),)))?;
    }
    linker.define_unknown_imports_as_traps(component)?;
    Ok(())
}

/// 128 random bits from the operating system, by way of the standard
/// library's own hash seeding.
fn build_seed() -> (u64, u64) {
    use std::hash::{BuildHasher, RandomState};
    let draw = || RandomState::new().hash_one(0u8);
    (draw(), draw())
}

/// Runs a future that never waits on anything outside it (wasmtime's async
/// calls here yield only when a guest does, and these never do).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

// The target and how it is added: shared with `gate plugin build`.
#[allow(dead_code)]
#[path = "src/wasm_target.rs"]
mod wasm_target;

/// Makes sure the standard library for `wasm32-wasip2` is installed: adds it
/// through rustup when it is missing (saying so in a warning), or stops the
/// build with one line saying what to run.
fn ensure_wasm_target(root: &Path) {
    println!("cargo:rerun-if-env-changed={}", wasm_target::NO_INSTALL_ENV);
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    // Run from the repository root so rust-toolchain.toml (or the
    // RUSTUP_TOOLCHAIN the outer cargo was started with) picks the toolchain.
    match wasm_target::ensure(&rustc, root) {
        Ok(wasm_target::Ensured::Present) => {}
        Ok(wasm_target::Ensured::Added) => {
            println!("cargo:warning={}", wasm_target::Ensured::added_message());
        }
        Err(missing) => stop(&missing.to_string()),
    }
}

/// Fails the build with `message` as cargo's one error line.
fn stop(message: &str) -> ! {
    println!("cargo::error={message}");
    std::process::exit(0);
}

fn build_plugins(plugins: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(plugins)
        .args([
            "build",
            "--release",
            "--workspace",
            "--target",
            wasm_target::TARGET,
            "--target-dir",
        ])
        .arg(target_dir);
    // The outer build's settings (clippy's wrapper, host rustflags, the build
    // script's own target/profile variables) must not leak into the guest build.
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let leaks = key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || key.starts_with("CARGO_BUILD_")
            || key.starts_with("CARGO_PROFILE_")
            || key.starts_with("DEP_")
            || matches!(
                key,
                "RUSTFLAGS"
                    | "CARGO_ENCODED_RUSTFLAGS"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "RUSTC_WRAPPER"
                    | "CARGO_TARGET_DIR"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "DEBUG"
                    | "NUM_JOBS"
                    | "RUSTC"
                    | "RUSTDOC"
                    | "RUSTC_LINKER"
                    | "CLIPPY_ARGS"
                    | "CLIPPY_CONF_DIR"
            );
        if leaks {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status().expect("running cargo for the plugins");
    if !status.success() {
        panic!("building the wasm32-wasip2 plugins failed ({status}); see the errors above");
    }
}
