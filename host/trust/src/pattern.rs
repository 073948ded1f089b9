//! OpenSSH pattern lists (`match_pattern_list`): comma-separated patterns
//! with `*` and `?` wildcards, a leading `!` negating one. A string matches
//! the list when some plain pattern matches it and no negated one does.

/// Whether `text` matches the comma-separated pattern `list`.
pub(crate) fn matches_list(text: &str, list: &str) -> bool {
    let mut positive = false;
    for pattern in list.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        if matches(text.as_bytes(), pattern.as_bytes()) {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// Whether one pattern (`*`: any run of characters, `?`: one) matches `text`.
fn matches(text: &[u8], pattern: &[u8]) -> bool {
    // Iterative matching with one backtrack point, linear in practice.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Whether `text` contains a wildcard or negation, i.e. names more than one principal.
pub(crate) fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '!'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_negation() {
        assert!(matches_list("alice@example.com", "*@example.com"));
        assert!(matches_list("alice", "bob,alice"));
        assert!(!matches_list("alice", "bob,carol"));
        assert!(matches_list("git", "g?t"));
        assert!(!matches_list("gate-approval", "gate-exemption"));
        assert!(!matches_list(
            "mallory@example.com",
            "*@example.com,!mallory@*"
        ));
        assert!(matches_list("a", "*"));
        assert!(!matches_list("ab", "a"));
        assert!(matches_list("", "*"));
        assert!(!matches_list("abc", "a*d"));
        assert!(matches_list("abcbd", "a*bd"));
    }
}
