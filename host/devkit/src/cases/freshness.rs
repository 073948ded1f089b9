//! Whether a project's component must be rebuilt before its cases run: it
//! is missing, or some source file is newer than it.

use std::path::Path;
use std::time::SystemTime;

use crate::error::DevkitError;
use crate::manifest::Manifest;

/// Directories that hold build products, dependencies or tool state, never
/// the plugin's sources.
const NOT_SOURCES: [&str; 5] = ["target", "node_modules", "__pycache__", ".git", ".venv"];

/// `true` when `manifest.output` is missing or older than any source file of
/// `project`. Sources are the project's files except the case files, the
/// policy snippet, the output's own directory, hidden directories and [`NOT_SOURCES`].
pub fn stale(project: &Path, manifest: &Manifest) -> Result<bool, DevkitError> {
    let output = project.join(&manifest.output);
    let built = match std::fs::metadata(&output) {
        Ok(md) => md.modified().map_err(|source| DevkitError::Io {
            path: output.clone(),
            source,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(source) => {
            return Err(DevkitError::Io {
                path: output,
                source,
            });
        }
    };
    let skip = [
        project.join(&manifest.cases),
        // `gate plugin build` rewrites the snippet's pin after the component.
        project.join(crate::pin::SNIPPET),
        output
            .parent()
            .map_or_else(|| project.to_path_buf(), Path::to_path_buf),
    ];
    Ok(newest(project, &skip)?.is_some_and(|t| t > built))
}

/// The newest modification time of a regular file under `dir`, skipping
/// `skip` and the directories that are never sources. Symlinks are not
/// followed.
fn newest(dir: &Path, skip: &[std::path::PathBuf]) -> Result<Option<SystemTime>, DevkitError> {
    let io = |source| DevkitError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut latest = None;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let found = if kind.is_dir() {
            let ignored = name.starts_with('.')
                || NOT_SOURCES.contains(&name.as_ref())
                || skip.iter().any(|s| s == &path);
            if ignored { None } else { newest(&path, skip)? }
        } else if kind.is_file() && !skip.iter().any(|s| s == &path) {
            Some(entry.metadata().map_err(io)?.modified().map_err(io)?)
        } else {
            None
        };
        latest = latest.max(found);
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn touch(path: &Path, age_secs: u64) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
        let when = SystemTime::now() - Duration::from_secs(age_secs);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    fn manifest() -> Manifest {
        toml::from_str("name = \"acme\"\nlanguage = \"rust\"\nwit = \"0.1.1\"\n").unwrap()
    }

    #[test]
    fn missing_or_older_output_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        touch(&p.join("src/lib.rs"), 100);
        assert!(stale(p, &manifest()).unwrap(), "no output yet");
        touch(&p.join("build/plugin.wasm"), 50);
        assert!(!stale(p, &manifest()).unwrap(), "built after the sources");
        touch(&p.join("src/lib.rs"), 10);
        assert!(stale(p, &manifest()).unwrap(), "a source changed since");
    }

    #[test]
    fn cases_and_build_products_are_not_sources() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        touch(&p.join("src/lib.rs"), 100);
        touch(&p.join("build/plugin.wasm"), 50);
        touch(&p.join("cases/basic.toml"), 1);
        touch(&p.join("target/release/x.rlib"), 1);
        touch(&p.join("node_modules/x/index.js"), 1);
        touch(&p.join(".git/index"), 1);
        touch(&p.join("build/other"), 1);
        touch(&p.join("policy-snippet.toml"), 1);
        assert!(!stale(p, &manifest()).unwrap());
    }
}
