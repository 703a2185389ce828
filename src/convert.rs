//! Cognito values to PostgreSQL values.
//!
//! Which declared types a column may have is decided at plan time (`ColumnType::of`), so a
//! mismatch is reported before any request; at run time a value only meets a type that can
//! hold it. Two steps: `prepare` checks a value against the column's type in plain Rust
//! (unit-tested); `Filler` turns it into a Datum on the backend thread and then holds it to
//! the declared type modifier and domain with PostgreSQL's own functions.

use std::ffi::c_void;
use std::panic::AssertUnwindSafe;

use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::PgSqlErrorCode::{self, *};
use pgrx::{IntoDatum, Json, JsonB, PgLogLevel, PgTryBuilder};
use serde::{Deserialize, Serialize};

use crate::objects::ColumnPlan;

/// The declared PostgreSQL type of a foreign table column, as far as conversion cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnType {
    /// `text`, `varchar` or `char(n)` (bpchar): all three are a varlena of UTF-8 bytes; the
    /// length of varchar and char is the type modifier's business (see `Filler`). Only
    /// `text`'s own operators are ever sent to Cognito, so bpchar's blank-insensitive
    /// comparisons stay local.
    Text,
    Bool,
    /// `integer` and `bigint` (a group's precedence).
    Int4,
    Int8,
    /// `timestamp` (without time zone): Cognito's instants, read as UTC.
    Timestamp,
    TimestampTz,
    Jsonb,
    Json,
    /// `text[]`: the lists of app clients and identity providers (callback URLs, flows).
    TextArray,
}

impl ColumnType {
    pub fn of(type_oid: pg_sys::Oid) -> Option<ColumnType> {
        Some(match type_oid {
            pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID => ColumnType::Text,
            pg_sys::BOOLOID => ColumnType::Bool,
            pg_sys::INT4OID => ColumnType::Int4,
            pg_sys::INT8OID => ColumnType::Int8,
            pg_sys::TIMESTAMPOID => ColumnType::Timestamp,
            pg_sys::TIMESTAMPTZOID => ColumnType::TimestampTz,
            pg_sys::JSONBOID => ColumnType::Jsonb,
            pg_sys::JSONOID => ColumnType::Json,
            pg_sys::TEXTARRAYOID => ColumnType::TextArray,
            _ => return None,
        })
    }

    pub fn sql_name(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Bool => "boolean",
            ColumnType::Int4 => "integer",
            ColumnType::Int8 => "bigint",
            ColumnType::Timestamp => "timestamp",
            ColumnType::TimestampTz => "timestamptz",
            ColumnType::Jsonb => "jsonb",
            ColumnType::Json => "json",
            ColumnType::TextArray => "text[]",
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
    /// The instant of a `timestamp` or `timestamptz` value (microseconds since 2000-01-01
    /// UTC); None for `infinity` and `-infinity`, which Cognito cannot keep.
    pub fn from_pg_micros(micros: i64) -> Option<Instant> {
        if micros == i64::MIN || micros == i64::MAX {
            return None;
        }
        Some(Instant {
            secs: micros.div_euclid(1_000_000) + PG_EPOCH_UNIX_SECS,
            nanos: (micros.rem_euclid(1_000_000) * 1_000) as u32,
        })
    }

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

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar, as PostgreSQL counts:
/// (year, month, day), year 0 being 1 BC. Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

impl Instant {
    /// The instant as text, in UTC, the way PostgreSQL prints a `timestamptz` under
    /// `DateStyle ISO` and `TimeZone UTC` (`2024-01-02 03:04:05.678+00`, ` BC` after the zone
    /// for years before 1): ISO 8601 with a space for the `T`. Rounded to the microsecond as
    /// `pg_micros` does, but any instant prints, also one PostgreSQL's timestamps cannot hold.
    pub fn utc_text(self) -> String {
        let micros = i128::from(self.secs) * 1_000_000
            + i128::from((self.nanos.min(999_999_999) + 500) / 1_000);
        let per_day = 86_400 * 1_000_000;
        // |secs| < 2^63, so days fit an i64 with room to spare.
        let days = micros.div_euclid(per_day) as i64;
        let of_day = micros.rem_euclid(per_day) as i64;
        let (year, month, day) = civil_from_days(days);
        let (h, m, s, us) = (
            of_day / 3_600_000_000,
            of_day / 60_000_000 % 60,
            of_day / 1_000_000 % 60,
            of_day % 1_000_000,
        );
        let fraction = match us {
            0 => String::new(),
            _ => format!(".{us:06}").trim_end_matches('0').to_owned(),
        };
        let (shown_year, era) = if year > 0 {
            (year, "")
        } else {
            (1 - year, " BC")
        };
        format!("{shown_year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}{fraction}+00{era}")
    }
}

/// One value read from a Cognito item, before it meets a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    Time(Instant),
    /// A JSON document (for `attributes`).
    Json(serde_json::Value),
    /// A list of strings (an app client's callback URLs): `text[]`, or a JSON array.
    TextList(Vec<String>),
}

/// Text that should become a boolean: Cognito keeps `email_verified` and friends as strings.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Some(true),
        "false" | "f" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Days from 1970-01-01 to (year, month, day) of the proleptic Gregorian calendar: Howard
/// Hinnant's `days_from_civil`, the inverse of `civil_from_days`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An instant from the text of a DateTime attribute, which Cognito keeps as the client wrote
/// it: ISO 8601 (`2024-05-01`, `2024-05-01T10:30:00Z`, `2024-05-01 10:30:00.5+02:00`; without
/// a zone, UTC) or whole seconds since 1970 (the form of the standard `updated_at`). None for
/// anything else, or an impossible date.
pub fn parse_instant(text: &str) -> Option<Instant> {
    let text = text.trim();
    if !text.is_empty()
        && text
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return Some(Instant {
            secs: text.parse().ok()?,
            nanos: 0,
        });
    }
    let digits = |s: &str, n: usize| -> Option<i64> {
        (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, rest) = match text.find(['T', 't', ' ']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (year, month, day) = (
        digits(parts.next()?, 4)?,
        digits(parts.next()?, 2)?,
        digits(parts.next()?, 2)?,
    );
    let month_days = [
        31,
        28 + i64::from(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)),
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if parts.next().is_some()
        || !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
    {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let mut nanos = 0u32;
    if let Some(rest) = rest {
        // The time, then a zone: Z, or +HH, +HHMM, +HH:MM (or -).
        let (time, zone) = match rest.find(['Z', 'z', '+', '-']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        let (clock, fraction) = match time.split_once('.') {
            Some((clock, fraction)) => (clock, Some(fraction)),
            None => (time, None),
        };
        let mut fields = clock.split(':');
        let hour = digits(fields.next()?, 2)?;
        let minute = digits(fields.next()?, 2)?;
        let second = match fields.next() {
            Some(s) => digits(s, 2)?,
            None => 0,
        };
        if fields.next().is_some() || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        if let Some(fraction) = fraction {
            if fraction.is_empty()
                || fraction.len() > 9
                || !fraction.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            nanos = format!("{fraction:0<9}").parse().ok()?;
        }
        secs += hour * 3600 + minute * 60 + second;
        let offset = match zone {
            "" | "Z" | "z" => 0,
            _ => {
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                let zone = zone[1..].replace(':', "");
                let (h, m) = match zone.len() {
                    2 => (digits(&zone, 2)?, 0),
                    4 => (digits(&zone[..2], 2)?, digits(&zone[2..], 2)?),
                    _ => return None,
                };
                if h > 15 || m > 59 {
                    return None;
                }
                sign * (h * 3600 + m * 60)
            }
        };
        secs -= offset;
    }
    Some(Instant { secs, nanos })
}

/// A value checked against its column's type: turning it into a Datum cannot fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Ready {
    Text(String),
    Bool(bool),
    Int4(i32),
    Int8(i64),
    /// Microseconds since 2000-01-01 UTC, within PostgreSQL's range.
    Micros(i64),
    Jsonb(serde_json::Value),
    Json(serde_json::Value),
    TextArray(Vec<String>),
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
        // A Number attribute: Cognito keeps every attribute as a string.
        (Value::Text(s), ColumnType::Int8 | ColumnType::Int4) => {
            let n: i64 = s.trim().parse().or_else(|_| {
                unfit(
                    ERRCODE_INVALID_TEXT_REPRESENTATION,
                    format!("\"{}\" is not a whole number", s.escape_debug()),
                )
            })?;
            return prepare(Value::Int(n), ty);
        }
        // A DateTime attribute, kept as a string too.
        (Value::Text(s), ColumnType::Timestamp | ColumnType::TimestampTz) => {
            match parse_instant(&s) {
                Some(t) => return prepare(Value::Time(t), ty),
                None => {
                    return unfit(
                        ERRCODE_INVALID_DATETIME_FORMAT,
                        format!(
                            "\"{}\" is not a date and time (ISO 8601, or seconds since 1970)",
                            s.escape_debug()
                        ),
                    )
                }
            }
        }
        (Value::Bool(b), ColumnType::Bool) => Ready::Bool(b),
        (Value::Bool(b), ColumnType::Text) => Ready::Text(b.to_string()),
        (Value::Int(n), ColumnType::Int8) => Ready::Int8(n),
        (Value::Int(n), ColumnType::Int4) => match i32::try_from(n) {
            Ok(n) => Ready::Int4(n),
            Err(_) => {
                return unfit(
                    ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                    format!("{n} is out of range for integer"),
                )
            }
        },
        (Value::Int(n), ColumnType::Text) => Ready::Text(n.to_string()),
        (Value::Time(t), ColumnType::Text) => Ready::Text(t.utc_text()),
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
        (Value::TextList(items), ColumnType::TextArray) => {
            items.iter().try_for_each(|item| storable(item))?;
            Ready::TextArray(items)
        }
        (Value::TextList(items), ColumnType::Jsonb | ColumnType::Json) => {
            return prepare(Value::Json(items.into()), ty)
        }
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
        Ready::Int4(n) => n.into_datum(),
        Ready::Int8(n) => n.into_datum(),
        Ready::Micros(micros) => Some(pg_sys::Datum::from(micros)),
        Ready::Jsonb(j) => JsonB(j).into_datum(),
        Ready::Json(j) => Json(j).into_datum(),
        Ready::TextArray(items) => items.into_datum(),
    }))
}

/// A column as the scan fills it: the plan's choice, and what holds a value to the declared
/// type the way PostgreSQL's input functions do. Built on the backend thread at BeginForeignScan.
pub struct Filler {
    pub plan: ColumnPlan,
    /// The declared type's length coercion function (`varchar(n)`, `bpchar(n)`,
    /// `timestamp(p)`, `timestamptz(p)`, found as PostgreSQL's own casts find it) and how many
    /// arguments it takes; None without a type modifier.
    typmod_fn: Option<(pg_sys::Oid, i32)>,
    /// `domain_check`'s cache of the domain's constraints, which it allocates in `mcxt`.
    domain_extra: *mut c_void,
    mcxt: pg_sys::MemoryContext,
}

impl Filler {
    /// # Safety
    /// On the backend thread; `mcxt` must outlive the filler (the executor's query context).
    pub unsafe fn new(plan: ColumnPlan, mcxt: pg_sys::MemoryContext) -> Filler {
        let mut typmod_fn = None;
        if plan.typmod >= 0 {
            let mut funcid = pg_sys::InvalidOid;
            // SAFETY: catalog lookups of a type the plan took from the table's tuple
            // descriptor; an unknown type simply finds no function.
            let path =
                unsafe { pg_sys::find_typmod_coercion_function(plan.type_oid.into(), &mut funcid) };
            if path == pg_sys::CoercionPathType::COERCION_PATH_FUNC {
                // SAFETY: funcid is a live pg_proc row, just found.
                typmod_fn = Some((funcid, unsafe { pg_sys::get_func_nargs(funcid) }));
            }
        }
        Filler {
            plan,
            typmod_fn,
            domain_extra: std::ptr::null_mut(),
            mcxt,
        }
    }

    /// The value as a Datum of the declared type, allocated in the current memory context.
    /// `Err` when it does not fit: the type (`prepare`), the type modifier or the domain.
    ///
    /// # Safety
    /// On the backend thread, inside a transaction.
    pub unsafe fn datum(&mut self, value: Value) -> Result<Option<pg_sys::Datum>, Unfit> {
        let mut datum = to_datum(value, self.plan.ty)?;
        if let (Some(d), Some((funcid, nargs))) = (datum, self.typmod_fn) {
            let typmod = pg_sys::Datum::from(self.plan.typmod);
            // SAFETY: funcid is the type's own length coercion, taking (value, typmod) or
            // (value, typmod, is_explicit) as its pg_cast entry promises; d is a Datum of the
            // type. is_explicit false gives the rules of input and assignment: an error for
            // text too long, unless only blanks are cut.
            datum = Some(caught(|| unsafe {
                match nargs {
                    3 => pg_sys::OidFunctionCall3Coll(
                        funcid,
                        pg_sys::InvalidOid,
                        d,
                        typmod,
                        pg_sys::Datum::from(false),
                    ),
                    _ => pg_sys::OidFunctionCall2Coll(funcid, pg_sys::InvalidOid, d, typmod),
                }
            })?);
        }
        if let Some(domain) = self.plan.domain {
            let (value, isnull) = (datum.unwrap_or(pg_sys::Datum::from(0)), datum.is_none());
            let (extra, mcxt) = (&mut self.domain_extra, self.mcxt);
            // SAFETY: value is a Datum of the domain's base type (or NULL); domain_check
            // keeps its cache in `extra`, allocated in mcxt, which outlives this filler.
            caught(|| unsafe { pg_sys::domain_check(value, isnull, domain.into(), extra, mcxt) })?;
        }
        Ok(datum)
    }
}

/// Whether an error of PostgreSQL's is about a value: SQLSTATE class 22 (data exception: too
/// long, out of range) or 23 (integrity constraint: a domain's NOT NULL or CHECK).
fn about_the_value(code: PgSqlErrorCode) -> bool {
    // A SQLSTATE packs its five characters 6 bits each, the class in the low 12 bits.
    let class = |code: PgSqlErrorCode| code as i32 & 0xFFF;
    [
        ERRCODE_DATA_EXCEPTION,
        ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION,
    ]
    .map(class)
    .contains(&class(code))
}

/// Run a PostgreSQL function that may reject a value. Its errors about the value come back as
/// `Unfit` with PostgreSQL's own message and SQLSTATE, so that the message can also name the
/// user and the column; any other error (a cancel among them) passes through untouched. The
/// caller must raise an `Unfit` at once: nothing the function did is undone until the
/// transaction aborts.
fn caught<T>(f: impl FnOnce() -> T) -> Result<T, Unfit> {
    PgTryBuilder::new(AssertUnwindSafe(|| Ok(f())))
        .catch_others(|error| match error {
            CaughtError::PostgresError(report)
                if report.level() == PgLogLevel::ERROR
                    && about_the_value(report.sql_error_code()) =>
            {
                Err(Unfit {
                    code: report.sql_error_code(),
                    why: report.message().to_owned(),
                })
            }
            other => other.rethrow(),
        })
        .execute()
}

/// A column's value as a write reads it from a row: the way back from a Datum to a `Value`.
///
/// # Safety
/// `datum` is NULL (`is_null`) or a live value of the column's declared type (a domain's base
/// type), which `ty` was planned from.
pub unsafe fn value_of(
    datum: pg_sys::Datum,
    is_null: bool,
    ty: ColumnType,
) -> Result<Value, Unfit> {
    use pgrx::FromDatum;
    if is_null {
        return Ok(Value::Null);
    }
    // SAFETY: by the contract above, `datum` is a non-NULL value of the type each arm reads.
    let value = unsafe {
        match ty {
            ColumnType::Text => String::from_datum(datum, false).map(Value::Text),
            ColumnType::Bool => bool::from_datum(datum, false).map(Value::Bool),
            ColumnType::Int4 => i32::from_datum(datum, false).map(|i| Value::Int(i.into())),
            ColumnType::Int8 => i64::from_datum(datum, false).map(Value::Int),
            ColumnType::Timestamp | ColumnType::TimestampTz => {
                let micros = i64::from_datum(datum, false).unwrap_or_default();
                match Instant::from_pg_micros(micros) {
                    Some(instant) => Some(Value::Time(instant)),
                    None => {
                        return unfit(
                            ERRCODE_DATETIME_FIELD_OVERFLOW,
                            "an infinite time cannot be written to Cognito".to_owned(),
                        )
                    }
                }
            }
            ColumnType::Jsonb => JsonB::from_datum(datum, false).map(|j| Value::Json(j.0)),
            ColumnType::Json => Json::from_datum(datum, false).map(|j| Value::Json(j.0)),
            ColumnType::TextArray => Vec::<Option<String>>::from_datum(datum, false)
                .map(|items| Value::TextList(items.into_iter().flatten().collect())),
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_text_becomes_numbers_and_times() {
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(
            prepare(text(" 12 "), ColumnType::Int8),
            Ok(Some(Ready::Int8(12)))
        );
        assert_eq!(
            prepare(text("-3"), ColumnType::Int4),
            Ok(Some(Ready::Int4(-3)))
        );
        let err = prepare(text("12.5"), ColumnType::Int8).unwrap_err();
        assert_eq!(err.code, ERRCODE_INVALID_TEXT_REPRESENTATION);
        assert_eq!(err.why, "\"12.5\" is not a whole number");
        assert_eq!(
            prepare(text("99999999999"), ColumnType::Int4)
                .unwrap_err()
                .code,
            ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE
        );
        let at = |s: &str| parse_instant(s).map(|t| (t.secs, t.nanos));
        // 2024-05-01 10:30:00 UTC
        assert_eq!(at("2024-05-01T10:30:00Z"), Some((1_714_559_400, 0)));
        assert_eq!(at("2024-05-01 10:30:00"), Some((1_714_559_400, 0)));
        assert_eq!(at("2024-05-01T12:30:00+02:00"), Some((1_714_559_400, 0)));
        assert_eq!(at("2024-05-01T07:00:00-0330"), Some((1_714_559_400, 0)));
        assert_eq!(at("2024-05-01T10:30Z"), Some((1_714_559_400, 0)));
        assert_eq!(
            at("2024-05-01T10:30:00.25Z"),
            Some((1_714_559_400, 250_000_000))
        );
        assert_eq!(at("2024-02-29"), Some((1_709_164_800, 0)));
        assert_eq!(at("1714559400"), Some((1_714_559_400, 0)));
        assert_eq!(at("1969-12-31T23:59:59Z"), Some((-1, 0)));
        for bad in [
            "",
            "2023-02-29",
            "2024-13-01",
            "2024-5-1",
            "tomorrow",
            "2024-05-01T25:00Z",
            "2024-05-01T10:30:00+2",
            "2024-05-01T10:30:00.Z",
            "12.5",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
        assert_eq!(
            prepare(text("2024-05-01T10:30:00Z"), ColumnType::TimestampTz),
            prepare(
                Value::Time(Instant {
                    secs: 1_714_559_400,
                    nanos: 0
                }),
                ColumnType::TimestampTz
            )
        );
        let err = prepare(text("soon"), ColumnType::Timestamp).unwrap_err();
        assert_eq!(err.code, ERRCODE_INVALID_DATETIME_FORMAT);
    }

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
    fn numbers_fit_integer_bigint_and_text() {
        assert_eq!(
            prepare(Value::Int(7), ColumnType::Int4),
            Ok(Some(Ready::Int4(7)))
        );
        assert_eq!(
            prepare(Value::Int(1 << 40), ColumnType::Int8),
            Ok(Some(Ready::Int8(1 << 40)))
        );
        assert_eq!(
            prepare(Value::Int(-3), ColumnType::Text),
            Ok(Some(Ready::Text("-3".into())))
        );
        let err = prepare(Value::Int(1 << 40), ColumnType::Int4).unwrap_err();
        assert_eq!(err.code, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE);
        assert!(prepare(Value::Int(1), ColumnType::Bool).is_err());
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
        let list = || Value::TextList(vec!["code".into(), "implicit".into()]);
        assert_eq!(
            prepare(list(), ColumnType::TextArray),
            Ok(Some(Ready::TextArray(vec![
                "code".into(),
                "implicit".into()
            ])))
        );
        assert_eq!(
            prepare(list(), ColumnType::Jsonb),
            Ok(Some(Ready::Jsonb(json!(["code", "implicit"]))))
        );
        assert!(prepare(Value::TextList(vec!["a\0".into()]), ColumnType::TextArray).is_err());
        assert!(prepare(list(), ColumnType::Text).is_err());
        assert!(prepare(text("x"), ColumnType::TextArray).is_err());
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
    fn instants_as_text_read_as_postgres_prints_them_in_utc() {
        let text = |secs: i64, nanos: u32| Instant { secs, nanos }.utc_text();
        assert_eq!(text(0, 0), "1970-01-01 00:00:00+00");
        assert_eq!(text(-1, 0), "1969-12-31 23:59:59+00");
        assert_eq!(text(PG_EPOCH_UNIX_SECS, 0), "2000-01-01 00:00:00+00");
        assert_eq!(text(1_719_791_999, 500_000_000), "2024-06-30 23:59:59.5+00");
        assert_eq!(text(1_709_208_000, 0), "2024-02-29 12:00:00+00");
        assert_eq!(
            text(1_704_164_645, 678_901_499),
            "2024-01-02 03:04:05.678901+00"
        );
        // Rounding to the microsecond carries into the next day.
        assert_eq!(text(86_399, 999_999_600), "1970-01-02 00:00:00+00");
        // Years before 1 count backwards with BC, as PostgreSQL prints them.
        assert_eq!(text(-62_135_596_800, 0), "0001-01-01 00:00:00+00");
        assert_eq!(text(-62_135_596_801, 0), "0001-12-31 23:59:59+00 BC");
        let at = |micros: i64| {
            text(
                micros.div_euclid(1_000_000) + PG_EPOCH_UNIX_SECS,
                micros.rem_euclid(1_000_000) as u32 * 1_000,
            )
        };
        assert_eq!(at(PG_MIN_MICROS), "4714-11-24 00:00:00+00 BC");
        assert_eq!(at(PG_END_MICROS - 1), "294276-12-31 23:59:59.999999+00");
        // Text holds what timestamps cannot, and never panics.
        assert_eq!(at(PG_END_MICROS), "294277-01-01 00:00:00+00");
        for secs in [i64::MAX, i64::MIN] {
            assert!(text(secs, 999_999_999).ends_with("+00") || text(secs, 0).ends_with(" BC"));
        }
        assert_eq!(
            prepare(Value::Time(Instant { secs: 0, nanos: 0 }), ColumnType::Text),
            Ok(Some(Ready::Text("1970-01-01 00:00:00+00".into())))
        );
        assert_eq!(
            prepare(Value::Bool(true), ColumnType::Text),
            Ok(Some(Ready::Text("true".into())))
        );
        assert_eq!(
            prepare(
                Value::Json(serde_json::json!({"sub": "0b1c"})),
                ColumnType::Text
            ),
            Ok(Some(Ready::Text("{\"sub\":\"0b1c\"}".into())))
        );
    }

    #[test]
    fn only_errors_about_the_value_are_caught() {
        for code in [
            ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
            ERRCODE_DATETIME_FIELD_OVERFLOW,
            ERRCODE_CHECK_VIOLATION,
            ERRCODE_NOT_NULL_VIOLATION,
        ] {
            assert!(about_the_value(code), "{code:?}");
        }
        for code in [
            ERRCODE_QUERY_CANCELED,
            ERRCODE_OUT_OF_MEMORY,
            ERRCODE_INTERNAL_ERROR,
            ERRCODE_UNDEFINED_FUNCTION,
            ERRCODE_FDW_ERROR,
            // Same first character as 22 and 23, other classes.
            ERRCODE_INVALID_TRANSACTION_STATE,
            ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
        ] {
            assert!(!about_the_value(code), "{code:?}");
        }
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
        assert_eq!(ColumnType::of(pg_sys::BPCHAROID), Some(ColumnType::Text));
        assert_eq!(ColumnType::of(pg_sys::INT4OID), Some(ColumnType::Int4));
        assert_eq!(ColumnType::of(pg_sys::FLOAT8OID), None);
    }
}
