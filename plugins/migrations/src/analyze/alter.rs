//! ALTER of types, domains and the other objects (renames and schema
//! moves): the state they change and the facts they emit; ALTER TABLE is
//! in `alter_table`.

use gate_sqlkit::{Token, TokenKind};

use super::*;
use crate::Class;

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
        let kind = kind.to_lowercase();
        let (_, i) = skip_if(t, i);
        let Some((name, j)) = name_at(t, i) else {
            return;
        };
        let created = match kind.as_str() {
            "index" => self.run.indexes.contains(&name),
            _ => false,
        };
        if let Some(r) = (j..t.len()).find(|&k| is(t, k, "RENAME")) {
            // A rename breaks whoever uses the old name, if anyone does.
            self.classify(Class::Breaking);
            if created
                && let Some(to) = (r..t.len()).find(|&k| is(t, k, "TO"))
                && let Some((new, _)) = name_at(t, to + 1)
            {
                let renamed = match split_name(&name).0 {
                    Some(schema) => format!("{schema}.{}", last_part(&new)),
                    None => new,
                };
                self.created(Kind::Index, &renamed);
            }
            let renamed = Renamed::Object {
                kind: &kind,
                name: &name,
            };
            self.emit(Fact::Rename {
                renamed,
                at: None,
                new: created,
            });
        } else if has_seq(&t[j..], &["SET", "SCHEMA"]) {
            self.emit(Fact::SetSchema {
                kind: &kind,
                name: &name,
                at: None,
                new: created,
            });
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
            let positioned = has_anywhere(&t[k..], "BEFORE") || has_anywhere(&t[k..], "AFTER");
            self.emit(Fact::AddEnumValue {
                ty: &name,
                value: &value,
                positioned,
                new: created,
            });
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
        if has_seq(&t[j..], &["SET", "SCHEMA"]) {
            self.emit(Fact::SetSchema {
                kind: "type",
                name: &name,
                at: None,
                new: created,
            });
        } else if is(t, j, "RENAME") {
            let renamed = if is(t, j + 1, "VALUE") {
                Renamed::EnumValue { ty: &name }
            } else if is(t, j + 1, "ATTRIBUTE") {
                Renamed::Attribute { ty: &name }
            } else {
                Renamed::Object {
                    kind: "type",
                    name: &name,
                }
            };
            self.emit(Fact::Rename {
                renamed,
                at: None,
                new: created,
            });
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
                self.emit(Fact::ColumnType {
                    object: &object,
                    ty: &col.ty,
                    at: col.at,
                });
            }
            return;
        }
        let (_, k) = skip_if(a, 2);
        let Some((attr, k)) = name_at(a, k) else {
            return;
        };
        let object = format!("{short}.{attr}");
        if is(a, 0, "DROP") {
            self.emit(Fact::DropColumn {
                of: ColumnOf::Type(ty),
                object: &object,
                at,
                new: created,
            });
            return;
        }
        if is(a, k, "TYPE") || seq(a, k, &["SET", "DATA", "TYPE"]) {
            let start = if is(a, k, "TYPE") { k + 1 } else { k + 3 };
            let end = (start..a.len())
                .find(|&m| is(a, m, "COLLATE") || is(a, m, "CASCADE") || is(a, m, "RESTRICT"))
                .unwrap_or(a.len());
            let new_ty = &a[start..end];
            self.emit(Fact::ColumnType {
                object: &object,
                ty: new_ty,
                at,
            });
            self.emit(Fact::ChangeType(ChangedType {
                of: ColumnOf::Type(ty),
                object: &object,
                ty: new_ty,
                at,
                new: created,
                foreign: false,
            }));
        }
    }

    /// ALTER DOMAIN of a domain the migrations did not create: constraints
    /// tighten it (checked against every column that uses it, under
    /// locks), renames and schema moves break its users.
    pub(crate) fn alter_domain(&mut self) {
        let t = self.t;
        let Some((name, j)) = name_at(t, 2) else {
            return;
        };
        let new = self.run.types.contains(&name);
        let add = is(t, j, "ADD");
        let not_null = seq(t, j, &["SET", "NOT", "NULL"]);
        if not_null || add {
            let not_valid = add && has_seq(t, &["NOT", "VALID"]);
            if !new {
                self.classify(Class::Contract);
                self.locks |= !not_valid;
            }
            self.emit(Fact::DomainConstraint {
                domain: &name,
                not_null,
                not_valid,
                new,
            });
        } else if is(t, j, "DROP") && is(t, j + 1, "CONSTRAINT") {
            self.emit(Fact::DropConstraint {
                on: ConstraintOn::Domain(&name),
                at: None,
                new,
            });
        } else if is(t, j, "RENAME") {
            let renamed = Renamed::Object {
                kind: "domain",
                name: &name,
            };
            self.emit(Fact::Rename {
                renamed,
                at: None,
                new,
            });
        } else if has_seq(&t[j..], &["SET", "SCHEMA"]) {
            self.emit(Fact::SetSchema {
                kind: "domain",
                name: &name,
                at: None,
                new,
            });
        }
    }
}
