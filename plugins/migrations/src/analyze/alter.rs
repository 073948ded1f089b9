//! ALTER of types, domains and the other objects (renames and schema moves); ALTER TABLE is in `alter_table`.

use gate_sqlkit::{Token, TokenKind};

use super::*;
use crate::Class;
use crate::rules::RuleId;

impl Analysis<'_> {
    pub(crate) fn alter(&mut self) {
        let t = self.t;
        let kind = t.get(1).map(|x| x.text.clone()).unwrap_or_default();
        match kind.as_str() {
            "TABLE" => self.alter_table(2),
            // A foreign table's data lives elsewhere: nothing is scanned or
            // rewritten, but renames, drops and type changes break readers
            // all the same.
            "FOREIGN" if is(t, 2, "TABLE") => {
                self.foreign = true;
                self.alter_table(3);
            }
            "TYPE" => self.alter_type(),
            "DOMAIN" => self.alter_domain(),
            _ => self.alter_other(&kind),
        }
    }

    /// ALTER INDEX/VIEW/SEQUENCE/FUNCTION/SCHEMA/… : renames and schema moves.
    pub(crate) fn alter_other(&mut self, kind: &str) {
        let t = self.t;
        let mut i = 2;
        let mut kind = kind.to_string();
        if kind == "MATERIALIZED" && is(t, 2, "VIEW") {
            kind = "MATERIALIZED VIEW".into();
            i = 3;
        }
        let (_, i) = skip_if(t, i);
        let Some((name, j)) = name_at(t, i) else {
            return;
        };
        let created = match kind.as_str() {
            "INDEX" => self.run.indexes.contains(&name),
            _ => false,
        };
        if let Some(r) = (j..t.len()).find(|&k| is(t, k, "RENAME")) {
            self.classify(Class::Breaking);
            if created {
                if let Some(to) = (r..t.len()).find(|&k| is(t, k, "TO"))
                    && let Some((new, _)) = name_at(t, to + 1)
                {
                    let renamed = match split_name(&name).0 {
                        Some(schema) => format!("{schema}.{}", last_part(&new)),
                        None => new,
                    };
                    self.created(Kind::Index, &renamed);
                }
                return;
            }
            let object = format!("{} {name}", kind.to_lowercase());
            self.add(
                RuleId::RenameObject,
                format!("Renaming {object} breaks running code that uses the old name."),
                Some(name),
            );
        } else if has_seq(&t[j..], &["SET", "SCHEMA"]) && !created {
            self.classify(Class::Breaking);
            self.add(
                RuleId::SetSchema,
                format!("Moving {} {name} to another schema breaks running code that uses its old qualified name.", kind.to_lowercase()),
                Some(name),
            );
        }
    }

    pub(crate) fn alter_type(&mut self) {
        let t = self.t;
        let Some((name, j)) = name_at(t, 2) else {
            return;
        };
        let created = self.run.types.contains(&name);
        if is(t, j, "ADD") && is(t, j + 1, "VALUE") {
            let (_, k) = skip_if(t, j + 2);
            let value = t
                .get(k)
                .filter(|x| x.kind == TokenKind::String)
                .map(|x| x.text.clone())
                .unwrap_or_default();
            if !has_anywhere(&t[k..], "BEFORE") && !has_anywhere(&t[k..], "AFTER") {
                self.add(
                    RuleId::EnumValueOrdering,
                    format!("Value '{value}' is appended to the end of enum {name}; say BEFORE or AFTER if order matters."),
                    Some(name.clone()),
                );
            }
            if self.file.in_tx() && !created {
                if self.cfg.pg < 12 {
                    self.add(
                        RuleId::EnumAddValueInTransaction,
                        format!(
                            "ALTER TYPE {name} ADD VALUE '{value}' cannot run inside a transaction block on PostgreSQL {}.",
                            self.cfg.pg
                        ),
                        Some(name.clone()),
                    );
                } else {
                    self.file.enum_values_in_tx.push(value);
                }
            }
            return;
        }
        let attribute_actions = ["ADD", "DROP", "ALTER"]
            .iter()
            .any(|k| is(t, j, k) && is(t, j + 1, "ATTRIBUTE"));
        if attribute_actions {
            for action in split_commas(&t[j..]) {
                self.type_attribute(&name, created, action);
            }
            return;
        }
        if created {
            return;
        }
        if has_seq(&t[j..], &["SET", "SCHEMA"]) {
            self.classify(Class::Breaking);
            self.add(
                RuleId::SetSchema,
                format!("Moving type {name} to another schema breaks running code that uses its old qualified name."),
                Some(name),
            );
        } else if is(t, j, "RENAME") {
            self.classify(Class::Breaking);
            let what = if is(t, j + 1, "VALUE") {
                format!("a value of enum {name}")
            } else if is(t, j + 1, "ATTRIBUTE") {
                format!("an attribute of type {name}")
            } else {
                format!("type {name}")
            };
            self.add(
                RuleId::RenameObject,
                format!("Renaming {what} breaks running code that uses the old name."),
                Some(name),
            );
        }
    }

    /// One `ADD|DROP|ALTER ATTRIBUTE` action of ALTER TYPE on a composite
    /// type: the attributes are the type's columns, with the same
    /// compatibility rules (no lock on a table is involved).
    pub(crate) fn type_attribute(&mut self, ty: &str, created: bool, a: &[Token]) {
        if !is(a, 1, "ATTRIBUTE") {
            return;
        }
        let at = a[0].span.start;
        let short = last_part(ty).to_string();
        if is(a, 0, "ADD") {
            if let Some(col) = column_def(&a[2..]) {
                let object = format!("{short}.{}", col.name);
                self.type_checks(&col.ty, &object, col.at);
            }
            return;
        }
        let (_, k) = skip_if(a, 2);
        let Some((attr, k)) = name_at(a, k) else {
            return;
        };
        let object = format!("{short}.{attr}");
        if is(a, 0, "DROP") {
            if created {
                return;
            }
            self.classify(Class::Contract);
            self.add_at(
                RuleId::DropColumn,
                format!("Dropping attribute {object} of type {ty} breaks running code that still reads or writes it."),
                Some(object),
                at,
            );
            return;
        }
        if is(a, k, "TYPE") || seq(a, k, &["SET", "DATA", "TYPE"]) {
            let start = if is(a, k, "TYPE") { k + 1 } else { k + 3 };
            let end = (start..a.len())
                .find(|&m| is(a, m, "COLLATE") || is(a, m, "CASCADE") || is(a, m, "RESTRICT"))
                .unwrap_or(a.len());
            let new_ty = &a[start..end];
            self.type_checks(new_ty, &object, at);
            if created {
                return;
            }
            self.classify(Class::Breaking);
            self.add_at(
                RuleId::ChangeColumnType,
                format!(
                    "Changing the type of attribute {object} to {} can break running code that reads it.",
                    type_text(new_ty)
                ),
                Some(object),
                at,
            );
        }
    }

    /// From PostgreSQL 12, a value added in a transaction cannot be used in it.
    pub(crate) fn enum_value_use(&mut self) {
        if self.file.enum_values_in_tx.is_empty() || self.t.first().is_some_and(|x| x.is("ALTER")) {
            return;
        }
        let used: Vec<String> = self
            .file
            .enum_values_in_tx
            .iter()
            .filter(|v| {
                self.t
                    .iter()
                    .any(|x| x.kind == TokenKind::String && &x.text == *v)
            })
            .cloned()
            .collect();
        for v in used {
            self.add(
                RuleId::EnumAddValueInTransaction,
                format!("Enum value '{v}' is used in the transaction that added it; PostgreSQL rejects it until the transaction commits."),
                Some(v),
            );
        }
    }

    pub(crate) fn alter_domain(&mut self) {
        let t = self.t;
        let Some((name, j)) = name_at(t, 2) else {
            return;
        };
        if self.run.types.contains(&name) {
            return;
        }
        if seq(t, j, &["SET", "NOT", "NULL"]) {
            self.classify(Class::Contract);
            self.locks = true;
            self.add(
                RuleId::AlterDomainAddConstraint,
                format!(
                    "SET NOT NULL on domain {name} checks every column that uses it, under locks."
                ),
                Some(name),
            );
        } else if is(t, j, "ADD") {
            self.classify(Class::Contract);
            if !has_seq(t, &["NOT", "VALID"]) {
                self.locks = true;
                self.add(
                    RuleId::AlterDomainAddConstraint,
                    format!("Adding a constraint to domain {name} checks every column that uses it, under locks."),
                    Some(name),
                );
            }
        } else if is(t, j, "DROP") && is(t, j + 1, "CONSTRAINT") {
            self.classify(Class::Contract);
            self.add(
                RuleId::DropConstraint,
                format!("Dropping a constraint of domain {name} removes a guarantee running code may rely on."),
                Some(name),
            );
        } else if is(t, j, "RENAME") {
            self.classify(Class::Breaking);
            self.add(
                RuleId::RenameObject,
                format!("Renaming domain {name} breaks running code that uses the old name."),
                Some(name),
            );
        } else if has_seq(&t[j..], &["SET", "SCHEMA"]) {
            self.classify(Class::Breaking);
            self.add(
                RuleId::SetSchema,
                format!("Moving domain {name} to another schema breaks running code that uses its old qualified name."),
                Some(name),
            );
        }
    }
}
