//! What the scaffold tests share: the repository, a copy of part of it in a
//! temporary directory, and the commands they run there.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository the tests copy from.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Copies `from` into `to`, leaving out `target` directories.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// Copies each of `paths` (files or directories, relative to the repository)
/// into `dir`.
pub fn copy_paths(dir: &Path, paths: &[&str]) {
    let repo = repo();
    for path in paths {
        let (from, to) = (repo.join(path), dir.join(path));
        if from.is_dir() {
            copy_dir(&from, &to);
        } else {
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(&from, &to).unwrap();
        }
    }
}

/// Copies `manifest` (a workspace's Cargo.toml, relative to the repository)
/// into `dir` with its `members = [...]` line replaced by `members`.
pub fn copy_workspace_manifest(dir: &Path, manifest: &str, members: &[&str]) {
    let text = fs::read_to_string(repo().join(manifest)).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("members = "))
        .expect("a one-line `members = [...]`");
    let list: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    let text = text.replace(line, &format!("members = [{}]", list.join(", ")));
    fs::write(dir.join(manifest), text).unwrap();
}

/// Runs `cargo xtask --root dir <args>`; panics with its output unless it
/// succeeds.
pub fn xtask(dir: &Path, args: &[&str]) -> Output {
    let out = xtask_unchecked(dir, args);
    assert!(
        out.status.success(),
        "xtask {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn xtask_unchecked(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", repo().join("plugins/target"))
        .output()
        .unwrap()
}

/// `cargo` in `dir`, building into `target` (a directory of the worktree, so
/// dependencies are built once and reused).
pub fn cargo(dir: &Path, target: &Path) -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("GATE_WRITE_DOCS");
    c
}

/// Stdout and stderr, for assertion messages.
pub fn output(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
