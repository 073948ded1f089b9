//! `gate policy lint`: check a policy without running it.

use std::path::PathBuf;

use gate_eval::evaluate::{self, EvaluateOptions, Plan};
use gate_eval::policy::Policy;

use super::shared;
use crate::exit;

#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Validate a policy: syntax, schema, check ids, and the grants each check needs
    Lint {
        /// Policy file (TOML)
        file: PathBuf,
    },
}

pub async fn run(cmd: PolicyCommand) -> u8 {
    let PolicyCommand::Lint { file } = cmd;
    match lint(file).await {
        Ok(code) | Err(code) => code,
    }
}

/// Which grant list a capability name maps to.
fn granted(grants: &gate_eval::policy::Grants, capability: &str) -> Option<bool> {
    Some(match capability {
        "fs" | "system" => !grants.fs.is_empty(),
        "env" => !grants.env.is_empty(),
        "http" => !grants.http.is_empty(),
        "net" => !grants.net.is_empty(),
        "unix" => !grants.unix.is_empty(),
        "sql" => !grants.sql.is_empty(),
        "metrics" => !grants.metrics.is_empty(),
        "log" | "clock" => true,
        _ => return None,
    })
}

async fn lint(file: PathBuf) -> Result<u8, u8> {
    let clock = shared::clock()?;
    let policy = shared::load_policy(&file, clock)?;
    let runtime = shared::runtime()?;
    // Every declared plugin, used by a gate or not: file, pin and world.
    let broken = evaluate::verify_declared_plugins(&runtime, &policy, true);
    if !broken.is_empty() {
        for (origin, e) in &broken {
            eprintln!("error: {origin}: {e}");
        }
        eprintln!(
            "{}: {} declared plugin{} cannot be loaded",
            file.display(),
            broken.len(),
            if broken.len() == 1 { "" } else { "s" }
        );
        return Err(exit::ERROR);
    }
    let options = EvaluateOptions {
        gate: None,
        cwd: shared::cwd()?,
        clock,
        policy_file: file.display().to_string(),
        started: crate::process_started(),
        hosted: shared::hosted_checks(),
    };
    let plan = evaluate::plan(&runtime, &policy, &options)
        .await
        .map_err(exit::report)?;
    // [migrations] rule ids are checked against the validator's rules.
    if policy.migrations.origin.is_some() {
        let validator =
            gate_migrate::lint::load_validator(&runtime, Some(&policy), &options.cwd, clock)
                .await
                .map_err(exit::report)?;
        gate_migrate::lint::check_rule_ids(&policy.migrations, &validator).map_err(exit::report)?;
    }
    let (checks, warnings) = warn_about_checks(&policy, &plan, &options);
    println!(
        "{}: ok — {} gate{}, {checks} check{}, {} exemption{}, {warnings} warning{}",
        file.display(),
        plan.gates.len(),
        if plan.gates.len() == 1 { "" } else { "s" },
        if checks == 1 { "" } else { "s" },
        policy.exemptions.len(),
        if policy.exemptions.len() == 1 {
            ""
        } else {
            "s"
        },
        if warnings == 1 { "" } else { "s" },
    );
    Ok(exit::PASS)
}

/// Prints a warning for each planned check (once, under the first gate that
/// lists it) whose plugin lacks a grant it needs or whose required param no
/// `[[check]]` sets. Returns how many checks were planned and how many
/// warnings were printed.
fn warn_about_checks(policy: &Policy, plan: &Plan, options: &EvaluateOptions) -> (usize, usize) {
    let mut warnings = 0;
    let mut seen = Vec::new();
    for (gate, ids) in &plan.gates {
        for id in ids {
            if seen.contains(id) {
                continue;
            }
            seen.push(id.clone());
            let (plugin, meta) = plan.check(id).expect("planned");
            let grants = policy
                .plugin(&plugin.name)
                .map(|p| p.grants.clone())
                .unwrap_or_default();
            let missing: Vec<&str> = meta
                .capabilities
                .iter()
                .map(String::as_str)
                // `a|b`: either grant will do.
                .filter(|c| c.split('|').all(|one| granted(&grants, one) == Some(false)))
                .collect();
            if !missing.is_empty() {
                warnings += 1;
                println!(
                    "warning: {id} (gate `{gate}`) needs {} but plugin `{}` has no such grant; add them under \
                     [plugin.grants] of [[plugin]] name = \"{}\"",
                    missing.join(", "),
                    plugin.name,
                    plugin.name
                );
            }
            let params = options.hosted.params(policy, id);
            for r in meta.params.iter().filter(|p| p.required) {
                if params.get(&r.name).is_none() {
                    warnings += 1;
                    println!(
                        "warning: {id} (gate `{gate}`) requires param `{}`, which no [[check]] sets",
                        r.name
                    );
                }
            }
        }
    }
    (seen.len(), warnings)
}
