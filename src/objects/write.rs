//! What a written row asks of Cognito: the part of INSERT, UPDATE and DELETE that is pure.
//!
//! An object that can be written implements `Writer`: which commands it takes, which fields
//! name a record (its row identity), which columns cannot be written, and the changes
//! (`cognito::writes::Change`) each row makes. The FDW callbacks read rows into `Row`s and
//! send the changes; nothing here touches PostgreSQL or the network, so every rule is
//! unit-tested.

use std::future::Future;
use std::pin::Pin;

use pgrx::PgSqlErrorCode::*;
use serde::{Deserialize, Serialize};

use super::{Field, Record};
use crate::cognito::quota::Pace;
use crate::cognito::writes::Change;
use crate::cognito::CognitoClient;
use crate::convert::Value;
use crate::error::{FdwError, FdwResult};

/// A statement that writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Insert,
    Update,
    Delete,
}

impl Command {
    /// As PostgreSQL's messages say it: "inserts", "updates", "deletes".
    pub fn plural(self) -> &'static str {
        match self {
            Command::Insert => "inserts",
            Command::Update => "updates",
            Command::Delete => "deletes",
        }
    }

    /// "insert into", "update", "delete from".
    pub fn verb(self) -> &'static str {
        match self {
            Command::Insert => "insert into",
            Command::Update => "update",
            Command::Delete => "delete from",
        }
    }
}

/// One column's value in a row being written.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub field: Field,
    pub column: String,
    pub value: Value,
}

/// A row being written, or the row it replaces: the table's columns with their values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row(pub Vec<Cell>);

impl Row {
    pub fn get(&self, field: &Field) -> Option<&Cell> {
        self.0.iter().find(|c| &c.field == field)
    }

    /// The value of `field`, NULL when the table has no column for it.
    pub fn value(&self, field: &Field) -> &Value {
        self.get(field).map_or(&Value::Null, |c| &c.value)
    }

    /// The text of `field`, which must not be NULL: a key, or a required value.
    pub fn required(&self, field: &Field, noun: &str) -> FdwResult<String> {
        let cell = self.get(field);
        match cell.map(|c| &c.value) {
            Some(value) if *value != Value::Null => Ok(text_of(value).unwrap_or_default()),
            _ => Err(FdwError::new(
                ERRCODE_NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{}\" violates Cognito's rule that every {noun} has one",
                    cell.map_or("?", |c| c.column.as_str())
                ),
            )),
        }
    }
}

/// What the table's options say about writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteOptions {
    /// `invitation 'send'`: Cognito sends a new user its invitation.
    pub invite: bool,
}

/// The record a write reads back for RETURNING.
pub type ReadBack<'a> = Pin<Box<dyn Future<Output = FdwResult<Option<Box<dyn Record>>>> + 'a>>;

/// How rows of an object are written.
pub trait Writer: Sync {
    /// The statements a table of the object takes.
    fn commands(&self) -> &'static [Command];
    /// The fields that name a record to Cognito: an UPDATE or DELETE reads them from the row.
    fn key(&self) -> &'static [Field];
    /// Why a column reading `field` cannot be given a value by `command`, if it cannot.
    fn refuses(&self, field: &Field, command: Command) -> Option<&'static str>;
    fn insert(&self, row: &Row, options: WriteOptions) -> FdwResult<Vec<Change>>;
    /// Only what differs between `old` and `new` is sent; nothing when nothing does.
    fn update(&self, old: &Row, new: &Row) -> FdwResult<Vec<Change>>;
    fn delete(&self, old: &Row) -> FdwResult<Vec<Change>>;
    /// The operation `read_back` sends, as EXPLAIN ANALYZE counts it.
    fn read_back_operation(&self) -> &'static str;
    /// The record `key` names, as Cognito holds it now (for RETURNING); None when gone.
    fn read_back<'a>(
        &self,
        client: &'a CognitoClient,
        pace: &'a Pace,
        key: &'a Row,
    ) -> ReadBack<'a>;
}

/// A value as Cognito keeps it: every attribute is a string. Times are ISO 8601 in UTC,
/// flags `true`/`false`, JSON as its text; NULL is no value.
pub fn text_of(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::Text(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Time(t) => {
            let text = t.utc_text();
            // "2024-01-02 03:04:05+00" becomes "2024-01-02T03:04:05Z".
            match text.strip_suffix("+00") {
                Some(rest) => format!("{}Z", rest.replacen(' ', "T", 1)),
                None => text,
            }
        }
        Value::Json(serde_json::Value::String(s)) => s.clone(),
        Value::Json(serde_json::Value::Null) => return None,
        Value::Json(other) => other.to_string(),
        Value::TextList(items) => serde_json::to_string(items).unwrap_or_default(),
    })
}

/// Attributes of a document column: `{"email": "a@x"}`, or the hosted wrapper's array of
/// one-key objects `[{"email": "a@x"}]`. A key whose value is JSON null is named with None.
pub fn document_attributes(
    value: &Value,
    column: &str,
) -> FdwResult<Vec<(String, Option<String>)>> {
    let not_a_document = || {
        FdwError::new(
            ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "column \"{column}\" must hold a JSON object of attribute names and values, \
                 or an array of one-key objects"
            ),
        )
    };
    let mut pairs = Vec::new();
    let mut take = |map: &serde_json::Map<String, serde_json::Value>| {
        for (name, value) in map {
            pairs.push((name.clone(), text_of(&Value::Json(value.clone()))));
        }
    };
    match value {
        Value::Null => {}
        Value::Json(serde_json::Value::Object(map)) => take(map),
        Value::Json(serde_json::Value::Array(items)) => {
            for item in items {
                match item {
                    serde_json::Value::Object(map) => take(map),
                    _ => return Err(not_a_document()),
                }
            }
        }
        Value::Text(text) => {
            let parsed: serde_json::Value =
                serde_json::from_str(text).map_err(|_| not_a_document())?;
            return document_attributes(&Value::Json(parsed), column);
        }
        _ => return Err(not_a_document()),
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Instant;

    #[test]
    fn values_become_cognito_strings() {
        assert_eq!(text_of(&Value::Null), None);
        assert_eq!(text_of(&Value::Bool(true)).as_deref(), Some("true"));
        assert_eq!(text_of(&Value::Int(-42)).as_deref(), Some("-42"));
        let t = Instant {
            secs: 1_704_164_645,
            nanos: 0,
        };
        assert_eq!(
            text_of(&Value::Time(t)).as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            text_of(&Value::Json(serde_json::json!({"a": 1}))).as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(
            text_of(&Value::Json(serde_json::json!("x"))).as_deref(),
            Some("x")
        );
    }

    #[test]
    fn documents_give_attributes_in_either_shape() {
        let object = Value::Json(serde_json::json!({"email": "a@x", "custom:n": 5, "name": null}));
        let mut got = document_attributes(&object, "attributes").unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("custom:n".to_owned(), Some("5".to_owned())),
                ("email".to_owned(), Some("a@x".to_owned())),
                ("name".to_owned(), None),
            ]
        );
        let array = Value::Json(serde_json::json!([{"email": "a@x"}, {"name": "A"}]));
        assert_eq!(
            document_attributes(&array, "attributes").unwrap(),
            vec![
                ("email".to_owned(), Some("a@x".to_owned())),
                ("name".to_owned(), Some("A".to_owned())),
            ]
        );
        let err =
            document_attributes(&Value::Json(serde_json::json!([1])), "attributes").unwrap_err();
        assert_eq!(err.code, ERRCODE_INVALID_PARAMETER_VALUE);
        assert!(document_attributes(&Value::Json(serde_json::json!(3)), "a").is_err());
    }

    #[test]
    fn a_required_value_must_not_be_null() {
        let row = Row(vec![Cell {
            field: Field::Username,
            column: "username".into(),
            value: Value::Null,
        }]);
        let err = row.required(&Field::Username, "user").unwrap_err();
        assert_eq!(err.code, ERRCODE_NOT_NULL_VIOLATION);
        assert!(err.message.contains("\"username\""));
        assert!(Row::default().required(&Field::Username, "user").is_err());
    }
}
