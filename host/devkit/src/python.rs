//! Plugins written in Python: componentize-py (from PyPI, at the version
//! `sdk/python/build-requirements.txt` pins) builds `src/app.py` and the
//! SDK next to it into a component of the `check` world.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::DevkitError;
use crate::files::{self, Template};
use crate::lang::{Language, Toolchain};
use crate::tool;

pub struct Python;

/// `componentize-py==X.Y.Z`: the one place the version is pinned (also read
/// by `scripts/install-deps`).
pub const REQUIREMENTS: &str = include_str!("../../../sdk/python/build-requirements.txt");

/// The pinned componentize-py version.
pub fn componentize_py_version() -> &'static str {
    REQUIREMENTS
        .lines()
        .find_map(|l| l.trim().strip_prefix("componentize-py=="))
        .expect("sdk/python/build-requirements.txt pins componentize-py")
}

/// The module componentize-py wraps (`src/app.py`) and where it looks for it.
const APP_MODULE: &str = "app";
const SOURCE_DIR: &str = "src";

/// The SDK as this gate ships it, written into every new project.
const SDK: &[Template] = &[
    Template {
        path: "src/gate_plugin/__init__.py",
        text: include_str!("../../../sdk/python/gate_plugin/__init__.py"),
    },
    Template {
        path: "src/gate_plugin/finding.py",
        text: include_str!("../../../sdk/python/gate_plugin/finding.py"),
    },
    Template {
        path: "src/gate_plugin/host.py",
        text: include_str!("../../../sdk/python/gate_plugin/host.py"),
    },
    Template {
        path: "src/gate_plugin/params.py",
        text: include_str!("../../../sdk/python/gate_plugin/params.py"),
    },
    Template {
        path: "src/gate_plugin/plugin.py",
        text: include_str!("../../../sdk/python/gate_plugin/plugin.py"),
    },
    Template {
        path: "src/gate_plugin/redact.py",
        text: include_str!("../../../sdk/python/gate_plugin/redact.py"),
    },
    Template {
        path: "src/gate_plugin/world.py",
        text: include_str!("../../../sdk/python/gate_plugin/world.py"),
    },
];

/// The project around the SDK.
const PROJECT: &[Template] = &[
    Template {
        path: "gate-plugin.toml",
        text: "name = \"{{name}}\"\nlanguage = \"python\"\nwit = \"{{wit}}\"\noutput = \"build/plugin.wasm\"\ncases = \"cases\"\n",
    },
    Template {
        path: "src/app.py",
        text: include_str!("../templates/python/src/app.py"),
    },
    Template {
        path: "build-requirements.txt",
        text: REQUIREMENTS,
    },
    Template {
        path: "README.md",
        text: include_str!("../templates/python/README.md"),
    },
    Template {
        path: ".gitignore",
        text: include_str!("../templates/python/gitignore"),
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

/// The files of the SDK, relative to a project (for checks that a
/// project's copy is the one this gate ships).
pub fn sdk_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    SDK.iter().map(|t| (t.path, t.text))
}

impl Toolchain for Python {
    fn scaffold(&self, name: &str, dir: &Path) -> Result<(), DevkitError> {
        // `project::new` has checked the name and that `dir` is empty.
        crate::wit::write_into(dir)?;
        // The SDK is written as it is: no placeholders in it.
        for t in SDK {
            files::create(dir, t.path, t.text)?;
        }
        files::create_all(dir, name, PROJECT)
    }

    fn build(&self, project: &Path, log: &mut dyn std::io::Write) -> Result<PathBuf, DevkitError> {
        let manifest = tool::manifest_for(project, Language::Python)?;
        let staging = tool::Staging::new(project)?;
        let output = staging.path();
        let componentize = componentize_py(project, log)?;
        let mut cmd = Command::new(componentize);
        cmd.current_dir(project)
            // Only the project's own sources go into the component, never
            // the site-packages of an active virtual environment.
            .env_remove("VIRTUAL_ENV")
            .args([
                "-d",
                "wit",
                "-w",
                "gate:plugin/check",
                "componentize",
                APP_MODULE,
            ])
            .args(["-p", SOURCE_DIR, "-o"])
            .arg(output);
        tool::run(
            &mut cmd,
            "componentize-py",
            "the error above is componentize-py's: check src/app.py (it must define `WitWorld = plugin.world()`) and that it imports",
            log,
        )?;
        staging.install("componentize-py", project, &manifest)
    }
}

/// componentize-py at the pinned version: from PATH, else from the
/// project's `.venv`, installed there with pip when it is missing.
fn componentize_py(project: &Path, log: &mut dyn std::io::Write) -> Result<PathBuf, DevkitError> {
    let pin = componentize_py_version();
    let on_path = PathBuf::from("componentize-py");
    if version_of(&on_path).as_deref() == Some(pin) {
        return Ok(on_path);
    }
    let venv = project.join(".venv");
    let in_venv = venv.join("bin").join("componentize-py");
    if version_of(&in_venv).as_deref() == Some(pin) {
        return Ok(in_venv);
    }
    let _ = writeln!(
        log,
        "componentize-py {pin} is not on PATH: installing it into {}",
        venv.display()
    );
    let help = format!(
        "install it yourself with `python3 -m pip install componentize-py=={pin}` (Python 3.9+ with pip and venv)"
    );
    let python = venv.join("bin").join("python");
    if !python.exists() {
        tool::run(
            Command::new("python3").arg("-m").arg("venv").arg(venv),
            "python3",
            &help,
            log,
        )?;
    }
    tool::run(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
            ])
            .arg(format!("componentize-py=={pin}")),
        "pip",
        &help,
        log,
    )?;
    match version_of(&in_venv) {
        Some(v) if v == pin => Ok(in_venv),
        found => Err(DevkitError::Tool {
            tool: "componentize-py".into(),
            message: format!(
                "{} reports version {} after installing {pin}",
                in_venv.display(),
                found.as_deref().unwrap_or("(none)")
            ),
            help: Some(help),
        }),
    }
}

/// `componentize-py --version` → `0.25.1`; `None` when it does not run.
fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .last()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_is_exact() {
        let v = componentize_py_version();
        assert_eq!(v.split('.').count(), 3, "{v}");
        assert!(v.split('.').all(|p| p.parse::<u32>().is_ok()), "{v}");
    }

    #[test]
    fn scaffold_writes_a_project_with_the_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("acme");
        crate::project::new("acme", Language::Python, &project).unwrap();
        let manifest = crate::Manifest::load(&project).unwrap();
        assert_eq!(manifest.name, "acme");
        assert_eq!(manifest.language, Language::Python);
        assert_eq!(manifest.wit, crate::wit::VERSION);
        for (path, text) in sdk_files() {
            assert_eq!(std::fs::read_to_string(project.join(path)).unwrap(), text);
        }
        let app = std::fs::read_to_string(project.join("src/app.py")).unwrap();
        assert!(app.contains("\"acme.example\""), "{app}");
        assert!(!app.contains("{{"), "{app}");
        let cases = std::fs::read_to_string(project.join("cases/example.toml")).unwrap();
        let cases: toml::Table = toml::from_str(&cases).unwrap();
        assert_eq!(cases["case"].as_array().unwrap().len(), 4);
        assert!(project.join("wit/gate-plugin.wit").is_file());
        // Never over an existing project.
        let again = crate::project::new("acme", Language::Python, &project).unwrap_err();
        assert!(again.to_string().contains("not empty"), "{again}");
        let bad = crate::project::new("Acme_Checks", Language::Python, &dir.path().join("x"))
            .unwrap_err();
        assert!(bad.to_string().contains("kebab-case"), "{bad}");
    }

    #[test]
    fn build_refuses_another_language() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("gate-plugin.toml"),
            "name = \"acme\"\nlanguage = \"js\"\nwit = \"0.1.0\"\n",
        )
        .unwrap();
        let err = Python.build(dir.path(), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("language is `js`"), "{err}");
    }
}
