//! The one wildcard used across policies: `*` matches any run of characters,
//! dots and slashes included. No other character is special, so ids, subjects and
//! URLs need no escaping.

use std::path::{Path, PathBuf};

/// Whether `text` matches `pattern`. Linear in practice: one backtrack point, no
/// compilation step, so it is cheap to call per finding.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` seen, and the text position it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more byte and retry after it.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// Whether `s` contains a wildcard.
pub fn is_pattern(s: &str) -> bool {
    s.contains('*')
}

/// Files matching a path pattern such as `exemptions/*.toml`, relative to `dir`.
///
/// Here `*` stays within one path component (it is matched per component), and
/// hidden entries are skipped unless the pattern component starts with `.`.
/// Results are sorted, so loading order does not depend on the filesystem.
pub fn expand_files(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::new()];
    let components: Vec<&str> = pattern
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let base = if pattern.starts_with('/') {
        PathBuf::from("/")
    } else {
        dir.to_path_buf()
    };
    for (i, component) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        let mut next = Vec::new();
        for prefix in &current {
            if !is_pattern(component) {
                next.push(prefix.join(component));
                continue;
            }
            let Ok(entries) = std::fs::read_dir(base.join(prefix)) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.') || component.starts_with('.'))
                .filter(|n| matches(component, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| prefix.join(n)));
        }
        current = next;
        if !last {
            current.retain(|p| base.join(p).is_dir());
        }
    }
    current
        .into_iter()
        .map(|p| base.join(p))
        .filter(|p| !is_pattern(pattern) || p.is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal() {
        assert!(matches("infra.disk-space", "infra.disk-space"));
        assert!(!matches("infra.disk-space", "infra.disk-spac"));
        assert!(!matches("infra.disk", "infra.disk-space"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
    }

    #[test]
    fn star_matches_any_run_including_dots() {
        assert!(matches("infra.*", "infra.disk-space"));
        assert!(matches("infra.*", "infra."));
        assert!(!matches("infra.*", "infra"));
        assert!(!matches("infra.*", "security.tls"));
        assert!(matches("*", ""));
        assert!(matches("*", "a.b.c"));
        assert!(matches("*.tls-*", "security.tls-expiry"));
        assert!(matches("acme.*.v2", "acme.db.pool.v2"));
        assert!(matches("key:*", "key:legacy-billing"));
        assert!(matches("**", "x"));
        assert!(matches("a*b*c", "aXXbYYbZZc"));
        assert!(!matches("a*b*c", "aXXbYYbZZ"));
    }

    #[test]
    fn backtracks_past_false_starts() {
        assert!(matches("*ab", "aab"));
        assert!(matches("*aab", "aaab"));
        assert!(matches(
            "https://*.internal/*",
            "https://status.internal/health"
        ));
        assert!(!matches("https://*.internal/*", "https://status.internal"));
    }

    #[test]
    fn multibyte_text() {
        assert!(matches("ключ:*", "ключ:значение"));
        assert!(matches("*é", "café"));
        assert!(!matches("*é", "cafe"));
    }

    #[test]
    fn expands_within_a_directory_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ex")).unwrap();
        for name in ["b.toml", "a.toml", ".hidden.toml", "c.txt"] {
            std::fs::write(dir.path().join("ex").join(name), "").unwrap();
        }
        let found = expand_files(dir.path(), "ex/*.toml");
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["a.toml", "b.toml"]);
        assert!(expand_files(dir.path(), "missing/*.toml").is_empty());
        // A literal path is returned as is, so the caller can report it missing.
        assert_eq!(
            expand_files(dir.path(), "./ex/none.toml"),
            [dir.path().join("ex/none.toml")]
        );
    }
}
