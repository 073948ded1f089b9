//! `gate-plugin.toml`: what a plugin project is.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DevkitError;
use crate::lang::Language;

/// The manifest's file name, at the project's root.
pub const FILE: &str = "gate-plugin.toml";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: the `name` of its `[[plugin]]` block and the
    /// prefix of its check ids (`acme.readme` for `acme`).
    pub name: String,
    pub language: Language,
    /// The `gate:plugin` WIT version the plugin is written against.
    pub wit: String,
    /// Where the built component is written, relative to the project.
    #[serde(default = "default_output")]
    pub output: PathBuf,
    /// The directory of case files `gate plugin test` runs.
    #[serde(default = "default_cases")]
    pub cases: PathBuf,
}

fn default_output() -> PathBuf {
    PathBuf::from("build/plugin.wasm")
}

fn default_cases() -> PathBuf {
    PathBuf::from("cases")
}

impl Manifest {
    /// A new project's manifest, at the WIT version this gate writes.
    pub fn new(name: &str, language: Language) -> Manifest {
        Manifest {
            name: name.to_string(),
            language,
            wit: crate::wit::VERSION.to_string(),
            output: default_output(),
            cases: default_cases(),
        }
    }

    /// Reads `DIR/gate-plugin.toml`.
    pub fn load(project: &Path) -> Result<Manifest, DevkitError> {
        let path = project.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| DevkitError::Io {
            path: path.clone(),
            source,
        })?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| DevkitError::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        manifest
            .validate()
            .map_err(|message| DevkitError::Manifest { path, message })?;
        Ok(manifest)
    }

    /// Writes it as `DIR/gate-plugin.toml`.
    pub fn write(&self, project: &Path) -> Result<(), DevkitError> {
        let text = toml::to_string(self).map_err(|e| DevkitError::Manifest {
            path: project.join(FILE),
            message: e.to_string(),
        })?;
        crate::files::create(
            project,
            FILE,
            &format!(
                "# A gate plugin project: `gate plugin build` and `gate plugin test` read this.\n{text}"
            ),
        )
    }

    fn validate(&self) -> Result<(), String> {
        crate::project::check_name(&self.name).map_err(|e| format!("name: {e}"))?;
        if !crate::wit::supported(&self.wit) {
            return Err(format!(
                "wit = \"{}\": this gate builds and runs gate:plugin {}; set wit = \"{}\"",
                self.wit,
                gate_sandbox::plugin::SUPPORTED_VERSIONS.join(", "),
                crate::wit::VERSION
            ));
        }
        for (key, path) in [("output", &self.output), ("cases", &self.cases)] {
            let inside = path
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
            if !inside || path.as_os_str().is_empty() {
                return Err(format!(
                    "{key} = \"{}\": must be a relative path inside the project (no `..`, not absolute)",
                    path.display()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_manifest_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = Manifest::new("acme", Language::Rust);
        manifest.write(dir.path()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), manifest);
    }

    #[test]
    fn bad_manifests_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            std::fs::write(dir.path().join(FILE), text).unwrap();
            Manifest::load(dir.path()).unwrap_err().to_string()
        };
        let e = load("name = \"acme\"\nlanguage = \"rust\"\nwit = \"0.2.0\"\n");
        assert!(e.contains(FILE) && e.contains("wit = \"0.2.0\""), "{e}");
        let e =
            load("name = \"acme\"\nlanguage = \"rust\"\nwit = \"0.1.0\"\noutput = \"../x.wasm\"\n");
        assert!(
            e.contains("output") && e.contains("inside the project"),
            "{e}"
        );
        let e = load("name = \"Acme\"\nlanguage = \"rust\"\nwit = \"0.1.0\"\n");
        assert!(e.contains("kebab-case"), "{e}");
        let e = load("name = \"acme\"\nlanguage = \"cobol\"\nwit = \"0.1.0\"\n");
        assert!(e.contains("line 2"), "{e}");
    }
}
