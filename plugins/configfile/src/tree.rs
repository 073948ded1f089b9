//! JSON, YAML and TOML as one data model: `serde_json::Value` trees.

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Number, Value};

use crate::{Format, line_col};

/// A file that does not parse, with the parser's position when it has one.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// 1-based line and column.
    pub position: Option<(u32, u32)>,
}

/// The message, with the position when the message does not already name it.
impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match self.position {
            Some((line, column)) if !self.message.contains("line ") => {
                write!(f, " at line {line} column {column}")
            }
            _ => Ok(()),
        }
    }
}

/// Parses a JSON, YAML or TOML file: one value per YAML document (a stream
/// of several, or none for an empty file), one value for the other formats.
/// YAML merge keys (`<<: *base`) are applied; tags are dropped (`!Ref x` is
/// `x`). The line-based formats have no tree: read them with [`crate::entries`].
pub fn documents(format: Format, text: &str) -> Result<Vec<Value>, ParseError> {
    match format {
        Format::Json => serde_json::from_str::<Value>(text)
            .map(|v| vec![v])
            .map_err(|e| ParseError {
                message: e.to_string(),
                position: (e.line() > 0).then(|| (e.line() as u32, e.column() as u32)),
            }),
        Format::Toml => text
            .parse::<toml::Table>()
            .map(|t| vec![from_toml(toml::Value::Table(t))])
            .map_err(|e| ParseError {
                message: e.message().trim_end().to_string(),
                position: e.span().map(|s| line_col(text, s.start)),
            }),
        Format::Yaml => yaml_documents(text),
        Format::Env | Format::Properties | Format::Ini => Err(ParseError {
            message: format!("{} files are read line by line, not parsed", format.name()),
            position: None,
        }),
    }
}

fn yaml_documents(text: &str) -> Result<Vec<Value>, ParseError> {
    let error = |e: yaml_serde::Error| ParseError {
        position: e.location().map(|l| (l.line() as u32, l.column() as u32)),
        message: e.to_string(),
    };
    let mut docs = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(text) {
        let mut value = yaml_serde::Value::deserialize(doc).map_err(error)?;
        value.apply_merge().map_err(error)?;
        docs.push(from_yaml(value));
    }
    Ok(docs)
}

fn from_toml(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::Number(i.into()),
        toml::Value::Float(f) => {
            Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(from_toml).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, from_toml(v))).collect())
        }
    }
}

/// YAML allows non-string keys (`200: ok`, `true: yes`); they become their text.
fn from_yaml(v: yaml_serde::Value) -> Value {
    use yaml_serde::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Number::from_f64(f).map_or_else(|| Value::String(n.to_string()), Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(s) => Value::Array(s.into_iter().map(from_yaml).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(yaml_key(k), from_yaml(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => from_yaml(t.value),
    }
}

/// A mapping key as text. A sequence or mapping used as a key (`? [a, b]`)
/// reads as its JSON text, so the YAML emitter stays out of the components.
fn yaml_key(k: yaml_serde::Value) -> String {
    use yaml_serde::Value as Y;
    match k {
        Y::String(s) => s,
        Y::Null => "null".to_string(),
        Y::Bool(b) => b.to_string(),
        Y::Number(n) => n.to_string(),
        other => from_yaml(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn toml_dates_and_nesting() {
        let v = documents(Format::Toml, "[server]\nport = 8080\nratio = 0.5\nstarted = 2024-01-02T03:04:05Z\n[[server.tls]]\nmin = \"1.2\"\n").unwrap();
        assert_eq!(
            v,
            [
                json!({ "server": { "port": 8080, "ratio": 0.5, "started": "2024-01-02T03:04:05Z", "tls": [{ "min": "1.2" }] } })
            ]
        );
    }

    #[test]
    fn yaml_streams_merges_tags_and_odd_keys() {
        let docs = documents(
            Format::Yaml,
            "---\nbase: &b { a: 1 }\nderived:\n  <<: *b\n  c: !Ref other\n1: one\ntrue: yes\n---\nkind: Service\n",
        )
        .unwrap();
        assert_eq!(
            docs,
            [
                json!({ "base": { "a": 1 }, "derived": { "a": 1, "c": "other" }, "1": "one", "true": "yes" }),
                json!({ "kind": "Service" })
            ]
        );
        let odd = documents(Format::Yaml, "? [a, b]\n: v\n").unwrap();
        assert_eq!(odd, [json!({ "[\"a\",\"b\"]": "v" })]);
    }

    #[test]
    fn errors_carry_positions() {
        let e = documents(Format::Json, "{\n  \"a\": ,\n}").unwrap_err();
        assert_eq!(e.position, Some((2, 8)));
        let e = documents(Format::Toml, "a = 1\nb = = 2\n").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(2));
        assert!(e.to_string().contains("at line 2 column"), "{e}");
        let e = documents(Format::Yaml, "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.position.is_some());
        assert!(documents(Format::Env, "A=1").is_err());
    }
}
