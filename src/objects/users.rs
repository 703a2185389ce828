//! `object 'users'`: the users of a user pool, read with ListUsers.

use pgrx::PgSqlErrorCode::*;

use super::{
    CognitoObject, ColumnDef, ColumnPlan, Field, Filter, ListRequest, Object, Partitioning, Record,
    Records, Selectivity,
};
use std::future::Future;
use std::pin::Pin;

use crate::cognito::estimate::{self, Attempts, PoolKey};
use crate::cognito::quota::{Category, Pace};
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
}
