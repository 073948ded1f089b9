//! One audit-log entry: its sequence number, time, actor, optional run id
//! and the typed record of what happened (an evaluation, a migration
//! decision, a rollout event, an approval, a pipeline stage, a recovery).
//! Each entry is one line of canonical JSON (compact, fields in declaration
//! order), and every text in it passes through `gate_redact::scrub` before it
//! is written.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub use gate_core::model::{CheckStatus, Verdict};

/// One entry as written in the entries file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its index in the log, from 0.
    pub seq: u64,
    /// When it was appended (RFC 3339, UTC, milliseconds); never earlier
    /// than the entry before it.
    #[serde(with = "rfc3339")]
    pub time: DateTime<Utc>,
    /// Who acted: the OS user running gate.
    pub actor: String,
    /// The CI run or change this belongs to, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(flatten)]
    pub record: Record,
}

mod rfc3339 {
    use super::*;

    pub fn serialize<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// What an entry records; `kind` names the variant and `detail` holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum Record {
    Evaluation(Evaluation),
    Migrate(Migrate),
    Rollout(Rollout),
    Approval(Approval),
    Stage(Stage),
    Recovery(Recovery),
    Incident(Incident),
    Drill(Drill),
}

/// The kinds of entry, for filtering (`gate audit show --kind`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
    strum::Display,
)]
#[strum(serialize_all = "kebab-case")]
pub enum Kind {
    Evaluation,
    Migrate,
    Rollout,
    Approval,
    Stage,
    Recovery,
    Incident,
    Drill,
}

impl Record {
    pub fn kind(&self) -> Kind {
        match self {
            Record::Evaluation(_) => Kind::Evaluation,
            Record::Migrate(_) => Kind::Migrate,
            Record::Rollout(_) => Kind::Rollout,
            Record::Approval(_) => Kind::Approval,
            Record::Stage(_) => Kind::Stage,
            Record::Recovery(_) => Kind::Recovery,
            Record::Incident(_) => Kind::Incident,
            Record::Drill(_) => Kind::Drill,
        }
    }
}

/// A policy file as it was when the decision was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    pub file: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

/// One check as it ran in one gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckOutcome {
    pub gate: String,
    pub id: String,
    pub status: CheckStatus,
    /// Findings that were not `pass`.
    pub findings: u64,
}

/// An exemption that applied, or that had expired, in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExemptionUse {
    pub check: String,
    #[serde(rename = "match")]
    pub subject_match: Option<String>,
    pub approved_by: String,
    pub expires: NaiveDate,
    /// `file:line:col` of the exemption.
    pub source: String,
}

/// `gate evaluate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// The policy's `[policy] name`.
    pub policy_name: String,
    pub policy: PolicyRef,
    /// The one gate evaluated (`--gate`), if not all.
    pub gate: Option<String>,
    pub verdict: Verdict,
    pub checks: Vec<CheckOutcome>,
    pub exemptions_used: Vec<ExemptionUse>,
    pub exemptions_expired: Vec<ExemptionUse>,
    /// Every file the policy was read from (itself, what it extends, its
    /// exemption files), as read for this evaluation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<PolicyRef>,
}

/// Which `gate migrate` command decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum MigrateCommand {
    Lint,
    Plan,
    Trace,
    /// `gate migrate start`: an expand/contract migration's expand.
    Start,
    /// `gate migrate complete`: its contract.
    Complete,
    /// `gate migrate rollback`: its expand undone.
    Rollback,
}

/// A migration file the decision covered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationRef {
    pub path: String,
    pub sha256: String,
}

/// `gate migrate lint`, `plan`, `trace`, `start`, `complete` or `rollback`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migrate {
    pub command: MigrateCommand,
    /// The policy whose `[migrations]` configured the validator, if any.
    pub policy: Option<PolicyRef>,
    pub migrations: Vec<MigrationRef>,
    pub verdict: Verdict,
    pub checks: Vec<CheckOutcome>,
    /// Findings that were not `pass`, over every check (or, for `plan`,
    /// over every statement).
    pub findings: u64,
}

/// A rollout event: what the controller did or decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    pub spec: PolicyRef,
    pub service: String,
    pub event: RolloutEvent,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RolloutEvent {
    Start {
        strategy: String,
        stable: String,
        candidate: String,
    },
    Step {
        step: u32,
        of: u32,
    },
    /// Router weights after a change, per backend (percent).
    Weights {
        weights: Vec<BackendWeight>,
    },
    /// One measurement of an analysis, before the strategy acts on it.
    Analysis {
        name: String,
        step: u32,
        result: AnalysisResult,
        detail: String,
    },
    /// An approval given by name, not proved by a signature (a spec
    /// without `[approvals]`); signed approvals are `approval` entries.
    Approval {
        step: u32,
        by: String,
    },
    /// An approval that was not counted, and why.
    ApprovalRefused {
        step: u32,
        reason: String,
        submitted_by: String,
    },
    Promote,
    Rollback {
        reason: String,
    },
    /// The rollback finished: all traffic on stable, and what went wrong
    /// on the way (stable health, hooks).
    RolledBack {
        problems: Vec<String>,
    },
    Abort {
        reason: String,
    },
}

/// What one analysis measurement concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum AnalysisResult {
    Success,
    Failure,
    Inconclusive,
    Error,
}

/// One backend's share of traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendWeight {
    pub backend: String,
    pub percent: u32,
}

/// A signed approval: the message approved, its SSHSIG signature and the
/// principal whose key made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// What was approved (an exemption, a rollout step).
    pub subject: String,
    pub message: String,
    pub signature: SshSignature,
    pub principal: String,
}

/// An SSHSIG signature blob (the bytes inside `-----BEGIN SSH SIGNATURE-----`),
/// kept as hex: it carries no text, so masking never alters it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SshSignature(Vec<u8>);

impl SshSignature {
    /// The blob; it must start with the SSHSIG magic preamble.
    pub fn new(blob: Vec<u8>) -> Result<SshSignature, String> {
        if blob.starts_with(b"SSHSIG") {
            Ok(SshSignature(blob))
        } else {
            Err("not an SSHSIG signature (no `SSHSIG` preamble)".into())
        }
    }

    pub fn blob(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<String> for SshSignature {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        SshSignature::new(hex::decode(text).map_err(|e| format!("signature: {e}"))?)
    }
}

impl From<SshSignature> for String {
    fn from(s: SshSignature) -> String {
        hex::encode(s.0)
    }
}

/// A pipeline stage gate took part in (build, deploy, verify).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub name: String,
    pub state: StageState,
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum StageState {
    Started,
    Passed,
    Failed,
    Skipped,
}

/// An incident opened by a rollback, an abort or a failed verify stage
/// (docs/incidents.md): written once, when the incident is opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// The incident's id (`gate incident show ID`).
    pub id: String,
    pub service: String,
    pub trigger: TriggerKind,
    /// What triggered it, with the values that decided.
    pub detail: String,
    pub outcome: IncidentOutcome,
    /// Milliseconds from the rollback decision until all traffic was on
    /// stable; `None` when no traffic had moved (an abort).
    pub time_to_stable_ms: Option<u64>,
    /// What went wrong on the way back (stable's health, hooks, migration).
    pub problems: Vec<String>,
}

/// What opened an incident.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum TriggerKind {
    /// An analysis failed (or could not be measured too often) while traffic moved.
    Analysis,
    /// The candidate failed its health check.
    Health,
    /// The `verify` stage failed after promotion.
    Verify,
    /// Someone ran `gate rollback` or `gate abort`.
    Manual,
    /// Stopped before any traffic moved: a gate stage, a migration, a hook.
    Abort,
    /// The router, the strategy plugin or the promotion failed.
    Error,
}

/// How an incident's rollout ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum IncidentOutcome {
    /// All traffic is back on stable and stable is healthy.
    RolledBack,
    /// All traffic is back on stable, with problems (stable unhealthy, a hook failed).
    RolledBackWithProblems,
    /// Stopped before any traffic moved.
    Aborted,
}

/// What an interrupted append left behind and the next append cut off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recovery {
    /// Bytes cut from the end of the entries file.
    pub discarded_bytes: u64,
    /// Complete entries among them (no checkpoint covered them, so the
    /// actions they recorded never went ahead).
    pub discarded_entries: u64,
    /// SHA-256 of the discarded bytes, hex.
    pub discarded_sha256: String,
    /// Bytes of an incomplete checkpoint cut from the checkpoints file.
    pub discarded_checkpoint_bytes: u64,
}

/// The seed's target for a rollback: all traffic back on stable and
/// healthy within five minutes.
pub const ROLLBACK_TARGET_MS: u64 = 5 * 60 * 1000;

/// Which drill ran.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum DrillKind {
    /// `gate drill rollback`: traffic to the candidate, then a forced rollback.
    Rollback,
    /// `gate drill restore`: a PostgreSQL point-in-time recovery into a
    /// scratch instance.
    Restore,
}

/// Whether a drill met its expectations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum DrillResult {
    Pass,
    Fail,
}

/// One drill, as the audit log and the drill record store keep it
/// (`gate drill`, docs/drills.md). The same value is what a notification
/// of the drill's result would carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    pub kind: DrillKind,
    /// What was drilled: the rollout's name, or the connection's.
    pub subject: String,
    /// When it started and finished (RFC 3339, UTC, milliseconds).
    #[serde(with = "rfc3339")]
    pub started: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub finished: DateTime<Utc>,
    pub result: DrillResult,
    pub measures: DrillMeasures,
    /// What went wrong, when `result` is `fail`.
    pub problems: Vec<String>,
    /// The drills of the same kind and subject before this one.
    pub previous: Option<DrillComparison>,
}

/// What a drill measured, by kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "drill", rename_all = "lowercase", deny_unknown_fields)]
pub enum DrillMeasures {
    Rollback(RollbackMeasures),
    Restore(RestoreMeasures),
}

/// A rollback drill's figures. Durations are `None` when the drill did not
/// get that far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackMeasures {
    /// The candidate's share of traffic during the drill (percent).
    pub percent: u8,
    /// Requests the candidate answered while it had that share (router counters).
    pub candidate_responses: Option<u64>,
    /// From the rollback decision to the router confirming all weight on stable.
    pub to_stable_ms: Option<u64>,
    /// From the rollback decision to stable passing the spec's health checks.
    pub to_healthy_ms: Option<u64>,
    /// The target `to_healthy_ms` is compared with ([`ROLLBACK_TARGET_MS`]).
    pub target_ms: u64,
}

/// A restore drill's figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreMeasures {
    /// The base backup restored (its directory).
    pub backup: String,
    /// The time recovery was asked to stop at; `None`: the end of the archive.
    pub target_time: Option<String>,
    /// The commit time of the last transaction recovered
    /// (`pg_last_xact_replay_timestamp()`).
    pub last_transaction: Option<String>,
    /// Target time (or the drill's start, without one) minus the last
    /// transaction recovered: what a restore to that point would lose.
    pub data_loss_ms: Option<u64>,
    /// From the drill's start to the scratch instance promoted and verified.
    pub restore_ms: Option<u64>,
    pub queries: Vec<VerifyOutcome>,
}

/// One verification query against the restored instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyOutcome {
    pub sql: String,
    pub expect: String,
    /// What it returned (rows on lines, columns separated by `|`), or the error.
    pub got: String,
    pub ok: bool,
}

/// This drill against the ones of the same kind and subject before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillComparison {
    /// How many there were.
    pub drills: u64,
    /// When the last one finished, and its result.
    #[serde(with = "rfc3339")]
    pub last: DateTime<Utc>,
    pub last_result: DrillResult,
    /// The headline duration (rollback: `to_healthy_ms`; restore:
    /// `restore_ms`) of the last one and the median of the passed ones.
    pub last_ms: Option<u64>,
    pub median_ms: Option<u64>,
}

impl Drill {
    /// One line of canonical JSON, every text masked as an entry's is: the
    /// drill record store's line.
    pub fn encode(&self) -> Vec<u8> {
        let mut value = serde_json::to_value(self).expect("drills serialise");
        scrub_value(&mut value);
        serde_json::to_vec(&value).expect("drills serialise")
    }

    /// The headline duration: time to healthy for a rollback, restore time
    /// for a restore.
    pub fn headline_ms(&self) -> Option<u64> {
        match &self.measures {
            DrillMeasures::Rollback(m) => m.to_healthy_ms,
            DrillMeasures::Restore(m) => m.restore_ms,
        }
    }
}

impl Entry {
    /// The entry's line (without its newline), every text masked.
    pub fn encode(&self) -> Vec<u8> {
        let mut value = serde_json::to_value(self).expect("entries serialise");
        scrub_value(&mut value);
        serde_json::to_vec(&value).expect("entries serialise")
    }

    /// Parses one line of the entries file.
    pub fn decode(line: &[u8]) -> Result<Entry, serde_json::Error> {
        serde_json::from_slice(line)
    }
}

/// Masks credentials in every string of `value`, keys included (audit
/// entries, and any record that must carry no secret, such as incidents).
pub fn scrub_value(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => *s = gate_redact::scrub(s),
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (k, mut v) in old {
                scrub_value(&mut v);
                map.insert(gate_redact::scrub(&k), v);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The OS user running gate: the password database's name for the
/// effective uid, else `$USER`, else `uid:N`.
pub fn os_user() -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live local of the stated size.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc == 0 && !found.is_null() && !pwd.pw_name.is_null() {
        // SAFETY: getpwuid_r succeeded, so pw_name is a NUL-terminated string in `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        if let Ok(name) = name.to_str() {
            return name.to_string();
        }
    }
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("uid:{uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(record: Record) -> Entry {
        Entry {
            seq: 4,
            time: "2026-12-02T10:00:00.250Z".parse().unwrap(),
            actor: "alice".into(),
            run_id: Some("ci-81".into()),
            record,
        }
    }

    #[test]
    fn an_entry_is_one_canonical_line_that_round_trips() {
        let e = entry(Record::Stage(Stage {
            name: "deploy".into(),
            state: StageState::Started,
            detail: None,
        }));
        let line = String::from_utf8(e.encode()).unwrap();
        assert_eq!(
            line,
            r#"{"seq":4,"time":"2026-12-02T10:00:00.250Z","actor":"alice","run_id":"ci-81","kind":"stage","detail":{"name":"deploy","state":"started","detail":null}}"#
        );
        assert_eq!(Entry::decode(line.as_bytes()).unwrap(), e);
        assert_eq!(e.record.kind(), Kind::Stage);
        assert_eq!("rollout".parse::<Kind>().unwrap(), Kind::Rollout);
    }

    #[test]
    fn every_text_is_scrubbed_before_it_is_written() {
        let secret = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
        let e = Entry {
            run_id: Some(format!("run {secret}")),
            ..entry(Record::Rollout(Rollout {
                spec: PolicyRef {
                    file: "postgres://app:Pg9xQ2w@db/app".into(),
                    sha256: "ab".repeat(32),
                },
                service: "web".into(),
                event: RolloutEvent::Abort {
                    reason: format!("token {secret} leaked"),
                },
            }))
        };
        let line = String::from_utf8(e.encode()).unwrap();
        assert!(!line.contains("4eC39HqLyjWDarjtT1zdp7dc"), "{line}");
        assert!(!line.contains("Pg9xQ2w"), "{line}");
        assert!(line.contains(&"ab".repeat(32)), "digests survive: {line}");
        assert!(Entry::decode(line.as_bytes()).is_ok());
    }

    #[test]
    fn an_approval_keeps_its_signature_blob_intact() {
        let blob = b"SSHSIG\x00\x00\x00\x01AKIAZ3MSJV4WWNKWW5FG".to_vec();
        let e = entry(Record::Approval(Approval {
            subject: "exemption security.no-secrets".into(),
            message: "approve".into(),
            signature: SshSignature::new(blob.clone()).unwrap(),
            principal: "secops@example.com".into(),
        }));
        let back = Entry::decode(&e.encode()).unwrap();
        let Record::Approval(a) = back.record else {
            panic!("kind")
        };
        assert_eq!(a.signature.blob(), blob);
        assert!(SshSignature::new(b"not a signature".to_vec()).is_err());
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let line = br#"{"seq":0,"time":"2026-12-02T10:00:00.000Z","actor":"a","kind":"party","detail":{}}"#;
        assert!(Entry::decode(line).is_err());
        let line = br#"{"seq":0,"time":"2026-12-02T10:00:00.000Z","actor":"a","kind":"stage","detail":{"name":"x","state":"begun","detail":null}}"#;
        assert!(Entry::decode(line).is_err());
        assert!(!os_user().is_empty());
    }
}
