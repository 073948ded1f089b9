//! What a TCP connect probe saw, shared by `infra.network` and `infra.firewall`.
//!
//! The host's `net.connect` returns `ok` for every probe it could make, with
//! `connected = false` and the OS error text when the connection did not open.
//! The two checks read the same outcome differently (a refused port fails
//! `infra.network` and passes `closed` in `infra.firewall`), so the reading of
//! the error text lives here once.

use gate_plugin_sdk::host::net::ConnectResult;

/// The state of a port as seen from this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortState {
    /// The TCP handshake completed.
    Open,
    /// RST, or an ICMP port-unreachable: nothing listens, or a firewall rejects.
    Refused,
    /// No answer within the timeout: a firewall drops the packets, or the host is down.
    TimedOut,
    /// ICMP host/network unreachable or prohibited, as `REJECT --reject-with
    /// icmp-host-prohibited` answers.
    Unreachable,
    /// The host name did not resolve, so no port was probed at all.
    Unresolved,
    /// Anything else the OS reported.
    Failed,
}

impl PortState {
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Refused => "refused",
            PortState::TimedOut => "timed-out",
            PortState::Unreachable => "unreachable",
            PortState::Unresolved => "unresolved",
            PortState::Failed => "failed",
        }
    }
}

/// Reads the state from a connect result.
pub fn state(result: &ConnectResult) -> PortState {
    if result.connected {
        return PortState::Open;
    }
    let error = result.error.as_deref().unwrap_or("").to_ascii_lowercase();
    if error.contains("refused") {
        PortState::Refused
    } else if error.contains("timed out") || error.contains("os error 110") {
        PortState::TimedOut
    } else if error.contains("unreachable")
        || error.contains("no route to host")
        || error.contains("prohibited")
    {
        PortState::Unreachable
    } else if error.contains("lookup address")
        || error.contains("name or service not known")
        || error.contains("name resolution")
        || error.contains("nodename nor servname")
    {
        PortState::Unresolved
    } else {
        PortState::Failed
    }
}

/// A short, human account of an unsuccessful probe.
pub fn describe(result: &ConnectResult, timeout_ms: u32) -> String {
    let error = result.error.as_deref().unwrap_or("no error reported");
    match state(result) {
        PortState::Open => format!("connected in {} ms", result.elapsed_ms),
        PortState::Refused => format!("connection refused after {} ms", result.elapsed_ms),
        PortState::TimedOut => format!("no answer within {timeout_ms} ms"),
        PortState::Unreachable => format!("unreachable: {error}"),
        PortState::Unresolved => format!("the host name does not resolve: {error}"),
        PortState::Failed => format!("connect failed after {} ms: {error}", result.elapsed_ms),
    }
}

#[cfg(test)]
pub(crate) fn probe(connected: bool, error: Option<&str>, elapsed_ms: u32) -> ConnectResult {
    ConnectResult {
        connected,
        address: connected.then(|| "127.0.0.1:8080".to_string()),
        elapsed_ms,
        error: error.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_os_error_texts() {
        let cases = [
            (None, PortState::Open, true),
            (
                Some("Connection refused (os error 111)"),
                PortState::Refused,
                false,
            ),
            (Some("timed out after 2000 ms"), PortState::TimedOut, false),
            (
                Some("Connection timed out (os error 110)"),
                PortState::TimedOut,
                false,
            ),
            (
                Some("No route to host (os error 113)"),
                PortState::Unreachable,
                false,
            ),
            (
                Some("Network is unreachable (os error 101)"),
                PortState::Unreachable,
                false,
            ),
            (
                Some("failed to lookup address information: Name or service not known"),
                PortState::Unresolved,
                false,
            ),
            (
                Some("failed to lookup address information: Temporary failure in name resolution"),
                PortState::Unresolved,
                false,
            ),
            (
                Some("Address family not supported by protocol (os error 97)"),
                PortState::Failed,
                false,
            ),
        ];
        for (error, expected, connected) in cases {
            assert_eq!(state(&probe(connected, error, 3)), expected, "{error:?}");
        }
    }

    #[test]
    fn describes_each_state() {
        let refused = probe(false, Some("Connection refused (os error 111)"), 2);
        assert_eq!(describe(&refused, 500), "connection refused after 2 ms");
        let timeout = probe(false, Some("timed out after 500 ms"), 500);
        assert_eq!(describe(&timeout, 500), "no answer within 500 ms");
    }
}
