//! Analysis: takes one measurement (HAProxy counters or PromQL), and
//! classifies it as success, failure, inconclusive, error or pending. The
//! strategy plugin applies the limits; the host only classifies. A provider
//! it cannot read is an `error`, never a success.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::driver::{RouterError, ServerCounters, TrafficDriver};
use super::spec::{Analysis, MetricsProvider, Spec};

/// The classified measurement and its verdict are the protocol's own types:
/// the state hands them to the strategy plugin as they are.
pub use gate_strategy_protocol::{Measurement, Verdict};

/// `[candidate_|stable_]{5xx_ratio|error_ratio|avg_response_ms|request_rate}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HaproxyQuery {
    pub stable_side: bool,
    pub metric: HaproxyMetric,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaproxyMetric {
    Ratio5xx,
    ErrorRatio,
    AvgResponseMs,
    RequestRate,
}

impl HaproxyQuery {
    pub fn parse(q: &str) -> Option<HaproxyQuery> {
        let (stable_side, rest) = if let Some(r) = q.strip_prefix("stable_") {
            (true, r)
        } else {
            (false, q.strip_prefix("candidate_").unwrap_or(q))
        };
        let metric = match rest {
            "5xx_ratio" => HaproxyMetric::Ratio5xx,
            "error_ratio" => HaproxyMetric::ErrorRatio,
            "avg_response_ms" => HaproxyMetric::AvgResponseMs,
            "request_rate" => HaproxyMetric::RequestRate,
            _ => return None,
        };
        Some(HaproxyQuery {
            stable_side,
            metric,
        })
    }
}

/// One side's numbers over a window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub value: Option<f64>,
    pub samples: u64,
}

/// Counter snapshots: the start of each analysis's current window.
#[derive(Default)]
pub struct Windows {
    baseline: BTreeMap<String, (Instant, BTreeMap<String, ServerCounters>)>,
}

impl Windows {
    /// Starts a new window for every analysis (at a step start or a resume).
    pub async fn reset(&mut self, driver: &dyn TrafficDriver) {
        self.baseline.clear();
        if let Ok(c) = driver.counters().await {
            self.baseline.insert(String::new(), (Instant::now(), c));
        }
    }
}

fn side_totals(
    now: &BTreeMap<String, ServerCounters>,
    then: &BTreeMap<String, ServerCounters>,
    servers: &[String],
    metric: HaproxyMetric,
    elapsed: Duration,
) -> Sample {
    let mut responses = 0u64;
    let mut bad = 0u64;
    let mut errors = 0u64;
    let mut rtime = Vec::new();
    for s in servers {
        let (Some(n), t) = (now.get(s), then.get(s).cloned().unwrap_or_default()) else {
            continue;
        };
        // A restarted HAProxy resets its counters: treat the new values as the delta.
        let d = |a: u64, b: u64| if a >= b { a - b } else { a };
        responses += d(n.responses, t.responses);
        bad += d(n.http_5xx, t.http_5xx);
        errors += d(n.errors, t.errors);
        rtime.push(n.avg_response_ms);
    }
    let value = match metric {
        HaproxyMetric::Ratio5xx if responses > 0 => Some(bad as f64 / responses as f64),
        HaproxyMetric::ErrorRatio if responses + errors > 0 => {
            Some((bad + errors) as f64 / (responses + errors) as f64)
        }
        HaproxyMetric::AvgResponseMs if !rtime.is_empty() => {
            Some(rtime.iter().sum::<f64>() / rtime.len() as f64)
        }
        HaproxyMetric::RequestRate => Some(responses as f64 / elapsed.as_secs_f64().max(1e-3)),
        _ => None,
    };
    Sample {
        value,
        samples: responses + errors,
    }
}

/// What a provider measures with: the spec, the analysis, the router and the
/// servers counted as the candidate's.
pub struct Probe<'a> {
    pub spec: &'a Spec,
    pub analysis: &'a Analysis,
    pub driver: &'a dyn TrafficDriver,
    pub windows: &'a mut Windows,
    pub candidate: &'a [String],
}

/// The candidate's and the stable side's samples.
pub type Measured<'a> =
    Pin<Box<dyn Future<Output = Result<(Sample, Sample), MeasureError>> + Send + 'a>>;

/// Why an analysis could not be measured; the measurement is then `error`,
/// never a success.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Router(#[from] RouterError),
    #[error("bad {provider} query `{query}`")]
    Query {
        provider: &'static str,
        query: String,
    },
    #[error("Prometheus {url}: timed out")]
    Timeout { url: String },
    /// The metrics capability's refusal or failure, worded by it.
    #[error("{0}")]
    Metrics(String),
    #[error("{0}")]
    Answer(String),
}

/// An analysis provider kind, as `[[analysis]] provider` (a built-in) or
/// `[metrics.NAME] kind` names it.
#[derive(Debug)]
pub struct ProviderKind {
    pub kind: &'static str,
    /// Reads the router's own counters: named directly by `provider`, no
    /// `[metrics.NAME]` table, and every request counts as a sample.
    pub builtin: bool,
    /// Checks a query when the spec is parsed.
    pub check_query: fn(&str) -> Result<(), String>,
    pub measure: for<'a> fn(Probe<'a>) -> Measured<'a>,
}

/// Every analysis provider. Adding one is its measuring code plus one entry here.
pub const PROVIDERS: &[ProviderKind] = &[
    ProviderKind {
        kind: "haproxy",
        builtin: true,
        check_query: |q| match HaproxyQuery::parse(q) {
            Some(_) => Ok(()),
            None => Err(format!(
                "unknown HAProxy counter query `{q}`: expected [candidate_|stable_]{{5xx_ratio|error_ratio|avg_response_ms|request_rate}}"
            )),
        },
        measure: |p| Box::pin(haproxy_measure(p)),
    },
    ProviderKind {
        kind: "prometheus",
        builtin: false,
        check_query: |_| Ok(()),
        measure: |p| Box::pin(prometheus_measure(p)),
    },
];

impl ProviderKind {
    pub fn named(kind: &str) -> Option<&'static ProviderKind> {
        PROVIDERS.iter().find(|p| p.kind == kind)
    }

    /// The kinds with (`builtin`) or without a table of their own, for messages.
    pub fn kinds(builtin: bool) -> Vec<&'static str> {
        PROVIDERS
            .iter()
            .filter(|p| p.builtin == builtin)
            .map(|p| p.kind)
            .collect()
    }
}

async fn haproxy_measure(p: Probe<'_>) -> Result<(Sample, Sample), MeasureError> {
    let Probe {
        spec,
        analysis,
        driver,
        windows,
        candidate,
    } = p;
    let q = HaproxyQuery::parse(&analysis.query).ok_or_else(|| MeasureError::Query {
        provider: "HAProxy",
        query: analysis.query.clone(),
    })?;
    let now = driver.counters().await?;
    let key = analysis.name.clone();
    let (since, then) = match windows
        .baseline
        .get(&key)
        .or_else(|| windows.baseline.get(""))
    {
        Some((t, c)) => (*t, c.clone()),
        None => {
            windows.baseline.insert(key, (Instant::now(), now));
            return Ok((
                Sample {
                    value: None,
                    samples: 0,
                },
                Sample {
                    value: None,
                    samples: 0,
                },
            ));
        }
    };
    let elapsed = since.elapsed();
    let stable: Vec<String> = spec
        .stable
        .servers
        .iter()
        .chain(spec.rolling.iter().flat_map(|r| r.servers.iter()))
        .filter(|s| !candidate.contains(s))
        .cloned()
        .collect();
    let cand = side_totals(&now, &then, candidate, q.metric, elapsed);
    let stab = side_totals(&now, &then, &stable, q.metric, elapsed);
    windows.baseline.insert(key, (Instant::now(), now));
    Ok(if q.stable_side {
        (stab, cand)
    } else {
        (cand, stab)
    })
}

/// An instant PromQL query: the first series' value, `None` for an empty vector.
pub async fn promql(provider: &MetricsProvider, query: &str) -> Result<Option<f64>, MeasureError> {
    let call = gate_sandbox::capabilities::metrics::promql(
        format!("{}/api/v1/query", provider.url),
        vec![("query", query.to_string())],
    );
    let data = tokio::time::timeout(provider.timeout, call)
        .await
        .map_err(|_| MeasureError::Timeout {
            url: provider.url.clone(),
        })?
        .map_err(MeasureError::Metrics)?;
    let value = match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .and_then(|r| r.first())
            .map(|s| s["value"][1].clone()),
        Some("scalar") => Some(data["result"][1].clone()),
        other => {
            return Err(MeasureError::Answer(format!(
                "unsupported PromQL result type {other:?}"
            )));
        }
    };
    Ok(match value {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or_else(|| MeasureError::Answer(format!("PromQL value {v} is not a number")))?,
        ),
    })
}

/// `{{servers}}` → `a|b`, `{{backend}}`, `{{window}}` → e.g. `10s`.
pub fn render_query(q: &str, servers: &[String], backend: &str, window: Duration) -> String {
    let secs = window.as_secs().max(1);
    q.replace("{{servers}}", &servers.join("|"))
        .replace("{{backend}}", backend)
        .replace("{{window}}", &format!("{secs}s"))
}

async fn prometheus_measure(p: Probe<'_>) -> Result<(Sample, Sample), MeasureError> {
    let Probe {
        spec,
        analysis,
        candidate,
        ..
    } = p;
    let provider = &spec.metrics[&analysis.provider];
    let window = analysis.interval.max(Duration::from_secs(2));
    let stable: Vec<String> = spec
        .stable
        .servers
        .iter()
        .filter(|s| !candidate.contains(s))
        .cloned()
        .collect();
    let side = |servers: &[String]| {
        let q = render_query(&analysis.query, servers, &spec.router.backend, window);
        let s = analysis
            .samples_query
            .as_ref()
            .map(|sq| render_query(sq, servers, &spec.router.backend, window));
        (q, s)
    };
    let fetch = |(q, s): (String, Option<String>)| async move {
        let value = promql(provider, &q).await?;
        let samples = match s {
            Some(s) => promql(provider, &s).await?.unwrap_or(0.0).max(0.0).round() as u64,
            None => u64::MAX,
        };
        Ok::<_, MeasureError>(Sample { value, samples })
    };
    let cand = fetch(side(candidate)).await?;
    let stab = if analysis.relative() {
        fetch(side(&stable)).await?
    } else {
        Sample {
            value: None,
            samples: 0,
        }
    };
    Ok((cand, stab))
}

/// Applies the analysis's conditions to a measured pair.
pub fn classify(a: &Analysis, cand: Sample, stable: Sample) -> (Verdict, Option<String>) {
    if cand.samples < a.min_samples {
        return (
            Verdict::Pending,
            Some(format!("{} of {} samples", cand.samples, a.min_samples)),
        );
    }
    let Some(v) = cand.value.filter(|v| v.is_finite()) else {
        return (
            Verdict::Inconclusive,
            Some("no data for the candidate".into()),
        );
    };
    if let Some(max) = a.max
        && v > max
    {
        return (Verdict::Failure, Some(format!("{v:.4} > max {max}")));
    }
    if let Some(min) = a.min
        && v < min
    {
        return (Verdict::Failure, Some(format!("{v:.4} < min {min}")));
    }
    if a.relative() {
        let Some(s) = stable.value.filter(|s| s.is_finite() && stable.samples > 0) else {
            return (
                Verdict::Inconclusive,
                Some("no data for stable to compare with".into()),
            );
        };
        if let Some(inc) = a.max_increase
            && v - s > inc
        {
            return (
                Verdict::Failure,
                Some(format!(
                    "{v:.4} is {:.4} above stable {s:.4} (max_increase {inc})",
                    v - s
                )),
            );
        }
        if let Some(ratio) = a.max_ratio {
            let r = if s == 0.0 {
                if v == 0.0 { 1.0 } else { f64::INFINITY }
            } else {
                v / s
            };
            if r > ratio {
                return (
                    Verdict::Failure,
                    Some(format!(
                        "{v:.4} is {r:.2}x stable {s:.4} (max_ratio {ratio})"
                    )),
                );
            }
        }
    }
    (Verdict::Success, None)
}

/// Takes and classifies one measurement.
pub async fn measure(
    spec: &Spec,
    analysis: &Analysis,
    driver: &dyn TrafficDriver,
    windows: &mut Windows,
    candidate: &[String],
    at_ms: u64,
) -> Measurement {
    let probe = Probe {
        spec,
        analysis,
        driver,
        windows,
        candidate,
    };
    let result = (analysis.kind.measure)(probe).await;
    match result {
        Err(e) => Measurement {
            at_ms,
            result: Verdict::Error,
            value: None,
            stable_value: None,
            samples: 0,
            message: Some(e.to_string()),
        },
        Ok((cand, stable)) => {
            let (result, message) = classify(analysis, cand, stable);
            Measurement {
                at_ms,
                result,
                value: cand.value,
                stable_value: stable.value,
                samples: if cand.samples == u64::MAX {
                    0
                } else {
                    cand.samples
                },
                message,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis() -> Analysis {
        Analysis {
            name: "e".into(),
            provider: "haproxy".into(),
            kind: &PROVIDERS[0],
            query: "5xx_ratio".into(),
            samples_query: None,
            max: Some(0.01),
            min: None,
            max_increase: None,
            max_ratio: None,
            interval: Duration::from_secs(1),
            min_samples: 100,
            failure_limit: 0,
            inconclusive_limit: 0,
            consecutive_error_limit: 4,
        }
    }

    fn s(value: f64, samples: u64) -> Sample {
        Sample {
            value: Some(value),
            samples,
        }
    }

    #[test]
    fn min_samples_comes_before_any_verdict() {
        let a = analysis();
        assert_eq!(classify(&a, s(0.5, 99), s(0.0, 0)).0, Verdict::Pending);
        assert_eq!(classify(&a, s(0.5, 100), s(0.0, 0)).0, Verdict::Failure);
        assert_eq!(classify(&a, s(0.001, 100), s(0.0, 0)).0, Verdict::Success);
    }

    #[test]
    fn relative_conditions_compare_with_stable() {
        let mut a = analysis();
        a.max = None;
        a.max_increase = Some(0.01);
        assert_eq!(
            classify(&a, s(0.05, 200), s(0.0, 0)).0,
            Verdict::Inconclusive
        );
        assert_eq!(classify(&a, s(0.05, 200), s(0.03, 500)).0, Verdict::Failure);
        assert_eq!(
            classify(&a, s(0.035, 200), s(0.03, 500)).0,
            Verdict::Success
        );
        a.max_increase = None;
        a.max_ratio = Some(1.5);
        assert_eq!(classify(&a, s(0.05, 200), s(0.03, 500)).0, Verdict::Failure);
        assert_eq!(classify(&a, s(0.0, 200), s(0.0, 500)).0, Verdict::Success);
        assert_eq!(classify(&a, s(0.01, 200), s(0.0, 500)).0, Verdict::Failure);
    }

    #[test]
    fn no_data_is_inconclusive() {
        let a = analysis();
        let none = Sample {
            value: None,
            samples: 500,
        };
        assert_eq!(classify(&a, none, s(0.0, 0)).0, Verdict::Inconclusive);
    }

    #[test]
    fn queries() {
        assert_eq!(
            HaproxyQuery::parse("candidate_5xx_ratio").unwrap().metric,
            HaproxyMetric::Ratio5xx
        );
        assert!(
            HaproxyQuery::parse("stable_error_ratio")
                .unwrap()
                .stable_side
        );
        assert!(HaproxyQuery::parse("p95").is_none());
        assert_eq!(
            render_query(
                "rate(x{server=~\"{{servers}}\"}[{{window}}])",
                &["a".into(), "b".into()],
                "web",
                Duration::from_millis(4500)
            ),
            "rate(x{server=~\"a|b\"}[4s])"
        );
    }
}
