//! The rollout spec (TOML): its checked, normalised form, and the normalised
//! spec the strategy plugin receives (docs/strategy-plugins.md). Parsing lives
//! in spec/parse.rs and spec/checks.rs, on the policy loader's span-keeping
//! decoder, so every error names file:line:col.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gate_strategy_protocol as protocol;

use super::analysis::ProviderKind;
use super::approvals::ApprovalRules;
use super::driver;
use super::store::postgres::DbUrl;
use gate_eval::policy::{PolicyError, PolicyErrors};

mod checks;
mod parse;
mod raw;
mod stages;

/// A spec error: file, line and column (1:1 when the file as a whole is
/// meant), and what to do about it when there is something to suggest.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}{}", help.as_ref().map_or(String::new(), |h| format!("\n  help: {h}")))]
pub struct SpecError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
}

impl From<PolicyError> for SpecError {
    fn from(e: PolicyError) -> Self {
        let (line, column) = e.origin.as_ref().map_or((1, 1), |o| (o.line, o.column));
        SpecError {
            file: e.file.display().to_string(),
            line: line as usize,
            column: column as usize,
            message: e.message,
            help: e.help,
        }
    }
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
    /// `[rollout] state = "postgres://…"`: the shared store in PostgreSQL
    /// (docs/rollouts.md, "Shared state in PostgreSQL"); files in
    /// `state_dir` when unset.
    pub state_db: Option<DbUrl>,
    /// `[rollout] lease_ttl`: how long a PostgreSQL lease lasts unless renewed.
    pub lease_ttl: Duration,
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
    /// `[approvals]`: approvals must be signed (docs/approvals.md).
    pub approvals: Option<ApprovalRules>,
    /// `[audit] dir`: the audit log of a rollout kept in files
    /// (docs/audit.md); `.gate/audit` beside the spec by default.
    pub audit_dir: PathBuf,
    /// The pipeline's stages in order (`[[stage]]`; without any, the
    /// `preflight` gate, if set, then the rollout).
    pub stages: Vec<crate::pipeline::Stage>,
    /// `[[notify]]`: which of the rollout's events go where
    /// (docs/incidents.md, "Notifications").
    pub notify: Vec<gate_notify::Rule>,
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preflight {
    pub policy: PathBuf,
    pub gate: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Router {
    pub kind: String,
    /// The registered driver for `kind` (driver.rs `DRIVERS`).
    pub driver: driver::Connect,
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
    /// A built-in provider kind (`haproxy`), or the name of a `[metrics.NAME]` table.
    pub provider: String,
    /// What measures it (analysis.rs `PROVIDERS`).
    pub kind: &'static ProviderKind,
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
    /// `prometheus` unless `kind` names another provider with a table.
    pub kind: &'static ProviderKind,
    pub url: String,
    pub timeout: Duration,
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

/// Errors of one spec file, every one with its location.
#[derive(Debug)]
pub struct SpecErrors(pub Vec<SpecError>);

impl SpecErrors {
    /// One error about the file as a whole.
    fn at(path: &Path, message: impl Into<String>) -> Self {
        SpecErrors(vec![SpecError {
            file: path.display().to_string(),
            line: 1,
            column: 1,
            message: message.into(),
            help: None,
        }])
    }
}

impl From<PolicyErrors> for SpecErrors {
    fn from(e: PolicyErrors) -> Self {
        SpecErrors(e.0.into_iter().map(SpecError::from).collect())
    }
}

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

impl Spec {
    pub fn load(path: &Path) -> Result<Spec, SpecErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SpecErrors::at(path, format!("cannot read the spec: {e}")))?;
        Spec::parse(path, &text)
    }

    /// Parses and checks a spec, reporting every problem with its location.
    pub fn parse(path: &Path, text: &str) -> Result<Spec, SpecErrors> {
        parse::parse(path, text)
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

    /// `[blue-green]` (the alias) and registry kinds are located at their
    /// keys, with the known kinds in a `help:` line.
    #[test]
    fn tables_and_registries_are_located_with_help() {
        let text = BASE
            .replace("strategy = \"canary\"", "strategy = \"blue-green\"")
            .replace("kind = \"haproxy\"", "kind = \"nginx\"");
        let text = format!(
            "{text}\n[blue-green]\npre_promotion_analysis = [\"smoke\"]\n\n[metrics.dd]\nkind = \"datadog\"\nurl = \"http://dd\"\n"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains(
                "specs/web.toml:7:1: unknown router kind `nginx`\n  help: known kinds: haproxy"
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "specs/web.toml:18:1: analysis `smoke` is not defined by any [[analysis]]"
            ),
            "{err}"
        );
        assert!(
            err.contains("specs/web.toml:21:1: unknown metrics provider kind `datadog`\n  help: known kinds: prometheus"),
            "{err}"
        );
    }

    /// `[[stage]]`: the pipeline in order; misplaced kinds, keys that do
    /// not apply, unknown analyses and a `preflight` beside stages are
    /// errors at their keys.
    #[test]
    fn stages_are_checked_and_located() {
        let analysis = "[[analysis]]\nname = \"errors\"\nprovider = \"haproxy\"\nquery = \"candidate_5xx_ratio\"\nmax = 0.01\n";
        let good = format!(
            "{BASE}\n{analysis}\n[[stage]]\nname = \"scan\"\nkind = \"gate\"\npolicy = \"p.toml\"\ngate = \"security\"\n\n[[stage]]\nname = \"sign-off\"\nkind = \"approval\"\n\n[[stage]]\nname = \"deploy\"\nkind = \"rollout\"\n\n[[stage]]\nname = \"bake\"\nkind = \"verify\"\nduration = \"10m\"\nanalysis = [\"errors\"]\n"
        );
        let spec = parse(&good).unwrap();
        let kinds: Vec<&str> = spec.stages.iter().map(|s| s.kind.name()).collect();
        assert_eq!(kinds, ["gate", "approval", "rollout", "verify"]);
        let crate::pipeline::StageKind::Gate(gate) = &spec.stages[0].kind else {
            panic!("{:?}", spec.stages[0]);
        };
        assert_eq!(gate.policy, PathBuf::from("specs/p.toml"));
        assert_eq!(
            spec.stages[3].kind,
            crate::pipeline::StageKind::Verify {
                duration: Duration::from_secs(600),
                analysis: vec!["errors".into()],
            }
        );
        // Without [[stage]]: the rollout alone.
        assert_eq!(parse(BASE).unwrap().stages.len(), 1);

        let bad = format!(
            "{BASE}\n{analysis}\n[[stage]]\nname = \"deploy\"\nkind = \"rollout\"\nduration = \"1m\"\n\n[[stage]]\nname = \"scan\"\nkind = \"gate\"\n\n[[stage]]\nname = \"bake\"\nkind = \"verify\"\nanalysis = [\"latency\"]\n\n[[stage]]\nname = \"x\"\nkind = \"deploy\"\n"
        );
        let err = parse(&bad).unwrap_err().to_string();
        for expected in [
            "specs/web.toml:26:1: `duration` does not apply to a `rollout` stage",
            "specs/web.toml:30:1: a `gate` stage needs `policy`",
            "specs/web.toml:35:1: `latency` is not an `[[analysis]]` of this spec\n  help: define it, or use one of: errors",
            "specs/web.toml:39:1: unknown stage kind `deploy`\n  help: write `gate`, `migration`, `approval`, `rollout` or `verify`",
        ] {
            assert!(err.contains(expected), "{expected}\n{err}");
        }
        let late_gate = format!(
            "{BASE}\n[[stage]]\nname = \"deploy\"\nkind = \"rollout\"\n\n[[stage]]\nname = \"scan\"\nkind = \"gate\"\npolicy = \"p.toml\"\n"
        );
        let err = parse(&late_gate).unwrap_err().to_string();
        assert!(
            err.contains("specs/web.toml:23:1: a `gate` stage cannot follow a `rollout` stage"),
            "{err}"
        );
        let both = format!(
            "{}\n[[stage]]\nname = \"deploy\"\nkind = \"rollout\"\n",
            BASE.replace(
                "strategy = \"canary\"",
                "strategy = \"canary\"\npreflight = { policy = \"p.toml\" }"
            )
        );
        let err = parse(&both).unwrap_err().to_string();
        assert!(
            err.contains("specs/web.toml:5:1: `preflight` and `[[stage]]` cannot both be set"),
            "{err}"
        );
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

    /// `state = "postgres://…"` with `lease_ttl`; `state` and `state_dir`
    /// together, other schemes and TLS modes are located errors with help,
    /// and no message repeats the password.
    #[test]
    fn shared_state_in_postgres() {
        let with = |lines: &str| {
            BASE.replace(
                "strategy = \"canary\"\n",
                &format!("strategy = \"canary\"\n{lines}"),
            )
        };
        let spec = parse(&with(
            "state = \"postgres://gate:pw@db/deploys\"\nlease_ttl = \"4s\"\n",
        ))
        .unwrap();
        let url = spec.state_db.clone().expect("a database state");
        assert_eq!(url.shown(), "postgres://gate@db:5432/deploys");
        assert_eq!(spec.lease_ttl, Duration::from_secs(4));
        assert!(
            !format!("{spec:?}").contains("pw"),
            "the spec's Debug shows the password"
        );
        let spec = parse(&with("state = \"postgresql://gate@db/deploys\"\n")).unwrap();
        assert_eq!(spec.lease_ttl, Duration::from_secs(15));
        assert!(parse(BASE).unwrap().state_db.is_none());

        let err = parse(&with(
            "state = \"postgres://gate:pw@db/d\"\nstate_dir = \"s\"\n",
        ))
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("specs/web.toml:5:1: `state` and `state_dir` are both set"),
            "{text}"
        );
        assert!(text.contains("help: keep one"), "{text}");
        let err = parse(&with("state = \"mysql://gate:pw@db/d\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("specs/web.toml:5:1: `state`: not a PostgreSQL URL"),
            "{err}"
        );
        assert!(err.contains("help:"), "{err}");
        let err = parse(&with(
            "state = \"postgres://gate:pw@db/d?sslmode=verify-full\"\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("sslmode=verify-full asks for TLS"), "{err}");
        assert!(!err.contains("pw"), "{err}");
        let err = parse(&with("state = \"postgres://db/d\"\nlease_ttl = \"soon\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("specs/web.toml:6:1: `soon` is not a duration"),
            "{err}"
        );
        let err = parse(&with(
            "state = \"postgres://db/d\"\nlease_ttl = \"100ms\"\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`lease_ttl` must be at least 1000 ms"),
            "{err}"
        );
        let err = parse(&with("lease_ttl = \"5s\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "specs/web.toml:5:1: `lease_ttl` applies to a rollout whose state is in PostgreSQL"
            ),
            "{err}"
        );
    }

    #[test]
    fn until_approved_pause() {
        let spec = parse(&format!("{BASE}\n[canary]\npause = \"until-approved\"\n")).unwrap();
        let c = spec.to_plugin_spec().canary.unwrap();
        assert!(c.until_approved);
        assert_eq!(c.pause_ms, 0);
    }

    /// `[approvals]` resolves its file against the spec, and its errors
    /// (unknown keys, `required`, the allowed_signers file) are located.
    #[test]
    fn approvals_table_is_checked_and_located() {
        let dir = tempfile::tempdir().unwrap();
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQUDZWhs8k/cZcykMkaUX8bLlgIlN5mFgFZ7b+DVw4 a";
        std::fs::write(
            dir.path().join("signers"),
            format!("alice@example.com {key}\n"),
        )
        .unwrap();
        let path = dir.path().join("web.toml");
        let parse = |table: &str| Spec::parse(&path, &format!("{BASE}\n[approvals]\n{table}"));

        let spec = parse("allowed_signers = \"signers\"\n").unwrap();
        let rules = spec.approvals.unwrap();
        assert_eq!(rules.allowed_signers, dir.path().join("signers"));
        assert_eq!((rules.required, rules.self_approval), (1, false));

        let err = parse("allowed_signers = \"signers\"\nrequired = 2\nself_aproval = true\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("web.toml:20:1: unknown key `self_aproval`"),
            "{err}"
        );
        assert!(err.contains("help: did you mean `self_approval`?"), "{err}");
        let err = parse("allowed_signers = \"signers\"\nrequired = 2\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("web.toml:19:1: `required = 2` but"), "{err}");
        assert!(err.contains("lists 1 principal"), "{err}");

        std::fs::write(
            dir.path().join("signers"),
            format!("alice@example.com nope {key}\n"),
        )
        .unwrap();
        let err = parse("allowed_signers = \"signers\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("signers:1:19: unknown option `nope`"), "{err}");
        let err = parse("allowed_signers = \"missing\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("web.toml:18:1:"), "{err}");
        assert!(
            err.contains("cannot read the allowed signers file"),
            "{err}"
        );
    }
}
