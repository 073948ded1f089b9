//! One module per subcommand.

pub mod checks;
pub mod evaluate;
pub mod policy;
mod shared;
