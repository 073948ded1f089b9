//! Running a build tool: its output goes to the caller's log, and a tool
//! that is missing or fails becomes [`DevkitError::Tool`] with what it said
//! on stderr and how to get it, never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::DevkitError;
use crate::lang::Language;
use crate::manifest::Manifest;

/// How much of a failing tool's stderr an error keeps (its end, where the
/// reason usually is).
const STDERR_TAIL: usize = 4000;

/// Runs `cmd`, copying its stdout and stderr to `log`. `tool` names it in
/// errors; `help` says how to install or fix it.
pub fn run(
    cmd: &mut Command,
    tool: &str,
    help: &str,
    log: &mut dyn std::io::Write,
) -> Result<String, DevkitError> {
    let out = cmd.output().map_err(|e| DevkitError::Tool {
        tool: tool.to_string(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            format!("`{}` was not found", cmd.get_program().to_string_lossy())
        } else {
            format!(
                "could not start `{}`: {e}",
                cmd.get_program().to_string_lossy()
            )
        },
        help: Some(help.to_string()),
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = log.write_all(stdout.as_bytes());
    let _ = log.write_all(stderr.as_bytes());
    if out.status.success() {
        return Ok(stdout);
    }
    let said = stderr.trim();
    let said = if said.is_empty() { stdout.trim() } else { said };
    let tail = match said.char_indices().rev().nth(STDERR_TAIL) {
        Some((at, _)) => format!("…{}", &said[at..]),
        None => said.to_string(),
    };
    Err(DevkitError::Tool {
        tool: tool.to_string(),
        message: format!("{} ({})\n{tail}", describe(cmd), out.status),
        help: Some(help.to_string()),
    })
}

fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    format!("`{}` failed", words.join(" "))
}

/// Loads the project's manifest and checks that it is written in `language`.
pub fn manifest_for(project: &Path, language: Language) -> Result<Manifest, DevkitError> {
    let manifest = Manifest::load(project)?;
    if manifest.language != language {
        return Err(DevkitError::Manifest {
            path: project.join(crate::manifest::FILE),
            message: format!(
                "language is `{}`, but the {language} toolchain was asked to build it",
                manifest.language
            ),
        });
    }
    Ok(manifest)
}

/// Where a build tool writes the component: a file in a fresh private
/// directory of the project, so the tool never writes through whatever sits
/// at the manifest's `output`. [`Staging::install`] then moves it there
/// with [`crate::files::write_bytes`], which replaces a symlink instead of
/// following it.
pub struct Staging {
    dir: tempfile::TempDir,
}

impl Staging {
    pub fn new(project: &Path) -> Result<Staging, DevkitError> {
        let dir = tempfile::Builder::new()
            .prefix(".gate-build-")
            .tempdir_in(project)
            .map_err(|source| DevkitError::Io {
                path: project.to_path_buf(),
                source,
            })?;
        Ok(Staging { dir })
    }

    /// The file the tool is told to write.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("plugin.wasm")
    }

    /// Checks that `tool` wrote the component and puts it at the manifest's
    /// `output`; returns that path.
    pub fn install(
        self,
        tool: &str,
        project: &Path,
        manifest: &Manifest,
    ) -> Result<PathBuf, DevkitError> {
        let built = self.path();
        let bytes = match std::fs::read(&built) {
            Ok(bytes) if !bytes.is_empty() => bytes,
            _ => {
                return Err(DevkitError::Tool {
                    tool: tool.to_string(),
                    message: "reported success but wrote no component".to_string(),
                    help: None,
                });
            }
        };
        crate::files::write_bytes(project, &manifest.output, &bytes)?;
        Ok(project.join(&manifest.output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_says_how_to_get_it() {
        let err = run(
            &mut Command::new("gate-devkit-no-such-tool"),
            "npm",
            "install Node.js 20 with npm",
            &mut Vec::new(),
        )
        .unwrap_err();
        match err {
            DevkitError::Tool {
                tool,
                message,
                help,
            } => {
                assert_eq!(tool, "npm");
                assert!(message.contains("was not found"), "{message}");
                assert_eq!(help.as_deref(), Some("install Node.js 20 with npm"));
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_failing_tool_keeps_its_stderr_and_logs_its_output() {
        let mut log = Vec::new();
        let err = run(
            Command::new("sh").args(["-c", "echo working; echo 'no module named app' >&2; exit 3"]),
            "componentize-py",
            "fix the app",
            &mut log,
        )
        .unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("componentize-py: `sh -c"), "{shown}");
        assert!(shown.contains("no module named app"), "{shown}");
        let log = String::from_utf8(log).unwrap();
        assert!(
            log.contains("working") && log.contains("no module named app"),
            "{log}"
        );
    }
}
