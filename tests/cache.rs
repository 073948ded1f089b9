//! The precompiled-code cache: only used plugins are compiled, entries are
//! keyed by digest and engine, and a corrupt entry is rebuilt, not trusted.

mod common;

use common::*;

fn policy() -> String {
    format!(
        "[policy]\nname = \"cache\"\n\n{}[[gate]]\nname = \"g\"\nchecks = [\"echo.*\"]\n\n\
         [[check]]\nid = \"echo.findings\"\nparams = {{ findings = [{{ subject = \"a\", status = \"pass\" }}] }}\n",
        plugin_block("echo", "")
    )
}

fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn only_used_plugins_are_compiled_and_cached_by_digest() {
    let mut ws = Workspace::new();
    ws.cache = ws.path().join("cache");
    ws.write("policy.toml", &policy());
    let out = ws.gate(&["evaluate", "--policy", "policy.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let cached = entries(&ws.cache);
    assert_eq!(cached.len(), 1, "only echo is used: {cached:?}");
    let digest = sha256_file(&plugin_path("echo"));
    assert!(
        cached[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&digest)
    );
}

#[test]
fn corrupt_cache_entry_is_rebuilt() {
    let mut ws = Workspace::new();
    ws.cache = ws.path().join("cache");
    ws.write("policy.toml", &policy());
    assert_eq!(code(&ws.gate(&["evaluate", "--policy", "policy.toml"])), 0);
    let entry = entries(&ws.cache).pop().unwrap();
    let good = std::fs::read(&entry).unwrap();

    // Flip a byte in the middle of the compiled code.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    std::fs::write(&entry, &bad).unwrap();
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml"],
        &[("GATE_LOG", "warn")],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&entry).unwrap(),
        good,
        "entry rewritten with valid code"
    );

    // A truncated entry too.
    std::fs::write(&entry, &good[..good.len() / 3]).unwrap();
    let out = ws.gate(&["evaluate", "--policy", "policy.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read(&entry).unwrap(), good);
}

#[test]
fn unwritable_cache_does_not_fail_the_run() {
    let mut ws = Workspace::new();
    ws.write("not-a-dir", "file where the cache dir should be");
    ws.cache = ws.path().join("not-a-dir");
    ws.write("policy.toml", &policy());
    let out = ws.gate(&["evaluate", "--policy", "policy.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
