//! Config files as flat `dotted.key = value` entries, whatever their format.
//!
//! JSON, YAML and TOML are parsed and walked; `.env`, `.properties` and
//! `.ini`-style files are read line by line. Entries of key=value files carry
//! their exact line; for the structured formats the parsers keep no positions,
//! so [`locate`] finds the line by searching the text for the key and value.

use std::collections::HashSet;

use serde_json::Value;

use crate::{Format, ParseError, documents};

/// One scalar setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Key segments from the root; array elements are their index.
    pub path: Vec<String>,
    pub value: String,
    /// 1-based line and column of the value, when known.
    pub position: Option<(u32, u32)>,
}

impl Entry {
    pub fn key(&self) -> String {
        self.path.join(".")
    }

    pub fn leaf(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }
}

/// Every scalar entry of `text`, in document order for the line-based formats.
/// A YAML stream of several documents is walked as one array of documents.
pub fn entries(format: Format, text: &str) -> Result<Vec<Entry>, ParseError> {
    if format.is_line_based() {
        return Ok(line_entries(format, text));
    }
    let mut docs = documents(format, text)?;
    let tree = match docs.len() {
        1 => docs.pop().unwrap_or(Value::Null),
        _ => Value::Array(docs),
    };
    let mut out = Vec::new();
    flatten(&tree, &mut Vec::new(), &mut out);
    Ok(out)
}

fn flatten(value: &Value, path: &mut Vec<String>, out: &mut Vec<Entry>) {
    let mut push = |text: String| {
        out.push(Entry {
            path: path.clone(),
            value: text,
            position: None,
        })
    };
    match value {
        Value::Null => {}
        Value::Bool(b) => push(b.to_string()),
        Value::Number(n) => push(n.to_string()),
        Value::String(s) => push(s.clone()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                flatten(item, path, out);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                flatten(v, path, out);
                path.pop();
            }
        }
    }
}

fn line_entries(format: Format, text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let comment = match format {
            Format::Env => line.starts_with('#'),
            Format::Properties => line.starts_with('#') || line.starts_with('!'),
            _ => line.starts_with('#') || line.starts_with(';'),
        };
        if line.is_empty() || comment {
            continue;
        }
        if format == Format::Ini && line.starts_with('[') && line.ends_with(']') {
            section = Some(line[1..line.len() - 1].trim().to_string());
            continue;
        }
        let line = match format {
            Format::Env => line.strip_prefix("export ").map_or(line, str::trim_start),
            _ => line,
        };
        let separators: &[char] = match format {
            Format::Properties => &['=', ':'],
            _ => &['='],
        };
        let Some((key, value)) = line.split_once(separators) else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() {
            continue;
        }
        let value = unquote(format, value.trim());
        let mut path: Vec<String> = match format {
            // `logging.level.root=DEBUG` is a dotted path, like its YAML twin.
            Format::Properties => key.split('.').map(str::to_string).collect(),
            _ => vec![key.to_string()],
        };
        if let Some(section) = &section {
            path.insert(0, section.clone());
        }
        let column = raw
            .rfind(value.as_str())
            .filter(|_| !value.is_empty())
            .map_or(1, |i| raw[..i].chars().count() + 1);
        out.push(Entry {
            path,
            value,
            position: Some((index as u32 + 1, column as u32)),
        });
    }
    out
}

/// Strips matching quotes, and for `.env` an unquoted value's trailing ` # comment`.
fn unquote(format: Format, value: &str) -> String {
    for quote in ['"', '\''] {
        if let Some(rest) = value.strip_prefix(quote)
            && let Some(end) = rest.find(quote)
        {
            return rest[..end].to_string();
        }
    }
    if format == Format::Env
        && let Some(i) = value.find(" #")
    {
        return value[..i].trim_end().to_string();
    }
    value.to_string()
}

/// Finds where `entry` is written in `text`: the first line not in `used` that
/// holds both its key and its value, else the first such line holding the value.
/// Comment lines are skipped. Returns the line and the value's column.
pub fn locate(
    format: Format,
    text: &str,
    entry: &Entry,
    used: &mut HashSet<u32>,
) -> Option<(u32, u32)> {
    if let Some(position) = entry.position {
        return Some(position);
    }
    if format.is_line_based() || entry.value.is_empty() {
        return None;
    }
    // The nearest segment that is a name, not an array index.
    let key = entry
        .path
        .iter()
        .rev()
        .find(|s| s.parse::<usize>().is_err())
        .map(String::as_str);
    let candidates = || {
        text.lines().enumerate().filter_map(|(i, line)| {
            let trimmed = line.trim_start();
            let is_comment = trimmed.starts_with('#') || trimmed.starts_with("//");
            let n = i as u32 + 1;
            let col = line.find(entry.value.as_str())?;
            (!is_comment && !used.contains(&n)).then_some((n, col, line))
        })
    };
    let with_key =
        candidates().find(|(_, col, line)| key.is_some_and(|k| line[..*col].contains(k)));
    let (line, col, text_line) = with_key.or_else(|| candidates().next())?;
    used.insert(line);
    Some((line, text_line[..col].chars().count() as u32 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(format: Format, text: &str) -> Vec<(String, String)> {
        entries(format, text)
            .unwrap()
            .into_iter()
            .map(|e| (e.key(), e.value))
            .collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn flattens_structured_formats() {
        let json = r#"{"logging": {"level": "info", "targets": ["a", {"level": "debug"}]}, "n": 3, "x": null}"#;
        assert_eq!(
            keys(Format::Json, json),
            vec![
                pair("logging.level", "info"),
                pair("logging.targets.0", "a"),
                pair("logging.targets.1.level", "debug"),
                pair("n", "3"),
            ]
        );
        let yaml = "logging:\n  level:\n    root: INFO\n    org.example: DEBUG\n200: ok\n";
        assert_eq!(
            keys(Format::Yaml, yaml),
            vec![
                pair("logging.level.root", "INFO"),
                pair("logging.level.org.example", "DEBUG"),
                pair("200", "ok"),
            ]
        );
        let toml = "[log]\nlevel = \"warn\"\n[server]\nport = 8080\n";
        assert_eq!(
            keys(Format::Toml, toml),
            vec![pair("log.level", "warn"), pair("server.port", "8080")]
        );
    }

    #[test]
    fn yaml_multi_documents_become_an_array() {
        let yaml = "level: info\n---\nlevel: debug\n";
        assert_eq!(
            keys(Format::Yaml, yaml),
            vec![pair("0.level", "info"), pair("1.level", "debug")]
        );
    }

    #[test]
    fn reads_line_based_formats_with_positions() {
        let env =
            "# comment\nexport RUST_LOG=\"info,hyper=debug\"\nLOG_LEVEL=warn # inline\nEMPTY=\n";
        let e = entries(Format::Env, env).unwrap();
        assert_eq!(e[0].key(), "RUST_LOG");
        assert_eq!(e[0].value, "info,hyper=debug");
        assert_eq!(e[0].position, Some((2, 18)));
        assert_eq!(e[1].value, "warn");
        assert_eq!(e[1].position, Some((3, 11)));
        assert_eq!(e[2].value, "");

        let props = "! comment\nlogging.level.root: DEBUG\nlogging.level.org.x = info\n";
        assert_eq!(
            keys(Format::Properties, props),
            vec![
                pair("logging.level.root", "DEBUG"),
                pair("logging.level.org.x", "info")
            ]
        );
        let ini = "; comment\n[logger_root]\nlevel = DEBUG\n[handler]\nlevel='INFO'\n";
        let e = entries(Format::Ini, ini).unwrap();
        assert_eq!(e[0].key(), "logger_root.level");
        assert_eq!(e[0].position, Some((3, 9)));
        assert_eq!(e[1].key(), "handler.level");
        assert_eq!(e[1].value, "INFO");
    }

    #[test]
    fn parse_errors_carry_positions() {
        let err = entries(Format::Json, "{\n  \"a\": ,\n}").unwrap_err();
        assert_eq!(err.position, Some((2, 8)));
        let err = entries(Format::Toml, "a = 1\nb = = 2\n").unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(2));
        let err = entries(Format::Yaml, "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.position.is_some());
    }

    #[test]
    fn locates_values_by_key_and_skips_used_lines_and_comments() {
        let yaml =
            "# level: debug\napp:\n  level: info\nlib:\n  level: debug\nother:\n  level: debug\n";
        let e = entries(Format::Yaml, yaml).unwrap();
        let mut used = HashSet::new();
        let lib = e.iter().find(|e| e.key() == "lib.level").unwrap();
        let other = e.iter().find(|e| e.key() == "other.level").unwrap();
        assert_eq!(locate(Format::Yaml, yaml, lib, &mut used), Some((5, 10)));
        assert_eq!(locate(Format::Yaml, yaml, other, &mut used), Some((7, 10)));
        let json = "{\n  \"loggers\": [\n    \"debug\"\n  ]\n}";
        let e = entries(Format::Json, json).unwrap();
        assert_eq!(
            locate(Format::Json, json, &e[0], &mut HashSet::new()),
            Some((3, 6))
        );
    }
}
