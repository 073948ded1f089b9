//! gate's plugin sandbox: the WIT bindings, the wasmtime engine and its
//! limits, the plugin cache, typed grants, and the host capabilities that
//! enforce them on resolved objects (directory handles, parsed URLs,
//! resolved addresses).
//!
//! This crate knows nothing of policies, gates or reports: it loads a
//! component under a [`grants::Grants`] and runs one call in a fresh store.
//! Layers above it (`gate-eval`, `gate-migrate`, `gate-rollout`) decide what
//! to run. See ARCHITECTURE.md.

pub mod bindings;
pub mod cache;
pub mod capabilities;
pub mod engine;
pub mod fs_grants;
pub mod glob;
pub mod grant;
pub mod grants;
pub mod ids;
pub mod plugin;
pub mod postgres;
pub mod resources;
pub mod stacks;
pub mod wasm_target;
