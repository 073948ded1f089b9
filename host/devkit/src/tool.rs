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

/// The manifest's `output`, with its directory created; errors when the
/// path would leave the project.
pub fn output_path(project: &Path, manifest: &Manifest) -> Result<PathBuf, DevkitError> {
    if manifest.output.is_absolute()
        || manifest
            .output
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(DevkitError::Manifest {
            path: project.join(crate::manifest::FILE),
            message: format!(
                "output `{}` must be a relative path inside the project",
                manifest.output.display()
            ),
        });
    }
    let path = project.join(&manifest.output);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| DevkitError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(path)
}

/// Checks that the tool wrote the component.
pub fn built(tool: &str, path: PathBuf) -> Result<PathBuf, DevkitError> {
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() && m.len() > 0 => Ok(path),
        _ => Err(DevkitError::Tool {
            tool: tool.to_string(),
            message: format!(
                "reported success but wrote no component at {}",
                path.display()
            ),
            help: None,
        }),
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
