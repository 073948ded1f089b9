//! ALTER TABLE and its actions: the state they change and the facts they emit.

use gate_sqlkit::Token;

use super::*;
use crate::Class;

impl Analysis<'_> {
    pub(crate) fn alter_table(&mut self, start: usize) {
        let t = self.t;
        let (_, mut i) = skip_if(t, start);
        if is(t, i, "ONLY") {
            i += 1;
        }
        let Some((table, mut j)) = name_at(t, i) else {
            return;
        };
        if t.get(j).is_some_and(|x| x.text == "*") {
            j += 1;
        }
        if !self.foreign {
            self.emit(Fact::TableNamed {
                verb: "ALTER TABLE",
                table: &table,
            });
        }
        let new = self.table_is_new(&table);
        if !new {
            self.locks = true;
            self.long_lock = !self.foreign;
        }
        let short = last_part(&table).to_string();
        for action in split_commas(&t[j..]) {
            self.table_action(&table, &short, new, action);
        }
    }

    /// One comma-separated action of ALTER TABLE, by its first keyword.
    pub(crate) fn table_action(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let at = a[0].span.start;
        match a[0].text.as_str() {
            "ADD" => self.table_add(table, short, new, a),
            "DROP" => self.table_drop(table, short, new, a),
            "ALTER" => self.table_alter_column(table, short, new, a),
            "RENAME" => self.table_rename(table, short, new, a),
            "VALIDATE" => self.table_validate(table, short, a),
            "SET"
                if ["TABLESPACE", "LOGGED", "UNLOGGED"]
                    .iter()
                    .any(|k| is(a, 1, k))
                    || seq(a, 1, &["ACCESS", "METHOD"]) =>
            {
                let what = if is(a, 1, "ACCESS") {
                    "SET ACCESS METHOD".to_string()
                } else {
                    format!("SET {}", a[1].text)
                };
                let foreign = self.foreign;
                self.emit(Fact::RewriteTable {
                    table,
                    what: &what,
                    at,
                    new,
                    foreign,
                });
            }
            "SET" if is(a, 1, "SCHEMA") => self.emit(Fact::SetSchema {
                kind: "table",
                name: table,
                at: Some(at),
                new,
            }),
            "DETACH" => self.table_detach(table, new, a),
            _ => {}
        }
    }

    /// ALTER TABLE … ADD: a constraint or a column.
    fn table_add(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let constraint_words = [
            "CONSTRAINT",
            "CHECK",
            "UNIQUE",
            "PRIMARY",
            "FOREIGN",
            "EXCLUDE",
        ];
        if constraint_words.iter().any(|k| is(a, 1, k)) {
            // A foreign table's constraints are not checked against its data.
            if !self.foreign {
                self.add_constraint(table, short, new, a);
            }
            return;
        }
        self.add_column(table, short, new, a);
    }

    /// ALTER TABLE … DROP CONSTRAINT or DROP COLUMN.
    fn table_drop(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let at = a[0].span.start;
        if is(a, 1, "CONSTRAINT") {
            let (guarded, k) = skip_if(a, 2);
            let name = name_at(a, k).map(|(n, _)| n).unwrap_or_default();
            let object = format!("{short}.{name}");
            if !new {
                self.emit(Fact::Guardable {
                    what: "DROP CONSTRAINT",
                    object: &object,
                    guarded,
                });
            }
            let on = ConstraintOn::Table {
                table,
                name: &name,
                object: &object,
            };
            self.emit(Fact::DropConstraint {
                on,
                at: Some(at),
                new,
            });
            return;
        }
        let mut k = 1;
        if is(a, k, "COLUMN") {
            k += 1;
        }
        let (guarded, k) = skip_if(a, k);
        let Some((col, _)) = name_at(a, k) else {
            return;
        };
        let object = format!("{short}.{col}");
        if !new {
            self.emit(Fact::Guardable {
                what: "DROP COLUMN",
                object: &object,
                guarded,
            });
        }
        self.emit(Fact::DropColumn {
            of: ColumnOf::Table(table),
            object: &object,
            at,
            new,
        });
    }

    /// ALTER TABLE … ALTER COLUMN: type, NOT NULL, default, expression, identity.
    fn table_alter_column(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let at = a[0].span.start;
        let mut k = 1;
        if is(a, k, "COLUMN") {
            k += 1;
        }
        let Some((col, k)) = name_at(a, k) else {
            return;
        };
        let object = format!("{short}.{col}");
        if is(a, k, "TYPE") || seq(a, k, &["SET", "DATA", "TYPE"]) {
            let ty_start = if is(a, k, "TYPE") { k + 1 } else { k + 3 };
            self.alter_column_type(table, &object, new, &a[ty_start..], at);
            return;
        }
        let change = if seq(a, k, &["SET", "NOT", "NULL"]) {
            ColumnChange::SetNotNull
        } else if seq(a, k, &["DROP", "NOT", "NULL"]) {
            ColumnChange::DropNotNull
        } else if seq(a, k, &["DROP", "DEFAULT"]) {
            ColumnChange::DropDefault
        } else if seq(a, k, &["DROP", "EXPRESSION"]) {
            ColumnChange::DropExpression
        } else if seq(a, k, &["DROP", "IDENTITY"])
            || seq(a, k, &["ADD", "GENERATED"])
            || (is(a, k, "SET") && is(a, k + 1, "GENERATED"))
        {
            ColumnChange::Identity
        } else {
            return;
        };
        // Tightening an existing column is a contract change, even when a
        // validated CHECK spares the scan.
        if change == ColumnChange::SetNotNull && !new && !self.foreign {
            self.classify(Class::Contract);
        }
        let foreign = self.foreign;
        self.emit(Fact::AlterColumn(AlteredColumn {
            table,
            short,
            column: &col,
            object: &object,
            change,
            at,
            new,
            foreign,
        }));
    }

    /// ALTER COLUMN … [SET DATA] TYPE: `rest` starts at the new type.
    fn alter_column_type(
        &mut self,
        table: &str,
        object: &str,
        new: bool,
        rest: &[Token],
        at: usize,
    ) {
        let ty_end = (0..rest.len())
            .find(|&m| is(rest, m, "USING") || is(rest, m, "COLLATE"))
            .unwrap_or(rest.len());
        let ty = &rest[..ty_end];
        self.emit(Fact::ColumnType { object, ty, at });
        let foreign = self.foreign;
        self.emit(Fact::ChangeType(ChangedType {
            of: ColumnOf::Table(table),
            object,
            ty,
            at,
            new,
            foreign,
        }));
    }

    /// ALTER TABLE … RENAME TO, RENAME CONSTRAINT or RENAME COLUMN.
    fn table_rename(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let at = Some(a[0].span.start);
        if is(a, 1, "TO") {
            let to = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
            if new {
                let renamed = match split_name(table).0 {
                    Some(schema) => format!("{schema}.{}", last_part(&to)),
                    None => to.clone(),
                };
                self.created(Kind::Table, &renamed);
            }
            let renamed = Renamed::Table { table, to: &to };
            self.emit(Fact::Rename { renamed, at, new });
            return;
        }
        if is(a, 1, "CONSTRAINT") {
            let name = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
            let object = format!("{short}.{name}");
            let renamed = Renamed::Constraint {
                table,
                name: &name,
                object: &object,
            };
            self.emit(Fact::Rename { renamed, at, new });
            return;
        }
        let k = if is(a, 1, "COLUMN") { 2 } else { 1 };
        let Some((col, m)) = name_at(a, k) else {
            return;
        };
        let to = name_at(a, m + 1).map(|(n, _)| n).unwrap_or_default();
        let object = format!("{short}.{col}");
        let renamed = Renamed::Column {
            object: &object,
            to: &to,
        };
        self.emit(Fact::Rename { renamed, at, new });
    }

    /// ALTER TABLE … VALIDATE CONSTRAINT.
    fn table_validate(&mut self, table: &str, short: &str, a: &[Token]) {
        let at = a[0].span.start;
        let name = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
        if let Some(target) = self.run.not_null_checks.get(&name).cloned() {
            self.run.validated_not_null.insert(target);
        }
        let object = format!("{short}.{name}");
        self.emit(Fact::Validate {
            table,
            name: &name,
            object: &object,
            at,
        });
    }

    /// ALTER TABLE … DETACH PARTITION: a contract change, whatever the table.
    fn table_detach(&mut self, table: &str, new: bool, a: &[Token]) {
        let partition = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
        self.classify(Class::Contract);
        self.emit(Fact::DetachPartition {
            table,
            partition: &partition,
            concurrently: has_anywhere(a, "CONCURRENTLY"),
            at: a[0].span.start,
            new,
        });
    }

    /// ALTER TABLE … ADD [CONSTRAINT name] …: remembers NOT VALID and
    /// `IS NOT NULL` checks, and emits the constraint.
    pub(crate) fn add_constraint(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let mut k = 1;
        let mut name = None;
        if is(a, k, "CONSTRAINT")
            && let Some((n, next)) = name_at(a, k + 1)
        {
            name = Some(n);
            k = next;
        }
        let not_valid = has_seq(a, &["NOT", "VALID"]);
        if let Some(n) = &name {
            self.remember_constraint(short, n, not_valid, &a[k..]);
        }
        // Adding a constraint to an existing table tightens it.
        if !new {
            self.classify(Class::Contract);
        }
        let label = name.unwrap_or_else(|| "constraint".into());
        let object = format!("{short}.{label}");
        let kind = [
            ("CHECK", ConstraintKind::Check),
            ("FOREIGN", ConstraintKind::ForeignKey),
            ("UNIQUE", ConstraintKind::Unique),
            ("EXCLUDE", ConstraintKind::Exclude),
            ("PRIMARY", ConstraintKind::PrimaryKey),
        ]
        .into_iter()
        .find(|(word, _)| is(a, k, word))
        .map_or(ConstraintKind::Other, |(_, kind)| kind);
        self.emit(Fact::AddConstraint(AddedConstraint {
            table,
            label: &label,
            object: &object,
            kind,
            not_valid,
            using_index: has_seq(a, &["USING", "INDEX"]),
            at: a[0].span.start,
            new,
        }));
    }

    /// Remembers constraint `name` added NOT VALID in this transaction, and
    /// a `CHECK (col IS NOT NULL)` (`body` starts at its kind) for SET NOT NULL.
    fn remember_constraint(&mut self, short: &str, name: &str, not_valid: bool, body: &[Token]) {
        if not_valid {
            self.file.not_valid_in_tx.insert(name.to_string());
        }
        if is(body, 0, "CHECK")
            && let Some((inner, _)) = group(body, 1)
            && inner.len() == 4
            && inner[0].is_name()
            && seq(inner, 1, &["IS", "NOT", "NULL"])
        {
            let target = (short.to_string(), inner[0].ident());
            if not_valid {
                self.run.not_null_checks.insert(name.to_string(), target);
            } else {
                self.run.validated_not_null.insert(target);
            }
        }
    }
}
