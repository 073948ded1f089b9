//! A `migration` stage: an expand/contract operations file
//! (docs/migrations.md) that the rollout carries out on PostgreSQL with the
//! same engine as `gate migrate`. It expands before any traffic moves (the
//! stable version keeps its schema, the candidate gets the new version's),
//! completes when the rollout is promoted, and is rolled back when the
//! rollout is, once all traffic is back on stable.
//!
//! Every step is idempotent and acts only on this file's migration: a
//! migration of another name in progress on the database is never
//! completed or rolled back from here.

use std::path::PathBuf;
use std::time::Duration;

use gate_audit::entry::{Migrate, MigrateCommand, MigrationRef, Verdict};
use gate_core::clock::Clock;
use gate_eval::policy::{self, LoadOptions};
use gate_migrate::expand::state::{self, Record};
use gate_migrate::expand::{self, ExpandError, Options, Phase, ops};
use gate_migrate::version_flag::VersionFlag;
use gate_sandbox::postgres::Session;

/// Which database the migration runs on.
#[derive(Clone, Debug, PartialEq)]
pub enum Database {
    /// A policy's `[connections.NAME]` (its `url_env` holds the URL).
    Connection { policy: PathBuf, name: String },
    /// An environment variable holding the URL.
    UrlEnv(String),
}

/// A `kind = "migration"` stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Migration {
    /// The operations file, resolved against the spec's directory.
    pub file: PathBuf,
    pub database: Database,
    /// Rows per backfill batch.
    pub batch_size: u64,
    /// lock_timeout of each schema change and backfill batch.
    pub lock_timeout: Duration,
    /// The flagd flag that pins which version applications read, if any.
    pub flag: Option<VersionFlag>,
}

/// What a rollback of the stage did.
#[derive(Debug, PartialEq)]
pub enum Undone {
    /// The expand was rolled back; the detail says what is served.
    RolledBack(String),
    /// Nothing of this migration was in progress.
    NothingToUndo(String),
}

impl Migration {
    fn options(&self) -> Options {
        Options {
            lock_timeout: self.lock_timeout,
            retries: 10,
            batch_size: self.batch_size,
            pause: Duration::ZERO,
            rate: None,
        }
    }

    fn read(&self) -> Result<ops::MigrationFile, String> {
        ops::read(&self.file).map_err(|e| e.to_string())
    }

    /// The audit record written before `command` acts.
    pub fn audit(&self, command: MigrateCommand) -> Result<gate_audit::Record, String> {
        let file = self.read()?;
        Ok(gate_audit::Record::Migrate(Migrate {
            command,
            policy: None,
            migrations: vec![MigrationRef {
                path: file.path.display().to_string(),
                sha256: file.sha256,
            }],
            verdict: Verdict::Pass,
            checks: Vec::new(),
            findings: 0,
        }))
    }

    /// A session on the database; errors name the connection or the
    /// variable, never the URL.
    async fn session(&self, clock: Clock) -> Result<Session, String> {
        let (name, url) = match &self.database {
            Database::Connection { policy, name } => {
                let loaded = policy::load(policy, &LoadOptions::at(clock.now()))
                    .map_err(|e| format!("policy {}: {e}", policy.display()))?;
                let url = gate_sandbox::postgres::url(&loaded.connections, name)
                    .map_err(|e| e.to_string())?;
                (name.clone(), url)
            }
            Database::UrlEnv(var) => match std::env::var(var) {
                Ok(url) if !url.is_empty() => (var.clone(), url),
                _ => {
                    return Err(format!(
                        "environment variable {var} is not set: it holds the URL of the database to migrate"
                    ));
                }
            },
        };
        gate_sandbox::postgres::connect(&name, &url)
            .await
            .map_err(|e| e.to_string())
    }

    /// This file's migration as the database records it, if it ran.
    async fn recorded(&self, session: &Session, name: &str) -> Result<Option<Record>, String> {
        if !state::exists(&session.client)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(None);
        }
        state::get(&session.client, name)
            .await
            .map_err(|e| e.to_string())
    }

    /// Expands, backfills and validates (resuming an earlier run of the
    /// same file). The detail names both versions' schemas.
    pub async fn start(&self, clock: Clock) -> Result<String, String> {
        let file = self.read()?;
        let mut session = self.session(clock).await?;
        let mut events = |_: expand::run::Event| {};
        let record = expand::start(&mut session.client, &file, &self.options(), &mut events)
            .await
            .map_err(|e| describe(&file.name, e))?;
        if let Some(flag) = &self.flag {
            flag.expanded(&record.old_version, &record.new_version)
                .map_err(|e| e.to_string())?;
        }
        Ok(format!(
            "migration {} {}: old version search_path = {}, new version search_path = {}",
            record.name, record.phase, record.old_version, record.new_version
        ))
    }

    /// Validates and contracts; a migration already contracted passes.
    pub async fn complete(&self, clock: Clock) -> Result<String, String> {
        let file = self.read()?;
        let mut session = self.session(clock).await?;
        match self.recorded(&session, &file.name).await? {
            Some(r) if r.phase == Phase::Contracted => {
                return Ok(format!(
                    "migration {} contracted: the only version is search_path = {}",
                    r.name, r.new_version
                ));
            }
            Some(r) if r.phase.active() => {}
            Some(r) => {
                return Err(format!(
                    "migration {} is {}, not in progress: nothing to complete",
                    r.name, r.phase
                ));
            }
            None => return Err(format!("migration {} was never started", file.name)),
        }
        if let Some(flag) = &self.flag {
            flag.ready_to_complete().map_err(|e| e.to_string())?;
        }
        let record = expand::complete(&mut session.client, &self.options())
            .await
            .map_err(|e| describe(&file.name, e))?;
        if let Some(flag) = &self.flag {
            flag.settled(&record.new_version, "new")
                .map_err(|e| e.to_string())?;
        }
        Ok(format!(
            "migration {} contracted: the only version is search_path = {}",
            record.name, record.new_version
        ))
    }

    /// Whether this file's migration (same name, same contents) is in
    /// progress on the database.
    pub async fn in_progress(&self, clock: Clock) -> Result<bool, String> {
        let file = self.read()?;
        let session = self.session(clock).await?;
        Ok(self
            .recorded(&session, &file.name)
            .await?
            .is_some_and(|r| r.phase.active() && r.file_sha256 == file.sha256))
    }

    /// Rolls back this file's migration if it is in progress; a migration
    /// of another name, or started from another version of the file, is
    /// left alone.
    pub async fn rollback(&self, clock: Clock) -> Result<Undone, String> {
        let file = self.read()?;
        let mut session = self.session(clock).await?;
        match self.recorded(&session, &file.name).await? {
            Some(r) if r.phase.active() && r.file_sha256 == file.sha256 => {}
            Some(r) if r.phase.active() => {
                return Ok(Undone::NothingToUndo(format!(
                    "migration {} in progress was started from another version of {}: left alone",
                    r.name, r.file
                )));
            }
            Some(r) => {
                return Ok(Undone::NothingToUndo(format!(
                    "migration {} is {}: nothing to roll back",
                    r.name, r.phase
                )));
            }
            None => {
                return Ok(Undone::NothingToUndo(format!(
                    "migration {} was not started",
                    file.name
                )));
            }
        }
        let record = expand::rollback(&mut session.client, &self.options())
            .await
            .map_err(|e| describe(&file.name, e))?;
        if let Some(flag) = &self.flag {
            flag.settled(&record.old_version, "old")
                .map_err(|e| format!("{} rolled back, but {e}", record.name))?;
        }
        Ok(Undone::RolledBack(format!(
            "migration {} rolled back: the only version is search_path = {}",
            record.name, record.old_version
        )))
    }
}

fn describe(name: &str, e: ExpandError) -> String {
    match e {
        ExpandError::Validation(f) => format!("migration {name}: validation failed: {f}"),
        e => format!("migration {name}: {e}"),
    }
}
