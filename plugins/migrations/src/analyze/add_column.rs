//! ALTER TABLE … ADD COLUMN: the column definition, and the rules that
//! judge it, in the order their findings are reported.

use gate_sqlkit::Token;

use super::*;
use crate::rules::RuleId;
use crate::rules::{
    add_column_volatile_default, add_foreign_key, add_primary_key, add_required_column,
    add_serial_primary_key, add_unique_constraint, constraint_missing_not_valid,
};

/// A column added to an existing table, as the column rules see it.
pub(crate) struct AddedColumn<'c> {
    pub(crate) table: &'c str,
    /// `table.column`, unqualified table.
    pub(crate) object: String,
    pub(crate) col: ColumnDef,
    /// Byte offset of the ADD action in the statement.
    pub(crate) at: usize,
    /// The type is serial, smallserial or bigserial.
    pub(crate) serial: bool,
}

impl AddedColumn<'_> {
    /// The column fills itself from a sequence (serial or identity).
    pub(crate) fn generates(&self) -> bool {
        self.serial || self.col.identity
    }

    /// Reports a hit of `rule` on the column, at its ADD action.
    pub(crate) fn report(&self, a: &mut Analysis<'_>, rule: RuleId, message: String) {
        a.add_at(rule, message, Some(self.object.clone()), self.at);
    }
}

impl Analysis<'_> {
    /// ADD [COLUMN] [IF NOT EXISTS] name type constraints…
    pub(crate) fn add_column(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let mut k = 1;
        if is(a, k, "COLUMN") {
            k += 1;
        }
        let (guarded, k) = skip_if(a, k);
        let Some(col) = column_def(&a[k..]) else {
            return;
        };
        let object = format!("{short}.{}", col.name);
        self.type_checks(&col.ty, &object, col.at);
        if new || self.foreign {
            return;
        }
        self.robust(guarded, "ADD COLUMN", &object);
        let c = AddedColumn {
            table,
            object,
            serial: is_serial(&col.ty),
            col,
            at: a[0].span.start,
        };
        if !add_serial_primary_key::on_add_column(self, &c) {
            add_required_column::on_add_column(self, &c);
            add_column_volatile_default::on_add_column(self, &c);
            add_primary_key::on_add_column(self, &c);
        }
        add_unique_constraint::on_add_column(self, &c);
        add_foreign_key::on_add_column(self, &c);
        constraint_missing_not_valid::on_add_column(self, &c);
    }
}
