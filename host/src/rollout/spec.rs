//! The rollout spec (TOML): parsing, validation with file:line:col, and the
//! normalised JSON the strategy plugin receives (docs/strategy-plugins.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gate_strategy_protocol as protocol;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A spec error: file, line and column when they are known.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SpecError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Spec {
    /// The spec file as given; relative paths in it resolve against its directory.
    pub file: PathBuf,
    pub dir: PathBuf,
    /// sha256 of the spec text: a changed spec is a new rollout.
    pub digest: String,
    pub name: String,
    pub strategy: StrategyRef,
    pub state_dir: PathBuf,
    pub preflight: Option<Preflight>,
    pub router: Router,
    pub stable: Side,
    pub candidate: Side,
    pub health: Health,
    pub canary: Option<Canary>,
    pub blue_green: Option<BlueGreen>,
    pub rolling: Option<Rolling>,
    pub hooks: Hooks,
    pub analysis: Vec<Analysis>,
    pub metrics: BTreeMap<String, MetricsProvider>,
}

#[derive(Clone, Debug)]
pub enum StrategyRef {
    /// `blue-green`, `canary` or `rolling` from the built-in `strategies` plugin.
    Builtin(String),
    /// A custom plugin; `kind` is still passed to it as `spec.strategy`.
    Custom {
        kind: String,
        path: PathBuf,
        sha256: String,
    },
}

impl StrategyRef {
    pub fn kind(&self) -> &str {
        match self {
            StrategyRef::Builtin(k) => k,
            StrategyRef::Custom { kind, .. } => kind,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Preflight {
    pub policy: PathBuf,
    pub gate: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Router {
    pub kind: String,
    pub admin_socket: PathBuf,
    pub backend: String,
    pub timeout: Duration,
}

#[derive(Clone, Debug, Default)]
pub struct Side {
    pub servers: Vec<String>,
    pub version: String,
}

#[derive(Clone, Debug)]
pub struct Health {
    pub path: String,
    pub expect_status: u16,
    pub timeout: Duration,
    /// Attempts before a server counts as unhealthy.
    pub attempts: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pause {
    pub duration: Duration,
    pub until_approved: bool,
}

#[derive(Clone, Debug)]
pub struct Canary {
    pub steps: Vec<u8>,
    pub pause: Pause,
}

#[derive(Clone, Debug)]
pub struct BlueGreen {
    pub pause: Pause,
    pub pre_promotion_analysis: Vec<String>,
    pub post_promotion_analysis: Vec<String>,
    pub post_promotion: Duration,
}

#[derive(Clone, Debug)]
pub struct Rolling {
    pub servers: Vec<String>,
    pub start: String,
    pub stop: String,
    pub drain_timeout: Duration,
    pub pause: Pause,
}

#[derive(Clone, Debug, Default)]
pub struct Hooks {
    pub pre_rollout: Vec<String>,
    pub post_promote: Vec<String>,
    pub post_rollback: Vec<String>,
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Analysis {
    pub name: String,
    /// `haproxy`, or the name of a `[metrics.NAME]` Prometheus provider.
    pub provider: String,
    pub query: String,
    pub samples_query: Option<String>,
    pub max: Option<f64>,
    pub min: Option<f64>,
    pub max_increase: Option<f64>,
    pub max_ratio: Option<f64>,
    pub interval: Duration,
    pub min_samples: u64,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub consecutive_error_limit: u32,
}

impl Analysis {
    pub fn relative(&self) -> bool {
        self.max_increase.is_some() || self.max_ratio.is_some()
    }
}

#[derive(Clone, Debug)]
pub struct MetricsProvider {
    pub url: String,
    pub timeout: Duration,
}

// ---- raw TOML -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    rollout: RawRollout,
    router: RawRouter,
    #[serde(default)]
    stable: RawSide,
    #[serde(default)]
    candidate: RawSide,
    #[serde(default)]
    health: RawHealth,
    canary: Option<RawCanary>,
    #[serde(alias = "blue-green")]
    blue_green: Option<RawBlueGreen>,
    rolling: Option<RawRolling>,
    #[serde(default)]
    hooks: RawHooks,
    #[serde(default)]
    analysis: Vec<RawAnalysis>,
    #[serde(default)]
    metrics: BTreeMap<String, RawMetrics>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRollout {
    name: String,
    strategy: RawStrategy,
    state_dir: Option<PathBuf>,
    preflight: Option<RawPreflight>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawStrategy {
    Name(String),
    Plugin {
        kind: Option<String>,
        path: PathBuf,
        sha256: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreflight {
    policy: PathBuf,
    gate: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRouter {
    kind: String,
    admin_socket: PathBuf,
    backend: String,
    timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSide {
    #[serde(default)]
    servers: Vec<String>,
    version: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    path: Option<String>,
    expect_status: Option<u16>,
    timeout_ms: Option<u64>,
    attempts: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanary {
    steps: Option<Vec<i64>>,
    pause: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlueGreen {
    pause: Option<String>,
    #[serde(default)]
    pre_promotion_analysis: Vec<String>,
    post_promotion_analysis: Option<Vec<String>>,
    post_promotion: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRolling {
    servers: Option<Vec<String>>,
    start: String,
    stop: String,
    drain_timeout: Option<String>,
    pause: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHooks {
    #[serde(default)]
    pre_rollout: Vec<String>,
    #[serde(default)]
    post_promote: Vec<String>,
    #[serde(default)]
    post_rollback: Vec<String>,
    timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnalysis {
    name: String,
    provider: String,
    query: String,
    samples_query: Option<String>,
    max: Option<f64>,
    min: Option<f64>,
    max_increase: Option<f64>,
    max_ratio: Option<f64>,
    interval: Option<String>,
    min_samples: Option<u64>,
    failure_limit: Option<u32>,
    inconclusive_limit: Option<u32>,
    consecutive_error_limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    url: String,
    timeout_ms: Option<u64>,
}

/// `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. `500ms`, `5s`, `2m`)"))?;
    let ms = match unit.trim() {
        "ms" => n,
        "s" => n * 1e3,
        "m" => n * 60e3,
        "h" => n * 3600e3,
        other => return Err(format!("unknown duration unit `{other}` in `{text}`")),
    };
    Ok(Duration::from_millis(ms.round() as u64))
}

fn parse_pause(text: Option<&str>, default: Duration) -> Result<Pause, String> {
    match text {
        None => Ok(Pause {
            duration: default,
            until_approved: false,
        }),
        Some("until-approved") => Ok(Pause {
            duration: Duration::ZERO,
            until_approved: true,
        }),
        Some(t) => parse_duration(t).map(|d| Pause {
            duration: d,
            until_approved: false,
        }),
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

/// Where `key` is set inside `[table]` (or `[[table]]` number `index`), for
/// errors found after parsing. Falls back to the table header, then line 1.
fn locate(text: &str, table: &str, index: usize, key: &str) -> (usize, usize) {
    let mut seen = 0usize;
    let mut in_table = table.is_empty();
    let mut header = None;
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let name = trimmed.trim_matches(|c| c == '[' || c == ']').trim();
            in_table = false;
            if name == table {
                if trimmed.starts_with("[[") {
                    if seen == index {
                        in_table = true;
                        header = Some(offset);
                    }
                    seen += 1;
                } else {
                    in_table = true;
                    header = Some(offset);
                }
            }
        } else if in_table && !key.is_empty() {
            let k = trimmed.split('=').next().unwrap_or("").trim();
            if k == key && trimmed.contains('=') {
                let col = line.len() - line.trim_start().len();
                return line_col(text, offset + col);
            }
        }
        offset += line.len();
    }
    header.map_or((1, 1), |h| line_col(text, h))
}

struct Ctx<'a> {
    file: String,
    text: &'a str,
    errors: Vec<SpecError>,
}

impl Ctx<'_> {
    fn error(&mut self, table: &str, index: usize, key: &str, message: impl Into<String>) {
        let (line, column) = locate(self.text, table, index, key);
        self.errors.push(SpecError {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
        });
    }

    fn duration(
        &mut self,
        table: &str,
        key: &str,
        value: Option<&str>,
        default: Duration,
    ) -> Duration {
        match value.map(parse_duration) {
            None => default,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                self.error(table, 0, key, e);
                default
            }
        }
    }
}

/// Errors of one spec file, every one with its location.
#[derive(Debug)]
pub struct SpecErrors(pub Vec<SpecError>);

impl std::fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

fn valid_server_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Spec {
    pub fn load(path: &Path) -> Result<Spec, SpecErrors> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            SpecErrors(vec![SpecError {
                file: file.clone(),
                line: 1,
                column: 1,
                message: format!("cannot read the spec: {e}"),
            }])
        })?;
        Spec::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Spec, SpecErrors> {
        let file = path.display().to_string();
        let raw: RawSpec = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
            SpecErrors(vec![SpecError {
                file: file.clone(),
                line,
                column,
                message: e.message().trim().to_string(),
            }])
        })?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            }
        };
        let mut cx = Ctx {
            file: file.clone(),
            text,
            errors: Vec::new(),
        };

        if raw.rollout.name.is_empty() || !valid_server_name(&raw.rollout.name) {
            cx.error(
                "rollout",
                0,
                "name",
                "`name` must be non-empty letters, digits, `-`, `_` or `.`",
            );
        }
        let strategy = match raw.rollout.strategy {
            RawStrategy::Name(n) => {
                if !matches!(n.as_str(), "blue-green" | "canary" | "rolling") {
                    cx.error(
                        "rollout",
                        0,
                        "strategy",
                        format!(
                            "unknown strategy `{n}`: expected `blue-green`, `canary`, `rolling`, or {{ path, sha256 }} for a plugin"
                        ),
                    );
                }
                StrategyRef::Builtin(n)
            }
            RawStrategy::Plugin { kind, path, sha256 } => StrategyRef::Custom {
                kind: kind.unwrap_or_else(|| "custom".into()),
                path: resolve(&path),
                sha256,
            },
        };
        let kind = strategy.kind().to_string();

        if raw.router.kind != "haproxy" {
            cx.error(
                "router",
                0,
                "kind",
                format!(
                    "router kind `{}` is not supported yet: only `haproxy` (the driver trait is ready for nginx and Gateway API)",
                    raw.router.kind
                ),
            );
        }
        let router_timeout = cx.duration(
            "router",
            "timeout",
            raw.router.timeout.as_deref(),
            Duration::from_secs(2),
        );

        for (table, side) in [("stable", &raw.stable), ("candidate", &raw.candidate)] {
            for s in &side.servers {
                if !valid_server_name(s) {
                    cx.error(table, 0, "servers", format!("bad server name `{s}`"));
                }
            }
        }
        if kind != "rolling" {
            if raw.stable.servers.is_empty() {
                cx.error(
                    "stable",
                    0,
                    "servers",
                    "`[stable] servers` must name at least one server",
                );
            }
            if raw.candidate.servers.is_empty() {
                cx.error(
                    "candidate",
                    0,
                    "servers",
                    "`[candidate] servers` must name at least one server",
                );
            }
            if let Some(s) = raw
                .candidate
                .servers
                .iter()
                .find(|s| raw.stable.servers.contains(s))
            {
                cx.error(
                    "candidate",
                    0,
                    "servers",
                    format!("server `{s}` is both stable and candidate"),
                );
            }
        }

        let health = Health {
            path: raw.health.path.unwrap_or_else(|| "/healthz".into()),
            expect_status: raw.health.expect_status.unwrap_or(200),
            timeout: Duration::from_millis(raw.health.timeout_ms.unwrap_or(1000)),
            attempts: raw.health.attempts.unwrap_or(3).max(1),
        };
        if !health.path.starts_with('/') {
            cx.error("health", 0, "path", "`path` must start with `/`");
        }

        let canary = match (kind.as_str(), raw.canary) {
            (_, Some(c)) => {
                let steps = c.steps.unwrap_or_else(|| vec![1, 10, 50, 100]);
                let mut ok = !steps.is_empty();
                let mut prev = 0;
                for s in &steps {
                    if *s < 1 || *s > 100 || *s <= prev {
                        ok = false;
                    }
                    prev = *s;
                }
                if !ok {
                    cx.error(
                        "canary",
                        0,
                        "steps",
                        "`steps` must be ascending percentages between 1 and 100",
                    );
                }
                let pause = match parse_pause(c.pause.as_deref(), Duration::from_secs(30)) {
                    Ok(p) => p,
                    Err(e) => {
                        cx.error("canary", 0, "pause", e);
                        parse_pause(None, Duration::ZERO).unwrap()
                    }
                };
                Some(Canary {
                    steps: steps.into_iter().map(|s| s.clamp(0, 100) as u8).collect(),
                    pause,
                })
            }
            ("canary", None) => Some(Canary {
                steps: vec![1, 10, 50, 100],
                pause: parse_pause(None, Duration::from_secs(30)).unwrap(),
            }),
            _ => None,
        };

        let names: Vec<String> = raw.analysis.iter().map(|a| a.name.clone()).collect();
        let blue_green = match (kind.as_str(), raw.blue_green) {
            (_, Some(b)) => {
                let pause = match parse_pause(b.pause.as_deref(), Duration::ZERO) {
                    Ok(p) => p,
                    Err(e) => {
                        cx.error("blue_green", 0, "pause", e);
                        parse_pause(None, Duration::ZERO).unwrap()
                    }
                };
                let post = b.post_promotion_analysis.unwrap_or_else(|| names.clone());
                for n in b.pre_promotion_analysis.iter().chain(&post) {
                    if !names.contains(n) {
                        cx.error(
                            "blue_green",
                            0,
                            "",
                            format!("analysis `{n}` is not defined by any [[analysis]]"),
                        );
                    }
                }
                let post_promotion = cx.duration(
                    "blue_green",
                    "post_promotion",
                    b.post_promotion.as_deref(),
                    Duration::from_secs(10),
                );
                Some(BlueGreen {
                    pause,
                    pre_promotion_analysis: b.pre_promotion_analysis,
                    post_promotion_analysis: post,
                    post_promotion,
                })
            }
            ("blue-green", None) => Some(BlueGreen {
                pause: parse_pause(None, Duration::ZERO).unwrap(),
                pre_promotion_analysis: vec![],
                post_promotion_analysis: names.clone(),
                post_promotion: Duration::from_secs(10),
            }),
            _ => None,
        };

        let rolling = match raw.rolling {
            Some(r) => {
                let servers = r.servers.unwrap_or_else(|| raw.stable.servers.clone());
                if servers.is_empty() {
                    cx.error(
                        "rolling",
                        0,
                        "servers",
                        "`servers` must name the servers to replace",
                    );
                }
                for s in &servers {
                    if !valid_server_name(s) {
                        cx.error("rolling", 0, "servers", format!("bad server name `{s}`"));
                    }
                }
                if servers.len() < 2 {
                    cx.error(
                        "rolling",
                        0,
                        "servers",
                        "a rolling update needs at least two servers, so one serves while the other is replaced",
                    );
                }
                let drain_timeout = cx.duration(
                    "rolling",
                    "drain_timeout",
                    r.drain_timeout.as_deref(),
                    Duration::from_secs(30),
                );
                let pause = match parse_pause(r.pause.as_deref(), Duration::ZERO) {
                    Ok(p) => p,
                    Err(e) => {
                        cx.error("rolling", 0, "pause", e);
                        parse_pause(None, Duration::ZERO).unwrap()
                    }
                };
                Some(Rolling {
                    servers,
                    start: r.start,
                    stop: r.stop,
                    drain_timeout,
                    pause,
                })
            }
            None => {
                if kind == "rolling" {
                    cx.error(
                        "rollout",
                        0,
                        "strategy",
                        "strategy `rolling` needs a [rolling] table with `servers`, `start` and `stop`",
                    );
                }
                None
            }
        };
        if kind == "rolling" && raw.candidate.version.is_none() {
            cx.error(
                "candidate",
                0,
                "version",
                "a rolling update needs `[candidate] version` (passed to `start` as {version})",
            );
        }

        let hooks = Hooks {
            timeout: cx.duration(
                "hooks",
                "timeout",
                raw.hooks.timeout.as_deref(),
                Duration::from_secs(300),
            ),
            pre_rollout: raw.hooks.pre_rollout,
            post_promote: raw.hooks.post_promote,
            post_rollback: raw.hooks.post_rollback,
        };

        let mut metrics = BTreeMap::new();
        for (name, m) in raw.metrics {
            if !(m.url.starts_with("http://") || m.url.starts_with("https://")) {
                cx.error(
                    &format!("metrics.{name}"),
                    0,
                    "url",
                    "`url` must be http(s)",
                );
            }
            metrics.insert(
                name,
                MetricsProvider {
                    url: m.url.trim_end_matches('/').to_string(),
                    timeout: Duration::from_millis(m.timeout_ms.unwrap_or(2000)),
                },
            );
        }

        let mut analysis = Vec::new();
        for (i, a) in raw.analysis.into_iter().enumerate() {
            if names.iter().filter(|n| **n == a.name).count() > 1 {
                cx.error(
                    "analysis",
                    i,
                    "name",
                    format!("duplicate analysis `{}`", a.name),
                );
            }
            let haproxy = a.provider == "haproxy";
            if !haproxy && !metrics.contains_key(&a.provider) {
                let known: Vec<&str> = metrics.keys().map(String::as_str).collect();
                cx.error(
                    "analysis",
                    i,
                    "provider",
                    format!(
                        "unknown provider `{}`: use `haproxy` or a [metrics.NAME] table (defined: {})",
                        a.provider,
                        if known.is_empty() { "none".into() } else { known.join(", ") }
                    ),
                );
            }
            if haproxy && super::analysis::HaproxyQuery::parse(&a.query).is_none() {
                cx.error(
                    "analysis",
                    i,
                    "query",
                    format!(
                        "unknown HAProxy counter query `{}`: expected [candidate_|stable_]{{5xx_ratio|error_ratio|avg_response_ms|request_rate}}",
                        a.query
                    ),
                );
            }
            if a.max.is_none()
                && a.min.is_none()
                && a.max_increase.is_none()
                && a.max_ratio.is_none()
            {
                cx.error(
                    "analysis",
                    i,
                    "name",
                    format!(
                        "analysis `{}` has no condition: set `max`, `min`, `max_increase` or `max_ratio`",
                        a.name
                    ),
                );
            }
            let interval = match a.interval.as_deref().map(parse_duration) {
                None => Duration::from_secs(10),
                Some(Ok(d)) if d >= Duration::from_millis(100) => d,
                Some(Ok(_)) => {
                    cx.error(
                        "analysis",
                        i,
                        "interval",
                        "`interval` must be at least 100ms",
                    );
                    Duration::from_secs(1)
                }
                Some(Err(e)) => {
                    cx.error("analysis", i, "interval", e);
                    Duration::from_secs(1)
                }
            };
            let min_samples = a
                .min_samples
                .unwrap_or(if haproxy || a.samples_query.is_some() {
                    1
                } else {
                    0
                });
            if !haproxy && min_samples > 0 && a.samples_query.is_none() {
                cx.error(
                    "analysis",
                    i,
                    "min_samples",
                    "`min_samples` with a Prometheus provider needs `samples_query` (a PromQL count of requests in {{window}})",
                );
            }
            analysis.push(Analysis {
                name: a.name,
                provider: a.provider,
                query: a.query,
                samples_query: a.samples_query,
                max: a.max,
                min: a.min,
                max_increase: a.max_increase,
                max_ratio: a.max_ratio,
                interval,
                min_samples,
                failure_limit: a.failure_limit.unwrap_or(0),
                inconclusive_limit: a.inconclusive_limit.unwrap_or(0),
                consecutive_error_limit: a.consecutive_error_limit.unwrap_or(4),
            });
        }

        let preflight = raw.rollout.preflight.map(|p| Preflight {
            policy: resolve(&p.policy),
            gate: p.gate,
        });
        if !cx.errors.is_empty() {
            return Err(SpecErrors(cx.errors));
        }
        Ok(Spec {
            file: path.to_path_buf(),
            digest: hex::encode(Sha256::digest(text.as_bytes())),
            name: raw.rollout.name,
            strategy,
            state_dir: resolve(
                &raw.rollout
                    .state_dir
                    .unwrap_or_else(|| PathBuf::from(".gate/state")),
            ),
            preflight,
            router: Router {
                kind: raw.router.kind,
                admin_socket: resolve(&raw.router.admin_socket),
                backend: raw.router.backend,
                timeout: router_timeout,
            },
            stable: Side {
                servers: raw.stable.servers,
                version: raw.stable.version.unwrap_or_else(|| "stable".into()),
            },
            candidate: Side {
                servers: raw.candidate.servers,
                version: raw.candidate.version.unwrap_or_else(|| "candidate".into()),
            },
            health,
            canary,
            blue_green,
            rolling,
            hooks,
            analysis,
            metrics,
            dir,
        })
    }

    /// The servers whose traffic share is "candidate" (rolling: the replaced ones).
    pub fn analysis(&self, name: &str) -> Option<&Analysis> {
        self.analysis.iter().find(|a| a.name == name)
    }

    /// The normalised spec handed to the strategy plugin: only the chosen
    /// strategy's table, durations in milliseconds.
    pub fn to_plugin_spec(&self) -> protocol::Spec {
        let ms = |d: Duration| d.as_millis() as u64;
        let side = |s: &Side| protocol::Side {
            servers: s.servers.clone(),
            version: Some(s.version.clone()),
        };
        let kind = self.strategy.kind();
        let canary = self
            .canary
            .as_ref()
            .filter(|_| matches!(kind, "canary" | "custom"));
        let blue_green = self.blue_green.as_ref().filter(|_| kind == "blue-green");
        let rolling = self.rolling.as_ref().filter(|_| kind == "rolling");
        protocol::Spec {
            name: self.name.clone(),
            strategy: kind.into(),
            stable: side(&self.stable),
            candidate: side(&self.candidate),
            canary: canary.map(|c| protocol::CanarySpec {
                steps: c.steps.iter().map(|&s| s.into()).collect(),
                pause_ms: ms(c.pause.duration),
                until_approved: c.pause.until_approved,
            }),
            blue_green: blue_green.map(|b| protocol::BlueGreenSpec {
                pause_ms: ms(b.pause.duration),
                until_approved: b.pause.until_approved,
                pre_promotion_analysis: b.pre_promotion_analysis.clone(),
                post_promotion_analysis: b.post_promotion_analysis.clone(),
                post_promotion_ms: ms(b.post_promotion),
            }),
            rolling: rolling.map(|r| protocol::RollingSpec {
                servers: r.servers.clone(),
                pause_ms: ms(r.pause.duration),
                until_approved: r.pause.until_approved,
            }),
            analysis: self
                .analysis
                .iter()
                .map(|a| protocol::Analysis {
                    name: a.name.clone(),
                    interval_ms: ms(a.interval),
                    failure_limit: a.failure_limit,
                    inconclusive_limit: a.inconclusive_limit,
                    consecutive_error_limit: a.consecutive_error_limit,
                    min_samples: a.min_samples,
                })
                .collect(),
        }
    }

    /// The state file, lock, command directory and event log of this rollout.
    pub fn state_file(&self) -> PathBuf {
        self.state_dir.join(format!("{}.state.json", self.name))
    }
    pub fn lock_file(&self) -> PathBuf {
        self.state_dir.join(format!("{}.lock", self.name))
    }
    pub fn commands_dir(&self) -> PathBuf {
        self.state_dir.join(format!("{}.commands", self.name))
    }
    pub fn events_file(&self) -> PathBuf {
        self.state_dir.join(format!("{}.events.jsonl", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[rollout]
name = "web"
strategy = "canary"

[router]
kind = "haproxy"
admin_socket = "/tmp/admin.sock"
backend = "web"

[stable]
servers = ["blue1"]

[candidate]
servers = ["green1"]
"#;

    fn parse(text: &str) -> Result<Spec, SpecErrors> {
        Spec::parse(Path::new("specs/web.toml"), text)
    }

    #[test]
    fn defaults_and_normalisation() {
        let spec = parse(BASE).unwrap();
        assert_eq!(spec.canary.as_ref().unwrap().steps, vec![1, 10, 50, 100]);
        assert_eq!(spec.state_dir, PathBuf::from("specs/.gate/state"));
        let j = spec.to_plugin_spec();
        assert_eq!(j.canary.unwrap().pause_ms, 30000);
        assert_eq!(j.strategy, "canary");
        assert_eq!(j.stable.servers[0], "blue1");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn toml_errors_carry_line_and_column() {
        let err = parse(&format!("{BASE}\n[canary]\nsteps = [1, 10,\n")).unwrap_err();
        let e = &err.0[0];
        assert_eq!(e.file, "specs/web.toml");
        assert_eq!((e.line, e.column), (18, 16), "{e}");
    }

    #[test]
    fn unknown_key_is_located() {
        let err = parse(&BASE.replace("backend = \"web\"", "backend = \"web\"\nbackedn = 1"))
            .unwrap_err();
        assert_eq!(err.0[0].line, 10, "{}", err);
        assert!(err.0[0].message.contains("backedn"), "{err}");
    }

    #[test]
    fn validation_errors_point_at_the_key() {
        let text = format!(
            "{BASE}\n[canary]\nsteps = [10, 5]\npause = \"soon\"\n\n[[analysis]]\nname = \"e\"\nprovider = \"prom\"\nquery = \"up\"\nmax = 1.0\n"
        );
        let err = parse(&text).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("specs/web.toml:18:1: `steps` must be ascending"),
            "{text}"
        );
        assert!(
            text.contains("specs/web.toml:19:1: `soon` is not a duration"),
            "{text}"
        );
        assert!(text.contains("unknown provider `prom`"), "{text}");
        assert!(text.contains("specs/web.toml:23:1:"), "{text}");
    }

    #[test]
    fn same_server_on_both_sides_is_refused() {
        let err = parse(&BASE.replace("[\"green1\"]", "[\"blue1\"]")).unwrap_err();
        assert!(
            err.to_string().contains("both stable and candidate"),
            "{err}"
        );
    }

    #[test]
    fn bundled_examples_parse() {
        for (name, text) in [
            (
                "canary.toml",
                include_str!("../../../examples/rollouts/canary.toml"),
            ),
            (
                "blue-green.toml",
                include_str!("../../../examples/rollouts/blue-green.toml"),
            ),
            (
                "rolling.toml",
                include_str!("../../../examples/rollouts/rolling.toml"),
            ),
        ] {
            let spec = Spec::parse(&Path::new("examples/rollouts").join(name), text)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let json = spec.to_plugin_spec();
            assert_eq!(json.strategy, spec.strategy.kind(), "{name}");
            assert!(!json.analysis.is_empty(), "{name}");
        }
    }

    #[test]
    fn until_approved_pause() {
        let spec = parse(&format!("{BASE}\n[canary]\npause = \"until-approved\"\n")).unwrap();
        let c = spec.to_plugin_spec().canary.unwrap();
        assert!(c.until_approved);
        assert_eq!(c.pause_ms, 0);
    }
}
