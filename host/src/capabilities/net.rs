//! `net`: TCP connect probes, DNS resolution, byte exchange and TLS inspection
//! to allow-listed `host:port` patterns.

use std::time::Instant;

use tokio::net::TcpStream;

use super::{HostState, bounded, exchange::exchange, granted};
use crate::bindings::gate::plugin::net::{
    ConnectResult, ExchangeOptions, Host, TlsInfo, TlsOptions,
};

/// Splits `host:port` (with `[v6]:port` support).
pub(super) fn split_target(target: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = target.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or_else(|| format!("`{target}` is not host:port"))?;
        (h.to_string(), p)
    } else {
        let (h, p) = target
            .rsplit_once(':')
            .ok_or_else(|| format!("`{target}` is not host:port"))?;
        (h.to_string(), p)
    };
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("`{target}`: invalid port `{port}`"))?;
    if host.is_empty() {
        return Err(format!("`{target}`: empty host"));
    }
    Ok((host, port))
}

impl HostState {
    pub(super) fn check_net(&self, target: &str) -> Result<(String, u16), String> {
        let (host, port) = split_target(target)?;
        if !granted(&self.sandbox.grants.net, target) {
            return Err(self.sandbox.denied("net", target, target));
        }
        Ok((host, port))
    }
}

impl Host for HostState {
    async fn resolve(
        &mut self,
        host: String,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<Vec<String>, String>> {
        let probe = format!("{host}:53");
        if !granted(&self.sandbox.grants.net, &format!("{host}:*"))
            && !granted(&self.sandbox.grants.net, &probe)
            && !self
                .sandbox
                .grants
                .net
                .iter()
                .any(|p| p.starts_with(&format!("{host}:")))
        {
            return Ok(Err(self.sandbox.denied("net", &host, &format!("{host}:*"))));
        }
        let h = host.clone();
        Ok(bounded(
            self.budget(timeout_ms),
            &format!("resolve {host}"),
            async move {
                let addrs = tokio::net::lookup_host((h.as_str(), 0))
                    .await
                    .map_err(|e| format!("resolve {h}: {e}"))?;
                let mut ips: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
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
        if let Err(e) = self.check_net(&target) {
            return Ok(Err(e));
        }
        let started = Instant::now();
        let budget = self.budget(timeout_ms);
        let result = tokio::time::timeout(budget, TcpStream::connect(target.as_str())).await;
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
                error: Some(e.to_string()),
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
        if let Err(e) = self.check_net(&target) {
            return Ok(Err(e));
        }
        let what = format!("exchange with {target}");
        Ok(bounded(self.budget(opts.timeout_ms), &what, async {
            let mut s = TcpStream::connect(target.as_str())
                .await
                .map_err(|e| format!("connect {target}: {e}"))?;
            exchange(&mut s, &data, opts.max_bytes, opts.delimiter.as_deref()).await
        })
        .await)
    }

    async fn tls_inspect(
        &mut self,
        target: String,
        opts: TlsOptions,
    ) -> wasmtime::Result<Result<TlsInfo, String>> {
        let (host, _) = match self.check_net(&target) {
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
                tokio::task::spawn_blocking(move || {
                    super::tls::inspect(&target, &host, &opts, budget, ca_pem.as_deref())
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
        let (host, _) = match self.check_net(&target) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let budget = self.budget(opts.timeout_ms);
        Ok(bounded(
            self.budget(opts.timeout_ms),
            &format!("TLS handshake with {target}"),
            async move {
                tokio::task::spawn_blocking(move || {
                    super::tls::accepts_version(&target, &host, &version, &opts, budget)
                })
                .await
                .map_err(|e| format!("TLS probe failed: {e}"))?
            },
        )
        .await)
    }
}

#[cfg(test)]
mod tests {
    use super::split_target;

    #[test]
    fn targets() {
        assert_eq!(split_target("db:5432").unwrap(), ("db".into(), 5432));
        assert_eq!(split_target("[::1]:443").unwrap(), ("::1".into(), 443));
        assert!(split_target("db").is_err());
        assert!(split_target("db:http").is_err());
        assert!(split_target(":80").is_err());
    }
}
