//! The built-in plugins are embedded in the `gate` binary exactly once:
//! their wasm and their precompiled code. A static copied from another's
//! value once made the compiler emit every blob twice (46 MB of the
//! binary), which nothing else would notice: this reads the real binary.

use gate_sandbox::plugin::{BUILTINS, STRATEGIES, VALIDATORS, strategy, validator};

/// How often `needle` (a whole blob: pieces of one, such as a data
/// segment, also appear inside its precompiled code) occurs in `hay`.
fn occurrences(hay: &[u8], needle: &[u8]) -> usize {
    memchr::memmem::find_iter(hay, needle).count()
}

#[test]
fn each_builtin_is_in_the_binary_once() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_gate")).unwrap();
    let all = BUILTINS
        .iter()
        .chain(VALIDATORS.iter().filter_map(|n| validator(n)))
        .chain(STRATEGIES.iter().filter_map(|n| strategy(n)));
    let mut seen = 0;
    for b in all {
        seen += 1;
        assert_eq!(
            occurrences(&binary, b.wasm),
            1,
            "the wasm of `{}` is not in the binary exactly once",
            b.name
        );
        if !b.precompiled.is_empty() {
            assert_eq!(
                occurrences(&binary, b.precompiled),
                1,
                "the precompiled code of `{}` is not in the binary exactly once",
                b.name
            );
        }
    }
    assert!(seen >= 6, "only {seen} built-ins found");
}

/// The executable's relative relocations are packed (DT_RELR, build.rs):
/// 17 KB the loader reads at every start instead of 1.5 MB of RELA entries.
/// The build machines run glibc 2.36 or later, where build.rs's probe passes;
/// a build that silently lost the flag would show up here.
#[test]
fn relative_relocations_are_packed() {
    let out = std::process::Command::new("readelf")
        .args(["-d", env!("CARGO_BIN_EXE_gate")])
        .output()
        .expect("readelf (binutils) runs");
    let dynamic = String::from_utf8_lossy(&out.stdout);
    assert!(dynamic.contains("(RELR)"), "no DT_RELR in gate:\n{dynamic}");
    let rela = dynamic
        .lines()
        .find(|l| l.contains("(RELASZ)"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(rela < 64 * 1024, "{rela} bytes of RELA relocations remain");
}
