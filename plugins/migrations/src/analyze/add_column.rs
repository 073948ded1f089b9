//! ALTER TABLE … ADD COLUMN: the column definition, as the column rules see it.

use gate_sqlkit::Token;

use super::*;
use crate::rules::RuleId;

/// A column an ALTER TABLE adds, as the column rules see it.
pub(crate) struct AddedColumn<'c> {
    pub(crate) table: &'c str,
    /// `table.column`, unqualified table.
    pub(crate) object: String,
    pub(crate) col: ColumnDef,
    /// Byte offset of the ADD action in the statement.
    pub(crate) at: usize,
    /// The type is serial, smallserial or bigserial.
    pub(crate) serial: bool,
    /// The table was created by the migrations being judged.
    pub(crate) new: bool,
    /// The table is a foreign table (its data lives elsewhere).
    pub(crate) foreign: bool,
}

impl AddedColumn<'_> {
    /// The column is added to a table that holds data here: one that
    /// exists before the migrations, and not a foreign table.
    pub(crate) fn to_existing_table(&self) -> bool {
        !self.new && !self.foreign
    }

    /// The column fills itself from a sequence (serial or identity).
    pub(crate) fn generates(&self) -> bool {
        self.serial || self.col.identity
    }

    /// A serial or identity PRIMARY KEY: `add-serial-primary-key` judges
    /// it, and the rules about defaults and keys stay silent.
    pub(crate) fn serial_primary_key(&self) -> bool {
        self.generates() && self.col.primary_key
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
        self.emit(Fact::ColumnType {
            object: &object,
            ty: &col.ty,
            at: col.at,
        });
        let c = AddedColumn {
            table,
            object,
            serial: is_serial(&col.ty),
            col,
            at: a[0].span.start,
            new,
            foreign: self.foreign,
        };
        if c.to_existing_table() {
            self.emit(Fact::Guardable {
                what: "ADD COLUMN",
                object: &c.object,
                guarded,
            });
        }
        self.emit(Fact::AddColumn(&c));
        self.emit(Fact::ColumnConstraints(&c));
    }
}
