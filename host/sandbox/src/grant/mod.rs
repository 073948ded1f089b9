//! Typed network grants (`http`, `net`, `unix`), parsed once when the policy
//! loads and matched against parsed requests, never against request text.
//!
//! Every capability and `gate policy lint` use these types: a grant that does
//! not parse is a policy error at load time, and a request is parsed into the
//! same structured form (scheme, host, port, path segments) before it is
//! compared, so characters such as `@`, `:`, `/` or `.` can never make one
//! field match another.

mod error;
mod host;
mod http;
mod unix;

pub use error::{GrantError, RequestError};
pub use host::{HostPattern, NetTarget, PortPattern, request_host};
pub use http::{HttpGrant, PathPattern, Scheme, check_headers, check_url};
pub use unix::{UnixGrant, lexical_socket_path};

use std::fmt;

/// A `net` grant: `host:port`, where the host is a name pattern, an IPv4
/// pattern or an IPv6 literal, and the port a number or `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetGrant {
    pub host: HostPattern,
    pub port: PortPattern,
}

impl NetGrant {
    pub fn parse(text: &str) -> Result<Self, GrantError> {
        let (host, port) = host::split_host_port(text).ok_or(GrantError::MissingPort)?;
        if host.is_empty() {
            return Err(GrantError::MissingHost);
        }
        Ok(NetGrant {
            host: HostPattern::parse(host)?,
            port: PortPattern::parse(port)?,
        })
    }

    /// Whether a connection to `target` is inside this grant.
    pub fn allows(&self, target: &NetTarget) -> bool {
        self.host.matches(&target.host) && self.port.matches(target.port)
    }
}

impl fmt::Display for NetGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests;
