//! Input and data files as the JSON documents Rego sees.
//!
//! An input file is parsed by its extension (`.json`, `.yaml`/`.yml`,
//! `.toml`) or by the `parser` parameter, and split into documents as
//! Conftest splits it: a YAML stream gives one document per `---` section
//! (empty sections skipped), and a file whose single document is a non-empty
//! array gives one document per element (Conftest's Dockerfile JSON,
//! `[[{"Cmd": "from", …}]]`, is one document: the list of instructions).
//! Data files are merged into `data` under the directories between the
//! named data directory and the file, as OPA's loader places them.

use gate_configfile::{Format, ParseError};
use serde_json::{Map, Value};

use crate::files::File;

/// The format `file` is read with: `parser` when set, else its extension's.
pub fn format_of(file: &File, parser: Option<Format>) -> Result<Format, String> {
    if let Some(format) = parser {
        return Ok(format);
    }
    file.extension()
        .and_then(|ext| Format::from_name(&ext))
        .filter(|f| !f.is_line_based())
        .ok_or_else(|| {
            format!(
                "cannot tell the format of `{}`: name a .json, .yaml, .yml or .toml file, \
                 or set `parser`",
                file.display
            )
        })
}

/// A parse failure, in words that name the file and its position.
pub fn describe(file: &str, format: Format, error: &ParseError) -> String {
    format!("`{file}` is not valid {}: {error}", format.name())
}

/// The documents one input file holds, split as Conftest splits them.
pub fn documents(format: Format, text: &str) -> Result<Vec<Value>, ParseError> {
    let mut docs = gate_configfile::documents(format, text)?;
    if docs.len() > 1 {
        docs.retain(|d| !d.is_null());
    }
    match docs.len() {
        0 => Ok(vec![Value::Null]),
        1 => match docs.pop() {
            Some(Value::Array(items)) if !items.is_empty() => Ok(items),
            Some(doc) => Ok(vec![doc]),
            None => Ok(vec![Value::Null]),
        },
        _ => Ok(docs),
    }
}

/// A data file's contents, placed at its directories inside `data`: every
/// document must be an object, and they are merged in order.
pub fn data_document(file: &File, format: Format, text: &str) -> Result<Value, String> {
    let docs = gate_configfile::documents(format, text)
        .map_err(|e| describe(&file.display, format, &e))?;
    let mut merged = Map::new();
    for (i, doc) in docs.into_iter().enumerate() {
        match doc {
            Value::Object(fields) => merged.extend(fields),
            Value::Null => {}
            other => {
                return Err(format!(
                    "`{}`: document {} is {}, but data files hold objects (their keys become \
                     `data.<key>`)",
                    file.display,
                    i + 1,
                    kind(&other)
                ));
            }
        }
    }
    let mut value = Value::Object(merged);
    for dir in file.dirs.iter().rev() {
        value = Value::Object(Map::from_iter([(dir.clone(), value)]));
    }
    Ok(value)
}

/// "an array", "a string": what a JSON value is, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;

    fn file(display: &str, dirs: &[&str]) -> File {
        File {
            display: display.to_string(),
            absolute: PathBuf::from(display),
            dirs: dirs.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn formats_by_extension_or_override() {
        assert_eq!(format_of(&file("k8s/a.YML", &[]), None), Ok(Format::Yaml));
        assert_eq!(format_of(&file("plan.json", &[]), None), Ok(Format::Json));
        assert_eq!(format_of(&file("x.toml", &[]), None), Ok(Format::Toml));
        let err = format_of(&file("Dockerfile", &[]), None).unwrap_err();
        assert!(
            err.contains("`Dockerfile`") && err.contains("parser"),
            "{err}"
        );
        assert!(format_of(&file("app.ini", &[]), None).is_err());
        assert_eq!(
            format_of(&file("Dockerfile", &[]), Some(Format::Json)),
            Ok(Format::Json)
        );
    }

    #[test]
    fn splits_yaml_streams_and_top_level_arrays_as_conftest_does() {
        let docs = documents(Format::Yaml, "---\nkind: A\n---\n---\nkind: B\n").unwrap();
        assert_eq!(docs, [json!({"kind": "A"}), json!({"kind": "B"})]);
        let docker = documents(Format::Json, r#"[[{"Cmd": "from"}, {"Cmd": "user"}]]"#).unwrap();
        assert_eq!(docker, [json!([{"Cmd": "from"}, {"Cmd": "user"}])]);
        let list = documents(Format::Json, r#"[{"a": 1}, {"a": 2}]"#).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(documents(Format::Json, "[]").unwrap(), [json!([])]);
        assert_eq!(documents(Format::Yaml, "").unwrap(), [Value::Null]);
        // A stream's documents are not split again.
        let stream = documents(Format::Yaml, "- 1\n- 2\n---\n- 3\n").unwrap();
        assert_eq!(stream, [json!([1, 2]), json!([3])]);
        let toml = documents(Format::Toml, "[server]\nport = 1\n").unwrap();
        assert_eq!(toml, [json!({"server": {"port": 1}})]);
    }

    #[test]
    fn parse_errors_carry_positions() {
        let e = documents(Format::Json, "{\n  \"a\": ,\n}").unwrap_err();
        let text = describe("plan.json", Format::Json, &e);
        assert!(
            text.contains("`plan.json` is not valid JSON") && text.contains("line 2"),
            "{text}"
        );
    }

    #[test]
    fn data_lands_under_its_directories() {
        let value = data_document(
            &file("data/k8s/x.yaml", &["k8s"]),
            Format::Yaml,
            "a: 1\n---\nb: 2\n",
        )
        .unwrap();
        assert_eq!(value, json!({"k8s": {"a": 1, "b": 2}}));
        let top = data_document(
            &file("exceptions.json", &[]),
            Format::Json,
            r#"{"images": ["x"]}"#,
        )
        .unwrap();
        assert_eq!(top, json!({"images": ["x"]}));
        let err = data_document(&file("d.json", &[]), Format::Json, "[1]").unwrap_err();
        assert!(err.contains("`d.json`: document 1 is an array"), "{err}");
    }
}
