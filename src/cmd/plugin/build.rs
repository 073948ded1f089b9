//! `gate plugin build [DIR]`: builds the project's component with its
//! language's toolchain, holds it to the project (a `check` component of a
//! WIT version this gate runs), keeps the pin of its `policy-snippet.toml`
//! current, and prints the sha256, the size and the `[[plugin]]` block.

use std::path::{Path, PathBuf};

use gate_devkit::DevkitError;
use gate_devkit::component::Built;
use gate_devkit::pin;
use serde_json::json;

use super::Format;
use crate::cmd::shared;
use crate::exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin project (the directory holding gate-plugin.toml)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The directory of the policy the [[plugin]] block goes into: its `path` is relative to it
    /// [default: the current directory]
    #[arg(long)]
    pub policy_dir: Option<PathBuf>,
    /// Output format (json for CI: path, sha256, size, world, block)
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub async fn run(args: Args) -> u8 {
    match build(args).await {
        Ok(code) | Err(code) => code,
    }
}

async fn build(args: Args) -> Result<u8, u8> {
    let clock = shared::clock()?;
    let runtime = shared::runtime()?;
    let policy_dir = match args.policy_dir {
        Some(dir) => dir,
        None => shared::cwd()?,
    };
    // The build tools' output is the log: stderr, never the report.
    let mut log = std::io::stderr();
    let built = gate_devkit::component::build(&runtime, &args.dir, clock, &mut log)
        .await
        .map_err(|e| report(&e))?;
    let name = &built.manifest.name;
    let component = &built.component;
    let in_policy = pin::relative_to(&policy_dir, &component.path);
    let block = pin::plugin_block(
        name,
        &in_policy,
        &component.sha256,
        &component.inspection.meta.checks,
    );
    let snippet =
        pin::update_snippet(&args.dir, name, &component.sha256).map_err(|e| report(&e))?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_report(&built, &in_policy, &policy_dir, &block))
                .expect("serialisable")
        ),
        Format::Human => print!(
            "{}",
            human(
                &built,
                &in_policy,
                &policy_dir,
                &block,
                snippet.then_some(&args.dir)
            )
        ),
    }
    Ok(exit::PASS)
}

fn world_text(built: &Built) -> String {
    let found = &built.component.inspection;
    format!(
        "{}/{}@{}",
        gate_sandbox::plugin::PACKAGE_NAME,
        found.world.name(),
        found.wit_version.as_deref().unwrap_or(&built.manifest.wit)
    )
}

fn human(
    built: &Built,
    in_policy: &Path,
    policy_dir: &Path,
    block: &str,
    snippet: Option<&PathBuf>,
) -> String {
    let c = &built.component;
    let mut out = format!(
        "built {}: {}\n  world   {}\n  size    {} bytes\n  sha256  {}\n",
        built.manifest.name,
        c.path.display(),
        world_text(built),
        c.size,
        c.sha256
    );
    if let Some(dir) = snippet {
        out.push_str(&format!(
            "  pinned  in {}\n",
            dir.join(pin::SNIPPET).display()
        ));
    }
    out.push_str(&format!(
        "\nPaste into your policy. `path` ({}) is relative to the policy file's directory, taken to be {} \
         (set it with --policy-dir); fill in the grants:\n\n{block}",
        in_policy.display(),
        policy_dir.display()
    ));
    out
}

fn json_report(
    built: &Built,
    in_policy: &Path,
    policy_dir: &Path,
    block: &str,
) -> serde_json::Value {
    let c = &built.component;
    json!({
        "name": built.manifest.name,
        "language": built.manifest.language.to_string(),
        "path": c.path,
        "size": c.size,
        "sha256": c.sha256,
        "world": c.inspection.world.name(),
        "wit": c.inspection.wit_version,
        "policy_dir": policy_dir,
        "policy_path": in_policy,
        "plugin_block": block,
        "checks": c.inspection.meta.checks,
    })
}

/// Prints a devkit error (and its `help:` line) as every command does; exit 2.
pub fn report(e: &DevkitError) -> u8 {
    let code = exit::report(e);
    if let Some(help) = e.help() {
        eprintln!("help: {help}");
    }
    code
}
