//! `env`: reads of allow-listed environment variables only.

use super::{HostState, granted};
use crate::bindings::gate::plugin::env::Host;

impl Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<Option<String>, String>> {
        if let Some(stubbed) = self.stubbed(|s| s.env(&name), |s| s.denied("env", &name, &name)) {
            return Ok(stubbed.map(Some));
        }
        if !granted(&self.sandbox.grants.env, &name) {
            return Ok(Err(self.sandbox.denied("env", &name, &name)));
        }
        Ok(Ok(std::env::var(&name).ok()))
    }
}
