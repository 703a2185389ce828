//! `object 'users'`: the users of a user pool, read with ListUsers.

use pgrx::PgSqlErrorCode::*;

use super::{
    CognitoObject, ColumnDef, ColumnPlan, Field, Filter, ListRequest, Object, Partitioning, Record,
    Records, Selectivity,
};
use std::future::Future;
use std::pin::Pin;

use super::write::{document_attributes, text_of, Command, ReadBack, Row, WriteOptions, Writer};
use crate::cognito::estimate::{self, Attempts, PoolKey};
use crate::cognito::quota::{Category, Pace};
use crate::cognito::users::get_user as writes_get_user;
use crate::cognito::writes::Change;
use crate::cognito::{CognitoClient, Listing, User, UserPager};
use crate::convert::{ColumnType, Value};
use crate::error::{FdwError, FdwResult};

pub struct Users;

pub const USERS: Object = Object::new(&Users);

/// ListUsers returns at most 60 users a request.
const MAX_PAGE_SIZE: i32 = 60;
/// Cost of one ListUsers request, in the planner's units (a sequential page read is 1.0).
const REQUEST_COST: f64 = 100.0;
/// Below this many users a pool is read as one sequential stream: 16 partitions would cost
/// more requests than they save time.
const PARTITION_ABOVE_USERS: u64 = 2000;
/// The attribute that partitions a pool: a lowercase UUID every user has.
const PARTITION_ATTRIBUTE: &str = "sub";

/// Users assumed for a pool of unknown size (not analyzed, no DescribeUserPool answer in this
/// backend yet). Deliberately large: what a wrong guess costs is lopsided. Guessing large
/// when the pool is small makes a join look up each outer row (one request per row, a cost
/// the query's author sees and bounds) where one listing of a few pages would do; guessing
/// small when the pool is large lists the whole pool (a request per 60 users: 16,667 for a
/// million, nine minutes at ListUsers' quota) where a few lookups would do. At this size a
/// listing is costed at 1,667 requests, so joins of up to about that many outer rows look
/// their users up.
pub const UNKNOWN_POOL_USERS: f64 = 100_000.0;

impl CognitoObject for Users {
    /// IMPORT FOREIGN SCHEMA's `custom_attribute_columns` adds a column per custom attribute.
    fn takes_custom_attribute_columns(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "users"
    }

    fn writer(&self) -> Option<&dyn Writer> {
        Some(self)
    }

    fn record_noun(&self) -> &'static str {
        "user"
    }

    fn plan_column(&self, column: &ColumnDef) -> FdwResult<ColumnPlan> {
        plan_column(column)
    }

    fn import_columns(&self) -> &'static [(&'static str, &'static str)] {
        IMPORT_COLUMNS
    }

    fn operation(&self) -> &'static str {
        "ListUsers"
    }

    /// ListUsers is metered as UserList.
    fn quota_category(&self) -> Category {
        Category::UserList
    }

    fn max_page_size(&self) -> i32 {
        MAX_PAGE_SIZE
    }

    /// The attributes ListUsers filters on: a lookup by username, sub, email or phone number
    /// finds one user per value, a name a few, a status many (and has no prefix filter).
    fn request_cost(&self) -> f64 {
        REQUEST_COST
    }

    fn filter(&self, field: &Field) -> Option<Filter> {
        use Selectivity::*;
        let (attribute, selectivity) = match field {
            Field::Username => ("username", Unique),
            Field::Attribute(a) => match a.as_str() {
                "sub" => ("sub", Unique),
                "email" => ("email", Unique),
                "phone_number" => ("phone_number", Unique),
                "name" => ("name", Few),
                "given_name" => ("given_name", Few),
                "family_name" => ("family_name", Few),
                "preferred_username" => ("preferred_username", Few),
                _ => return None,
            },
            Field::UserStatus => {
                return Some(Filter {
                    attribute: "cognito:user_status",
                    selectivity: Many,
                    prefix: false,
                    lookup: None,
                })
            }
            _ => return None,
        };
        Some(Filter {
            attribute,
            selectivity,
            prefix: true,
            lookup: None,
        })
    }

    /// `enabled` is ListUsers' `status` filter.
    fn flag_filter(&self, field: &Field, on: bool) -> Option<(&'static str, &'static str)> {
        (*field == Field::Enabled).then_some(("status", if on { "Enabled" } else { "Disabled" }))
    }

    /// 16 streams by the first hex digit of `sub`.
    fn partitioning(&self) -> Option<Partitioning> {
        Some(Partitioning {
            attribute: PARTITION_ATTRIBUTE,
            filters: "0123456789abcdef"
                .chars()
                .map(|c| format!("{PARTITION_ATTRIBUTE} ^= \"{c}\""))
                .collect(),
            by: "sub prefix",
            above: PARTITION_ABOVE_USERS,
        })
    }

    fn attributes_to_get(
        &self,
        columns: &[ColumnPlan],
        filtered_on: Option<&str>,
    ) -> Option<Vec<String>> {
        attributes_to_get(columns, filtered_on)
    }

    /// The pool's user count from DescribeUserPool, as this backend last learnt it.
    fn known_rows(&self, pool: &PoolKey) -> Option<u64> {
        estimate::known(pool)
    }

    /// DescribeUserPool's EstimatedNumberOfUsers.
    fn refresh_rows<'a>(
        &self,
        pool: &'a PoolKey,
        client: &'a CognitoClient,
        attempts: Attempts,
    ) -> Pin<Box<dyn Future<Output = Option<u64>> + 'a>> {
        Box::pin(estimate::refresh(pool, client, attempts))
    }

    fn assumed_rows(&self) -> f64 {
        UNKNOWN_POOL_USERS
    }

    fn open(&self, client: &CognitoClient, pace: &Pace, request: &ListRequest) -> Box<dyn Records> {
        let pagers = request
            .filters
            .iter()
            .map(|filter| {
                UserPager::new(
                    client.clone(),
                    request.page_size,
                    filter.clone(),
                    request.attributes.clone(),
                )
            })
            .collect();
        let limiter = pace.category(Category::UserList);
        Box::new(Listing::new(limiter, pagers, request.max_in_flight))
    }
}

/// The documented table, as IMPORT FOREIGN SCHEMA creates it.
pub const IMPORT_COLUMNS: &[(&str, &str)] = &[
    ("username", "text"),
    ("email", "text"),
    ("status", "text"),
    ("enabled", "boolean"),
    ("created_at", "timestamp"),
    ("updated_at", "timestamp"),
    ("attributes", "jsonb"),
];

/// Cognito's standard attributes, readable by a column of the same name. `updated_at` is left
/// out on purpose: the documented column of that name is UserLastModifiedDate; the attribute
/// stays reachable with `options (attribute 'updated_at')`.
pub const STANDARD_ATTRIBUTES: &[&str] = &[
    "sub",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "address",
];

// Every field may also be text: a text column holds any value (times as ISO 8601 in UTC,
// flags as true/false, the attributes object as JSON).
const TEXT: &[ColumnType] = &[ColumnType::Text];
const FLAG: &[ColumnType] = &[ColumnType::Bool, ColumnType::Text];
const TIME: &[ColumnType] = &[
    ColumnType::Timestamp,
    ColumnType::TimestampTz,
    ColumnType::Text,
];
const DOCUMENT: &[ColumnType] = &[ColumnType::Jsonb, ColumnType::Json, ColumnType::Text];
/// A mapped attribute: Cognito keeps every value as a string, which a column may read as the
/// attribute's type (a custom attribute's String, Number, DateTime or Boolean).
const ATTRIBUTE: &[ColumnType] = &[
    ColumnType::Text,
    ColumnType::Bool,
    ColumnType::Int8,
    ColumnType::Int4,
    ColumnType::TimestampTz,
    ColumnType::Timestamp,
];

fn field_of(column: &ColumnDef) -> Option<(Field, &'static [ColumnType])> {
    if let Some(attribute) = &column.attribute {
        let types = if attribute.ends_with("_verified") {
            FLAG
        } else {
            ATTRIBUTE
        };
        return Some((Field::Attribute(attribute.clone()), types));
    }
    let name = column.name.as_str();
    Some(match name {
        "username" => (Field::Username, TEXT),
        "status" => (Field::UserStatus, TEXT),
        "enabled" => (Field::Enabled, FLAG),
        "created_at" => (Field::CreatedAt, TIME),
        "updated_at" => (Field::UpdatedAt, TIME),
        "attributes" if column.attributes_array => (Field::AttributesArray, DOCUMENT),
        "attributes" => (Field::AllAttributes, DOCUMENT),
        "email_verified" | "phone_number_verified" => (Field::Attribute(name.into()), FLAG),
        _ if STANDARD_ATTRIBUTES.contains(&name) => (Field::Attribute(name.into()), TEXT),
        _ => return None,
    })
}

pub(super) fn plan_column(column: &ColumnDef) -> FdwResult<ColumnPlan> {
    let Some((field, accepted)) = field_of(column) else {
        return Err(FdwError::new(
            ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
            format!("column \"{}\" is not a field of Cognito users", column.name),
        )
        .with_hint(format!(
            "Columns of a users table are: username, status, enabled, created_at, updated_at, \
             attributes, and the standard attributes {}; map any other attribute with the \
             column option attribute, e.g. options (attribute 'custom:tenant').",
            STANDARD_ATTRIBUTES.join(", ")
        )));
    };
    let names: Vec<&str> = accepted.iter().map(|t| t.sql_name()).collect();
    match crate::convert::ColumnType::of(column.type_oid) {
        Some(ty) if accepted.contains(&ty) => Ok(ColumnPlan::new(column, field, ty)),
        _ => Err(FdwError::new(
            ERRCODE_FDW_INVALID_DATA_TYPE,
            format!(
                "column \"{}\" has type {}, which cannot hold Cognito's {}",
                column.name,
                column.type_name,
                describe(&field)
            ),
        )
        .with_hint(format!("Declare it as {}.", one_of(&names)))),
    }
}

/// `a`, `a or b`, `a, b or c`.
pub(super) fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn describe(field: &Field) -> String {
    match field {
        Field::Username => "username".into(),
        Field::UserStatus => "user status".into(),
        Field::Enabled => "enabled flag".into(),
        Field::CreatedAt => "creation time".into(),
        Field::UpdatedAt => "last modification time".into(),
        Field::AllAttributes => "attributes object".into(),
        Field::AttributesArray => "attributes array".into(),
        Field::Attribute(a) => format!("attribute \"{a}\""),
        // Fields of the other objects.
        _ => "field of another object".into(),
    }
}

/// Every user has a `sub`: Cognito makes it when the user is created.
const ALWAYS_SET: &str = "sub";

/// The attributes to ask ListUsers for (`AttributesToGet`), or None for all of them.
///
/// Asking for fewer makes each page smaller, but Cognito answers with an error when a user in
/// the results has no value for an attribute asked for. So only attributes every returned
/// user is known to hold are asked for: `sub`, and the attribute of the filter sent (every
/// user it returns has it). A query that reads any other attribute, or the whole `attributes`
/// object, gets them all. `sub` is always in the list, so it is never empty (what an empty
/// list returns is not documented).
pub fn attributes_to_get(columns: &[ColumnPlan], filtered_on: Option<&str>) -> Option<Vec<String>> {
    let mut wanted = vec![ALWAYS_SET.to_owned()];
    for column in columns {
        match &column.field {
            Field::AllAttributes | Field::AttributesArray => return None,
            // Duplicates go with the sort below.
            Field::Attribute(name) if name == ALWAYS_SET || Some(name.as_str()) == filtered_on => {
                wanted.push(name.clone())
            }
            Field::Attribute(_) => return None,
            Field::Username
            | Field::UserStatus
            | Field::Enabled
            | Field::CreatedAt
            | Field::UpdatedAt => {}
            // Not a user's (a group_members table's group_name): nothing to ask ListUsers.
            _ => {}
        }
    }
    wanted.sort();
    wanted.dedup();
    Some(wanted)
}

impl Writer for Users {
    fn commands(&self) -> &'static [Command] {
        &[Command::Insert, Command::Update, Command::Delete]
    }

    fn key(&self) -> &'static [Field] {
        &[Field::Username]
    }

    fn refuses(&self, field: &Field, command: Command) -> Option<&'static str> {
        match (field, command) {
            (Field::Username, Command::Update) => Some("Cognito cannot rename a user."),
            (Field::UserStatus, Command::Insert) => {
                Some("Cognito gives a new user its status (FORCE_CHANGE_PASSWORD).")
            }
            (Field::CreatedAt | Field::UpdatedAt, _) => {
                Some("Cognito keeps a user's creation and modification times itself.")
            }
            (Field::Attribute(name), _) if name == ALWAYS_SET => {
                Some("Cognito makes a user's sub itself, and it never changes.")
            }
            _ => None,
        }
    }

    /// AdminCreateUser with the row's attributes; AdminDisableUser after it when `enabled`
    /// is false.
    fn insert(&self, row: &Row, options: WriteOptions) -> FdwResult<Vec<Change>> {
        let username = row.required(&Field::Username, "user")?;
        let attributes = given_attributes(row)?
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name, v)))
            .collect();
        let mut changes = vec![Change::CreateUser {
            username: username.clone(),
            attributes,
            invite: options.invite,
        }];
        if flag(row, &Field::Enabled)? == Some(false) {
            changes.push(Change::EnableUser {
                username,
                enabled: false,
            });
        }
        Ok(changes)
    }

    /// Changed attributes: AdminUpdateUserAttributes; attributes set to NULL or removed from
    /// the document: AdminDeleteUserAttributes; `enabled`: AdminEnableUser or
    /// AdminDisableUser; `status` only from UNCONFIRMED to CONFIRMED: AdminConfirmSignUp.
    fn update(&self, old: &Row, new: &Row) -> FdwResult<Vec<Change>> {
        let username = old.required(&Field::Username, "user")?;
        let mut changes = Vec::new();
        let (set, unset) = changed_attributes(old, new)?;
        if let Some((name, _)) = set.iter().find(|(name, _)| name == ALWAYS_SET) {
            return Err(read_only(
                name,
                "Cognito makes a user's sub itself, and it never changes.",
            ));
        }
        if unset.iter().any(|name| name == ALWAYS_SET) {
            return Err(read_only(
                ALWAYS_SET,
                "Cognito makes a user's sub itself, and it never changes.",
            ));
        }
        if !set.is_empty() {
            changes.push(Change::UpdateUserAttributes {
                username: username.clone(),
                attributes: set,
            });
        }
        if !unset.is_empty() {
            changes.push(Change::DeleteUserAttributes {
                username: username.clone(),
                names: unset,
            });
        }
        let (was, is) = (flag(old, &Field::Enabled)?, flag(new, &Field::Enabled)?);
        if was != is {
            let Some(enabled) = is else {
                return Err(FdwError::new(
                    ERRCODE_NOT_NULL_VIOLATION,
                    "null value in column \"enabled\": a user is enabled or disabled",
                ));
            };
            changes.push(Change::EnableUser {
                username: username.clone(),
                enabled,
            });
        }
        let (was, is) = (
            text_of(old.value(&Field::UserStatus)),
            text_of(new.value(&Field::UserStatus)),
        );
        if was != is {
            if was.as_deref() == Some("UNCONFIRMED") && is.as_deref() == Some("CONFIRMED") {
                changes.push(Change::ConfirmUser { username });
            } else {
                return Err(FdwError::new(
                    ERRCODE_FEATURE_NOT_SUPPORTED,
                    format!(
                        "cannot change the status of user \"{}\" from {} to {}",
                        username.escape_debug(),
                        was.as_deref().unwrap_or("NULL"),
                        is.as_deref().unwrap_or("NULL")
                    ),
                )
                .with_detail("Only UNCONFIRMED to CONFIRMED can be written (AdminConfirmSignUp); Cognito changes the other statuses itself."));
            }
        }
        Ok(changes)
    }

    fn delete(&self, old: &Row) -> FdwResult<Vec<Change>> {
        Ok(vec![Change::DeleteUser {
            username: old.required(&Field::Username, "user")?,
        }])
    }

    fn read_back_operation(&self) -> &'static str {
        "AdminGetUser"
    }

    fn read_back<'a>(
        &self,
        client: &'a CognitoClient,
        pace: &'a Pace,
        key: &'a Row,
    ) -> ReadBack<'a> {
        Box::pin(async move {
            let username = key.required(&Field::Username, "user")?;
            let user = writes_get_user(client, pace, &username).await?;
            Ok(user.map(|u| Box::new(u) as Box<dyn Record>))
        })
    }
}

/// The error for a write of a column Cognito keeps itself.
fn read_only(name: &str, why: &str) -> FdwError {
    FdwError::new(
        ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("cannot write attribute \"{name}\" of a Cognito user"),
    )
    .with_detail(why.to_owned())
}

/// A flag column's value (`boolean`, or text that reads as one).
fn flag(row: &Row, field: &Field) -> FdwResult<Option<bool>> {
    match row.value(field) {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => {
            let text = text_of(other).unwrap_or_default();
            crate::convert::parse_bool(&text).map(Some).ok_or_else(|| {
                FdwError::new(
                    ERRCODE_INVALID_TEXT_REPRESENTATION,
                    format!(
                        "invalid input syntax for type boolean: \"{}\"",
                        text.escape_debug()
                    ),
                )
            })
        }
    }
}

/// The attributes a row gives: its document column's (`attributes`), and each attribute
/// column's, which must agree with the document where both name one. None: set to NULL.
fn given_attributes(row: &Row) -> FdwResult<Vec<(String, Option<String>)>> {
    let mut given = document_of(row)?;
    for cell in &row.0 {
        let Field::Attribute(name) = &cell.field else {
            continue;
        };
        let value = text_of(&cell.value);
        match given.iter().find(|(n, _)| n == name) {
            Some((_, v)) if *v != value => return Err(twice(name, &cell.column)),
            Some(_) => {}
            None => given.push((name.clone(), value)),
        }
    }
    Ok(given)
}

fn document_of(row: &Row) -> FdwResult<Vec<(String, Option<String>)>> {
    row.0
        .iter()
        .find(|c| matches!(c.field, Field::AllAttributes | Field::AttributesArray))
        .map_or(Ok(Vec::new()), |c| document_attributes(&c.value, &c.column))
}

fn twice(name: &str, column: &str) -> FdwError {
    FdwError::new(
        ERRCODE_INVALID_PARAMETER_VALUE,
        format!(
            "attribute \"{}\" is given two different values, by column \"{column}\" and by the attributes document",
            name.escape_debug()
        ),
    )
}

/// Attributes to set (name, value), and attributes to delete.
type AttributeChanges = (Vec<(String, String)>, Vec<String>);

/// What an UPDATE changes of a user's attributes: those to set, and those to delete. A
/// document key added or changed is set and one removed is deleted; an attribute column
/// changed is set (or deleted when NULL), and must agree with the document where both
/// changed the same attribute.
fn changed_attributes(old: &Row, new: &Row) -> FdwResult<AttributeChanges> {
    let (before, after) = (document_of(old)?, document_of(new)?);
    let mut wanted: Vec<(String, Option<String>)> = Vec::new();
    for (name, value) in &after {
        let was = before
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone());
        if *value != was {
            wanted.push((name.clone(), value.clone()));
        }
    }
    for (name, value) in &before {
        if value.is_some() && !after.iter().any(|(n, _)| n == name) {
            wanted.push((name.clone(), None));
        }
    }
    for cell in &new.0 {
        let Field::Attribute(name) = &cell.field else {
            continue;
        };
        let value = text_of(&cell.value);
        if value == text_of(old.value(&cell.field)) {
            continue;
        }
        match wanted.iter().find(|(n, _)| n == name) {
            Some((_, v)) if *v != value => return Err(twice(name, &cell.column)),
            Some(_) => {}
            None => wanted.push((name.clone(), value)),
        }
    }
    let mut set = Vec::new();
    let mut unset = Vec::new();
    for (name, value) in wanted {
        match value {
            Some(value) => set.push((name, value)),
            None => unset.push(name),
        }
    }
    Ok((set, unset))
}

impl Record for User {
    fn identity(&self) -> &str {
        &self.username
    }

    fn value(&self, field: &Field) -> Value {
        match field {
            Field::Username => Value::Text(self.username.clone()),
            Field::UserStatus => self.status.clone().map_or(Value::Null, Value::Text),
            Field::Enabled => Value::Bool(self.enabled),
            Field::CreatedAt => self.created.map_or(Value::Null, Value::Time),
            Field::UpdatedAt => self.modified.map_or(Value::Null, Value::Time),
            Field::AllAttributes => {
                let map = self
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                Value::Json(serde_json::Value::Object(map))
            }
            // The hosted wrapper's shape, for queries written against it: Cognito's
            // AttributeType list, each as {"name": "value"}, in Cognito's order.
            Field::AttributesArray => Value::Json(serde_json::Value::Array(
                self.attributes
                    .iter()
                    .map(|(k, v)| serde_json::json!({ k.as_str(): v }))
                    .collect(),
            )),
            Field::Attribute(name) => self
                .attributes
                .iter()
                .find(|(k, _)| k == name)
                .map_or(Value::Null, |(_, v)| Value::Text(v.clone())),
            // Not a user's: never planned for a users table.
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Instant;
    use pgrx::pg_sys;

    fn col(name: &str, oid: pg_sys::Oid, attribute: Option<&str>) -> ColumnDef {
        ColumnDef {
            index: 3,
            name: name.into(),
            type_oid: oid,
            typmod: -1,
            domain: None,
            type_name: format!("oid {}", oid.to_u32()),
            attribute: attribute.map(Into::into),
            attributes_array: false,
        }
    }

    #[test]
    fn attributes_array_is_the_hosted_wrappers_shape() {
        let mut column = col("attributes", pg_sys::JSONBOID, None);
        column.attributes_array = true;
        let plan = plan_column(&column).unwrap();
        assert_eq!(plan.field, Field::AttributesArray);
        assert_eq!(attributes_to_get(&[plan], None), None);
        let user = User {
            username: "u".into(),
            status: None,
            enabled: true,
            created: None,
            modified: None,
            attributes: vec![
                ("sub".into(), "0b1c".into()),
                ("email".into(), "u@x".into()),
            ],
        };
        assert_eq!(
            user.value(&Field::AttributesArray),
            Value::Json(serde_json::json!([{"sub": "0b1c"}, {"email": "u@x"}]))
        );
    }

    #[test]
    fn documented_columns_map_to_their_fields() {
        let plan = plan_column(&col("updated_at", pg_sys::TIMESTAMPTZOID, None)).unwrap();
        assert_eq!(plan.field, Field::UpdatedAt);
        assert_eq!(plan.ty, ColumnType::TimestampTz);
        assert_eq!(plan.index, 3);
        let plan = plan_column(&col("email", pg_sys::VARCHAROID, None)).unwrap();
        assert_eq!(plan.field, Field::Attribute("email".into()));
        let plan = plan_column(&col("email_verified", pg_sys::BOOLOID, None)).unwrap();
        assert_eq!(plan.ty, ColumnType::Bool);
        let plan = plan_column(&col("t", pg_sys::TEXTOID, Some("custom:tenant"))).unwrap();
        assert_eq!(plan.field, Field::Attribute("custom:tenant".into()));
        // The column option wins over the column's name.
        let plan = plan_column(&col("updated_at", pg_sys::TEXTOID, Some("updated_at"))).unwrap();
        assert_eq!(plan.field, Field::Attribute("updated_at".into()));
    }

    #[test]
    fn every_field_may_be_text() {
        for name in [
            "username",
            "status",
            "enabled",
            "created_at",
            "updated_at",
            "attributes",
            "email",
            "email_verified",
        ] {
            for oid in [pg_sys::TEXTOID, pg_sys::VARCHAROID, pg_sys::BPCHAROID] {
                let plan = plan_column(&col(name, oid, None))
                    .unwrap_or_else(|e| panic!("{name} as oid {oid:?}: {}", e.message));
                assert_eq!(plan.ty, ColumnType::Text, "{name}");
                assert_eq!(plan.type_oid, oid.to_u32());
            }
        }
        let plan = plan_column(&col("t", pg_sys::TEXTOID, Some("custom:flag"))).unwrap();
        assert_eq!(plan.ty, ColumnType::Text);
    }

    #[test]
    fn the_type_modifier_and_domain_travel_in_the_plan() {
        let mut column = col("username", pg_sys::VARCHAROID, None);
        column.typmod = 7;
        column.domain = Some(pg_sys::Oid::from(16_400));
        let plan = plan_column(&column).unwrap();
        assert_eq!(
            (plan.type_oid, plan.typmod, plan.domain),
            (pg_sys::VARCHAROID.to_u32(), 7, Some(16_400))
        );
    }

    #[test]
    fn wrong_types_and_unknown_columns_are_refused() {
        let err = plan_column(&col("enabled", pg_sys::INT4OID, None)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_DATA_TYPE);
        assert!(err.message.contains("\"enabled\""), "{}", err.message);
        assert_eq!(err.hint.as_deref(), Some("Declare it as boolean or text."));
        let err = plan_column(&col("created_at", pg_sys::DATEOID, None)).unwrap_err();
        assert_eq!(
            err.hint.as_deref(),
            Some("Declare it as timestamp, timestamptz or text.")
        );
        let err = plan_column(&col("shoe_size", pg_sys::TEXTOID, None)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_COLUMN_NAME_NOT_FOUND);
    }

    fn reading(fields: &[Field]) -> Vec<ColumnPlan> {
        fields
            .iter()
            .enumerate()
            .map(|(index, field)| ColumnPlan {
                index,
                field: field.clone(),
                ty: ColumnType::Text,
                type_oid: pg_sys::TEXTOID.to_u32(),
                typmod: -1,
                domain: None,
            })
            .collect()
    }

    #[test]
    fn only_attributes_every_returned_user_holds_are_asked_for() {
        let attr = |a: &str| Field::Attribute(a.into());
        let sub = Some(vec!["sub".to_owned()]);
        // count(*), or columns outside the attributes: `sub` alone, the smallest answer.
        assert_eq!(attributes_to_get(&[], None), sub);
        assert_eq!(
            attributes_to_get(
                &reading(&[Field::Username, Field::Enabled, Field::CreatedAt]),
                None
            ),
            sub
        );
        assert_eq!(attributes_to_get(&reading(&[attr("sub")]), None), sub);
        // The filter's attribute is held by every user it returns.
        assert_eq!(
            attributes_to_get(&reading(&[attr("email"), Field::Username]), Some("email")),
            Some(vec!["email".to_owned(), "sub".to_owned()])
        );
        // Any other attribute may be missing from some user: ask for all.
        assert_eq!(attributes_to_get(&reading(&[attr("email")]), None), None);
        assert_eq!(
            attributes_to_get(
                &reading(&[attr("email"), attr("phone_number")]),
                Some("email")
            ),
            None
        );
        assert_eq!(
            attributes_to_get(&reading(&[attr("custom:tenant")]), Some("sub")),
            None
        );
        assert_eq!(
            attributes_to_get(&reading(&[Field::AllAttributes]), Some("email")),
            None
        );
        // Filters on what is not an attribute add nothing.
        assert_eq!(
            attributes_to_get(&reading(&[Field::UserStatus]), Some("cognito:user_status")),
            sub
        );
    }

    fn user() -> User {
        User {
            username: "alice".into(),
            attributes: vec![
                ("sub".into(), "0b1c".into()),
                ("email".into(), "a@example.com".into()),
                ("family_name".into(), "O'Brien \"\\\"".into()),
            ],
            created: Some(Instant {
                secs: 946_684_801,
                nanos: 0,
            }),
            modified: None,
            enabled: false,
            status: Some("CONFIRMED".into()),
        }
    }

    #[test]
    fn items_give_their_values() {
        let u = user();
        assert_eq!(u.value(&Field::Username), Value::Text("alice".into()));
        assert_eq!(u.value(&Field::Enabled), Value::Bool(false));
        assert_eq!(u.value(&Field::UpdatedAt), Value::Null);
        assert_eq!(
            u.value(&Field::Attribute("phone_number".into())),
            Value::Null
        );
        let Value::Json(doc) = u.value(&Field::AllAttributes) else {
            panic!("not json")
        };
        assert_eq!(doc["family_name"], "O'Brien \"\\\"");
        assert_eq!(doc["sub"], "0b1c");
    }

    fn cell(field: Field, column: &str, value: Value) -> crate::objects::write::Cell {
        crate::objects::write::Cell {
            field,
            column: column.into(),
            value,
        }
    }

    /// A row of a table with username, email, enabled, status and attributes.
    fn row(email: Option<&str>, enabled: bool, status: &str, doc: serde_json::Value) -> Row {
        Row(vec![
            cell(Field::Username, "username", Value::Text("ann".into())),
            cell(
                Field::Attribute("email".into()),
                "email",
                email.map_or(Value::Null, |e| Value::Text(e.into())),
            ),
            cell(Field::Enabled, "enabled", Value::Bool(enabled)),
            cell(Field::UserStatus, "status", Value::Text(status.into())),
            cell(Field::AllAttributes, "attributes", Value::Json(doc)),
        ])
    }

    #[test]
    fn an_insert_creates_the_user_with_its_attributes_and_disables_it_when_asked() {
        let new = row(
            Some("a@x"),
            false,
            "",
            serde_json::json!({"name": "Ann", "nickname": null}),
        );
        let changes = Users.insert(&new, WriteOptions { invite: true }).unwrap();
        assert_eq!(
            changes,
            vec![
                Change::CreateUser {
                    username: "ann".into(),
                    attributes: vec![
                        ("name".into(), "Ann".into()),
                        ("email".into(), "a@x".into())
                    ],
                    invite: true,
                },
                Change::EnableUser {
                    username: "ann".into(),
                    enabled: false
                },
            ]
        );
        // The column and the document must agree on an attribute both give.
        let clash = row(Some("a@x"), true, "", serde_json::json!({"email": "b@x"}));
        let err = Users.insert(&clash, WriteOptions::default()).unwrap_err();
        assert_eq!(err.code, ERRCODE_INVALID_PARAMETER_VALUE);
        let agree = row(Some("a@x"), true, "", serde_json::json!({"email": "a@x"}));
        assert_eq!(
            Users.insert(&agree, WriteOptions::default()).unwrap().len(),
            1
        );
    }

    #[test]
    fn an_update_sends_only_what_changed() {
        let doc = serde_json::json!({"sub": "1", "email": "a@x", "name": "Ann", "locale": "en"});
        let old = row(Some("a@x"), true, "CONFIRMED", doc.clone());
        assert_eq!(Users.update(&old, &old.clone()).unwrap(), vec![]);

        // email column changed, name removed from the document, nickname added, disabled
        let new = row(
            Some("b@x"),
            false,
            "CONFIRMED",
            serde_json::json!({"sub": "1", "email": "a@x", "locale": "en", "nickname": "A"}),
        );
        assert_eq!(
            Users.update(&old, &new).unwrap(),
            vec![
                Change::UpdateUserAttributes {
                    username: "ann".into(),
                    attributes: vec![
                        ("nickname".into(), "A".into()),
                        ("email".into(), "b@x".into())
                    ],
                },
                Change::DeleteUserAttributes {
                    username: "ann".into(),
                    names: vec!["name".into()],
                },
                Change::EnableUser {
                    username: "ann".into(),
                    enabled: false
                },
            ]
        );
        // a column set to NULL deletes the attribute
        let new = row(None, true, "CONFIRMED", doc.clone());
        assert_eq!(
            Users.update(&old, &new).unwrap(),
            vec![Change::DeleteUserAttributes {
                username: "ann".into(),
                names: vec!["email".into()],
            }]
        );
        // column and document changing one attribute two ways is refused
        let new = row(
            Some("b@x"),
            true,
            "CONFIRMED",
            serde_json::json!({"sub": "1", "email": "c@x", "name": "Ann", "locale": "en"}),
        );
        assert_eq!(
            Users.update(&old, &new).unwrap_err().code,
            ERRCODE_INVALID_PARAMETER_VALUE
        );
        // sub is Cognito's
        let new = row(
            Some("a@x"),
            true,
            "CONFIRMED",
            serde_json::json!({"sub": "2", "email": "a@x", "name": "Ann", "locale": "en"}),
        );
        assert_eq!(
            Users.update(&old, &new).unwrap_err().code,
            ERRCODE_FEATURE_NOT_SUPPORTED
        );
    }

    #[test]
    fn only_unconfirmed_to_confirmed_is_a_status_change() {
        let doc = serde_json::json!({});
        let unconfirmed = row(None, true, "UNCONFIRMED", doc.clone());
        let confirmed = row(None, true, "CONFIRMED", doc.clone());
        assert_eq!(
            Users.update(&unconfirmed, &confirmed).unwrap(),
            vec![Change::ConfirmUser {
                username: "ann".into()
            }]
        );
        let err = Users.update(&confirmed, &unconfirmed).unwrap_err();
        assert_eq!(err.code, ERRCODE_FEATURE_NOT_SUPPORTED);
        assert!(
            err.message.contains("from CONFIRMED to UNCONFIRMED"),
            "{}",
            err.message
        );
    }

    #[test]
    fn cognitos_own_columns_are_refused() {
        assert!(Users.refuses(&Field::Username, Command::Update).is_some());
        assert!(Users.refuses(&Field::Username, Command::Insert).is_none());
        assert!(Users.refuses(&Field::UserStatus, Command::Insert).is_some());
        assert!(Users.refuses(&Field::UserStatus, Command::Update).is_none());
        assert!(Users.refuses(&Field::CreatedAt, Command::Update).is_some());
        assert!(Users
            .refuses(&Field::Attribute("sub".into()), Command::Insert)
            .is_some());
        assert!(Users
            .refuses(&Field::Attribute("email".into()), Command::Update)
            .is_none());
        assert_eq!(
            Users
                .delete(&row(None, true, "", serde_json::json!({})))
                .unwrap(),
            vec![Change::DeleteUser {
                username: "ann".into()
            }]
        );
    }
}
