//! Config files as one data model: JSON, YAML (every document of a stream) and TOML
//! all become `serde_json::Value`, so assertions read the same in every format.

use serde_json::{Map, Number, Value};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Json,
    Yaml,
    Toml,
}

impl Format {
    pub fn from_path(path: &str) -> Option<Format> {
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            "toml" => Some(Format::Toml),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
            Format::Toml => "TOML",
        }
    }
}

/// Parses `text`. A YAML stream yields one value per document; the others, one.
pub fn parse(format: Format, text: &str) -> Result<Vec<Value>, String> {
    match format {
        Format::Json => serde_json::from_str(text)
            .map(|v| vec![v])
            .map_err(|e| e.to_string()),
        Format::Toml => text
            .parse::<toml::Table>()
            .map(|t| vec![from_toml(toml::Value::Table(t))])
            .map_err(|e| e.to_string().trim_end().to_string()),
        Format::Yaml => {
            let mut docs = Vec::new();
            for doc in serde_yaml::Deserializer::from_str(text) {
                let mut value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc)
                    .map_err(|e| e.to_string())?;
                value.apply_merge().map_err(|e| e.to_string())?;
                docs.push(from_yaml(value));
            }
            // `---` separators with nothing between them are not documents anyone wrote.
            if docs.len() > 1 {
                docs.retain(|d| !d.is_null());
            }
            if docs.is_empty() {
                docs.push(Value::Null);
            }
            Ok(docs)
        }
    }
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

fn from_yaml(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
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
                let key = match k {
                    Y::String(s) => s,
                    Y::Null => "null".to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    other => serde_yaml::to_string(&other)
                        .unwrap_or_default()
                        .trim_end()
                        .to_string(),
                };
                out.insert(key, from_yaml(v));
            }
            Value::Object(out)
        }
        // `!Ref x`, `!!binary …`: assertions see the tagged value itself.
        Y::Tagged(t) => from_yaml(t.value),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn formats_by_extension() {
        assert_eq!(Format::from_path("a/b.JSON"), Some(Format::Json));
        assert_eq!(Format::from_path("x.yml"), Some(Format::Yaml));
        assert_eq!(Format::from_path("Cargo.toml"), Some(Format::Toml));
        assert_eq!(Format::from_path("app.ini"), None);
        assert_eq!(Format::from_path("Makefile"), None);
    }

    #[test]
    fn toml_dates_and_nesting() {
        let v = parse(Format::Toml, "[server]\nport = 8080\nratio = 0.5\nstarted = 2024-01-02T03:04:05Z\n[[server.tls]]\nmin = \"1.2\"\n").unwrap();
        assert_eq!(
            v,
            [
                json!({ "server": { "port": 8080, "ratio": 0.5, "started": "2024-01-02T03:04:05Z", "tls": [{ "min": "1.2" }] } })
            ]
        );
    }

    #[test]
    fn yaml_streams_merges_tags_and_odd_keys() {
        let docs = parse(
            Format::Yaml,
            "---\nbase: &b { a: 1 }\nderived:\n  <<: *b\n  c: !Ref other\n1: one\ntrue: yes\n---\n---\nkind: Service\n",
        )
        .unwrap();
        assert_eq!(
            docs,
            [
                json!({ "base": { "a": 1 }, "derived": { "a": 1, "c": "other" }, "1": "one", "true": "yes" }),
                json!({ "kind": "Service" })
            ]
        );
        assert_eq!(parse(Format::Yaml, "").unwrap(), [Value::Null]);
    }

    #[test]
    fn parse_errors_carry_positions() {
        let e = parse(Format::Json, "{\n  \"a\": 1,\n}").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let e = parse(Format::Toml, "a = \n").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        let e = parse(Format::Yaml, "a: [1, 2\n").unwrap_err();
        assert!(e.contains("line"), "{e}");
    }
}
