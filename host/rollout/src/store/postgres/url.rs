//! `[rollout] state = "postgres://…"`: the URL parsed into a connection
//! configuration, the password (from the URL, else `PGPASSWORD`) kept out of
//! every message, and TLS modes gate cannot honour refused rather than
//! connected in plaintext.

use tokio_postgres::Config;
use tokio_postgres::config::{Host, SslMode};

/// Why a state URL is refused. No variant holds the URL or its password.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a PostgreSQL URL (it must start with postgres:// or postgresql://)")]
    Scheme,
    #[error("sslmode={0} asks for TLS, which gate's PostgreSQL connection does not speak")]
    Tls(String),
    #[error("the URL does not parse: {0}")]
    Invalid(String),
}

impl UrlError {
    /// What to do about it, for the spec's `help:` line.
    pub fn help(&self) -> String {
        match self {
            UrlError::Scheme => {
                "write e.g. `state = \"postgres://gate@db.example.com/deploys\"` (the password \
                 from PGPASSWORD), or remove `state` to keep the state in files"
                    .into()
            }
            UrlError::Tls(_) => {
                "reach the database over a trusted network or a local TLS tunnel and use \
                 `sslmode=disable`; gate never falls back to plaintext when TLS is asked for"
                    .into()
            }
            UrlError::Invalid(_) => {
                "see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS"
                    .into()
            }
        }
    }
}

/// A parsed state URL. Its `Debug` and `Display` show no password.
#[derive(Clone)]
pub struct DbUrl {
    config: Config,
    shown: String,
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbUrl({})", self.shown)
    }
}

impl std::fmt::Display for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl DbUrl {
    /// Parses `text` with the password from `PGPASSWORD` (and the user from
    /// `PGUSER`, else `USER`) when the URL has none.
    pub fn parse(text: &str) -> Result<DbUrl, UrlError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        DbUrl::parse_with(text, env)
    }

    /// [`DbUrl::parse`] with the environment given, for tests.
    pub fn parse_with(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<DbUrl, UrlError> {
        let text = text.trim();
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Err(UrlError::Scheme);
        }
        if let Some(mode) = query_value(text, "sslmode")
            && !matches!(mode, "disable" | "allow" | "prefer")
        {
            return Err(UrlError::Tls(mode.to_string()));
        }
        // libpq's `allow` and `prefer` both accept a plaintext session.
        let normalised = text.replace("sslmode=allow", "sslmode=prefer");
        let mut config: Config = normalised
            .parse()
            .map_err(|e: tokio_postgres::Error| UrlError::Invalid(hide(&e.to_string(), text)))?;
        if config.get_ssl_mode() == SslMode::Require {
            return Err(UrlError::Tls("require".into()));
        }
        if config.get_password().is_none()
            && let Some(password) = env("PGPASSWORD")
        {
            config.password(password);
        }
        if config.get_user().is_none()
            && let Some(user) = env("PGUSER").or_else(|| env("USER"))
        {
            config.user(user);
        }
        let shown = shown(&config);
        Ok(DbUrl { config, shown })
    }

    /// The connection configuration (password included: never print it).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `postgres://user@host:port/db`: the URL without its password or
    /// options, for messages and `--audit`.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// The value of `key` in the URL's query, as written.
fn query_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = text.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// `message` with the URL, and any password in it, replaced.
fn hide(message: &str, url: &str) -> String {
    let mut out = message.replace(url, "<url>");
    if let Some(password) = url_password(url).filter(|p| !p.is_empty()) {
        out = out.replace(password, "<password>");
    }
    out
}

/// The password part of `scheme://user:password@host`, as written.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, p)| p)
}

fn shown(config: &Config) -> String {
    let user = config.get_user().map_or(String::new(), |u| format!("{u}@"));
    let port = |i: usize| config.get_ports().get(i).or(config.get_ports().first());
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let name = match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string().replace('/', "%2F"),
            };
            port(i).map_or(name.clone(), |p| format!("{name}:{p}"))
        })
        .collect();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, pgpassword: Option<&str>) -> Result<DbUrl, UrlError> {
        DbUrl::parse_with(text, |name| match name {
            "PGPASSWORD" => pgpassword.map(str::to_string),
            "USER" => Some("deployer".into()),
            _ => None,
        })
    }

    #[test]
    fn the_password_never_shows() {
        let url = parse("postgres://gate:s3cret@db.example.com:5433/deploys", None).unwrap();
        assert_eq!(url.shown(), "postgres://gate@db.example.com:5433/deploys");
        assert_eq!(url.config().get_password(), Some(&b"s3cret"[..]));
        let printed = format!("{url} {url:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
    }

    #[test]
    fn pgpassword_and_the_os_user_fill_what_the_url_leaves_out() {
        let url = parse("postgresql://db.example.com/deploys", Some("fromenv")).unwrap();
        assert_eq!(url.config().get_password(), Some(&b"fromenv"[..]));
        assert_eq!(
            url.shown(),
            "postgres://deployer@db.example.com:5432/deploys"
        );
        // A password in the URL wins over PGPASSWORD.
        let url = parse("postgres://u:inurl@h/d", Some("fromenv")).unwrap();
        assert_eq!(url.config().get_password(), Some(&b"inurl"[..]));
    }

    #[test]
    fn other_schemes_and_tls_are_refused() {
        assert_eq!(parse("mysql://h/d", None).unwrap_err(), UrlError::Scheme);
        assert_eq!(parse("/var/run/db", None).unwrap_err(), UrlError::Scheme);
        for mode in ["require", "verify-ca", "verify-full"] {
            let e = parse(&format!("postgres://u:pw@h/d?sslmode={mode}"), None).unwrap_err();
            assert_eq!(e, UrlError::Tls(mode.into()));
        }
        assert!(parse("postgres://u@h/d?sslmode=disable", None).is_ok());
        assert!(parse("postgres://u@h/d?sslmode=allow", None).is_ok());
    }

    #[test]
    fn parse_errors_do_not_repeat_the_password() {
        let e = parse("postgres://u:hunter2@h:notaport/d", None).unwrap_err();
        assert!(matches!(e, UrlError::Invalid(_)), "{e:?}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert_eq!(url_password("postgres://u:p%40ss@h/d"), Some("p%40ss"));
    }
}
