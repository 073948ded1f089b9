//! `rego.conftest`: Rego policies written for OPA and Conftest, run over
//! JSON, YAML and TOML inputs with Conftest's conventions.
//!
//! Every `deny`, `violation` and `warn` rule (and their `deny_*`,
//! `violation_*`, `warn_*` variants) of the chosen namespaces is queried
//! over every document of every input. Each message is a finding whose
//! subject is the input file (so exemptions match it as usual): `fail` for
//! deny and violation, `warn` for warn. An input without messages gets one
//! `pass` naming the rules queried over it. Policies that do not parse, call
//! a function that does not exist, inputs that do not parse and evaluation
//! errors are `error` findings, never a pass.

use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Severity, Status, param, param_default};
use serde_json::Value;

use crate::files::{self, File, Grants, HostGrants};
use crate::inputs;
use crate::params::{self, Namespaces, Params};
use crate::policy::{Diagnostic, Kind, Policy, Query};
use crate::results::{self, Message};

pub const ID: &str = "rego.conftest";

/// Data files are read in these formats.
const DATA_EXTENSIONS: [&str; 4] = ["json", "yaml", "yml", "toml"];

pub struct Conftest;

impl Check for Conftest {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Rego policies (Conftest conventions)".to_string(),
            description: "Evaluates Rego policies written for OPA or Conftest over JSON, YAML and TOML inputs: \
                          every deny, violation and warn rule (deny_*, violation_*, warn_* included) of the chosen \
                          namespaces, over every document of every input. One finding per message, with the input \
                          file as subject; one pass per input without messages."
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param_default("policy", "list<string>", "`.rego` files, or directories searched recursively for them (Conftest's `--policy`).", "[\"policy\"]"),
                param("inputs", "list<string>", true, "Input files or globs (`k8s/**/*.yaml`); each glob must match at least one file. YAML streams are split into documents, and so is a file whose only document is an array, as Conftest does."),
                param_default("data", "list<string>", "Data files or directories (JSON, YAML, TOML) merged into `data`; a file inside a directory lands under its subdirectories' names (Conftest's `--data`).", "[]"),
                param("parser", "string", false, "Parse every input as `json`, `yaml` or `toml` instead of by its extension (Conftest's `--parser`)."),
                param_default("namespaces", "list<string>", "Rego packages whose rules are queried (Conftest's `--namespace`).", "[\"main\"]"),
                param_default("all_namespaces", "bool", "Query every package that defines a deny, violation or warn rule, whatever `namespaces` says (Conftest's `--all-namespaces`).", "false"),
                param_default("rego_version", "string", "`v1` (OPA 1.0 syntax, Conftest's default) or `v0` (`deny[msg] { … }`).", "\"v1\""),
                param_default("max_file_bytes", "integer", "Larger policy, data and input files are an error rather than read.", "8388608"),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &Value) -> Vec<Finding> {
        run(ctx, params, &HostGrants)
    }
}

/// The check, with file access through `grants`.
pub fn run(ctx: &Context, params: &Value, grants: &dyn Grants) -> Vec<Finding> {
    let p = match params::parse(ctx, params) {
        Ok(p) => p,
        Err(findings) => return findings,
    };
    let mut policy = match load_policy(ctx, &p, grants) {
        Ok(policy) => policy,
        Err(findings) => return findings,
    };
    if let Err(findings) = load_data(ctx, &p, grants, &mut policy) {
        return findings;
    }
    let namespaces = match &p.namespaces {
        Namespaces::Named(list) => Some(list.as_slice()),
        Namespaces::All => None,
    };
    let queries = match policy.queries(namespaces) {
        Ok(q) => q,
        Err(problems) => {
            return problems
                .into_iter()
                .map(|problem| {
                    ctx.finding("policy", Status::Error)
                        .message(problem)
                        .evidence("policy", p.policy.join(", "))
                        .remediation(
                            "name the packages that hold the deny/violation/warn rules in \
                             `namespaces`, or set `all_namespaces = true`",
                        )
                        .build()
                })
                .collect();
        }
    };
    let mut findings = Vec::new();
    for pattern in &p.inputs {
        match files::expand(grants, pattern) {
            Ok(found) => {
                for file in found {
                    findings.extend(check_input(ctx, &p, &mut policy, &queries, &file));
                }
            }
            Err(e) => findings.push(unreadable(ctx, pattern, &e)),
        }
    }
    crate::cap(ctx, findings)
}

/// Reads and loads every policy file; any file that cannot be read or
/// loaded stops the check, since the rest would be judged without it.
fn load_policy(ctx: &Context, p: &Params, grants: &dyn Grants) -> Result<Policy, Vec<Finding>> {
    let mut sources = Vec::new();
    let mut findings = Vec::new();
    for root in &p.policy {
        let found = match files::collect(grants, root, &["rego"]) {
            Ok(found) => found,
            Err(e) => {
                findings.push(unreadable(ctx, root, &e));
                continue;
            }
        };
        for file in found {
            match file.read(p.max_file_bytes) {
                Ok(text) => sources.push((file.display, text)),
                Err(e) => findings.push(unreadable(ctx, &file.display, &e)),
            }
        }
    }
    if !findings.is_empty() {
        return Err(findings);
    }
    Policy::load(&sources, p.rego_version).map_err(|problems| {
        problems
            .iter()
            .map(|d| policy_error(ctx, d, &p.policy))
            .collect()
    })
}

/// An `error` finding for a problem in the policies, at its place.
fn policy_error(ctx: &Context, d: &Diagnostic, roots: &[String]) -> Finding {
    let subject = match &d.position {
        Some((file, _, _)) => file.clone(),
        None => roots.join(", "),
    };
    let mut f = ctx.finding(&subject, Status::Error);
    f = match &d.position {
        Some((file, line, col)) => f
            .message(format!("{file}:{line}:{col}: {}", d.message))
            .location(file, Some(*line), Some(*col)),
        None => f.message(format!("the policies cannot be loaded: {}", d.message)),
    };
    f.remediation(
        "fix the policy; gate evaluates none of them until every file loads \
         (docs/rego.md lists the OPA built-ins regorus lacks)",
    )
    .build()
}

fn load_data(
    ctx: &Context,
    p: &Params,
    grants: &dyn Grants,
    policy: &mut Policy,
) -> Result<(), Vec<Finding>> {
    let mut findings = Vec::new();
    for root in &p.data {
        let found = match files::collect(grants, root, &DATA_EXTENSIONS) {
            Ok(found) => found,
            Err(e) => {
                findings.push(unreadable(ctx, root, &e));
                continue;
            }
        };
        for file in found {
            if let Err(message) = add_data_file(p, policy, &file) {
                findings.push(
                    ctx.finding(&file.display, Status::Error)
                        .message(message)
                        .location(&file.display, None, None)
                        .remediation("fix the data file; the policies are not evaluated without it")
                        .build(),
                );
            }
        }
    }
    if findings.is_empty() {
        Ok(())
    } else {
        Err(findings)
    }
}

fn add_data_file(p: &Params, policy: &mut Policy, file: &File) -> Result<(), String> {
    let format = inputs::format_of(file, None)?;
    let text = file.read(p.max_file_bytes)?;
    let value = inputs::data_document(file, format, &text)?;
    policy
        .add_data(value)
        .map_err(|e| format!("`{}` cannot be merged into data: {e}", file.display))
}

/// Every finding for one input file.
fn check_input(
    ctx: &Context,
    p: &Params,
    policy: &mut Policy,
    queries: &[Query],
    file: &File,
) -> Vec<Finding> {
    let docs = match read_input(p, file) {
        Ok(docs) => docs,
        Err(Unreadable::Read(e)) => return vec![unreadable(ctx, &file.display, &e)],
        Err(Unreadable::Invalid(message, position)) => {
            let (line, col) = position.map_or((None, None), |(l, c)| (Some(l), Some(c)));
            return vec![
                ctx.finding(&file.display, Status::Error)
                    .message(message)
                    .location(&file.display, line, col)
                    .remediation("fix the file, or set `parser` to the format it is written in")
                    .build(),
            ];
        }
    };
    let total = docs.len();
    let mut findings = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let document = (total > 1).then(|| format!("{} of {total}", i + 1));
        policy.set_input(doc);
        for query in queries {
            let place = Place {
                file,
                query,
                document: document.as_deref(),
            };
            match policy.eval(query) {
                Ok(value) => match results::messages(&query.rule, &value) {
                    Ok(messages) => {
                        findings.extend(messages.iter().map(|m| place.message(ctx, m)));
                    }
                    Err(problem) => findings.push(place.error(ctx, problem, None)),
                },
                Err(d) => findings.push(place.error(ctx, d.message, d.position)),
            }
        }
    }
    if findings.is_empty() {
        findings.push(passed(ctx, file, queries, total));
    }
    findings
}

enum Unreadable {
    Read(String),
    Invalid(String, Option<(u32, u32)>),
}

fn read_input(p: &Params, file: &File) -> Result<Vec<Value>, Unreadable> {
    let format = inputs::format_of(file, p.parser).map_err(|e| Unreadable::Invalid(e, None))?;
    let text = file.read(p.max_file_bytes).map_err(Unreadable::Read)?;
    inputs::documents(format, &text)
        .map_err(|e| Unreadable::Invalid(inputs::describe(&file.display, format, &e), e.position))
}

/// Where a result came from: the input, the document, the rule.
struct Place<'a> {
    file: &'a File,
    query: &'a Query,
    /// `2 of 3` when the input holds several documents.
    document: Option<&'a str>,
}

impl Place<'_> {
    fn message(&self, ctx: &Context, m: &Message) -> Finding {
        let status = match self.query.kind {
            Kind::Failure => Status::Fail,
            Kind::Warning => Status::Warn,
        };
        let text = match self.document {
            Some(d) => format!("{} (document {d})", m.text),
            None => m.text.clone(),
        };
        let mut f = self.start(ctx, status).message(text);
        for (key, value) in &m.metadata {
            f = f.evidence(key, value);
        }
        f.location(&self.file.display, None, None).build()
    }

    fn error(&self, ctx: &Context, problem: String, at: Option<(String, u32, u32)>) -> Finding {
        let over = match self.document {
            Some(d) => format!("{} (document {d})", self.file.display),
            None => self.file.display.clone(),
        };
        let mut f = self
            .start(ctx, Status::Error)
            .message(format!(
                "evaluating {} over {over} failed: {problem}",
                self.query.path()
            ))
            .remediation(
                "fix the policy or the input; a rule that cannot be evaluated is never a pass",
            );
        f = match at {
            Some((policy_file, line, col)) => f
                .evidence("at", format!("{policy_file}:{line}:{col}"))
                .location(policy_file, Some(line), Some(col)),
            None => f.location(&self.file.display, None, None),
        };
        f.build()
    }

    fn start(&self, ctx: &Context, status: Status) -> gate_plugin_sdk::FindingBuilder {
        let f = ctx
            .finding(&self.file.display, status)
            .rule(&self.query.rule)
            .evidence("namespace", &self.query.namespace);
        match self.document {
            Some(d) => f.evidence("document", d),
            None => f,
        }
    }
}

fn passed(ctx: &Context, file: &File, queries: &[Query], documents: usize) -> Finding {
    let paths: Vec<String> = queries.iter().map(Query::path).collect();
    let over = if documents == 1 {
        "1 document".to_string()
    } else {
        format!("{documents} documents")
    };
    ctx.finding(&file.display, Status::Pass)
        .message(format!("no message from {} over {over}", paths.join(", ")))
        .evidence("queried", paths.join(", "))
        .evidence("documents", documents)
        .location(&file.display, None, None)
        .build()
}

/// The `error` finding for a path the check was asked to read but cannot.
fn unreadable(ctx: &Context, display: &str, error: &str) -> Finding {
    ctx.finding(display, Status::Error)
        .message(format!("cannot read `{display}`: {error}"))
        .remediation(
            "make sure the path exists and that the policy grants read access to it \
             (`fs = [...]` in the rego plugin's grants)",
        )
        .build()
}

#[cfg(test)]
mod tests;
