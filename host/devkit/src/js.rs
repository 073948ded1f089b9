//! Plugins written in JavaScript: jco with ComponentizeJS (from npm, at the
//! exact versions of `sdk/js/package.json` and its lock file) bundles
//! `src/app.js` with the SDK next to it and builds a component of the
//! `check` world.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::DevkitError;
use crate::files::{self, Template};
use crate::lang::{Language, Toolchain};
use crate::tool;

pub struct Js;

/// The project's npm manifest and lock: the SDK's own, so every project
/// builds with the tools this gate was tested with.
pub const PACKAGE_JSON: &str = include_str!("../../../sdk/js/package.json");
pub const PACKAGE_LOCK: &str = include_str!("../../../sdk/js/package-lock.json");

/// The module jco componentizes.
const ENTRY: &str = "src/app.js";

/// The WASI features ComponentizeJS would otherwise import: `wasi:http`
/// (fetch and an incoming handler), which gate's host does not provide. A
/// plugin makes HTTP requests through the `http` capability instead.
const DISABLED_FEATURES: [&str; 2] = ["http", "fetch-event"];

/// The SDK as this gate ships it, written into every new project.
const SDK: &[Template] = &[
    Template {
        path: "src/gate-plugin/errors.js",
        text: include_str!("../../../sdk/js/gate-plugin/errors.js"),
    },
    Template {
        path: "src/gate-plugin/finding.js",
        text: include_str!("../../../sdk/js/gate-plugin/finding.js"),
    },
    Template {
        path: "src/gate-plugin/host.js",
        text: include_str!("../../../sdk/js/gate-plugin/host.js"),
    },
    Template {
        path: "src/gate-plugin/index.js",
        text: include_str!("../../../sdk/js/gate-plugin/index.js"),
    },
    Template {
        path: "src/gate-plugin/params.js",
        text: include_str!("../../../sdk/js/gate-plugin/params.js"),
    },
    Template {
        path: "src/gate-plugin/plugin.js",
        text: include_str!("../../../sdk/js/gate-plugin/plugin.js"),
    },
    Template {
        path: "src/gate-plugin/redact.js",
        text: include_str!("../../../sdk/js/gate-plugin/redact.js"),
    },
    Template {
        path: "package.json",
        text: PACKAGE_JSON,
    },
    Template {
        path: "package-lock.json",
        text: PACKAGE_LOCK,
    },
];

/// The project around the SDK.
const PROJECT: &[Template] = &[
    Template {
        path: "gate-plugin.toml",
        text: "name = \"{{name}}\"\nlanguage = \"js\"\nwit = \"{{wit}}\"\noutput = \"build/plugin.wasm\"\ncases = \"cases\"\n",
    },
    Template {
        path: "src/app.js",
        text: include_str!("../templates/js/src/app.js"),
    },
    Template {
        path: "README.md",
        text: include_str!("../templates/js/README.md"),
    },
    Template {
        path: ".gitignore",
        text: include_str!("../templates/js/gitignore"),
    },
    Template {
        path: "cases/example.toml",
        text: include_str!("../templates/common/cases/example.toml"),
    },
    Template {
        path: "policy-snippet.toml",
        text: include_str!("../templates/common/policy-snippet.toml"),
    },
];

/// The files of the SDK and its npm manifest, relative to a project.
pub fn sdk_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    SDK.iter().map(|t| (t.path, t.text))
}

/// The exact version `package.json` pins for `package`.
pub fn pinned(package: &str) -> Option<String> {
    let manifest: serde_json::Value = serde_json::from_str(PACKAGE_JSON).ok()?;
    manifest["devDependencies"][package]
        .as_str()
        .map(str::to_string)
}

impl Toolchain for Js {
    fn scaffold(&self, name: &str, dir: &Path) -> Result<(), DevkitError> {
        // `project::new` has checked the name and that `dir` is empty.
        crate::wit::write_into(dir)?;
        for t in SDK {
            files::create(dir, t.path, t.text)?;
        }
        files::create_all(dir, name, PROJECT)
    }

    fn build(&self, project: &Path, log: &mut dyn std::io::Write) -> Result<PathBuf, DevkitError> {
        let manifest = tool::manifest_for(project, Language::Js)?;
        let staging = tool::Staging::new(project)?;
        let output = staging.path();
        install(project, log)?;
        let jco = project.join("node_modules").join(".bin").join("jco");
        let mut cmd = Command::new("node");
        cmd.current_dir(project)
            .arg(jco)
            .args([
                "componentize",
                ENTRY,
                "--bundle",
                "--wit",
                "wit",
                "-n",
                "check",
            ])
            .arg("--disable")
            .args(DISABLED_FEATURES)
            .arg("-o")
            .arg(output);
        tool::run(
            &mut cmd,
            "jco",
            "the error above is jco's: check src/app.js (it must export `describe` and `run`, e.g. `export const { describe, run } = plugin.exports()`)",
            log,
        )?;
        staging.install("jco", project, &manifest)
    }
}

/// Installs the project's npm packages when `node_modules` is missing
/// (`npm ci` from the lock file, `npm install` without one), and checks that
/// jco is the version `package.json` pins.
fn install(project: &Path, log: &mut dyn std::io::Write) -> Result<(), DevkitError> {
    let help = "install Node.js 20 or later with npm, then run `npm ci` in the project";
    if !project.join("node_modules").is_dir() {
        let locked = project.join("package-lock.json").is_file();
        let verb = if locked { "ci" } else { "install" };
        let _ = writeln!(log, "node_modules is missing: running `npm {verb}`");
        tool::run(
            Command::new("npm")
                .current_dir(project)
                .args([verb, "--no-audit", "--no-fund"]),
            "npm",
            help,
            log,
        )?;
    }
    let manifest = project.join("package.json");
    let wanted = std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|m| {
            m["devDependencies"]["@bytecodealliance/jco"]
                .as_str()
                .map(str::to_string)
        });
    let installed_at = project.join("node_modules/@bytecodealliance/jco/package.json");
    let installed = std::fs::read_to_string(&installed_at)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|m| m["version"].as_str().map(str::to_string));
    match (wanted, installed) {
        (Some(w), Some(i)) if w == i => Ok(()),
        (None, _) => Err(DevkitError::Manifest {
            path: manifest,
            message: "devDependencies does not pin @bytecodealliance/jco".into(),
        }),
        (Some(w), found) => Err(DevkitError::Tool {
            tool: "jco".into(),
            message: format!(
                "package.json pins @bytecodealliance/jco {w}, node_modules has {}",
                found.as_deref().unwrap_or("none")
            ),
            help: Some("run `npm ci` in the project".into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_are_pinned_exactly() {
        for package in ["@bytecodealliance/jco", "@bytecodealliance/componentize-js"] {
            let v = pinned(package).unwrap_or_else(|| panic!("{package} is not pinned"));
            assert!(
                v.split('.').count() == 3 && v.split('.').all(|p| p.parse::<u32>().is_ok()),
                "{package} {v}"
            );
            let lock: serde_json::Value = serde_json::from_str(PACKAGE_LOCK).unwrap();
            assert_eq!(
                lock["packages"][format!("node_modules/{package}")]["version"],
                v.as_str(),
                "package-lock.json disagrees with package.json on {package}"
            );
        }
    }

    #[test]
    fn scaffold_writes_a_project_with_the_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("acme");
        crate::project::new("acme", Language::Js, &project).unwrap();
        let manifest = crate::Manifest::load(&project).unwrap();
        assert_eq!(manifest.language, Language::Js);
        for (path, text) in sdk_files() {
            assert_eq!(std::fs::read_to_string(project.join(path)).unwrap(), text);
        }
        let app = std::fs::read_to_string(project.join("src/app.js")).unwrap();
        assert!(app.contains("'acme.example'"), "{app}");
        assert!(!app.contains("{{"), "{app}");
        let again = crate::project::new("acme", Language::Js, &project).unwrap_err();
        assert!(again.to_string().contains("not empty"), "{again}");
    }
}
