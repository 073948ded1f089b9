//! Sessions on a policy's named PostgreSQL connections (`[connections.NAME]`),
//! for the `sql` capability, `config.migrations-tested` and `gate migrate trace`.
//!
//! One place reads the URL from the connection's `url_env`, connects without
//! letting the URL (which may hold a password) into an error, and, for
//! sessions that run statements on a plugin's behalf, refuses roles that
//! `READ ONLY` does not hold: a superuser, or a member of
//! `pg_read_server_files`, `pg_write_server_files` or
//! `pg_execute_server_program`, can read and write the server's files and run
//! programs on it (`COPY … TO PROGRAM`, `pg_read_file`, `lo_import`) inside a
//! read-only transaction.

use std::collections::BTreeMap;

use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls};

use crate::resources::Connection;

/// A connected session. Dropping it closes the connection.
pub struct Session {
    pub client: Client,
    driver: JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Why a session on a named connection could not be had. No variant holds
/// the URL.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no connection named `{0}`; define [connections.{0}] in the policy")]
    Unknown(String),
    #[error("connection `{name}` is of kind `{kind}`; only postgres is supported")]
    Kind { name: String, kind: String },
    #[error("connection `{name}`: environment variable {env} (url_env) is not set")]
    UrlUnset { name: String, env: String },
    /// The client's error, with the URL replaced by `<url>`.
    #[error("connect to `{name}`: {reason}")]
    Connect { name: String, reason: String },
    /// The session's roles reach past the database, or cannot be seen.
    #[error("{0}")]
    Privileged(String),
}

/// The URL of connection `name` (a `postgres` connection of the policy),
/// from the environment variable its `url_env` names.
pub fn url(connections: &BTreeMap<String, Connection>, name: &str) -> Result<String, ConnectError> {
    let Some(conn) = connections.get(name) else {
        return Err(ConnectError::Unknown(name.to_string()));
    };
    url_of(conn, name)
}

/// Like [`url`], for a connection already looked up.
pub fn url_of(conn: &Connection, name: &str) -> Result<String, ConnectError> {
    if conn.kind != "postgres" {
        return Err(ConnectError::Kind {
            name: name.to_string(),
            kind: conn.kind.clone(),
        });
    }
    match std::env::var(&conn.url_env) {
        Ok(u) if !u.is_empty() => Ok(u),
        _ => Err(ConnectError::UrlUnset {
            name: name.to_string(),
            env: conn.url_env.clone(),
        }),
    }
}

/// Connects to `url` (see [`connect_with`]). Errors name the connection,
/// never the URL.
pub async fn connect(name: &str, url: &str) -> Result<Session, ConnectError> {
    let config: Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| ConnectError::Connect {
            name: name.to_string(),
            reason: e.to_string().replace(url, "<url>"),
        })?;
    connect_with(name, &config).await
}

/// Connects with a parsed configuration: the one place gate opens a
/// PostgreSQL connection. Errors name the connection, never the password.
pub async fn connect_with(name: &str, config: &Config) -> Result<Session, ConnectError> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| ConnectError::Connect {
            name: name.to_string(),
            reason: hide_password(with_cause(&e), config),
        })?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Session { client, driver })
}

/// The client's error and what caused it ("error connecting to server:
/// Connection refused").
fn with_cause(e: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// `text` with the configuration's password, if any, replaced.
fn hide_password(text: String, config: &Config) -> String {
    match config
        .get_password()
        .and_then(|p| std::str::from_utf8(p).ok())
    {
        Some(password) if !password.is_empty() => text.replace(password, "<password>"),
        _ => text,
    }
}

/// Connects for statements run on a plugin's behalf: the session's roles
/// must not be able to reach past the database (see the module docs).
pub async fn connect_least_privileged(name: &str, url: &str) -> Result<Session, ConnectError> {
    let session = connect(name, url).await?;
    refuse_privileged(&session.client, name)
        .await
        .map_err(ConnectError::Privileged)?;
    Ok(session)
}

/// Server-side roles that reach the server's files or programs.
const SERVER_ROLES: [(&str, &str); 3] = [
    (
        "pg_read_server_files",
        "can read any file on the database server",
    ),
    (
        "pg_write_server_files",
        "can write any file on the database server",
    ),
    (
        "pg_execute_server_program",
        "can run programs on the database server",
    ),
];

/// Fails when `current_user`, or a different `session_user` (which a
/// statement could switch back to with `RESET ROLE`), is a superuser, a
/// member of a superuser role, or a member of one of [`SERVER_ROLES`]
/// (membership counts whether or not it is inherited: `SET ROLE`, which a
/// statement can do through `set_config('role', …)`, reaches it either way).
async fn refuse_privileged(client: &Client, name: &str) -> Result<(), String> {
    let rows = client
        .query(
            "SELECT r.rolname::text, r.rolname = session_user, r.rolsuper, \
                    pg_has_role(r.oid, 'pg_read_server_files', 'MEMBER'), \
                    pg_has_role(r.oid, 'pg_write_server_files', 'MEMBER'), \
                    pg_has_role(r.oid, 'pg_execute_server_program', 'MEMBER'), \
                    (SELECT string_agg(s.rolname::text, ', ' ORDER BY s.rolname) FROM pg_roles s \
                     WHERE s.rolsuper AND s.oid <> r.oid AND pg_has_role(r.oid, s.oid, 'MEMBER')) \
             FROM pg_roles r WHERE r.rolname IN (current_user, session_user) \
             ORDER BY r.rolname = current_user DESC",
            &[],
        )
        .await
        .map_err(|e| format!("`{name}`: checking the connection's role: {}", db_error(&e)))?;
    if rows.is_empty() {
        return Err(format!(
            "`{name}`: cannot see the connection's role in pg_roles, so cannot tell whether it is privileged"
        ));
    }
    for row in &rows {
        let role: String = row.get(0);
        let which = if row.get::<_, bool>(1) {
            "login role"
        } else {
            "current role"
        };
        let superusers: Option<String> = row.get(6);
        let attribute = if row.get::<_, bool>(2) {
            Some("is a superuser (it can read and write server files and run programs)".to_string())
        } else if let Some(superusers) = superusers {
            Some(format!(
                "is a member of superuser role {superusers} (it can SET ROLE to it)"
            ))
        } else {
            SERVER_ROLES
                .iter()
                .enumerate()
                .find(|(i, _)| row.get::<_, bool>(3 + i))
                .map(|(_, (granted, what))| format!("is a member of {granted} ({what})"))
        };
        if let Some(attribute) = attribute {
            return Err(format!(
                "connection `{name}`: {which} `{role}` {attribute}; a read-only transaction does not \
                 contain that, so gate refuses it for plugins. Connect as a login role with only \
                 SELECT on the tables the checks read (and pg_monitor where a check reads server \
                 statistics); see docs/sandbox.md"
            ));
        }
    }
    Ok(())
}

/// A database error as `SQLSTATE: message`, else the client's text.
pub fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}
