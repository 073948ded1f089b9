//! Column definitions and types: parsing a column definition, a type's
//! name as the type rules see it, serial types, volatile defaults.

use gate_sqlkit::{Token, TokenKind};

use super::*;

pub(crate) const COLUMN_CONSTRAINT_WORDS: &[&str] = &[
    "CONSTRAINT",
    "NOT",
    "NULL",
    "DEFAULT",
    "PRIMARY",
    "UNIQUE",
    "REFERENCES",
    "CHECK",
    "GENERATED",
    "COLLATE",
    "COMPRESSION",
    "STORAGE",
];

pub(crate) struct ColumnDef {
    pub(crate) name: String,
    pub(crate) ty: Vec<Token>,
    pub(crate) not_null: bool,
    /// The DEFAULT expression's tokens (`NULL` for `DEFAULT NULL`).
    pub(crate) default: Option<Vec<Token>>,
    pub(crate) primary_key: bool,
    pub(crate) unique: bool,
    pub(crate) references: bool,
    pub(crate) check: bool,
    pub(crate) identity: bool,
    pub(crate) stored: bool,
    /// Byte offset of the name in the statement.
    pub(crate) at: usize,
}

pub(crate) fn column_def(t: &[Token]) -> Option<ColumnDef> {
    let first = t.first().filter(|x| x.is_name())?;
    let mut col = ColumnDef {
        name: first.ident(),
        ty: Vec::new(),
        not_null: false,
        default: None,
        primary_key: false,
        unique: false,
        references: false,
        check: false,
        identity: false,
        stored: false,
        at: first.span.start,
    };
    let is_boundary = |tok: &Token| {
        tok.kind == TokenKind::Word && COLUMN_CONSTRAINT_WORDS.contains(&tok.text.as_str())
    };
    let mut i = 1;
    let mut depth = 0i32;
    while i < t.len() {
        if punct(t, i, "(") {
            depth += 1;
        } else if punct(t, i, ")") {
            depth -= 1;
        } else if depth == 0 && is_boundary(&t[i]) {
            break;
        }
        col.ty.push(t[i].clone());
        i += 1;
    }
    while i < t.len() {
        if seq(t, i, &["NOT", "NULL"]) {
            col.not_null = true;
            i += 2;
        } else if is(t, i, "DEFAULT") {
            let start = i + 1;
            let mut j = start;
            let mut depth = 0i32;
            while j < t.len() {
                if punct(t, j, "(") {
                    depth += 1;
                } else if punct(t, j, ")") {
                    depth -= 1;
                } else if depth == 0 && j > start && is_boundary(&t[j]) {
                    break;
                }
                j += 1;
            }
            col.default = Some(t[start..j].to_vec());
            i = j;
        } else if seq(t, i, &["PRIMARY", "KEY"]) {
            col.primary_key = true;
            i += 2;
        } else if is(t, i, "UNIQUE") {
            col.unique = true;
            i += 1;
        } else if is(t, i, "REFERENCES") {
            col.references = true;
            i += 1;
        } else if is(t, i, "CHECK") {
            col.check = true;
            i += 1;
        } else if is(t, i, "GENERATED") {
            if has_anywhere(&t[i..], "IDENTITY") {
                col.identity = true;
            }
            if has_anywhere(&t[i..], "STORED") {
                col.stored = true;
            }
            i += 1;
        } else {
            i += 1;
        }
    }
    Some(col)
}

pub(crate) fn type_text(ty: &[Token]) -> String {
    let mut s = String::new();
    for (k, tok) in ty.iter().enumerate() {
        let punct_here = tok.kind == TokenKind::Punct
            && matches!(tok.text.as_str(), "(" | ")" | "," | "[" | "]" | ".");
        let after_open = k > 0 && (punct(ty, k - 1, "(") || punct(ty, k - 1, "."));
        let glue = k > 0 && !punct_here && !after_open;
        if glue {
            s.push(' ');
        }
        s.push_str(&tok.text.to_lowercase());
    }
    s
}

/// A column type as the type-preference rules judge it.
pub(crate) struct TypeName {
    /// The name as PostgreSQL resolves it (`varchar`, `serial`, …), after
    /// a `pg_catalog.` qualifier.
    pub(crate) name: String,
    /// `character varying`.
    pub(crate) varying: bool,
    /// A length follows: `varchar(20)`, `character varying(20)`.
    pub(crate) has_len: bool,
    /// `… WITH TIME ZONE`.
    pub(crate) with_time_zone: bool,
}

impl TypeName {
    /// The type written as `ty`, unless it does not start with a name.
    pub(crate) fn of(ty: &[Token]) -> Option<TypeName> {
        // Skip a `pg_catalog.` qualifier.
        let ty = if ty.len() > 2 && punct(ty, 1, ".") {
            &ty[2..]
        } else {
            ty
        };
        let name = ty.first().and_then(type_name)?;
        let varying = is(ty, 1, "VARYING");
        Some(TypeName {
            name,
            varying,
            has_len: punct(ty, 1, "(") || (varying && punct(ty, 2, "(")),
            with_time_zone: has_seq(ty, &["WITH", "TIME", "ZONE"]),
        })
    }

    /// Whether the name is one of `names`.
    pub(crate) fn is(&self, names: &[&str]) -> bool {
        names.contains(&self.name.as_str())
    }
}

/// A type's name as PostgreSQL resolves it: `"bpchar"` and `"serial"` are
/// the same types as the unquoted words (a quoted name is case-sensitive,
/// so `"SERIAL"` is not).
pub(crate) fn type_name(tok: &Token) -> Option<String> {
    tok.is_name().then(|| tok.ident())
}

pub(crate) fn is_serial(ty: &[Token]) -> bool {
    ty.first().and_then(type_name).is_some_and(|x| {
        matches!(
            x.as_str(),
            "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2"
        )
    })
}

/// Functions that are safe in a default from PostgreSQL 11 (stable or immutable).
pub(crate) const NON_VOLATILE: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "statement_timestamp",
    "transaction_timestamp",
    "lower",
    "upper",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "concat",
    "to_json",
    "to_jsonb",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "make_interval",
    "make_date",
    "date_trunc",
    "array",
    "cast",
    "row",
];

/// If the default calls a volatile (or unknown, possibly volatile) function, its name.
pub(crate) fn volatile_call(default: &[Token]) -> Option<String> {
    for i in 0..default.len() {
        let tok = &default[i];
        if tok.kind != TokenKind::Word || !punct(default, i + 1, "(") {
            continue;
        }
        // `'0'::numeric(10,2)` and `CAST(x AS numeric(10,2))` are types, not calls.
        if i > 0 && (punct(default, i - 1, "::") || is(default, i - 1, "AS")) {
            continue;
        }
        let name = tok.text.to_lowercase();
        if !NON_VOLATILE.contains(&name.as_str()) {
            return Some(name);
        }
    }
    None
}

pub(crate) fn is_null_default(d: &Option<Vec<Token>>) -> bool {
    match d {
        None => true,
        Some(t) => t.len() == 1 && t[0].is("NULL"),
    }
}
