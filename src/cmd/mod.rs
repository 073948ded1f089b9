//! One module per subcommand.

pub mod approve;
pub mod checks;
pub mod evaluate;
pub mod exemption;
pub mod migrate;
pub mod policy;
pub mod rollout;
mod shared;
