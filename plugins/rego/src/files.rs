//! Finding and reading the check's files through the `fs` grant: policy and
//! data directories walked recursively, input globs expanded, every file read
//! with a size limit.
//!
//! Walks never follow symbolic links (a link could lead out of the granted
//! tree or into a loop) and never enter `.git`; entries come back sorted, so
//! findings are in a stable order. In the component the host resolves each
//! path against the grants (`files.resolve`) and names the grant to add when
//! it refuses; native unit tests substitute a resolver rooted in a temp dir.

use std::path::{Path, PathBuf};

use gate_plugin_sdk::paths::{GrantedPath, join_display, read_bytes};

/// Resolves a path as the user wrote it to the absolute path to open.
pub trait Grants {
    fn resolve(&self, path: &str) -> Result<GrantedPath, String>;
}

/// The real thing: asks the host.
pub struct HostGrants;

impl Grants for HostGrants {
    fn resolve(&self, path: &str) -> Result<GrantedPath, String> {
        gate_plugin_sdk::paths::resolve(path)
    }
}

/// A regular file the check will read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// The path as the user would write it: the root as given, plus the relative part.
    pub display: String,
    pub absolute: PathBuf,
    /// Directories between the walked root and the file (empty for a named file).
    pub dirs: Vec<String>,
}

impl File {
    /// The file's name in lower case, for telling formats apart.
    pub fn extension(&self) -> Option<String> {
        let name = self.display.rsplit('/').next().unwrap_or(&self.display);
        name.rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
    }

    /// The whole file as UTF-8, refusing files larger than `max_bytes`.
    pub fn read(&self, max_bytes: u64) -> Result<String, String> {
        let granted = GrantedPath {
            display: self.display.clone(),
            absolute: self.absolute.to_string_lossy().into_owned(),
        };
        let bytes = read_bytes(&granted, max_bytes)?;
        String::from_utf8(bytes).map_err(|_| format!("{}: not valid UTF-8", self.display))
    }
}

/// The files under `root` (a file or a directory, as the user wrote it)
/// whose extension is one of `extensions`, recursively and in name order. A
/// file named directly is taken whatever its extension. Finding none is an
/// error: the check would see nothing.
pub fn collect(grants: &dyn Grants, root: &str, extensions: &[&str]) -> Result<Vec<File>, String> {
    let granted = grants.resolve(root)?;
    let absolute = PathBuf::from(&granted.absolute);
    let meta = match std::fs::symlink_metadata(&absolute) {
        Ok(meta) => meta,
        // A file granted on its own is not preopened for WASI: the host reads
        // it (`File::read`), and reports it missing when it is.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(vec![File {
                display: root.to_string(),
                absolute,
                dirs: Vec::new(),
            }]);
        }
        Err(e) => return Err(format!("{root}: {e}")),
    };
    if meta.file_type().is_symlink() {
        return Err(format!("{root}: is a symbolic link, which is not followed"));
    }
    if !meta.is_dir() {
        return Ok(vec![File {
            display: root.to_string(),
            absolute,
            dirs: Vec::new(),
        }]);
    }
    let mut files = Vec::new();
    walk(root, &absolute, &mut Vec::new(), &mut files)?;
    files.retain(|f| {
        f.extension()
            .is_some_and(|e| extensions.contains(&e.as_str()))
    });
    if files.is_empty() {
        let names: Vec<String> = extensions.iter().map(|e| format!(".{e}")).collect();
        return Err(format!("no {} file under `{root}`", names.join(", ")));
    }
    Ok(files)
}

/// Depth-first, children in name order, so the listing reads like `find | sort`.
fn walk(
    display: &str,
    absolute: &Path,
    dirs: &mut Vec<String>,
    out: &mut Vec<File>,
) -> Result<(), String> {
    let entries = std::fs::read_dir(absolute).map_err(|e| format!("{display}: {e}"))?;
    let mut children = Vec::new();
    for entry in entries {
        children.push(entry.map_err(|e| format!("{display}: {e}"))?);
    }
    children.sort_by_key(|e| e.file_name());
    for entry in children {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = join_display(display, &name);
        let file_type = entry.file_type().map_err(|e| format!("{child}: {e}"))?;
        if file_type.is_dir() {
            if name != ".git" {
                dirs.push(name);
                walk(&child, &entry.path(), dirs, out)?;
                dirs.pop();
            }
        } else if file_type.is_file() {
            out.push(File {
                display: child,
                absolute: entry.path(),
                dirs: dirs.clone(),
            });
        }
        // Symbolic links are never followed; sockets and FIFOs are not policy.
    }
    Ok(())
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

/// Expands one `inputs` entry: a plain path is itself (opening it reports a
/// missing file), a glob such as `k8s/**/*.yaml` the sorted files it
/// matches. A glob that matches nothing is an error: the check would see
/// nothing.
pub fn expand(grants: &dyn Grants, pattern: &str) -> Result<Vec<File>, String> {
    if !is_glob(pattern) {
        let granted = grants.resolve(pattern)?;
        return Ok(vec![File {
            display: granted.display,
            absolute: PathBuf::from(granted.absolute),
            dirs: Vec::new(),
        }]);
    }
    let glob = globset::GlobBuilder::new(strip_dot(pattern))
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid glob `{pattern}`: {e}"))?
        .compile_matcher();
    // The walk starts at the longest directory prefix without glob characters.
    let literal: Vec<&str> = pattern.split('/').take_while(|c| !is_glob(c)).collect();
    let base = match literal.as_slice() {
        [] => ".".to_string(),
        [""] => "/".to_string(),
        parts => parts.join("/"),
    };
    let granted = grants.resolve(&base)?;
    let mut files = Vec::new();
    walk(
        &base,
        Path::new(&granted.absolute),
        &mut Vec::new(),
        &mut files,
    )?;
    let mut matched = Vec::new();
    for mut f in files {
        if base == "." && !pattern.starts_with("./") {
            f.display = strip_dot(&f.display).to_string();
        }
        if glob.is_match(strip_dot(&f.display)) {
            f.dirs.clear();
            matched.push(f);
        }
    }
    if matched.is_empty() {
        return Err(format!("no file matches `{pattern}`"));
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Sandbox;

    fn names(files: &[File]) -> Vec<String> {
        files.iter().map(|f| f.display.clone()).collect()
    }

    #[test]
    fn collects_rego_files_recursively_in_name_order() {
        let sb = Sandbox::new();
        sb.write("policy/b.rego", "");
        sb.write("policy/a/z.rego", "");
        sb.write("policy/a/notes.md", "");
        sb.write("policy/.git/x.rego", "");
        let files = collect(&sb.grants(), "policy", &["rego"]).unwrap();
        assert_eq!(names(&files), ["policy/a/z.rego", "policy/b.rego"]);
        assert_eq!(files[0].dirs, ["a"]);
        let one = collect(&sb.grants(), "policy/a/notes.md", &["rego"]).unwrap();
        assert_eq!(names(&one), ["policy/a/notes.md"]);
    }

    #[test]
    fn an_empty_directory_is_an_error() {
        let sb = Sandbox::new();
        sb.write("policy/readme.md", "");
        let err = collect(&sb.grants(), "policy", &["rego"]).unwrap_err();
        assert!(err.contains("no .rego file under `policy`"), "{err}");
        let missing = collect(&sb.grants(), "missing.rego", &["rego"]).unwrap();
        let err = missing[0].read(100).unwrap_err();
        assert!(err.contains("missing.rego"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_not_followed() {
        let sb = Sandbox::new();
        sb.write("outside/evil.rego", "package main");
        sb.write("policy/ok.rego", "package main");
        std::os::unix::fs::symlink(sb.path("outside"), sb.path("policy/link")).unwrap();
        std::os::unix::fs::symlink(sb.path("outside/evil.rego"), sb.path("policy/l.rego")).unwrap();
        let files = collect(&sb.grants(), "policy", &["rego"]).unwrap();
        assert_eq!(names(&files), ["policy/ok.rego"]);
        let err = collect(&sb.grants(), "policy/link", &["rego"]).unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
    }

    #[test]
    fn expands_globs() {
        let sb = Sandbox::new();
        sb.write("k8s/app/deploy.yaml", "");
        sb.write("k8s/app/svc.yml", "");
        sb.write("k8s/db.yaml", "");
        sb.write("top.yaml", "");
        let grants = sb.grants();
        let expanded = |p: &str| names(&expand(&grants, p).unwrap());
        assert_eq!(
            expanded("k8s/**/*.yaml"),
            ["k8s/app/deploy.yaml", "k8s/db.yaml"]
        );
        assert_eq!(expanded("*.yaml"), ["top.yaml"]);
        assert_eq!(
            expanded("./k8s/app/*.{yaml,yml}"),
            ["./k8s/app/deploy.yaml", "./k8s/app/svc.yml"]
        );
        assert_eq!(expanded("k8s/db.yaml"), ["k8s/db.yaml"]);
        let err = expand(&grants, "k8s/*.json").unwrap_err();
        assert!(err.contains("no file matches"), "{err}");
    }

    #[test]
    fn outside_the_grants_is_the_hosts_refusal() {
        let sb = Sandbox::new();
        sb.write("in/a.json", "{}");
        let err = expand(&sb.grants_only("in"), "*.json").unwrap_err();
        assert!(err.contains("fs grant"), "{err}");
    }

    #[test]
    fn reads_with_a_size_limit() {
        let sb = Sandbox::new();
        sb.write("a.json", "{\"a\": 1}");
        sb.write("bin.json", [0xff, 0xfe]);
        let file = &expand(&sb.grants(), "a.json").unwrap()[0];
        assert_eq!(file.read(100).unwrap(), "{\"a\": 1}");
        assert!(
            file.read(3)
                .unwrap_err()
                .contains("exceeds the 3-byte limit")
        );
        let bin = &expand(&sb.grants(), "bin.json").unwrap()[0];
        assert!(bin.read(100).unwrap_err().contains("not valid UTF-8"));
    }
}
