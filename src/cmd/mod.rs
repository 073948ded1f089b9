//! One module per subcommand.

pub mod checks;
pub mod evaluate;
pub mod migrate;
pub mod policy;
pub mod rollout;
mod shared;
