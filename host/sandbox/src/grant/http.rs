//! `http` grants (`scheme://host[:port][/path]`) and the checks every request
//! URL and header set passes before it is sent.

use std::fmt;

use url::Url;

use super::host::{HostPattern, PortPattern, split_host_port};
use super::{GrantError, RequestError};
use crate::glob;

#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn name(self) -> &'static str {
        self.into()
    }
}

/// Which paths a grant covers, segment by segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathPattern {
    /// The grant names no path: every path of the origin.
    Any,
    /// Each entry matches one segment (`*` within it, never across `/`);
    /// `**` matches any number of segments, zero included.
    Segments(Vec<String>),
}

impl PathPattern {
    fn parse(text: &str) -> Result<Self, GrantError> {
        if text.contains(['?', '#', '\\']) {
            return Err(GrantError::BadPathChar);
        }
        let mut segments = Vec::new();
        for raw in text[1..].split('/') {
            if raw == "." || raw == ".." {
                return Err(GrantError::DotSegment);
            }
            if raw.contains("**") && raw != "**" {
                return Err(GrantError::PartialDoubleStar(raw.to_string()));
            }
            // Literal text takes the percent-encoding a request URL's path has.
            let mut probe = Url::parse("http://x/").expect("static URL");
            probe.set_path(raw);
            segments.push(probe.path()[1..].to_string());
        }
        Ok(PathPattern::Segments(segments))
    }

    pub fn matches(&self, url: &Url) -> bool {
        match self {
            PathPattern::Any => true,
            PathPattern::Segments(pattern) => {
                let segments: Vec<&str> = url.path_segments().into_iter().flatten().collect();
                segments_match(pattern, &segments)
            }
        }
    }
}

fn segments_match(pattern: &[String], segments: &[&str]) -> bool {
    match pattern.split_first() {
        None => segments.is_empty(),
        Some((p, rest)) if p == "**" => {
            (0..=segments.len()).any(|skip| segments_match(rest, &segments[skip..]))
        }
        Some((p, rest)) => segments
            .split_first()
            .is_some_and(|(s, more)| glob::matches(p, s) && segments_match(rest, more)),
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathPattern::Any => Ok(()),
            PathPattern::Segments(s) => write!(f, "/{}", s.join("/")),
        }
    }
}

/// An `http` grant: scheme, host, port and path matched as separate fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpGrant {
    pub scheme: Scheme,
    pub host: HostPattern,
    pub port: PortPattern,
    pub path: PathPattern,
}

impl HttpGrant {
    pub fn parse(text: &str) -> Result<Self, GrantError> {
        let (scheme, rest) = if let Some(r) = text.strip_prefix("http://") {
            (Scheme::Http, r)
        } else if let Some(r) = text.strip_prefix("https://") {
            (Scheme::Https, r)
        } else {
            return Err(GrantError::NotUrlPattern);
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        if authority.contains(['@', '?', '#', '\\']) {
            return Err(GrantError::BadAuthority);
        }
        let has_port = if authority.starts_with('[') {
            authority.contains("]:")
        } else {
            authority.contains(':')
        };
        let (host, port) = if has_port {
            let (h, p) = split_host_port(authority).ok_or(GrantError::MalformedHostPort)?;
            (h, PortPattern::parse(p)?)
        } else {
            (authority, PortPattern::Exact(scheme.default_port()))
        };
        if host.is_empty() {
            return Err(GrantError::MissingHost);
        }
        Ok(HttpGrant {
            scheme,
            host: HostPattern::parse(host)?,
            port,
            path: match path {
                None => PathPattern::Any,
                Some(p) => PathPattern::parse(p)?,
            },
        })
    }

    /// Whether a URL that passed [`check_url`] is inside this grant.
    pub fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host() else { return false };
        url.scheme() == self.scheme.name()
            && self.host.matches(&host.to_owned())
            && url
                .port_or_known_default()
                .is_some_and(|p| self.port.matches(p))
            && self.path.matches(url)
    }
}

impl fmt::Display for HttpGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.name(), self.host)?;
        if self.port != PortPattern::Exact(self.scheme.default_port()) {
            write!(f, ":{}", self.port)?;
        }
        write!(f, "{}", self.path)
    }
}

/// Parses a request URL and refuses what a grant could not judge soundly:
/// other schemes, userinfo, control characters, and `.`/`..` segments or
/// encoded separators in the raw text (before the parser normalises them,
/// since servers disagree on what they mean). The returned `Url` is the object
/// that must be handed to the client.
pub fn check_url(raw: &str) -> Result<Url, RequestError> {
    if raw.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(RequestError::ControlCharacter(raw.to_string()));
    }
    raw_path_problem(raw).map_err(|reason| RequestError::Path {
        url: raw.to_string(),
        reason,
    })?;
    let url = Url::parse(raw).map_err(|source| RequestError::BadUrl {
        url: raw.to_string(),
        source,
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(RequestError::Scheme(raw.to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RequestError::Credentials(raw.to_string()));
    }
    match url.host() {
        None => return Err(RequestError::NoHost(raw.to_string())),
        Some(url::Host::Domain(d)) if d.ends_with('.') || d.split('.').any(str::is_empty) => {
            return Err(RequestError::UrlHostLabel(raw.to_string()));
        }
        Some(_) => {}
    }
    Ok(url)
}

/// Dot segments and encoded separators in the path as written.
fn raw_path_problem(raw: &str) -> Result<(), &'static str> {
    // Skip the scheme and the slashes (a special-scheme parser accepts `\` and
    // any number of them), then the authority.
    let after_scheme = raw.split_once(':').map_or(raw, |(_, r)| r);
    let rest = after_scheme.trim_start_matches(['/', '\\']);
    let path_start = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let path = &rest[path_start..];
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    for segment in path.split(['/', '\\']) {
        let lower = segment.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") {
            return Err("encoded `/` or `\\` in the path");
        }
        let bare = lower
            .split(';')
            .next()
            .unwrap_or_default()
            .replace("%2e", ".");
        if bare == "." || bare == ".." {
            return Err("`.` or `..` segments (plain or percent-encoded) are not allowed");
        }
    }
    Ok(())
}

/// Headers that choose the virtual host or change the connection, which a
/// grant for one URL must not let a plugin steer.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Refuses `Host`, pseudo-headers (`:authority`), `Proxy-*` and the
/// hop-by-hop headers, naming the header.
pub fn check_headers<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), RequestError> {
    for name in names {
        let lower = name.trim().to_ascii_lowercase();
        if lower.starts_with(':')
            || lower.starts_with("proxy-")
            || FORBIDDEN_HEADERS.contains(&lower.as_str())
        {
            return Err(RequestError::Header(name.to_string()));
        }
    }
    Ok(())
}
