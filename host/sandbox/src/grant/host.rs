//! Host and port patterns, and the `host:port` targets plugins ask for.

use std::fmt;
use std::net::Ipv6Addr;

use url::Host;

use super::{GrantError, RequestError};
use crate::glob;

/// Which hosts a grant covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    /// DNS names, label by label: a label with `*` matches within one label
    /// (never across a `.`), so `*.internal` matches `db.internal` only.
    /// Literal labels are IDNA-normalised (lower case, punycode).
    Name(Vec<String>),
    /// IPv4 literals, octet by octet (`None` is a `*` octet). Never matches a name.
    V4([Option<u8>; 4]),
    /// One IPv6 literal. Never matches a name.
    V6(Ipv6Addr),
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<Self, GrantError> {
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            return inner
                .parse::<Ipv6Addr>()
                .map(HostPattern::V6)
                .map_err(|_| GrantError::NotIpv6(text.to_string()));
        }
        if text == "*" {
            return Err(GrantError::LoneStar);
        }
        if text.ends_with('.') {
            return Err(GrantError::TrailingDot);
        }
        let labels: Vec<&str> = text.split('.').collect();
        let numeric = |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit());
        if labels.iter().all(|l| *l == "*" || numeric(l)) && labels.iter().any(|l| numeric(l)) {
            return ipv4_pattern(text, &labels);
        }
        if labels
            .last()
            .is_some_and(|l| numeric(l) || l.starts_with("0x"))
        {
            return Err(GrantError::NumericName(text.to_string()));
        }
        let mut out = Vec::with_capacity(labels.len());
        for label in labels {
            out.push(label_pattern(label)?);
        }
        Ok(HostPattern::Name(out))
    }

    /// Whether a parsed host (from a URL or a `net` target) is covered.
    pub fn matches(&self, host: &Host<String>) -> bool {
        match (self, host) {
            (HostPattern::Name(pattern), Host::Domain(name)) => {
                let labels: Vec<&str> = name.split('.').collect();
                labels.len() == pattern.len()
                    && pattern
                        .iter()
                        .zip(&labels)
                        .all(|(p, l)| !l.is_empty() && glob::matches(p, l))
            }
            (HostPattern::V4(octets), Host::Ipv4(ip)) => octets
                .iter()
                .zip(ip.octets())
                .all(|(p, o)| p.is_none_or(|p| p == o)),
            (HostPattern::V6(want), Host::Ipv6(ip)) => want == ip,
            _ => false,
        }
    }
}

fn ipv4_pattern(text: &str, labels: &[&str]) -> Result<HostPattern, GrantError> {
    let bad = || GrantError::BadIpv4(text.to_string());
    if labels.len() != 4 {
        return Err(bad());
    }
    let mut octets = [None; 4];
    for (slot, label) in octets.iter_mut().zip(labels) {
        if *label != "*" {
            *slot = Some(label.parse::<u8>().map_err(|_| bad())?);
        }
    }
    Ok(HostPattern::V4(octets))
}

/// One label of a name pattern, in the form [`Host::parse`] gives names.
fn label_pattern(label: &str) -> Result<String, GrantError> {
    if label.is_empty() {
        return Err(GrantError::EmptyLabel);
    }
    if label.contains('*') {
        let ok = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*');
        if !ok {
            return Err(GrantError::BadWildcardLabel(label.to_string()));
        }
        return Ok(label.to_ascii_lowercase());
    }
    match Host::parse(label) {
        Ok(Host::Domain(d)) if !d.contains('.') => Ok(d),
        _ => Err(GrantError::BadLabel(label.to_string())),
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Name(labels) => f.write_str(&labels.join(".")),
            HostPattern::V4(octets) => {
                let parts: Vec<String> = octets
                    .iter()
                    .map(|o| o.map_or("*".to_string(), |o| o.to_string()))
                    .collect();
                f.write_str(&parts.join("."))
            }
            HostPattern::V6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// A port number or `*` (any port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortPattern {
    Any,
    Exact(u16),
}

impl PortPattern {
    pub fn parse(text: &str) -> Result<Self, GrantError> {
        if text == "*" {
            return Ok(PortPattern::Any);
        }
        match text.parse::<u16>() {
            Ok(p) if p > 0 && !text.starts_with('+') => Ok(PortPattern::Exact(p)),
            _ => Err(GrantError::BadPort),
        }
    }

    pub fn matches(self, port: u16) -> bool {
        match self {
            PortPattern::Any => true,
            PortPattern::Exact(p) => p == port,
        }
    }
}

impl fmt::Display for PortPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortPattern::Any => f.write_str("*"),
            PortPattern::Exact(p) => write!(f, "{p}"),
        }
    }
}

/// Splits `host:port` or `[v6]:port`; the host keeps its brackets.
pub(super) fn split_host_port(text: &str) -> Option<(&str, &str)> {
    if text.starts_with('[') {
        let end = text.find(']')?;
        let port = text[end + 1..].strip_prefix(':')?;
        return Some((&text[..=end], port));
    }
    text.rsplit_once(':')
}

/// Parses a host as a URL parser would: IDNA for names, and the WHATWG IPv4
/// forms (`127.1`, `0x7f.0.0.1`) read as the address they reach, so the
/// resolver never receives a name that is really an address.
pub fn request_host(text: &str) -> Result<Host<String>, RequestError> {
    if text.is_empty() {
        return Err(RequestError::EmptyHost);
    }
    let host = Host::parse(text).map_err(|source| RequestError::BadHost {
        host: text.to_string(),
        source,
    })?;
    if let Host::Domain(name) = &host
        && (name.ends_with('.') || name.split('.').any(str::is_empty))
    {
        return Err(RequestError::HostLabel(text.to_string()));
    }
    Ok(host)
}

/// A `net` target a plugin asked for, parsed: the host as it will be
/// resolved or connected to, and the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetTarget {
    pub host: Host<String>,
    pub port: u16,
}

impl NetTarget {
    pub fn parse(text: &str) -> Result<Self, RequestError> {
        let (host, port) =
            split_host_port(text).ok_or_else(|| RequestError::NotHostPort(text.to_string()))?;
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 && !port.starts_with('+') => p,
            _ => {
                return Err(RequestError::BadPort {
                    target: text.to_string(),
                    port: port.to_string(),
                });
            }
        };
        Ok(NetTarget {
            host: request_host(host).map_err(|e| RequestError::Target {
                target: text.to_string(),
                source: Box::new(e),
            })?,
            port,
        })
    }

    /// The host as a resolver or TLS server name takes it (no brackets).
    pub fn host_name(&self) -> String {
        match &self.host {
            Host::Domain(d) => d.clone(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        }
    }

    /// The address to connect to when the host is a literal.
    pub fn literal(&self) -> Option<std::net::SocketAddr> {
        match self.host {
            Host::Ipv4(ip) => Some((ip, self.port).into()),
            Host::Ipv6(ip) => Some((ip, self.port).into()),
            Host::Domain(_) => None,
        }
    }
}

impl fmt::Display for NetTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}
