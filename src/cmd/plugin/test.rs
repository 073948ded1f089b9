//! `gate plugin test`: builds the component when it is older than its
//! sources, runs the project's case files against it in stubbed sandboxes,
//! then the rules every plugin keeps, and reports (docs/plugins/testing.md).

use std::path::PathBuf;

use gate_devkit::Manifest;
use gate_devkit::cases::{self, Component, Format};

use crate::cmd::shared;
use crate::exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin project: the directory holding gate-plugin.toml
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Test this component file instead of the manifest's `output` (never rebuilt)
    #[arg(long, value_name = "FILE")]
    pub component: Option<PathBuf>,
    /// Do not rebuild the component, even when it is older than the sources
    #[arg(long)]
    pub no_build: bool,
    /// Output format
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub async fn run(args: Args) -> u8 {
    match test(args).await {
        Ok(code) | Err(code) => code,
    }
}

async fn test(args: Args) -> Result<u8, u8> {
    let manifest = Manifest::load(&args.dir).map_err(exit::report)?;
    let component = component(&args, &manifest)?;
    let cases =
        cases::load_dir(&args.dir, &args.dir.join(&manifest.cases)).map_err(exit::report)?;
    let clock = shared::clock()?;
    let runtime = shared::runtime()?;
    let report = cases::run(
        &runtime,
        Component {
            name: &manifest.name,
            path: &component,
        },
        &cases,
        clock,
    )
    .await
    .map_err(exit::report)?;
    print!("{}", report.render(args.format));
    Ok(if report.passed() {
        exit::PASS
    } else {
        exit::FAIL
    })
}

/// The component to test: `--component`, or the manifest's `output`,
/// rebuilt first when it is missing or older than the project's sources
/// (unless `--no-build`).
fn component(args: &Args, manifest: &Manifest) -> Result<PathBuf, u8> {
    if let Some(path) = &args.component {
        return Ok(path.clone());
    }
    let output = args.dir.join(&manifest.output);
    if args.no_build || !cases::stale(&args.dir, manifest).map_err(exit::report)? {
        return Ok(output);
    }
    eprintln!(
        "building {}: {} is missing or older than its sources",
        manifest.name,
        output.display()
    );
    gate_devkit::lang::toolchain(manifest.language)
        .build(&args.dir, &mut std::io::stderr())
        .map_err(exit::report)
}
