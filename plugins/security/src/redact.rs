//! Redaction: findings show enough of a secret to find and rotate it, never the secret.

/// `AKIA…(20 chars)`: at most 4 leading characters, fewer for short secrets, so a
/// short password never shows more than a quarter of itself.
pub fn redact(secret: &str) -> String {
    let len = secret.chars().count();
    let shown = (len / 4).min(4);
    let head: String = secret.chars().take(shown).collect();
    format!("{head}…({len} chars)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_a_short_prefix_and_the_length() {
        assert_eq!(redact("AKIAZ3MSJV4WWNKWW5FG"), "AKIA…(20 chars)");
        assert_eq!(redact("hunter2!"), "hu…(8 chars)");
        assert_eq!(redact("abc"), "…(3 chars)");
        assert_eq!(redact(""), "…(0 chars)");
    }

    #[test]
    fn never_contains_the_secret() {
        for secret in [
            "ghp_0123456789abcdefABCDEFabcdef01234567",
            "p4ss-w0rd-long-enough",
            "ab",
            "éèêëēėę",
        ] {
            let r = redact(secret);
            assert!(!r.contains(secret), "{r}");
        }
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert_eq!(redact("ééééééééé"), "éé…(9 chars)");
    }
}
