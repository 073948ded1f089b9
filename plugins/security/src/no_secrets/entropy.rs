//! Telling a real secret from a look-alike: Shannon entropy plus the shapes that
//! placeholders, references and hashes take in real repositories.

/// Shannon entropy in bits per character.
pub fn shannon(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut total = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let n = f64::from(total);
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Words that only appear in a value when a human typed it as a stand-in. A random
/// 20+ character secret contains one of these by chance with negligible probability.
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change_me",
    "change-me",
    "example",
    "placeholder",
    "your_",
    "your-",
    "yourkey",
    "yoursecret",
    "yourtoken",
    "yourpassword",
    "replace",
    "redacted",
    "dummy",
    "fake",
    "sample",
    "notreal",
    "not_real",
    "not-a-real",
    "not_a_real",
    "xxxx",
    "****",
    "....",
    "…",
    "insert",
    "todo",
    "fixme",
];

/// True for values that are stand-ins rather than secrets: `changeme`, `${VAR}`,
/// `<your-key>`, `xxxx…`, `aaaa…`, `abcdefgh…`, `{{ .Values.token }}`, `EXAMPLE`.
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() || is_variable_reference(v) || has_percent_format(v) {
        return true;
    }
    if ["${", "{{", "}}", "#{", "<", ">"]
        .iter()
        .any(|m| v.contains(m))
    {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    low_variety(v) || has_sequential_run(&lower, 8)
}

/// `$DB_PASSWORD`, `${TOKEN}`, `$(cat /run/secrets/x)`, `$env:API_KEY`, `%APPDATA%`,
/// `%s`: a shell, PowerShell or batch variable, not its value. Only the shape of a
/// reference counts: a generated secret that merely starts with `$` or `%` (Django's
/// alphabet has both) is still a secret.
fn is_variable_reference(v: &str) -> bool {
    let ident = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.'))
    };
    if let Some(rest) = v.strip_prefix('$') {
        return rest.is_empty()
            || rest.starts_with('{')
            || (rest.starts_with('(') && rest.ends_with(')'))
            || ident(rest);
    }
    if let Some(rest) = v.strip_prefix('%') {
        return rest.is_empty()
            || rest.starts_with('{')
            || ident(rest.strip_suffix('%').unwrap_or(rest));
    }
    false
}

/// Python's `%(name)s` (or `%(n)d`, …) anywhere in the value.
fn has_percent_format(v: &str) -> bool {
    v.match_indices("%(").any(|(i, _)| {
        let rest = &v[i + 2..];
        let name_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let conversion = rest[name_len..]
            .strip_prefix(')')
            .and_then(|r| r.bytes().next());
        name_len > 0 && conversion.is_some_and(|c| b"sdifrxeg".contains(&c))
    })
}

/// At most three distinct alphanumerics: `aaaaaaaa`, `0000-0000`, `abababab`.
fn low_variety(v: &str) -> bool {
    let mut seen = [false; 128];
    let mut distinct = 0;
    for b in v.bytes().filter(u8::is_ascii_alphanumeric) {
        if !seen[b as usize] {
            seen[b as usize] = true;
            distinct += 1;
        }
    }
    distinct <= 3
}

/// `abcdefgh`, `12345678`: keyboard-mashing that real generators do not produce.
fn has_sequential_run(v: &str, run: usize) -> bool {
    let bytes = v.as_bytes();
    let mut len = 1;
    for w in bytes.windows(2) {
        if w[0].is_ascii_alphanumeric() && w[1] == w[0] + 1 {
            len += 1;
            if len >= run {
                return true;
            }
        } else {
            len = 1;
        }
    }
    false
}

/// `123e4567-e89b-12d3-a456-426614174000`: ids, not secrets.
pub fn is_uuid(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Content digests as lockfiles and registries write them (`sha512-…`, `sha256:…`),
/// and password hashes in crypt(3) form (`$2b$12$…`, `$argon2id$…`, `$6$…`): a
/// hash to check a password against, not the password.
pub fn is_digest(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let content = [
        "sha1", "sha256", "sha384", "sha512", "md5", "blake2b", "blake3",
    ]
    .iter()
    .any(|alg| lower.starts_with(&format!("{alg}-")) || lower.starts_with(&format!("{alg}:")));
    content || is_crypt_hash(v)
}

/// `$id$salt$hash` with a short lower-case scheme id (`$2b$12$…`, `$6$…`,
/// `$argon2id$v=19$…`, `$apr1$…`), in the characters crypt(3) hashes use.
fn is_crypt_hash(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('$') else {
        return false;
    };
    let id_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        .count();
    (1..=16).contains(&id_len)
        && rest.as_bytes()[0].is_ascii_alphanumeric()
        && rest[id_len..].starts_with('$')
        && v.matches('$').count() >= 3
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"./$=,+-".contains(&b))
}

/// Paths and URLs without credentials are where secrets live, not secrets.
pub fn is_path_or_url(v: &str) -> bool {
    v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("../")
        || v.starts_with("~/")
        || v.starts_with("file:")
        || (v.contains("://") && !v.contains('@'))
}

/// How many of lower-case letters, upper-case letters and digits appear.
pub fn char_classes(v: &str) -> usize {
    let lower = v.bytes().any(|b| b.is_ascii_lowercase());
    let upper = v.bytes().any(|b| b.is_ascii_uppercase());
    let digit = v.bytes().any(|b| b.is_ascii_digit());
    usize::from(lower) + usize::from(upper) + usize::from(digit)
}

/// Code rather than a literal: `settings.SECRET_KEY`, `os.getenv("X")`,
/// `DB_PASSWORD_FROM_VAULT`, `my_super_secret_key_2`.
pub fn is_code_reference(v: &str) -> bool {
    // Blocks, paths (`proc_macro2::TokenStream`), and escape sequences inside a
    // larger string literal.
    if v.contains(['{', '}', '\\']) || v.contains("::") || v.contains("->") {
        return true;
    }
    // Calls and indexing (`os.getenv("X")`, `os.environ[`, `vault.read(path`), made
    // of what code is made of. Generated secrets from punctuation alphabets (Django's
    // `!@#$%^&*(-_=+)`) have brackets too, but among characters code never has
    // in a value.
    let code_char = |c: char| c.is_ascii_alphanumeric() || "_.$:()[]'\" ,=-!&/?|<>".contains(c);
    if v.contains(['(', ')', '[', ']']) && v.chars().all(code_char) {
        return true;
    }
    // Short word-like segments joined by separators, starting with a letter.
    let segments: Vec<&str> = v.split(['.', '_', '-']).collect();
    let identifier_like = segments.len() >= 2
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && segments
            .iter()
            .all(|s| !s.is_empty() && s.len() <= 12 && cased_like_code(s));
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    identifier_like && digits <= 2
}

/// A segment cased as code cases words: `lower`, `UPPER`, `Capitalised`,
/// `camelCase`, `PascalCase` (digits anywhere). Random mixed case
/// (`LNm7Hh3qdsM`) is none of them.
fn cased_like_code(s: &str) -> bool {
    if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let letters: Vec<u8> = s.bytes().filter(u8::is_ascii_alphabetic).collect();
    if letters.iter().all(u8::is_ascii_lowercase) || letters.iter().all(u8::is_ascii_uppercase) {
        return true;
    }
    // camelCase / PascalCase: an upper-case letter is never followed by another.
    !letters
        .windows(2)
        .any(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase())
}

/// An identifier or a type as code writes it, not a literal: `&NSURLCredential`,
/// `*mut SecKeyRef`, `Option<&str>`, `X509_KEY_USAGE_DIGITAL_SIGNATURE`,
/// `accessTokenValue`. Such a value is made of words (runs of three or more
/// letters between underscores, digits and case changes); a random string is made
/// of fragments, because its case flips every character or two.
pub fn is_identifier(v: &str) -> bool {
    word_share(v).is_some_and(|share| share >= 0.8)
}

/// A quoted value made wholly of words and no digits (`"SecondsPerRetainedAudioEvent"`)
/// is a name; random strings almost always hold a digit and fragments.
pub fn is_quoted_name(v: &str) -> bool {
    !v.bytes().any(|b| b.is_ascii_digit()) && word_share(v).is_some_and(|share| share >= 0.9)
}

/// The share of a value's letters that are in words of three letters or more,
/// when it has the characters of an identifier at all.
fn word_share(v: &str) -> Option<f64> {
    let v = v
        .trim_start_matches(['&', '*'])
        .trim_end_matches([',', ';', ')', '?']);
    if v.is_empty() || !v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    if v.contains('<') {
        let generic = v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_<>&:', ".contains(&b));
        return generic.then_some(1.0);
    }
    if !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let bytes = v.as_bytes();
    let (mut letters, mut in_words, mut word) = (0usize, 0usize, 0usize);
    for (i, &b) in bytes.iter().enumerate() {
        if !b.is_ascii_alphabetic() {
            in_words += if word >= 3 { word } else { 0 };
            word = 0;
            continue;
        }
        letters += 1;
        // A new word starts at lower→Upper (`tokenValue`) and at the last capital of
        // an acronym (`NSURLCredential` → `NSURL`, `Credential`).
        let boundary = i > 0
            && b.is_ascii_uppercase()
            && (bytes[i - 1].is_ascii_lowercase()
                || (bytes[i - 1].is_ascii_uppercase()
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase)));
        if boundary {
            in_words += if word >= 3 { word } else { 0 };
            word = 0;
        }
        word += 1;
    }
    in_words += if word >= 3 { word } else { 0 };
    (letters > 0).then(|| in_words as f64 / letters as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon(""), 0.0);
        assert_eq!(shannon("aaaa"), 0.0);
        assert!((shannon("ab") - 1.0).abs() < 1e-9);
        assert!((shannon("0123456789abcdef") - 4.0).abs() < 1e-9);
        assert!(shannon("mysecretpassword") < 3.5);
        assert!(shannon("q8Zr2LmX0vTb7NcW4kPy") > 4.0);
    }

    #[test]
    fn placeholders() {
        for v in [
            "changeme",
            "CHANGEME-please-1234",
            "${DB_PASSWORD}",
            "$DB_PASSWORD",
            "{{ .Values.token }}",
            "<your-key>",
            "your_api_key_here",
            "xxxxxxxxxxxxxxxxxxxx",
            "XXXX-XXXX-XXXX-XXXX",
            "aaaaaaaaaaaaaaaaaaaa",
            "0000000000000000",
            "abababababababab",
            "abcdefghijklmnopqrst",
            "1234567890123456",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "%(password)s",
            "**************",
            "REDACTED",
            "dummy-token-for-tests",
        ] {
            assert!(is_placeholder(v), "{v} should be a placeholder");
        }
        for v in [
            "q8Zr2LmX0vTb7NcW4kPy",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9Lk2pW8",
            "Tr0ub4dor&3xyzzy!",
        ] {
            assert!(!is_placeholder(v), "{v} is not a placeholder");
        }
    }

    #[test]
    fn uuids_digests_paths() {
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400"));
        assert!(!is_uuid("g23e4567-e89b-12d3-a456-426614174000"));
        assert!(is_digest(
            "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
        ));
        assert!(is_digest(
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        ));
        assert!(!is_digest(
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        ));
        assert!(is_path_or_url("/run/secrets/db_password"));
        assert!(is_path_or_url("https://vault.internal/v1/secret/data/app"));
        assert!(!is_path_or_url("https://user:hunter2@example.com"));
    }

    #[test]
    fn code_references() {
        assert!(is_code_reference("settings.SECRET_KEY"));
        assert!(is_code_reference("os.getenv(\"TOKEN\")"));
        assert!(is_code_reference("DB_PASSWORD_FROM_VAULT"));
        assert!(is_code_reference("process.env.API_TOKEN"));
        assert!(is_code_reference("my_super_secret_key_2"));
        assert!(is_code_reference("proc_macro2::TokenStream"));
        assert!(is_code_reference("hell\\x01o\\r\\nBread:"));
        assert!(!is_code_reference("Xk9_aQ2-mN4pL7zR1tY8"));
        assert!(!is_code_reference("q8Zr2LmX0vTb7NcW4kPy"));
    }

    #[test]
    fn identifiers_and_types_are_not_literals() {
        for v in [
            "&NSURLCredential",
            "&NSURLCredential,",
            "*SecKeyRef",
            "Option<&'static str>",
            "X509_KEY_USAGE_DIGITAL_SIGNATURE",
            "accessTokenValue",
            "SecretManagerServiceClient",
            "HTTPBasicAuthCredentials",
            "MI_UserCredentials_0",
            "SslOpenPrivateKeyFn",
            "D3D10_SB_RESOURCE_RETURN_TYPE",
        ] {
            assert!(is_identifier(v), "{v} is an identifier");
        }
        for v in [
            "q8Zr2LmX0vTb7NcW4kPy",
            "aBcDeFgHiJkLmNoPqRsT",
            "Xk9aQ2mN4pL7zR1tY8wE",
            "ZmFrZS1iYXNlNjQtdmFsdWU=",
        ] {
            assert!(!is_identifier(v), "{v} is not an identifier");
        }
    }
}
