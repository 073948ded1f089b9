//! Shared helpers for the end-to-end tests: they drive the real `gate` binary.

#![allow(dead_code)]

// Also included by the services harness (`tests/services/mod.rs`).
#[allow(clippy::duplicate_mod)]
pub mod scratch;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

pub const GATE: &str = env!("CARGO_BIN_EXE_gate");

/// A test plugin component built by host/sandbox/build.rs (e.g. `hostile`, `echo`).
pub fn plugin_path(name: &str) -> PathBuf {
    Path::new(gate_sandbox::plugin::PLUGIN_BUILD_DIR).join(format!("gate_plugin_{name}.wasm"))
}

pub fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read plugin")))
}

/// `[[plugin]]` block for a test plugin, pinned to its real digest.
pub fn plugin_block(name: &str, grants: &str) -> String {
    let path = plugin_path(name);
    format!(
        "[[plugin]]\nname = \"{name}\"\npath = \"{}\"\nsha256 = \"{}\"\n[plugin.grants]\n{grants}\n\n",
        path.display(),
        sha256_file(&path)
    )
}

/// A scratch directory with a policy in it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub cache: PathBuf,
}

impl Workspace {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = shared_cache();
        Workspace { dir, cache }
    }

    /// A workspace on a filesystem with room to spare, for tests whose
    /// policies check free space there and expect a pass (see `scratch`).
    pub fn roomy() -> Self {
        let dir = scratch::roomy_tempdir("gate-roomy-");
        let cache = shared_cache();
        Workspace { dir, cache }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// Runs `gate` in the workspace directory.
    pub fn gate(&self, args: &[&str]) -> Output {
        self.gate_env(args, &[])
    }

    pub fn gate_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.gate_in(self.dir.path(), args, env)
    }

    /// Runs `gate` in `dir` (e.g. a subdirectory of the workspace), with the
    /// workspace's cache, config and audit key.
    pub fn gate_in(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command_in(dir, args, env).output().expect("run gate")
    }

    /// The `gate` command [`Workspace::gate_in`] runs, to spawn it instead.
    pub fn command_in(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(GATE);
        cmd.args(args)
            .current_dir(dir)
            .env("GATE_CACHE_DIR", &self.cache)
            // The cache key lives under the config dir: keep tests off ~/.config.
            .env("XDG_CONFIG_HOME", shared_config())
            // The audit log's signing key too, and it stays the same when a
            // test points XDG_CONFIG_HOME elsewhere (the audit log of a
            // workspace is signed by one key).
            .env(
                "GATE_AUDIT_KEY",
                shared_config().join("gate").join("audit.key"),
            )
            .env_remove("GATE_TEST_NOW")
            .env_remove("GITHUB_ACTIONS")
            .env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }
}

/// Runs `git` in `dir` with a fixed identity; panics with its stderr when it
/// fails. Returns its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies the directory tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The config directory (holding the cache key and the audit key) that
/// every test shares, in cargo's scratch directory for integration tests
/// (`target/tmp`): runs leave nothing in /tmp, and `cargo clean` removes it.
/// Keys are created atomically, so test binaries running at once share them.
fn shared_config() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("gate-test-config")
}

/// The plugin cache every test shares (beside [`shared_config`]), so tests
/// after the first are warm. Entries are written atomically and sealed, so
/// test binaries running at once share it too.
fn shared_cache() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gate-test-cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

/// The JSON report entry for check `id` in gate `gate`.
pub fn check<'a>(report: &'a serde_json::Value, gate: &str, id: &str) -> &'a serde_json::Value {
    report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == gate)
        .unwrap_or_else(|| panic!("no gate {gate}"))["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {gate}"))
}

/// A JSON value written as a TOML inline value, for params in test policies.
pub fn toml(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => panic!("TOML has no null"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // TOML basic strings accept JSON's escapes.
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", Value::String(k.clone()), toml(v)))
                .collect();
            format!("{{ {} }}", pairs.join(", "))
        }
    }
}

/// The placeholder help snapshots show for the report formats' possible values.
pub const REPORT_FORMATS: &str = "<every report format>";

/// A command's `--help` text for a snapshot. The possible values of a report
/// `--format` option are checked here against the registry
/// (`gate_eval::report::Format`, every variant in declaration order) and then
/// replaced by [`REPORT_FORMATS`], so adding a format changes the registry and
/// not the help snapshots of every command that prints reports.
pub fn help_text(out: &Output) -> String {
    let text = stdout(out);
    let names: Vec<&str> = gate_eval::report::Format::all().map(|f| f.name()).collect();
    let expected = names.join(", ");
    let open = "[possible values: ";
    let mut result = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(open) {
        let (before, list) = rest.split_at(at + open.len());
        let end = list
            .find(']')
            .expect("a closing bracket after possible values");
        let values = list[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        result.push_str(before);
        if values.starts_with("human, json, sarif") {
            assert_eq!(values, expected, "--format must list every report format");
            result.push_str(REPORT_FORMATS);
        } else {
            result.push_str(&list[..end]);
        }
        rest = &list[end..];
    }
    result.push_str(rest);
    result
}
