//! The precompiled-code cache: only used external plugins are compiled,
//! entries are sealed with a per-user key and bound to their plugin and
//! engine, an entry that fails is rebuilt, not trusted, and built-ins never
//! touch the cache at all.

mod common;

use common::*;

fn policy() -> String {
    format!(
        "[policy]\nname = \"cache\"\n\n{}[[gate]]\nname = \"g\"\nchecks = [\"echo.*\"]\n\n\
         [[check]]\nid = \"echo.findings\"\nparams = {{ findings = [{{ subject = \"a\", status = \"pass\" }}] }}\n",
        plugin_block("echo", "")
    )
}

/// A policy whose only gate runs `hostile.ok`.
fn hostile_policy() -> String {
    format!(
        "[policy]\nname = \"cache\"\n\n{}[[gate]]\nname = \"g\"\nchecks = [\"hostile.ok\"]\n",
        plugin_block("hostile", "")
    )
}

/// A policy of built-in checks only.
const BUILTIN_POLICY: &str = r#"[policy]
name = "builtins"

[[gate]]
name = "g"
checks = ["config.env-vars", "infra.disk-space"]

[[check]]
id = "config.env-vars"
params = { required = ["PATH"] }

[[check]]
id = "infra.disk-space"
params = { paths = ["."], min_free_percent = 0, min_free_inodes_percent = 0 }

[[plugin]]
name = "config"
[plugin.grants]
env = ["PATH"]

[[plugin]]
name = "infra"
[plugin.grants]
fs = ["."]
"#;

/// The one finding `echo.findings` was asked to return, or a panic naming what ran.
fn echo_ran(out: &std::process::Output) {
    assert_eq!(code(out), 0, "{}", stderr(out));
    let report = json(out);
    let entry = check(&report, "g", "echo.findings");
    assert_eq!(entry["status"], "pass", "{entry:#}");
    assert_eq!(entry["findings"][0]["subject"], "a", "{entry:#}");
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

#[test]
fn an_entry_renamed_to_another_plugins_name_is_recompiled() {
    let mut ws = Workspace::new();
    ws.cache = ws.path().join("cache");
    ws.write("echo.toml", &policy());
    ws.write("hostile.toml", &hostile_policy());
    let echo_args = ["evaluate", "--policy", "echo.toml", "--format", "json"];
    echo_ran(&ws.gate(&echo_args));
    let echo_entry = entries(&ws.cache).pop().unwrap();
    let echo_good = std::fs::read(&echo_entry).unwrap();
    let out = ws.gate(&["evaluate", "--policy", "hostile.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let hostile_entry = entries(&ws.cache)
        .into_iter()
        .find(|p| *p != echo_entry)
        .expect("hostile's entry");

    // hostile's genuine, sealed entry under echo's name.
    std::fs::rename(&hostile_entry, &echo_entry).unwrap();
    let out = ws.gate_env(&echo_args, &[("GATE_LOG", "warn")]);
    echo_ran(&out);
    assert!(
        stderr(&out).contains("another plugin's code"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&echo_entry).unwrap(), echo_good, "rewritten");
}

#[test]
fn an_entry_sealed_with_another_users_key_is_recompiled() {
    let mut ws = Workspace::new();
    ws.cache = ws.path().join("cache");
    ws.write("policy.toml", &policy());
    let args = ["evaluate", "--policy", "policy.toml", "--format", "json"];
    let theirs = ws.path().join("their-config");
    let mine = ws.path().join("my-config");
    let as_user = |config: &std::path::Path| {
        ws.gate_env(
            &args,
            &[
                ("XDG_CONFIG_HOME", config.to_str().unwrap()),
                ("GATE_LOG", "debug"),
            ],
        )
    };
    echo_ran(&as_user(&theirs));
    let key = theirs.join("gate").join("cache.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let entry = entries(&ws.cache).pop().unwrap();
    let their_entry = std::fs::read(&entry).unwrap();

    let out = as_user(&mine);
    echo_ran(&out);
    assert!(stderr(&out).contains("another key"), "{}", stderr(&out));
    assert!(stderr(&out).contains("cache=Corrupt"), "{}", stderr(&out));
    assert_ne!(std::fs::read(&entry).unwrap(), their_entry, "resealed");
    // Now sealed with this user's key: a hit.
    let out = as_user(&mine);
    echo_ran(&out);
    assert!(stderr(&out).contains("cache=Hit"), "{}", stderr(&out));
}

#[test]
fn a_group_writable_cache_dir_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let mut ws = Workspace::new();
    ws.cache = ws.path().join("cache");
    std::fs::create_dir(&ws.cache).unwrap();
    std::fs::set_permissions(&ws.cache, std::fs::Permissions::from_mode(0o775)).unwrap();
    ws.write("policy.toml", &policy());
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        &[("GATE_LOG", "warn")],
    );
    echo_ran(&out);
    let err = stderr(&out);
    assert!(
        err.contains("plugin cache disabled") && err.contains("writable by group or others"),
        "{err}"
    );
    assert_eq!(err.matches("plugin cache disabled").count(), 1, "{err}");
    assert!(entries(&ws.cache).is_empty(), "nothing written");
}

#[test]
fn builtins_never_touch_the_cache_or_the_key() {
    let mut ws = Workspace::new();
    ws.cache = ws.path().join("cache");
    std::fs::create_dir(&ws.cache).unwrap();
    let config = ws.path().join("config");
    ws.write("policy.toml", BUILTIN_POLICY);
    for compiler in ["cranelift", "winch"] {
        let out = ws.gate_env(
            &["evaluate", "--policy", "policy.toml", "--format", "json"],
            &[
                ("GATE_COMPILER", compiler),
                ("GATE_LOG", "debug"),
                ("XDG_CONFIG_HOME", config.to_str().unwrap()),
            ],
        );
        assert_eq!(code(&out), 0, "{compiler}: {}", stderr(&out));
        let report = json(&out);
        assert_eq!(check(&report, "g", "config.env-vars")["status"], "pass");
        // Cranelift deserialises the code embedded at build time; Winch
        // cannot use it and compiles the embedded wasm instead.
        let expected = match compiler {
            "cranelift" => "cache=Embedded",
            _ => "cache=Compiled",
        };
        let err = stderr(&out);
        for plugin in ["config", "infra"] {
            assert!(
                err.lines().any(|l| l.contains("plugin compiled")
                    && l.contains(&format!("plugin={plugin}"))
                    && l.contains(expected)),
                "{compiler}/{plugin}: {err}"
            );
        }
        let left: Vec<_> = std::fs::read_dir(&ws.cache).unwrap().flatten().collect();
        assert!(left.is_empty(), "{compiler}: cache dir written: {left:?}");
        assert!(!config.exists(), "{compiler}: key created for built-ins");
    }
}

#[test]
fn winch_entries_are_sealed_and_reused() {
    let mut ws = Workspace::new();
    ws.cache = ws.path().join("cache");
    ws.write("policy.toml", &policy());
    let args = ["evaluate", "--policy", "policy.toml", "--format", "json"];
    let env = [("GATE_COMPILER", "winch"), ("GATE_LOG", "debug")];
    let out = ws.gate_env(&args, &env);
    echo_ran(&out);
    assert!(stderr(&out).contains("cache=Miss"), "{}", stderr(&out));
    let cached = entries(&ws.cache);
    assert_eq!(cached.len(), 1);
    assert!(
        cached[0].to_string_lossy().contains("-winch-"),
        "{cached:?}"
    );
    let out = ws.gate_env(&args, &env);
    echo_ran(&out);
    assert!(stderr(&out).contains("cache=Hit"), "{}", stderr(&out));
}
