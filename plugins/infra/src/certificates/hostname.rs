//! Does a certificate cover a host name? RFC 6125 matching, as the host's TLS
//! inspection does it, for certificates read from files.

use std::net::IpAddr;

/// `true` when `name` is covered by the SANs, or by the subject's CN when the
/// certificate has no SANs at all (legacy certificates).
///
/// DNS names compare case-insensitively, ignoring a trailing dot; `*.example.com`
/// covers exactly one extra left-most label. An IP address only matches an IP
/// SAN (never a wildcard or the CN).
pub fn matches(sans: &[String], subject: &str, name: &str) -> bool {
    if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() {
        return sans
            .iter()
            .any(|san| san.parse::<IpAddr>().is_ok_and(|s| s == ip));
    }
    let name = normalise(name);
    let cn;
    let candidates: Vec<&str> = if sans.is_empty() {
        cn = common_name(subject).map(normalise);
        cn.iter().map(String::as_str).collect()
    } else {
        sans.iter()
            .filter(|s| s.parse::<IpAddr>().is_err())
            .map(String::as_str)
            .collect()
    };
    candidates.into_iter().any(|candidate| {
        let candidate = normalise(candidate);
        match candidate.strip_prefix("*.") {
            Some(suffix) => name
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
            None => candidate == name,
        }
    })
}

/// The CN in a subject written as `CN=app, O=Acme`.
pub fn common_name(subject: &str) -> Option<&str> {
    subject
        .split(", ")
        .find_map(|part| part.strip_prefix("CN="))
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sans(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_and_wildcard_dns_names() {
        let s = sans(&["app.example.com", "*.api.example.com"]);
        assert!(matches(&s, "CN=ignored", "app.example.com"));
        assert!(matches(&s, "", "APP.Example.com."));
        assert!(matches(&s, "", "v1.api.example.com"));
        assert!(
            !matches(&s, "", "api.example.com"),
            "wildcard needs a label"
        );
        assert!(!matches(&s, "", "a.b.api.example.com"), "one label only");
        assert!(!matches(&s, "", "other.example.com"));
        assert!(
            !matches(&s, "CN=ignored", "ignored"),
            "no CN fallback with SANs"
        );
    }

    #[test]
    fn ip_addresses_match_ip_sans_only() {
        let s = sans(&["localhost", "127.0.0.1", "::1"]);
        assert!(matches(&s, "", "127.0.0.1"));
        assert!(matches(&s, "", "[::1]"));
        assert!(matches(&s, "", "0:0:0:0:0:0:0:1"));
        assert!(!matches(&s, "", "127.0.0.2"));
        assert!(!matches(&sans(&["*.0.0.1"]), "", "127.0.0.1"));
        assert!(!matches(&[], "CN=127.0.0.1", "127.0.0.1"));
    }

    #[test]
    fn cn_is_the_fallback_without_sans() {
        assert!(matches(
            &[],
            "CN=legacy.example.com, O=Acme",
            "legacy.example.com"
        ));
        assert!(!matches(&[], "O=Acme", "legacy.example.com"));
        assert_eq!(common_name("O=Acme, CN=x"), Some("x"));
    }
}
