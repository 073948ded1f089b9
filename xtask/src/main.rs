//! `cargo xtask`: developer tasks for gate. Each subcommand lives in its
//! own module; add one by adding a module and a `Command` variant.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod edit;
mod new_check;
mod new_format;
mod new_rule;

#[derive(Parser)]
#[command(about = "Developer tasks for gate")]
struct Cli {
    /// The repository root (default: the parent of the xtask crate).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// The variants name the subcommands (`new-rule`, `new-check`, `new-format`).
#[allow(clippy::enum_variant_names)]
enum Command {
    /// Scaffold a migration rule: its module, registry line and docs.
    NewRule(new_rule::Args),
    /// Scaffold a built-in check: its module, registration, docs page and
    /// catalogue entries.
    NewCheck(new_check::Args),
    /// Scaffold a report format: its renderer, `Format` variant and docs.
    NewFormat(new_format::Args),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = cli
        .root
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    match cli.command {
        Command::NewRule(args) => new_rule::run(&root, &args),
        Command::NewCheck(args) => new_check::run(&root, &args),
        Command::NewFormat(args) => new_format::run(&root, &args),
    }
}
