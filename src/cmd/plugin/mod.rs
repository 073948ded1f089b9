//! `gate plugin`: the plugin author's commands.

pub mod test;

#[derive(clap::Subcommand, Debug)]
pub enum PluginCommand {
    /// Run the plugin's case files and the rules every plugin keeps
    Test(test::Args),
}

pub async fn run(cmd: PluginCommand) -> u8 {
    match cmd {
        PluginCommand::Test(args) => test::run(args).await,
    }
}
