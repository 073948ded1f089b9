//! `gate plugin test`: runs a project's case files against its built
//! component, and the rules every plugin keeps.

use std::path::PathBuf;

use crate::exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin project (the directory holding gate-plugin.toml)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

pub async fn run(_args: Args) -> u8 {
    exit::report("gate plugin test is not built yet")
}
