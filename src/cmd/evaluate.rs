//! `gate evaluate`: run a policy's gates, record the decision in the audit
//! log, and report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use gate_eval::evaluate::{self, EvaluateOptions};
use gate_eval::report::{self, Format, RenderOptions, Verdict};

use super::record::RecordArgs;
use super::shared;
use crate::exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Policy file (TOML)
    #[arg(long, short)]
    pub policy: PathBuf,
    /// Evaluate only this gate
    #[arg(long, short)]
    pub gate: Option<String>,
    /// Report format
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file instead of stdout
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub record: RecordArgs,
}

pub async fn run(args: Args) -> u8 {
    match evaluate(args).await {
        Ok(code) | Err(code) => code,
    }
}

async fn evaluate(args: Args) -> Result<u8, u8> {
    let format = args.format;
    let clock = shared::clock()?;
    let policy = shared::load_policy(&args.policy, clock)?;
    let runtime = shared::runtime()?;
    let options = EvaluateOptions {
        gate: args.gate.clone(),
        cwd: shared::cwd()?,
        clock,
        policy_file: args.policy.display().to_string(),
        started: crate::process_started(),
        hosted: shared::hosted_checks(),
    };
    let plan = evaluate::plan(&runtime, &policy, &options)
        .await
        .map_err(exit::report)?;
    let report = evaluate::evaluate(runtime.clone(), &policy, &plan, &options)
        .await
        .map_err(exit::report)?;
    // Recorded before anything is shown: a decision that is not on record
    // is not reported.
    let entry = gate_eval::audit_record::evaluation(&report, &policy, args.gate.as_deref())
        .map_err(|e| exit::report(format_args!("reading {}: {e}", policy.source.display())))?;
    args.record.append(Some(&policy), entry)?;
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none();
    let text = report::render(&report, format, RenderOptions { color });
    match &args.output {
        Some(path) => std::fs::write(path, &text)
            .map_err(|e| exit::report(format_args!("writing {}: {e}", path.display())))?,
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
    // Under GitHub Actions, annotate the run too, unless stdout carries a
    // machine format that annotations would corrupt.
    let stdout_free = args.output.is_some() || format == Format::Human;
    if std::env::var_os("GITHUB_ACTIONS").is_some() && format != Format::Github && stdout_free {
        print!(
            "{}",
            report::render(&report, Format::Github, RenderOptions::default())
        );
    }
    // After the verdict is on record and shown: never changes it.
    super::notify::after_evaluation(&args.record, &policy, &report, clock).await;
    Ok(match report.verdict {
        Verdict::Pass => exit::PASS,
        Verdict::Fail => exit::FAIL,
    })
}
