//! `gate incident list|show`: the incidents rollbacks, aborts and failed
//! verify stages opened (docs/incidents.md), read from the rollout's store.

use std::path::{Path, PathBuf};

use gate_rollout::controller;
use gate_rollout::incident::{Incident, files, render};

use super::rollout::load_spec;
use crate::exit;

#[derive(clap::Subcommand, Debug)]
pub enum IncidentCommand {
    /// List incidents, oldest first
    List(ListArgs),
    /// Show one incident: a post-incident summary to paste (Markdown), JSON or text
    Show(ShowArgs),
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// The rollout spec whose incidents to list (its store: the state
    /// directory or PostgreSQL); without it, every incident in .gate/state
    /// of the working directory
    #[arg(long, short)]
    pub spec: Option<PathBuf>,
    /// Output format
    #[arg(long, short, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The incident's id, as `gate incident list` shows it (e.g. web-20261203-1)
    pub id: String,
    /// The rollout spec whose store holds it; without it, .gate/state of
    /// the working directory
    #[arg(long, short)]
    pub spec: Option<PathBuf>,
    /// Output format
    #[arg(long, short, value_enum, default_value_t = ShowFormat::Markdown)]
    pub format: ShowFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    /// A post-incident summary: summary, impact, trigger, timeline, actions, follow-ups
    Markdown,
    Json,
    Text,
}

pub async fn run(command: IncidentCommand) -> u8 {
    match command {
        IncidentCommand::List(args) => list(args).await,
        IncidentCommand::Show(args) => show(args).await,
    }
}

/// The incidents of the spec's rollout, or of every rollout in
/// `.gate/state` (the default state directory of specs in the working
/// directory).
async fn incidents(spec: Option<&Path>) -> Result<Vec<Incident>, u8> {
    let Some(path) = spec else {
        return files::list(Path::new(".gate/state"), None).map_err(exit::report);
    };
    let spec = load_spec(path, None)?;
    let store = controller::open_store(&spec).await.map_err(exit::report)?;
    store.incidents().await.map_err(exit::report)
}

fn json(text: Result<String, serde_json::Error>) -> u8 {
    match text {
        Ok(text) => {
            println!("{text}");
            exit::PASS
        }
        Err(e) => exit::report(e),
    }
}

async fn list(args: ListArgs) -> u8 {
    let all = match incidents(args.spec.as_deref()).await {
        Ok(all) => all,
        Err(code) => return code,
    };
    match args.format {
        ListFormat::Json => json(serde_json::to_string_pretty(&all)),
        ListFormat::Text => {
            if all.is_empty() {
                println!("no incidents");
            }
            for i in &all {
                println!("{}", render::list_line(i));
            }
            exit::PASS
        }
    }
}

async fn show(args: ShowArgs) -> u8 {
    let all = match incidents(args.spec.as_deref()).await {
        Ok(all) => all,
        Err(code) => return code,
    };
    let Some(incident) = all.into_iter().find(|i| i.id == args.id) else {
        return exit::report(format_args!(
            "no incident `{}`{}; `gate incident list` shows the ids",
            args.id,
            args.spec
                .as_ref()
                .map_or(" in .gate/state".to_string(), |s| format!(
                    " in the store of {}",
                    s.display()
                ))
        ));
    };
    match args.format {
        ShowFormat::Json => json(serde_json::to_string_pretty(&incident)),
        ShowFormat::Markdown => {
            print!("{}", render::markdown(&incident));
            exit::PASS
        }
        ShowFormat::Text => {
            print!("{}", render::text(&incident));
            exit::PASS
        }
    }
}
