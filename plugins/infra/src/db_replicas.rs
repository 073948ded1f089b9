//! `infra.db-replicas`: a PostgreSQL primary has enough streaming replicas and
//! none lags behind the bound, read from `pg_stat_replication` on the primary.
//!
//! Lag is `replay_lag` (time between a WAL write on the primary and its replay
//! on the standby), plus the byte distance between the primary's current WAL
//! position and the standby's replay position. PostgreSQL sets `replay_lag`
//! to NULL once an idle standby has caught up; a NULL lag counts as 0 only when
//! the standby has replayed everything it was sent, and is otherwise unknown:
//! the bound cannot be judged, which is an `error` (never a pass).

use gate_plugin_sdk::host::sql;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use crate::size::ByteSize;

pub const ID: &str = "infra.db-replicas";

pub struct DbReplicas;

fn one() -> u32 {
    1
}

fn default_timeout() -> u32 {
    5000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub connection: String,
    #[serde(default = "one")]
    pub min_replicas: u32,
    #[serde(default)]
    pub max_lag_seconds: Option<f64>,
    #[serde(default)]
    pub max_lag_bytes: Option<ByteSize>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

impl Params {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.connection.trim().is_empty() {
            problems.push("`connection` is empty".to_string());
        }
        if let Some(s) = self.max_lag_seconds
            && !(s.is_finite() && s >= 0.0)
        {
            problems.push(format!("`max_lag_seconds` must be 0 or more, not {s}"));
        }
        problems
    }
}

/// The primary's role and its walsenders.
pub const ROLE_QUERY: &str = "SELECT pg_is_in_recovery(), current_setting('server_version')";

/// One row per walsender. Lag is cast to text/float so it crosses the
/// boundary as plain text; `pg_current_wal_lsn()` only works on a primary,
/// which [`ROLE_QUERY`] establishes first.
pub const REPLICATION_QUERY: &str = "SELECT application_name, host(client_addr) AS client_addr, client_port, state, sync_state, \
     EXTRACT(EPOCH FROM replay_lag)::float8 AS replay_lag_seconds, \
     pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::text AS replay_lag_bytes, \
     (replay_lsn IS NOT NULL AND replay_lsn = sent_lsn) AS replayed_all_sent \
     FROM pg_stat_replication ORDER BY application_name, client_addr, client_port";

/// A walsender as `pg_stat_replication` shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Walsender {
    pub application_name: String,
    pub client_addr: Option<String>,
    pub client_port: Option<String>,
    /// NULL for roles without `pg_read_all_stats`.
    pub state: Option<String>,
    pub sync_state: Option<String>,
    pub replay_lag_seconds: Option<f64>,
    pub replay_lag_bytes: Option<f64>,
    pub replayed_all_sent: bool,
}

/// What the primary answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub in_recovery: bool,
    pub server_version: String,
    pub walsenders: Vec<Walsender>,
}

impl Check for DbReplicas {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Database replicas streaming".to_string(),
            description: "PostgreSQL primary has at least min_replicas streaming replicas (pg_stat_replication) and each replays within the lag bound"
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("connection", "string", true, "Named [connections.NAME] PostgreSQL connection to the primary"),
                param_default("min_replicas", "integer", "Streaming replicas required", "1"),
                param("max_lag_seconds", "number", false, "Largest replay lag allowed per streaming replica, in seconds"),
                param("max_lag_bytes", "integer | string", false, "Largest WAL distance allowed between the primary and a replica's replay position, e.g. \"64MiB\""),
                param_default("timeout_ms", "integer", "Timeout of each query", "5000"),
            ],
            capabilities: vec!["sql".to_string()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let problems = p.problems();
        if !problems.is_empty() {
            return params::invalid(ctx, problems.join("; "));
        }
        evaluate(ctx, &p, observe(&p))
    }
}

fn observe(p: &Params) -> Result<Observed, String> {
    let role = sql::query(&p.connection, ROLE_QUERY, &[], p.timeout_ms)?;
    let row = role.rows.first().ok_or("the role query returned no row")?;
    let in_recovery = row.first().cloned().flatten().as_deref() == Some("true");
    let server_version = row.get(1).cloned().flatten().unwrap_or_default();
    if in_recovery {
        return Ok(Observed {
            in_recovery,
            server_version,
            walsenders: Vec::new(),
        });
    }
    let result = sql::query(&p.connection, REPLICATION_QUERY, &[], p.timeout_ms)?;
    Ok(Observed {
        in_recovery,
        server_version,
        walsenders: parse_rows(&result.columns, &result.rows)?,
    })
}

/// Maps `REPLICATION_QUERY` rows (cells as text) to walsenders.
pub fn parse_rows(
    columns: &[String],
    rows: &[Vec<Option<String>>],
) -> Result<Vec<Walsender>, String> {
    let idx = |name: &str| {
        columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("pg_stat_replication query returned no `{name}` column"))
    };
    let (app, addr, port, state, sync, lag_s, lag_b, all) = (
        idx("application_name")?,
        idx("client_addr")?,
        idx("client_port")?,
        idx("state")?,
        idx("sync_state")?,
        idx("replay_lag_seconds")?,
        idx("replay_lag_bytes")?,
        idx("replayed_all_sent")?,
    );
    let cell = |row: &Vec<Option<String>>, i: usize| row.get(i).cloned().flatten();
    let number =
        |row: &Vec<Option<String>>, i: usize| cell(row, i).and_then(|s| s.parse::<f64>().ok());
    Ok(rows
        .iter()
        .map(|row| Walsender {
            application_name: cell(row, app).unwrap_or_default(),
            client_addr: cell(row, addr),
            client_port: cell(row, port),
            state: cell(row, state),
            sync_state: cell(row, sync),
            replay_lag_seconds: number(row, lag_s),
            replay_lag_bytes: number(row, lag_b),
            replayed_all_sent: cell(row, all).as_deref() == Some("true"),
        })
        .collect())
}

/// The lag of one replica, with NULL `replay_lag` resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lag {
    Seconds(f64),
    /// `replay_lag` is NULL and the standby has replayed all it was sent: an
    /// idle primary with a caught-up standby.
    Idle,
    /// `replay_lag` is NULL while WAL it was sent is not replayed yet (a
    /// standby that just connected).
    Unknown,
}

pub fn lag(w: &Walsender) -> Lag {
    match w.replay_lag_seconds {
        Some(s) => Lag::Seconds(s),
        None if w.replayed_all_sent => Lag::Idle,
        None => Lag::Unknown,
    }
}

/// Judges what the primary answered.
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    observed: Result<Observed, String>,
) -> Vec<Finding> {
    let conn = params.connection.as_str();
    let observed = match observed {
        Ok(o) => o,
        Err(e) => {
            return vec![
                ctx.finding(conn, Status::Error)
                    .message(format!("cannot query pg_stat_replication on `{conn}`: {e}"))
                    .remediation(format!(
                        "check that the primary is up, that [connections.{conn}] and its url_env are set, and that the `infra` plugin is granted `sql = [\"{conn}\"]`"
                    ))
                    .build(),
            ];
        }
    };
    if observed.in_recovery {
        return vec![
            ctx.finding(conn, Status::Error)
                .message(format!(
                    "`{conn}` is a standby (pg_is_in_recovery() is true), not the primary: its replicas cannot be seen from here"
                ))
                .evidence("server_version", &observed.server_version)
                .remediation("point the connection at the current primary")
                .build(),
        ];
    }
    let (replicas, backups): (Vec<&Walsender>, Vec<&Walsender>) = observed
        .walsenders
        .iter()
        .partition(|w| w.state.as_deref() != Some("backup"));
    if !replicas.is_empty() && replicas.iter().all(|w| w.state.is_none()) {
        return vec![
            ctx.finding(conn, Status::Error)
                .message(format!(
                    "`{conn}` hides pg_stat_replication details from this role ({} walsenders, state NULL)",
                    replicas.len()
                ))
                .remediation("grant the connection's role pg_monitor (or pg_read_all_stats)")
                .build(),
        ];
    }

    let subjects = subjects(&replicas);
    let mut out = Vec::new();
    let streaming = replicas
        .iter()
        .filter(|w| w.state.as_deref() == Some("streaming"))
        .count() as u32;
    let enough = streaming >= params.min_replicas;
    let mut summary = ctx
        .finding(conn, if enough { Status::Pass } else { Status::Fail })
        .message(if enough {
            format!(
                "`{conn}` has {streaming} streaming replica(s) (min_replicas {})",
                params.min_replicas
            )
        } else {
            format!(
                "`{conn}` has {streaming} streaming replica(s), fewer than min_replicas {}{}",
                params.min_replicas,
                if replicas.len() as u32 > streaming {
                    format!(
                        " ({} more connected but not streaming)",
                        replicas.len() as u32 - streaming
                    )
                } else {
                    String::new()
                }
            )
        })
        .evidence("streaming", streaming)
        .evidence("min_replicas", params.min_replicas)
        .evidence("walsenders", replicas.len())
        .evidence("server_version", &observed.server_version);
    if !backups.is_empty() {
        summary = summary.evidence("base_backups_running", backups.len());
    }
    if !enough {
        summary = summary.remediation(
            "start or repair the missing replicas (check their logs and primary_conninfo) before deploying",
        );
    }
    out.push(summary.build());

    for (w, subject) in replicas.iter().zip(subjects) {
        out.push(replica(ctx, params, w, subject));
    }
    out
}

/// `application_name`, made unique with the client address (and port) when
/// several replicas share it (pg_basebackup -R leaves it at `walreceiver`).
fn subjects(replicas: &[&Walsender]) -> Vec<String> {
    let count = |f: &dyn Fn(&Walsender) -> String, w: &Walsender| {
        replicas.iter().filter(|o| f(o) == f(w)).count()
    };
    let by_name = |w: &Walsender| w.application_name.clone();
    let by_addr = |w: &Walsender| {
        format!(
            "{}@{}",
            w.application_name,
            w.client_addr.as_deref().unwrap_or("local")
        )
    };
    replicas
        .iter()
        .map(|w| {
            if count(&by_name, w) == 1 {
                by_name(w)
            } else if count(&by_addr, w) == 1 {
                by_addr(w)
            } else {
                format!("{}:{}", by_addr(w), w.client_port.as_deref().unwrap_or("?"))
            }
        })
        .collect()
}

fn replica(ctx: &Context, params: &Params, w: &Walsender, subject: String) -> Finding {
    let state = w.state.as_deref().unwrap_or("unknown");
    let lag = lag(w);
    // Violations seen, and bounds that cannot be judged (no measurement yet).
    let mut issues = Vec::new();
    let mut unknown = Vec::new();
    if state != "streaming" {
        issues.push(format!(
            "is `{state}`, not streaming{}",
            if state == "catchup" {
                " (still catching up)"
            } else {
                ""
            }
        ));
    }
    if let Some(max) = params.max_lag_seconds {
        match lag {
            Lag::Seconds(s) if s > max => {
                issues.push(format!("replay lag {s:.1}s exceeds max_lag_seconds {max}"))
            }
            Lag::Unknown => unknown.push(format!(
                "replay lag is unknown (replay_lag is NULL while {} of sent WAL is not replayed), so max_lag_seconds {max} cannot be judged",
                w.replay_lag_bytes
                    .map_or_else(|| "some".to_string(), |b| ByteSize(b.max(0.0) as u64).to_string())
            )),
            _ => {}
        }
    }
    if let Some(max) = params.max_lag_bytes {
        match w.replay_lag_bytes {
            Some(b) if b > max.0 as f64 => issues.push(format!(
                "replay position is {} behind the primary, more than max_lag_bytes {max}",
                ByteSize(b as u64)
            )),
            None => unknown.push(format!(
                "the replica has not reported a replay position yet, so max_lag_bytes {max} cannot be judged"
            )),
            _ => {}
        }
    }
    let lag_text = match lag {
        Lag::Seconds(s) => format!("{s:.3}"),
        Lag::Idle => "0 (idle, caught up)".to_string(),
        Lag::Unknown => "unknown".to_string(),
    };
    // A violation seen is a failure even when another bound cannot be judged.
    let status = if !issues.is_empty() {
        Status::Fail
    } else if !unknown.is_empty() {
        Status::Error
    } else {
        Status::Pass
    };
    issues.extend(unknown);
    let message = if issues.is_empty() {
        format!(
            "replica `{subject}` is streaming, replay lag {}",
            match lag {
                Lag::Seconds(s) => format!("{s:.1}s"),
                Lag::Idle => "0s (idle, caught up)".to_string(),
                Lag::Unknown => "unknown".to_string(),
            }
        )
    } else {
        format!("replica `{subject}` {}", issues.join("; "))
    };
    let mut f = ctx
        .finding(subject, status)
        .message(message)
        .evidence("state", state)
        .evidence("sync_state", w.sync_state.as_deref().unwrap_or("unknown"))
        .evidence("replay_lag_seconds", lag_text)
        .evidence(
            "replay_lag_bytes",
            w.replay_lag_bytes
                .map_or_else(|| "unknown".to_string(), |b| format!("{b:.0}")),
        )
        .evidence(
            "client_addr",
            w.client_addr.as_deref().unwrap_or("local socket"),
        );
    if status == Status::Error {
        f = f.remediation(
            "a replica that just connected reports within wal_receiver_status_interval (10 s by default); run the check again, or drop the lag bounds",
        );
    } else if status == Status::Fail {
        f = f.remediation(
            "check the replica: replay paused (pg_is_wal_replay_paused()), long queries holding replay back, I/O or network saturation",
        );
    }
    f.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(json: serde_json::Value) -> Params {
        serde_json::from_value(json).expect("params")
    }

    fn ws(
        name: &str,
        addr: &str,
        state: &str,
        lag: Option<f64>,
        bytes: f64,
        all: bool,
    ) -> Walsender {
        Walsender {
            application_name: name.into(),
            client_addr: Some(addr.into()),
            client_port: Some("50000".into()),
            state: Some(state.into()),
            sync_state: Some("async".into()),
            replay_lag_seconds: lag,
            replay_lag_bytes: Some(bytes),
            replayed_all_sent: all,
        }
    }

    fn primary(walsenders: Vec<Walsender>) -> Result<Observed, String> {
        Ok(Observed {
            in_recovery: false,
            server_version: "15.8".into(),
            walsenders,
        })
    }

    fn summary(out: &[Finding]) -> Vec<(String, Status)> {
        out.iter().map(|f| (f.subject.clone(), f.status)).collect()
    }

    #[test]
    fn healthy_replicas_pass() {
        let p = params(
            serde_json::json!({"connection": "primary", "min_replicas": 2, "max_lag_seconds": 5}),
        );
        let out = evaluate(
            &ctx(),
            &p,
            primary(vec![
                ws("replica1", "10.0.0.2", "streaming", Some(0.2), 0.0, true),
                ws("replica2", "10.0.0.3", "streaming", None, 0.0, true),
            ]),
        );
        assert_eq!(
            summary(&out),
            [
                ("primary".into(), Status::Pass),
                ("replica1".into(), Status::Pass),
                ("replica2".into(), Status::Pass),
            ]
        );
        assert!(
            out[2].message.contains("idle, caught up"),
            "{}",
            out[2].message
        );
    }

    #[test]
    fn missing_replica_fails_the_count() {
        let p = params(serde_json::json!({"connection": "primary", "min_replicas": 2}));
        let out = evaluate(
            &ctx(),
            &p,
            primary(vec![
                ws("r1", "10.0.0.2", "streaming", Some(0.1), 0.0, true),
                ws("r2", "10.0.0.3", "catchup", None, 1e6, false),
            ]),
        );
        assert_eq!(out[0].status, Status::Fail);
        assert!(out[0].message.contains("1 streaming replica(s), fewer than min_replicas 2 (1 more connected but not streaming)"), "{}", out[0].message);
        assert_eq!(out[2].status, Status::Fail);
        assert!(out[2].message.contains("still catching up"));

        let out = evaluate(&ctx(), &p, primary(vec![]));
        assert_eq!(summary(&out), [("primary".into(), Status::Fail)]);
    }

    #[test]
    fn lag_over_the_bound_fails() {
        let p = params(
            serde_json::json!({"connection": "primary", "max_lag_seconds": 1, "max_lag_bytes": "1MiB"}),
        );
        let out = evaluate(
            &ctx(),
            &p,
            primary(vec![
                ws("slow", "10.0.0.2", "streaming", Some(9.5), 5e6, false),
                ws("new", "10.0.0.3", "streaming", None, 100.0, false),
            ]),
        );
        assert_eq!(out[0].status, Status::Pass);
        assert_eq!(out[1].status, Status::Fail);
        assert!(
            out[1]
                .message
                .contains("replay lag 9.5s exceeds max_lag_seconds 1"),
            "{}",
            out[1].message
        );
        assert!(
            out[1].message.contains("4.8 MiB behind"),
            "{}",
            out[1].message
        );
        assert_eq!(
            out[2].status,
            Status::Error,
            "NULL lag with unreplayed WAL is unknown"
        );
        assert!(
            out[2].message.contains("cannot be judged"),
            "{}",
            out[2].message
        );
        assert!(
            out[1]
                .evidence
                .contains(&("replay_lag_bytes".into(), "5000000".into()))
        );
    }

    #[test]
    fn a_violation_outweighs_an_unknown_bound() {
        let p = params(serde_json::json!({"connection": "primary", "max_lag_seconds": 1}));
        let out = evaluate(
            &ctx(),
            &p,
            primary(vec![ws("r", "10.0.0.3", "catchup", None, 100.0, false)]),
        );
        assert_eq!(out[1].status, Status::Fail);
        assert!(out[1].message.contains("catching up") && out[1].message.contains("unknown"));
    }

    #[test]
    fn lag_unknown_without_a_bound_is_fine() {
        let p = params(serde_json::json!({"connection": "primary"}));
        let out = evaluate(
            &ctx(),
            &p,
            primary(vec![ws("new", "10.0.0.3", "streaming", None, 100.0, false)]),
        );
        assert_eq!(out[1].status, Status::Pass);
    }

    #[test]
    fn duplicate_names_get_addresses() {
        let p = params(serde_json::json!({"connection": "primary", "min_replicas": 3}));
        let mut a = ws("walreceiver", "10.0.0.2", "streaming", Some(0.0), 0.0, true);
        let b = ws("walreceiver", "10.0.0.3", "streaming", Some(0.0), 0.0, true);
        let c = ws("walreceiver", "10.0.0.3", "streaming", Some(0.0), 0.0, true);
        a.client_port = Some("1".into());
        let out = evaluate(&ctx(), &p, primary(vec![a, b, c]));
        let names: Vec<_> = out[1..].iter().map(|f| f.subject.as_str()).collect();
        assert_eq!(
            names,
            [
                "walreceiver@10.0.0.2",
                "walreceiver@10.0.0.3:50000",
                "walreceiver@10.0.0.3:50000"
            ]
        );
    }

    #[test]
    fn base_backups_are_not_replicas() {
        let p = params(serde_json::json!({"connection": "primary"}));
        let out = evaluate(
            &ctx(),
            &p,
            primary(vec![ws(
                "pg_basebackup",
                "10.0.0.9",
                "backup",
                None,
                0.0,
                false,
            )]),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0]
                .evidence
                .contains(&("base_backups_running".into(), "1".into()))
        );
    }

    #[test]
    fn cannot_see_is_an_error() {
        let p = params(serde_json::json!({"connection": "primary"}));
        let out = evaluate(
            &ctx(),
            &p,
            Err("connect to `primary`: connection refused".into()),
        );
        assert_eq!((out[0].status, out.len()), (Status::Error, 1));
        let out = evaluate(
            &ctx(),
            &p,
            Ok(Observed {
                in_recovery: true,
                server_version: "15.8".into(),
                walsenders: vec![],
            }),
        );
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("is a standby"));
        let mut hidden = ws("r", "x", "streaming", None, 0.0, false);
        hidden.state = None;
        let out = evaluate(&ctx(), &p, primary(vec![hidden]));
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].remediation.as_ref().unwrap().contains("pg_monitor"));
    }

    #[test]
    fn parses_query_rows() {
        let cols: Vec<String> = [
            "application_name",
            "client_addr",
            "client_port",
            "state",
            "sync_state",
            "replay_lag_seconds",
            "replay_lag_bytes",
            "replayed_all_sent",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let row = |v: [Option<&str>; 8]| v.iter().map(|c| c.map(String::from)).collect::<Vec<_>>();
        let rows = vec![
            row([
                Some("walreceiver"),
                Some("127.0.0.1/32"),
                Some("41234"),
                Some("streaming"),
                Some("async"),
                Some("0.100336"),
                Some("0"),
                Some("true"),
            ]),
            row([
                Some("r2"),
                None,
                None,
                Some("streaming"),
                Some("sync"),
                None,
                Some("154184"),
                Some("false"),
            ]),
        ];
        let w = parse_rows(&cols, &rows).unwrap();
        assert_eq!(w[0].replay_lag_seconds, Some(0.100336));
        assert!(w[0].replayed_all_sent);
        assert_eq!(lag(&w[1]), Lag::Unknown);
        assert_eq!(w[1].replay_lag_bytes, Some(154184.0));
        assert!(parse_rows(&cols[..3], &rows).unwrap_err().contains("state"));
    }

    #[test]
    fn bad_params() {
        let out = DbReplicas.run(
            &ctx(),
            &serde_json::json!({"connection": "p", "max_lag": 1}),
        );
        assert_eq!(out[0].status, Status::Error);
        let out = DbReplicas.run(
            &ctx(),
            &serde_json::json!({"connection": " ", "max_lag_seconds": -1}),
        );
        assert!(out[0].message.contains("`connection` is empty"));
        assert!(out[0].message.contains("0 or more"));
    }
}
