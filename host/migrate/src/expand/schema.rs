//! The physical tables as the catalog has them, what each version of the
//! schema shows of them, and the schemas of views that serve each version:
//! an application whose `search_path` is a version schema reads and writes
//! the tables through simple (automatically updatable) views.

use std::collections::BTreeMap;

use tokio_postgres::GenericClient;

use super::ExpandError;
use super::ops::{ColumnDef, Operation};
use super::sql::{ident, qualified};

/// The prefix of the physical column that holds a changed type's new
/// values until complete.
pub const NEW_PREFIX: &str = "_gate_new_";

/// A column of a physical table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// As `format_type` writes it.
    pub type_: String,
    pub not_null: bool,
}

/// A physical table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// Primary key columns, in key order (empty: none).
    pub primary_key: Vec<String>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The physical column that holds the new version's values of a changed
/// type.
pub fn new_column_of(column: &str) -> String {
    format!("{NEW_PREFIX}{column}")
}

/// The ordinary and partitioned tables of `schema`, by name.
pub async fn tables(
    client: &impl GenericClient,
    schema: &str,
) -> Result<BTreeMap<String, Table>, ExpandError> {
    let rows = client
        .query(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                    coalesce(array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) + 1, 0) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
             ORDER BY c.relname, a.attnum",
            &[&schema],
        )
        .await
        .map_err(|e| ExpandError::db(format!("reading the tables of schema {schema}"), &e))?;
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let mut keys: BTreeMap<String, Vec<(i32, String)>> = BTreeMap::new();
    for row in rows {
        let table: String = row.get(0);
        let column = Column {
            name: row.get(1),
            type_: row.get(2),
            not_null: row.get(3),
        };
        let key_pos: i32 = row.get(4);
        if key_pos > 0 {
            keys.entry(table.clone())
                .or_default()
                .push((key_pos, column.name.clone()));
        }
        tables
            .entry(table.clone())
            .or_insert_with(|| Table {
                name: table,
                columns: Vec::new(),
                primary_key: Vec::new(),
            })
            .columns
            .push(column);
    }
    for (table, mut key) in keys {
        key.sort();
        if let Some(t) = tables.get_mut(&table) {
            t.primary_key = key.into_iter().map(|(_, c)| c).collect();
        }
    }
    Ok(tables)
}

/// What a version shows of a table: (view column, physical column).
pub type Projection = Vec<(String, String)>;

/// The old version's columns: the table as it was before the expand,
/// without the columns the operations add.
pub fn old_projection(table: &Table, ops: &[Operation]) -> Projection {
    let added: Vec<String> = ops
        .iter()
        .filter(|o| o.table() == table.name)
        .filter_map(|o| match o {
            Operation::AddColumn { column, .. } => Some(column.clone()),
            Operation::ChangeType { column, .. } => Some(new_column_of(column)),
            Operation::RenameColumn { .. }
            | Operation::DropColumn { .. }
            | Operation::SetNotNull { .. }
            | Operation::CreateTable { .. }
            | Operation::CreateIndex { .. }
            | Operation::RenameTable { .. }
            | Operation::DropTable { .. }
            | Operation::AddConstraint { .. }
            | Operation::RawSql { .. } => None,
        })
        .collect();
    table
        .columns
        .iter()
        .filter(|c| !added.contains(&c.name))
        .map(|c| (c.name.clone(), c.name.clone()))
        .collect()
}

/// The new version's columns: renamed, retyped (served from the new
/// physical column) and added ones.
pub fn new_projection(table: &Table, ops: &[Operation]) -> Projection {
    let mine: Vec<&Operation> = ops.iter().filter(|o| o.table() == table.name).collect();
    let mut out = Vec::new();
    for (view, physical) in old_projection(table, ops) {
        let renamed = mine.iter().find_map(|o| match o {
            Operation::RenameColumn { from, to, .. } if *from == view => Some(to.clone()),
            _ => None,
        });
        let retyped = mine
            .iter()
            .any(|o| matches!(o, Operation::ChangeType { column, .. } if *column == view));
        let dropped = mine
            .iter()
            .any(|o| matches!(o, Operation::DropColumn { column, .. } if *column == view));
        if dropped {
            continue;
        }
        match (renamed, retyped) {
            (Some(to), _) => out.push((to, physical)),
            (None, true) => out.push((view.clone(), new_column_of(&view))),
            (None, false) => out.push((view, physical)),
        }
    }
    for o in &mine {
        if let Operation::AddColumn { column, .. } = o {
            out.push((column.clone(), column.clone()));
        }
    }
    out
}

/// `CREATE VIEW` of one table in a version schema. Views check
/// permissions as the querying role (`security_invoker`), so a version
/// schema grants nothing its tables do not.
pub fn view_sql(version: &str, schema: &str, table: &str, projection: &Projection) -> String {
    view_sql_as(version, table, schema, table, projection)
}

/// `CREATE VIEW` of one table in a version schema under the name `view`
/// (a renamed table's new name).
pub fn view_sql_as(
    version: &str,
    view: &str,
    schema: &str,
    table: &str,
    projection: &Projection,
) -> String {
    let columns: Vec<String> = projection
        .iter()
        .map(|(view, physical)| {
            if view == physical {
                ident(physical)
            } else {
                format!("{} AS {}", ident(physical), ident(view))
            }
        })
        .collect();
    format!(
        "CREATE VIEW {} WITH (security_invoker = true) AS SELECT {} FROM {}",
        qualified(version, view),
        columns.join(", "),
        qualified(schema, table)
    )
}

/// `CREATE TABLE` of a created table, in the tables' own schema.
pub fn create_table_sql(
    schema: &str,
    table: &str,
    columns: &[ColumnDef],
    primary_key: &[String],
) -> String {
    let mut parts: Vec<String> = columns
        .iter()
        .map(|c| {
            let mut d = format!("{} {}", ident(&c.name), c.type_);
            if c.not_null {
                d.push_str(" NOT NULL");
            }
            if let Some(default) = &c.default {
                d.push_str(&format!(" DEFAULT ({default})"));
            }
            d
        })
        .collect();
    if !primary_key.is_empty() {
        let key: Vec<String> = primary_key.iter().map(|k| ident(k)).collect();
        parts.push(format!("PRIMARY KEY ({})", key.join(", ")));
    }
    format!(
        "CREATE TABLE {} ({})",
        qualified(schema, table),
        parts.join(", ")
    )
}

/// Whether schema `name` exists.
pub async fn schema_exists(client: &impl GenericClient, name: &str) -> Result<bool, ExpandError> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&name],
        )
        .await
        .map_err(|e| ExpandError::db("reading pg_namespace", &e))?
        .get(0))
}

/// Columns of `table` (in `schema`) that an index or a constraint other
/// than NOT NULL uses: a changed type cannot carry them over yet.
pub async fn constrained_columns(
    client: &impl GenericClient,
    schema: &str,
    table: &str,
) -> Result<Vec<String>, ExpandError> {
    let rows = client
        .query(
            "SELECT DISTINCT a.attname::text FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND ( \
               EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND a.attnum = ANY(i.indkey::int2[])) \
               OR EXISTS (SELECT 1 FROM pg_constraint k WHERE (k.conrelid = c.oid OR k.confrelid = c.oid) \
                          AND (a.attnum = ANY(k.conkey) OR a.attnum = ANY(k.confkey))))",
            &[&schema, &table],
        )
        .await
        .map_err(|e| ExpandError::db("reading indexes and constraints", &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Table {
        let col = |n: &str| Column {
            name: n.into(),
            type_: "text".into(),
            not_null: false,
        };
        Table {
            name: "users".into(),
            columns: vec![col("id"), col("name"), col("amount"), col("email")],
            primary_key: vec!["id".into()],
        }
    }

    #[test]
    fn each_version_sees_its_own_columns() {
        let ops = vec![
            Operation::AddColumn {
                table: "users".into(),
                column: "email".into(),
                type_: "text".into(),
                default: None,
                not_null: false,
                check: None,
                up: None,
            },
            Operation::RenameColumn {
                table: "users".into(),
                from: "name".into(),
                to: "full_name".into(),
            },
            Operation::ChangeType {
                table: "users".into(),
                column: "amount".into(),
                type_: "bigint".into(),
                up: "amount".into(),
                down: "amount".into(),
                default: None,
            },
        ];
        let mut t = users();
        t.columns.push(Column {
            name: "_gate_new_amount".into(),
            type_: "bigint".into(),
            not_null: false,
        });
        let old: Vec<_> = old_projection(&t, &ops)
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        assert_eq!(old, ["id", "name", "amount"]);
        let new = new_projection(&t, &ops);
        assert_eq!(
            new,
            [
                ("id".to_string(), "id".to_string()),
                ("full_name".into(), "name".into()),
                ("amount".into(), "_gate_new_amount".into()),
                ("email".into(), "email".into()),
            ]
        );
        assert_eq!(
            view_sql("public_v2", "public", "users", &new),
            "CREATE VIEW \"public_v2\".\"users\" WITH (security_invoker = true) AS SELECT \"id\", \
             \"name\" AS \"full_name\", \"_gate_new_amount\" AS \"amount\", \"email\" FROM \"public\".\"users\""
        );
    }
}
