//! gate's host runtime: plugin sandbox, policy model, evaluation and reporters.

pub mod atomic_file;
pub mod beneath;
pub mod bindings;
pub mod cache;
pub mod capabilities;
pub mod clock;
pub mod engine;
pub mod evaluate;
pub mod fs_grants;
pub mod migrate;
pub mod model;
pub mod plugin;
pub mod policy;
pub mod postgres;
pub mod private_dir;
pub mod report;
pub mod rollout;
