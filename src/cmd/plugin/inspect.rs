//! `gate plugin inspect FILE`: what a component is, from its own type and its
//! own `describe()`: world, WIT version, plugin, checks with their parameters
//! and declared capabilities, the capability interfaces and WASI it imports,
//! size, sha256, and how long a cold compile takes.

use std::path::PathBuf;

use gate_devkit::component::Component;
use gate_sandbox::plugin::ImportName;
use serde_json::json;

use super::Format;
use crate::cmd::shared;
use crate::exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The component (.wasm)
    pub file: PathBuf,
    /// Output format
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub async fn run(args: Args) -> u8 {
    match inspect(args).await {
        Ok(code) | Err(code) => code,
    }
}

async fn inspect(args: Args) -> Result<u8, u8> {
    let clock = shared::clock()?;
    let runtime = shared::runtime()?;
    let name = args
        .file
        .file_stem()
        .map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into_owned());
    let component = Component::inspect(&runtime, &args.file, &name, clock)
        .await
        .map_err(|e| super::build::report(&e))?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_report(&component)).expect("serialisable")
        ),
        Format::Human => print!("{}", human(&component)),
    }
    Ok(exit::PASS)
}

/// The imports, grouped: `gate:plugin` capabilities (its `types` carry no
/// calls), WASI, anything else.
fn grouped(imports: &[ImportName]) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
    let mut capabilities = Vec::new();
    let mut wasi = Vec::new();
    let mut other = Vec::new();
    for import in imports {
        if import.is_gate() {
            if import.interface() != Some("types") {
                capabilities.push(import.0.as_str());
            }
        } else if import.is_wasi() {
            wasi.push(import.0.as_str());
        } else {
            other.push(import.0.as_str());
        }
    }
    (capabilities, wasi, other)
}

fn world_text(c: &Component) -> String {
    let found = &c.inspection;
    match &found.wit_version {
        Some(v) => format!(
            "{}/{}@{v}",
            gate_sandbox::plugin::PACKAGE_NAME,
            found.world.name()
        ),
        None => format!(
            "{}/{} (imports nothing of the package)",
            gate_sandbox::plugin::PACKAGE_NAME,
            found.world.name()
        ),
    }
}

fn human(c: &Component) -> String {
    let found = &c.inspection;
    let meta = &found.meta;
    let (capabilities, wasi, other) = grouped(&found.imports);
    let list = |items: &[&str]| {
        if items.is_empty() {
            "(none)".to_string()
        } else {
            items.join("\n             ")
        }
    };
    let mut out = format!(
        "file         {}\nsize         {} bytes\nsha256       {}\nworld        {}\nplugin       {} {} — {}\n\
         compile      {} ms (cold, {}, not from the cache)\n\
         capabilities {}\nwasi         {}\n",
        c.path.display(),
        c.size,
        c.sha256,
        world_text(c),
        meta.id,
        meta.version,
        meta.description,
        found.compile.as_millis(),
        found.compiler.name(),
        list(&capabilities),
        list(&wasi),
    );
    if !other.is_empty() {
        out.push_str(&format!("other        {}\n", list(&other)));
    }
    let heading = match found.world {
        gate_sandbox::plugin::World::Check => "checks",
        gate_sandbox::plugin::World::Strategy => "strategies",
        gate_sandbox::plugin::World::MigrationValidator => "rules",
    };
    out.push_str(&format!("\n{heading}:\n"));
    // The same listing as `gate checks list`, without its plugin line.
    let listing = crate::cmd::checks::render_human(&[meta]);
    for line in listing.lines().skip(1).filter(|l| !l.is_empty()) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn json_report(c: &Component) -> serde_json::Value {
    let found = &c.inspection;
    let (capabilities, wasi, other) = grouped(&found.imports);
    json!({
        "path": c.path,
        "size": c.size,
        "sha256": c.sha256,
        "world": found.world.name(),
        "wit": found.wit_version,
        "plugin": found.meta,
        "imports": {
            "capabilities": capabilities,
            "wasi": wasi,
            "other": other,
        },
        "compile_ms": found.compile.as_secs_f64() * 1e3,
        "compiler": found.compiler.name(),
    })
}
