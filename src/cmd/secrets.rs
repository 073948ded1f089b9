//! `gate secrets baseline`: accept the secrets a tree holds today, so a
//! repository can turn `security.no-secrets` on without a wall of findings.
//!
//! The baseline is the file the policy's `security.no-secrets` check names in its
//! `baseline` param. This command runs that check (the policy's gates, not
//! recorded in the audit log: accepting is not a deploy decision) and writes
//! every secret it reports by file, rule and the check's own `fingerprint`
//! evidence, a SHA-256 salted with the baseline's random salt. The secret never
//! leaves the plugin, so it is never in the file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gate_eval::evaluate::{self, EvaluateOptions};

use super::shared;
use crate::exit;

const CHECK: &str = "security.no-secrets";

#[derive(clap::Subcommand, Debug)]
pub enum SecretsCommand {
    /// Accept the secrets found today: write the baseline file the policy's security.no-secrets check names (`params.baseline`)
    Baseline(BaselineArgs),
}

#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    /// Policy file (TOML) whose security.no-secrets check has a `baseline` param
    #[arg(long, short)]
    pub policy: PathBuf,
    /// Evaluate only this gate
    #[arg(long, short)]
    pub gate: Option<String>,
}

pub async fn run(cmd: SecretsCommand) -> u8 {
    match cmd {
        SecretsCommand::Baseline(args) => match baseline(args).await {
            Ok(code) | Err(code) => code,
        },
    }
}

async fn baseline(args: BaselineArgs) -> Result<u8, u8> {
    let clock = shared::clock()?;
    let policy = shared::load_policy(&args.policy, clock)?;
    let shown = args.policy.display();
    let check = policy
        .checks
        .iter()
        .find(|c| c.id == CHECK)
        .ok_or_else(|| {
            exit::report(format_args!(
                "{shown}: the policy has no [[check]] for {CHECK}"
            ))
        })?;
    let path = check
        .params
        .get("baseline")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            exit::report(format_args!(
                "{shown}: the {CHECK} check has no `baseline` param; add one, e.g. \
                 params = {{ paths = [\".\"], baseline = \".gate/secrets-baseline.json\" }}"
            ))
        })?
        .to_string();
    let cwd = shared::cwd()?;
    let file = cwd.join(&path);
    // The check reads the baseline beneath its grant, where a link is refused;
    // saying so here is clearer than the scan's error (and the file is written
    // without following links either way).
    if std::fs::symlink_metadata(&file).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(exit::report(format_args!(
            "{}: the baseline is a symbolic link; make it a regular file",
            file.display()
        )));
    }
    // A file without a salt yet gets one; an existing salt is kept, so the
    // fingerprints of accepted secrets stay what they were.
    if !file.exists() {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt)
            .map_err(|e| exit::report(format_args!("generating a salt: {e}")))?;
        write(&file, &[], &hex::encode(salt))?;
    }
    let runtime = shared::runtime()?;
    let options = EvaluateOptions {
        gate: args.gate.clone(),
        cwd,
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
    let mut accepted = BTreeSet::new();
    let mut errors = Vec::new();
    for c in report.gates.iter().flat_map(|g| &g.checks) {
        if c.id != CHECK {
            continue;
        }
        for f in &c.findings {
            match (&f.rule, f.evidence.get("fingerprint")) {
                _ if f.status == gate_core::model::Status::Error => {
                    errors.push(format!("{}: {}", f.subject, f.message))
                }
                // Published samples pass on their own; denied values are never accepted.
                _ if f.evidence.contains_key("note") => {}
                (Some(rule), Some(fp)) if rule != "denied-pattern" => {
                    accepted.insert((f.subject.clone(), rule.clone(), fp.clone()));
                }
                _ => {}
            }
        }
    }
    if !errors.is_empty() {
        return Err(exit::report(format_args!(
            "{CHECK} could not scan everything, so no baseline was written:\n  {}",
            errors.join("\n  ")
        )));
    }
    let text = std::fs::read_to_string(&file)
        .map_err(|e| exit::report(format_args!("reading {}: {e}", file.display())))?;
    let salt = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["salt"].as_str().map(str::to_string))
        .ok_or_else(|| exit::report(format_args!("{}: no `salt`", file.display())))?;
    let entries: Vec<_> = accepted.into_iter().collect();
    write(&file, &entries, &salt)?;
    println!(
        "accepted {} secret(s) in {path} (file, rule and salted SHA-256; no secret in clear)",
        entries.len()
    );
    Ok(exit::PASS)
}

/// Replaces the baseline atomically, without following a symlink at its name.
fn write(file: &Path, entries: &[(String, String, String)], salt: &str) -> Result<(), u8> {
    let secrets: Vec<_> = entries
        .iter()
        .map(|(file, rule, hash)| serde_json::json!({ "file": file, "rule": rule, "hash": hash }))
        .collect();
    let doc = serde_json::json!({ "version": 1, "salt": salt, "secrets": secrets });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    gate_core::atomic_file::write(file, &[text.as_bytes()])
        .map_err(|e| exit::report(format_args!("writing {}: {e}", file.display())))
}
