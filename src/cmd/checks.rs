//! `gate checks list`: every check with its parameters.

use std::collections::BTreeSet;
use std::path::PathBuf;

use gate_eval::evaluate::{self, EvaluateOptions};
use gate_eval::policy::Policy;
use gate_sandbox::plugin::{BUILTINS, PluginMeta};

use super::shared::{self, ListFormat};
use crate::exit;

#[derive(clap::Subcommand, Debug)]
pub enum ChecksCommand {
    /// Print every check, its default severity, capabilities and parameters
    List {
        /// Also list the checks of this policy's external plugins
        #[arg(long, short)]
        policy: Option<PathBuf>,
        /// Output format
        #[arg(long, short, value_enum, default_value_t = ListFormat::Human)]
        format: ListFormat,
    },
}

pub async fn run(cmd: ChecksCommand) -> u8 {
    let ChecksCommand::List { policy, format } = cmd;
    match list(policy, format).await {
        Ok(code) | Err(code) => code,
    }
}

async fn list(policy_path: Option<PathBuf>, format: ListFormat) -> Result<u8, u8> {
    let clock = shared::clock()?;
    let policy = match &policy_path {
        Some(p) => shared::load_policy(p, clock)?,
        None => empty_policy(),
    };
    let runtime = shared::runtime()?;
    let mut names: BTreeSet<String> = BUILTINS.iter().map(|b| b.name.to_string()).collect();
    names.extend(
        policy
            .plugins
            .iter()
            .filter(|p| p.path.is_some())
            .map(|p| p.name.clone()),
    );
    let options = EvaluateOptions {
        gate: None,
        cwd: shared::cwd()?,
        clock,
        policy_file: policy_path
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        started: crate::process_started(),
        hosted: shared::hosted_checks(),
    };
    let plugins = evaluate::load_plugins(&runtime, &policy, &names, &options)
        .await
        .map_err(exit::report)?;
    let metas: Vec<&PluginMeta> = plugins.iter().map(|p| &p.meta).collect();
    if format == ListFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&metas).expect("serialisable")
        );
    } else {
        print!("{}", render_human(&metas));
    }
    Ok(exit::PASS)
}

pub fn render_human(plugins: &[&PluginMeta]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for p in plugins {
        let _ = writeln!(out, "{} {} — {}", p.id, p.version, p.description);
        for c in &p.checks {
            let _ = writeln!(
                out,
                "  {:<28} {:<8} {}",
                c.id,
                c.default_severity.as_str(),
                c.title
            );
            if !c.capabilities.is_empty() {
                let _ = writeln!(out, "      needs: {}", c.capabilities.join(", "));
            }
            for param in &c.params {
                let req = if param.required { " (required)" } else { "" };
                let def = param
                    .default
                    .as_deref()
                    .map(|d| format!(" [default: {d}]"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "      {} : {}{}{} — {}",
                    param.name, param.kind, req, def, param.description
                );
            }
        }
        out.push('\n');
    }
    out
}

fn empty_policy() -> Policy {
    Policy {
        name: String::new(),
        source: PathBuf::new(),
        max_exemption_days: None,
        warn_days: 14,
        plugins: Vec::new(),
        connections: Default::default(),
        metrics: Default::default(),
        gates: Vec::new(),
        checks: Vec::new(),
        exemptions: Vec::new(),
        migrations: Default::default(),
        audit: Default::default(),
        notify: Vec::new(),
        restore_drills: Default::default(),
        inputs: Vec::new(),
    }
}
