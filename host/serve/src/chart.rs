//! Hand-written inline SVG charts of an analysis metric over a rollout: the
//! candidate's measurements, the stable side's beside them for relative
//! analyses, and the threshold (absolute `max`/`min`, or the limit derived
//! from the stable side for `max_increase`/`max_ratio`); each measured value
//! is a point carrying its value and verdict (`data-value`, `data-result`,
//! a `<title>`), failures drawn larger. No script, no external assets: the
//! SVG is part of the page.

use std::fmt::Write as _;

use gate_rollout::analysis::{Measurement, Verdict};
use gate_rollout::spec::Analysis;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const PAD: f64 = 36.0;

/// One line of the chart.
struct Series<'a> {
    label: &'a str,
    color: &'a str,
    dashed: bool,
    points: Vec<(u64, f64)>,
}

/// The limit the candidate is held to at a measurement, when it has one.
fn limit(analysis: &Analysis, m: &Measurement) -> Option<f64> {
    if let Some(max) = analysis.max {
        return Some(max);
    }
    if let Some(min) = analysis.min {
        return Some(min);
    }
    let stable = m.stable_value?;
    analysis
        .max_increase
        .map(|inc| stable + inc)
        .or_else(|| analysis.max_ratio.map(|r| stable * r))
}

/// The chart of `analysis` over `points`, as an `<svg>` element.
pub fn svg(analysis: &Analysis, points: &[Measurement]) -> String {
    let value = |f: fn(&Measurement) -> Option<f64>| -> Vec<(u64, f64)> {
        points
            .iter()
            .filter_map(|m| f(m).filter(|v| v.is_finite()).map(|v| (m.at_ms, v)))
            .collect()
    };
    let mut series = vec![Series {
        label: "candidate",
        color: "#c0392b",
        dashed: false,
        points: value(|m| m.value),
    }];
    if analysis.relative() {
        series.push(Series {
            label: "stable",
            color: "#2471a3",
            dashed: false,
            points: value(|m| m.stable_value),
        });
    }
    let limits: Vec<(u64, f64)> = points
        .iter()
        .filter_map(|m| {
            limit(analysis, m)
                .filter(|v| v.is_finite())
                .map(|v| (m.at_ms, v))
        })
        .collect();
    series.push(Series {
        label: "threshold",
        color: "#7d7d7d",
        dashed: true,
        points: limits,
    });
    draw(&analysis.name, &series, points)
}

fn draw(name: &str, series: &[Series], points: &[Measurement]) -> String {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut t0, mut t1, mut lo, mut hi) = (u64::MAX, 0u64, 0f64, f64::MIN);
    for &(t, v) in all {
        t0 = t0.min(t);
        t1 = t1.max(t);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" role="img" aria-label="{name}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">"#,
        name = escape(name)
    );
    if t0 == u64::MAX {
        out.push_str(r##"<text x="20" y="100" fill="#555">no measurements yet</text></svg>"##);
        return out;
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let span = (t1 - t0).max(1) as f64;
    let x = |t: u64| PAD + (t - t0) as f64 / span * (WIDTH - 2.0 * PAD);
    let y = |v: f64| HEIGHT - PAD - (v - lo) / (hi - lo) * (HEIGHT - 2.0 * PAD);
    let _ = write!(
        out,
        r##"<line x1="{PAD}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{b}" stroke="#999"/><text x="2" y="{top}" font-size="10" fill="#333">{hi}</text><text x="2" y="{b}" font-size="10" fill="#333">{lo}</text>"##,
        b = HEIGHT - PAD,
        r = WIDTH - PAD,
        top = PAD + 4.0,
        hi = number(hi),
        lo = number(lo),
    );
    for (i, s) in series.iter().filter(|s| !s.points.is_empty()).enumerate() {
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2"{d} points="{p}"/><text x="{lx}" y="14" font-size="11" fill="{c}">{l}</text>"#,
            c = s.color,
            d = if s.dashed {
                r#" stroke-dasharray="5,4""#
            } else {
                ""
            },
            p = path.join(" "),
            lx = PAD + i as f64 * 110.0,
            l = s.label,
        );
    }
    for m in points {
        let Some(v) = m.value.filter(|v| v.is_finite()) else {
            continue;
        };
        let (r, fill) = if m.result == Verdict::Failure {
            (4.0, "#c0392b")
        } else {
            (2.5, "#fff")
        };
        let result = m.result.as_str();
        let _ = write!(
            out,
            r##"<circle class="point" cx="{:.1}" cy="{:.1}" r="{r}" fill="{fill}" stroke="#c0392b" data-value="{v}" data-result="{result}"><title>{result}: {}</title></circle>"##,
            x(m.at_ms),
            y(v),
            number(v),
        );
    }
    out.push_str("</svg>");
    out
}

fn number(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Escapes text for an SVG attribute or text node.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_names() {
        assert_eq!(
            escape(r#"<a href="x">&"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }

    #[test]
    fn every_measured_value_is_a_point_with_its_value_and_verdict() {
        let spec = gate_rollout::Spec::parse(
            std::path::Path::new("web.toml"),
            "[rollout]\nname = \"web\"\nstrategy = \"canary\"\n[router]\nkind = \"haproxy\"\nadmin_socket = \"/run/haproxy.sock\"\nbackend = \"web\"\n[stable]\nservers = [\"a\"]\nversion = \"1\"\n[candidate]\nservers = [\"b\"]\nversion = \"2\"\n[canary]\nsteps = [50]\n[[analysis]]\nname = \"errors\"\nprovider = \"haproxy\"\nquery = \"candidate_5xx_ratio\"\nmax = 0.05\n",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let m = |at_ms, result, value| Measurement {
            at_ms,
            result,
            value,
            stable_value: None,
            samples: 100,
            message: None,
        };
        let svg = svg(
            &spec.analysis[0],
            &[
                m(1_000, Verdict::Success, Some(0.01)),
                m(2_000, Verdict::Error, None),
                m(3_000, Verdict::Failure, Some(0.25)),
            ],
        );
        assert_eq!(svg.matches(r#"class="point""#).count(), 2, "{svg}");
        assert!(
            svg.contains(r#"data-value="0.01" data-result="success""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"data-value="0.25" data-result="failure""#),
            "{svg}"
        );
        assert!(svg.contains("<title>failure: 0.250</title>"), "{svg}");
        let empty = super::svg(&spec.analysis[0], &[]);
        assert!(
            empty.contains("no measurements yet") && !empty.contains("point"),
            "{empty}"
        );
    }
}
