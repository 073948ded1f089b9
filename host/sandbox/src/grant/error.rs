//! Why a grant does not parse ([`GrantError`], at policy load) and why a
//! request a plugin made is refused before it leaves the host
//! ([`RequestError`]). Each text names what is wrong and how to write it.

/// A grant in a policy that does not parse; the policy loader adds the file,
/// line and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("`{0}` is not an IPv6 address")]
    NotIpv6(String),
    #[error(
        "a lone `*` host would match any single-label name only; name the hosts (`*.internal`) or the addresses (`10.0.0.*`)"
    )]
    LoneStar,
    #[error("remove the trailing `.` from the host")]
    TrailingDot,
    #[error(
        "`{0}` ends in a number, so it is read as an IPv4 address; write all four octets, e.g. `10.0.0.*`"
    )]
    NumericName(String),
    #[error("`{0}`: an IPv4 pattern is four octets, each 0-255 or `*`")]
    BadIpv4(String),
    #[error("empty label (`..`) in the host")]
    EmptyLabel,
    #[error("label `{0}`: a label with `*` may only hold ASCII letters, digits, `-` and `_`")]
    BadWildcardLabel(String),
    #[error("`{0}` is not a valid host name label")]
    BadLabel(String),
    #[error("the port must be a number from 1 to 65535 or `*`")]
    BadPort,
    #[error("missing `:port`")]
    MissingPort,
    #[error("missing host")]
    MissingHost,
    #[error("malformed host:port")]
    MalformedHostPort,
    #[error("not a URL pattern: it must start with http:// or https://")]
    NotUrlPattern,
    #[error("the host part cannot hold `@`, `?`, `#` or `\\`")]
    BadAuthority,
    #[error("a path pattern cannot hold `?`, `#` or `\\`")]
    BadPathChar,
    #[error("a path pattern cannot hold `.` or `..` segments")]
    DotSegment,
    #[error("`{0}`: `**` must be a whole segment, e.g. `/api/**`")]
    PartialDoubleStar(String),
    #[error("the path is empty")]
    EmptyPath,
    #[error("`..` is not allowed in a socket grant")]
    ParentDir,
    #[error("the name is not UTF-8")]
    NotUtf8,
    #[error("the path must end in a socket name")]
    NoSocketName,
    #[error("`*` may only appear in the socket's name, e.g. `/run/haproxy/*.sock`")]
    StarInDirectory,
}

/// A request refused before it leaves the host: the plugin sees the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("empty host")]
    EmptyHost,
    #[error("host `{host}`: {source}")]
    BadHost {
        host: String,
        source: url::ParseError,
    },
    #[error("host `{0}`: empty label or trailing `.` (write the name without it)")]
    HostLabel(String),
    #[error("`{0}` is not host:port")]
    NotHostPort(String),
    #[error("`{target}`: invalid port `{port}`")]
    BadPort { target: String, port: String },
    #[error("`{target}`: {source}")]
    Target {
        target: String,
        source: Box<RequestError>,
    },
    /// Shown with control characters escaped.
    #[error("`{}`: URLs cannot hold spaces or control characters", .0.escape_debug())]
    ControlCharacter(String),
    #[error("`{url}`: {reason}")]
    Path { url: String, reason: &'static str },
    #[error("`{url}` is not a valid URL: {source}")]
    BadUrl {
        url: String,
        source: url::ParseError,
    },
    #[error("`{0}`: only http and https URLs are allowed")]
    Scheme(String),
    #[error("`{0}`: URLs with credentials (`user@` or `user:pass@`) are not allowed")]
    Credentials(String),
    #[error("`{0}`: no host")]
    NoHost(String),
    #[error("`{0}`: empty label or trailing `.` in the host (write the name without it)")]
    UrlHostLabel(String),
    #[error("header `{0}` cannot be set by a plugin: the host sets it from the granted URL")]
    Header(String),
    #[error("`{0}`: socket paths must not be empty or hold `..`")]
    SocketPath(String),
    #[error("`{0}`: no socket name")]
    NoSocketName(String),
}
