//! `[[stage]]`: the pipeline's stages, checked and normalised
//! ([`crate::pipeline`] owns their meaning and order rules).

use std::collections::HashSet;
use std::time::Duration;

use gate_eval::policy::Origin;

use gate_migrate::expand::ops;
use gate_migrate::version_flag::VersionFlag;

use super::super::migration::{Database, Migration};
use super::super::pipeline::{self, Stage, StageKind};
use super::Preflight;
use super::parse::{Cx, Located};
use super::raw::RawStage;

const KINDS: &str = "`gate`, `migration`, `approval`, `rollout` or `verify`";

impl Cx<'_> {
    /// The declared stages, or the implicit ones when there are none.
    pub(super) fn stages(
        &mut self,
        tables: Vec<Located<RawStage>>,
        preflight: Option<&Preflight>,
        preflight_at: &Origin,
        analyses: &[String],
    ) -> Vec<Stage> {
        if tables.is_empty() {
            return pipeline::implicit(preflight);
        }
        if preflight.is_some() {
            self.error_help(
                preflight_at,
                "`preflight` and `[[stage]]` cannot both be set",
                "declare the pre-flight gate as a `[[stage]]` with `kind = \"gate\"`",
            );
        }
        let mut seen = HashSet::new();
        let mut stages = Vec::new();
        let mut origins = Vec::new();
        for t in tables {
            if !seen.insert(t.item.name.clone()) {
                let message = format!("duplicate stage `{}`", t.item.name);
                self.error_help(t.at("name"), message, "give every stage a name of its own");
            }
            if let Some(kind) = self.stage_kind(&t, analyses) {
                origins.push(t.at("kind").clone());
                stages.push(Stage {
                    name: t.item.name,
                    kind,
                });
            }
        }
        if let Some((i, message)) = pipeline::order_error(&stages) {
            let at = origins.get(i).or(origins.last()).cloned();
            if let Some(at) = at {
                self.error_help(
                    &at,
                    message,
                    "order the stages: gates, migration, approval, rollout, verify",
                );
            }
        }
        stages
    }

    fn stage_kind(&mut self, t: &Located<RawStage>, analyses: &[String]) -> Option<StageKind> {
        let s = &t.item;
        let allowed: &[&str] = match s.kind.as_str() {
            "gate" => &["policy", "gate"],
            "migration" => &[
                "file",
                "policy",
                "connection",
                "url_env",
                "batch_size",
                "lock_timeout",
                "flagd",
                "flag",
            ],
            "verify" => &["duration", "analysis"],
            _ => &[],
        };
        for key in s.keys_set().into_iter().filter(|k| !allowed.contains(k)) {
            let message = format!("`{key}` does not apply to a `{}` stage", s.kind);
            self.error_help(t.at(key), message, "remove it, or change `kind`");
        }
        match s.kind.as_str() {
            "gate" => self.gate_stage(t),
            "migration" => self.migration_stage(t),
            "approval" => Some(StageKind::Approval),
            "rollout" => Some(StageKind::Rollout),
            "verify" => Some(self.verify_stage(t, analyses)),
            other => {
                let message = format!("unknown stage kind `{other}`");
                self.error_help(t.at("kind"), message, format!("write {KINDS}"));
                None
            }
        }
    }

    /// A `migration` stage: the operations file must parse now, so a bad
    /// file stops the spec before anything runs.
    fn migration_stage(&mut self, t: &Located<RawStage>) -> Option<StageKind> {
        let s = &t.item;
        let Some(file) = &s.file else {
            self.error_help(
                t.at("kind"),
                "a `migration` stage needs `file`: the operations file to run",
                "e.g. `file = \"../migrations/add_email.toml\"` (docs/migrations.md)",
            );
            return None;
        };
        let file = self.resolve(file);
        if let Err(e) = ops::read(&file) {
            self.error(t.at("file"), format!("bad operations file: {e}"));
            return None;
        }
        let database = match (&s.policy, &s.connection, &s.url_env) {
            (Some(policy), Some(name), None) => Database::Connection {
                policy: self.resolve(policy),
                name: name.clone(),
            },
            (None, None, url_env) => {
                Database::UrlEnv(url_env.clone().unwrap_or_else(|| "DATABASE_URL".into()))
            }
            _ => {
                self.error_help(
                    t.at("kind"),
                    "a `migration` stage names its database with `policy` and `connection`, or with `url_env`",
                    "e.g. `policy = \"../policies/production.toml\"` and `connection = \"app\"`, or `url_env = \"DATABASE_URL\"`",
                );
                return None;
            }
        };
        let batch_size = s.batch_size.unwrap_or(1000);
        if !(1..=1_000_000).contains(&batch_size) {
            self.error(t.at("batch_size"), "`batch_size` is 1 to 1000000 rows");
        }
        let lock_timeout = self.duration(
            t.at("lock_timeout"),
            s.lock_timeout.as_deref(),
            Duration::from_secs(2),
        );
        let flag = match (&s.flagd, &s.flag) {
            (Some(file), Some(key)) => Some(VersionFlag {
                file: self.resolve(file),
                key: key.clone(),
            }),
            (None, None) => None,
            (Some(_), None) => {
                self.error(
                    t.at("flagd"),
                    "`flagd` needs `flag`: the flag's key in the file",
                );
                None
            }
            (None, Some(_)) => {
                self.error(
                    t.at("flag"),
                    "`flag` needs `flagd`: the flagd file that holds it",
                );
                None
            }
        };
        Some(StageKind::Migration(Migration {
            file,
            database,
            batch_size,
            lock_timeout,
            flag,
        }))
    }

    fn gate_stage(&mut self, t: &Located<RawStage>) -> Option<StageKind> {
        let Some(policy) = &t.item.policy else {
            self.error_help(
                t.at("kind"),
                "a `gate` stage needs `policy`",
                "e.g. `policy = \"../policies/production.toml\"` (and optionally `gate = \"security\"`)",
            );
            return None;
        };
        Some(StageKind::Gate(Preflight {
            policy: self.resolve(policy),
            gate: t.item.gate.clone(),
        }))
    }

    fn verify_stage(&mut self, t: &Located<RawStage>, analyses: &[String]) -> StageKind {
        let duration = self.duration(
            t.at("duration"),
            t.item.duration.as_deref(),
            Duration::from_secs(300),
        );
        let analysis = t.item.analysis.clone().unwrap_or_default();
        if analysis.is_empty() {
            self.error_help(
                t.at("analysis"),
                "a `verify` stage needs `analysis`: the analyses that must keep passing after promotion",
                "name one or more `[[analysis]]` tables, e.g. `analysis = [\"error-rate\"]`",
            );
        }
        for name in &analysis {
            if !analyses.contains(name) {
                let message = format!("`{name}` is not an `[[analysis]]` of this spec");
                let help = format!("define it, or use one of: {}", analyses.join(", "));
                self.error_help(t.at("analysis"), message, help);
            }
        }
        StageKind::Verify { duration, analysis }
    }
}
