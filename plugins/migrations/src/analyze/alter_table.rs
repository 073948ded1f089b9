//! ALTER TABLE and its actions.

use gate_sqlkit::Token;

use super::*;
use crate::Class;
use crate::rules::RuleId;

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
            self.table_schema(&table, "ALTER TABLE");
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
                if new || self.foreign {
                    return;
                }
                let what = if is(a, 1, "ACCESS") {
                    "SET ACCESS METHOD".to_string()
                } else {
                    format!("SET {}", a[1].text)
                };
                self.add_at(
                    RuleId::AlterTableRewrite,
                    format!("ALTER TABLE {table} {what} rewrites the whole table under an ACCESS EXCLUSIVE lock."),
                    Some(table.to_string()),
                    at,
                );
            }
            "SET" if is(a, 1, "SCHEMA") => {
                if new {
                    return;
                }
                self.classify(Class::Breaking);
                self.add_at(
                    RuleId::SetSchema,
                    format!("Moving table {table} to another schema breaks running code that uses its old qualified name."),
                    Some(table.to_string()),
                    at,
                );
            }
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
            if new {
                return;
            }
            self.classify(Class::Contract);
            self.robust(guarded, "DROP CONSTRAINT", &object);
            self.add_at(
                RuleId::DropConstraint,
                format!("Dropping constraint {name} on {table} removes a guarantee running code may rely on."),
                Some(object),
                at,
            );
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
        if new {
            return;
        }
        self.classify(Class::Contract);
        self.robust(guarded, "DROP COLUMN", &object);
        self.add_at(
            RuleId::DropColumn,
            format!(
                "Dropping column {object} breaks running code that still selects or inserts it."
            ),
            Some(object),
            at,
        );
    }

    /// ALTER TABLE … ALTER COLUMN: type, NOT NULL, default, expression, identity.
    fn table_alter_column(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let pg = self.cfg.pg;
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
        if new {
            return;
        }
        if seq(a, k, &["SET", "NOT", "NULL"]) && !self.foreign {
            self.classify(Class::Contract);
            let validated = self
                .run
                .validated_not_null
                .contains(&(short.to_string(), col.clone()));
            if pg >= 12 && validated {
                return;
            }
            let extra = if validated {
                format!(" (PostgreSQL {pg} cannot use the validated CHECK; 12 can)")
            } else {
                String::new()
            };
            self.add_at(
                RuleId::SetNotNull,
                format!(
                    "SET NOT NULL on {object} scans {table} under an ACCESS EXCLUSIVE lock{extra}."
                ),
                Some(object),
                at,
            );
        } else if seq(a, k, &["DROP", "NOT", "NULL"]) {
            self.add_at(
                RuleId::DropNotNull,
                format!("Dropping NOT NULL on {object} lets NULLs reach running code that does not expect them."),
                Some(object),
                at,
            );
        } else if seq(a, k, &["DROP", "DEFAULT"]) {
            self.classify(Class::Contract);
            self.add_at(
                RuleId::DropDefault,
                format!("Dropping the default of {object} breaks inserts from running code that omit the column."),
                Some(object),
                at,
            );
        } else if seq(a, k, &["DROP", "EXPRESSION"]) {
            self.classify(Class::Contract);
            self.add_at(
                RuleId::DropGeneratedExpression,
                format!("Dropping the generated expression of {object} leaves it unfilled for running code."),
                Some(object),
                at,
            );
        } else if seq(a, k, &["DROP", "IDENTITY"])
            || seq(a, k, &["ADD", "GENERATED"])
            || (is(a, k, "SET") && is(a, k + 1, "GENERATED"))
        {
            self.classify(Class::Contract);
            self.add_at(
                RuleId::AlterIdentity,
                format!("Changing the identity of {object} changes how running code gets its ids."),
                Some(object),
                at,
            );
        }
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
        self.type_checks(ty, object, at);
        if new {
            return;
        }
        self.classify(Class::Breaking);
        let effect = if self.foreign {
            "can break running code that reads it"
        } else {
            "rewrites {table} under an ACCESS EXCLUSIVE lock and can break running code"
        }
        .replace("{table}", table);
        self.add_at(
            RuleId::ChangeColumnType,
            format!(
                "Changing the type of {object} to {} {effect}.",
                type_text(ty)
            ),
            Some(object.to_string()),
            at,
        );
    }

    /// ALTER TABLE … RENAME TO, RENAME CONSTRAINT or RENAME COLUMN.
    fn table_rename(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let at = a[0].span.start;
        if is(a, 1, "TO") {
            let newname = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
            if new {
                let renamed = match split_name(table).0 {
                    Some(schema) => format!("{schema}.{}", last_part(&newname)),
                    None => newname.clone(),
                };
                self.created(Kind::Table, &renamed);
                return;
            }
            self.classify(Class::Breaking);
            self.add_at(
                RuleId::RenameTable,
                format!("Renaming table {table} to {newname} breaks running code that uses the old name."),
                Some(table.to_string()),
                at,
            );
            return;
        }
        if new {
            return;
        }
        if is(a, 1, "CONSTRAINT") {
            let name = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
            self.classify(Class::Breaking);
            self.add_at(
                RuleId::RenameObject,
                format!("Renaming constraint {name} on {table} breaks code and scripts that use the old name."),
                Some(format!("{short}.{name}")),
                at,
            );
            return;
        }
        let k = if is(a, 1, "COLUMN") { 2 } else { 1 };
        let Some((col, m)) = name_at(a, k) else {
            return;
        };
        let newname = name_at(a, m + 1).map(|(n, _)| n).unwrap_or_default();
        self.classify(Class::Breaking);
        self.add_at(
            RuleId::RenameColumn,
            format!("Renaming column {short}.{col} to {newname} breaks running code that uses the old name."),
            Some(format!("{short}.{col}")),
            at,
        );
    }

    /// ALTER TABLE … VALIDATE CONSTRAINT.
    fn table_validate(&mut self, table: &str, short: &str, a: &[Token]) {
        let at = a[0].span.start;
        let name = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
        if let Some(target) = self.run.not_null_checks.get(&name).cloned() {
            self.run.validated_not_null.insert(target);
        }
        if self.file.in_tx() && self.file.not_valid_in_tx.contains(&name) {
            self.add_at(
                RuleId::ValidateInSameTransaction,
                format!("Constraint {name} on {table} is validated in the transaction that added it, keeping the ACCESS EXCLUSIVE lock during the scan."),
                Some(format!("{short}.{name}")),
                at,
            );
        }
    }

    /// ALTER TABLE … DETACH PARTITION.
    fn table_detach(&mut self, table: &str, new: bool, a: &[Token]) {
        let pg = self.cfg.pg;
        let at = a[0].span.start;
        let concurrently = has_anywhere(a, "CONCURRENTLY");
        let part = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
        self.classify(Class::Contract);
        if concurrently {
            if self.file.in_tx() {
                self.add_at(
                    RuleId::ConcurrentlyInTransaction,
                    format!("DETACH PARTITION {part} CONCURRENTLY cannot run inside a transaction block; the migration will fail."),
                    Some(part),
                    at,
                );
            }
        } else if pg >= 14 && !new {
            self.add_at(
                RuleId::DetachPartitionNotConcurrently,
                format!("Detaching partition {part} from {table} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on {table}."),
                Some(part),
                at,
            );
        }
    }

    pub(crate) fn add_constraint(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let at = a[0].span.start;
        let mut k = 1;
        let mut name = None;
        if is(a, k, "CONSTRAINT")
            && let Some((n, next)) = name_at(a, k + 1)
        {
            name = Some(n);
            k = next;
        }
        let not_valid = has_seq(a, &["NOT", "VALID"]);
        let using_index = has_seq(a, &["USING", "INDEX"]);
        let label = name.clone().unwrap_or_else(|| "constraint".into());
        let object = format!("{short}.{label}");
        if let Some(n) = &name {
            if not_valid {
                self.file.not_valid_in_tx.insert(n.clone());
            }
            // CHECK (col IS NOT NULL): remember it for SET NOT NULL.
            if is(a, k, "CHECK")
                && let Some((inner, _)) = group(a, k + 1)
                && inner.len() == 4
                && inner[0].is_name()
                && seq(inner, 1, &["IS", "NOT", "NULL"])
            {
                let target = (short.to_string(), inner[0].ident());
                if not_valid {
                    self.run.not_null_checks.insert(n.clone(), target);
                } else {
                    self.run.validated_not_null.insert(target);
                }
            }
        }
        if new {
            return;
        }
        self.classify(Class::Contract);
        if is(a, k, "CHECK") && !not_valid {
            self.add_at(
                RuleId::ConstraintMissingNotValid,
                format!("CHECK constraint {label} on {table} is validated immediately, scanning {table} under an ACCESS EXCLUSIVE lock."),
                Some(object),
                at,
            );
        } else if is(a, k, "FOREIGN") && !not_valid {
            self.add_at(
                RuleId::AddForeignKey,
                format!("Foreign key {label} on {table} is validated immediately, locking {table} and the referenced table during the scan."),
                Some(object),
                at,
            );
        } else if (is(a, k, "UNIQUE") || is(a, k, "EXCLUDE")) && !using_index {
            let what = if is(a, k, "UNIQUE") {
                "UNIQUE"
            } else {
                "Exclusion"
            };
            self.add_at(
                RuleId::AddUniqueConstraint,
                format!("{what} constraint {label} builds its index on {table} under an ACCESS EXCLUSIVE lock."),
                Some(object),
                at,
            );
        } else if is(a, k, "PRIMARY") && !using_index {
            self.add_at(
                RuleId::AddPrimaryKey,
                format!("PRIMARY KEY {label} builds its index on {table} under an ACCESS EXCLUSIVE lock."),
                Some(object),
                at,
            );
        }
    }
}
