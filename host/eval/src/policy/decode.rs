//! Decoding one TOML item (a `[[gate]]`, a `[connections.NAME]`, …) into its serde
//! type, reporting every problem in it.
//!
//! Each item is decoded from its own sub-tree, so a mistake in one gate does not
//! hide mistakes in the next. Within an item, unknown keys are all reported up
//! front; a value serde rejects is reported, dropped, and decoding is retried, so
//! each bad key gets its own error.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue, ValueDeserializer};

use super::PolicyError;
use super::errors::Errors;
use super::raw::fields_of;
use super::source::SourceFile;

/// A serde type that is one item of the policy format.
pub trait Item: DeserializeOwned {
    /// A key that must be refused with a specific explanation, even if the
    /// schema would accept it or would only say "unknown key".
    /// `what` names the item as in [`decode`].
    fn reject(_key: &str, _value: &DeValue<'_>, _what: &str) -> Option<Rejection> {
        None
    }
}

pub struct Rejection {
    pub message: String,
    pub help: String,
    /// Point at the value rather than at the key.
    pub at_value: bool,
}

pub struct Decoded<T> {
    pub item: Option<T>,
    /// No error was reported for this item.
    pub clean: bool,
}

/// Decodes `value` as a `T`. `what` names the item in messages, as it is written
/// in the file: `[[gate]]`, `[connections.primary]`.
pub fn decode<T: Item>(
    src: &SourceFile,
    value: Spanned<DeValue<'_>>,
    what: &str,
    errors: &mut Errors,
) -> Decoded<T> {
    let span = value.span();
    let Some(mut table) = expect_table(src, value, what, errors) else {
        return Decoded {
            item: None,
            clean: false,
        };
    };
    let fields = fields_of::<T>();
    // Keys already reported (rejected, or unknown with a suggestion): their absence
    // must not be reported again as a missing required key.
    let mut dropped: Vec<String> = Vec::new();
    let mut clean = drop_refused_keys::<T>(src, &mut table, what, fields, &mut dropped, errors);
    let mut missing = false;
    // Each round drops a key or fills a missing one, so this bound is never reached;
    // it only guarantees termination.
    for _ in 0..=(table.len() + fields.len()) {
        let error = match deserialize_table::<T>(&table, &span) {
            // With a key missing, the item holds placeholders: only its errors count.
            Ok(item) => {
                return Decoded {
                    item: (!missing).then_some(item),
                    clean,
                };
            }
            Err(error) => error,
        };
        clean = false;
        // Checked first: a missing key is reported at the table, where placeholders sit.
        let Some(field) = missing_field(error.message()) else {
            match drop_bad_value(src, &mut table, &error, &span, errors) {
                Some(name) => dropped.push(name),
                None => break,
            }
            continue;
        };
        // A key dropped above for a bad value has been reported already.
        if !dropped.iter().any(|d| d == field) {
            errors.push(
                PolicyError::at(
                    &src.origin_of(&span),
                    format!("{what} is missing the required key `{field}`"),
                )
                .with_help(format!("add `{field} = …` to this {what}")),
            );
        }
        missing = true;
        // serde stops at the first missing key; stand in a value of the right type
        // so that the next one is reported too.
        let key = Spanned::new(span.clone(), DeString::Owned(field.to_string()));
        match placeholder::<T>(&table, &key, field, &span) {
            Some(value) => {
                table.insert(key, value);
            }
            None => break,
        }
    }
    Decoded {
        item: None,
        clean: false,
    }
}

/// Reports and removes the keys `T` refuses and the keys it does not know,
/// in file order; true when there was none. Refused keys, and the keys an
/// unknown one was probably meant to be, go to `dropped`.
fn drop_refused_keys<T: Item>(
    src: &SourceFile,
    table: &mut DeTable<'_>,
    what: &str,
    fields: &[&str],
    dropped: &mut Vec<String>,
    errors: &mut Errors,
) -> bool {
    let mut clean = true;
    for (key, value) in entries_in_file_order(table) {
        let name: &str = key.get_ref();
        let error = if let Some(r) = T::reject(name, value.get_ref(), what) {
            let at = if r.at_value { value.span() } else { key.span() };
            dropped.push(name.to_string());
            PolicyError::at(&src.origin_of(&at), r.message).with_help(r.help)
        } else if !fields.contains(&name) {
            dropped.extend(did_you_mean(name, fields.iter().copied()).map(String::from));
            unknown_key(src, &key, what, fields)
        } else {
            continue;
        };
        errors.push(error);
        table.remove(name);
        clean = false;
    }
    clean
}

/// `table` (the item at `span`) deserialized as a `T`.
fn deserialize_table<T: Item>(
    table: &DeTable<'_>,
    span: &Range<usize>,
) -> Result<T, toml::de::Error> {
    T::deserialize(ValueDeserializer::from(Spanned::new(
        span.clone(),
        DeValue::Table(table.clone()),
    )))
}

/// Reports a value serde rejected and removes its key, returning the key;
/// `None` (after reporting the error as it is) when no key holds it.
fn drop_bad_value(
    src: &SourceFile,
    table: &mut DeTable<'_>,
    error: &toml::de::Error,
    span: &Range<usize>,
    errors: &mut Errors,
) -> Option<String> {
    let at = error.span().unwrap_or(span.clone());
    let Some((key, value)) = entry_containing(table, &at) else {
        errors.push(PolicyError::at(&src.origin_of(&at), error.message()));
        return None;
    };
    let name: String = key.get_ref().to_string();
    errors.push(
        PolicyError::at(
            &src.origin_of(&at),
            format!("`{name}`: {}", error.message()),
        )
        .with_help_opt(value_help(&name, value.get_ref(), error.message())),
    );
    table.remove(name.as_str());
    Some(name)
}

/// A value of the type missing `field` takes: the first of [`PLACEHOLDERS`]
/// after which serde no longer complains about `field`.
fn placeholder<'i, T: Item>(
    table: &DeTable<'i>,
    key: &Spanned<DeString<'i>>,
    field: &str,
    span: &Range<usize>,
) -> Option<Spanned<DeValue<'i>>> {
    PLACEHOLDERS.iter().find_map(|text| {
        let value = Spanned::new(span.clone(), DeValue::parse(text).ok()?.into_inner());
        let mut with = table.clone();
        with.insert(key.clone(), value.clone());
        match deserialize_table::<T>(&with, span) {
            Ok(_) => Some(value),
            Err(e) => missing_field(e.message())
                .filter(|f| *f != field)
                .map(|_| value),
        }
    })
}

/// One value of each TOML type.
const PLACEHOLDERS: [&str; 6] = ["\"\"", "0", "false", "1970-01-01", "[]", "{}"];

/// The value as a table, or an error saying what `what` should have been.
pub(crate) fn expect_table<'i>(
    src: &SourceFile,
    value: Spanned<DeValue<'i>>,
    what: &str,
    errors: &mut Errors,
) -> Option<DeTable<'i>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Table(table) => Some(table),
        other => {
            errors.push(PolicyError::at(
                &src.origin_of(&span),
                format!("{what} must be a table, found {}", other.type_str()),
            ));
            None
        }
    }
}

/// Entries sorted by position, so errors come out in the order they were written
/// whatever map type `toml` was built with.
pub fn entries_in_file_order<'i>(
    table: &DeTable<'i>,
) -> Vec<(Spanned<DeString<'i>>, Spanned<DeValue<'i>>)> {
    let mut entries: Vec<_> = table.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

/// "unknown key" with a did-you-mean, or the list of valid keys.
pub fn unknown_key(
    src: &SourceFile,
    key: &Spanned<DeString<'_>>,
    what: &str,
    valid: &[&str],
) -> PolicyError {
    let name: &str = key.get_ref();
    let help = match did_you_mean(name, valid.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("valid keys in {what}: {}", valid.join(", ")),
    };
    PolicyError::at(
        &src.origin_of(&key.span()),
        format!("unknown key `{name}` in {what}"),
    )
    .with_help(help)
}

/// The candidate closest to `given`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let given_l = given.to_lowercase().replace('-', "_");
    candidates
        .into_iter()
        .filter_map(|c| {
            let cand_l = c.to_lowercase().replace('-', "_");
            let d = edit_distance(&given_l, &cand_l);
            let prefix = given_l.len() >= 3
                && (cand_l.starts_with(&given_l) || given_l.starts_with(&cand_l));
            let limit = (given_l.chars().count() / 3).max(1);
            (d <= limit || prefix).then_some((d, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

fn entry_containing<'t, 'i>(
    table: &'t DeTable<'i>,
    at: &Range<usize>,
) -> Option<(&'t Spanned<DeString<'i>>, &'t Spanned<DeValue<'i>>)> {
    let inside = |s: Range<usize>| s.start <= at.start && at.start < s.end.max(s.start + 1);
    table
        .iter()
        .find(|(k, v)| inside(v.span()) || inside(k.span()))
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

/// A hint for the common ways a value has the wrong shape.
fn value_help(key: &str, value: &DeValue<'_>, message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (given, expected) = rest.split_once('`')?;
        let options: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        // The message already lists the options; only a near miss is worth a hint.
        return did_you_mean(given, options.iter().copied())
            .map(|s| format!("did you mean `{s}`?"));
    }
    if message.contains("expected a map") {
        return Some(format!(
            "use a table, e.g. `{key} = {{ name = \"value\" }}`"
        ));
    }
    match value {
        DeValue::String(s) if message.contains("expected a sequence") => {
            Some(format!("use a list: `{key} = [\"{s}\"]`"))
        }
        DeValue::String(s)
            if message.contains("expected u")
                || message.contains("expected i")
                || message.contains("expected a boolean") =>
        {
            Some(format!("remove the quotes: `{key} = {s}`"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["name", "checks", "enforcement", "approved_by", "timeout_ms"];
        assert_eq!(did_you_mean("nmae", keys), Some("name"));
        assert_eq!(did_you_mean("check", keys), Some("checks"));
        assert_eq!(did_you_mean("approved-by", keys), Some("approved_by"));
        assert_eq!(did_you_mean("Enforcment", keys), Some("enforcement"));
        assert_eq!(did_you_mean("timeout", keys), Some("timeout_ms"));
        assert_eq!(did_you_mean("colour", keys), None);
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(edit_distance("gate", "gaet"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
