//! `Spec::parse`: each table is decoded with its spans by the policy loader's
//! decoder, then checked and normalised here. Every error carries the
//! file:line:col of the key it is about (or of its table) and, where there is
//! something to suggest, a `help:` line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use toml::Spanned;
use toml::de::DeValue;

use super::super::approvals::ApprovalRules;
use super::super::driver;
use super::super::store::postgres::DbUrl;
use super::raw::{
    RawAnalysis, RawApprovals, RawAudit, RawBlueGreen, RawCanary, RawHealth, RawHooks, RawMetrics,
    RawRolling, RawRollout, RawRouter, RawSide, RawStage, RawStrategy,
};
use super::{Pause, Preflight, Router, Side, Spec, SpecErrors, StrategyRef, parse_duration};
use gate_eval::policy::toml_spans::{
    Errors, Item, SourceFile, decode, entries_in_file_order, parse_toml, unknown_key,
};
use gate_eval::policy::{Origin, PolicyError, did_you_mean};
use gate_trust::AllowedSigners;

/// The top-level tables of a spec.
const KEYS: &[&str] = &[
    "rollout",
    "router",
    "stable",
    "candidate",
    "health",
    "canary",
    "blue_green",
    "rolling",
    "hooks",
    "analysis",
    "metrics",
    "approvals",
    "audit",
    "stage",
    "notify",
];

/// How long a PostgreSQL lease lasts unless `lease_ttl` says otherwise.
const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);
/// The shortest `lease_ttl`: renewals every third of it must stay possible.
const MIN_LEASE_TTL: Duration = Duration::from_secs(1);

pub(super) const DURATION_HELP: &str = "write a duration such as `500ms`, `5s`, `2m` or `1h`";

const BUILTIN_STRATEGIES: [&str; 3] = ["blue-green", "canary", "rolling"];

/// A decoded table, and where it and each of its keys were written.
pub(super) struct Located<T> {
    pub item: T,
    origin: Origin,
    keys: Vec<(String, Origin)>,
}

impl<T> Located<T> {
    /// Where `key` was written, or the table when it was not.
    pub fn at(&self, key: &str) -> &Origin {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map_or(&self.origin, |(_, o)| o)
    }
}

impl<T: Default> Located<T> {
    /// A table the spec leaves out: its defaults, located at the file's start.
    pub fn absent(origin: &Origin) -> Self {
        Located {
            item: T::default(),
            origin: origin.clone(),
            keys: Vec::new(),
        }
    }
}

/// The spec's tables as decoded; `clean` when decoding reported nothing.
#[derive(Default)]
struct Tables {
    rollout: Option<Located<RawRollout>>,
    router: Option<Located<RawRouter>>,
    stable: Option<Located<RawSide>>,
    candidate: Option<Located<RawSide>>,
    health: Option<Located<RawHealth>>,
    canary: Option<Located<RawCanary>>,
    blue_green: Option<Located<RawBlueGreen>>,
    rolling: Option<Located<RawRolling>>,
    hooks: Option<Located<RawHooks>>,
    analysis: Vec<Located<RawAnalysis>>,
    metrics: Vec<(String, Located<RawMetrics>)>,
    approvals: Option<Located<RawApprovals>>,
    audit: Option<Located<RawAudit>>,
    stages: Vec<Located<RawStage>>,
    notify: Vec<gate_notify::Rule>,
    clean: bool,
}

pub(super) struct Cx<'a> {
    pub src: &'a SourceFile,
    errors: Errors,
    /// The spec's directory: relative paths in it resolve against it.
    dir: PathBuf,
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Spec, SpecErrors> {
    let src = SourceFile::new(path.to_path_buf(), text.to_string());
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let mut cx = Cx {
        src: &src,
        errors: Errors::default(),
        dir,
    };
    cx.errors.note_file(path);
    let tables = cx.tables();
    // Checking what did not decode would only repeat its errors.
    let spec = if tables.clean { cx.build(tables) } else { None };
    match cx.errors.into_result(spec) {
        Ok(Some(spec)) => Ok(spec),
        Ok(None) => Err(SpecErrors::at(path, "the spec could not be read")),
        Err(e) => Err(e.into()),
    }
}

impl Cx<'_> {
    pub(super) fn error(&mut self, at: &Origin, message: impl Into<String>) {
        self.errors.push(PolicyError::at(at, message));
    }

    pub(super) fn error_help(
        &mut self,
        at: &Origin,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.errors
            .push(PolicyError::at(at, message).with_help(help));
    }

    pub(super) fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    pub(super) fn duration(
        &mut self,
        at: &Origin,
        value: Option<&str>,
        default: Duration,
    ) -> Duration {
        match value.map(parse_duration) {
            None => default,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                self.error_help(at, e, DURATION_HELP);
                default
            }
        }
    }

    /// `pause`: a duration, or `until-approved`.
    pub(super) fn pause(&mut self, at: &Origin, value: Option<&str>, default: Duration) -> Pause {
        let duration = |duration| Pause {
            duration,
            until_approved: false,
        };
        match value {
            None => duration(default),
            Some("until-approved") => Pause {
                duration: Duration::ZERO,
                until_approved: true,
            },
            Some(t) => match parse_duration(t) {
                Ok(d) => duration(d),
                Err(e) => {
                    self.error_help(at, e, "write a duration such as `30s`, or `until-approved`");
                    duration(Duration::ZERO)
                }
            },
        }
    }

    // ---- decoding ----------------------------------------------------------

    fn tables(&mut self) -> Tables {
        let mut t = Tables {
            clean: true,
            ..Tables::default()
        };
        let Some(root) = parse_toml(self.src, &mut self.errors) else {
            t.clean = false;
            return t;
        };
        for (key, value) in entries_in_file_order(&root) {
            let name: &str = key.get_ref();
            let what = format!("[{name}]");
            let clean = &mut t.clean;
            match name {
                "rollout" => t.rollout = self.table(value, &what, clean),
                "router" => t.router = self.table(value, &what, clean),
                "stable" => t.stable = self.table(value, &what, clean),
                "candidate" => t.candidate = self.table(value, &what, clean),
                "health" => t.health = self.table(value, &what, clean),
                "canary" => t.canary = self.table(value, &what, clean),
                "blue_green" | "blue-green" => t.blue_green = self.table(value, &what, clean),
                "rolling" => t.rolling = self.table(value, &what, clean),
                "hooks" => t.hooks = self.table(value, &what, clean),
                "analysis" => t.analysis = self.array_tables(value, "analysis", clean),
                "stage" => t.stages = self.array_tables(value, "stage", clean),
                "metrics" => t.metrics = self.metrics_tables(value, clean),
                "approvals" => t.approvals = self.table(value, &what, clean),
                "audit" => t.audit = self.table(value, &what, clean),
                "notify" => {
                    t.notify = gate_eval::policy::notify::decode_rules(
                        self.src,
                        value,
                        &gate_eval::policy::notify::SPEC_EVENTS,
                        &mut self.errors,
                    )
                }
                _ => {
                    let error = unknown_key(self.src, &key, "a rollout spec", KEYS);
                    self.errors.push(error);
                    t.clean = false;
                }
            }
        }
        t
    }

    fn table<T: Item>(
        &mut self,
        value: Spanned<DeValue<'_>>,
        what: &str,
        clean: &mut bool,
    ) -> Option<Located<T>> {
        let origin = self.src.origin_of(&value.span());
        let keys = match value.get_ref() {
            DeValue::Table(table) => entries_in_file_order(table)
                .into_iter()
                .map(|(k, _)| (k.get_ref().to_string(), self.src.origin_of(&k.span())))
                .collect(),
            _ => Vec::new(),
        };
        let decoded = decode::<T>(self.src, value, what, &mut self.errors);
        *clean &= decoded.clean;
        Some(Located {
            item: decoded.item?,
            origin,
            keys,
        })
    }

    /// `[[analysis]]`: an array of tables.
    /// `[[key]]`: an array of tables.
    fn array_tables<T: Item>(
        &mut self,
        value: Spanned<DeValue<'_>>,
        key: &str,
        clean: &mut bool,
    ) -> Vec<Located<T>> {
        let at = self.src.origin_of(&value.span());
        let what = format!("[[{key}]]");
        match value.into_inner() {
            DeValue::Array(items) => items
                .into_iter()
                .filter_map(|item| self.table(item, &what, clean))
                .collect(),
            other => {
                *clean = false;
                self.error_help(
                    &at,
                    format!(
                        "`{key}` must be an array of tables, found {}",
                        other.type_str()
                    ),
                    format!("write `{what}` with double brackets: a spec may have many"),
                );
                Vec::new()
            }
        }
    }

    /// `[metrics.NAME]`: a table of named tables.
    fn metrics_tables(
        &mut self,
        value: Spanned<DeValue<'_>>,
        clean: &mut bool,
    ) -> Vec<(String, Located<RawMetrics>)> {
        let at = self.src.origin_of(&value.span());
        let DeValue::Table(table) = value.into_inner() else {
            *clean = false;
            self.error_help(
                &at,
                "`metrics` must be a table of providers",
                "write one `[metrics.NAME]` table per provider, e.g. `[metrics.prom]`",
            );
            return Vec::new();
        };
        entries_in_file_order(&table)
            .into_iter()
            .filter_map(|(key, value)| {
                let name = key.get_ref().to_string();
                let what = format!("[metrics.{name}]");
                self.table(value, &what, clean).map(|t| (name, t))
            })
            .collect()
    }

    // ---- checking and normalising ------------------------------------------

    fn build(&mut self, t: Tables) -> Option<Spec> {
        let start = self.src.origin(0);
        let rollout = self.required(t.rollout, "rollout", "`name` and `strategy`")?;
        let router = self.required(t.router, "router", "`kind`, `admin_socket` and `backend`")?;
        let strategy = self.strategy(&rollout);
        let kind = strategy.kind().to_string();
        let router = self.router(router);
        let stable = t.stable.unwrap_or_else(|| Located::absent(&start));
        let candidate = t.candidate.unwrap_or_else(|| Located::absent(&start));
        self.sides(&kind, &stable, &candidate);
        let health = self.health(t.health.unwrap_or_else(|| Located::absent(&start)));
        let names: Vec<String> = t.analysis.iter().map(|a| a.item.name.clone()).collect();
        let canary = self.canary(&kind, t.canary);
        let blue_green = self.blue_green(&kind, t.blue_green, &names);
        let rolling = self.rolling(&kind, &rollout, t.rolling, &stable.item.servers);
        if kind == "rolling" && candidate.item.version.is_none() {
            self.error_help(
                candidate.at("version"),
                "a rolling update needs `[candidate] version` (passed to `start` as {version})",
                "e.g. `[candidate]` with `version = \"v2\"`",
            );
        }
        let hooks = self.hooks(t.hooks.unwrap_or_else(|| Located::absent(&start)));
        let metrics = self.metrics(t.metrics);
        let analysis = self.analyses(t.analysis, &metrics);
        let approvals = t.approvals.map(|a| self.approvals(a));
        let audit_dir = self.audit_dir(t.audit);
        let preflight = rollout.item.preflight.as_ref().map(|p| Preflight {
            policy: self.resolve(&p.policy),
            gate: p.gate.clone(),
        });
        let stages = self.stages(
            t.stages,
            preflight.as_ref(),
            rollout.at("preflight"),
            &names,
        );
        let (state_db, lease_ttl) = self.shared_state(&rollout);
        let RawRollout {
            name, state_dir, ..
        } = rollout.item;
        let side = |s: RawSide, default: &str| Side {
            servers: s.servers,
            version: s.version.unwrap_or_else(|| default.into()),
        };
        Some(Spec {
            file: self.src.path.clone(),
            digest: hex::encode(Sha256::digest(self.src.text.as_bytes())),
            name,
            strategy,
            state_dir: self.resolve(&state_dir.unwrap_or_else(|| PathBuf::from(".gate/state"))),
            state_db,
            lease_ttl,
            preflight,
            router,
            stable: side(stable.item, "stable"),
            candidate: side(candidate.item, "candidate"),
            health,
            canary,
            blue_green,
            rolling,
            hooks,
            analysis,
            metrics: metrics.into_iter().collect(),
            approvals,
            audit_dir,
            stages,
            notify: t.notify,
            dir: self.dir.clone(),
        })
    }

    /// `state = "postgres://…"` and its `lease_ttl`; `state` excludes `state_dir`.
    fn shared_state(&mut self, rollout: &Located<RawRollout>) -> (Option<DbUrl>, Duration) {
        let raw = &rollout.item;
        let ttl_at = rollout.at("lease_ttl").clone();
        let lease_ttl = self.duration(&ttl_at, raw.lease_ttl.as_deref(), DEFAULT_LEASE_TTL);
        if raw.lease_ttl.is_some() && raw.state.is_none() {
            self.error_help(
                &ttl_at,
                "`lease_ttl` applies to a rollout whose state is in PostgreSQL",
                "set `state = \"postgres://…\"` too, or remove `lease_ttl` (the file state is locked while its runner lives)",
            );
        } else if lease_ttl < MIN_LEASE_TTL {
            self.error_help(
                &ttl_at,
                format!(
                    "`lease_ttl` must be at least {} ms",
                    MIN_LEASE_TTL.as_millis()
                ),
                "the runner renews its lease every third of it; write e.g. `lease_ttl = \"15s\"`",
            );
        }
        let Some(text) = raw.state.as_deref() else {
            return (None, lease_ttl);
        };
        let at = rollout.at("state").clone();
        if raw.state_dir.is_some() {
            self.error_help(
                &at,
                "`state` and `state_dir` are both set",
                "keep one: `state = \"postgres://…\"` shares the rollout between machines, `state_dir` keeps it in files on this one",
            );
            return (None, lease_ttl);
        }
        match DbUrl::parse(text) {
            Ok(url) => (Some(url), lease_ttl),
            Err(e) => {
                let help = e.help();
                self.error_help(&at, format!("`state`: {e}"), help);
                (None, lease_ttl)
            }
        }
    }

    /// `[audit] dir`, else `.gate/audit` beside the spec (as for policies).
    fn audit_dir(&mut self, audit: Option<Located<RawAudit>>) -> PathBuf {
        let dir = audit.and_then(|a| {
            let at = a.at("dir").clone();
            match a.item.dir {
                Some(d) if d.as_os_str().is_empty() => {
                    self.error_help(
                        &at,
                        "`dir` is empty",
                        "name the audit directory, or remove `dir` for `.gate/audit` beside the spec",
                    );
                    None
                }
                d => d,
            }
        });
        self.resolve(&dir.unwrap_or_else(|| PathBuf::from(".gate/audit")))
    }

    fn required<T>(
        &mut self,
        table: Option<Located<T>>,
        name: &str,
        keys: &str,
    ) -> Option<Located<T>> {
        if table.is_none() {
            let at = self.src.origin(0);
            self.error_help(
                &at,
                format!("the spec has no [{name}] table"),
                format!("add a `[{name}]` table with {keys}"),
            );
        }
        table
    }

    /// `[rollout] name` and `strategy`.
    fn strategy(&mut self, rollout: &Located<RawRollout>) -> StrategyRef {
        let r = &rollout.item;
        if !valid_name(&r.name) {
            self.error_help(
                rollout.at("name"),
                "`name` must be non-empty letters, digits, `-`, `_` or `.`",
                "it names the state, lock and event files, e.g. `name = \"web\"`",
            );
        }
        match &r.strategy {
            RawStrategy::Name(n) => {
                if !BUILTIN_STRATEGIES.contains(&n.as_str()) {
                    let help = match did_you_mean(n, BUILTIN_STRATEGIES) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "a custom plugin is `strategy = { kind = \"…\", path = \"….wasm\", sha256 = \"…\" }`".into(),
                    };
                    self.error_help(
                        rollout.at("strategy"),
                        format!(
                            "unknown strategy `{n}`: expected `blue-green`, `canary`, `rolling`, or {{ path, sha256 }} for a plugin"
                        ),
                        help,
                    );
                }
                StrategyRef::Builtin(n.clone())
            }
            RawStrategy::Plugin { kind, path, sha256 } => StrategyRef::Custom {
                kind: kind.clone().unwrap_or_else(|| "custom".into()),
                path: self.resolve(path),
                sha256: sha256.clone(),
            },
        }
    }

    /// `[router]`, resolved against the driver registry.
    fn router(&mut self, router: Located<RawRouter>) -> Router {
        let timeout = self.duration(
            router.at("timeout"),
            router.item.timeout.as_deref(),
            Duration::from_secs(2),
        );
        let connect = driver::named(&router.item.kind).unwrap_or_else(|| {
            let known: Vec<&str> = driver::DRIVERS.iter().map(|(k, _)| *k).collect();
            self.error_help(
                router.at("kind"),
                format!("unknown router kind `{}`", router.item.kind),
                format!("known kinds: {}", known.join(", ")),
            );
            driver::DRIVERS[0].1
        });
        let r = router.item;
        Router {
            kind: r.kind,
            driver: connect,
            admin_socket: self.resolve(&r.admin_socket),
            backend: r.backend,
            timeout,
        }
    }
}

impl Cx<'_> {
    /// `[approvals]`: the allowed_signers file must parse (its errors are
    /// located in it) and list at least `required` principals.
    fn approvals(&mut self, a: Located<RawApprovals>) -> ApprovalRules {
        let path = self.resolve(&a.item.allowed_signers);
        let required = a.item.required.unwrap_or(1);
        if required == 0 {
            self.error_help(
                a.at("required"),
                "`required` must be at least 1",
                "the number of distinct principals who must sign each approval, e.g. `required = 2`",
            );
        }
        match AllowedSigners::load(&path) {
            Ok(signers) => {
                let mut principals: Vec<&str> = signers
                    .entries()
                    .iter()
                    .map(|e| e.principals.as_str())
                    .collect();
                principals.sort_unstable();
                principals.dedup();
                if (principals.len() as u64) < u64::from(required) {
                    self.error_help(
                        a.at("required"),
                        format!(
                            "`required = {required}` but {} lists {} principal{}",
                            path.display(),
                            principals.len(),
                            if principals.len() == 1 { "" } else { "s" }
                        ),
                        "add the approvers' keys to the allowed_signers file, or lower `required`",
                    );
                }
            }
            Err(errors) => {
                for e in &errors.0 {
                    self.errors.note_file(&e.file);
                    self.errors
                        .push(PolicyError::from_signers(e, a.at("allowed_signers")));
                }
            }
        }
        ApprovalRules {
            allowed_signers: path,
            required,
            self_approval: a.item.self_approval.unwrap_or(false),
        }
    }
}

pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
