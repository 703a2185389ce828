//! Cognito values to PostgreSQL values.
//!
//! Which declared types a column may have is decided at plan time (`ColumnType::of`), so a
//! mismatch is reported before any request; at run time a value only meets a type that can
//! hold it.

use pgrx::pg_sys;
use pgrx::PgSqlErrorCode::{self, *};
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
/// PostgreSQL's range of timestamps, in microseconds since its epoch: from 4714-11-24 BC
/// (MIN_TIMESTAMP) up to, not including, 294277-01-01 (END_TIMESTAMP).
const PG_MIN_MICROS: i64 = -211_813_488_000_000_000;
const PG_END_MICROS: i64 = 9_223_371_331_200_000_000;

impl Instant {
    /// Microseconds since 2000-01-01 UTC: the representation of both `timestamp` and
    /// `timestamptz`, rounded to the nearest microsecond as PostgreSQL's own input does (Cognito
    /// sends fractional seconds, which land a hair below the microsecond they stand for).
    /// None when PostgreSQL cannot hold the instant: a broken answer may carry any number.
    pub fn pg_micros(self) -> Option<i64> {
        let micros = self
            .secs
            .checked_sub(PG_EPOCH_UNIX_SECS)?
            .checked_mul(1_000_000)?
            .checked_add(i64::from((self.nanos.min(999_999_999) + 500) / 1_000))?;
        (PG_MIN_MICROS..PG_END_MICROS)
            .contains(&micros)
            .then_some(micros)
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

/// A value checked against its column's type: turning it into a Datum cannot fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Ready {
    Text(String),
    Bool(bool),
    /// Microseconds since 2000-01-01 UTC, within PostgreSQL's range.
    Micros(i64),
    Jsonb(serde_json::Value),
    Json(serde_json::Value),
}

/// Why a value does not fit its column, with the SQLSTATE PostgreSQL's own input functions
/// would give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit {
    pub code: PgSqlErrorCode,
    pub why: String,
}

fn unfit<T>(code: PgSqlErrorCode, why: String) -> Result<T, Unfit> {
    Err(Unfit { code, why })
}

/// Text PostgreSQL can store: neither `text` nor a `jsonb` string can hold a NUL character.
fn storable(text: &str) -> Result<(), Unfit> {
    match text.contains('\0') {
        true => unfit(
            ERRCODE_UNTRANSLATABLE_CHARACTER,
            format!(
                "\"{}\" holds a NUL character, which PostgreSQL text cannot",
                text.escape_debug()
            ),
        ),
        false => Ok(()),
    }
}

fn storable_json(value: &serde_json::Value) -> Result<(), Unfit> {
    match value {
        serde_json::Value::String(s) => storable(s),
        serde_json::Value::Array(items) => items.iter().try_for_each(storable_json),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            storable(k)?;
            storable_json(v)
        }),
        _ => Ok(()),
    }
}

/// Check a value against the column type. `Err` says why it does not fit, for the message.
/// Pure, so that the whole way from a Cognito answer to a row's values is unit-tested.
pub fn prepare(value: Value, ty: ColumnType) -> Result<Option<Ready>, Unfit> {
    let ready = match (value, ty) {
        (Value::Null, _) => return Ok(None),
        (Value::Text(s), ColumnType::Text) => {
            storable(&s)?;
            Ready::Text(s)
        }
        (Value::Text(s), ColumnType::Bool) => match parse_bool(&s) {
            Some(b) => Ready::Bool(b),
            None => {
                return unfit(
                    ERRCODE_INVALID_TEXT_REPRESENTATION,
                    format!("\"{}\" is not a boolean", s.escape_debug()),
                )
            }
        },
        (Value::Bool(b), ColumnType::Bool) => Ready::Bool(b),
        (Value::Bool(b), ColumnType::Text) => Ready::Text(b.to_string()),
        (Value::Time(t), ColumnType::Timestamp | ColumnType::TimestampTz) => match t.pg_micros() {
            Some(micros) => Ready::Micros(micros),
            None => {
                return unfit(
                    ERRCODE_DATETIME_FIELD_OVERFLOW,
                    format!(
                        "instant {} s after 1970 is out of range for {}",
                        t.secs,
                        ty.sql_name()
                    ),
                )
            }
        },
        (Value::Json(j), ColumnType::Jsonb) => {
            storable_json(&j)?;
            Ready::Jsonb(j)
        }
        // json and text keep a NUL as the escape `\u0000`; only jsonb cannot hold one.
        (Value::Json(j), ColumnType::Json) => Ready::Json(j),
        (Value::Json(j), ColumnType::Text) => Ready::Text(j.to_string()),
        (other, ty) => {
            return unfit(
                ERRCODE_FDW_INVALID_DATA_TYPE,
                format!("{other:?} cannot become {}", ty.sql_name()),
            )
        }
    };
    Ok(Some(ready))
}

/// A value in the form of the column type, allocated in the current memory context.
pub fn to_datum(value: Value, ty: ColumnType) -> Result<Option<pg_sys::Datum>, Unfit> {
    Ok(prepare(value, ty)?.and_then(|ready| match ready {
        Ready::Text(s) => s.into_datum(),
        Ready::Bool(b) => b.into_datum(),
        Ready::Micros(micros) => Some(pg_sys::Datum::from(micros)),
        Ready::Jsonb(j) => JsonB(j).into_datum(),
        Ready::Json(j) => Json(j).into_datum(),
    }))
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
            Some(0)
        );
        // 2024-01-02 03:04:05.678901 UTC
        let t = Instant {
            secs: 1_704_164_645,
            nanos: 678_901_499,
        };
        assert_eq!(t.pg_micros(), Some(757_479_845_678_901));
        let t = Instant {
            secs: 1_704_164_645,
            nanos: 730_999_500,
        };
        assert_eq!(t.pg_micros(), Some(757_479_845_731_000));
        // Before 2000 is negative, not wrapped.
        assert_eq!(
            Instant { secs: 0, nanos: 0 }.pg_micros(),
            Some(-946_684_800_000_000)
        );
        // What PostgreSQL cannot hold is refused, never wrapped around.
        for secs in [i64::MAX, i64::MIN, 9_300_000_000_000, -211_000_000_000] {
            assert_eq!(Instant { secs, nanos: 0 }.pg_micros(), None, "{secs}");
        }
        // The edges: 4714-11-24 00:00 BC is the first instant, 294277-01-01 the first refused.
        let at = |micros: i64| Instant {
            secs: micros.div_euclid(1_000_000) + PG_EPOCH_UNIX_SECS,
            nanos: micros.rem_euclid(1_000_000) as u32 * 1_000,
        };
        assert_eq!(at(PG_MIN_MICROS).pg_micros(), Some(PG_MIN_MICROS));
        assert_eq!(at(PG_MIN_MICROS - 1).pg_micros(), None);
        assert_eq!(at(PG_END_MICROS - 1).pg_micros(), Some(PG_END_MICROS - 1));
        assert_eq!(at(PG_END_MICROS).pg_micros(), None);
    }

    #[test]
    fn values_are_checked_against_their_column() {
        use serde_json::json;
        let text = |s: &str| Value::Text(s.to_owned());
        assert_eq!(
            prepare(text("é \"x\""), ColumnType::Text),
            Ok(Some(Ready::Text("é \"x\"".into())))
        );
        let nul = prepare(text("a\0b"), ColumnType::Text).unwrap_err();
        assert_eq!(nul.code, ERRCODE_UNTRANSLATABLE_CHARACTER);
        assert!(nul.why.contains("NUL"));
        assert!(prepare(Value::Json(json!({"k": "a\0"})), ColumnType::Jsonb).is_err());
        assert!(prepare(Value::Json(json!({"k\0": "a"})), ColumnType::Jsonb).is_err());
        assert!(prepare(Value::Json(json!({"k": "a\0"})), ColumnType::Json).is_ok());
        assert_eq!(
            prepare(text("maybe"), ColumnType::Bool),
            unfit(
                ERRCODE_INVALID_TEXT_REPRESENTATION,
                "\"maybe\" is not a boolean".into()
            )
        );
        let far = Value::Time(Instant {
            secs: 1 << 50,
            nanos: 0,
        });
        let far = prepare(far, ColumnType::TimestampTz).unwrap_err();
        assert_eq!(far.code, ERRCODE_DATETIME_FIELD_OVERFLOW);
        assert!(far.why.contains("out of range for timestamptz"));
        assert_eq!(prepare(Value::Null, ColumnType::Bool), Ok(None));
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
