//! Which migrations `gate migrate lint` judges, and against what.
//!
//! A migration folder is a history applied over months: by the time a
//! migration runs, the tables the ones before it created exist and hold data.
//! Without a boundary each migration is judged on its own, after everything
//! before it (the validator's `migration` scope). With one, the migrations
//! past it are the *pending set*, applied together in one deploy, so objects
//! one of them creates are new to the others (the `run` scope); the applied
//! ones are not judged again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::process::Command;

use super::layout::Migration;
use super::lint::MigrateError;

/// Where the applied history ends, when the user knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// None: each migration is judged as applied on its own, after the ones before it.
    None,
    /// `--applied-through VERSION`: migrations up to and including VERSION are applied.
    AppliedThrough(String),
    /// `--base GIT_REF`: migration files that do not exist at GIT_REF are pending.
    Base(String),
}

/// How the validator relates the files it is given (its `scope` config key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Scope {
    /// Each file after the ones before it, which exist and hold data.
    Migration,
    /// The files are one pending set, applied together.
    Run,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The migrations a lint validates, and the boundary that chose them.
#[derive(Clone, Debug)]
pub struct Selection {
    pub boundary: Boundary,
    /// The migrations validated, in order.
    pub pending: Vec<Migration>,
    /// How many discovered migrations count as applied and are not validated.
    pub applied: usize,
}

impl Selection {
    pub fn scope(&self) -> Scope {
        match self.boundary {
            Boundary::None => Scope::Migration,
            _ => Scope::Run,
        }
    }

    /// `per-migration`, `applied-through` or `base`.
    pub fn mode(&self) -> &'static str {
        match self.boundary {
            Boundary::None => "per-migration",
            Boundary::AppliedThrough(_) => "applied-through",
            Boundary::Base(_) => "base",
        }
    }

    fn paths(&self) -> Vec<&str> {
        self.pending.iter().map(|m| m.up.path.as_str()).collect()
    }

    /// One line for the human report.
    pub fn describe(&self) -> String {
        match &self.boundary {
            Boundary::None => format!(
                "mode per-migration: each of {} migration{} judged as applied on its own, after the ones before it (their tables exist and hold data)",
                self.pending.len(),
                plural(self.pending.len())
            ),
            b => {
                let why = match b {
                    Boundary::AppliedThrough(v) => format!("applied through {v}"),
                    Boundary::Base(r) => format!("files not in git at {r}"),
                    Boundary::None => unreachable!("handled above"),
                };
                let list = if self.pending.is_empty() {
                    "none".to_string()
                } else {
                    self.paths().join(", ")
                };
                format!(
                    "mode {} ({why}): pending set of {} migration{}, judged as one deploy; {} applied, not judged: {list}",
                    self.mode(),
                    self.pending.len(),
                    plural(self.pending.len()),
                    self.applied
                )
            }
        }
    }

    /// The report's `lint_scope` object.
    pub fn to_json(&self) -> Value {
        let boundary = match &self.boundary {
            Boundary::None => Value::Null,
            Boundary::AppliedThrough(v) | Boundary::Base(v) => Value::String(v.clone()),
        };
        json!({
            "mode": self.mode(),
            "boundary": boundary,
            "pending": self.paths(),
            "applied": self.applied,
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Splits `migrations` (in the tool's order) at `boundary`.
pub async fn select(
    migrations: Vec<Migration>,
    boundary: Boundary,
    cwd: &Path,
) -> Result<Selection, MigrateError> {
    let pending_flags: Vec<bool> = match &boundary {
        Boundary::None => vec![true; migrations.len()],
        Boundary::AppliedThrough(version) => {
            let Some(last) = migrations.iter().position(|m| &m.version == version) else {
                let versions: Vec<&str> = migrations.iter().map(|m| m.version.as_str()).collect();
                return Err(MigrateError::Config(format!(
                    "--applied-through {version}: no migration has that version; the versions are {}",
                    versions.join(", ")
                )));
            };
            (0..migrations.len()).map(|i| i > last).collect()
        }
        Boundary::Base(git_ref) => {
            let files: Vec<PathBuf> = migrations.iter().map(|m| cwd.join(&m.up.path)).collect();
            let existing = files_at(git_ref, &files).await?;
            files.iter().map(|f| !existing.contains(f)).collect()
        }
    };
    let applied = pending_flags.iter().filter(|p| !**p).count();
    let pending = migrations
        .into_iter()
        .zip(pending_flags)
        .filter_map(|(m, p)| p.then_some(m))
        .collect();
    Ok(Selection {
        boundary,
        pending,
        applied,
    })
}

/// Which of `files` (absolute) exist in the git commit `git_ref`, asked of
/// the real `git` binary in the repository that holds them.
async fn files_at(git_ref: &str, files: &[PathBuf]) -> Result<HashSet<PathBuf>, MigrateError> {
    let Some(first) = files.first() else {
        return Ok(HashSet::new());
    };
    let dir = first.parent().unwrap_or(first);
    let top = git(dir, &["rev-parse", "--show-toplevel"], git_ref).await?;
    let top = std::fs::canonicalize(top.trim()).map_err(|e| {
        MigrateError::Config(format!(
            "--base {git_ref}: the repository root {}: {e}",
            top.trim()
        ))
    })?;
    let commit = format!("{git_ref}^{{commit}}");
    git(
        &top,
        &["rev-parse", "--verify", "--quiet", &commit],
        git_ref,
    )
    .await
    .map_err(|_| {
        MigrateError::Config(format!(
            "--base {git_ref}: not a commit of the git repository at {}",
            top.display()
        ))
    })?;
    let mut relative = Vec::new();
    for f in files {
        let real = std::fs::canonicalize(f)
            .map_err(|e| MigrateError::Config(format!("{}: {e}", f.display())))?;
        let rel = real.strip_prefix(&top).map_err(|_| {
            MigrateError::Config(format!(
                "--base {git_ref}: {} is outside the git repository at {}",
                f.display(),
                top.display()
            ))
        })?;
        relative.push((f.clone(), rel.to_string_lossy().to_string()));
    }
    let mut args = vec!["ls-tree", "-r", "--name-only", "-z", git_ref, "--"];
    args.extend(relative.iter().map(|(_, r)| r.as_str()));
    let listed = git(&top, &args, git_ref).await?;
    let at_base: HashSet<&str> = listed.split('\0').filter(|s| !s.is_empty()).collect();
    Ok(relative
        .into_iter()
        .filter(|(_, rel)| at_base.contains(rel.as_str()))
        .map(|(f, _)| f)
        .collect())
}

/// Runs `git -C dir ARGS`, its stdout, or an error naming `--base`.
async fn git(dir: &Path, args: &[&str], git_ref: &str) -> Result<String, MigrateError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .await
        .map_err(|e| MigrateError::Config(format!("--base {git_ref}: running git: {e}")))?;
    if !out.status.success() {
        return Err(MigrateError::Config(format!(
            "--base {git_ref}: git {} in {}: {}",
            args.first().copied().unwrap_or(""),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
