//! Quoting for the SQL that expand/contract generates: every identifier
//! goes through [`ident`], every text value through [`literal`], so no name
//! from an operations file or the catalog is pasted into SQL unquoted.

/// A quoted identifier: `users` → `"users"`, `we"ird` → `"we""ird"`.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A string literal that means the same whatever
/// `standard_conforming_strings` says: backslashes use the `E''` form.
pub fn literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if quoted.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// A dollar-quoted body whose tag does not occur in `body`.
pub fn dollar_quoted(body: &str) -> String {
    let mut tag = String::from("gate");
    let mut n = 0;
    while body.contains(&format!("${tag}$")) {
        n += 1;
        tag = format!("gate{n}");
    }
    format!("${tag}$\n{body}\n${tag}$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(ident("users"), "\"users\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(qualified("public", "t"), "\"public\".\"t\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b'"), "E'a\\\\b'''");
        let body = "x $gate$ y";
        let q = dollar_quoted(body);
        assert!(q.starts_with("$gate1$"), "{q}");
        assert!(q.ends_with("$gate1$"), "{q}");
    }
}
