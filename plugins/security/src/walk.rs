//! Directory walking and `files = [...]` glob expansion.
//!
//! Walks never follow symbolic links (a link could lead out of the scanned tree or
//! into a loop) and never enter `.git`. Entries come back sorted, so findings are in
//! a stable order.

use std::path::{Path, PathBuf};

use gate_plugin_sdk::paths::join_display;

use crate::grants::Grants;

/// A regular file found by a walk.
#[derive(Clone, Debug)]
pub struct FileEntry {
    /// The path as the user would write it: the root as given, plus the relative part.
    pub display: String,
    pub absolute: PathBuf,
    /// Relative to the walk's root, `/`-separated; the file name when the root is a file.
    pub rel: String,
}

#[derive(Debug)]
pub enum Item {
    File(FileEntry),
    /// Symbolic links are counted, never followed.
    Symlink,
    /// A directory or file the walk could not read.
    Unreadable {
        display: String,
        error: String,
    },
}

/// Walks `absolute` (shown to users as `display`). `prune` gets the relative path of
/// each directory; returning true skips it.
pub fn walk(
    display: &str,
    absolute: &Path,
    prune: &dyn Fn(&str) -> bool,
) -> Result<Vec<Item>, String> {
    let meta = std::fs::metadata(absolute).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        let rel = absolute
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| display.to_string());
        return Ok(vec![Item::File(FileEntry {
            display: display.to_string(),
            absolute: absolute.to_path_buf(),
            rel,
        })]);
    }
    let mut items = Vec::new();
    walk_dir(display, "", absolute, prune, &mut items);
    Ok(items)
}

/// Depth-first, children in name order, so the listing reads like `find | sort`.
fn walk_dir(
    dir_display: &str,
    dir_rel: &str,
    dir_abs: &Path,
    prune: &dyn Fn(&str) -> bool,
    items: &mut Vec<Item>,
) {
    let entries = match std::fs::read_dir(dir_abs) {
        Ok(rd) => rd,
        Err(e) => {
            items.push(Item::Unreadable {
                display: dir_display.to_string(),
                error: e.to_string(),
            });
            return;
        }
    };
    let mut children = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => children.push(entry),
            Err(e) => items.push(Item::Unreadable {
                display: dir_display.to_string(),
                error: e.to_string(),
            }),
        }
    }
    children.sort_by_key(|e| e.file_name());
    for entry in children {
        let name = entry.file_name().to_string_lossy().into_owned();
        let display = join_display(dir_display, &name);
        let rel = if dir_rel.is_empty() {
            name.clone()
        } else {
            format!("{dir_rel}/{name}")
        };
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) => {
                items.push(Item::Unreadable {
                    display,
                    error: e.to_string(),
                });
                continue;
            }
        };
        if file_type.is_symlink() {
            items.push(Item::Symlink);
        } else if file_type.is_dir() {
            if name != ".git" && !prune(&rel) {
                walk_dir(&display, &rel, &entry.path(), prune, items);
            }
        } else if file_type.is_file() {
            // No `stat` here: a reader asks for a length only when it needs one.
            items.push(Item::File(FileEntry {
                display,
                absolute: entry.path(),
                rel,
            }));
        }
        // Sockets, FIFOs and devices are not files anyone commits secrets to.
    }
}

/// A file named in `files = [...]`, after glob expansion and grant resolution.
#[derive(Clone, Debug)]
pub struct NamedFile {
    pub display: String,
    pub absolute: PathBuf,
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

fn strip_dot(path: &str) -> &str {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p
}

/// Expands one `files` entry: a plain path resolves to itself (it need not exist yet;
/// opening it reports that), a glob such as `k8s/**/*.yaml` to the sorted files it
/// matches. A glob that matches nothing is an error: the check would see nothing.
pub fn expand(grants: &dyn Grants, pattern: &str) -> Result<Vec<NamedFile>, String> {
    if !is_glob(pattern) {
        let granted = grants.resolve(pattern)?;
        return Ok(vec![NamedFile {
            display: granted.display,
            absolute: PathBuf::from(granted.absolute),
        }]);
    }
    let glob = globset::GlobBuilder::new(strip_dot(pattern))
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid glob `{pattern}`: {e}"))?
        .compile_matcher();
    // The walk starts at the longest directory prefix without glob characters.
    let components: Vec<&str> = pattern.split('/').collect();
    let literal: Vec<&str> = components
        .iter()
        .take_while(|c| !is_glob(c))
        .copied()
        .collect();
    let base = if literal.is_empty() {
        ".".to_string()
    } else if literal == [""] {
        "/".to_string()
    } else {
        literal.join("/")
    };
    let granted = grants.resolve(&base)?;
    let items = walk(&granted.display, Path::new(&granted.absolute), &|_| false)?;
    let mut files = Vec::new();
    for item in items {
        match item {
            Item::File(f) => {
                let display = if base == "." && !pattern.starts_with("./") {
                    f.rel.clone()
                } else {
                    f.display.clone()
                };
                if glob.is_match(strip_dot(&display)) {
                    files.push(NamedFile {
                        display,
                        absolute: f.absolute,
                    });
                }
            }
            Item::Unreadable { display, error } => return Err(format!("{display}: {error}")),
            Item::Symlink => {}
        }
    }
    if files.is_empty() {
        return Err(format!("no file matches `{pattern}`"));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Sandbox;

    #[test]
    fn walks_in_name_order_skipping_git_and_pruned_dirs() {
        let sb = Sandbox::new();
        sb.write("repo/b.txt", "b");
        sb.write("repo/a/z.txt", "z");
        sb.write("repo/a/y.txt", "y");
        sb.write("repo/.git/config", "x");
        sb.write("repo/vendor/v.txt", "v");
        let items = walk("repo", &sb.path("repo"), &|rel| rel == "vendor").unwrap();
        let names: Vec<String> = items
            .iter()
            .map(|i| match i {
                Item::File(f) => format!("{} {}", f.display, f.rel),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "repo/a/y.txt a/y.txt",
                "repo/a/z.txt a/z.txt",
                "repo/b.txt b.txt"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn reports_symlinks_without_following_them() {
        let sb = Sandbox::new();
        sb.write("outside/secret.txt", "x");
        sb.write("repo/a.txt", "a");
        std::os::unix::fs::symlink(sb.path("outside"), sb.path("repo/link")).unwrap();
        let items = walk("repo", &sb.path("repo"), &|_| false).unwrap();
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[1], Item::Symlink));
    }

    #[test]
    fn a_file_root_is_its_own_entry() {
        let sb = Sandbox::new();
        sb.write("dir/one.env", "x=1");
        let items = walk("dir/one.env", &sb.path("dir/one.env"), &|_| false).unwrap();
        assert!(
            matches!(&items[0], Item::File(f) if f.rel == "one.env" && f.display == "dir/one.env")
        );
    }

    #[test]
    fn expands_globs_relative_to_cwd() {
        let sb = Sandbox::new();
        sb.write("k8s/app/deploy.yaml", "");
        sb.write("k8s/app/svc.yml", "");
        sb.write("k8s/db.yaml", "");
        sb.write("top.yaml", "");
        let grants = sb.grants();
        let names = |p: &str| -> Vec<String> {
            expand(&grants, p)
                .unwrap()
                .into_iter()
                .map(|f| f.display)
                .collect()
        };
        assert_eq!(
            names("k8s/**/*.yaml"),
            ["k8s/app/deploy.yaml", "k8s/db.yaml"]
        );
        assert_eq!(names("k8s/*.yaml"), ["k8s/db.yaml"]);
        assert_eq!(names("*.yaml"), ["top.yaml"]);
        assert_eq!(
            names("./k8s/app/*.{yaml,yml}"),
            ["./k8s/app/deploy.yaml", "./k8s/app/svc.yml"]
        );
        assert_eq!(names("k8s/db.yaml"), ["k8s/db.yaml"]);
        let err = expand(&grants, "k8s/*.json").unwrap_err();
        assert!(err.contains("no file matches"), "{err}");
    }

    #[test]
    fn expansion_outside_the_grants_fails_with_the_hosts_reason() {
        let sb = Sandbox::new();
        let err = expand(&sb.grants(), "/etc/*.conf").unwrap_err();
        assert!(err.contains("fs grant"), "{err}");
    }
}
