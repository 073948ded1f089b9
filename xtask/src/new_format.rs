//! `cargo xtask new-format <name>`: scaffolds a report format.
//!
//! Writes `host/eval/src/report/<name>.rs` (a `render` that returns nothing
//! yet and a test that fails until it renders the sample report), adds its
//! `mod` line, its `Format` variant and its arm in `render` to
//! `host/eval/src/report/mod.rs`, and its row and section to docs/reports.md.
//! `Format` is what every command's `--format` parses, so the CLI, the
//! dispatcher test (`host/eval/tests/report_formats.rs`) and every test that
//! iterates `Format::all()` pick the format up with no further edit; the CLI
//! help snapshots show the report formats as one placeholder, checked against
//! `Format::all()` by `tests/common::help_text`, so they need no edit either.

use std::path::Path;

use anyhow::{Result, ensure};

use crate::edit;

const MODULE_MARK: &str = "// New format modules go above this line";
const VARIANT_MARK: &str = "    // New formats go above this line";
const ARM_MARK: &str = "        // New formats' arms go above this line";

#[derive(clap::Args)]
pub struct Args {
    /// The format's name on the command line: lower-case letters and digits,
    /// e.g. `gitlab` (`--format gitlab`).
    name: String,
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    let name = args.name.as_str();
    ensure!(
        name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "format name `{name}` must be lower-case letters and digits (it is the `--format` value \
         and the module name)"
    );
    ensure!(
        ![
            "mod", "self", "super", "crate", "type", "struct", "fn", "impl", "use"
        ]
        .contains(&name),
        "`{name}` is a Rust keyword"
    );
    let variant = edit::camel(name);
    let fill = |t: &str| t.replace("{name}", name).replace("{Variant}", &variant);

    let dir = root.join("host/eval/src/report");
    let file = dir.join(format!("{name}.rs"));
    edit::ensure_new(&file)?;
    let registry = dir.join("mod.rs");
    let text = edit::read(&registry)?;
    let text = edit::sorted_above_marker(
        &text,
        MODULE_MARK,
        &format!("pub mod {name};\n"),
        |l| l.starts_with("pub mod ") || l.starts_with("mod ") || l.starts_with("#["),
        |l| {
            l.trim_start_matches("pub ")
                .trim_start_matches("mod ")
                .to_string()
        },
        &registry,
    )?;
    let text = edit::above_marker(
        &text,
        VARIANT_MARK,
        &fill("    // TODO: what the {name} format is for.\n    {Variant},\n"),
        &registry,
    )?;
    let registry_text = edit::above_marker(
        &text,
        ARM_MARK,
        &fill("        Format::{Variant} => {name}::render(report),\n"),
        &registry,
    )?;

    let docs = root.join("docs/reports.md");
    let text = edit::read(&docs)?;
    let text = edit::after_last_line(
        &text,
        |l| l.starts_with("| `"),
        &fill("| `{name}` | TODO: who reads it | TODO: what consumes it |\n"),
        "table of formats",
        &docs,
    )?;
    let docs_text = format!("{}{}", text.trim_end_matches('\n'), fill(DOCS_SECTION));

    edit::write(&file, &fill(MODULE))?;
    edit::write(&registry, &registry_text)?;
    edit::write(&docs, &docs_text)?;
    println!("wrote {}", file.display());
    println!("edited {}", registry.display());
    println!("edited {}", docs.display());
    println!(
        "next: write `render` in {} (its test `renders_the_sample_report` fails until then) \
         and its section in docs/reports.md",
        file.display()
    );
    Ok(())
}

const MODULE: &str = r####"//! The `{name}` format: TODO who reads it and what consumes it.
//!
//! TODO: what it shows and leaves out. Text from plugins is plain text:
//! escape it for this format so that a message cannot break the output.

use super::*;

/// Renders `report` as {name}.
pub fn render(report: &Report) -> String {
    // TODO: render the verdict, the gates and their checks, the findings
    // and the exemptions. Nothing is rendered yet.
    let _ = report;
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_report;

    /// TODO: replace with a snapshot, `insta::assert_snapshot!(render(&sample_report()))`,
    /// once `render` is written. This fails until then.
    #[test]
    fn renders_the_sample_report() {
        let out = render(&sample_report());
        assert!(out.lines().count() > 5, "nearly empty: {out:?}");
        assert!(out.ends_with('\n'), "no final newline");
    }
}
"####;

const DOCS_SECTION: &str = r####"

## {name}

TODO: what the `{name}` format is for, what it shows, what it leaves out and
how plugin text is escaped.
"####;
