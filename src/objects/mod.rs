//! The Cognito objects a foreign table can read, one module each.
//!
//! An object module owns its columns (which names it knows and which types they accept), the
//! table that IMPORT FOREIGN SCHEMA creates for it, and how one fetched item becomes the values
//! of a row. The FDW layer knows objects only through `Object`.

pub mod users;

use pgrx::pg_sys;
use serde::{Deserialize, Serialize};

use crate::convert::{ColumnType, Value};
use crate::error::FdwResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Object {
    Users,
}

const ALL: &[Object] = &[Object::Users];

/// A column of a foreign table as the catalog declares it.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    /// 0-based position in the tuple descriptor.
    pub index: usize,
    pub name: String,
    /// The declared type, or for a domain its base type.
    pub type_oid: pg_sys::Oid,
    /// The type modifier of `type_oid` (`varchar(3)` is 7, `timestamp(0)` is 0), -1 for none.
    pub typmod: i32,
    /// The declared type when it is a domain, whose constraints every value must meet.
    pub domain: Option<pg_sys::Oid>,
    /// `format_type` of the declared type, for messages.
    pub type_name: String,
    /// The column option `attribute`, if set.
    pub attribute: Option<String>,
}

/// What the scan fills a column with, decided at plan time and stored in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnPlan {
    pub index: usize,
    pub field: Field,
    pub ty: ColumnType,
    /// The declared type (a domain's base type), its type modifier (-1 for none) and the
    /// domain if there is one: the scan holds each value to them as PostgreSQL's input
    /// functions would. Oids, not pointers, so the plan stays valid wherever it is copied.
    pub type_oid: u32,
    pub typmod: i32,
    pub domain: Option<u32>,
}

/// A value an object can give for a row. Variants of later objects go here too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    Username,
    UserStatus,
    Enabled,
    CreatedAt,
    UpdatedAt,
    AllAttributes,
    Attribute(String),
}

impl Object {
    pub fn from_name(name: &str) -> Option<Object> {
        ALL.iter().copied().find(|o| o.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Object::Users => "users",
        }
    }

    pub fn names() -> Vec<&'static str> {
        ALL.iter().map(|o| o.name()).collect()
    }

    pub fn all() -> &'static [Object] {
        ALL
    }

    /// Map every column of a table to a field, or say which column cannot be read and why.
    pub fn plan_columns(self, columns: &[ColumnDef]) -> FdwResult<Vec<ColumnPlan>> {
        columns
            .iter()
            .map(|c| match self {
                Object::Users => users::plan_column(c),
            })
            .collect()
    }

    /// The CREATE FOREIGN TABLE that IMPORT FOREIGN SCHEMA issues, table name unqualified.
    pub fn import_ddl(self, quoted_server: &str) -> String {
        let (columns, name) = match self {
            Object::Users => (users::IMPORT_COLUMNS, self.name()),
        };
        let body: Vec<String> = columns
            .iter()
            .map(|(col, ty)| format!("  {col} {ty}"))
            .collect();
        format!(
            "create foreign table {name} (\n{}\n)\nserver {quoted_server}\noptions (object '{name}')",
            body.join(",\n")
        )
    }
}

/// The value of one field of a fetched item.
pub trait Item {
    fn value(&self, field: &Field) -> Value;
}
