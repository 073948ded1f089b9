//! A built component as the host sees it: digest, size, world, WIT version,
//! `describe()` and imports ([`gate_sandbox::plugin::Runtime::inspect`]).
//! `gate plugin inspect` shows one; `gate plugin build` also holds it to its
//! project (a `check` component of the manifest's WIT version whose check ids
//! live in the plugin's namespace). The same for every language.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use gate_core::clock::Clock;
use gate_sandbox::plugin::{Inspection, PluginSource, Runtime, World, id_problem};
use sha2::{Digest, Sha256};

use crate::error::DevkitError;
use crate::lang::toolchain;
use crate::manifest::Manifest;

/// One component file and what the host found in it.
#[derive(Debug)]
pub struct Component {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub inspection: Inspection,
}

impl Component {
    /// Reads `path` and inspects it: compiled cold, versions checked,
    /// `describe()` called with no grants.
    pub async fn inspect(
        runtime: &Runtime,
        path: &Path,
        name: &str,
        clock: Clock,
    ) -> Result<Component, DevkitError> {
        let wasm = std::fs::read(path).map_err(|source| DevkitError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        let size = wasm.len() as u64;
        let source = PluginSource {
            name: name.to_string(),
            wasm: Cow::Owned(wasm),
            sha256: sha256.clone(),
            path: Some(path.to_path_buf()),
            builtin: None,
        };
        let cwd = path.parent().unwrap_or(Path::new("."));
        let inspection = runtime.inspect(&source, cwd, clock).await?;
        Ok(Component {
            path: path.to_path_buf(),
            size,
            sha256,
            inspection,
        })
    }
}

/// A project's build: its manifest and the component it produced.
#[derive(Debug)]
pub struct Built {
    pub manifest: Manifest,
    pub component: Component,
}

/// Builds the project in `project` with its language's toolchain (tool
/// output to `log`), then holds the component to the project: a `check`
/// component, of the manifest's WIT version, with its check ids in the
/// plugin's namespace.
pub async fn build(
    runtime: &Runtime,
    project: &Path,
    clock: Clock,
    log: &mut dyn std::io::Write,
) -> Result<Built, DevkitError> {
    let manifest = Manifest::load(project)?;
    let wasm = toolchain(manifest.language).build(project, log)?;
    let component = Component::inspect(runtime, &wasm, &manifest.name, clock).await?;
    check_against(&manifest, &component)?;
    Ok(Built {
        manifest,
        component,
    })
}

/// What a `check` project's component must be.
pub fn check_against(manifest: &Manifest, component: &Component) -> Result<(), DevkitError> {
    let refuse = |message: String| DevkitError::Component {
        path: component.path.clone(),
        message,
    };
    let found = &component.inspection;
    if found.world != World::Check {
        return Err(refuse(format!(
            "it implements the `{}` world, but {} declares a check plugin, which must implement `check` \
             (export `describe` and `run`; the SDK's `plugin!` macro does)",
            found.world.name(),
            crate::manifest::FILE
        )));
    }
    if let Some(version) = &found.wit_version
        && version != &manifest.wit
    {
        return Err(refuse(format!(
            "it was built against gate:plugin@{version}, but {} says wit = \"{}\"",
            crate::manifest::FILE,
            manifest.wit
        )));
    }
    if let Some(problem) = id_problem(&manifest.name, &found.meta) {
        return Err(refuse(format!(
            "plugin `{}` {problem}; a policy would refuse to load it",
            manifest.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Language;

    fn built_plugin(name: &str) -> PathBuf {
        Path::new(gate_sandbox::plugin::PLUGIN_BUILD_DIR).join(format!("gate_plugin_{name}.wasm"))
    }

    async fn inspect(name: &str) -> Component {
        let runtime = Runtime::new(None).unwrap();
        Component::inspect(&runtime, &built_plugin(name), name, Clock::System)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_check_project_accepts_only_its_own_check_component() {
        let echo = inspect("echo").await;
        assert_eq!(echo.inspection.world, World::Check);
        assert_eq!(echo.size, std::fs::metadata(&echo.path).unwrap().len());
        check_against(&Manifest::new("echo", Language::Rust), &echo).unwrap();

        // The same component pinned under another name declares checks
        // outside that name's namespace.
        let e = check_against(&Manifest::new("acme", Language::Rust), &echo)
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside its namespace"), "{e}");

        let strategies = inspect("strategies").await;
        let e = check_against(&Manifest::new("strategies-x", Language::Rust), &strategies)
            .unwrap_err()
            .to_string();
        assert!(e.contains("implements the `strategy` world"), "{e}");
    }
}
