//! Cognito values to PostgreSQL values.
//!
//! Which declared types a column may have is decided at plan time (`ColumnType::of`), so a
//! mismatch is reported before any request; at run time a value only meets a type that can
//! hold it.

use pgrx::pg_sys;
use pgrx::{IntoDatum, Json, JsonB};
use serde::{Deserialize, Serialize};

/// The declared PostgreSQL type of a foreign table column, as far as conversion cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnType {
    /// `text` or `varchar`: both are a varlena of UTF-8 bytes.
    Text,
    Bool,
    /// `timestamp` (without time zone): Cognito's instants, read as UTC.
    Timestamp,
    TimestampTz,
    Jsonb,
    Json,
}

impl ColumnType {
    pub fn of(type_oid: pg_sys::Oid) -> Option<ColumnType> {
        Some(match type_oid {
            pg_sys::TEXTOID | pg_sys::VARCHAROID => ColumnType::Text,
            pg_sys::BOOLOID => ColumnType::Bool,
            pg_sys::TIMESTAMPOID => ColumnType::Timestamp,
            pg_sys::TIMESTAMPTZOID => ColumnType::TimestampTz,
            pg_sys::JSONBOID => ColumnType::Jsonb,
            pg_sys::JSONOID => ColumnType::Json,
            _ => return None,
        })
    }

    pub fn sql_name(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Bool => "boolean",
            ColumnType::Timestamp => "timestamp",
            ColumnType::TimestampTz => "timestamptz",
            ColumnType::Jsonb => "jsonb",
            ColumnType::Json => "json",
        }
    }
}

/// An instant as Cognito sends it: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    pub secs: i64,
    pub nanos: u32,
}

/// Seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 (both UTC).
const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;

impl Instant {
    /// Microseconds since 2000-01-01 UTC: the representation of both `timestamp` and
    /// `timestamptz`, rounded to the nearest microsecond as PostgreSQL's own input does (Cognito
    /// sends fractional seconds, which land a hair below the microsecond they stand for).
    pub fn pg_micros(self) -> i64 {
        (self.secs - PG_EPOCH_UNIX_SECS) * 1_000_000 + i64::from((self.nanos + 500) / 1_000)
    }
}

/// One value read from a Cognito item, before it meets a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Bool(bool),
    Time(Instant),
    /// A JSON document (for `attributes`).
    Json(serde_json::Value),
}

/// Text that should become a boolean: Cognito keeps `email_verified` and friends as strings.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Some(true),
        "false" | "f" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// A value in the form of the column type. `Err` names the value's kind for the message.
pub fn to_datum(value: Value, ty: ColumnType) -> Result<Option<pg_sys::Datum>, String> {
    let datum = match (value, ty) {
        (Value::Null, _) => None,
        (Value::Text(s), ColumnType::Text) => s.into_datum(),
        (Value::Text(s), ColumnType::Bool) => match parse_bool(&s) {
            Some(b) => b.into_datum(),
            None => return Err(format!("\"{}\" is not a boolean", s.escape_debug())),
        },
        (Value::Bool(b), ColumnType::Bool) => b.into_datum(),
        (Value::Bool(b), ColumnType::Text) => b.to_string().into_datum(),
        (Value::Time(t), ColumnType::Timestamp | ColumnType::TimestampTz) => {
            Some(pg_sys::Datum::from(t.pg_micros()))
        }
        (Value::Json(j), ColumnType::Jsonb) => JsonB(j).into_datum(),
        (Value::Json(j), ColumnType::Json) => Json(j).into_datum(),
        (Value::Json(j), ColumnType::Text) => j.to_string().into_datum(),
        (other, ty) => return Err(format!("{other:?} cannot become {}", ty.sql_name())),
    };
    Ok(datum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_count_from_the_postgres_epoch() {
        assert_eq!(
            Instant {
                secs: PG_EPOCH_UNIX_SECS,
                nanos: 0
            }
            .pg_micros(),
            0
        );
        // 2024-01-02 03:04:05.678901 UTC
        let t = Instant {
            secs: 1_704_164_645,
            nanos: 678_901_499,
        };
        assert_eq!(t.pg_micros(), 757_479_845_678_901);
        let t = Instant {
            secs: 1_704_164_645,
            nanos: 730_999_500,
        };
        assert_eq!(t.pg_micros(), 757_479_845_731_000);
        // Before 2000 is negative, not wrapped.
        assert_eq!(
            Instant { secs: 0, nanos: 0 }.pg_micros(),
            -946_684_800_000_000
        );
    }

    #[test]
    fn booleans_from_attribute_text() {
        assert_eq!(parse_bool("true"), Some(true));
        assert_eq!(parse_bool("False"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn types_by_oid() {
        assert_eq!(ColumnType::of(pg_sys::VARCHAROID), Some(ColumnType::Text));
        assert_eq!(ColumnType::of(pg_sys::INT4OID), None);
    }
}
