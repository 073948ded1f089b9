//! `net`: TCP connect probes, DNS resolution, byte exchange and TLS inspection
//! to granted `host:port` targets.
//!
//! A target is parsed into a [`NetTarget`] and matched against the typed
//! grants. A name is then resolved once and the addresses it resolved to are
//! what gets connected to, so nothing is looked up again between the check and
//! the connection; an IP literal is connected to as is.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::TcpStream;

use super::{HostState, Sandbox, bounded, exchange::exchange};
use crate::bindings::gate::plugin::net::{
    ConnectResult, ExchangeOptions, Host, TlsInfo, TlsOptions,
};
use crate::grant::{NetTarget, request_host};

impl Sandbox {
    /// The parsed target, when a `net` grant covers it.
    pub(super) fn net_target(&self, text: &str) -> Result<NetTarget, String> {
        self.allowed_target(text, NetTarget::parse(text).map_err(|e| e.to_string())?)
    }

    /// `target` (parsed from `text`), when a `net` grant covers it.
    fn allowed_target(&self, text: &str, target: NetTarget) -> Result<NetTarget, String> {
        if !self.grants.net.iter().any(|g| g.allows(&target)) {
            return Err(self.denied("net", text, &target.to_string()));
        }
        Ok(target)
    }
}

/// The addresses to connect to: the literal itself, or the name resolved once.
pub(super) async fn addresses(target: &NetTarget) -> Result<Vec<SocketAddr>, String> {
    if let Some(addr) = target.literal() {
        return Ok(vec![addr]);
    }
    let name = target.host_name();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), target.port))
        .await
        .map_err(|e| format!("resolve {name}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("resolve {name}: no address"));
    }
    Ok(addrs)
}

/// Connects to the first of `addrs` that accepts.
async fn connect_any(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
}

/// Resolves and connects to a checked target.
async fn open(target: &NetTarget) -> Result<TcpStream, String> {
    let addrs = addresses(target).await?;
    connect_any(&addrs)
        .await
        .map_err(|e| format!("connect {target}: {e}"))
}

impl Host for HostState {
    async fn resolve(
        &mut self,
        host: String,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<Vec<String>, String>> {
        // Resolving needs a grant for the host on some port: the same host
        // patterns as connections, so an IP pattern never resolves a name.
        let parsed = match request_host(&host) {
            Ok(h) => h,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if !self
            .sandbox
            .grants
            .net
            .iter()
            .any(|g| g.host.matches(&parsed))
        {
            return Ok(Err(self.sandbox.denied(
                "net",
                &host,
                &format!("{parsed}:*"),
            )));
        }
        let target = NetTarget {
            host: parsed,
            port: 0,
        };
        Ok(bounded(
            self.budget(timeout_ms),
            &format!("resolve {host}"),
            async move {
                let mut ips: Vec<String> = addresses(&target)
                    .await?
                    .into_iter()
                    .map(|a| a.ip().to_string())
                    .collect();
                ips.dedup();
                Ok(ips)
            },
        )
        .await)
    }

    async fn connect(
        &mut self,
        target: String,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<ConnectResult, String>> {
        let parsed = match NetTarget::parse(&target) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if let Some(stubbed) = self.stubbed(
            |s| s.connect(&parsed),
            |s| s.denied("net", &target, &parsed.to_string()),
        ) {
            return Ok(stubbed);
        }
        let checked = match self.sandbox.allowed_target(&target, parsed) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let started = Instant::now();
        let budget = self.budget(timeout_ms);
        let result = tokio::time::timeout(budget, open(&checked)).await;
        let elapsed_ms = started.elapsed().as_millis() as u32;
        Ok(Ok(match result {
            Ok(Ok(stream)) => ConnectResult {
                connected: true,
                address: stream.peer_addr().ok().map(|a| a.to_string()),
                elapsed_ms,
                error: None,
            },
            Ok(Err(e)) => ConnectResult {
                connected: false,
                address: None,
                elapsed_ms,
                error: Some(e),
            },
            Err(_) => ConnectResult {
                connected: false,
                address: None,
                elapsed_ms,
                error: Some(format!("timed out after {} ms", budget.as_millis())),
            },
        }))
    }

    async fn exchange(
        &mut self,
        target: String,
        data: Vec<u8>,
        opts: ExchangeOptions,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        let parsed = match NetTarget::parse(&target) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if let Some(stubbed) = self.stubbed(
            |s| s.exchange(&parsed, opts.max_bytes),
            |s| s.denied("net", &target, &parsed.to_string()),
        ) {
            return Ok(stubbed);
        }
        let checked = match self.sandbox.allowed_target(&target, parsed) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let what = format!("exchange with {target}");
        Ok(bounded(self.budget(opts.timeout_ms), &what, async {
            let mut s = open(&checked).await?;
            exchange(&mut s, &data, opts.max_bytes, opts.delimiter.as_deref()).await
        })
        .await)
    }

    async fn tls_inspect(
        &mut self,
        target: String,
        opts: TlsOptions,
    ) -> wasmtime::Result<Result<TlsInfo, String>> {
        let checked = match self.sandbox.net_target(&target) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let ca_pem = match &opts.ca_file {
            None => None,
            Some(ca) => match self
                .sandbox
                .read_granted(ca, super::CA_FILE_CAP, self.budget(opts.timeout_ms))
                .await
            {
                Ok(pem) => Some(pem),
                Err(e) => return Ok(Err(e)),
            },
        };
        let budget = self.budget(opts.timeout_ms);
        Ok(bounded(
            self.budget(opts.timeout_ms),
            &format!("TLS handshake with {target}"),
            async move {
                let addrs = addresses(&checked).await?;
                let host = checked.host_name();
                tokio::task::spawn_blocking(move || {
                    super::tls::inspect(&target, &addrs, &host, &opts, budget, ca_pem.as_deref())
                })
                .await
                .map_err(|e| format!("TLS inspection failed: {e}"))?
            },
        )
        .await)
    }

    async fn tls_accepts_version(
        &mut self,
        target: String,
        version: String,
        opts: TlsOptions,
    ) -> wasmtime::Result<Result<bool, String>> {
        let checked = match self.sandbox.net_target(&target) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let budget = self.budget(opts.timeout_ms);
        Ok(bounded(
            self.budget(opts.timeout_ms),
            &format!("TLS handshake with {target}"),
            async move {
                let addrs = addresses(&checked).await?;
                let host = checked.host_name();
                tokio::task::spawn_blocking(move || {
                    super::tls::accepts_version(&target, &addrs, &host, &version, &opts, budget)
                })
                .await
                .map_err(|e| format!("TLS probe failed: {e}"))?
            },
        )
        .await)
    }
}
