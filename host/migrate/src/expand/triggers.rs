//! The trigger that keeps the old and new versions' columns in step while
//! both are served. One `BEFORE INSERT OR UPDATE` row trigger per table an
//! operation fills; its function lives in schema `gate_migrate`.
//!
//! Which version wrote a row is the writer's `search_path`: a session whose
//! first schema is the new version's is the new version, any other the
//! old one. Then:
//!
//! - a write by the **old** version sets every new column from its `up`
//!   expression (over the old version's columns, by name), or, for an added
//!   column with only a `default`, fills it when it is NULL;
//! - a write by the **new** version sets each changed column's old column
//!   from its `down` expression (over the new version's columns), after
//!   filling the new columns of a row the backfill has not reached yet;
//! - the **backfill** (`gate.backfill = on` in its transaction) fills new
//!   columns that are still NULL, and never overwrites a value either
//!   version wrote.

use super::ops::Operation;
use super::schema::{Table, new_column_of};
use super::sql::{dollar_quoted, ident, literal, qualified};
use super::state::STATE_SCHEMA;

/// The trigger's name on each table.
pub fn trigger_name(migration: &str) -> String {
    format!("gate_{migration}")
}

/// The prefix of the migration's trigger functions in `gate_migrate`.
pub fn function_prefix(migration: &str) -> String {
    format!("{migration}__")
}

/// Names that would shadow the trigger's own variables.
fn shadows(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(lower.as_str(), "new" | "old" | "found")
        || lower.starts_with("tg_")
        || lower.starts_with("_gate_")
}

/// What the trigger does for one new column.
struct Fill {
    /// The physical column filled.
    target: String,
    /// Its value from the old version's columns.
    value: String,
    /// Old-version writes always recompute it (`up` given), or only fill a
    /// NULL (a default).
    always: bool,
}

/// The new columns the trigger fills, and the old columns it sets from
/// `down` (column, expression), of the operations on one table.
fn fills_and_downs(mine: &[&Operation]) -> (Vec<Fill>, Vec<(String, String)>) {
    let mut fills = Vec::new();
    let mut downs = Vec::new();
    for op in mine {
        match op {
            Operation::AddColumn {
                column,
                up,
                default,
                ..
            } => match (up, default) {
                (Some(up), _) => fills.push(Fill {
                    target: column.clone(),
                    value: up.clone(),
                    always: true,
                }),
                (None, Some(d)) => fills.push(Fill {
                    target: column.clone(),
                    value: d.clone(),
                    always: false,
                }),
                (None, None) => {}
            },
            Operation::ChangeType {
                column, up, down, ..
            } => {
                fills.push(Fill {
                    target: new_column_of(column),
                    value: up.clone(),
                    always: true,
                });
                downs.push((column.clone(), down.clone()));
            }
            Operation::DropColumn {
                column,
                down: Some(down),
                ..
            } => downs.push((column.clone(), down.clone())),
            // NULLs get `up`; values written are kept.
            Operation::SetNotNull {
                column,
                up: Some(up),
                ..
            } => fills.push(Fill {
                target: column.clone(),
                value: up.clone(),
                always: false,
            }),
            Operation::RenameColumn { .. }
            | Operation::DropColumn { down: None, .. }
            | Operation::SetNotNull { up: None, .. }
            | Operation::CreateTable { .. }
            | Operation::CreateIndex { .. }
            | Operation::RenameTable { .. }
            | Operation::DropTable { .. }
            | Operation::AddConstraint { .. }
            | Operation::RawSql { .. } => {}
        }
    }
    (fills, downs)
}

/// The block that fills new columns: over the old version's columns, as
/// local variables of the same names.
fn fill_block(table: &Table, fills: &[Fill]) -> String {
    let old_vars: Vec<String> = table
        .columns
        .iter()
        .filter(|c| !shadows(&c.name))
        .map(|c| {
            format!(
                "    {} {} := NEW.{};",
                ident(&c.name),
                c.type_,
                ident(&c.name)
            )
        })
        .collect();
    let mut body = String::from("  DECLARE\n");
    body.push_str(&old_vars.join("\n"));
    body.push_str("\n  BEGIN\n    IF _gate_is_new OR _gate_backfill THEN\n");
    for f in fills {
        let t = ident(&f.target);
        body.push_str(&format!(
            "      IF NEW.{t} IS NULL THEN\n        IF _gate_backfill THEN\n          NEW.{t} := ({v});\n        \
             ELSIF TG_OP = 'UPDATE' THEN\n          IF OLD.{t} IS NULL THEN\n            NEW.{t} := ({v});\n          END IF;\n        \
             END IF;\n      END IF;\n",
            v = f.value
        ));
    }
    body.push_str("    ELSE\n");
    for f in fills {
        let t = ident(&f.target);
        if f.always {
            body.push_str(&format!("      NEW.{t} := ({});\n", f.value));
        } else {
            body.push_str(&format!(
                "      IF NEW.{t} IS NULL THEN\n        NEW.{t} := ({});\n      END IF;\n",
                f.value
            ));
        }
    }
    body.push_str("    END IF;\n  END;\n");
    body
}

/// The type the new version sees a column at: an added or retyped
/// column's new type, else the physical column's.
fn new_type(table: &Table, mine: &[&Operation], view: &str, physical: &str) -> String {
    mine.iter()
        .find_map(|o| match o {
            Operation::ChangeType { column, type_, .. }
            | Operation::AddColumn { column, type_, .. }
                if column == view =>
            {
                Some(type_.clone())
            }
            _ => None,
        })
        .or_else(|| table.column(physical).map(|c| c.type_.clone()))
        .unwrap_or_else(|| "text".to_string())
}

/// The block that sets old columns from `down` on a new-version write:
/// over the new version's columns, as local variables of its names.
fn down_block(
    table: &Table,
    ops: &[Operation],
    mine: &[&Operation],
    downs: &[(String, String)],
) -> String {
    let new_vars: Vec<String> = super::schema::new_projection(table, ops)
        .into_iter()
        .filter(|(view, _)| !shadows(view))
        .map(|(view, physical)| {
            format!(
                "    {} {} := NEW.{};",
                ident(&view),
                new_type(table, mine, &view, &physical),
                ident(&physical)
            )
        })
        .collect();
    let mut body = String::from("  IF _gate_is_new THEN\n    DECLARE\n");
    body.push_str(&new_vars.join("\n"));
    body.push_str("\n    BEGIN\n");
    for (column, down) in downs {
        body.push_str(&format!("      NEW.{} := ({down});\n", ident(column)));
    }
    body.push_str("    END;\n  END IF;\n");
    body
}

/// The SQL creating the trigger function and the trigger for `table`, or
/// `None` when no operation on it needs one. `oid` names the function.
pub fn trigger_sql(
    migration: &str,
    new_version: &str,
    schema: &str,
    table: &Table,
    oid: u32,
    ops: &[Operation],
) -> Option<String> {
    let mine: Vec<&Operation> = ops.iter().filter(|o| o.table() == table.name).collect();
    let (fills, downs) = fills_and_downs(&mine);
    if fills.is_empty() && downs.is_empty() {
        return None;
    }
    let mut body = String::new();
    body.push_str("#variable_conflict use_variable\nDECLARE\n");
    body.push_str(&format!(
        "  _gate_is_new boolean := coalesce((current_schemas(false))[1] = {}, false);\n",
        literal(new_version)
    ));
    body.push_str(
        "  _gate_backfill boolean := coalesce(current_setting('gate.backfill', true), '') = 'on';\n",
    );
    body.push_str("BEGIN\n");
    if !fills.is_empty() {
        body.push_str(&fill_block(table, &fills));
    }
    if !downs.is_empty() {
        body.push_str(&down_block(table, ops, &mine, &downs));
    }
    body.push_str("  RETURN NEW;\nEND");
    let function = qualified(
        STATE_SCHEMA,
        &format!("{}{oid}", function_prefix(migration)),
    );
    Some(format!(
        "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS {};\n\
         CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION {function}();",
        dollar_quoted(&body),
        ident(&trigger_name(migration)),
        qualified(schema, &table.name),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::schema::Column;

    #[test]
    fn no_trigger_for_a_rename_alone() {
        let t = Table {
            name: "users".into(),
            columns: vec![Column {
                name: "name".into(),
                type_: "text".into(),
                not_null: false,
            }],
            primary_key: vec![],
        };
        let ops = vec![Operation::RenameColumn {
            table: "users".into(),
            from: "name".into(),
            to: "full_name".into(),
        }];
        assert!(trigger_sql("m", "public_m", "public", &t, 1, &ops).is_none());
    }
}
