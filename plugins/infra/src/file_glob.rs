//! File patterns in parameters (`backups/**/*.dump`, `rules/*.yml`,
//! `/etc/prometheus/rules/alerts.yml`), relative to gate's working directory
//! or absolute.
//!
//! The pattern's leading literal directories are resolved through the host
//! (so a denial names the `fs` grant to add), then walked inside the guest.
//! `*` and `?` stay within one path segment and `**` crosses directories, the
//! way shells with `globstar` and Prometheus' `rule_files` treat them.
//! Symbolic links to files are followed (`latest.dump -> 2024-06-01.dump`);
//! links to directories are not entered, so a walk cannot loop or leave the
//! tree it was asked to look at.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use gate_plugin_sdk::paths::join_display;

/// Most directory entries one pattern may visit, so a `/**` typo cannot walk a
/// whole disk inside a check's time budget.
const MAX_VISITED: usize = 200_000;

/// A regular file that matched.
#[derive(Clone, Debug)]
pub struct MatchedFile {
    /// The path as the user would write it.
    pub display: String,
    /// The path to open inside the guest.
    pub absolute: PathBuf,
    pub len: u64,
    pub modified: Option<SystemTime>,
}

/// What a pattern matched, plus what the walk could not read (which may hide
/// matches, so callers must not treat "no match" as final when it is non-empty).
#[derive(Debug, Default)]
pub struct Expansion {
    pub files: Vec<MatchedFile>,
    pub unreadable: Vec<(String, String)>,
}

fn is_pattern(segment: &str) -> bool {
    segment.contains(['*', '?', '[', '{'])
}

/// True when `pattern` holds glob characters (otherwise it names one file).
pub fn has_glob(pattern: &str) -> bool {
    is_pattern(pattern)
}

/// Expands `pattern`. `resolve` maps a path as written to the absolute path to
/// open (the host's `files.resolve`, or a test double).
pub fn expand(
    pattern: &str,
    resolve: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Expansion, String> {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Err("empty pattern".to_string());
    }
    let absolute = pattern.starts_with('/');
    let segments: Vec<&str> = pattern
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let literal = segments.iter().take_while(|s| !is_pattern(s)).count();
    let mut expansion = Expansion::default();

    if literal == segments.len() {
        // No glob characters: one file, or nothing.
        let abs = PathBuf::from(resolve(pattern)?);
        match std::fs::metadata(&abs) {
            Ok(m) if m.is_file() => expansion.files.push(MatchedFile {
                display: pattern.to_string(),
                absolute: abs,
                len: m.len(),
                modified: m.modified().ok(),
            }),
            Ok(m) if m.is_dir() => {
                return Err(format!(
                    "{pattern} is a directory; name files, e.g. `{}`",
                    join_display(pattern, "*")
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => expansion
                .unreadable
                .push((pattern.to_string(), e.to_string())),
        }
        return Ok(expansion);
    }

    let base_display = match (absolute, literal) {
        (true, _) => format!("/{}", segments[..literal].join("/")),
        (false, 0) => ".".to_string(),
        (false, _) => segments[..literal].join("/"),
    };
    let rest = segments[literal..].join("/");
    let matcher = globset::GlobBuilder::new(&rest)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("`{pattern}` is not a valid pattern: {}", e.kind()))?
        .compile_matcher();
    let max_depth = if rest.contains("**") {
        usize::MAX
    } else {
        segments.len() - literal
    };
    let base_abs = PathBuf::from(resolve(&base_display)?);
    match std::fs::metadata(&base_abs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Ok(expansion),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(expansion),
        Err(e) => return Err(format!("{base_display}: {e}")),
    }
    // `./x` reads better as `x`.
    let shown_base = if absolute {
        base_display.clone()
    } else {
        segments[..literal].join("/")
    };
    let mut walk = Walk {
        matcher: &matcher,
        max_depth,
        visited: 0,
        out: &mut expansion,
    };
    walk.dir(&shown_base, "", &base_abs, 1)?;
    expansion.files.sort_by(|a, b| a.display.cmp(&b.display));
    Ok(expansion)
}

struct Walk<'a> {
    matcher: &'a globset::GlobMatcher,
    max_depth: usize,
    visited: usize,
    out: &'a mut Expansion,
}

impl Walk<'_> {
    fn dir(&mut self, display: &str, rel: &str, abs: &Path, depth: usize) -> Result<(), String> {
        let entries = match std::fs::read_dir(abs) {
            Ok(rd) => rd,
            Err(e) => {
                let shown = if display.is_empty() { "." } else { display };
                self.out.unreadable.push((shown.to_string(), e.to_string()));
                return Ok(());
            }
        };
        let mut children: Vec<_> = entries.filter_map(Result::ok).collect();
        children.sort_by_key(|e| e.file_name());
        for entry in children {
            self.visited += 1;
            if self.visited > MAX_VISITED {
                return Err(format!(
                    "the pattern visits more than {MAX_VISITED} entries; make it more specific"
                ));
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let child_display = join_display(display, &name);
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if file_type.is_dir() {
                if depth < self.max_depth {
                    self.dir(&child_display, &child_rel, &path, depth + 1)?;
                }
                continue;
            }
            if !self.matcher.is_match(&child_rel) {
                continue;
            }
            // Follows a symlink to its file; a dangling or escaping link is unreadable.
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => self.out.files.push(MatchedFile {
                    display: child_display,
                    absolute: path,
                    len: m.len(),
                    modified: m.modified().ok(),
                }),
                Ok(_) => {}
                Err(e) => self.out.unreadable.push((child_display, e.to_string())),
            }
        }
        Ok(())
    }
}

/// The host's `files.resolve`, as [`expand`] wants it.
pub fn host_resolve(path: &str) -> Result<String, String> {
    gate_plugin_sdk::paths::resolve(path).map(|g| g.absolute)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A scratch directory; `resolve` maps paths relative to it.
    pub struct Tree {
        pub dir: PathBuf,
    }

    impl Tree {
        pub fn new(name: &str) -> Tree {
            let dir = std::env::temp_dir().join(format!(
                "gate-infra-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Tree { dir }
        }

        pub fn write(&self, rel: &str, contents: &[u8]) -> PathBuf {
            let p = self.dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, contents).unwrap();
            p
        }

        pub fn resolve(&self) -> impl Fn(&str) -> Result<String, String> + '_ {
            move |p: &str| {
                if p.starts_with("/denied") {
                    return Err(format!(
                        "plugin `infra` is not granted `fs` access to `{p}`"
                    ));
                }
                let path = if p.starts_with('/') {
                    PathBuf::from(p)
                } else {
                    self.dir.join(p)
                };
                Ok(path.to_string_lossy().into_owned())
            }
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn names(e: &Expansion) -> Vec<&str> {
        e.files.iter().map(|f| f.display.as_str()).collect()
    }

    #[test]
    fn star_stays_in_its_segment_and_double_star_crosses() {
        let t = Tree::new("glob");
        t.write("backups/a.dump", b"1");
        t.write("backups/b.txt", b"1");
        t.write("backups/2024/06/c.dump", b"1");
        t.write("other/d.dump", b"1");
        let r = t.resolve();
        let e = expand("backups/*.dump", &r).unwrap();
        assert_eq!(names(&e), ["backups/a.dump"]);
        let e = expand("backups/**/*.dump", &r).unwrap();
        assert_eq!(names(&e), ["backups/2024/06/c.dump", "backups/a.dump"]);
        let e = expand("./**/*.dump", &r).unwrap();
        assert_eq!(
            names(&e),
            ["backups/2024/06/c.dump", "backups/a.dump", "other/d.dump"]
        );
        let e = expand("*/2024/*/c.dump", &r).unwrap();
        assert_eq!(names(&e), ["backups/2024/06/c.dump"]);
        let e = expand("backups/*.{dump,txt}", &r).unwrap();
        assert_eq!(names(&e), ["backups/a.dump", "backups/b.txt"]);
    }

    #[test]
    fn literal_paths_and_absolute_patterns() {
        let t = Tree::new("literal");
        t.write("x/y.yml", b"abc");
        let r = t.resolve();
        let e = expand("x/y.yml", &r).unwrap();
        assert_eq!(names(&e), ["x/y.yml"]);
        assert_eq!(e.files[0].len, 3);
        assert!(e.files[0].modified.is_some());
        assert!(expand("x/missing.yml", &r).unwrap().files.is_empty());
        assert!(expand("x", &r).unwrap_err().contains("is a directory"));
        let abs = format!("{}/x/*.yml", t.dir.display());
        let e = expand(&abs, &r).unwrap();
        assert_eq!(names(&e), [format!("{}/x/y.yml", t.dir.display())]);
        assert!(expand("nowhere/*.yml", &r).unwrap().files.is_empty());
    }

    #[test]
    fn denials_and_bad_patterns_are_errors() {
        let t = Tree::new("deny");
        let r = t.resolve();
        assert!(
            expand("/denied/*.dump", &r)
                .unwrap_err()
                .contains("not granted")
        );
        assert!(
            expand("a/[z-a].x", &r)
                .unwrap_err()
                .contains("not a valid pattern")
        );
        assert!(expand("  ", &r).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_files_are_followed_and_directories_are_not_entered() {
        let t = Tree::new("links");
        t.write("b/real.dump", b"12345");
        std::os::unix::fs::symlink(t.dir.join("b/real.dump"), t.dir.join("b/latest.dump")).unwrap();
        std::os::unix::fs::symlink(t.dir.join("b"), t.dir.join("b/loop")).unwrap();
        let e = expand("b/**/*.dump", &t.resolve()).unwrap();
        assert_eq!(names(&e), ["b/latest.dump", "b/real.dump"]);
        assert_eq!(e.files[0].len, 5);
    }
}
