//! Network targets as policies write them (`host:port`, `[v6]:port`), and
//! telling a denied grant apart from a probe that saw something.
//!
//! The host answers a call outside the grants with an `err` whose text names the
//! grant to add. Network checks must report that as `error` (they could not
//! look), while a refused connection or a DNS failure is what they look for.

use std::fmt;

/// A `host:port` pair, validated before any host call so a typo is a parameter
/// error rather than a failed probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, String> {
        let text = text.trim();
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            rest.split_once("]:")
                .ok_or_else(|| format!("`{text}` is not host:port ([v6]:port for IPv6)"))?
        } else {
            text.rsplit_once(':')
                .ok_or_else(|| format!("`{text}` is not host:port"))?
        };
        if host.is_empty() {
            return Err(format!("`{text}`: the host is empty"));
        }
        if !text.starts_with('[') && host.contains(':') {
            return Err(format!("`{text}`: write IPv6 addresses as [addr]:port"));
        }
        if host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(format!("`{text}`: `{host}` is not a host name or address"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("`{text}`: `{port}` is not a port (1-65535)"))?;
        Ok(Target {
            host: host.to_string(),
            port,
        })
    }

    /// `true` when the host is an IP address literal rather than a name.
    pub fn is_ip(&self) -> bool {
        self.host.parse::<std::net::IpAddr>().is_ok()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `true` when a host call failed because the policy did not grant it (the
/// host's wording: "plugin `x` is not granted `net` access to …").
pub fn is_grant_denial(message: &str) -> bool {
    message.contains("is not granted `")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_addresses_and_v6() {
        assert_eq!(
            Target::parse("db.internal:5432").unwrap(),
            Target {
                host: "db.internal".into(),
                port: 5432
            }
        );
        let v6 = Target::parse("[::1]:443").unwrap();
        assert_eq!(v6.host, "::1");
        assert!(v6.is_ip());
        assert_eq!(v6.to_string(), "[::1]:443");
        assert!(Target::parse("127.0.0.1:80").unwrap().is_ip());
        assert!(!Target::parse("localhost:80").unwrap().is_ip());
    }

    #[test]
    fn rejects_what_is_not_host_port() {
        for bad in [
            "db",
            ":80",
            "db:",
            "db:0",
            "db:70000",
            "db:http",
            "::1:443",
            "a b:1",
            "http://x:80",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn recognises_the_hosts_denial_wording() {
        assert!(is_grant_denial(
            "plugin `infra` is not granted `net` access to `10.0.0.1:22`; add `net = [\"10.0.0.1:22\"]` …"
        ));
        assert!(!is_grant_denial("connect 10.0.0.1:22: Connection refused"));
    }
}
