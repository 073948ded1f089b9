//! How the `gate` executable is linked: packed relative relocations, and
//! its hot functions first.
//!
//! **Packed relative relocations (DT_RELR)**, where the toolchain and the C
//! library support them.
//!
//! gate is a position-independent executable with about 65,000 relative
//! relocations (tables of pointers in read-only data). As RELA entries they
//! take 1.5 MB that the dynamic loader reads at every start; packed they
//! take 17 KB. That is about 1.7 MiB less peak memory for a short command
//! such as `gate evaluate` on the example policy (docs/benchmarks.md). A binary linked this way needs
//! glibc 2.36 or later, so the flag is used only when a probe program linked
//! with it by this machine's C compiler also runs here. `GATE_NO_RELR=1`
//! turns it off.
//!
//! **Hot functions first.** A short command runs a few thousand of the
//! executable's ~75,000 functions, and each code page it touches is faulted
//! in with its neighbours. `link/gate.order` (written by
//! scripts/order-functions from perf samples of real runs) lists them, and
//! LLD places them first and together (`--symbol-ordering-file`): the
//! example policy's run keeps 4.3 MiB of code resident instead of 11.4 MiB
//! (docs/benchmarks.md, "Ninth pass"). Names the build no longer has are
//! skipped without a warning. This needs LLD, which rustc uses to link for
//! x86_64 Linux unless told otherwise; a build that picks another linker or
//! sets `GATE_NO_FUNCTION_ORDER=1` links in the compiler's order.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GATE_NO_RELR");
    order_functions();
    let linux_gnu = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    let host = env::var("HOST").unwrap_or_default();
    let native = env::var("TARGET").is_ok_and(|t| t == host);
    if !linux_gnu || !native || env::var_os("GATE_NO_RELR").is_some() {
        return;
    }
    if probe() {
        println!("cargo:rustc-link-arg-bins={FLAG}");
    } else {
        println!(
            "cargo:warning=linking gate without packed relocations: the C toolchain or \
             the C library here does not support {FLAG}"
        );
    }
}

const ORDER: &str = "link/gate.order";

/// Passes `link/gate.order` to LLD, when rustc links with its own LLD: on
/// x86_64-unknown-linux-gnu with no linker chosen in RUSTFLAGS.
fn order_functions() {
    println!("cargo:rerun-if-changed={ORDER}");
    println!("cargo:rerun-if-env-changed=GATE_NO_FUNCTION_ORDER");
    let target = env::var("TARGET").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let other_linker = ["linker-flavor", "link-self-contained", "fuse-ld", "linker="]
        .iter()
        .any(|f| flags.contains(f));
    if target != "x86_64-unknown-linux-gnu"
        || other_linker
        || env::var_os("GATE_NO_FUNCTION_ORDER").is_some()
    {
        return;
    }
    let Some(dir) = env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return;
    };
    let order = dir.join(ORDER);
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// Links and runs `int main(void) { return 0; }` with the flag.
fn probe() -> bool {
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        return false;
    };
    let source = out.join("relr_probe.c");
    let program = out.join("relr_probe");
    if std::fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let linked = Command::new(cc)
        .args(["-pie", "-fPIE", FLAG, "-o"])
        .arg(&program)
        .arg(&source)
        .status()
        .is_ok_and(|s| s.success());
    linked && Command::new(&program).status().is_ok_and(|s| s.success())
}
