//! `[plugin.grants]`: what a plugin may reach, and its resource limits.

use std::path::PathBuf;

use super::errors::Errors;
use super::grant::{GrantError, HttpGrant, NetGrant, UnixGrant};
use super::raw::RawGrants;
use super::source::{At, SourceFile};
use super::{FsGrant, Grants, PolicyError};

const HTTP_HELP: &str = "write `scheme://host[:port][/path]`, e.g. `https://status.internal/api/*` \
     (`*` stays within one host label or path segment, `/**` covers any depth)";
const NET_HELP: &str = "write `host:port`, e.g. `db.internal:5432`, `*.internal:443` or `127.0.0.*:*` \
     (`*` stays within one host label or one octet; the port is a number or `*`)";
const UNIX_HELP: &str =
    "write a socket path, or a directory and a name pattern, e.g. `/run/haproxy/*.sock`";
const FS_HELP: &str = "write `path` or `path:ro` (read-only) or `path:rw` (read-write)";
const ENV_HELP: &str =
    "name a variable, optionally ending in `*` as a prefix wildcard, e.g. `APP_*`";

/// Grants as written, each entry with its location.
#[derive(Clone, Debug, Default)]
pub(crate) struct GrantsDecl {
    pub http: Vec<At<String>>,
    pub net: Vec<At<String>>,
    pub unix: Vec<At<String>>,
    /// As written (`path`, `path:ro`, `path:rw`).
    pub fs: Vec<At<String>>,
    pub env: Vec<At<String>>,
    pub sql: Vec<At<String>>,
    pub metrics: Vec<At<String>>,
    pub timeout_ms: Option<At<u64>>,
    pub memory_mb: Option<At<u64>>,
    pub output_kb: Option<At<u64>>,
    pub parallel: Option<At<u64>>,
}

impl GrantsDecl {
    pub fn from_raw(src: &SourceFile, raw: RawGrants) -> Self {
        let list = |v: Option<Vec<toml::Spanned<String>>>| -> Vec<At<String>> {
            v.unwrap_or_default()
                .into_iter()
                .map(|s| src.at(s))
                .collect()
        };
        GrantsDecl {
            http: list(raw.http),
            net: list(raw.net),
            unix: list(raw.unix),
            fs: list(raw.fs),
            env: list(raw.env),
            sql: list(raw.sql),
            metrics: list(raw.metrics),
            timeout_ms: raw.timeout_ms.map(|s| src.at(s)),
            memory_mb: raw.memory_mb.map(|s| src.at(s)),
            output_kb: raw.output_kb.map(|s| src.at(s)),
            parallel: raw.parallel.map(|s| src.at(s)),
        }
    }

    /// Checks the syntax of every entry. Whether `sql`/`metrics` names exist is
    /// checked after merging, since the resource may be defined in another file.
    pub fn check(&self, errors: &mut Errors) {
        report(errors, "http", &self.http, HttpGrant::parse, HTTP_HELP);
        report(errors, "net", &self.net, NetGrant::parse, NET_HELP);
        report(errors, "unix", &self.unix, UnixGrant::parse, UNIX_HELP);
        for e in &self.fs {
            if let Some(problem) = fs_problem(&e.value) {
                errors.push(
                    PolicyError::at(&e.origin, format!("fs grant `{}`: {problem}", e.value))
                        .with_help(FS_HELP),
                );
            }
        }
        for e in &self.env {
            let star_inside = e.value.trim_end_matches('*').contains('*');
            if e.value.is_empty() || e.value.contains('=') || star_inside {
                errors.push(
                    PolicyError::at(
                        &e.origin,
                        format!("env grant `{}` is not a variable name", e.value),
                    )
                    .with_help(ENV_HELP),
                );
            }
        }
        for e in self.sql.iter().chain(&self.metrics) {
            if e.value.is_empty() {
                errors.push(PolicyError::at(&e.origin, "grant names an empty resource"));
            }
        }
        let limits = [
            ("timeout_ms", &self.timeout_ms),
            ("memory_mb", &self.memory_mb),
            ("output_kb", &self.output_kb),
            ("parallel", &self.parallel),
        ];
        for (key, limit) in limits {
            if let Some(l) = limit.as_ref().filter(|l| l.value == 0) {
                errors.push(
                    PolicyError::at(&l.origin, format!("`{key}` must be greater than 0"))
                        .with_help(format!("remove `{key}` to use the default limit")),
                );
            }
        }
    }

    /// Lists are unioned (a child policy can only add access); limits: later wins.
    pub fn merge(&mut self, child: GrantsDecl) {
        fn union(into: &mut Vec<At<String>>, more: Vec<At<String>>) {
            for e in more {
                if !into.iter().any(|x| x.value == e.value) {
                    into.push(e);
                }
            }
        }
        union(&mut self.http, child.http);
        union(&mut self.net, child.net);
        union(&mut self.unix, child.unix);
        union(&mut self.env, child.env);
        union(&mut self.sql, child.sql);
        union(&mut self.metrics, child.metrics);
        for e in child.fs {
            // The same path granted again takes the later access mode.
            let path = parse_fs(&e.value).path;
            match self.fs.iter_mut().find(|x| parse_fs(&x.value).path == path) {
                Some(existing) => *existing = e,
                None => self.fs.push(e),
            }
        }
        if child.timeout_ms.is_some() {
            self.timeout_ms = child.timeout_ms;
        }
        if child.memory_mb.is_some() {
            self.memory_mb = child.memory_mb;
        }
        if child.output_kb.is_some() {
            self.output_kb = child.output_kb;
        }
        if child.parallel.is_some() {
            self.parallel = child.parallel;
        }
    }

    pub fn finish(self) -> Grants {
        let values = |v: Vec<At<String>>| v.into_iter().map(|a| a.value).collect();
        Grants {
            http: parsed(&self.http, HttpGrant::parse),
            net: parsed(&self.net, NetGrant::parse),
            unix: parsed(&self.unix, UnixGrant::parse),
            fs: self.fs.iter().map(|a| parse_fs(&a.value)).collect(),
            env: values(self.env),
            sql: values(self.sql),
            metrics: values(self.metrics),
            timeout_ms: self.timeout_ms.map(|a| a.value),
            memory_mb: self.memory_mb.map(|a| a.value),
            output_kb: self.output_kb.map(|a| a.value),
            parallel: self.parallel.map(|a| a.value),
        }
    }
}

/// Reports every entry of `list` that does not parse, at its position.
fn report<T>(
    errors: &mut Errors,
    key: &str,
    list: &[At<String>],
    parse: fn(&str) -> Result<T, GrantError>,
    help: &str,
) {
    for e in list {
        if let Err(problem) = parse(&e.value) {
            errors.push(
                PolicyError::at(&e.origin, format!("{key} grant `{}`: {problem}", e.value))
                    .with_help(help),
            );
        }
    }
}

/// The typed grants. [`GrantsDecl::check`] has refused the policy if any entry
/// does not parse, so nothing is dropped here; were one to be, it would grant
/// nothing.
fn parsed<T>(list: &[At<String>], parse: fn(&str) -> Result<T, GrantError>) -> Vec<T> {
    list.iter().filter_map(|e| parse(&e.value).ok()).collect()
}

/// `"path"`, `"path:ro"` (both read-only) or `"path:rw"`.
pub(crate) fn parse_fs(entry: &str) -> FsGrant {
    if let Some(path) = entry.strip_suffix(":rw") {
        FsGrant {
            path: PathBuf::from(path),
            writable: true,
        }
    } else {
        FsGrant {
            path: PathBuf::from(entry.strip_suffix(":ro").unwrap_or(entry)),
            writable: false,
        }
    }
}

fn fs_problem(entry: &str) -> Option<String> {
    let path = entry
        .strip_suffix(":rw")
        .or_else(|| entry.strip_suffix(":ro"))
        .unwrap_or(entry);
    if path.is_empty() {
        return Some("the path is empty".to_string());
    }
    // Paths may contain `:`, so only a short alphabetic suffix is taken for a mode.
    if let Some((_, mode)) = entry.rsplit_once(':')
        && !mode.is_empty()
        && mode.len() <= 3
        && mode.bytes().all(|b| b.is_ascii_alphabetic())
        && mode != "ro"
        && mode != "rw"
    {
        return Some(format!("unknown access mode `:{mode}`"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fs_entries() {
        assert_eq!(
            parse_fs("./src"),
            FsGrant {
                path: "./src".into(),
                writable: false
            }
        );
        assert_eq!(
            parse_fs("/etc/ssl:ro"),
            FsGrant {
                path: "/etc/ssl".into(),
                writable: false
            }
        );
        assert_eq!(
            parse_fs("/tmp/out:rw"),
            FsGrant {
                path: "/tmp/out".into(),
                writable: true
            }
        );
        assert_eq!(
            fs_problem("/tmp/out:rx").as_deref(),
            Some("unknown access mode `:rx`")
        );
        assert_eq!(fs_problem(":rw").as_deref(), Some("the path is empty"));
        assert_eq!(fs_problem("/data/a:b1"), None);
    }
}
