//! The syntax of plugin names, check ids and check-id patterns.
//!
//! A check id is `plugin.check-name`: lower-case kebab-case segments separated by
//! dots, the first naming the plugin. Patterns may use `*` anywhere.

/// Whether `s` is a lower-case kebab-case name starting with a letter (`acme-checks`).
pub fn is_plugin_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase()) && is_segment(s)
}

/// A kebab-case segment: `[a-z0-9]+(-[a-z0-9]+)*`.
fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// `None` if `s` is a valid check id, else why not.
pub fn check_id_problem(s: &str) -> Option<&'static str> {
    let mut segments = s.split('.');
    let plugin = segments.next().unwrap_or_default();
    let rest: Vec<&str> = segments.collect();
    if rest.is_empty() {
        return Some("a check id is `plugin.check-name`");
    }
    if !is_plugin_name(plugin) || !rest.iter().all(|s| is_segment(s)) {
        return Some("check ids are lower-case kebab-case names separated by dots");
    }
    None
}

/// `None` if `s` is a valid check id or check-id pattern, else why not.
pub fn check_pattern_problem(s: &str) -> Option<&'static str> {
    if !super::glob::is_pattern(s) {
        return check_id_problem(s);
    }
    if s.split('.').any(str::is_empty) {
        return Some("a pattern has an empty segment between dots");
    }
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'*'));
    if !ok {
        return Some("patterns may use lower-case letters, digits, `-`, `.` and `*`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names() {
        assert!(is_plugin_name("security"));
        assert!(is_plugin_name("acme-checks"));
        assert!(is_plugin_name("s3-v2"));
        for bad in [
            "",
            "Acme",
            "acme_checks",
            "-acme",
            "acme-",
            "acme--x",
            "1acme",
            "acme.x",
        ] {
            assert!(!is_plugin_name(bad), "{bad}");
        }
    }

    #[test]
    fn check_ids() {
        for good in [
            "infra.disk-space",
            "security.tls-1-3",
            "acme.db.pool-size",
            "config.2fa",
        ] {
            assert_eq!(check_id_problem(good), None, "{good}");
        }
        for bad in [
            "infra",
            "Infra.disk",
            "infra.disk_space",
            "infra..disk",
            "infra.",
            ".disk",
            "infra.disk-",
        ] {
            assert!(check_id_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn check_patterns() {
        for good in ["*", "infra.*", "*.tls-*", "acme.db.*", "infra.disk-space"] {
            assert_eq!(check_pattern_problem(good), None, "{good}");
        }
        for bad in ["infra..*", "Infra.*", "infra.*.", "infra", "infra.dísk*"] {
            assert!(check_pattern_problem(bad).is_some(), "{bad}");
        }
    }
}
