//! Masking for every value a check prints from a config file, an environment
//! variable, an HTTP body or a SQL row: reports travel to CI logs, SARIF
//! uploads and pull-request comments, so a finding shows enough of a secret
//! to find and rotate it, never the secret. The host runs [`scrub`] over
//! every text of an audit-log entry for the same reason: the log is kept
//! and shared.
//!
//! [`shown`] is the one entry point for such values; [`redact`] and [`url`]
//! are its building blocks, for checks that already know they hold a secret
//! or a URL.

/// `AKIA…(20 chars)`: at most 4 leading characters, fewer for short secrets,
/// so a short password never shows more than a quarter of itself.
pub fn redact(secret: &str) -> String {
    let len = secret.chars().count();
    let shown = (len / 4).min(4);
    let head: String = secret.chars().take(shown).collect();
    format!("{head}…({len} chars)")
}

/// A value as a finding may show it: redacted when its key (a dotted path,
/// a variable or header name; empty when there is none) names a secret or
/// the value looks like one, and with any password in a URL masked.
pub fn shown(key: &str, value: &str) -> String {
    if secret_key(key) {
        return redact(value);
    }
    let value = url(value);
    if looks_secret(&value) {
        redact(&value)
    } else {
        value
    }
}

/// [`shown`] for a value without a key (an HTTP body excerpt, a SQL cell).
pub fn text(value: &str) -> String {
    shown("", value)
}

/// Words that make a key name a secret (`db.password`, `API_TOKEN`, `dsn`).
const SECRET_WORDS: [&str; 9] = [
    "secret",
    "password",
    "passwd",
    "token",
    "dsn",
    "key",
    "credential",
    "auth",
    "private",
];

/// Whether the last segment of `key` names a secret.
pub fn secret_key(key: &str) -> bool {
    let leaf = key
        .rsplit(['.', '/'])
        .next()
        .unwrap_or(key)
        .to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| leaf.contains(w))
}

/// Prefixes of well-known credentials.
const TOKEN_PREFIXES: [&str; 18] = [
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "whsec_",
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AIza",
    "-----BEGIN",
    "eyJ",
];

/// Whether `value` looks like a credential whatever its key: it contains a
/// well-known token prefix followed by token characters, a URL password,
/// or a word that mixes lower case, upper case and digits the way generated
/// keys do (`Zr8qL2x…`), which configuration words and numbers do not.
pub fn looks_secret(value: &str) -> bool {
    if url(value) != value {
        return true;
    }
    let token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=');
    for prefix in TOKEN_PREFIXES {
        for (at, _) in value.match_indices(prefix) {
            let rest = &value[at + prefix.len()..];
            if rest.chars().take_while(|c| token_char(*c)).count() >= 8 {
                return true;
            }
        }
    }
    value.split(|c: char| !token_char(c)).any(generated)
}

/// `text` with every well-known credential in it (a token prefix such as
/// `sk_live_` or `AKIA` followed by the token) redacted in place and every
/// URL password masked; the rest of the text stays as it was. Unlike
/// [`shown`] it does not guess at generated-looking words, so digests and
/// ids in messages survive.
pub fn scrub(text: &str) -> String {
    // One pass over the bytes, copying untouched spans whole: findings may
    // be megabytes long and this runs inside the plugin's deadline.
    let token_byte =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'/' | b'=');
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        // A prefix only starts a token at a word boundary.
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if boundary && bytes[i].is_ascii() {
            let hit = TOKEN_PREFIXES.iter().find_map(|prefix| {
                let start = i + prefix.len();
                if !bytes[i..].starts_with(prefix.as_bytes()) {
                    return None;
                }
                let tail = bytes[start..]
                    .iter()
                    .take_while(|b| token_byte(**b))
                    .count();
                (tail >= 8).then_some(start + tail)
            });
            if let Some(end) = hit {
                out.push_str(&text[copied..i]);
                out.push_str(&redact(&text[i..end]));
                (copied, i) = (end, end);
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    // URL passwords: `scheme://user:pw@` wherever a URL starts.
    let mut masked = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        masked.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .unwrap_or(tail.len());
        let authority_end = tail[..end].find(['/', '?', '#']).unwrap_or(end);
        match tail[..authority_end].rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or("");
                masked.push_str(&format!("{user}:***@{host}"));
                rest = &tail[authority_end..];
            }
            _ => rest = tail,
        }
    }
    masked.push_str(rest);
    masked
}

/// A word of 16+ token characters with lower case, upper case and digits,
/// or of 32+ with letters and digits (hex and base64 keys).
fn generated(word: &str) -> bool {
    let len = word.chars().count();
    let lower = word.chars().any(|c| c.is_ascii_lowercase());
    let upper = word.chars().any(|c| c.is_ascii_uppercase());
    let digit = word.chars().any(|c| c.is_ascii_digit());
    (len >= 16 && lower && upper && digit) || (len >= 32 && (lower || upper) && digit)
}

/// `scheme://user:password@host/…` → `scheme://user:***@host/…`. Anything
/// before an `@` of a text that is not a URL is dropped (`***@host`), since
/// it cannot be told apart from a password.
pub fn url(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return match text.rsplit_once('@') {
            Some((before, host))
                if !before.contains(char::is_whitespace) && !host.contains(char::is_whitespace) =>
            {
                format!("***@{host}")
            }
            _ => text.to_string(),
        };
    };
    let after = &text[scheme_end + 3..];
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    match after[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!(
                "{}{user}:***@{host}{}",
                &text[..scheme_end + 3],
                &after[authority_end..]
            )
        }
        _ => text.to_string(),
    }
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

    #[test]
    fn secrets_are_masked_under_any_key() {
        for secret in [
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "AKIAZ3MSJV4WWNKWW5FG",
            "xoxb-123456789012-abcdefghijkl",
            "Zr8qL2xW9vT4kP7mN3bQ",
            "0123456789abcdef0123456789abcdef",
        ] {
            let s = shown("rate", secret);
            assert!(!s.contains(secret), "{s}");
            let s = shown("", &format!("rate={secret}r/s"));
            assert!(!s.contains(secret), "{s}");
        }
    }

    #[test]
    fn secret_keys_mask_any_value() {
        assert_eq!(shown("database.password", "hunter2"), "h…(7 chars)");
        assert_eq!(shown("API_TOKEN", "abc"), "…(3 chars)");
        assert_eq!(shown("server.tls.private_key_file", "x.pem"), "x…(5 chars)");
    }

    #[test]
    fn ordinary_values_stay_readable() {
        for value in [
            "100",
            "10r/s",
            "info",
            "production",
            "allkeys-lru",
            "2026-01-02T03:04:05Z",
            "postgres://app@db:5432/app",
            "https://example.com/runbooks/BackendDown",
        ] {
            assert_eq!(shown("rate", value), value);
        }
    }

    #[test]
    fn scrub_masks_credentials_inside_a_text_and_keeps_the_rest() {
        let text = "TOML parse error at line 4\n4 | rotated_at = \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n\
                    connect to postgres://app:Pg9xQ2w@db:5432/app failed; image web@sha256:4f8a1c0b6f7e2d3c9a5b8e1d0c7f6a5b";
        let s = scrub(text);
        assert!(!s.contains("4eC39HqLyjWDarjtT1zdp7dc"), "{s}");
        assert!(!s.contains("Pg9xQ2w"), "{s}");
        assert!(s.contains("rotated_at = \"sk_l…(32 chars)\""), "{s}");
        assert!(s.contains("postgres://app:***@db:5432/app failed"), "{s}");
        assert!(s.contains("sha256:4f8a1c0b6f7e2d3c9a5b8e1d0c7f6a5b"), "{s}");
        assert_eq!(scrub("plain text, no secrets"), "plain text, no secrets");
        assert_eq!(scrub("sk_l…(32 chars)"), "sk_l…(32 chars)");
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            url("https://ops:s3cret@app:8443/health?x=1"),
            "https://ops:***@app:8443/health?x=1"
        );
        assert_eq!(url("http://app/h"), "http://app/h");
        assert_eq!(url("redis//u:pw@cache:6379"), "***@cache:6379");
        assert_eq!(
            shown("DATABASE_URL", "postgres://app:pw@db/app"),
            "postgres://app:***@db/app"
        );
    }
}
