//! Test stand-ins for the host: a temp directory, and grants rooted in it.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use gate_plugin_sdk::paths::GrantedPath;
use gate_plugin_sdk::{Context, Finding};

use crate::files::Grants;

pub struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "gate-rego-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Sandbox { root }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// Grants the whole sandbox, with the sandbox as the request's cwd.
    pub fn grants(&self) -> TestGrants {
        TestGrants {
            cwd: self.root.clone(),
            allowed: vec![self.root.clone()],
        }
    }

    /// Grants only `rel` inside the sandbox.
    pub fn grants_only(&self, rel: &str) -> TestGrants {
        TestGrants {
            cwd: self.root.clone(),
            allowed: vec![self.path(rel)],
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub struct TestGrants {
    cwd: PathBuf,
    allowed: Vec<PathBuf>,
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

impl Grants for TestGrants {
    fn resolve(&self, path: &str) -> Result<GrantedPath, String> {
        let absolute = normalize(&self.cwd.join(path));
        if self.allowed.iter().any(|a| absolute.starts_with(a)) {
            Ok(GrantedPath {
                display: path.to_string(),
                absolute: absolute.to_string_lossy().into_owned(),
            })
        } else {
            Err(format!(
                "`{path}` is outside the fs grants; add \"{}\" to the plugin's fs grant",
                absolute.display()
            ))
        }
    }
}

pub fn ctx() -> Context {
    Context {
        check: "rego.conftest".to_string(),
        cwd: "/work".to_string(),
    }
}

pub fn evidence<'a>(f: &'a Finding, key: &str) -> Option<&'a str> {
    f.evidence
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}
