//! Plugins written in Rust: a cargo project on the vendored SDK
//! ([`crate::sdk`]), built with `cargo build --release --target
//! wasm32-wasip2`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gate_sandbox::wasm_target::{self, Ensured};

use crate::error::DevkitError;
use crate::lang::{Language, Toolchain};
use crate::manifest::Manifest;
use crate::sdk::{SDK_CRATE, SDK_VERSION, VENDOR_DIR};

pub struct Rust;

impl Toolchain for Rust {
    fn scaffold(&self, name: &str, dir: &Path) -> Result<(), DevkitError> {
        let mut manifest = Manifest::new(name, Language::Rust);
        manifest.output = PathBuf::from(format!("build/{name}.wasm"));
        manifest.write(dir)?;
        for (rel, contents) in templates(name, &manifest) {
            crate::files::create(dir, rel, &contents)?;
        }
        crate::sdk::vendor_into(dir)
    }

    fn build(&self, project: &Path, log: &mut dyn std::io::Write) -> Result<PathBuf, DevkitError> {
        let manifest = Manifest::load(project)?;
        ensure_target(project, log)?;
        let built = cargo_build(project, log)?;
        let bytes = std::fs::read(&built).map_err(|source| DevkitError::Io {
            path: built.clone(),
            source,
        })?;
        crate::files::write_bytes(project, &manifest.output, &bytes)?;
        Ok(project.join(&manifest.output))
    }
}

/// Adds the wasm target through rustup when the project's toolchain lacks
/// it, with the same rule and messages as the build of gate itself.
fn ensure_target(project: &Path, log: &mut dyn std::io::Write) -> Result<(), DevkitError> {
    match wasm_target::ensure("rustc", project) {
        Ok(Ensured::Present) => Ok(()),
        Ok(Ensured::Added) => {
            let _ = writeln!(log, "warning: {}", Ensured::added_message());
            Ok(())
        }
        Err(missing) => Err(DevkitError::Tool {
            tool: "rustup".into(),
            message: missing.to_string(),
            help: Some(format!("run `{}`", wasm_target::fix())),
        }),
    }
}

/// Runs cargo; its diagnostics go to `log`. Returns the component cargo
/// wrote (wherever `CARGO_TARGET_DIR` or `.cargo/config.toml` put it).
fn cargo_build(project: &Path, log: &mut dyn std::io::Write) -> Result<PathBuf, DevkitError> {
    let mut child = Command::new("cargo")
        .current_dir(project)
        .args(["build", "--release", "--target", wasm_target::TARGET])
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| DevkitError::Tool {
            tool: "cargo".into(),
            message: format!("cannot run it: {e}"),
            help: Some("install Rust with rustup (https://rustup.rs)".into()),
        })?;
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| cdylib_wasm(&line))
            .collect::<Vec<PathBuf>>()
    });
    if let Some(mut stderr) = child.stderr.take() {
        let _ = std::io::copy(&mut stderr, log);
    }
    let status = child.wait().map_err(|e| DevkitError::Tool {
        tool: "cargo".into(),
        message: e.to_string(),
        help: None,
    })?;
    let artifacts = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(DevkitError::Tool {
            tool: "cargo".into(),
            message: format!("the build failed ({status}); its errors are above"),
            help: None,
        });
    }
    match artifacts.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(DevkitError::Tool {
            tool: "cargo".into(),
            message: "the build produced no component: the package needs `crate-type = [\"cdylib\"]` under [lib]".into(),
            help: None,
        }),
        many => Err(DevkitError::Tool {
            tool: "cargo".into(),
            message: format!(
                "the build produced {} components ({}); a plugin project builds one",
                many.len(),
                many.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            help: None,
        }),
    }
}

/// The `.wasm` of a cdylib in one line of cargo's JSON messages.
fn cdylib_wasm(line: &str) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let kinds = message["target"]["kind"].as_array()?;
    if !kinds.iter().any(|k| *k == "cdylib") {
        return None;
    }
    message["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))
        .map(PathBuf::from)
}

/// The project's files besides the manifest and the vendored SDK.
fn templates(name: &str, manifest: &Manifest) -> Vec<(&'static str, String)> {
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{Name}}", &type_name(name))
            .replace("{{sdk}}", SDK_CRATE)
            .replace("{{sdk_version}}", SDK_VERSION)
            .replace("{{vendor}}", VENDOR_DIR)
            .replace("{{output}}", &manifest.output.display().to_string())
            .replace("{{wit}}", &manifest.wit)
    };
    vec![
        ("Cargo.toml", fill(CARGO_TOML)),
        ("src/lib.rs", fill(LIB_RS)),
        ("cases/example.toml", fill(CASES)),
        ("policy-snippet.toml", fill(POLICY)),
        ("README.md", fill(README)),
        (".gitignore", fill(GITIGNORE)),
    ]
}

/// `acme-checks` → `AcmeChecks`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

const CARGO_TOML: &str = r##"[package]
name = "gate-plugin-{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
# gate's Rust SDK, vendored by `gate plugin new` at the version of the gate
# that wrote it. To take it from crates.io once it is published there, write
# `{{sdk}} = "{{sdk_version}}"` here and in [dev-dependencies], then delete
# {{vendor}}/ and the [patch.crates-io] section below.
{{sdk}} = { path = "{{vendor}}/{{sdk}}", version = "={{sdk_version}}" }
serde = { version = "1", features = ["derive"] }
serde_json = "1"

[dev-dependencies]
{{sdk}} = { path = "{{vendor}}/{{sdk}}", version = "={{sdk_version}}", features = ["testing"] }

# The SDK's one dependency that is not on crates.io (gate's secret masking),
# vendored beside it.
[patch.crates-io]
gate-redact = { path = "{{vendor}}/gate-redact" }

# Small components: they are compiled by gate on first use.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = "debuginfo"

# A project of its own, even inside another cargo workspace.
[workspace]
"##;

const LIB_RS: &str = r##"//! The `{{name}}` plugin for gate: its checks, and the `Plugin` that lists them.
//!
//! `gate plugin build` compiles it to a WebAssembly component, `gate plugin
//! test` runs the cases in `cases/`, and `cargo test` runs the tests below
//! natively.

use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Plugin, Severity, Status, param, param_default, params,
    paths,
};
use serde::Deserialize;

/// `{{name}}.example`: every listed file exists and holds more than whitespace.
pub struct Example;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleParams {
    /// Files that must exist and not be empty, relative to the working directory.
    files: Vec<String>,
    /// The largest file read, in bytes.
    #[serde(default = "default_max_bytes")]
    max_bytes: u64,
}

fn default_max_bytes() -> u64 {
    1 << 20
}

impl Check for Example {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: "{{name}}.example".into(),
            title: "Required files are present and not empty".into(),
            description: "Every file in `files` exists and holds more than whitespace.".into(),
            default_severity: Severity::Medium,
            params: vec![
                param("files", "list<string>", true, "files that must exist and not be empty"),
                param_default("max_bytes", "integer", "the largest file read, in bytes", "1048576"),
            ],
            // What `run` uses: the policy must grant `fs` for the files.
            capabilities: vec!["fs".into()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: ExampleParams = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(findings) => return findings,
        };
        if p.files.is_empty() {
            return params::invalid(ctx, "`files` is empty: list at least one file");
        }
        p.files
            .iter()
            .map(|file| check_file(ctx, file, p.max_bytes))
            .collect()
    }
}

/// One finding per file. A file the check cannot see (outside the `fs`
/// grant, unreadable, too large) is `error`, never `pass`.
fn check_file(ctx: &Context, file: &str, max_bytes: u64) -> Finding {
    // The host checks the path against the plugin's grants first; a denial
    // names the grant to add.
    let granted = match paths::resolve(file) {
        Ok(granted) => granted,
        Err(denied) => return ctx.finding(file, Status::Error).message(denied).build(),
    };
    if let Err(e) = std::fs::metadata(&granted.absolute)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        return ctx
            .finding(file, Status::Fail)
            .message(format!("{file} is missing"))
            .remediation(format!("add {file}"))
            .build();
    }
    match paths::read_bytes(&granted, max_bytes) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => ctx
            .finding(file, Status::Fail)
            .message(format!("{file} is empty"))
            .location(file, Some(1), None)
            .remediation(format!("write {file}"))
            .build(),
        Ok(bytes) => ctx
            .finding(file, Status::Pass)
            .message(format!("{file} is present"))
            .evidence("bytes", bytes.len())
            .build(),
        Err(unreadable) => ctx.finding(file, Status::Error).message(unreadable).build(),
    }
}

pub struct {{Name}};

impl Plugin for {{Name}} {
    const ID: &'static str = "{{name}}";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "{{name}}'s own checks";
    fn checks() -> Vec<Box<dyn Check>> {
        vec![Box::new(Example)]
    }
}

gate_plugin_sdk::plugin!({{Name}});

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules gate enforces when it loads the plugin (ids in its
    /// namespace, well-formed, unique) and the ones that keep
    /// `gate checks list` readable.
    #[test]
    fn catalogue() {
        gate_plugin_sdk::testing::assert_catalogue_invariants(&gate_plugin_sdk::describe::<{{Name}}>());
    }

    #[test]
    fn a_typo_in_params_is_an_error_finding() {
        let ctx = Context {
            check: "{{name}}.example".into(),
            cwd: ".".into(),
        };
        let findings = Example.run(&ctx, &serde_json::json!({ "file": ["README.md"] }));
        assert_eq!(findings.len(), 1);
        assert!(matches!(findings[0].status, Status::Error));
    }
}
"##;

const CASES: &str = r##"# Cases for `gate plugin test`. Each case writes `files` into a fresh
# directory (the check's working directory and its only `fs` grant), runs
# `check` with `params` in the built component, and compares the findings
# with its `[[case.expect]]` entries (`message` is a regular expression).

[[case]]
name = "a README with content passes"
check = "{{name}}.example"
params = { files = ["README.md"] }
files = { "README.md" = "# Billing service\n" }
[[case.expect]]
status = "pass"
subject = "README.md"
message = "is present"

[[case]]
name = "an empty file fails"
check = "{{name}}.example"
params = { files = ["README.md", "CHANGELOG.md"] }
files = { "README.md" = "# Billing service\n", "CHANGELOG.md" = "\n" }
[[case.expect]]
status = "pass"
subject = "README.md"
[[case.expect]]
status = "fail"
subject = "CHANGELOG.md"
message = "is empty"

[[case]]
name = "a missing file fails"
check = "{{name}}.example"
params = { files = ["RUNBOOK.md"] }
files = {}
[[case.expect]]
status = "fail"
subject = "RUNBOOK.md"
message = "is missing"

[[case]]
name = "a file outside the grant is an error, never a pass"
check = "{{name}}.example"
params = { files = ["/etc/hostname"] }
files = {}
[[case.expect]]
status = "error"
subject = "/etc/hostname"
message = "not granted"

[[case]]
name = "an empty list is a parameter error"
check = "{{name}}.example"
params = { files = [] }
files = {}
[[case.expect]]
status = "error"
subject = "params"
message = "`files` is empty"
"##;

const POLICY: &str = r##"# A policy to try the plugin on this project:
#
#     gate evaluate --policy policy-snippet.toml
#
# `gate plugin build` keeps the sha256 below current. To use the plugin in
# your own policy, paste the [[plugin]] block it prints (its `path` is
# relative to that policy's directory) and the [[gate]] and [[check]] below.

[policy]
name = "{{name}}-try"

[[plugin]]
name = "{{name}}"
path = "{{output}}"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
[plugin.grants]
fs = ["."]

[[gate]]
name = "{{name}}"
checks = ["{{name}}.*"]
enforcement = "block"

[[check]]
id = "{{name}}.example"
params = { files = ["README.md", "Cargo.toml"] }
"##;

const README: &str = r##"# {{name}}: a gate plugin

Checks for gate, written in Rust against `gate:plugin@{{wit}}`.

```sh
gate plugin build                               # the component: {{output}}, its sha256 and [[plugin]] block
gate plugin test                                # the cases in cases/, and the rules every plugin keeps
gate evaluate --policy policy-snippet.toml      # the plugin in a policy, on this project
gate plugin inspect {{output}}                  # world, checks, imported capabilities, compile time
cargo test                                      # the unit tests in src/, natively
```

- `src/lib.rs`: the checks. Add one by writing a type that implements
  `Check` and listing it in `checks()`; every id starts with `{{name}}.`.
  `capabilities` lists what the check needs (`fs`, `env`, `http`, `net`,
  `unix`, `sql`, `metrics`, `system`): the policy must grant them.
- `cases/`: case files for `gate plugin test` (fixture files, params, the
  expected findings).
- `policy-snippet.toml`: a policy that runs the plugin here.
- `{{vendor}}/`: gate's Rust SDK ({{sdk}} {{sdk_version}}) and the crate it
  needs, as the gate that wrote this project shipped them. Do not edit them;
  a newer gate's `gate plugin new` writes newer ones.

A check that cannot see what it checks (a path outside its grant, a service
down) reports `error`, never `pass`.
"##;

const GITIGNORE: &str = "/target\n/build\n/.gate\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_camel_case() {
        assert_eq!(type_name("acme"), "Acme");
        assert_eq!(type_name("acme-checks2"), "AcmeChecks2");
    }

    #[test]
    fn cargo_json_artifacts_name_the_component() {
        let line = r#"{"reason":"compiler-artifact","target":{"kind":["cdylib"]},"filenames":["/t/wasm32-wasip2/release/gate_plugin_acme.wasm"]}"#;
        assert_eq!(
            cdylib_wasm(line),
            Some(PathBuf::from(
                "/t/wasm32-wasip2/release/gate_plugin_acme.wasm"
            ))
        );
        let rlib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"]},"filenames":["/t/libx.rlib"]}"#;
        assert_eq!(cdylib_wasm(rlib), None);
        assert_eq!(cdylib_wasm("not json"), None);
    }

    #[test]
    fn the_scaffold_is_complete_and_filled_in() {
        let dir = tempfile::tempdir().unwrap();
        crate::project::new("acme-checks", Language::Rust, dir.path()).unwrap();
        let read = |rel: &str| std::fs::read_to_string(dir.path().join(rel)).unwrap();
        for rel in [
            "Cargo.toml",
            "src/lib.rs",
            "cases/example.toml",
            "policy-snippet.toml",
            "README.md",
            ".gitignore",
        ] {
            assert!(
                !read(rel).contains("{{"),
                "{rel} has an unfilled placeholder"
            );
        }
        let manifest = Manifest::load(dir.path()).unwrap();
        assert_eq!(manifest.name, "acme-checks");
        assert_eq!(manifest.output, PathBuf::from("build/acme-checks.wasm"));
        let lib = read("src/lib.rs");
        assert!(lib.contains("id: \"acme-checks.example\".into()"));
        assert!(lib.contains("gate_plugin_sdk::plugin!(AcmeChecks);"));
        let cargo: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
        let sdk = &cargo["dependencies"][SDK_CRATE];
        assert_eq!(sdk["path"].as_str(), Some("vendor/gate-plugin-sdk"));
        assert_eq!(sdk["version"].as_str(), Some(&*format!("={SDK_VERSION}")));
        assert!(
            dir.path()
                .join("vendor/gate-plugin-sdk/wit/gate-plugin.wit")
                .is_file()
        );
        let cases: toml::Table = toml::from_str(&read("cases/example.toml")).unwrap();
        assert_eq!(cases["case"].as_array().unwrap().len(), 5);
        let policy: toml::Table = toml::from_str(&read("policy-snippet.toml")).unwrap();
        assert_eq!(
            policy["plugin"][0]["path"].as_str(),
            Some("build/acme-checks.wasm")
        );
    }
}
