//! The Prometheus text exposition format (version 0.0.4), as `/metrics`
//! endpoints serve it, with the validation a scrape applies: names, label
//! syntax and escapes, values, one `# TYPE` per family before its samples, no
//! duplicate series, and histograms whose buckets carry `le`, end at `+Inf`
//! and never decrease.

use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "counter" => Kind::Counter,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "summary" => Kind::Summary,
            "untyped" | "unknown" => Kind::Untyped,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
            Kind::Untyped => "untyped",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In the order written.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub line: u32,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
pub struct Exposition {
    /// Family name → declared type (and whether HELP was given).
    pub types: BTreeMap<String, Kind>,
    pub help: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// The family a sample belongs to: its own name, or the name without a
    /// histogram/summary/counter suffix when that family is declared.
    pub fn family_of<'a>(&self, name: &'a str) -> &'a str {
        if self.types.contains_key(name) {
            return name;
        }
        for suffix in ["_bucket", "_sum", "_count", "_total", "_created"] {
            if let Some(base) = name.strip_suffix(suffix)
                && let Some(kind) = self.types.get(base)
            {
                let fits = match suffix {
                    "_bucket" => *kind == Kind::Histogram,
                    "_sum" | "_count" => matches!(kind, Kind::Histogram | Kind::Summary),
                    _ => *kind == Kind::Counter,
                };
                if fits {
                    return base;
                }
            }
        }
        name
    }

    pub fn kind_of(&self, family: &str) -> Kind {
        self.types.get(family).copied().unwrap_or(Kind::Untyped)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: u32,
    pub message: String,
}

fn err<T>(line: u32, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        message: message.into(),
    })
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Go's `strconv.ParseFloat` as the format uses it: decimals, exponents, `NaN`, `±Inf`.
pub fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => return Some(f64::NAN),
        "+Inf" | "Inf" => return Some(f64::INFINITY),
        "-Inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    // Rust accepts "inf"/"nan" spellings the format does not.
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse().ok()
}

/// Parses `{a="1",b="x\"y"}` starting at `{`; returns labels and the rest after `}`.
/// Label pairs in the order written.
pub type Labels = Vec<(String, String)>;

pub fn parse_labels(text: &str, line: u32) -> Result<(Labels, &str), ParseError> {
    let mut rest = text.strip_prefix('{').ok_or_else(|| ParseError {
        line,
        message: "expected `{`".into(),
    })?;
    let mut labels: Vec<(String, String)> = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let name_end = rest.find(['=', ' ', '\t', '}', ',']).unwrap_or(rest.len());
        let name = &rest[..name_end];
        if !is_label_name(name) {
            return err(line, format!("invalid label name `{name}`"));
        }
        rest = rest[name_end..].trim_start_matches([' ', '\t']);
        rest = match rest.strip_prefix('=') {
            Some(r) => r.trim_start_matches([' ', '\t']),
            None => return err(line, format!("expected `=` after label `{name}`")),
        };
        rest = match rest.strip_prefix('"') {
            Some(r) => r,
            None => {
                return err(
                    line,
                    format!("label `{name}`: value must be in double quotes"),
                );
            }
        };
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return err(line, format!("label `{name}`: unterminated value")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => {
                        return err(
                            line,
                            format!(
                                "label `{name}`: invalid escape `\\{c}` (only \\\\, \\\" and \\n)"
                            ),
                        );
                    }
                    None => return err(line, format!("label `{name}`: unterminated value")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(k, _)| k == name) {
            return err(line, format!("label `{name}` appears twice"));
        }
        labels.push((name.to_string(), value));
        rest = rest[end + 1..].trim_start_matches([' ', '\t']);
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return err(line, format!("expected `,` or `}}` after label `{name}`"));
        }
    }
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub fn parse(text: &str) -> Result<Exposition, ParseError> {
    let mut exp = Exposition::default();
    // Families that already have samples, so a late TYPE is caught.
    let mut seen_samples: HashMap<String, u32> = HashMap::new();
    let mut series: HashMap<(String, Vec<(String, String)>), u32> = HashMap::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index as u32 + 1;
        let l = raw
            .strip_suffix('\r')
            .unwrap_or(raw)
            .trim_start_matches([' ', '\t']);
        if l.trim().is_empty() {
            continue;
        }
        if let Some(comment) = l.strip_prefix('#') {
            if parse_comment(&mut exp, &seen_samples, comment, line)? == Comment::Eof {
                break;
            }
            continue;
        }
        let sample = parse_sample(l, line)?;
        let name = sample.name.as_str();
        let family = exp.family_of(name).to_string();
        seen_samples.entry(family).or_insert(line);
        seen_samples.entry(name.to_string()).or_insert(line);
        let mut key_labels = sample.labels.clone();
        key_labels.sort();
        if let Some(first) = series.insert((name.to_string(), key_labels), line) {
            return err(
                line,
                format!("duplicate series `{name}` (first on line {first})"),
            );
        }
        exp.samples.push(sample);
    }
    check_histograms(&exp)?;
    Ok(exp)
}

/// What a comment line means to the parser.
#[derive(PartialEq)]
enum Comment {
    /// `# EOF` (OpenMetrics): nothing after it is read.
    Eof,
    /// HELP, TYPE (recorded in `exp`) or a plain comment.
    Other,
}

/// A `#` line: HELP and TYPE are recorded, once per family, and a TYPE must
/// come before the family's first sample.
fn parse_comment(
    exp: &mut Exposition,
    seen_samples: &HashMap<String, u32>,
    comment: &str,
    line: u32,
) -> Result<Comment, ParseError> {
    let comment = comment.trim_start_matches([' ', '\t']);
    let mut parts = comment.splitn(3, [' ', '\t']);
    match parts.next() {
        Some("HELP") => {
            let Some(name) = parts.next().filter(|n| is_metric_name(n)) else {
                return err(line, "HELP needs a valid metric name");
            };
            if exp.help.contains_key(name) {
                return err(line, format!("second HELP line for `{name}`"));
            }
            exp.help
                .insert(name.to_string(), unescape_help(parts.next().unwrap_or("")));
        }
        Some("TYPE") => {
            let Some(name) = parts.next().filter(|n| is_metric_name(n)) else {
                return err(line, "TYPE needs a valid metric name");
            };
            let kind_text = parts.next().unwrap_or("").trim();
            let Some(kind) = Kind::parse(kind_text) else {
                return err(
                    line,
                    format!(
                        "unknown type `{kind_text}` for `{name}` (counter, gauge, histogram, summary, untyped)"
                    ),
                );
            };
            if exp.types.contains_key(name) {
                return err(line, format!("second TYPE line for `{name}`"));
            }
            if let Some(first) = seen_samples.get(name) {
                return err(
                    line,
                    format!("TYPE for `{name}` comes after its samples (line {first})"),
                );
            }
            exp.types.insert(name.to_string(), kind);
        }
        Some("EOF") if comment.trim() == "EOF" => return Ok(Comment::Eof),
        _ => {}
    }
    Ok(Comment::Other)
}

/// A sample line: its name, labels and value (a timestamp is checked, not kept).
fn parse_sample(l: &str, line: u32) -> Result<Sample, ParseError> {
    let name_end = l.find(['{', ' ', '\t']).unwrap_or(l.len());
    let name = &l[..name_end];
    if !is_metric_name(name) {
        return err(line, format!("invalid metric name `{name}`"));
    }
    let (labels, rest) = if l[name_end..].starts_with('{') {
        parse_labels(&l[name_end..], line)?
    } else {
        (Vec::new(), &l[name_end..])
    };
    let mut fields = rest.split([' ', '\t']).filter(|f| !f.is_empty());
    let Some(value_text) = fields.next() else {
        return err(line, format!("sample `{name}` has no value"));
    };
    let Some(value) = parse_value(value_text) else {
        return err(line, format!("`{value_text}` is not a valid sample value"));
    };
    if let Some(ts) = fields.next()
        && ts.parse::<i64>().is_err()
    {
        return err(
            line,
            format!("`{ts}` is not a valid timestamp (integer milliseconds)"),
        );
    }
    if let Some(extra) = fields.next() {
        return err(
            line,
            format!("unexpected `{extra}` after the sample's value and timestamp"),
        );
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
        line,
    })
}

/// Every histogram series has `le` on its buckets, a `+Inf` bucket, and
/// cumulative counts that never decrease as `le` grows.
fn check_histograms(exp: &Exposition) -> Result<(), ParseError> {
    // (family, labels without `le`) → [(le, count, line)]
    type Buckets = Vec<(f64, f64, u32)>;
    let mut buckets: BTreeMap<(String, Labels), Buckets> = BTreeMap::new();
    for s in &exp.samples {
        let Some(family) = s.name.strip_suffix("_bucket") else {
            continue;
        };
        if exp.types.get(family) != Some(&Kind::Histogram) {
            continue;
        }
        let Some(le) = s.label("le") else {
            return err(
                s.line,
                format!("histogram bucket `{}` has no `le` label", s.name),
            );
        };
        let Some(bound) = parse_value(le) else {
            return err(s.line, format!("`le=\"{le}\"` is not a number"));
        };
        let mut rest: Vec<(String, String)> = s
            .labels
            .iter()
            .filter(|(k, _)| k != "le")
            .cloned()
            .collect();
        rest.sort();
        buckets
            .entry((family.to_string(), rest))
            .or_default()
            .push((bound, s.value, s.line));
    }
    for ((family, _), mut list) in buckets {
        let first_line = list.iter().map(|b| b.2).min().unwrap_or(0);
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
        if list.last().is_none_or(|b| b.0 != f64::INFINITY) {
            return err(
                first_line,
                format!("histogram `{family}` has no `le=\"+Inf\"` bucket"),
            );
        }
        for pair in list.windows(2) {
            if pair[1].1 < pair[0].1 {
                return err(
                    pair[1].2,
                    format!(
                        "histogram `{family}`: bucket le=\"{}\" counts {} but the smaller bucket le=\"{}\" counts {}; buckets are cumulative",
                        pair[1].0, pair[1].1, pair[0].0, pair[0].1
                    ),
                );
            }
        }
    }
    Ok(())
}

/// A required series: `name` or `name{label="value",...}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, String> {
        let text = text.trim();
        let name_end = text.find('{').unwrap_or(text.len());
        let name = &text[..name_end];
        if !is_metric_name(name) {
            return Err(format!("`{text}`: `{name}` is not a metric name"));
        }
        let labels = if name_end < text.len() {
            let (labels, rest) = parse_labels(&text[name_end..], 0)
                .map_err(|e| format!("`{text}`: {}", e.message))?;
            if !rest.trim().is_empty() {
                return Err(format!("`{text}`: unexpected `{rest}` after the labels"));
            }
            labels
        } else {
            Vec::new()
        };
        Ok(Selector {
            name: name.to_string(),
            labels,
        })
    }

    /// The samples this selector names: by sample name, or by family (so a
    /// histogram's name finds its `_bucket`/`_sum`/`_count` samples).
    pub fn matches<'a>(
        &self,
        exp: &'a Exposition,
        extra: &[(String, String)],
    ) -> (Vec<&'a Sample>, usize) {
        let named: Vec<&Sample> = exp
            .samples
            .iter()
            .filter(|s| s.name == self.name || exp.family_of(&s.name) == self.name)
            .collect();
        let total = named.len();
        let hits = named
            .into_iter()
            .filter(|s| {
                self.labels
                    .iter()
                    .chain(extra)
                    .all(|(k, v)| s.label(k) == Some(v.as_str()))
            })
            .collect();
        (hits, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"#;

    #[test]
    fn parses_the_reference_example() {
        let exp = parse(GOOD).unwrap();
        assert_eq!(exp.samples.len(), 20);
        assert_eq!(
            exp.kind_of("http_request_duration_seconds"),
            Kind::Histogram
        );
        let msdos = &exp.samples[2];
        assert_eq!(msdos.label("path"), Some("C:\\DIR\\FILE.TXT"));
        assert_eq!(
            msdos.label("error"),
            Some("Cannot find file:\n\"FILE.TXT\"")
        );
        assert_eq!(msdos.value, 1.458255915e9);
        assert_eq!(exp.samples[4].value, f64::INFINITY);
        assert_eq!(
            exp.family_of("http_request_duration_seconds_bucket"),
            "http_request_duration_seconds"
        );
        assert_eq!(
            exp.family_of("rpc_duration_seconds_count"),
            "rpc_duration_seconds"
        );
        assert_eq!(
            exp.family_of("metric_without_timestamp_and_labels"),
            "metric_without_timestamp_and_labels"
        );
        assert_eq!(
            exp.help["http_requests_total"],
            "The total number of HTTP requests."
        );
    }

    #[test]
    fn errors_carry_line_numbers() {
        for (text, line, needle) in [
            ("ok 1\n9bad 1\n", 2, "invalid metric name"),
            ("a{b=\"c\" 1\n", 1, "expected `,` or `}`"),
            ("a{b=c} 1\n", 1, "double quotes"),
            ("a{b=\"\\t\"} 1\n", 1, "invalid escape"),
            ("a{b=\"x\",b=\"y\"} 1\n", 1, "appears twice"),
            ("a{1b=\"x\"} 1\n", 1, "invalid label name"),
            ("a\n", 1, "no value"),
            ("a one\n", 1, "not a valid sample value"),
            ("a 1 soon\n", 1, "timestamp"),
            ("a 1 2 3\n", 1, "unexpected `3`"),
            ("a 1\n# TYPE a counter\n", 2, "after its samples"),
            ("# TYPE a counter\n# TYPE a gauge\n", 2, "second TYPE"),
            ("# TYPE a meter\n", 1, "unknown type"),
            ("a{x=\"1\"} 1\nb 2\na{x=\"1\"} 3\n", 3, "duplicate series"),
            (
                "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\n",
                2,
                "+Inf",
            ),
            ("# TYPE h histogram\nh_bucket 1\n", 2, "no `le`"),
            (
                "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 4\n",
                3,
                "cumulative",
            ),
            ("a inf\n", 1, "not a valid sample value"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e:?}");
            assert!(e.message.contains(needle), "{text:?}: {}", e.message);
        }
    }

    #[test]
    fn tolerates_crlf_comments_and_openmetrics_eof() {
        let exp = parse("# random comment\r\nup 1\r\n# EOF\ngarbage that is never read\n").unwrap();
        assert_eq!(exp.samples.len(), 1);
        let exp = parse("a{ x = \"1\" , y=\"2\", } 1\n").unwrap();
        assert_eq!(exp.samples[0].labels.len(), 2);
    }

    #[test]
    fn selectors_match_by_name_family_and_labels() {
        let exp = parse(GOOD).unwrap();
        let sel = Selector::parse("http_requests_total{code=\"400\"}").unwrap();
        let (hits, total) = sel.matches(&exp, &[]);
        assert_eq!((hits.len(), total), (1, 2));
        let sel = Selector::parse("http_request_duration_seconds").unwrap();
        assert_eq!(sel.matches(&exp, &[]).0.len(), 8);
        let sel = Selector::parse("http_requests_total").unwrap();
        let extra = [("method".to_string(), "get".to_string())];
        assert_eq!(sel.matches(&exp, &extra).0.len(), 0);
        assert!(Selector::parse("1abc").is_err());
        assert!(Selector::parse("a{b=\"c\"} junk").is_err());
    }
}
