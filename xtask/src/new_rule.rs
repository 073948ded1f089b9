//! `cargo xtask new-rule <id>`: scaffolds a migration rule.
//!
//! Writes `plugins/migrations/src/rules/<id>.rs` from a template (an `on`
//! hook that gets every fact of every statement and matches nothing yet,
//! a message, severity, classification, and a positive case that fails
//! until the hook is written), adds the rule's line to the `registry!`
//! list in `plugins/migrations/src/rules/mod.rs`, and regenerates
//! docs/migrations/rules.md so the rule has its section.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::edit;

/// The line the registry's new rules go above (after the last check rule,
/// before the pseudo-rules).
const REGISTRY_MARK: &str = "    // New rules go above this line";

#[derive(clap::Args)]
pub struct Args {
    /// The rule's kebab-case id, e.g. `ban-alter-system`.
    id: String,
    /// Do not regenerate docs/migrations/rules.md (it runs the crate's
    /// docs test, which compiles the crate's tests).
    #[arg(long)]
    no_docs: bool,
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    let id = args.id.as_str();
    edit::ensure_kebab("rule id", id)?;
    let module = edit::snake(id);
    let variant = edit::camel(id);
    let rules_dir = root.join("plugins/migrations/src/rules");
    let file = rules_dir.join(format!("{module}.rs"));
    edit::ensure_new(&file)?;
    let registry = rules_dir.join("mod.rs");
    let line = format!("    {module}: {variant},\n");
    let registered = edit::above_marker(&edit::read(&registry)?, REGISTRY_MARK, &line, &registry)?;
    edit::write(&file, &template(id, &variant))?;
    edit::write(&registry, &registered)?;
    println!("wrote {}", file.display());
    println!("registered {variant} in {}", registry.display());
    if !args.no_docs {
        write_docs(root)?;
    }
    println!(
        "next: write the `on` hook and the cases in {} (its positive case fails until then), \
         then run GATE_WRITE_DOCS=1 cargo test --manifest-path plugins/Cargo.toml \
         -p gate-plugin-migrations --lib rules::cases::docs_are_generated",
        file.display()
    );
    Ok(())
}

/// Regenerates docs/migrations/rules.md with the crate's own generator.
fn write_docs(root: &Path) -> Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .env("GATE_WRITE_DOCS", "1")
        .args(["test", "--manifest-path", "plugins/Cargo.toml"])
        .args(["-p", "gate-plugin-migrations", "--lib"])
        .arg("rules::cases::docs_are_generated")
        .status()
        .context("running cargo to regenerate docs/migrations/rules.md")?;
    ensure!(
        status.success(),
        "regenerating docs/migrations/rules.md failed"
    );
    println!("regenerated docs/migrations/rules.md");
    Ok(())
}

/// The new rule's module.
fn template(id: &str, variant: &str) -> String {
    TEMPLATE.replace("{id}", id).replace("{Variant}", variant)
}

const TEMPLATE: &str = r####"//! `{id}`: TODO title.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "{id}",
    "TODO: a short title",
    // TODO: Info, Low, Medium, High or Critical.
    Severity::Medium,
    // TODO: true if a hit fails the check, false if it only warns.
    false,
    "TODO: what goes wrong when this statement runs: the lock it takes or the running code it breaks.",
    "TODO: the safe alternative, in one or two sentences.",
)
// TODO: the classification a hit gives its statement, if it is more than
// expand: `.class(Class::Contract)`, `Breaking` or `Data` (import
// crate::Class). Breaking and contract rules also need `.plan(&[…])`.
.on(on);

/// Gets every fact of every statement (`crate::analyze::Fact`: an added
/// column, a dropped object, a rename, … or `Fact::Walked` once the
/// statement's walk is done, with its tokens in `a.t`); `a.add` reports a hit.
/// TODO: match the facts this rule judges. It matches nothing yet.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    // A statement always has tokens: this matches nothing yet.
    if matches!(fact, Fact::Walked) && a.t.is_empty() {
        a.add(
            RuleId::{Variant},
            "TODO: the finding's message, naming the object.".into(),
            None,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
# TODO: this case fails until `on` catches the statement. Replace the SQL
# with a statement the rule must catch, and the line it is on.
[[case]]
name = "TODO positive case"
sql = "-- TODO: SQL this rule catches\nSELECT 1;"
expect = [{ rule = "{id}", line = 2 }]

[[case]]
name = "TODO negative case"
sql = "SELECT 1;"
expect = []
"##;
"####;
