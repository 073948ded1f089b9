//! Just enough PromQL to judge an alert's condition: does it select any series,
//! does it compare against something, and Prometheus durations (`for: 5m`).
//!
//! This is a lexer, not a parser: it blanks out what cannot hold an operator
//! (string literals, comments, label matchers in `{...}`, ranges in `[...]`),
//! then looks at the tokens that remain. `!=` inside `{job!="x"}` is a matcher,
//! not a threshold; `> bool` compares but always returns a sample.

/// What an alert expression's condition looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// Comparison operators at any level, e.g. `[">"]`.
    pub comparisons: Vec<String>,
    /// A comparison carries the `bool` modifier (`x > bool 1`).
    pub bool_modifier: bool,
    /// The expression selects at least one series (a metric name or `{...}`).
    pub selects_series: bool,
    /// The outermost call is `absent(...)` or `absent_over_time(...)`: it alerts
    /// on a missing series, which needs no threshold.
    pub absent: bool,
}

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
    "start",
    "end",
    // Aggregations, which may be followed by `by (...)` before their `(`.
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
];

/// Replaces strings, comments and the insides of `{}` and `[]` with spaces,
/// keeping byte offsets. Braces and brackets themselves stay.
fn blank(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut chars = expr.chars().peekable();
    let mut depth_brace = 0usize;
    let mut depth_bracket = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                out.push(' ');
                let mut escaped = false;
                for d in chars.by_ref() {
                    out.push(' ');
                    if c != '`' && d == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if d == c && !escaped {
                        break;
                    }
                    escaped = false;
                }
            }
            '#' => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                        break;
                    }
                    out.push(' ');
                }
            }
            '{' => {
                depth_brace += 1;
                out.push('{');
            }
            '}' => {
                depth_brace = depth_brace.saturating_sub(1);
                out.push('}');
            }
            '[' => {
                depth_bracket += 1;
                out.push('[');
            }
            ']' => {
                depth_bracket = depth_bracket.saturating_sub(1);
                out.push(']');
            }
            _ if depth_brace > 0 || depth_bracket > 0 => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Analyses an alert expression.
pub fn condition(expr: &str) -> Condition {
    let text = blank(expr);
    let bytes = text.as_bytes();
    let mut comparisons = Vec::new();
    let mut bool_modifier = false;
    let mut selects_series = text.contains('{');
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        let op = match (c, next) {
            (b'=', Some(b'=')) | (b'!', Some(b'=')) | (b'>', Some(b'=')) | (b'<', Some(b'=')) => {
                Some(2)
            }
            (b'>', _) | (b'<', _) => Some(1),
            _ => None,
        };
        if let Some(len) = op {
            comparisons.push(text[i..i + len].to_string());
            let after = text[i + len..].trim_start();
            if after.starts_with("bool")
                && !after[4..].starts_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_')
            {
                bool_modifier = true;
            }
            i += len;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && next.is_some_and(|n| n.is_ascii_digit())) {
            // A number or a duration (`5m`, `1e3`, `0x1f`): one token.
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b':'))
            {
                i += 1;
            }
            let word = text[start..i].to_ascii_lowercase();
            if matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            ) {
                // Label lists name labels, not series: skip `(...)`.
                let after = &text[i..];
                let ws = after.len() - after.trim_start().len();
                if after.trim_start().starts_with('(') {
                    i += ws
                        + after
                            .trim_start()
                            .find(')')
                            .map_or(after.len() - ws, |p| p + 1);
                }
                continue;
            }
            let is_call = text[i..].trim_start().starts_with('(');
            if !is_call && !KEYWORDS.contains(&word.as_str()) {
                selects_series = true;
            }
            continue;
        }
        i += 1;
    }
    let trimmed = text.trim_start().to_ascii_lowercase();
    let absent = [
        "absent(",
        "absent_over_time(",
        "absent (",
        "absent_over_time (",
    ]
    .iter()
    .any(|p| trimmed.starts_with(p));
    Condition {
        comparisons,
        bool_modifier,
        selects_series,
        absent,
    }
}

/// Seconds in a Prometheus duration: `30s`, `5m`, `1h30m`, `1d`, `1w`, `1y`, `500ms`.
pub fn duration_seconds(text: &str) -> Result<f64, String> {
    let s = text.trim();
    let bad = || format!("`{text}` is not a Prometheus duration (e.g. `5m`, `1h30m`)");
    if s.is_empty() {
        return Err(bad());
    }
    if s == "0" {
        return Ok(0.0);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            "y" => 31_536_000.0,
            _ => return Err(bad()),
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// A duration for messages: `300` → `5m`, `5400` → `1h30m`.
pub fn format_duration(seconds: f64) -> String {
    if seconds < 1.0 {
        return format!("{}ms", (seconds * 1000.0).round());
    }
    let mut s = seconds.round() as u64;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_thresholds_and_ignores_matchers() {
        let c = condition(r#"rate(http_errors_total{code!="200"}[5m]) > 0.05"#);
        assert_eq!(c.comparisons, [">"]);
        assert!(c.selects_series && !c.bool_modifier && !c.absent);

        let c = condition(r#"up{job=~"api|web", env!~"dev"} == 0"#);
        assert_eq!(c.comparisons, ["=="]);

        let c = condition(r#"sum by (job) (rate(x[5m])) / sum by (job) (rate(y[5m]))"#);
        assert!(c.comparisons.is_empty());
        assert!(c.selects_series);

        let c = condition(
            r#"node_filesystem_avail_bytes / node_filesystem_size_bytes <= 0.1 and on(instance) up == 1"#,
        );
        assert_eq!(c.comparisons, ["<=", "=="]);
    }

    #[test]
    fn strings_and_comments_hide_operators() {
        let c = condition("label_replace(up, \"x\", \"a>b\", \"y\", \".*\") # > 5\n");
        assert!(c.comparisons.is_empty(), "{c:?}");
        assert!(c.selects_series);
        let c = condition(r#"x{a="\"}>"} != 1"#);
        assert_eq!(c.comparisons, ["!="]);
    }

    #[test]
    fn trivial_and_bool_conditions() {
        let c = condition("vector(1) > 0");
        assert!(!c.selects_series, "{c:?}");
        let c = condition("time() > 1");
        assert!(!c.selects_series);
        let c = condition("1");
        assert!(!c.selects_series && c.comparisons.is_empty());
        let c = condition("errors > bool 10");
        assert!(c.bool_modifier);
        let c = condition("errors > boolean_metric");
        assert!(!c.bool_modifier && c.selects_series);
        let c = condition("sum without (instance) (x) > 1e3");
        assert_eq!(c.comparisons, [">"]);
        assert!(c.selects_series);
        let c = condition("sum by (instance) (vector(1)) > 1");
        assert!(!c.selects_series, "labels after `by` are not series: {c:?}");
        let c = condition(r#"{__name__="up"} < 1"#);
        assert!(c.selects_series);
    }

    #[test]
    fn absent_alerts() {
        assert!(condition(r#"absent(up{job="api"})"#).absent);
        assert!(condition(r#" absent_over_time(up{job="api"}[10m])"#).absent);
        assert!(!condition(r#"up == 0 or absent(up)"#).absent);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_seconds("5m"), Ok(300.0));
        assert_eq!(duration_seconds("1h30m"), Ok(5400.0));
        assert_eq!(duration_seconds("0s"), Ok(0.0));
        assert_eq!(duration_seconds("0"), Ok(0.0));
        assert_eq!(duration_seconds("500ms"), Ok(0.5));
        assert_eq!(duration_seconds("2d"), Ok(172_800.0));
        assert_eq!(duration_seconds("1w"), Ok(604_800.0));
        for bad in ["", "5", "m", "5 m", "1.5h", "5x", "-5m"] {
            assert!(duration_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(300.0), "5m");
        assert_eq!(format_duration(5400.0), "1h30m");
        assert_eq!(format_duration(0.25), "250ms");
        assert_eq!(format_duration(90_061.0), "1d1h1m1s");
    }
}
