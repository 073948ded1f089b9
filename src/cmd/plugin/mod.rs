//! `gate plugin`: the plugin author's workflow, from an empty directory to a
//! pinned, tested component (gate-devkit does the work).

pub mod build;
pub mod inspect;
pub mod new;
pub mod test;

#[derive(clap::Subcommand, Debug)]
pub enum PluginCommand {
    /// Write a new plugin project (manifest, one example check, case file, policy snippet, SDK)
    New(new::Args),
    /// Build the project's component, check it, and print its sha256 and the [[plugin]] block to pin it
    Build(build::Args),
    /// Run the plugin's case files and the rules every plugin keeps
    Test(test::Args),
    /// Show what a component is: world, WIT version, checks, imported capabilities, size, compile time
    Inspect(inspect::Args),
}

pub async fn run(cmd: PluginCommand) -> u8 {
    match cmd {
        PluginCommand::New(args) => new::run(args),
        PluginCommand::Build(args) => build::run(args).await,
        PluginCommand::Test(args) => test::run(args).await,
        PluginCommand::Inspect(args) => inspect::run(args).await,
    }
}

/// `--format` of `gate plugin build` and `inspect`.
pub use super::shared::ListFormat as Format;
