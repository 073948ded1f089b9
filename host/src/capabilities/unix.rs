//! `unix`: byte exchange over allow-listed Unix sockets (e.g. HAProxy's admin socket).

use tokio::net::UnixStream;

use super::{HostState, bounded, exchange::exchange, granted};
use crate::bindings::gate::plugin::net::ExchangeOptions;
use crate::bindings::gate::plugin::unix::Host;

impl Host for HostState {
    async fn exchange(
        &mut self,
        path: String,
        data: Vec<u8>,
        opts: ExchangeOptions,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        let full = self.sandbox.cwd.join(&path).to_string_lossy().into_owned();
        if !granted(&self.sandbox.grants.unix, &path) && !granted(&self.sandbox.grants.unix, &full)
        {
            return Ok(Err(self.sandbox.denied("unix", &path, &path)));
        }
        Ok(bounded(
            self.budget(opts.timeout_ms),
            &format!("exchange over {path}"),
            async {
                let mut s = UnixStream::connect(&full)
                    .await
                    .map_err(|e| format!("connect {path}: {e}"))?;
                exchange(&mut s, &data, opts.max_bytes, opts.delimiter.as_deref()).await
            },
        )
        .await)
    }
}
