//! What a Conftest rule's value means: the messages it carries.
//!
//! A rule is a set (or array) of messages, each a string or an object with a
//! string `msg` (Conftest's structured results; every other key is kept as
//! evidence). Undefined, `false` and an empty set carry none. Where Conftest
//! silently passes a value it cannot read, gate says so: `true` (a boolean
//! rule such as `deny if { … }`) is one message, and any other value is an
//! error rather than nothing.

use gate_plugin_sdk::redact::shown;
use regorus::Value;

/// Longest rendering of one evidence value.
const VALUE_CHARS: usize = 200;

/// One message of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    /// The structured result's other keys, rendered and masked.
    pub metadata: Vec<(String, String)>,
}

/// The messages `value` (the value of rule `rule`) carries.
pub fn messages(rule: &str, value: &Value) -> Result<Vec<Message>, String> {
    match value {
        Value::Undefined | Value::Null | Value::Bool(false) => Ok(Vec::new()),
        Value::Bool(true) => Ok(vec![Message {
            text: format!("`{rule}` is true"),
            metadata: Vec::new(),
        }]),
        Value::String(s) => Ok(vec![plain(s)]),
        Value::Set(items) => items.iter().map(|v| message(rule, v)).collect(),
        Value::Array(items) => items.iter().map(|v| message(rule, v)).collect(),
        other => Err(format!(
            "`{rule}` is {}; a Conftest rule is a set of messages (strings, or objects with `msg`)",
            describe(other)
        )),
    }
}

fn plain(text: &str) -> Message {
    Message {
        text: text.to_string(),
        metadata: Vec::new(),
    }
}

fn message(rule: &str, item: &Value) -> Result<Message, String> {
    match item {
        Value::String(s) => Ok(plain(s)),
        Value::Object(fields) => {
            let mut text = None;
            let mut metadata = Vec::new();
            for (key, value) in fields.iter() {
                let key = match key {
                    Value::String(k) => k.to_string(),
                    other => render(other),
                };
                if key == "msg" {
                    match value {
                        Value::String(s) => text = Some(s.to_string()),
                        other => {
                            return Err(format!(
                                "`{rule}` produced an object whose `msg` is {}, not a string",
                                describe(other)
                            ));
                        }
                    }
                } else {
                    metadata.push((key.clone(), cut(&shown(&key, &render(value)))));
                }
            }
            let text = text.ok_or_else(|| {
                format!("`{rule}` produced an object without `msg`; Conftest's structured results need one")
            })?;
            Ok(Message { text, metadata })
        }
        other => Err(format!(
            "`{rule}` produced {}, which is neither a string nor an object with `msg`",
            describe(other)
        )),
    }
}

/// A value as evidence: strings as they are, anything else as JSON.
fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        other => serde_json::to_string(other).unwrap_or_else(|e| format!("<{e}>")),
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() > VALUE_CHARS {
        let head: String = text.chars().take(VALUE_CHARS).collect();
        format!("{head}…")
    } else {
        text.to_string()
    }
}

/// "a number (42)": what a value is, with a short rendering.
fn describe(value: &Value) -> String {
    let what = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Set(_) => "a set",
        Value::Object(_) => "an object",
        Value::Undefined => "undefined",
    };
    match value {
        Value::Number(_) | Value::Bool(_) => format!("{what} ({})", render(value)),
        _ => what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(json: &str) -> Value {
        Value::from_json_str(json).unwrap()
    }

    fn texts(rule: &str, v: &Value) -> Vec<String> {
        messages(rule, v)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    #[test]
    fn strings_and_structured_results() {
        assert_eq!(texts("deny", &value(r#"["a", "b"]"#)), ["a", "b"]);
        let structured = messages(
            "deny",
            &value(r#"[{"msg": "root user", "severity": "high", "line": 3, "api_key": "hunter2hunter2"}]"#),
        )
        .unwrap();
        assert_eq!(structured[0].text, "root user");
        let meta: Vec<(&str, &str)> = structured[0]
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert!(meta.contains(&("severity", "high")), "{meta:?}");
        assert!(meta.contains(&("line", "3")), "{meta:?}");
        let key = meta.iter().find(|(k, _)| *k == "api_key").unwrap().1;
        assert!(
            !key.contains("hunter2hunter2") && key.contains("chars"),
            "{key}"
        );
    }

    #[test]
    fn sets_from_the_interpreter() {
        let mut engine = regorus::Engine::new();
        engine
            .add_policy(
                "p.rego".into(),
                "package main\ndeny contains \"x\" if { true }\ndeny contains {\"msg\": \"y\"} if { true }\n"
                    .into(),
            )
            .unwrap();
        let v = engine.eval_rule("data.main.deny".into()).unwrap();
        let mut got = texts("deny", &v);
        got.sort();
        assert_eq!(got, ["x", "y"]);
    }

    #[test]
    fn nothing_and_booleans() {
        assert!(texts("deny", &Value::Undefined).is_empty());
        assert!(texts("deny", &value("[]")).is_empty());
        assert!(texts("deny", &Value::Bool(false)).is_empty());
        assert_eq!(
            texts("deny_root", &Value::Bool(true)),
            ["`deny_root` is true"]
        );
    }

    #[test]
    fn unreadable_results_are_errors() {
        let err = messages("deny", &value(r#"[{"message": "x"}]"#)).unwrap_err();
        assert!(err.contains("without `msg`"), "{err}");
        let err = messages("deny", &value(r#"[{"msg": 3}]"#)).unwrap_err();
        assert!(err.contains("`msg` is a number (3)"), "{err}");
        let err = messages("warn", &value("[42]")).unwrap_err();
        assert!(err.contains("`warn` produced a number (42)"), "{err}");
        let err = messages("deny", &value(r#"{"a": 1}"#)).unwrap_err();
        assert!(err.contains("`deny` is an object"), "{err}");
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(500);
        let m = messages(
            "deny",
            &value(&format!(r#"[{{"msg": "m", "detail": "{long}"}}]"#)),
        )
        .unwrap();
        assert_eq!(m[0].metadata[0].1.chars().count(), VALUE_CHARS + 1);
    }
}
