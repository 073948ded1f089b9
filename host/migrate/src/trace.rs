//! `gate migrate trace`: applies migrations to a scratch PostgreSQL inside
//! one transaction (rolled back unless `--commit`) and observes, after each
//! statement, what it did to the database:
//!
//! - the locks it took (`pg_locks` of the backend's own pid, diffed against
//!   the previous statement's), and which of them block reads or writes;
//! - table rewrites (the table's `relfilenode` changed);
//! - constraints left `NOT VALID` (`pg_constraint.convalidated = false`);
//! - the `lock_timeout` in force, and whether the migration set one itself.
//!
//! Statements PostgreSQL refuses inside a transaction (CONCURRENTLY, VACUUM,
//! CREATE DATABASE, `ALTER TYPE … ADD VALUE` before 12, …) are listed as not
//! traced. `--verify-down` applies each up and then its down, and compares a
//! catalog snapshot of the schema with the one taken before the up.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, SimpleQueryMessage};

use super::layout::{Migration, Script};
use super::lint::{CheckTime, Context, MigrateError, check_report, report};
use gate_core::model::{Location, Severity, Status};
use gate_eval::policy::{Connection, Policy};
use gate_eval::report::{FindingReport, Report};
use gate_sandbox::postgres::db_error;

#[derive(Clone, Debug)]
pub struct TraceOptions {
    /// `[connections.NAME]`; must be `scratch = true`.
    pub connection: String,
    pub commit: bool,
    pub verify_down: bool,
    /// Set with `SET LOCAL lock_timeout` at the start of the transaction.
    pub lock_timeout: Duration,
}

/// Lock modes that conflict with plain reads (SELECT takes AccessShareLock).
const BLOCKS_READS: &[&str] = &["AccessExclusiveLock"];
/// Lock modes that conflict with INSERT/UPDATE/DELETE (RowExclusiveLock).
const BLOCKS_WRITES: &[&str] = &[
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
];

/// Objects created by CREATE EXTENSION are the extension's, reported once as
/// `extension NAME`, not one by one.
const NOT_EXTENSION_MEMBER_C: &str = "NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid AND x.deptype = 'e')";
const NOT_EXTENSION_MEMBER_P: &str = "NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_proc'::regclass AND x.objid = p.oid AND x.deptype = 'e')";

const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'";

/// Runs the trace and builds the report (gate `trace`, check `trace`).
pub async fn trace(
    policy: &Policy,
    migrations: &[Migration],
    options: &TraceOptions,
    ctx: &Context,
) -> Result<Report, MigrateError> {
    let started = Instant::now();
    let findings =
        trace_findings(&policy.connections, &ctx.policy_file, migrations, options).await?;
    let title = format!(
        "Trace on `{}` ({})",
        options.connection,
        if options.commit {
            "committed"
        } else {
            "rolled back"
        }
    );
    let check = check_report(
        "migrations.trace",
        &title,
        "gate",
        findings,
        CheckTime {
            duration: started.elapsed(),
            host_time: Duration::ZERO,
            instances: 1,
        },
    );
    Ok(report(ctx, "trace", vec![check], started))
}

/// The trace's findings, one per statement (plus down verification and
/// constraints left NOT VALID). `policy_file` names the policy in messages.
pub async fn trace_findings(
    connections: &BTreeMap<String, Connection>,
    policy_file: &str,
    migrations: &[Migration],
    options: &TraceOptions,
) -> Result<Vec<FindingReport>, MigrateError> {
    let name = &options.connection;
    let Some(conn) = connections.get(name) else {
        let known: Vec<&str> = connections.keys().map(String::as_str).collect();
        return Err(MigrateError::Config(format!(
            "no connection named `{name}` in {}; define [connections.{name}] (connections: {})",
            policy_file,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    };
    if !conn.scratch {
        return Err(MigrateError::Config(format!(
            "{}: connection `{name}` is not marked `scratch = true`; `gate migrate trace` \
             writes to the database it traces (even when it rolls back), so it only runs on \
             scratch databases. Add `scratch = true` under [connections.{name}] if this \
             database may be written to.",
            conn.origin
        )));
    }
    // The scratch database is the host's to write to, not a plugin's: its
    // role is not held to the least privilege of plugins' sessions.
    let url = gate_sandbox::postgres::url_of(conn, name)?;
    let session = gate_sandbox::postgres::connect(name, &url).await?;
    let client = &session.client;
    let result = Tracer {
        client,
        options,
        server_major: 0,
        findings: Vec::new(),
        not_valid_seen: BTreeSet::new(),
        deferred: Vec::new(),
    }
    .run(migrations)
    .await;
    drop(session);
    result
}

struct Tracer<'a> {
    client: &'a Client,
    options: &'a TraceOptions,
    server_major: u32,
    findings: Vec<FindingReport>,
    /// Constraints not validated after the previous statement.
    not_valid_seen: BTreeSet<String>,
    /// With `--commit`: statements not traced, applied after the commit
    /// outside a transaction, in order.
    deferred: Vec<(Script, u32, String)>,
}

/// A lock held by this backend on a relation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Lock {
    oid: String,
    relation: String,
    mode: String,
}

impl Tracer<'_> {
    async fn rows(&self, sql: &str) -> Result<Vec<Vec<String>>, MigrateError> {
        let messages =
            self.client.simple_query(sql).await.map_err(|e| {
                MigrateError::Config(format!("trace query failed: {}", db_error(&e)))
            })?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).unwrap_or("").to_string())
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    async fn exec(&self, sql: &str) -> Result<(), MigrateError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| MigrateError::Config(format!("`{sql}`: {}", db_error(&e))))
    }

    async fn locks(&self) -> Result<BTreeSet<Lock>, MigrateError> {
        let sql = format!(
            "SELECT l.relation::text, coalesce(n.nspname || '.' || c.relname, l.relation::text), l.mode \
             FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation \
             LEFT JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' \
             AND (n.nspname IS NULL OR ({USER_SCHEMAS}))"
        );
        Ok(self
            .rows(&sql)
            .await?
            .into_iter()
            .map(|r| Lock {
                oid: r[0].clone(),
                relation: r[1].clone(),
                mode: r[2].clone(),
            })
            .collect())
    }

    /// oid → (name, relkind, relfilenode) of user relations.
    async fn relations(&self) -> Result<BTreeMap<String, (String, String, String)>, MigrateError> {
        let sql = format!(
            "SELECT c.oid::text, n.nspname || '.' || c.relname, c.relkind::text, c.relfilenode::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'm', 'i', 'p', 'S', 'v', 't') AND {USER_SCHEMAS}"
        );
        Ok(self
            .rows(&sql)
            .await?
            .into_iter()
            .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone(), r[3].clone())))
            .collect())
    }

    /// `table.constraint` of every constraint not validated.
    async fn not_valid(&self) -> Result<BTreeSet<String>, MigrateError> {
        let sql = format!(
            "SELECT n.nspname || '.' || coalesce(r.relname, t.typname, '') || '.' || c.conname \
             FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
             LEFT JOIN pg_class r ON r.oid = c.conrelid LEFT JOIN pg_type t ON t.oid = c.contypid \
             WHERE NOT c.convalidated AND {USER_SCHEMAS}"
        );
        Ok(self
            .rows(&sql)
            .await?
            .into_iter()
            .map(|r| r[0].clone())
            .collect())
    }

    /// A catalog snapshot of the user schema: tables, columns with types,
    /// nullability and defaults, indexes, constraints, views, sequences,
    /// types and functions, one line each.
    async fn schema(&self) -> Result<BTreeSet<String>, MigrateError> {
        let queries = [
            format!(
                "SELECT 'table ' || n.nspname || '.' || c.relname FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER_C}"
            ),
            format!(
                "SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || \
                 format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END || \
                 coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm') AND {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER_C}"
            ),
            format!(
                "SELECT 'index ' || n.nspname || '.' || c.relname || ': ' || pg_get_indexdef(c.oid) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('i', 'I') AND {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER_C}"
            ),
            format!(
                "SELECT 'constraint ' || n.nspname || '.' || coalesce(r.relname, t.typname, '') || '.' || c.conname || ': ' || \
                 pg_get_constraintdef(c.oid) || CASE WHEN c.convalidated THEN '' ELSE ' (not valid)' END \
                 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
                 LEFT JOIN pg_class r ON r.oid = c.conrelid LEFT JOIN pg_type t ON t.oid = c.contypid WHERE {USER_SCHEMAS}"
            ),
            format!(
                "SELECT 'view ' || n.nspname || '.' || c.relname || ': ' || pg_get_viewdef(c.oid) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER_C}"
            ),
            format!(
                "SELECT 'sequence ' || n.nspname || '.' || c.relname FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER_C}"
            ),
            format!(
                "SELECT 'type ' || n.nspname || '.' || t.typname || ' ' || t.typtype::text || \
                 coalesce(' (' || (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')', '') \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE t.typtype IN ('e', 'd', 'r') AND {USER_SCHEMAS} AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass AND x.objid = t.oid AND x.deptype = 'e')"
            ),
            format!(
                "SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p \
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER_P}"
            ),
            format!(
                "SELECT 'extension ' || e.extname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
                 WHERE e.extname <> 'plpgsql' AND ({USER_SCHEMAS} OR n.nspname = 'pg_catalog')"
            ),
        ];
        let mut out = BTreeSet::new();
        for q in &queries {
            out.extend(self.rows(q).await?.into_iter().map(|r| r[0].clone()));
        }
        Ok(out)
    }

    async fn run(mut self, migrations: &[Migration]) -> Result<Vec<FindingReport>, MigrateError> {
        let version = self.rows("SHOW server_version_num").await?;
        self.server_major = version
            .first()
            .and_then(|r| r[0].parse::<u32>().ok())
            .map_or(0, |v| v / 10000);
        // With --commit every migration runs in its own transaction, as the
        // migration tools do, so each one's locks are exact. Without it, one
        // transaction holds everything until the final rollback.
        let per_migration = self.options.commit;
        let ms = self.options.lock_timeout.as_millis();
        let set_timeout = format!("SET lock_timeout = '{ms}ms'");
        self.exec(&set_timeout).await?;
        let gate_timeout = self.rows("SHOW lock_timeout").await?[0][0].clone();
        self.not_valid_seen = self.not_valid().await?;
        if !per_migration {
            self.exec("BEGIN").await?;
        }
        let mut aborted = false;
        for m in migrations {
            if aborted {
                self.push(
                    &m.up,
                    m.up.first_line,
                    "not-traced",
                    Status::Skip,
                    "not traced: an earlier statement failed and the transaction was aborted"
                        .into(),
                    BTreeMap::new(),
                );
                continue;
            }
            if per_migration {
                self.exec("BEGIN").await?;
            }
            // Each migration starts from gate's lock_timeout, whatever an
            // earlier one set.
            self.exec(&set_timeout).await?;
            let before = if self.options.verify_down {
                Some(self.schema().await?)
            } else {
                None
            };
            aborted = !self.trace_script(&m.up, &gate_timeout).await?;
            if aborted {
                if per_migration {
                    self.exec("ROLLBACK").await?;
                }
                continue;
            }
            if let Some(before) = before {
                self.verify_down(m, &before).await?;
            }
            if per_migration {
                self.exec("COMMIT").await?;
                aborted = !self.apply_deferred().await?;
            }
        }
        // Constraints still NOT VALID once every migration ran.
        if !aborted {
            for c in self.not_valid().await? {
                let at = migrations.last().map(|m| &m.up);
                if let Some(script) = at {
                    let mut evidence = BTreeMap::new();
                    evidence.insert("not_valid".to_string(), c.clone());
                    self.findings.push(FindingReport {
                        rule: Some("not-valid-at-end".into()),
                        subject: c.clone(),
                        status: Status::Warn,
                        severity: Severity::Low,
                        message: format!(
                            "constraint {c} is still NOT VALID after the last migration; validate it \
                             (ALTER TABLE … VALIDATE CONSTRAINT) in a later migration"
                        ),
                        evidence,
                        remediation: None,
                        location: Some(Location {
                            file: script.path.clone(),
                            line: None,
                            column: None,
                        }),
                        exemption: None,
                    });
                }
            }
        }
        if !per_migration {
            self.exec("ROLLBACK").await?;
        }
        Ok(self.findings)
    }

    /// With --commit: the statements a migration could not run inside its
    /// transaction, applied after its commit. False when one failed.
    async fn apply_deferred(&mut self) -> Result<bool, MigrateError> {
        for (script, line, sql) in std::mem::take(&mut self.deferred) {
            let mut evidence = BTreeMap::new();
            evidence.insert(
                "statement".to_string(),
                super::plan::one_line(&gate_sqlkit::collapse(&sql, 200)),
            );
            match self.client.batch_execute(&sql).await {
                Ok(()) => self.push(
                    &script,
                    line,
                    "applied-after-commit",
                    Status::Pass,
                    "--commit: applied after the migration's commit, outside a transaction (not traced)"
                        .into(),
                    evidence,
                ),
                Err(e) => {
                    evidence.insert("error".into(), db_error(&e));
                    self.push(
                        &script,
                        line,
                        "statement-failed",
                        Status::Fail,
                        format!(
                            "--commit: the statement failed outside the transaction: {}",
                            db_error(&e)
                        ),
                        evidence,
                    );
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn push(
        &mut self,
        script: &Script,
        line: u32,
        rule: &str,
        status: Status,
        message: String,
        evidence: BTreeMap<String, String>,
    ) {
        let severity = match status {
            Status::Fail | Status::Error => Severity::High,
            Status::Warn => Severity::Medium,
            _ => Severity::Info,
        };
        self.findings.push(FindingReport {
            rule: Some(rule.to_string()),
            subject: script.path.clone(),
            status,
            severity,
            message,
            evidence,
            remediation: None,
            location: Some(Location {
                file: script.path.clone(),
                line: Some(line),
                column: None,
            }),
            exemption: None,
        });
    }

    /// Why PostgreSQL would refuse `tokens` inside a transaction block.
    fn not_transactional(&self, tokens: &[gate_sqlkit::Token]) -> Option<&'static str> {
        let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        let has = |w: &str| tokens.iter().any(|t| t.is(w));
        match words.as_slice() {
            ["CREATE", ..] | ["DROP", ..] | ["REINDEX", ..] if has("CONCURRENTLY") => {
                Some("CONCURRENTLY cannot run inside a transaction block")
            }
            ["REINDEX", "SYSTEM" | "DATABASE", ..] => {
                Some("REINDEX DATABASE/SYSTEM cannot run inside a transaction block")
            }
            ["VACUUM", ..] => Some("VACUUM cannot run inside a transaction block"),
            ["CREATE" | "DROP", "DATABASE" | "TABLESPACE", ..] => {
                Some("CREATE/DROP DATABASE and TABLESPACE cannot run inside a transaction block")
            }
            ["ALTER", "SYSTEM", ..] => Some("ALTER SYSTEM cannot run inside a transaction block"),
            ["CREATE", "SUBSCRIPTION", ..] | ["DROP", "SUBSCRIPTION", ..] => {
                Some("subscriptions cannot be created or dropped inside a transaction block")
            }
            ["ALTER", "TYPE", ..] if has("ADD") && has("VALUE") && self.server_major < 12 => Some(
                "ALTER TYPE … ADD VALUE cannot run inside a transaction block before PostgreSQL 12",
            ),
            _ => None,
        }
    }

    /// Traces one script's statements; false when one failed (the
    /// transaction is then aborted).
    async fn trace_script(
        &mut self,
        script: &Script,
        gate_timeout: &str,
    ) -> Result<bool, MigrateError> {
        let split = gate_sqlkit::split(&script.contents);
        let offset = script.first_line.max(1) - 1;
        let mut state = ScriptState::start(self, gate_timeout).await?;
        for stmt in &split.statements {
            let line = stmt.line + offset;
            let tokens = stmt.tokens();
            let mut evidence = BTreeMap::new();
            evidence.insert(
                "statement".to_string(),
                super::plan::one_line(&stmt.collapsed(200)),
            );
            if gate_sqlkit::transaction_control(&tokens).is_some() {
                let first = tokens.first().map(|t| t.text.as_str()).unwrap_or("");
                self.push(
                    script,
                    line,
                    "transaction-control",
                    Status::Skip,
                    format!("{first} skipped: gate runs the migrations in its own transaction"),
                    evidence,
                );
            } else if let Some(why) = self.not_transactional(&tokens) {
                self.not_traced(script, line, stmt, why, evidence);
            } else if !self
                .trace_statement(script, line, stmt, &tokens, &mut state, evidence)
                .await?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Reports a statement PostgreSQL refuses inside a transaction; with
    /// `--commit` it is kept to run after the migration's commit.
    fn not_traced(
        &mut self,
        script: &Script,
        line: u32,
        stmt: &gate_sqlkit::Statement,
        why: &'static str,
        mut evidence: BTreeMap<String, String>,
    ) {
        evidence.insert("not_traced".into(), why.into());
        self.push(
            script,
            line,
            "not-traced",
            Status::Warn,
            format!(
                "not traced: {why}; {}, so its locks and duration are unknown",
                if self.options.commit {
                    "with --commit it is applied after the commit, outside a transaction"
                } else {
                    "it was not applied"
                }
            ),
            evidence,
        );
        if self.options.commit {
            self.deferred
                .push((script.clone(), line, stmt.text.clone()));
        }
    }

    /// Runs one statement and reports what it did; false when it failed.
    async fn trace_statement(
        &mut self,
        script: &Script,
        line: u32,
        stmt: &gate_sqlkit::Statement,
        tokens: &[gate_sqlkit::Token],
        state: &mut ScriptState,
        mut evidence: BTreeMap<String, String>,
    ) -> Result<bool, MigrateError> {
        let before = self.relations().await?;
        let started = Instant::now();
        if let Err(e) = self.client.batch_execute(&stmt.text).await {
            evidence.insert("error".into(), db_error(&e));
            self.push(
                script,
                line,
                "statement-failed",
                Status::Fail,
                format!("the statement failed: {}", db_error(&e)),
                evidence,
            );
            return Ok(false);
        }
        let elapsed = started.elapsed();
        state.own_timeout |= sets_lock_timeout(stmt, tokens);
        let now = self.locks().await?;
        let after = self.relations().await?;
        let not_valid_now = self.not_valid().await?;
        let timeout = self.rows("SHOW lock_timeout").await?[0][0].clone();
        if timeout != state.gate_timeout {
            state.own_timeout = true;
        }
        let effect = Effect {
            taken: taken_locks(&now, &state.held, &before, &state.relations_at_start),
            rewritten: rewritten(&before, &after),
            not_valid: not_valid_now
                .difference(&self.not_valid_seen)
                .cloned()
                .collect(),
            already: already_held(&state.inherited, tokens),
        };
        self.not_valid_seen = not_valid_now;
        let verdict = effect.verdict(&state.relations_at_start, state.own_timeout);
        evidence.insert("locks".into(), join_or_none(&verdict.lock_text));
        evidence.insert("blocks".into(), join_or_none(&verdict.blocks));
        evidence.insert("rewrite".into(), join_or_none(&effect.rewritten));
        evidence.insert("not_valid".into(), join_or_none(&effect.not_valid));
        evidence.insert(
            "lock_timeout".into(),
            format!(
                "{timeout} ({})",
                if state.own_timeout {
                    "set by the migration"
                } else {
                    "set by gate only"
                }
            ),
        );
        evidence.insert("duration_ms".into(), elapsed.as_millis().to_string());
        if !effect.already.is_empty() {
            evidence.insert("already_held".into(), effect.already.join(", "));
        }
        self.push(
            script,
            line,
            verdict.rule,
            verdict.status,
            verdict.message,
            evidence,
        );
        state.held = now;
        Ok(true)
    }

    /// Applies `m`'s down inside a savepoint, compares the schema with
    /// `before`, then rolls the down back so later migrations see the up.
    async fn verify_down(
        &mut self,
        m: &Migration,
        before: &BTreeSet<String>,
    ) -> Result<(), MigrateError> {
        let Some(down) = &m.down else {
            self.push(
                &m.up,
                m.up.first_line,
                "no-down-migration",
                Status::Warn,
                format!(
                    "--verify-down: {} has no down migration to verify",
                    m.up.path
                ),
                BTreeMap::new(),
            );
            return Ok(());
        };
        self.exec("SAVEPOINT gate_verify_down").await?;
        let split = gate_sqlkit::split(&down.contents);
        let offset = down.first_line.max(1) - 1;
        for stmt in &split.statements {
            let tokens = stmt.tokens();
            if gate_sqlkit::transaction_control(&tokens).is_some()
                || self.not_transactional(&tokens).is_some()
            {
                continue;
            }
            if let Err(e) = self.client.batch_execute(&stmt.text).await {
                let mut evidence = BTreeMap::new();
                evidence.insert(
                    "statement".into(),
                    super::plan::one_line(&stmt.collapsed(200)),
                );
                evidence.insert("error".into(), db_error(&e));
                self.push(
                    down,
                    stmt.line + offset,
                    "down-failed",
                    Status::Fail,
                    format!("the down migration failed: {}", db_error(&e)),
                    evidence,
                );
                self.exec("ROLLBACK TO SAVEPOINT gate_verify_down").await?;
                return Ok(());
            }
        }
        let after = self.schema().await?;
        let missing: Vec<&String> = before.difference(&after).collect();
        let extra: Vec<&String> = after.difference(before).collect();
        if missing.is_empty() && extra.is_empty() {
            self.push(
                down,
                down.first_line,
                "down-verified",
                Status::Pass,
                format!(
                    "up then down leaves the schema as it was before {}",
                    m.up.path
                ),
                BTreeMap::new(),
            );
        } else {
            for (what, items) in [
                ("missing after up + down", &missing),
                ("left behind by up + down", &extra),
            ] {
                for item in items.iter() {
                    let mut evidence = BTreeMap::new();
                    evidence.insert("difference".into(), what.to_string());
                    evidence.insert("object".into(), item.to_string());
                    self.push(
                        down,
                        down.first_line,
                        "down-mismatch",
                        Status::Fail,
                        format!("the down migration does not restore the schema: {what}: {item}"),
                        evidence,
                    );
                }
            }
        }
        self.exec("ROLLBACK TO SAVEPOINT gate_verify_down").await?;
        self.exec("RELEASE SAVEPOINT gate_verify_down").await?;
        Ok(())
    }
}

/// Lock modes from weakest to strongest.
fn mode_rank(mode: &str) -> usize {
    [
        "AccessShareLock",
        "RowShareLock",
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ]
    .iter()
    .position(|m| *m == mode)
    .unwrap_or(0)
}

fn join_or_none<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the trace of one script carries from statement to statement.
struct ScriptState {
    /// The relations before the script's first statement: locks on them are
    /// the ones other sessions wait on.
    relations_at_start: BTreeMap<String, (String, String, String)>,
    /// Locks held after the previous statement.
    held: BTreeSet<Lock>,
    /// Without --commit, locks taken by earlier migrations are still held
    /// (one transaction), so a statement that needs them again takes
    /// nothing new: they are named instead of hidden.
    inherited: Vec<Lock>,
    /// Whether the migration set a lock_timeout of its own so far.
    own_timeout: bool,
    /// The lock_timeout gate set.
    gate_timeout: String,
}

impl ScriptState {
    async fn start(tracer: &Tracer<'_>, gate_timeout: &str) -> Result<Self, MigrateError> {
        let relations_at_start = tracer.relations().await?;
        let held = tracer.locks().await?;
        let inherited = if tracer.options.commit {
            Vec::new()
        } else {
            held.iter().cloned().collect()
        };
        Ok(Self {
            relations_at_start,
            held,
            inherited,
            own_timeout: false,
            gate_timeout: gate_timeout.to_string(),
        })
    }
}

/// Whether a statement sets lock_timeout (`SET lock_timeout` or
/// `set_config('lock_timeout', …)`).
fn sets_lock_timeout(stmt: &gate_sqlkit::Statement, tokens: &[gate_sqlkit::Token]) -> bool {
    let first = tokens.first().map(|t| t.text.as_str()).unwrap_or("");
    first == "SET" && tokens.iter().any(|t| t.text == "LOCK_TIMEOUT")
        || tokens
            .iter()
            .any(|t| t.text.eq_ignore_ascii_case("set_config"))
            && stmt.text.to_ascii_lowercase().contains("lock_timeout")
}

/// The locks a statement took: those in `now` and not in `held`. A lock on a
/// relation that no longer exists is named from the snapshot before the
/// statement (a dropped relation) or the script; one on a relation the
/// statement created and dropped itself (a rewrite's transient heap), which
/// no other session can wait on, is left out.
fn taken_locks(
    now: &BTreeSet<Lock>,
    held: &BTreeSet<Lock>,
    before: &BTreeMap<String, (String, String, String)>,
    relations_at_start: &BTreeMap<String, (String, String, String)>,
) -> Vec<Lock> {
    now.difference(held)
        .filter_map(|l| {
            if l.relation != l.oid {
                return Some(l.clone());
            }
            let (name, _, _) = before
                .get(&l.oid)
                .or_else(|| relations_at_start.get(&l.oid))?;
            Some(Lock {
                relation: format!("{name} (dropped)"),
                ..l.clone()
            })
        })
        .collect()
}

/// Tables and materialized views whose `relfilenode` changed.
fn rewritten(
    before: &BTreeMap<String, (String, String, String)>,
    after: &BTreeMap<String, (String, String, String)>,
) -> Vec<String> {
    before
        .iter()
        .filter(|(_, (_, kind, _))| kind == "r" || kind == "m")
        .filter_map(|(oid, (name, _, node))| {
            after
                .get(oid)
                .filter(|(_, _, n)| n != node)
                .map(|_| name.clone())
        })
        .collect()
}

/// The strongest inherited lock on each relation the statement names, as
/// `MODE on RELATION`. Function bodies name tables without locking them, so
/// a statement defining a routine names none.
fn already_held(inherited: &[Lock], tokens: &[gate_sqlkit::Token]) -> Vec<String> {
    let names: BTreeSet<String> = tokens
        .iter()
        .filter(|t| t.is_name())
        .map(|t| t.ident().to_lowercase())
        .collect();
    let defines_routine = tokens.first().is_some_and(|t| t.text == "CREATE")
        && tokens
            .iter()
            .take(5)
            .any(|t| t.is("FUNCTION") || t.is("PROCEDURE"));
    let mut strongest: BTreeMap<&str, &str> = BTreeMap::new();
    for l in inherited.iter().filter(|l| {
        let bare = l.relation.rsplit('.').next().unwrap_or(&l.relation);
        !defines_routine && names.contains(&bare.to_lowercase())
    }) {
        let e = strongest
            .entry(l.relation.as_str())
            .or_insert(l.mode.as_str());
        if mode_rank(&l.mode) > mode_rank(e) {
            *e = l.mode.as_str();
        }
    }
    strongest
        .iter()
        .map(|(relation, mode)| format!("{mode} on {relation}"))
        .collect()
}

/// What one statement did to the database.
struct Effect {
    taken: Vec<Lock>,
    rewritten: Vec<String>,
    /// Constraints the statement left NOT VALID.
    not_valid: Vec<String>,
    /// Locks on relations it names held since an earlier migration.
    already: Vec<String>,
}

/// A statement's finding: rule, status and message, with the lock lists
/// its evidence shows.
struct Verdict {
    rule: &'static str,
    status: Status,
    message: String,
    lock_text: Vec<String>,
    blocks: Vec<&'static str>,
}

impl Effect {
    /// Judges the effect: a rewrite comes first, then a blocking lock
    /// (worse without a lock_timeout), then a constraint left NOT VALID.
    fn verdict(
        &self,
        relations_at_start: &BTreeMap<String, (String, String, String)>,
        own_timeout: bool,
    ) -> Verdict {
        // Locks on relations that existed before this migration are the
        // ones other sessions wait on.
        let existing: Vec<&Lock> = self
            .taken
            .iter()
            .filter(|l| relations_at_start.contains_key(&l.oid))
            .collect();
        let blocks = blocked_operations(&existing);
        let lock_text = describe_locks(&self.taken, relations_at_start);
        let mut problems = Vec::new();
        let mut rule = "traced";
        if !self.rewritten.is_empty() {
            rule = "table-rewrite";
            problems.push(format!(
                "rewrites {} while holding its lock",
                self.rewritten.join(", ")
            ));
        }
        if !blocks.is_empty() {
            if rule == "traced" {
                rule = "blocking-lock";
            }
            let on: Vec<String> = existing
                .iter()
                .filter(|l| BLOCKS_WRITES.contains(&l.mode.as_str()))
                .map(|l| format!("{} on {}", l.mode, l.relation))
                .collect();
            problems.push(format!(
                "takes {} (blocks {})",
                on.join(", "),
                blocks.join(" and ")
            ));
            if !own_timeout {
                if rule == "blocking-lock" {
                    rule = "missing-lock-timeout";
                }
                problems.push(
                    "the migration sets no lock_timeout, so in production it would queue every \
                     query on the table behind it while it waits"
                        .into(),
                );
            }
        }
        if !self.not_valid.is_empty() {
            if rule == "traced" {
                rule = "not-valid";
            }
            problems.push(format!(
                "leaves {} NOT VALID (validate it in a later migration)",
                self.not_valid.join(", ")
            ));
        }
        let (status, mut message) = if problems.is_empty() {
            (
                Status::Pass,
                if lock_text.is_empty() {
                    "traced: no relation lock".to_string()
                } else {
                    format!("traced: {}", lock_text.join(", "))
                },
            )
        } else if rule == "not-valid" {
            (Status::Pass, problems.join("; "))
        } else {
            (Status::Warn, problems.join("; "))
        };
        if !self.already.is_empty() {
            message.push_str(&format!(
                " (already held since an earlier migration in this trace: {}; run with \
                 --commit on a disposable copy for each migration's own locks)",
                self.already.join(", ")
            ));
        }
        Verdict {
            rule,
            status,
            message,
            lock_text,
            blocks,
        }
    }
}

/// `MODE on RELATION` for each lock, `(new)` after a relation the migration
/// created.
fn describe_locks(
    locks: &[Lock],
    relations_at_start: &BTreeMap<String, (String, String, String)>,
) -> Vec<String> {
    locks
        .iter()
        .map(|l| {
            let new = if relations_at_start.contains_key(&l.oid) {
                ""
            } else {
                " (new)"
            };
            format!("{} on {}{new}", l.mode, l.relation)
        })
        .collect()
}

/// Which of reads and writes the locks block.
fn blocked_operations(locks: &[&Lock]) -> Vec<&'static str> {
    let mut blocks = Vec::new();
    if locks
        .iter()
        .any(|l| BLOCKS_READS.contains(&l.mode.as_str()))
    {
        blocks.push("reads");
    }
    if locks
        .iter()
        .any(|l| BLOCKS_WRITES.contains(&l.mode.as_str()))
    {
        blocks.push("writes");
    }
    blocks
}
