//! DROP of every kind of object.

use super::*;
use crate::Class;
use crate::rules::RuleId;

impl Analysis<'_> {
    pub(crate) fn drop(&mut self) {
        let t = self.t;
        self.classify(Class::Contract);
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
            None => return,
        };
        let concurrently = is(t, i, "CONCURRENTLY");
        if concurrently {
            i += 1;
        }
        let (guarded, i) = skip_if(t, i);
        let mut names = Vec::new();
        let mut j = i;
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
        let cascade = has_anywhere(t, "CASCADE");
        let what = format!("DROP {kind}");
        for name in names {
            if kind == "TABLE" {
                self.table_schema(&name, "DROP TABLE");
            }
            let (rule, created) = match kind.as_str() {
                "TABLE" | "FOREIGN TABLE" => {
                    (Some(RuleId::DropTable), self.run.tables.contains(&name))
                }
                "INDEX" => (
                    Some(RuleId::DropIndexNotConcurrently),
                    self.run.indexes.contains(&name),
                ),
                "DATABASE" => (Some(RuleId::DropDatabase), false),
                "SCHEMA" => (Some(RuleId::DropSchema), false),
                "VIEW" | "MATERIALIZED VIEW" => (Some(RuleId::DropView), false),
                "FUNCTION" | "PROCEDURE" | "ROUTINE" | "AGGREGATE" => {
                    (Some(RuleId::DropFunction), false)
                }
                "TYPE" | "DOMAIN" => (Some(RuleId::DropType), self.run.types.contains(&name)),
                "SEQUENCE" => (Some(RuleId::DropSequence), false),
                "EXTENSION" => (Some(RuleId::DropExtension), false),
                _ => (None, false),
            };
            if rule == Some(RuleId::DropIndexNotConcurrently) {
                if concurrently && self.file.in_tx() {
                    self.add(
                        RuleId::ConcurrentlyInTransaction,
                        format!("DROP INDEX CONCURRENTLY {name} cannot run inside a transaction block; the migration will fail."),
                        Some(name.clone()),
                    );
                }
                if !concurrently && !created {
                    self.locks = true;
                    self.add(
                        RuleId::DropIndexNotConcurrently,
                        format!("DROP INDEX {name} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table."),
                        Some(name.clone()),
                    );
                }
            } else if let Some(rule) = rule.filter(|_| !created) {
                if rule == RuleId::DropTable {
                    self.locks = true;
                }
                let extra = if cascade {
                    " with CASCADE, which also drops everything that depends on it"
                } else {
                    ""
                };
                self.add(
                    rule,
                    format!("{what} {name}{extra} breaks running code that still uses it."),
                    Some(name.clone()),
                );
            }
            let robust_kinds = [
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
            if !created && robust_kinds.contains(&kind.as_str()) {
                self.robust(guarded, &what, &name);
            }
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
