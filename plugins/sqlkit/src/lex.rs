//! The PostgreSQL lexer underneath the splitter and the tokenizer.
//!
//! It only has to find where comments, strings, quoted identifiers and
//! statements begin and end; it does not validate SQL. Anything unterminated
//! (a string, a block comment, a dollar quote) runs to the end of the input
//! and is flagged, so a broken file still splits deterministically.

use std::ops::Range;

/// What a lexeme is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexKind {
    /// `-- …` up to (not including) the end of the line.
    LineComment,
    /// `/* … */`, nesting allowed.
    BlockComment,
    /// A keyword or an unquoted identifier.
    Word,
    /// `"…"` with `""` escapes.
    QuotedIdent,
    /// `'…'`, `E'…'`, `B'…'`, `X'…'`, `N'…'`, `U&'…'`.
    String,
    /// `$$…$$` or `$tag$…$tag$`.
    DollarString,
    /// A numeric literal.
    Number,
    /// A positional parameter such as `$1`.
    Param,
    /// `;`
    Semicolon,
    /// One of `( ) [ ] , . :` and `::`.
    Punct,
    /// A run of operator characters such as `=`, `<>`, `||`.
    Operator,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lexeme {
    pub kind: LexKind,
    pub span: Range<usize>,
    /// A string, quoted identifier, dollar quote or block comment that never closed.
    pub unterminated: bool,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

const OPERATOR_CHARS: &[u8] = b"+-*/<>=~!@#%^&|`?";

/// Splits `sql` into lexemes, skipping whitespace.
pub fn lex(sql: &str) -> Vec<Lexeme> {
    lex_from(sql, 0)
}

/// Like [`lex`], starting at byte `start` (spans stay relative to `sql`).
pub fn lex_from(sql: &str, start: usize) -> Vec<Lexeme> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = start.min(bytes.len());
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let (kind, end, unterminated) = match b {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                let end = memchr(b'\n', bytes, i).unwrap_or(bytes.len());
                // Keep a `\r` of a CRLF line ending out of the comment.
                let end = if end > i && bytes[end - 1] == b'\r' && end < bytes.len() {
                    end - 1
                } else {
                    end
                };
                (LexKind::LineComment, end, false)
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let (end, closed) = block_comment(bytes, i);
                (LexKind::BlockComment, end, !closed)
            }
            b'\'' => {
                let (end, closed) = quoted(bytes, i + 1, b'\'', false);
                (LexKind::String, end, !closed)
            }
            b'"' => {
                let (end, closed) = quoted(bytes, i + 1, b'"', false);
                (LexKind::QuotedIdent, end, !closed)
            }
            b'$' => {
                if let Some(tag_end) = dollar_tag(sql, i) {
                    let tag = &sql[i..tag_end];
                    match sql[tag_end..].find(tag) {
                        Some(pos) => (LexKind::DollarString, tag_end + pos + tag.len(), false),
                        None => (LexKind::DollarString, bytes.len(), true),
                    }
                } else if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    let mut j = i + 1;
                    while j < bytes.len() && bytes[j].is_ascii_digit() {
                        j += 1;
                    }
                    (LexKind::Param, j, false)
                } else {
                    (LexKind::Operator, i + 1, false)
                }
            }
            b';' => (LexKind::Semicolon, i + 1, false),
            b':' if bytes.get(i + 1) == Some(&b':') => (LexKind::Punct, i + 2, false),
            b'(' | b')' | b'[' | b']' | b',' | b':' => (LexKind::Punct, i + 1, false),
            b'.' if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                (LexKind::Punct, i + 1, false)
            }
            b'0'..=b'9' | b'.' => (LexKind::Number, number(bytes, i), false),
            _ if OPERATOR_CHARS.contains(&b) => {
                let mut j = i + 1;
                while j < bytes.len()
                    && OPERATOR_CHARS.contains(&bytes[j])
                    && !(bytes[j] == b'-' && bytes.get(j + 1) == Some(&b'-'))
                    && !(bytes[j] == b'/' && bytes.get(j + 1) == Some(&b'*'))
                {
                    j += 1;
                }
                (LexKind::Operator, j, false)
            }
            _ => {
                let c = sql[i..].chars().next().unwrap_or(' ');
                if is_ident_start(c) {
                    word_or_prefixed_string(sql, i)
                } else {
                    (LexKind::Operator, i + c.len_utf8(), false)
                }
            }
        };
        out.push(Lexeme {
            kind,
            span: start..end,
            unterminated,
        });
        i = end;
    }
    out
}

fn memchr(needle: u8, bytes: &[u8], from: usize) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|&b| b == needle)
        .map(|p| p + from)
}

/// Returns the end of a (nested) block comment starting at `i`, and whether it closed.
fn block_comment(bytes: &[u8], i: usize) -> (usize, bool) {
    let mut depth = 0usize;
    let mut j = i;
    while j < bytes.len() {
        if bytes[j] == b'/' && bytes.get(j + 1) == Some(&b'*') {
            depth += 1;
            j += 2;
        } else if bytes[j] == b'*' && bytes.get(j + 1) == Some(&b'/') {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return (j, true);
            }
        } else {
            j += 1;
        }
    }
    (bytes.len(), false)
}

/// Scans a quoted body starting after the opening quote at `from`; a doubled
/// quote is an escaped quote, and with `backslash` a backslash escapes the
/// next byte. Returns the end (after the closing quote) and whether it closed.
fn quoted(bytes: &[u8], from: usize, quote: u8, backslash: bool) -> (usize, bool) {
    let mut j = from;
    while j < bytes.len() {
        let b = bytes[j];
        if backslash && b == b'\\' {
            j += 2;
            continue;
        }
        if b == quote {
            if bytes.get(j + 1) == Some(&quote) {
                j += 2;
                continue;
            }
            return (j + 1, true);
        }
        j += 1;
    }
    (bytes.len(), false)
}

/// If a dollar-quote opening tag (`$$` or `$tag$`) starts at `i`, returns its end.
fn dollar_tag(sql: &str, i: usize) -> Option<usize> {
    let rest = &sql[i + 1..];
    let mut chars = rest.char_indices();
    match chars.next()? {
        (_, '$') => return Some(i + 2),
        (_, c) if is_ident_start(c) => {}
        _ => return None,
    }
    for (pos, c) in chars {
        if c == '$' {
            return Some(i + 1 + pos + 1);
        }
        if !(c.is_alphanumeric() || c == '_' || !c.is_ascii()) {
            return None;
        }
    }
    None
}

fn number(bytes: &[u8], i: usize) -> usize {
    let mut j = i;
    if bytes[j] == b'0'
        && matches!(
            bytes.get(j + 1),
            Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
        )
    {
        j += 2;
        while j < bytes.len() && (bytes[j].is_ascii_hexdigit() || bytes[j] == b'_') {
            j += 1;
        }
        return j;
    }
    while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'_') {
        j += 1;
    }
    if j < bytes.len() && bytes[j] == b'.' && bytes.get(j + 1) != Some(&b'.') {
        j += 1;
        while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'_') {
            j += 1;
        }
    }
    if j < bytes.len() && matches!(bytes[j], b'e' | b'E') {
        let mut k = j + 1;
        if k < bytes.len() && matches!(bytes[k], b'+' | b'-') {
            k += 1;
        }
        if k < bytes.len() && bytes[k].is_ascii_digit() {
            j = k;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
        }
    }
    j
}

/// A word, unless it is the prefix of a string constant (`E'…'`, `U&'…'`, …).
fn word_or_prefixed_string(sql: &str, i: usize) -> (LexKind, usize, bool) {
    let bytes = sql.as_bytes();
    let mut j = i;
    for (pos, c) in sql[i..].char_indices() {
        if !is_ident_char(c) {
            j = i + pos;
            break;
        }
        j = i + pos + c.len_utf8();
    }
    let word = &sql[i..j];
    if bytes.get(j) == Some(&b'\'') {
        if word.eq_ignore_ascii_case("e") {
            let (end, closed) = quoted(bytes, j + 1, b'\'', true);
            return (LexKind::String, end, !closed);
        }
        if ["b", "x", "n"].iter().any(|p| word.eq_ignore_ascii_case(p)) {
            let (end, closed) = quoted(bytes, j + 1, b'\'', false);
            return (LexKind::String, end, !closed);
        }
    }
    if word.eq_ignore_ascii_case("u") && bytes.get(j) == Some(&b'&') {
        match bytes.get(j + 1) {
            Some(b'\'') => {
                let (end, closed) = quoted(bytes, j + 2, b'\'', false);
                return (LexKind::String, end, !closed);
            }
            Some(b'"') => {
                let (end, closed) = quoted(bytes, j + 2, b'"', false);
                return (LexKind::QuotedIdent, end, !closed);
            }
            _ => {}
        }
    }
    (LexKind::Word, j, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(LexKind, &str)> {
        lex(sql)
            .into_iter()
            .map(|l| (l.kind, &sql[l.span]))
            .collect()
    }

    #[test]
    fn basic_tokens() {
        use LexKind::*;
        assert_eq!(
            kinds("SELECT a.b, 1.5e3, $1 FROM t WHERE x::int <> 2;"),
            vec![
                (Word, "SELECT"),
                (Word, "a"),
                (Punct, "."),
                (Word, "b"),
                (Punct, ","),
                (Number, "1.5e3"),
                (Punct, ","),
                (Param, "$1"),
                (Word, "FROM"),
                (Word, "t"),
                (Word, "WHERE"),
                (Word, "x"),
                (Punct, "::"),
                (Word, "int"),
                (Operator, "<>"),
                (Number, "2"),
                (Semicolon, ";"),
            ]
        );
    }

    #[test]
    fn operator_stops_before_comment() {
        use LexKind::*;
        assert_eq!(
            kinds("a =-- c\n b"),
            vec![
                (Word, "a"),
                (Operator, "="),
                (LineComment, "-- c"),
                (Word, "b")
            ]
        );
    }

    #[test]
    fn identifiers_with_dollar_are_not_dollar_quotes() {
        use LexKind::*;
        assert_eq!(kinds("a$b$ c"), vec![(Word, "a$b$"), (Word, "c")]);
    }

    #[test]
    fn prefixed_strings() {
        use LexKind::*;
        assert_eq!(
            kinds(r#"E'it\'s' B'01' X'ff' N'x' U&'d\0061' U&"ab" e'\\'"#),
            vec![
                (String, r"E'it\'s'"),
                (String, "B'01'"),
                (String, "X'ff'"),
                (String, "N'x'"),
                (String, r"U&'d\0061'"),
                (QuotedIdent, "U&\"ab\""),
                (String, r"e'\\'"),
            ]
        );
    }

    #[test]
    fn word_ending_in_e_before_quote_is_not_a_prefix() {
        use LexKind::*;
        // `type'…'` is a typed literal, not an E-string.
        assert_eq!(
            kinds(r"date'2020-01-01\'"),
            vec![(Word, "date"), (String, r"'2020-01-01\'")]
        );
    }

    #[test]
    fn crlf_line_comment() {
        use LexKind::*;
        assert_eq!(
            kinds("-- hi\r\nSELECT"),
            vec![(LineComment, "-- hi"), (Word, "SELECT")]
        );
    }

    #[test]
    fn unterminated_things_run_to_the_end() {
        let l = lex("SELECT 'abc");
        assert!(l[1].unterminated);
        assert_eq!(l[1].span, 7..11);
        let l = lex("/* a /* b */");
        assert!(l[0].unterminated);
        let l = lex("$x$ body");
        assert!(l[0].unterminated && l[0].kind == LexKind::DollarString);
    }
}
