//! `cargo xtask new-check <plugin>.<id>`: scaffolds a built-in check.
//!
//! Writes `plugins/<plugin>/src/<id>.rs` from a template (parameters, a pure
//! `evaluate` that reports `error` "not implemented yet" for every target, the
//! host call only in `Check::run`, and a test that fails until the logic is
//! written), registers it in the plugin's lib.rs (its `mod` line and its line
//! in `checks()`), writes `docs/checks/<plugin>.<id>.md`, and adds the check
//! everywhere the built-in catalogue is listed: the README's checklist, the
//! end-to-end catalogue (`tests/catalogue/mod.rs`: `CHECKS` and a `[[check]]`
//! entry in its policy) and `policies/production.toml`. The catalogue test
//! fails until the check passes against the healthy services with real
//! parameters.

use std::path::Path;

use anyhow::{Result, bail};

use crate::edit;

/// The plugins that hold built-in checks.
const PLUGINS: [&str; 3] = ["infra", "security", "config"];

/// The line in each plugin's lib.rs that new `mod` lines go above.
const MODULE_MARK: &str = "// New check modules go above this line";
/// The line in each plugin's `checks()` that new checks go above.
const CHECKS_MARK: &str = "// New checks go above this line";

#[derive(clap::Args)]
pub struct Args {
    /// The check's id, `<plugin>.<name>` with a kebab-case name, e.g.
    /// `infra.ntp-sync`; the plugin is one of infra, security, config.
    id: String,
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    let Some((plugin, name)) = args.id.split_once('.') else {
        bail!("check id `{}` must be `<plugin>.<name>`", args.id);
    };
    if !PLUGINS.contains(&plugin) {
        bail!(
            "`{plugin}` is not a built-in check plugin (one of {})",
            PLUGINS.join(", ")
        );
    }
    edit::ensure_kebab("check name", name)?;
    let id = args.id.as_str();
    let module = edit::snake(name);
    let ty = edit::camel(name);
    let fill = |t: &str| {
        t.replace("{id}", id)
            .replace("{plugin}", plugin)
            .replace("{module}", &module)
            .replace("{Type}", &ty)
    };

    let src = root.join("plugins").join(plugin).join("src");
    let file = src.join(format!("{module}.rs"));
    let dir = src.join(&module);
    edit::ensure_new(&file)?;
    edit::ensure_new(&dir)?;
    let docs = root.join(format!("docs/checks/{id}.md"));
    edit::ensure_new(&docs)?;

    // Every edit is computed before anything is written, so a tree without
    // a marker is left as it was.
    let lib = src.join("lib.rs");
    let lib_text = registered_in_lib(&lib, &module, &ty)?;
    let readme = root.join("README.md");
    let readme_text = with_readme_row(&readme, plugin, &fill)?;
    let catalogue = root.join("tests/catalogue/mod.rs");
    let catalogue_text = with_catalogue_entry(&catalogue, id, plugin, &fill)?;
    let production = root.join("policies/production.toml");
    let production_text = with_policy_entry(&production, plugin, &fill)?;

    edit::write(&file, &fill(MODULE))?;
    edit::write(&docs, &fill(DOCS))?;
    edit::write(&lib, &lib_text)?;
    edit::write(&readme, &readme_text)?;
    edit::write(&catalogue, &catalogue_text)?;
    edit::write(&production, &production_text)?;
    for written in [&file, &docs] {
        println!("wrote {}", written.display());
    }
    for edited in [&lib, &readme, &catalogue, &production] {
        println!("edited {}", edited.display());
    }
    println!(
        "next: write the check in {} (its test `scaffold_fails_until_the_check_is_written` \
         fails until then), its page {}, its row in README.md, and real parameters \
         (and grants) in tests/catalogue/mod.rs and policies/production.toml; \
         `cargo test --manifest-path plugins/Cargo.toml -p gate-plugin-{plugin}` runs it",
        file.display(),
        docs.display()
    );
    Ok(())
}

/// The plugin's lib.rs with the module's `pub mod` line (sorted) and its
/// `Box::new(..)` line in `checks()`.
fn registered_in_lib(lib: &Path, module: &str, ty: &str) -> Result<String> {
    let text = edit::read(lib)?;
    let is_mod = |l: &str| l.starts_with("pub mod ") || l.starts_with("mod ");
    let mod_name = |l: &str| {
        l.trim_start_matches("pub ")
            .trim_start_matches("mod ")
            .to_string()
    };
    let text = edit::sorted_above_marker(
        &text,
        MODULE_MARK,
        &format!("pub mod {module};\n"),
        is_mod,
        mod_name,
        lib,
    )?;
    edit::above_marker(
        &text,
        CHECKS_MARK,
        &format!("            Box::new({module}::{ty}),\n"),
        lib,
    )
}

/// README.md with a checklist row after the plugin's last row.
fn with_readme_row(readme: &Path, plugin: &str, fill: &impl Fn(&str) -> String) -> Result<String> {
    let row_prefix = format!("| [`{plugin}.");
    edit::after_last_line(
        &edit::read(readme)?,
        |l| l.starts_with(&row_prefix),
        &fill("| [`{id}`](docs/checks/{id}.md) | TODO: title | TODO: capabilities |\n"),
        &format!("checklist row for a `{plugin}` check"),
        readme,
    )
}

/// The end-to-end catalogue with the id in `CHECKS` (recounted) and a
/// `[[check]]` entry after the plugin's last one.
fn with_catalogue_entry(
    catalogue: &Path,
    id: &str,
    plugin: &str,
    fill: &impl Fn(&str) -> String,
) -> Result<String> {
    let text = edit::read(catalogue)?;
    let text = edit::sorted_below_marker(
        &text,
        "pub const CHECKS: [&str; ",
        &format!("    \"{id}\",\n"),
        |l| l.starts_with("    \""),
        |l| l.trim().to_string(),
        catalogue,
    )?;
    let text = recount_checks(&text, catalogue)?;
    let anchor = format!("id = \"{plugin}.");
    edit::after_last_paragraph(
        &text,
        |l| l.starts_with(&anchor),
        &fill(CATALOGUE_ENTRY),
        &format!("`[[check]]` entry for a `{plugin}` check"),
        catalogue,
    )
}

/// policies/production.toml with a `[[check]]` entry after the plugin's last one.
fn with_policy_entry(
    production: &Path,
    plugin: &str,
    fill: &impl Fn(&str) -> String,
) -> Result<String> {
    let anchor = format!("id = \"{plugin}.");
    edit::after_last_paragraph(
        &edit::read(production)?,
        |l| l.starts_with(&anchor),
        &fill(PRODUCTION_ENTRY),
        &format!("`[[check]]` entry for a `{plugin}` check"),
        production,
    )
}

/// Sets `CHECKS: [&str; N]` to the number of ids the array holds.
fn recount_checks(text: &str, file: &Path) -> Result<String> {
    const DECL: &str = "pub const CHECKS: [&str; ";
    let Some(start) = text.find(DECL) else {
        bail!("{} has no `{DECL}N]`", file.display());
    };
    let after = &text[start + DECL.len()..];
    let Some(close) = after.find("] = [\n") else {
        bail!("{}: `{DECL}` is not followed by `N] = [`", file.display());
    };
    let body = &after[close..];
    let Some(end) = body.find("\n];") else {
        bail!("{}: `CHECKS` has no closing `];`", file.display());
    };
    let count = body[..end]
        .lines()
        .filter(|l| l.starts_with("    \""))
        .count();
    Ok(format!(
        "{}{DECL}{count}{}",
        &text[..start],
        &after[close..]
    ))
}

/// The check's `[[check]]` entry in the catalogue's policy (a `format!`
/// string: braces are doubled).
const CATALOGUE_ENTRY: &str = r#"
[[check]]
id = "{id}"
# TODO (cargo xtask new-check): parameters that pass against the healthy
# services, and the grants they need in the `{plugin}` plugin above.
params = {{ targets = ["TODO"] }}
"#;

const PRODUCTION_ENTRY: &str = r#"
[[check]]
id = "{id}"
# TODO (cargo xtask new-check): the parameters production uses.
params = { targets = ["TODO"] }
"#;

/// The check's module.
const MODULE: &str = r####"//! `{id}`: TODO: what this check verifies, in one line.
//!
//! TODO: what `pass` means exactly, and what the check cannot see (that is
//! an `error`, never a `pass`).

use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Severity, Status, param, params};
use serde::Deserialize;

pub const ID: &str = "{id}";

pub struct {Type};

/// TODO: the check's parameters. Each one is listed in `info` and documented
/// in docs/checks/{id}.md.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub targets: Vec<String>,
}

impl Params {
    /// Every problem with parameters that parsed, so the user fixes them in one go.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.targets.is_empty() {
            problems.push("`targets` must name at least one target".to_string());
        }
        problems
    }
}

/// What the host reports about one target.
/// TODO: the facts `assess` judges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub target: String,
}

impl Check for {Type} {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "TODO: a short title".to_string(),
            description: "TODO: what this check verifies, in one sentence".to_string(),
            // TODO: Info, Low, Medium, High or Critical.
            default_severity: Severity::Medium,
            params: vec![param(
                "targets",
                "list<string>",
                true,
                "TODO: what each target is",
            )],
            // TODO: the capabilities `run` uses: fs, net, http, sql, env, ...
            capabilities: vec![],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        let params: Params = match params::parse(ctx, params) {
            Ok(p) => p,
            Err(findings) => return findings,
        };
        // TODO: observe each target through `gate_plugin_sdk::host`; host
        // calls happen here and nowhere else.
        evaluate(ctx, &params, |target| {
            Err(format!("not implemented yet: nothing observes {target}"))
        })
    }
}

/// Checks every target; `observe` is the host call (a closure so tests can fake it).
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    observe: impl Fn(&str) -> Result<Observation, String>,
) -> Vec<Finding> {
    let problems = params.problems();
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    params
        .targets
        .iter()
        .map(|target| match observe(target) {
            Ok(seen) => assess(ctx, &seen),
            Err(message) => ctx
                .finding(target, Status::Error)
                .message(format!("cannot observe {target}: {message}"))
                .remediation("check that the `{plugin}` plugin's grants cover it")
                .build(),
        })
        .collect()
}

/// Judges one observation.
/// TODO: `Pass`, `Warn` or `Fail`, with evidence and a remediation on failure.
/// Until then every target is an `error`, never a `pass`.
fn assess(ctx: &Context, seen: &Observation) -> Finding {
    ctx.finding(&seen.target, Status::Error)
        .message(format!("{ID} is not implemented yet"))
        .remediation("write the check's logic in plugins/{plugin}/src/{module}.rs")
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(json: serde_json::Value) -> Params {
        serde_json::from_value(json).expect("params parse")
    }

    /// TODO: replace with the check's real cases. This one fails until
    /// `assess` judges a healthy target as `pass`.
    #[test]
    fn scaffold_fails_until_the_check_is_written() {
        let p = params(serde_json::json!({"targets": ["healthy"]}));
        let out = evaluate(&ctx(), &p, |target| {
            Ok(Observation {
                target: target.to_string(),
            })
        });
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Pass, "{}", out[0].message);
    }

    #[test]
    fn host_failure_is_an_error() {
        let p = params(serde_json::json!({"targets": ["denied"]}));
        let out = evaluate(&ctx(), &p, |_| Err("outside the grants".to_string()));
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("outside the grants"));
    }

    #[test]
    fn bad_params_are_an_error() {
        let out = {Type}.run(&ctx(), &serde_json::json!({"targets": []}));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Error);
        let out = {Type}.run(&ctx(), &serde_json::json!({"target": ["x"]}));
        assert_eq!(out[0].status, Status::Error);
    }
}
"####;

/// The check's docs page. `every_check_is_documented` in the plugin's lib.rs
/// requires each parameter in backticks.
const DOCS: &str = r####"# `{id}`

TODO: what this check verifies and why it matters before a deployment.

- **Plugin:** `{plugin}` (built-in)
- **Default severity:** medium
- **Capabilities:** TODO

## What it checks

TODO: what each target's finding says, and when it is `pass`, `warn` or `fail`.

## Parameters

| name | type | required | default | description |
|---|---|---|---|---|
| `targets` | list of strings | yes | | TODO: what each target is. |

## Example

```toml
[[check]]
id = "{id}"
params = { targets = ["TODO"] }
```

## Findings

Subject: the target. TODO: the evidence keys and what they mean.

## When it cannot see

- A target the plugin's grants do not cover, or that the host cannot
  observe: `error`, naming the target.
- Bad parameters (unknown key, no targets): one `error` finding with subject
  `params` listing every problem.

## Grants

TODO: the grants the `{plugin}` plugin needs for this check.
"####;
