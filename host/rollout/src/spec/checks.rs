//! The checks of each spec table after decoding, and its normalised form.

use std::time::Duration;

use super::super::analysis::{PROVIDERS, ProviderKind};
use super::parse::{Cx, DURATION_HELP, Located, valid_name};
use super::raw::{
    RawAnalysis, RawBlueGreen, RawCanary, RawHealth, RawHooks, RawMetrics, RawRolling, RawRollout,
    RawSide,
};
use super::{Analysis, BlueGreen, Canary, Health, Hooks, MetricsProvider, Rolling, parse_duration};

const NAME_HELP: &str = "server names are letters, digits, `-`, `_` or `.`, as in the router";

impl Cx<'_> {
    fn server_names(&mut self, table: &Located<impl Sized>, servers: &[String]) {
        for s in servers {
            if !valid_name(s) {
                self.error_help(
                    table.at("servers"),
                    format!("bad server name `{s}`"),
                    NAME_HELP,
                );
            }
        }
    }

    /// `[stable]` and `[candidate]`: two disjoint, non-empty sets (not for rolling).
    pub(super) fn sides(
        &mut self,
        kind: &str,
        stable: &Located<RawSide>,
        candidate: &Located<RawSide>,
    ) {
        self.server_names(stable, &stable.item.servers);
        self.server_names(candidate, &candidate.item.servers);
        if kind == "rolling" {
            return;
        }
        for (name, side) in [("stable", stable), ("candidate", candidate)] {
            if side.item.servers.is_empty() {
                self.error_help(
                    side.at("servers"),
                    format!("`[{name}] servers` must name at least one server"),
                    format!("e.g. `[{name}]` with `servers = [\"web1\"]`, as named in the router"),
                );
            }
        }
        let both = candidate
            .item
            .servers
            .iter()
            .find(|s| stable.item.servers.contains(s));
        if let Some(s) = both {
            self.error_help(
                candidate.at("servers"),
                format!("server `{s}` is both stable and candidate"),
                "the candidate runs on servers of its own; `rolling` replaces servers in place",
            );
        }
    }

    pub(super) fn health(&mut self, health: Located<RawHealth>) -> Health {
        let h = &health.item;
        let path = h.path.clone().unwrap_or_else(|| "/healthz".into());
        if !path.starts_with('/') {
            self.error_help(
                health.at("path"),
                "`path` must start with `/`",
                format!("e.g. `path = \"/{path}\"`"),
            );
        }
        Health {
            path,
            expect_status: h.expect_status.unwrap_or(200),
            timeout: Duration::from_millis(h.timeout_ms.unwrap_or(1000)),
            attempts: h.attempts.unwrap_or(3).max(1),
        }
    }

    /// `[canary]`, defaulted for a canary without one.
    pub(super) fn canary(
        &mut self,
        kind: &str,
        canary: Option<Located<RawCanary>>,
    ) -> Option<Canary> {
        let canary = match canary {
            Some(c) => c,
            None if kind == "canary" => Located::absent(&self.src.origin(0)),
            None => return None,
        };
        let steps = canary
            .item
            .steps
            .clone()
            .unwrap_or_else(|| vec![1, 10, 50, 100]);
        let ascending = steps.windows(2).all(|w| w[0] < w[1]);
        if steps.is_empty() || !ascending || steps.iter().any(|s| !(1..=100).contains(s)) {
            self.error_help(
                canary.at("steps"),
                "`steps` must be ascending percentages between 1 and 100",
                "e.g. `steps = [1, 10, 50, 100]`",
            );
        }
        let pause = self.pause(
            canary.at("pause"),
            canary.item.pause.as_deref(),
            Duration::from_secs(30),
        );
        Some(Canary {
            steps: steps.into_iter().map(|s| s.clamp(0, 100) as u8).collect(),
            pause,
        })
    }

    /// `[blue_green]`, defaulted for a blue-green without one. The analyses
    /// it names must exist; post-promotion defaults to all of them.
    pub(super) fn blue_green(
        &mut self,
        kind: &str,
        bg: Option<Located<RawBlueGreen>>,
        names: &[String],
    ) -> Option<BlueGreen> {
        let bg = match bg {
            Some(b) => b,
            None if kind == "blue-green" => Located::absent(&self.src.origin(0)),
            None => return None,
        };
        let pause = self.pause(bg.at("pause"), bg.item.pause.as_deref(), Duration::ZERO);
        let pre = bg.item.pre_promotion_analysis.clone();
        let post = bg
            .item
            .post_promotion_analysis
            .clone()
            .unwrap_or_else(|| names.to_vec());
        for (key, list) in [
            ("pre_promotion_analysis", &pre),
            ("post_promotion_analysis", &post),
        ] {
            for n in list.iter().filter(|n| !names.contains(n)) {
                self.error_help(
                    bg.at(key),
                    format!("analysis `{n}` is not defined by any [[analysis]]"),
                    format!(
                        "defined: {}",
                        if names.is_empty() {
                            "none".into()
                        } else {
                            names.join(", ")
                        }
                    ),
                );
            }
        }
        let post_promotion = self.duration(
            bg.at("post_promotion"),
            bg.item.post_promotion.as_deref(),
            Duration::from_secs(10),
        );
        Some(BlueGreen {
            pause,
            pre_promotion_analysis: pre,
            post_promotion_analysis: post,
            post_promotion,
        })
    }

    /// `[rolling]`: at least two servers (defaulting to the stable ones).
    pub(super) fn rolling(
        &mut self,
        kind: &str,
        rollout: &Located<RawRollout>,
        rolling: Option<Located<RawRolling>>,
        stable: &[String],
    ) -> Option<Rolling> {
        let Some(r) = rolling else {
            if kind == "rolling" {
                self.error_help(
                    rollout.at("strategy"),
                    "strategy `rolling` needs a [rolling] table with `servers`, `start` and `stop`",
                    "add `[rolling]` with `servers = [...]`, `start = \"…\"` and `stop = \"…\"`",
                );
            }
            return None;
        };
        let servers = r.item.servers.clone().unwrap_or_else(|| stable.to_vec());
        if servers.is_empty() {
            self.error(
                r.at("servers"),
                "`servers` must name the servers to replace",
            );
        }
        self.server_names(&r, &servers);
        if servers.len() < 2 {
            self.error(
                r.at("servers"),
                "a rolling update needs at least two servers, so one serves while the other is replaced",
            );
        }
        let drain = r.item.drain_timeout.as_deref();
        let drain_timeout = self.duration(r.at("drain_timeout"), drain, Duration::from_secs(30));
        let pause = self.pause(r.at("pause"), r.item.pause.as_deref(), Duration::ZERO);
        Some(Rolling {
            servers,
            start: r.item.start,
            stop: r.item.stop,
            drain_timeout,
            pause,
        })
    }

    pub(super) fn hooks(&mut self, hooks: Located<RawHooks>) -> Hooks {
        let timeout = self.duration(
            hooks.at("timeout"),
            hooks.item.timeout.as_deref(),
            Duration::from_secs(300),
        );
        let h = hooks.item;
        Hooks {
            timeout,
            pre_rollout: h.pre_rollout,
            post_promote: h.post_promote,
            post_rollback: h.post_rollback,
        }
    }

    /// `[metrics.NAME]`: providers with a table, resolved against the registry.
    pub(super) fn metrics(
        &mut self,
        tables: Vec<(String, Located<RawMetrics>)>,
    ) -> Vec<(String, MetricsProvider)> {
        let mut out = Vec::new();
        for (name, m) in tables {
            let kind_name = m.item.kind.as_deref().unwrap_or("prometheus");
            let kind = ProviderKind::named(kind_name).filter(|k| !k.builtin);
            if kind.is_none() {
                self.error_help(
                    m.at("kind"),
                    format!("unknown metrics provider kind `{kind_name}`"),
                    format!("known kinds: {}", ProviderKind::kinds(false).join(", ")),
                );
            }
            if !(m.item.url.starts_with("http://") || m.item.url.starts_with("https://")) {
                self.error_help(
                    m.at("url"),
                    "`url` must be http(s)",
                    "e.g. `url = \"http://127.0.0.1:9090\"`",
                );
            }
            out.push((
                name,
                MetricsProvider {
                    kind: kind.unwrap_or(&PROVIDERS[0]),
                    url: m.item.url.trim_end_matches('/').to_string(),
                    timeout: Duration::from_millis(m.item.timeout_ms.unwrap_or(2000)),
                },
            ));
        }
        out
    }

    pub(super) fn analyses(
        &mut self,
        tables: Vec<Located<RawAnalysis>>,
        metrics: &[(String, MetricsProvider)],
    ) -> Vec<Analysis> {
        let names: Vec<String> = tables.iter().map(|a| a.item.name.clone()).collect();
        tables
            .into_iter()
            .map(|a| {
                if names.iter().filter(|n| **n == a.item.name).count() > 1 {
                    let message = format!("duplicate analysis `{}`", a.item.name);
                    self.error_help(
                        a.at("name"),
                        message,
                        "every [[analysis]] needs a name of its own",
                    );
                }
                self.analysis(a, metrics)
            })
            .collect()
    }

    /// The provider `[[analysis]] provider` names: a built-in kind or a
    /// `[metrics.NAME]` table.
    fn provider(
        &mut self,
        a: &Located<RawAnalysis>,
        metrics: &[(String, MetricsProvider)],
    ) -> Option<&'static ProviderKind> {
        let name = &a.item.provider;
        if let Some(kind) = ProviderKind::named(name).filter(|k| k.builtin) {
            return Some(kind);
        }
        if let Some((_, m)) = metrics.iter().find(|(n, _)| n == name) {
            return Some(m.kind);
        }
        let builtins: Vec<String> = ProviderKind::kinds(true)
            .iter()
            .map(|k| format!("`{k}`"))
            .collect();
        let defined: Vec<&str> = metrics.iter().map(|(n, _)| n.as_str()).collect();
        self.error_help(
            a.at("provider"),
            format!(
                "unknown provider `{name}`: use {} or a [metrics.NAME] table (defined: {})",
                builtins.join(", "),
                if defined.is_empty() {
                    "none".into()
                } else {
                    defined.join(", ")
                }
            ),
            format!(
                "a [metrics.NAME] table is of kind {}",
                ProviderKind::kinds(false).join(", ")
            ),
        );
        None
    }

    fn analysis(
        &mut self,
        a: Located<RawAnalysis>,
        metrics: &[(String, MetricsProvider)],
    ) -> Analysis {
        // An unknown provider is reported once; the placeholder is never used.
        let kind = match self.provider(&a, metrics) {
            Some(kind) => {
                if let Err(e) = (kind.check_query)(&a.item.query) {
                    self.error(a.at("query"), e);
                }
                kind
            }
            None => &PROVIDERS[0],
        };
        let r = &a.item;
        if r.max.is_none() && r.min.is_none() && r.max_increase.is_none() && r.max_ratio.is_none() {
            self.error_help(
                a.at("name"),
                format!("analysis `{}` has no condition: set `max`, `min`, `max_increase` or `max_ratio`", r.name),
                "e.g. `max = 0.01` for an error ratio",
            );
        }
        let interval = match r.interval.as_deref().map(parse_duration) {
            None => Duration::from_secs(10),
            Some(Ok(d)) if d >= Duration::from_millis(100) => d,
            Some(Ok(_)) => {
                self.error(a.at("interval"), "`interval` must be at least 100ms");
                Duration::from_secs(1)
            }
            Some(Err(e)) => {
                self.error_help(a.at("interval"), e, DURATION_HELP);
                Duration::from_secs(1)
            }
        };
        let counted = kind.builtin || r.samples_query.is_some();
        let min_samples = r.min_samples.unwrap_or(u64::from(counted));
        if !counted && min_samples > 0 {
            self.error(
                a.at("min_samples"),
                "`min_samples` with a Prometheus provider needs `samples_query` (a PromQL count of requests in {{window}})",
            );
        }
        let r = a.item;
        Analysis {
            name: r.name,
            provider: r.provider,
            kind,
            query: r.query,
            samples_query: r.samples_query,
            max: r.max,
            min: r.min,
            max_increase: r.max_increase,
            max_ratio: r.max_ratio,
            interval,
            min_samples,
            failure_limit: r.failure_limit.unwrap_or(0),
            inconclusive_limit: r.inconclusive_limit.unwrap_or(0),
            consecutive_error_limit: r.consecutive_error_limit.unwrap_or(4),
        }
    }
}
