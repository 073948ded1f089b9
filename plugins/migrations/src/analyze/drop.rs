//! DROP of every kind of object.

use gate_sqlkit::Token;

use super::*;
use crate::Class;
use crate::rules::RuleId;

/// A parsed DROP statement: what kind of object, which ones, and how.
struct DropTarget {
    /// `TABLE`, `MATERIALIZED VIEW`, `FOREIGN TABLE`, `INDEX`, …
    kind: String,
    concurrently: bool,
    /// IF EXISTS.
    guarded: bool,
    cascade: bool,
    names: Vec<String>,
}

/// The kinds whose DROP fails when re-run without IF EXISTS.
const ROBUST_KINDS: &[&str] = &[
    "TABLE",
    "INDEX",
    "VIEW",
    "MATERIALIZED VIEW",
    "SEQUENCE",
    "SCHEMA",
    "TYPE",
    "DOMAIN",
    "FUNCTION",
    "PROCEDURE",
    "EXTENSION",
    "TRIGGER",
    "DATABASE",
];

fn drop_target(t: &[Token]) -> Option<DropTarget> {
    let mut i = 1;
    let kind = match t.get(i).map(|x| x.text.as_str()) {
        Some("MATERIALIZED") if is(t, 2, "VIEW") => {
            i += 2;
            "MATERIALIZED VIEW".to_string()
        }
        Some("FOREIGN") if is(t, 2, "TABLE") => {
            i += 2;
            "FOREIGN TABLE".to_string()
        }
        Some(k) => {
            i += 1;
            k.to_string()
        }
        None => return None,
    };
    let concurrently = is(t, i, "CONCURRENTLY");
    if concurrently {
        i += 1;
    }
    let (guarded, mut j) = skip_if(t, i);
    let mut names = Vec::new();
    while let Some((name, next)) = name_at(t, j) {
        names.push(name);
        j = next;
        // Skip a function's argument list.
        if let Some((_, after)) = group(t, j) {
            j = after;
        }
        if punct(t, j, ",") {
            j += 1;
        } else {
            break;
        }
    }
    Some(DropTarget {
        kind,
        concurrently,
        guarded,
        cascade: has_anywhere(t, "CASCADE"),
        names,
    })
}

impl Analysis<'_> {
    /// DROP of any kind of object: contract, whatever it drops.
    pub(crate) fn drop(&mut self) {
        self.classify(Class::Contract);
        let Some(target) = drop_target(self.t) else {
            return;
        };
        for name in &target.names {
            self.drop_object(&target, name);
        }
    }

    /// The rule for dropping `name` of the target's kind, and whether the
    /// migrations being judged created it (nothing uses it yet).
    fn drop_rule(&self, kind: &str, name: &str) -> (Option<RuleId>, bool) {
        match kind {
            "TABLE" | "FOREIGN TABLE" => (Some(RuleId::DropTable), self.run.tables.contains(name)),
            "INDEX" => (
                Some(RuleId::DropIndexNotConcurrently),
                self.run.indexes.contains(name),
            ),
            "DATABASE" => (Some(RuleId::DropDatabase), false),
            "SCHEMA" => (Some(RuleId::DropSchema), false),
            "VIEW" | "MATERIALIZED VIEW" => (Some(RuleId::DropView), false),
            "FUNCTION" | "PROCEDURE" | "ROUTINE" | "AGGREGATE" => {
                (Some(RuleId::DropFunction), false)
            }
            "TYPE" | "DOMAIN" => (Some(RuleId::DropType), self.run.types.contains(name)),
            "SEQUENCE" => (Some(RuleId::DropSequence), false),
            "EXTENSION" => (Some(RuleId::DropExtension), false),
            _ => (None, false),
        }
    }

    fn drop_object(&mut self, target: &DropTarget, name: &str) {
        let kind = target.kind.as_str();
        let what = format!("DROP {kind}");
        if kind == "TABLE" {
            self.table_schema(name, "DROP TABLE");
        }
        let (rule, created) = self.drop_rule(kind, name);
        if rule == Some(RuleId::DropIndexNotConcurrently) {
            self.drop_index(target.concurrently, created, name);
        } else if let Some(rule) = rule.filter(|_| !created) {
            if rule == RuleId::DropTable {
                self.locks = true;
            }
            let extra = if target.cascade {
                " with CASCADE, which also drops everything that depends on it"
            } else {
                ""
            };
            self.add(
                rule,
                format!("{what} {name}{extra} breaks running code that still uses it."),
                Some(name.to_string()),
            );
        }
        if !created && ROBUST_KINDS.contains(&kind) {
            self.robust(target.guarded, &what, name);
        }
    }

    fn drop_index(&mut self, concurrently: bool, created: bool, name: &str) {
        if concurrently && self.file.in_tx() {
            self.add(
                RuleId::ConcurrentlyInTransaction,
                format!("DROP INDEX CONCURRENTLY {name} cannot run inside a transaction block; the migration will fail."),
                Some(name.to_string()),
            );
        }
        if !concurrently && !created {
            self.locks = true;
            self.add(
                RuleId::DropIndexNotConcurrently,
                format!("DROP INDEX {name} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table."),
                Some(name.to_string()),
            );
        }
    }

    pub(crate) fn reindex(&mut self) {
        let t = self.t;
        let mut i = 1;
        let mut concurrently = false;
        if let Some((options, after)) = group(t, i) {
            concurrently = option_on(options, "CONCURRENTLY") == Some(true);
            i = after;
        }
        let kind = t.get(i).map(|x| x.text.clone()).unwrap_or_default();
        // REINDEX SYSTEM rebuilds the catalogs, which cannot be done
        // concurrently: there is no safer form to ask for.
        if kind == "SYSTEM" {
            return;
        }
        i += 1;
        if is(t, i, "CONCURRENTLY") {
            concurrently = true;
            i += 1;
        }
        let name = name_at(t, i).map(|(n, _)| n).unwrap_or_default();
        let label = format!("{} {name}", kind).trim().to_string();
        if concurrently {
            if self.file.in_tx() {
                self.add(
                    RuleId::ConcurrentlyInTransaction,
                    format!("REINDEX {label} CONCURRENTLY cannot run inside a transaction block; the migration will fail."),
                    Some(name),
                );
            }
        } else {
            self.locks = true;
            self.long_lock = true;
            self.add(
                RuleId::ReindexNotConcurrently,
                format!(
                    "REINDEX {label} without CONCURRENTLY blocks writes while the index is rebuilt."
                ),
                Some(name),
            );
        }
    }
}
