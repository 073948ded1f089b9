//! `gate plugin test`: a plugin's case files, run against its component in
//! stubbed sandboxes, and the rules every plugin keeps.
//!
//! * [`file`]: the case-file format (TOML), read into typed [`Case`]s with
//!   errors that name the file, line and column;
//! * [`expect`]: whether a run's findings are exactly what a case expects;
//! * [`rules`]: the runs the rules make on each check and how they are judged;
//! * [`run`]: loads the component and makes every run, each in a fresh
//!   fixture directory with the case's stubs and nothing real reachable;
//! * [`report`]: the results, rendered as `human`, `json` or `junit`;
//! * [`stale`]: whether the component must be rebuilt first.
//!
//! See docs/plugins/testing.md.

pub mod expect;
pub mod file;
mod freshness;
pub mod report;
pub mod rules;
pub mod run;

use std::path::Path;

pub use file::{Case, CaseFileError, Expectation};
pub use freshness::stale;
pub use report::{Format, TestReport};
pub use run::{Component, run};

use crate::error::DevkitError;

/// Reads every `*.toml` under `dir` (sorted by path, subdirectories
/// included), naming each file relative to `project` in errors and reports.
/// Case names must be unique across the files.
pub fn load_dir(project: &Path, dir: &Path) -> Result<Vec<Case>, DevkitError> {
    let mut paths = Vec::new();
    collect(dir, &mut paths)?;
    paths.sort();
    if paths.is_empty() {
        return Err(DevkitError::Other(format!(
            "no case files (*.toml) in {}; write one (see docs/plugins/testing.md)",
            dir.display()
        )));
    }
    let mut cases: Vec<Case> = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| DevkitError::Io {
            path: path.clone(),
            source,
        })?;
        let shown = path.strip_prefix(project).unwrap_or(&path);
        for case in file::parse(shown, &text).map_err(DevkitError::Cases)? {
            if let Some(first) = cases.iter().find(|c| c.name == case.name) {
                return Err(DevkitError::Cases(CaseFileError {
                    file: case.file.clone(),
                    line: case.line,
                    column: 1,
                    message: format!(
                        "case `{}` is already defined at {}:{}",
                        case.name,
                        first.file.display(),
                        first.line
                    ),
                    help: "give every case its own name".into(),
                }));
            }
            cases.push(case);
        }
    }
    Ok(cases)
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), DevkitError> {
    let io = |source| DevkitError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let kind = entry.file_type().map_err(io)?;
        let path = entry.path();
        if kind.is_dir() {
            collect(&path, out)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}
