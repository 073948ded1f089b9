//! Token helpers: keyword sequences, names, parenthesis groups and comma lists.

use gate_sqlkit::{Token, TokenKind};
use sqlparser::ast;

pub(crate) fn is(t: &[Token], i: usize, kw: &str) -> bool {
    t.get(i).is_some_and(|x| x.is(kw))
}

pub(crate) fn seq(t: &[Token], i: usize, kws: &[&str]) -> bool {
    kws.iter().enumerate().all(|(k, kw)| is(t, i + k, kw))
}

pub(crate) fn punct(t: &[Token], i: usize, p: &str) -> bool {
    t.get(i)
        .is_some_and(|x| x.kind == TokenKind::Punct && x.text == p)
}

/// Whether the keyword sequence occurs anywhere at parenthesis depth 0.
pub(crate) fn has_seq(t: &[Token], kws: &[&str]) -> bool {
    let mut depth = 0i32;
    for i in 0..t.len() {
        if punct(t, i, "(") {
            depth += 1;
        } else if punct(t, i, ")") {
            depth -= 1;
        } else if depth == 0 && seq(t, i, kws) {
            return true;
        }
    }
    false
}

pub(crate) fn has_anywhere(t: &[Token], kw: &str) -> bool {
    t.iter().any(|x| x.is(kw))
}

/// A possibly qualified name at `i`: (lower-cased `a.b`, index after it).
pub(crate) fn name_at(t: &[Token], i: usize) -> Option<(String, usize)> {
    let first = t.get(i).filter(|x| x.is_name())?;
    let mut name = first.ident();
    let mut j = i + 1;
    while punct(t, j, ".") && t.get(j + 1).is_some_and(Token::is_name) {
        name.push('.');
        name.push_str(&t[j + 1].ident());
        j += 2;
    }
    Some((name, j))
}

pub(crate) fn last_part(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Skips `IF EXISTS` / `IF NOT EXISTS` at `i`.
pub(crate) fn skip_if(t: &[Token], i: usize) -> (bool, usize) {
    if seq(t, i, &["IF", "NOT", "EXISTS"]) {
        (true, i + 3)
    } else if seq(t, i, &["IF", "EXISTS"]) {
        (true, i + 2)
    } else {
        (false, i)
    }
}

/// The parenthesis depth at `end`, counting from `start`.
pub(crate) fn depth_at(t: &[Token], start: usize, end: usize) -> i32 {
    t[start..end].iter().fold(0, |d, x| {
        if x.kind == TokenKind::Punct && x.text == "(" {
            d + 1
        } else if x.kind == TokenKind::Punct && x.text == ")" {
            d - 1
        } else {
            d
        }
    })
}

/// Splits at commas on parenthesis depth 0.
pub(crate) fn split_commas(t: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for i in 0..t.len() {
        if punct(t, i, "(") || punct(t, i, "[") {
            depth += 1;
        } else if punct(t, i, ")") || punct(t, i, "]") {
            depth -= 1;
        } else if depth == 0 && punct(t, i, ",") {
            out.push(&t[start..i]);
            start = i + 1;
        }
    }
    out.push(&t[start..]);
    out.retain(|s| !s.is_empty());
    out
}

/// The tokens inside the parenthesis group opening at `i`, and the index after it.
pub(crate) fn group(t: &[Token], i: usize) -> Option<(&[Token], usize)> {
    if !punct(t, i, "(") {
        return None;
    }
    let mut depth = 0;
    for j in i..t.len() {
        if punct(t, j, "(") {
            depth += 1;
        } else if punct(t, j, ")") {
            depth -= 1;
            if depth == 0 {
                return Some((&t[i + 1..j], j + 1));
            }
        }
    }
    Some((&t[i + 1..], t.len()))
}

/// The boolean option `name` of a parenthesised option list such as
/// `(FULL, VERBOSE)` or `(CONCURRENTLY false)`: `None` when absent, and on
/// unless its value is false, off or 0.
pub(crate) fn option_on(options: &[Token], name: &str) -> Option<bool> {
    split_commas(options)
        .into_iter()
        .find(|o| o[0].is(name))
        .map(|o| match o.get(1) {
            None => true,
            Some(v) => !(v.is("FALSE") || v.is("OFF") || v.text == "0"),
        })
}

/// An AST object name as PostgreSQL folds it: unquoted parts lower-cased.
pub(crate) fn ast_name(name: &ast::ObjectName) -> String {
    name.0
        .iter()
        .filter_map(ast::ObjectNamePart::as_ident)
        .map(|i| match i.quote_style {
            Some(_) => i.value.clone(),
            None => i.value.to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(".")
}
