//! One module per subcommand.

pub mod checks;
pub mod evaluate;
pub mod policy;
pub mod rollout;
mod shared;
