//! Forbidden cipher suites, matched against OpenSSL names (`DES-CBC3-SHA`) and
//! IANA names (`TLS_RSA_WITH_3DES_EDE_CBC_SHA`) alike.
//!
//! A pattern is one or more tokens separated by `-` or `_`; it matches when its
//! tokens appear consecutively among the cipher name's tokens, compared without
//! case. A token ending in `*` matches by prefix (`EXP*` covers `EXP`,
//! `EXP1024` and `EXPORT`). Whole tokens, not substrings: `DES-CBC` does not
//! match `DES-CBC3-SHA`, and `NULL` does not match a name that merely contains
//! the letters.

/// The default list: broken or keyless suites.
pub const DEFAULT_FORBIDDEN: &[&str] = &[
    "RC4", "3DES", "DES-CBC3", "DES-CBC", "NULL", "EXP*", "anon", "ADH", "AECDH", "MD5",
];

fn tokens(name: &str) -> Vec<String> {
    name.split(['-', '_'])
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// A problem with a user-written pattern, if any.
pub fn pattern_problem(pattern: &str) -> Option<String> {
    let toks: Vec<&str> = pattern.split(['-', '_']).collect();
    let valid = !pattern.trim().is_empty()
        && toks.iter().all(|t| {
            let body = t.strip_suffix('*').unwrap_or(t);
            !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    (!valid).then(|| {
        format!(
            "`{pattern}` is not a cipher pattern (tokens of letters and digits joined by - or _, optionally ending in *)"
        )
    })
}

/// `true` when `pattern` matches the cipher suite `name`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let pat = tokens(pattern);
    let toks = tokens(name);
    if pat.is_empty() || pat.len() > toks.len() {
        return false;
    }
    toks.windows(pat.len()).any(|window| {
        window
            .iter()
            .zip(&pat)
            .all(|(t, p)| match p.strip_suffix('*') {
                Some(prefix) => t.starts_with(prefix),
                None => t == p,
            })
    })
}

/// The first pattern that forbids `name`.
pub fn forbidden_by<'a>(patterns: &'a [String], name: &str) -> Option<&'a str> {
    patterns
        .iter()
        .find(|p| matches(p, name))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_FORBIDDEN.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn weak_suites_are_caught_in_both_namings() {
        let cases = [
            ("RC4-MD5", "RC4"),
            ("ECDHE-RSA-RC4-SHA", "RC4"),
            ("DES-CBC3-SHA", "DES-CBC3"),
            ("ECDHE-RSA-DES-CBC3-SHA", "DES-CBC3"),
            ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "3DES"),
            ("EDH-RSA-DES-CBC-SHA", "DES-CBC"),
            ("TLS_RSA_WITH_DES_CBC_SHA", "DES-CBC"),
            ("NULL-SHA256", "NULL"),
            ("TLS_RSA_WITH_NULL_SHA", "NULL"),
            ("ECDHE-ECDSA-NULL-SHA", "NULL"),
            ("EXP-RC4-MD5", "RC4"),
            ("EXP1024-DES-CBC-SHA", "DES-CBC"),
            ("EXP-EDH-RSA-DES-CBC-SHA", "DES-CBC"),
            ("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", "EXP*"),
            ("ADH-AES128-SHA", "ADH"),
            ("AECDH-AES256-SHA", "AECDH"),
            ("TLS_DH_anon_WITH_AES_128_CBC_SHA", "anon"),
            ("TLS_RSA_WITH_RC4_128_MD5", "RC4"),
        ];
        let patterns = defaults();
        for (name, by) in cases {
            assert_eq!(forbidden_by(&patterns, name), Some(by), "{name}");
        }
    }

    #[test]
    fn modern_suites_pass() {
        let patterns = defaults();
        for name in [
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "ECDHE-RSA-AES128-GCM-SHA256",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "DHE-RSA-AES256-GCM-SHA384",
            "AES128-SHA",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ] {
            assert_eq!(forbidden_by(&patterns, name), None, "{name}");
        }
    }

    #[test]
    fn tokens_not_substrings() {
        assert!(!matches("DES-CBC", "DES-CBC3-SHA"));
        assert!(!matches("DES", "AES128-SHA"));
        assert!(matches("des-cbc3", "DES-CBC3-SHA"));
        assert!(matches("CBC*", "DES-CBC3-SHA"));
        assert!(matches("SHA", "AES128-SHA"));
        assert!(!matches("SHA", "AES128-SHA256"));
    }

    #[test]
    fn validates_patterns() {
        for ok in ["RC4", "DES-CBC3", "EXP*", "TLS_RSA_WITH_NULL_SHA", "cbc*"] {
            assert_eq!(pattern_problem(ok), None, "{ok}");
        }
        for bad in ["", " ", "RC4 ", "*", "DES--CBC", "R*C4", "RC4;"] {
            assert!(pattern_problem(bad).is_some(), "{bad}");
        }
    }
}
