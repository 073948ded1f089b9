//! `gate drill restore`: point-in-time recovery of a PostgreSQL primary's
//! latest base backup plus its archived WAL into a [`Scratch`] instance,
//! checked with the policy's verification queries, then removed.
//!
//! Recovery is PostgreSQL's own: `recovery.signal`, `restore_command`
//! copying segments from the WAL archive, and `recovery_target_time` (with
//! `recovery_target_action = 'promote'`) when a target time is given;
//! without one, every archived segment is replayed. The drill measures the
//! restore time (start to the copy promoted) and the data loss window: the
//! target time (or, without one, the drill's start) minus the commit time of
//! the last transaction recovered (`pg_last_xact_replay_timestamp()`).
//!
//! The connection's URL gives only the role and database the queries run
//! as and in; the primary itself is never contacted, and the URL never
//! reaches a message or a record.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use gate_eval::policy::RestoreDrill;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::scratch::Scratch;
use crate::{
    Drill, DrillError, DrillKind, DrillMeasures, DrillResult, RestoreMeasures, VerifyOutcome,
    base_backup,
};

/// Who the verification queries run as, and where.
#[derive(Clone, Debug)]
pub struct Login {
    pub user: String,
    pub dbname: String,
}

impl Login {
    /// The role and database of a libpq URL; the error never holds the URL.
    pub fn from_url(name: &str, url: &str) -> Result<Login, DrillError> {
        let config: tokio_postgres::Config = url.parse().map_err(|_| {
            DrillError::Refused(format!(
                "connection `{name}`: its URL does not parse as a PostgreSQL URL"
            ))
        })?;
        let user = config
            .get_user()
            .map(str::to_string)
            .unwrap_or_else(|| "postgres".to_string());
        let dbname = config
            .get_dbname()
            .map(str::to_string)
            .unwrap_or_else(|| user.clone());
        Ok(Login { user, dbname })
    }
}

/// What the drill is asked to do.
pub struct Request<'a> {
    pub drill: &'a RestoreDrill,
    pub login: Login,
    /// Recover up to this time; `None`: to the end of the archive.
    pub target_time: Option<DateTime<Utc>>,
    /// Progress lines (the scratch instance's place), for stderr.
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// A WAL archive path that can sit inside `restore_command` as written:
/// no quote, backslash, `$`, backtick, `%` or control character.
fn archive_path(path: &Path) -> Result<String, DrillError> {
    let text = path
        .to_str()
        .ok_or_else(|| DrillError::Refused(format!("{}: not valid UTF-8", path.display())))?;
    if let Some(c) = text
        .chars()
        .find(|c| matches!(c, '\'' | '"' | '\\' | '$' | '`' | '%') || c.is_control())
    {
        return Err(DrillError::Refused(format!(
            "wal_archive {text}: the character {c:?} cannot be passed safely in restore_command; move or link the archive to a plainer path"
        )));
    }
    Ok(text.to_string())
}

/// The recovery settings for the scratch instance.
fn recovery_settings(archive: &str, target: Option<DateTime<Utc>>) -> String {
    let mut s = format!("restore_command = 'cp \"{archive}/%f\" \"%p\"'\n");
    if let Some(t) = target {
        s.push_str(&format!(
            "recovery_target_time = '{}'\nrecovery_target_action = 'promote'\n",
            // PostgreSQL's timestamptz input, not RFC 3339: it refuses `T…Z`.
            t.format("%Y-%m-%d %H:%M:%S%.6f+00")
        ));
    }
    s
}

/// Runs the drill. `Err` only when it could not start (bad paths, no
/// backup); a restore that fails is a `fail` record.
pub async fn run(req: Request<'_>) -> Result<Drill, DrillError> {
    let d = req.drill;
    let archive = archive_path(&d.wal_archive)?;
    if !d.wal_archive.is_dir() {
        return Err(DrillError::Refused(format!(
            "wal_archive {}: not a directory ({})",
            d.wal_archive.display(),
            d.origin
        )));
    }
    let backup =
        base_backup::latest(&d.base_backups, req.target_time).map_err(DrillError::Refused)?;
    let backup_dir = std::fs::canonicalize(&backup.dir)
        .map_err(|e| DrillError::Refused(format!("{}: {e}", backup.dir.display())))?;
    if let (Some(t), Some(start)) = (req.target_time, backup.start_time)
        && t < start
    {
        return Err(DrillError::Refused(format!(
            "the target time {t} is before the newest usable base backup started ({start})"
        )));
    }
    let started = Utc::now();
    let clock = Instant::now();
    let timeout = Duration::from_secs(d.timeout_secs);
    let mut m = RestoreMeasures {
        backup: backup_dir.display().to_string(),
        target_time: req
            .target_time
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        last_transaction: None,
        data_loss_ms: None,
        restore_ms: None,
        queries: Vec::new(),
    };
    let mut problems = Vec::new();
    match Scratch::create(&backup_dir).await {
        Err(e) => problems.push(e),
        Ok(mut scratch) => {
            (req.progress)(&format!(
                "restoring {} into a scratch instance in {}",
                backup_dir.display(),
                scratch.root.display()
            ));
            let recovered = tokio::time::timeout(
                timeout,
                recover(&mut scratch, &req, &archive, timeout, clock, &mut m),
            )
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the restore took longer than timeout_secs = {} ({})",
                    d.timeout_secs, d.origin
                ))
            });
            if let Err(e) = recovered {
                problems.push(e);
            }
            let where_ = format!("{} (127.0.0.1:{})", scratch.root.display(), scratch.port);
            scratch.remove().await;
            (req.progress)(&format!("scratch instance {where_} stopped and removed"));
        }
    }
    if let Some(last) = &m.last_transaction
        && let Ok(last) = DateTime::parse_from_rfc3339(last)
    {
        let reference = req.target_time.unwrap_or(started);
        m.data_loss_ms = Some(
            (reference - last.with_timezone(&Utc))
                .num_milliseconds()
                .max(0) as u64,
        );
    }
    problems.extend(
        m.queries
            .iter()
            .filter(|q| !q.ok)
            .map(|q| format!("`{}` returned {:?}, expected {:?}", q.sql, q.got, q.expect)),
    );
    Ok(Drill {
        kind: DrillKind::Restore,
        subject: d.connection.clone(),
        started,
        finished: Utc::now(),
        result: if problems.is_empty() {
            DrillResult::Pass
        } else {
            DrillResult::Fail
        },
        measures: DrillMeasures::Restore(m),
        problems,
        previous: None,
    })
}

/// Configure, start, wait for promotion, read the last transaction, run
/// the queries.
async fn recover(
    scratch: &mut Scratch,
    req: &Request<'_>,
    archive: &str,
    timeout: Duration,
    clock: Instant,
    m: &mut RestoreMeasures,
) -> Result<(), String> {
    scratch.configure(&recovery_settings(archive, req.target_time))?;
    scratch.start(timeout).await?;
    let client = connect(scratch, &req.login).await?;
    loop {
        let rows = client
            .simple_query("SELECT pg_is_in_recovery()")
            .await
            .map_err(|e| format!("asking the scratch instance whether it is recovering: {e}"))?;
        if first_value(&rows).as_deref() == Some("f") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    m.restore_ms = Some(clock.elapsed().as_millis() as u64);
    let rows = client
        .simple_query("SELECT (extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::bigint")
        .await
        .map_err(|e| format!("reading the last transaction recovered: {e}"))?;
    m.last_transaction = first_value(&rows)
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
    // The queries only read: one that writes fails rather than changes the copy.
    client
        .batch_execute("SET default_transaction_read_only = on")
        .await
        .map_err(|e| e.to_string())?;
    for q in &req.drill.verify {
        let got = match client.simple_query(&q.sql).await {
            Ok(rows) => Ok(render(&rows)),
            Err(e) => Err(format!("error: {}", db_error(&e))),
        };
        let expect = q.expect.trim_end_matches('\n').to_string();
        m.queries.push(VerifyOutcome {
            sql: q.sql.clone(),
            ok: got.as_ref().is_ok_and(|g| *g == expect),
            got: got.unwrap_or_else(|e| e),
            expect,
        });
    }
    Ok(())
}

/// A session on the scratch instance's socket, as the connection's role.
async fn connect(scratch: &Scratch, login: &Login) -> Result<Client, String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(scratch.socket_dir())
        .port(scratch.port)
        .user(&login.user)
        .dbname(&login.dbname)
        .application_name("gate drill restore")
        .connect_timeout(Duration::from_secs(10));
    let (client, connection) = config.connect(NoTls).await.map_err(|e| {
        format!(
            "connecting to the scratch instance as `{}` on database `{}`: {}",
            login.user,
            login.dbname,
            db_error(&e)
        )
    })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The server's message when there is one (tokio-postgres's Display says
/// only "db error").
fn db_error(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_string())
}

fn first_value(rows: &[SimpleQueryMessage]) -> Option<String> {
    rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    })
}

/// Rows on lines, columns separated by `|`, NULL as empty: `psql -At`'s form.
fn render(rows: &[SimpleQueryMessage]) -> String {
    rows.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_path_must_be_safe_in_restore_command() {
        assert_eq!(
            archive_path(Path::new("/var/backups/pg/wal")).unwrap(),
            "/var/backups/pg/wal"
        );
        for bad in ["/x/it's", "/x/$(rm)", "/x/a\"b", "/x/%f", "/x/a\nb"] {
            assert!(archive_path(Path::new(bad)).is_err(), "{bad}");
        }
        let s = recovery_settings("/a", Some("2026-12-03T13:20:05.5Z".parse().unwrap()));
        assert!(s.contains("restore_command = 'cp \"/a/%f\" \"%p\"'"), "{s}");
        assert!(
            s.contains("recovery_target_time = '2026-12-03 13:20:05.500000+00'"),
            "{s}"
        );
        assert!(!recovery_settings("/a", None).contains("recovery_target"));
    }

    #[test]
    fn the_login_comes_from_the_url_and_errors_do_not_show_it() {
        let l = Login::from_url("app", "postgres://alice:s3cret@db:5432/shop").unwrap();
        assert_eq!((l.user.as_str(), l.dbname.as_str()), ("alice", "shop"));
        let e = Login::from_url("app", "postgres://alice:s3cret@db:notaport/shop")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
    }
}
