//! The shared loop over the rules' cases: each rule's module holds
//! `CASES`, a TOML table of `[[case]]`s with the SQL, the PostgreSQL version
//! and transaction mode, and the findings expected for that rule (or for the
//! rules listed in `rules`), with their lines. Also the checks that tie the
//! registry to its docs: every rule has cases, docs/migrations/rules.md is
//! generated from the registry and the first positive case of each rule.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use super::{Rule, RuleId};
use crate::{Finding, MigrationFile, Status, describe, validate};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// The migration (one file); or `files` for several.
    #[serde(default)]
    sql: Option<String>,
    #[serde(default)]
    files: Vec<FileSpec>,
    #[serde(default)]
    pg_version: Option<u32>,
    #[serde(default = "yes")]
    in_transaction: bool,
    /// Opt-in rules to enable.
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    /// The validator's `scope`: "migration" (the default) or "run".
    #[serde(default)]
    scope: Option<String>,
    /// `assume_in_transaction` of the config (files of an unknown layout).
    #[serde(default)]
    assume_in_transaction: Option<bool>,
    /// Which rules' findings to compare; defaults to the file's rule.
    #[serde(default)]
    rules: Vec<String>,
    expect: Vec<Expect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    path: String,
    sql: String,
    #[serde(default = "yes")]
    in_transaction: bool,
    #[serde(default = "one")]
    first_line: u32,
}

#[derive(Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
#[serde(deny_unknown_fields)]
struct Expect {
    rule: String,
    line: Option<u32>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    file: Option<String>,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

fn status_name(s: Status) -> &'static str {
    s.name()
}

fn load(id: RuleId) -> CaseFile {
    toml::from_str(id.cases()).unwrap_or_else(|e| panic!("{}: CASES: {e}", id.module()))
}

/// Every rule's id and cases, in registry order.
fn case_files() -> Vec<(String, CaseFile)> {
    RuleId::ALL
        .iter()
        .map(|&id| (id.name().to_string(), load(id)))
        .collect()
}

/// The migration files a case runs on: its one `sql`, or its `files`.
fn case_migrations(case: &Case) -> Vec<MigrationFile> {
    if let Some(sql) = &case.sql {
        return vec![MigrationFile {
            path: "migrations/001_test.sql".into(),
            contents: sql.clone(),
            first_line: 1,
            in_transaction: case.in_transaction,
        }];
    }
    case.files
        .iter()
        .map(|f| MigrationFile {
            path: f.path.clone(),
            contents: f.sql.clone(),
            first_line: f.first_line,
            in_transaction: f.in_transaction,
        })
        .collect()
}

/// The validator's JSON config from the settings a case gives.
fn case_config(case: &Case) -> String {
    let mut config = serde_json::Map::new();
    if let Some(v) = case.pg_version {
        config.insert("pg_version".into(), v.into());
    }
    if !case.include.is_empty() {
        config.insert("include".into(), case.include.clone().into());
    }
    if !case.exclude.is_empty() {
        config.insert("exclude".into(), case.exclude.clone().into());
    }
    if let Some(scope) = &case.scope {
        config.insert("scope".into(), scope.clone().into());
    }
    if let Some(assume) = case.assume_in_transaction {
        config.insert("assume_in_transaction".into(), assume.into());
    }
    serde_json::Value::Object(config).to_string()
}

/// Every rule's cases as runs: the case's name, its files and its config.
pub(crate) fn runs() -> Vec<(String, Vec<MigrationFile>, String)> {
    case_files()
        .into_iter()
        .flat_map(|(rule, file)| {
            file.case.into_iter().map(move |case| {
                let name = format!("{rule}: {}", case.name);
                (name, case_migrations(&case), case_config(&case))
            })
        })
        .collect()
}

/// Every breaking or contract finding carries a plan of at least two steps.
fn check_plans(case: &Case, findings: &[Finding]) -> Result<(), String> {
    for f in findings {
        if matches!(f.evidence("classification"), Some("breaking" | "contract")) {
            let plan: Vec<String> = f
                .evidence("plan")
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            if plan.len() < 2 {
                return Err(format!(
                    "case `{}`: {:?} on a {} statement has no plan",
                    case.name,
                    f.rule,
                    f.evidence("classification").unwrap_or("")
                ));
            }
        }
    }
    Ok(())
}

/// The findings of the compared rules as expectations, leaving out the
/// fields the case's own expectation leaves out.
fn got_of(rule: &str, case: &Case, findings: &[Finding]) -> Vec<Expect> {
    let compared: BTreeSet<String> = if case.rules.is_empty() {
        [rule.to_string()].into()
    } else {
        case.rules.iter().cloned().collect()
    };
    let mut got: Vec<Expect> = findings
        .iter()
        .filter(|f| f.rule.as_ref().is_some_and(|r| compared.contains(r)))
        .map(|f| Expect {
            rule: f.rule.clone().unwrap(),
            line: f.location.as_ref().and_then(|l| l.line),
            status: Some(status_name(f.status).to_string()),
            file: f.location.as_ref().map(|l| l.file.clone()),
        })
        .collect();
    // Fields the case leaves out are not compared.
    for g in &mut got {
        if let Some(w) = case
            .expect
            .iter()
            .find(|w| w.rule == g.rule && w.line == g.line)
        {
            if w.status.is_none() {
                g.status = None;
            }
            if w.file.is_none() {
                g.file = None;
            }
        } else {
            g.status = None;
            g.file = None;
        }
    }
    got
}

/// A case's failure message: what it wanted, what it got, every finding.
fn mismatch(case: &Case, want: &[Expect], got: &[Expect], findings: &[Finding]) -> String {
    let all: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{} {} line {:?}: {}",
                f.rule.as_deref().unwrap_or("-"),
                f.status.name(),
                f.location.as_ref().and_then(|l| l.line),
                f.message
            )
        })
        .collect();
    format!(
        "case `{}`:\n  want {want:?}\n  got  {got:?}\n  all findings:\n    {}",
        case.name,
        all.join("\n    ")
    )
}

/// Runs one case and compares every expectation it states (hits, classes,
/// messages, absence of other rules); a failure reports the case's own
/// text.
fn run_case(rule: &str, case: &Case) -> Result<(), String> {
    let findings = validate(&case_migrations(case), &case_config(case));
    check_plans(case, &findings)?;
    let mut got = got_of(rule, case, &findings);
    let mut want = case.expect.clone();
    got.sort();
    want.sort();
    if got == want {
        Ok(())
    } else {
        Err(mismatch(case, &want, &got, &findings))
    }
}

/// Runs one rule's cases (the registry makes one test per rule of it).
pub(super) fn run_rule(id: RuleId) {
    let file = load(id);
    let failures: Vec<String> = file
        .case
        .iter()
        .filter_map(|case| run_case(id.name(), case).err())
        .collect();
    assert!(!file.case.is_empty(), "{} has no cases", id.module());
    assert!(
        failures.is_empty(),
        "{} of {} cases of {} failed:\n{}",
        failures.len(),
        file.case.len(),
        id.name(),
        failures.join("\n")
    );
}

/// Each rule's module is named after its id.
#[test]
fn modules_are_named_after_rules() {
    for &id in RuleId::ALL {
        assert_eq!(id.module().replace('_', "-"), id.name());
        assert_eq!(RuleId::from_name(id.name()), Some(id));
    }
}

/// Every rule in describe() has cases: at least one where it fires and one
/// where it stays silent, and a version case when its description has
/// version notes.
#[test]
fn every_rule_has_cases() {
    let files = case_files();
    let mut missing = Vec::new();
    for info in describe() {
        let Some((_, file)) = files.iter().find(|(stem, _)| *stem == info.id) else {
            missing.push(format!("{}: no cases", info.id));
            continue;
        };
        let own = |c: &&Case| c.rules.is_empty() || c.rules.contains(&info.id);
        let positive = file
            .case
            .iter()
            .filter(own)
            .any(|c| c.expect.iter().any(|e| e.rule == info.id));
        let negative = file
            .case
            .iter()
            .filter(own)
            .any(|c| !c.expect.iter().any(|e| e.rule == info.id));
        if !positive {
            missing.push(format!("{}: no positive case", info.id));
        }
        if !negative && !matches!(info.id.as_str(), "parse-coverage" | "file-summary") {
            missing.push(format!("{}: no negative case", info.id));
        }
        let rule = RuleId::from_name(&info.id).unwrap().rule();
        if !rule.versions.is_empty() && !file.case.iter().any(|c| c.pg_version.is_some()) {
            missing.push(format!("{}: version notes but no pg_version case", info.id));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn describe_lists_rules_once_with_descriptions() {
    let info = describe();
    assert!(info.len() >= 34, "{} rules", info.len());
    let mut seen = BTreeSet::new();
    for r in &info {
        assert!(seen.insert(r.id.clone()), "duplicate {}", r.id);
        assert!(
            r.id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{} is not kebab-case",
            r.id
        );
        assert!(r.description.len() > 40, "{}", r.id);
        let rule = RuleId::from_name(&r.id).unwrap().rule();
        assert_eq!(
            rule.opt_in,
            r.description.starts_with("Opt-in."),
            "{}",
            r.id
        );
    }
}

#[test]
fn docs_cover_every_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/migrations");
    let Ok(doc) = std::fs::read_to_string(root.join("rules.md")) else {
        panic!("docs/migrations/rules.md is missing");
    };
    for r in describe() {
        assert!(
            doc.contains(&format!("`{}`", r.id)),
            "docs/migrations/rules.md has no entry for {}",
            r.id
        );
    }
}

/// The table of every rule at the top of the generated section.
fn rules_table() -> String {
    let mut out = String::from("| rule | severity | a hit | |\n|---|---|---|---|\n");
    for rule in super::all() {
        out.push_str(&format!(
            "| [`{id}`](#{id}) | {} | {} | {} |\n",
            rule.severity.name(),
            if rule.pseudo {
                "note"
            } else if rule.blocking {
                "fail"
            } else {
                "warn"
            },
            if rule.opt_in { "opt-in" } else { "" },
            id = rule.id
        ));
    }
    out.push('\n');
    out
}

/// A rule's heading, severity and whether it is opt-in.
fn rule_heading(rule: &Rule) -> String {
    let outcome = if rule.blocking {
        "fails the check"
    } else {
        "warns"
    };
    let opt = if rule.opt_in {
        " Opt-in: enable it with `include = [\"".to_string() + rule.id + "\"]`."
    } else {
        String::new()
    };
    format!(
        "<a id=\"{id}\"></a>\n\n### `{id}`: {}\n\nSeverity {}; a hit {outcome}.{opt}\n\n",
        rule.title,
        rule.severity.name(),
        id = rule.id
    )
}

/// "Catches, for example": the rule's first positive single-file case, with
/// the transaction and version it needs to hit.
fn rule_example(rule: &Rule, files: &[(String, CaseFile)]) -> String {
    let Some((_, file)) = files.iter().find(|(stem, _)| stem == rule.id) else {
        return String::new();
    };
    let Some(case) = file
        .case
        .iter()
        .find(|c| c.sql.is_some() && c.expect.iter().any(|e| e.rule == rule.id))
    else {
        return String::new();
    };
    let mut context = Vec::new();
    let tx_matters = [
        "concurrently-in-transaction",
        "enum-add-value-in-transaction",
        "transaction-nesting",
        "uncommitted-transaction",
        "validate-in-same-transaction",
        "prefer-robust-statements",
    ];
    if tx_matters.contains(&rule.id) {
        context.push(
            if case.in_transaction {
                "in a migration the tool runs inside a transaction"
            } else {
                "in a migration that runs outside a transaction"
            }
            .to_string(),
        );
    }
    if let Some(v) = case.pg_version {
        context.push(format!("on PostgreSQL {v}"));
    }
    let context = if context.is_empty() {
        String::new()
    } else {
        format!(" ({})", context.join(", "))
    };
    format!(
        "Catches, for example{context}:\n\n```sql\n{}\n```\n\n",
        case.sql.as_deref().unwrap().trim()
    )
}

/// Why it is unsafe, the safe alternative, the plan, versions and squawk
/// names.
fn rule_advice(rule: &Rule) -> String {
    let mut out = format!("**Why it is unsafe.** {}\n\n", rule.problem);
    out.push_str(&format!("**Safe alternative.** {}\n\n", rule.fix));
    if !rule.plan.is_empty() {
        out.push_str("**Plan** (evidence `plan`):\n\n");
        for (k, step) in rule.plan.iter().enumerate() {
            out.push_str(&format!(
                "{}. {}\n",
                k + 1,
                step.replace("{object}", "the object")
            ));
        }
        out.push('\n');
    }
    if !rule.versions.is_empty() {
        out.push_str(&format!("**PostgreSQL versions.** {}\n\n", rule.versions));
    }
    if !rule.squawk.is_empty() {
        let names: Vec<String> = rule.squawk.iter().map(|s| format!("`{s}`")).collect();
        out.push_str(&format!("squawk: {}.\n\n", names.join(", ")));
    }
    out
}

/// The per-rule part of docs/migrations/rules.md, written from the catalogue
/// and the first positive case of each rule: the table, then each rule's
/// section in page order.
fn rules_markdown() -> String {
    let files = case_files();
    let mut out = rules_table();
    for rule in super::all() {
        out.push_str(&rule_heading(rule));
        out.push_str(&rule_example(rule, &files));
        out.push_str(&rule_advice(rule));
    }
    out
}

const GENERATED_MARK: &str = "<!-- generated from plugins/migrations/src/rules/ -->\n";

/// `GATE_WRITE_DOCS=1 cargo test … docs_are_generated` rewrites the rule
/// section of docs/migrations/rules.md; otherwise the test checks it is current.
#[test]
fn docs_are_generated() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/migrations/rules.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let head = doc
        .split(GENERATED_MARK)
        .next()
        .unwrap_or_default()
        .to_string();
    let want = format!("{head}{GENERATED_MARK}\n{}", rules_markdown());
    if std::env::var_os("GATE_WRITE_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    assert!(
        doc == want,
        "docs/migrations/rules.md is stale; run GATE_WRITE_DOCS=1 cargo test --manifest-path plugins/Cargo.toml -p gate-plugin-migrations --lib rules::cases::docs_are_generated"
    );
}

/// Every squawk rule the catalogue claims to cover appears in the mapping.
#[test]
fn squawk_mapping_is_complete() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/migrations/squawk-rules.md");
    let doc = std::fs::read_to_string(path).expect("docs/migrations/squawk-rules.md");
    for rule in super::all() {
        for s in rule.squawk {
            let row = format!("| `{s}` |");
            let line = doc.lines().find(|l| l.starts_with(&row));
            assert!(
                line.is_some_and(|l| l.contains(&format!("`{}`", rule.id))),
                "squawk-rules.md does not map {s} to {}",
                rule.id
            );
        }
    }
}

/// The grammar walkers only emit facts: no rule is named there, so every
/// rule's detection stays in its own module.
#[test]
fn walkers_name_no_rule() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/analyze");
    let walkers = [
        "add_column.rs",
        "alter.rs",
        "alter_table.rs",
        "columns.rs",
        "create.rs",
        "drop.rs",
        "statement.rs",
        "tokens.rs",
    ];
    for name in walkers {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(
            !text.contains("RuleId::"),
            "src/analyze/{name} names a rule; detection belongs in the rule's module"
        );
    }
}
