//! Links the `gate` executable with packed relative relocations (DT_RELR)
//! where the toolchain and the C library support them.
//!
//! gate is a position-independent executable with about 65,000 relative
//! relocations (tables of pointers in read-only data). As RELA entries they
//! take 1.5 MB that the dynamic loader reads at every start; packed they
//! take 17 KB. That is about 1.7 MiB less peak memory for a short command
//! such as `gate evaluate` on the example policy (docs/benchmarks.md). A binary linked this way needs
//! glibc 2.36 or later, so the flag is used only when a probe program linked
//! with it by this machine's C compiler also runs here. `GATE_NO_RELR=1`
//! turns it off.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GATE_NO_RELR");
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
