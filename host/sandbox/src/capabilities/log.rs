//! `log`: plugin messages into the host's tracing output. Always granted, but
//! counted against the output cap.

use super::HostState;
use crate::bindings::gate::plugin::log::{Host, Level};

const MAX_MESSAGE: usize = 4096;

impl Host for HostState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.charge_output(message.len())?;
        let mut message = message;
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = &self.sandbox.plugin;
        let check = &self.check;
        match level {
            Level::Trace => tracing::trace!(plugin, check, "{message}"),
            Level::Debug => tracing::debug!(plugin, check, "{message}"),
            Level::Info => tracing::info!(plugin, check, "{message}"),
            Level::Warn => tracing::warn!(plugin, check, "{message}"),
            Level::Error => tracing::error!(plugin, check, "{message}"),
        }
        Ok(())
    }
}

impl crate::bindings::gate::plugin::clock::Host for HostState {
    async fn now(&mut self) -> wasmtime::Result<(i64, u32)> {
        let now = self.sandbox.clock.now();
        Ok((now.timestamp(), now.timestamp_subsec_nanos()))
    }
}

/// The `types` interface has no functions; the bindings still want a `Host`.
impl crate::bindings::gate::plugin::types::Host for HostState {}
