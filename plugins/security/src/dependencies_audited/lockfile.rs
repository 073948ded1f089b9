//! Lockfiles: the exact package versions a build installs.
//!
//! `Cargo.lock`, `package-lock.json` / `npm-shrinkwrap.json` (lockfile v1–v3),
//! `requirements*.txt` (only `==` pins are exact) and `poetry.lock`.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use super::version::Scheme;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    Cargo,
    Npm,
    PyPI,
}

impl Ecosystem {
    /// OSV's ecosystem names.
    pub fn from_osv(name: &str) -> Option<Ecosystem> {
        // `PyPI:…`-style suffixes name a release line of the ecosystem.
        let base = name.split(':').next().unwrap_or(name);
        match base.to_ascii_lowercase().as_str() {
            "crates.io" => Some(Ecosystem::Cargo),
            "npm" => Some(Ecosystem::Npm),
            "pypi" => Some(Ecosystem::PyPI),
            _ => None,
        }
    }

    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "crates.io",
            Ecosystem::Npm => "npm",
            Ecosystem::PyPI => "PyPI",
        }
    }

    pub fn scheme(self) -> Scheme {
        match self {
            Ecosystem::Cargo | Ecosystem::Npm => Scheme::SemVer,
            Ecosystem::PyPI => Scheme::Pep440,
        }
    }

    pub fn scheme_name(self) -> &'static str {
        match self.scheme() {
            Scheme::SemVer => "SemVer",
            Scheme::Pep440 => "PEP 440",
        }
    }

    /// Names as the registry compares them: PyPI per PEP 503 (case and runs of
    /// `-_.` do not matter); crates.io treats `-` and `_` alike; npm is exact.
    pub fn normalize(self, name: &str) -> String {
        match self {
            Ecosystem::Npm => name.to_string(),
            Ecosystem::Cargo => name.to_ascii_lowercase().replace('-', "_"),
            Ecosystem::PyPI => {
                let mut out = String::with_capacity(name.len());
                let mut sep = false;
                for c in name.trim().chars() {
                    if matches!(c, '-' | '_' | '.') {
                        sep = true;
                    } else {
                        if sep && !out.is_empty() {
                            out.push('-');
                        }
                        sep = false;
                        out.push(c.to_ascii_lowercase());
                    }
                }
                out
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    CargoLock,
    PackageLock,
    Requirements,
    PoetryLock,
}

impl Kind {
    /// The kind a file name implies.
    pub fn detect(path: &str) -> Option<Kind> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "cargo.lock" => Some(Kind::CargoLock),
            "package-lock.json" | "npm-shrinkwrap.json" => Some(Kind::PackageLock),
            "poetry.lock" => Some(Kind::PoetryLock),
            _ if lower.ends_with(".txt") && lower.contains("requirements") => {
                Some(Kind::Requirements)
            }
            _ => None,
        }
    }

    pub fn ecosystem(self) -> Ecosystem {
        match self {
            Kind::CargoLock => Ecosystem::Cargo,
            Kind::PackageLock => Ecosystem::Npm,
            Kind::Requirements | Kind::PoetryLock => Ecosystem::PyPI,
        }
    }
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// 1-based line in the lockfile, when known.
    pub line: Option<u32>,
}

/// A requirement that pins nothing, so the installed version is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpinned {
    pub name: String,
    pub spec: String,
    pub line: u32,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Lockfile {
    /// Sorted by name and version, without duplicates.
    pub packages: Vec<Package>,
    pub unpinned: Vec<Unpinned>,
    /// Packages not from the registry (path, git, workspace members): not audited.
    pub skipped: usize,
}

pub fn parse(kind: Kind, text: &str) -> Result<Lockfile, String> {
    let mut lock = match kind {
        Kind::CargoLock => cargo_lock(text)?,
        Kind::PackageLock => package_lock(text)?,
        Kind::Requirements => requirements(text),
        Kind::PoetryLock => poetry_lock(text)?,
    };
    lock.packages.sort();
    lock.packages
        .dedup_by(|a, b| a.name == b.name && a.version == b.version);
    Ok(lock)
}

/// The line of `name = "<name>"` whose block then says `version = "<version>"`,
/// for the TOML lockfiles (their parser keeps no positions).
fn toml_block_line(text: &str, name: &str, version: &str) -> Option<u32> {
    let want_name = format!("name = \"{name}\"");
    let want_version = format!("version = \"{version}\"");
    let lines: Vec<&str> = text.lines().collect();
    lines.iter().enumerate().find_map(|(i, l)| {
        (l.trim() == want_name
            && lines[i + 1..]
                .iter()
                .take_while(|l| !l.trim_start().starts_with('['))
                .any(|l| l.trim() == want_version))
        .then_some(i as u32 + 1)
    })
}

#[derive(Deserialize)]
struct TomlLock {
    #[serde(default)]
    package: Vec<TomlPackage>,
}

#[derive(Deserialize)]
struct TomlPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<toml::Value>,
}

fn cargo_lock(text: &str) -> Result<Lockfile, String> {
    let lock: TomlLock = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    let mut out = Lockfile::default();
    for p in lock.package {
        // Only registry packages have advisories; path and git sources and
        // workspace members (no source) are the project's own code.
        let registry = p
            .source
            .as_ref()
            .and_then(|s| s.as_str())
            .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"));
        if !registry {
            out.skipped += 1;
            continue;
        }
        let line = toml_block_line(text, &p.name, &p.version);
        out.packages.push(Package {
            name: p.name,
            version: p.version,
            line,
        });
    }
    Ok(out)
}

fn poetry_lock(text: &str) -> Result<Lockfile, String> {
    let lock: TomlLock = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    let mut out = Lockfile::default();
    for p in lock.package {
        // `[package.source] type = "directory" | "file" | "git" | "url"` are not
        // from an index; `legacy` (a private index) is.
        let local = p
            .source
            .as_ref()
            .and_then(|s| s.get("type"))
            .and_then(|t| t.as_str())
            .is_some_and(|t| matches!(t, "directory" | "file" | "git" | "url"));
        if local {
            out.skipped += 1;
            continue;
        }
        let line = toml_block_line(text, &p.name, &p.version);
        out.packages.push(Package {
            name: p.name,
            version: p.version,
            line,
        });
    }
    Ok(out)
}

fn package_lock(text: &str) -> Result<Lockfile, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = Lockfile::default();
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i as u32 + 1)
    };
    if let Some(packages) = doc.get("packages").and_then(Value::as_object) {
        // lockfileVersion 2 and 3: a flat map from install path to package.
        for (path, entry) in packages {
            if path.is_empty() {
                continue;
            }
            let Some(at) = path.rfind("node_modules/") else {
                // A workspace member (`packages/app`): the project's own code.
                out.skipped += 1;
                continue;
            };
            if entry.get("link").and_then(Value::as_bool) == Some(true) {
                out.skipped += 1;
                continue;
            }
            let Some(version) = entry.get("version").and_then(Value::as_str) else {
                continue;
            };
            // An alias (`"foo": "npm:bar@1"`) installs `bar` under `node_modules/foo`.
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&path[at + "node_modules/".len()..]);
            if is_local_resolution(entry) {
                out.skipped += 1;
                continue;
            }
            out.packages.push(Package {
                name: name.to_string(),
                version: version.to_string(),
                line: line_of(&format!("\"{path}\":")),
            });
        }
        return Ok(out);
    }
    match doc.get("dependencies") {
        // lockfileVersion 1: a nested tree.
        Some(Value::Object(deps)) => {
            v1_tree(deps, &line_of, &mut out);
            Ok(out)
        }
        Some(_) => Err("`dependencies` is not an object".to_string()),
        None if doc.get("lockfileVersion").is_some() => Ok(out),
        None => Err("neither `packages` nor `dependencies`: not an npm lockfile".to_string()),
    }
}

/// `file:`, `link:` and git resolutions are not registry packages.
fn is_local_resolution(entry: &Value) -> bool {
    entry
        .get("resolved")
        .and_then(Value::as_str)
        .is_some_and(|r| r.starts_with("file:") || r.starts_with("git") || r.starts_with("link:"))
}

fn v1_tree(
    deps: &serde_json::Map<String, Value>,
    line_of: &dyn Fn(&str) -> Option<u32>,
    out: &mut Lockfile,
) {
    for (name, entry) in deps {
        match entry.get("version").and_then(Value::as_str) {
            Some(v) if v.starts_with("file:") || v.starts_with("git") => out.skipped += 1,
            Some(v) => {
                // An alias records `npm:real-name@1.2.3`.
                let (name, version) = match v.strip_prefix("npm:").and_then(|a| a.rsplit_once('@'))
                {
                    Some((real, ver)) => (real.to_string(), ver.to_string()),
                    None => (name.clone(), v.to_string()),
                };
                out.packages.push(Package {
                    line: line_of(&format!("\"{name}\": {{")),
                    name,
                    version,
                });
            }
            None => {}
        }
        if let Some(Value::Object(nested)) = entry.get("dependencies") {
            v1_tree(nested, line_of, out);
        }
    }
}

/// `requirements.txt`: `name[extras]==version ; markers --hash=…`, with `\`
/// continuations, comments, and pip options (`-r`, `-e`, `--index-url`) skipped.
fn requirements(text: &str) -> Lockfile {
    let mut out = Lockfile::default();
    let mut logical = String::new();
    let mut start_line = 0u32;
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start_line = i as u32 + 1;
        }
        let line = strip_comment(raw);
        if let Some(cont) = line.trim_end().strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let entry = entry.trim();
        if entry.is_empty() || entry.starts_with('-') {
            // Options, editable installs and nested requirement files.
            continue;
        }
        // Direct references (`name @ https://…`, a bare URL or path) pin no version.
        let spec = entry.split(" --").next().unwrap_or(entry);
        let spec = spec.split(';').next().unwrap_or(spec).trim();
        let name_end = spec
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(spec.len());
        let name = &spec[..name_end];
        if name.is_empty() || spec[name_end..].starts_with("://") {
            // A bare URL or path: nothing to look up.
            continue;
        }
        let mut rest = spec[name_end..].trim_start();
        if rest.starts_with('[')
            && let Some(end) = rest.find(']')
        {
            rest = rest[end + 1..].trim_start();
        }
        let pinned = rest
            .strip_prefix("===")
            .or_else(|| rest.strip_prefix("=="))
            .map(str::trim)
            .filter(|v| !v.is_empty() && !v.contains([',', '*', '<', '>', '!', '~', ' ']));
        match pinned {
            Some(version) => {
                if seen.insert((name.to_ascii_lowercase(), version.to_string())) {
                    out.packages.push(Package {
                        name: name.to_string(),
                        version: version.to_string(),
                        line: Some(start_line),
                    });
                }
            }
            None => out.unpinned.push(Unpinned {
                name: name.to_string(),
                spec: spec.to_string(),
                line: start_line,
            }),
        }
    }
    out
}

/// A `#` starts a comment at the line start or after whitespace (not in `#egg=`).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkgs(lock: &Lockfile) -> Vec<(String, String, Option<u32>)> {
        lock.packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.line))
            .collect()
    }

    fn p(name: &str, version: &str, line: u32) -> (String, String, Option<u32>) {
        (name.to_string(), version.to_string(), Some(line))
    }

    #[test]
    fn detects_kinds() {
        assert_eq!(Kind::detect("Cargo.lock"), Some(Kind::CargoLock));
        assert_eq!(
            Kind::detect("web/package-lock.json"),
            Some(Kind::PackageLock)
        );
        assert_eq!(Kind::detect("npm-shrinkwrap.json"), Some(Kind::PackageLock));
        assert_eq!(Kind::detect("requirements.txt"), Some(Kind::Requirements));
        assert_eq!(
            Kind::detect("requirements/prod-requirements.txt"),
            Some(Kind::Requirements)
        );
        assert_eq!(Kind::detect("poetry.lock"), Some(Kind::PoetryLock));
        assert_eq!(Kind::detect("yarn.lock"), None);
        assert_eq!(Kind::detect("package.json"), None);
    }

    #[test]
    fn normalizes_names_per_registry() {
        assert_eq!(
            Ecosystem::PyPI.normalize("Django_Rest.Framework"),
            "django-rest-framework"
        );
        assert_eq!(Ecosystem::PyPI.normalize("PyYAML"), "pyyaml");
        assert_eq!(Ecosystem::Cargo.normalize("serde-json"), "serde_json");
        assert_eq!(Ecosystem::Npm.normalize("@Types/Node"), "@Types/Node");
        assert_eq!(Ecosystem::from_osv("PyPI"), Some(Ecosystem::PyPI));
        assert_eq!(Ecosystem::from_osv("crates.io"), Some(Ecosystem::Cargo));
        assert_eq!(Ecosystem::from_osv("Go"), None);
    }

    #[test]
    fn cargo_lock_keeps_registry_packages_only() {
        let text = r#"# This file is automatically @generated by Cargo.
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["time"]

[[package]]
name = "time"
version = "0.1.43"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "ca8a50ef2360fbd1eeb0ecd46795a87a19024eb4b53c5dc916ca1fd95fe62438"

[[package]]
name = "forked"
version = "1.0.0"
source = "git+https://github.com/acme/forked?rev=abc#abc"

[[package]]
name = "libc"
version = "0.2.150"
source = "sparse+https://index.crates.io/"
"#;
        let lock = parse(Kind::CargoLock, text).unwrap();
        assert_eq!(
            pkgs(&lock),
            vec![p("libc", "0.2.150", 21), p("time", "0.1.43", 10)]
        );
        assert_eq!(lock.skipped, 2);
        assert!(parse(Kind::CargoLock, "[[package]\n").is_err());
    }

    #[test]
    fn package_lock_v3_paths_aliases_and_links() {
        let text = r#"{
  "name": "web",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": { "name": "web", "version": "1.0.0" },
    "node_modules/lodash": { "version": "4.17.20", "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz" },
    "node_modules/@babel/core": { "version": "7.22.0" },
    "node_modules/mkdirp/node_modules/minimist": { "version": "1.2.5" },
    "node_modules/minimist": { "version": "1.2.5" },
    "node_modules/old": { "name": "left-pad", "version": "1.3.0" },
    "node_modules/shared": { "resolved": "packages/shared", "link": true },
    "packages/shared": { "version": "0.0.1" }
  }
}"#;
        let lock = parse(Kind::PackageLock, text).unwrap();
        assert_eq!(
            pkgs(&lock),
            vec![
                p("@babel/core", "7.22.0", 8),
                p("left-pad", "1.3.0", 11),
                p("lodash", "4.17.20", 7),
                p("minimist", "1.2.5", 9),
            ]
        );
        assert_eq!(lock.skipped, 2);
    }

    #[test]
    fn package_lock_v1_tree() {
        let text = r#"{
  "lockfileVersion": 1,
  "dependencies": {
    "lodash": { "version": "4.17.15" },
    "mkdirp": {
      "version": "0.5.5",
      "dependencies": { "minimist": { "version": "1.2.5" } }
    },
    "alias": { "version": "npm:left-pad@1.3.0" },
    "local": { "version": "file:../local" }
  }
}"#;
        let lock = parse(Kind::PackageLock, text).unwrap();
        let names: Vec<_> = pkgs(&lock)
            .into_iter()
            .map(|(n, v, _)| format!("{n}@{v}"))
            .collect();
        assert_eq!(
            names,
            [
                "left-pad@1.3.0",
                "lodash@4.17.15",
                "minimist@1.2.5",
                "mkdirp@0.5.5"
            ]
        );
        assert_eq!(lock.skipped, 1);
        assert!(parse(Kind::PackageLock, "{\"name\": 1}").is_err());
        assert!(parse(Kind::PackageLock, "{").is_err());
    }

    #[test]
    fn requirements_pins_options_and_unpinned() {
        let text = "\
# production pins
-r base.txt
--index-url https://pypi.org/simple
requests==2.28.1 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
Django[argon2]==4.2.1 ; python_version >= \"3.8\"
PyYAML===5.3.1  # exact
flask>=2.0
numpy==1.*
-e git+https://github.com/acme/lib#egg=lib
lib @ https://example.com/lib-1.0.tar.gz
";
        let lock = parse(Kind::Requirements, text).unwrap();
        assert_eq!(
            pkgs(&lock),
            vec![
                p("Django", "4.2.1", 7),
                p("PyYAML", "5.3.1", 8),
                p("requests", "2.28.1", 4)
            ]
        );
        let unpinned: Vec<_> = lock
            .unpinned
            .iter()
            .map(|u| (u.name.as_str(), u.line))
            .collect();
        assert_eq!(unpinned, [("flask", 9), ("numpy", 10), ("lib", 12)]);
    }

    #[test]
    fn poetry_lock_skips_local_sources() {
        let text = r#"# This file is automatically @generated by Poetry 1.7.1 and should not be changed by hand.

[[package]]
name = "pyyaml"
version = "5.3.1"
description = "YAML parser and emitter for Python"
optional = false
python-versions = ">=2.7, !=3.0.*"
files = [
    {file = "PyYAML-5.3.1.tar.gz", hash = "sha256:b8eac752c5e14d3eca0e6dd9199cd627518cb5ec06add0de9d32baeee6fe645d"},
]

[[package]]
name = "mylib"
version = "0.1.0"
description = ""
optional = false
python-versions = "*"
files = []

[package.source]
type = "directory"
url = "../mylib"

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "0000"
"#;
        let lock = parse(Kind::PoetryLock, text).unwrap();
        assert_eq!(pkgs(&lock), vec![p("pyyaml", "5.3.1", 4)]);
        assert_eq!(lock.skipped, 1);
    }
}
