//! One module per subcommand.

pub mod approve;
pub mod audit;
pub mod checks;
pub mod drill;
pub mod evaluate;
pub mod exemption;
pub mod incident;
pub mod migrate;
pub mod notify;
pub mod plugin;
pub mod policy;
mod record;
pub mod rollout;
pub mod secrets;
pub mod serve;
mod shared;
