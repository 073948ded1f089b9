//! The assertion path language: `a.b[0].c`, quoted keys `a."b.c"`, and `*` (or
//! `[*]`) as a wildcard over map values and array items.

use std::fmt;

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub enum Segment {
    Key(String),
    Index(usize),
    Wildcard,
}

/// A parsed path. `Display` prints it back in canonical form.
#[derive(Clone, Debug, PartialEq)]
pub struct Path(pub Vec<Segment>);

impl Path {
    pub fn has_wildcard(&self) -> bool {
        self.0.contains(&Segment::Wildcard)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_segments(f, &self.0)
    }
}

fn write_segments(f: &mut impl fmt::Write, segments: &[Segment]) -> fmt::Result {
    for (i, s) in segments.iter().enumerate() {
        match s {
            Segment::Key(k) => {
                if i > 0 {
                    f.write_char('.')?;
                }
                if k.is_empty() || k == "*" || k.contains(['.', '[', ']', '"', ' ']) {
                    write!(f, "\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))?;
                } else {
                    f.write_str(k)?;
                }
            }
            Segment::Index(n) => write!(f, "[{n}]")?,
            Segment::Wildcard => f.write_str(if i == 0 { "*" } else { ".*" })?,
        }
    }
    Ok(())
}

/// Parses a path, explaining the first problem with its character position.
pub fn parse(path: &str) -> Result<Path, String> {
    let chars: Vec<char> = path.chars().collect();
    let mut i = 0;
    let mut segments = Vec::new();
    let err = |at: usize, what: &str| Err(format!("path `{path}`, column {}: {what}", at + 1));
    if chars.is_empty() {
        return err(0, "empty path");
    }
    // Expect a segment at the start and after every `.`; `[...]` may follow any segment.
    let mut expect_segment = chars[0] != '[';
    while i < chars.len() {
        if expect_segment {
            match chars[i] {
                '"' => {
                    let mut key = String::new();
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => return err(i, "unterminated quoted key"),
                            Some('"') => break,
                            Some('\\') => {
                                match chars.get(i + 1) {
                                    Some(c @ ('"' | '\\')) => key.push(*c),
                                    _ => {
                                        return err(
                                            i,
                                            "only \\\" and \\\\ escapes are allowed in quoted keys",
                                        );
                                    }
                                }
                                i += 2;
                                continue;
                            }
                            Some(c) => key.push(*c),
                        }
                        i += 1;
                    }
                    i += 1;
                    segments.push(Segment::Key(key));
                }
                '.' | '[' | ']' => return err(i, "expected a key"),
                _ => {
                    let start = i;
                    while i < chars.len() && !matches!(chars[i], '.' | '[' | ']' | '"') {
                        i += 1;
                    }
                    let key: String = chars[start..i].iter().collect();
                    let key = key.trim();
                    if key.is_empty() {
                        return err(start, "expected a key");
                    }
                    segments.push(if key == "*" {
                        Segment::Wildcard
                    } else {
                        Segment::Key(key.to_string())
                    });
                }
            }
            expect_segment = false;
            continue;
        }
        match chars[i] {
            '.' => {
                expect_segment = true;
                i += 1;
                if i == chars.len() {
                    return err(i - 1, "trailing `.`");
                }
            }
            '[' => {
                let close = chars[i..].iter().position(|&c| c == ']').map(|p| i + p);
                let Some(close) = close else {
                    return err(i, "unclosed `[`");
                };
                let inner: String = chars[i + 1..close].iter().collect();
                let inner = inner.trim();
                if inner == "*" {
                    segments.push(Segment::Wildcard);
                } else if let Some(quoted) =
                    inner.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
                {
                    segments.push(Segment::Key(quoted.to_string()));
                } else {
                    match inner.parse::<usize>() {
                        Ok(n) => segments.push(Segment::Index(n)),
                        Err(_) => return err(i + 1, "expected `[<index>]`, `[*]` or `[\"key\"]`"),
                    }
                }
                i = close + 1;
            }
            c => return err(i, &format!("unexpected `{c}`; separate keys with `.`")),
        }
    }
    Ok(Path(segments))
}

/// One place a path leads to: the concrete path, and the value if it exists.
#[derive(Debug)]
pub struct Hit<'a> {
    pub at: Vec<Segment>,
    pub value: Option<&'a Value>,
}

impl Hit<'_> {
    pub fn at_string(&self) -> String {
        let mut s = String::new();
        let _ = write_segments(&mut s, &self.at);
        if s.is_empty() {
            "(root)".to_string()
        } else {
            s
        }
    }
}

/// Follows `path` from `root`. A wildcard fans out over every item; a key or index
/// that is not there yields a hit with no value at the deepest existing point plus
/// the missing segment, so "every container has X" fails on the container lacking it.
pub fn eval<'a>(root: &'a Value, path: &Path) -> Vec<Hit<'a>> {
    let mut hits = vec![Hit {
        at: Vec::new(),
        value: Some(root),
    }];
    for seg in &path.0 {
        let mut next = Vec::new();
        for hit in hits {
            let Some(value) = hit.value else {
                next.push(hit);
                continue;
            };
            let child = |at: &Vec<Segment>, s: Segment, v: Option<&'a Value>| {
                let mut at = at.clone();
                at.push(s);
                Hit { at, value: v }
            };
            match seg {
                Segment::Key(k) => next.push(child(
                    &hit.at,
                    seg.clone(),
                    value.as_object().and_then(|m| m.get(k)),
                )),
                Segment::Index(n) => next.push(child(
                    &hit.at,
                    seg.clone(),
                    value.as_array().and_then(|a| a.get(*n)),
                )),
                Segment::Wildcard => match value {
                    Value::Object(m) => {
                        next.extend(
                            m.iter()
                                .map(|(k, v)| child(&hit.at, Segment::Key(k.clone()), Some(v))),
                        );
                    }
                    Value::Array(a) => {
                        next.extend(
                            a.iter()
                                .enumerate()
                                .map(|(i, v)| child(&hit.at, Segment::Index(i), Some(v))),
                        );
                    }
                    _ => next.push(child(&hit.at, Segment::Wildcard, None)),
                },
            }
        }
        hits = next;
    }
    hits
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn p(s: &str) -> Vec<Segment> {
        parse(s).unwrap().0
    }

    fn key(k: &str) -> Segment {
        Segment::Key(k.to_string())
    }

    #[test]
    fn parses_keys_indexes_quotes_and_wildcards() {
        assert_eq!(
            p("a.b[0].c"),
            [key("a"), key("b"), Segment::Index(0), key("c")]
        );
        assert_eq!(p("a.\"b.c\".d"), [key("a"), key("b.c"), key("d")]);
        assert_eq!(p("\"quoted \\\"q\\\"\""), [key("quoted \"q\"")]);
        assert_eq!(
            p("spec.containers[*].image"),
            [
                key("spec"),
                key("containers"),
                Segment::Wildcard,
                key("image")
            ]
        );
        assert_eq!(p("*.enabled"), [Segment::Wildcard, key("enabled")]);
        assert_eq!(p("a.*"), [key("a"), Segment::Wildcard]);
        assert_eq!(p("[2][0]"), [Segment::Index(2), Segment::Index(0)]);
        assert_eq!(p("a[\"x.y\"]"), [key("a"), key("x.y")]);
        assert_eq!(p("\"*\""), [key("*")]);
        assert_eq!(
            p("metadata.annotations.\"kubernetes.io/ingress.class\""),
            [
                key("metadata"),
                key("annotations"),
                key("kubernetes.io/ingress.class")
            ]
        );
        assert_eq!(p("$schema"), [key("$schema")]);
    }

    #[test]
    fn rejects_malformed_paths_with_a_position() {
        for (path, needle) in [
            ("", "empty"),
            ("a..b", "column 3"),
            ("a.", "trailing"),
            ("a[", "unclosed"),
            ("a[x]", "index"),
            ("a[-1]", "index"),
            (".a", "column 1"),
            ("a.\"b", "unterminated"),
            ("a\"b\"", "unexpected"),
        ] {
            let e = parse(path).unwrap_err();
            assert!(e.contains(needle), "{path}: {e}");
        }
    }

    #[test]
    fn displays_canonically() {
        for s in [
            "a.b[0].c",
            "a.\"b.c\"",
            "spec.containers.*.image",
            "*.x",
            "[1].a",
            "a.\"*\"",
        ] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
        assert_eq!(parse("a[*]").unwrap().to_string(), "a.*");
    }

    #[test]
    fn evaluates_with_fan_out_and_missing_branches() {
        let doc = json!({
            "spec": { "containers": [
                { "name": "app", "securityContext": { "runAsNonRoot": true } },
                { "name": "sidecar" }
            ]},
            "labels": { "a": "1", "b": "2" },
            "empty": []
        });
        let hits = eval(
            &doc,
            &parse("spec.containers[*].securityContext.runAsNonRoot").unwrap(),
        );
        let got: Vec<_> = hits
            .iter()
            .map(|h| (h.at_string(), h.value.cloned()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "spec.containers[0].securityContext.runAsNonRoot".to_string(),
                    Some(json!(true))
                ),
                ("spec.containers[1].securityContext".to_string(), None),
            ]
        );
        assert_eq!(eval(&doc, &parse("labels.*").unwrap()).len(), 2);
        assert!(eval(&doc, &parse("empty[*].x").unwrap()).is_empty());
        let missing = eval(&doc, &parse("spec.volumes[0]").unwrap());
        assert_eq!(missing.len(), 1);
        assert!(missing[0].value.is_none());
        assert_eq!(missing[0].at_string(), "spec.volumes");
        // A key on an array, an index on an object: not there.
        assert!(
            eval(&doc, &parse("spec.containers.name").unwrap())[0]
                .value
                .is_none()
        );
        assert!(eval(&doc, &parse("labels[0]").unwrap())[0].value.is_none());
        assert!(eval(&doc, &parse("labels.a.*").unwrap())[0].value.is_none());
    }
}
