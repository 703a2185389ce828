//! `object 'groups'`: the groups of a user pool, read with ListGroups, or by name with
//! GetGroup.

use super::write::{text_of, Command, ReadBack, Row, WriteOptions, Writer};
use super::{
    CognitoObject, ColumnDef, ColumnPlan, Field, Filter, ListRequest, Object, Record, Records,
    Selectivity,
};
use crate::cognito::groups::get_group;
use crate::cognito::quota::{Category, Pace};
use crate::cognito::writes::{Change, GroupValues};
use crate::cognito::{CognitoClient, Group, GroupPager, Listing};
use crate::convert::{ColumnType, Value};
use crate::error::{FdwError, FdwResult};
use pgrx::PgSqlErrorCode::*;

pub struct Groups;

pub const GROUPS: Object = Object::new(&Groups);

/// ListGroups returns at most 60 groups a request.
const MAX_PAGE_SIZE: i32 = 60;
/// Cost of one ListGroups or GetGroup request, in the planner's units: as for ListUsers.
const REQUEST_COST: f64 = 100.0;
/// Groups assumed in a pool. No DescribeUserPool field counts groups (only users), and
/// counting them would be a whole listing; pools rarely hold more than a few dozen (Cognito's
/// default quota is 10,000, but groups are roles, not people). A modest guess keeps a listing
/// costed at two pages, so a join looks groups up by name only for a handful of outer rows.
const ASSUMED_GROUPS: f64 = 100.0;
/// Cognito's group names are 1 to 128 characters.
const MAX_GROUP_NAME: usize = 128;

impl CognitoObject for Groups {
    fn name(&self) -> &'static str {
        "groups"
    }

    fn writer(&self) -> Option<&dyn Writer> {
        Some(self)
    }

    fn record_noun(&self) -> &'static str {
        "group"
    }

    fn plan_column(&self, column: &ColumnDef) -> FdwResult<ColumnPlan> {
        plan_column(column)
    }

    fn import_columns(&self) -> &'static [(&'static str, &'static str)] {
        IMPORT_COLUMNS
    }

    fn operation(&self) -> &'static str {
        "ListGroups"
    }

    /// ListGroups and GetGroup are metered as UserPoolResourceRead, apart from ListUsers.
    fn quota_category(&self) -> Category {
        Category::UserPoolResourceRead
    }

    fn max_page_size(&self) -> i32 {
        MAX_PAGE_SIZE
    }

    fn request_cost(&self) -> f64 {
        REQUEST_COST
    }

    /// ListGroups filters on nothing; a group name is looked up with GetGroup, one request
    /// per name.
    fn filter(&self, field: &Field) -> Option<Filter> {
        match field {
            Field::GroupName => Some(Filter {
                attribute: "group_name",
                selectivity: Selectivity::Unique,
                prefix: false,
                lookup: Some(("GetGroup", MAX_GROUP_NAME)),
            }),
            _ => None,
        }
    }

    fn assumed_rows(&self) -> f64 {
        ASSUMED_GROUPS
    }

    fn open(&self, client: &CognitoClient, pace: &Pace, request: &ListRequest) -> Box<dyn Records> {
        // A filter of a groups request is a group name to get; None lists every group.
        let pagers = request
            .filters
            .iter()
            .map(|name| GroupPager::new(client.clone(), request.page_size, name.clone()))
            .collect();
        // Every stream of one request sends the same operation, capped per pool.
        let operation = match request.filtered_on {
            Some(_) => "GetGroup",
            None => "ListGroups",
        };
        let limiter = pace.operation(Category::UserPoolResourceRead, operation);
        Box::new(Listing::new(limiter, pagers, request.max_in_flight))
    }
}

/// The documented table, as IMPORT FOREIGN SCHEMA creates it.
pub const IMPORT_COLUMNS: &[(&str, &str)] = &[
    ("group_name", "text"),
    ("description", "text"),
    ("precedence", "int"),
    ("role_arn", "text"),
    ("created_at", "timestamp"),
    ("updated_at", "timestamp"),
];

// Every field may also be text, as for users.
const TEXT: &[ColumnType] = &[ColumnType::Text];
const NUMBER: &[ColumnType] = &[ColumnType::Int4, ColumnType::Int8, ColumnType::Text];
const TIME: &[ColumnType] = &[
    ColumnType::Timestamp,
    ColumnType::TimestampTz,
    ColumnType::Text,
];

fn field_of(name: &str) -> Option<(Field, &'static [ColumnType], &'static str)> {
    Some(match name {
        "group_name" => (Field::GroupName, TEXT, "group name"),
        "description" => (Field::Description, TEXT, "group description"),
        "precedence" => (Field::Precedence, NUMBER, "group precedence"),
        "role_arn" => (Field::RoleArn, TEXT, "group role ARN"),
        "created_at" => (Field::CreatedAt, TIME, "creation time"),
        "updated_at" => (Field::UpdatedAt, TIME, "last modification time"),
        _ => return None,
    })
}

fn plan_column(column: &ColumnDef) -> FdwResult<ColumnPlan> {
    let named = super::Named {
        records: "groups",
        short: "groups",
        table: "a groups table",
    };
    super::plan_named_column(column, field_of, IMPORT_COLUMNS, &named)
}

impl Writer for Groups {
    fn commands(&self) -> &'static [Command] {
        &[Command::Insert, Command::Update, Command::Delete]
    }

    fn key(&self) -> &'static [Field] {
        &[Field::GroupName]
    }

    fn refuses(&self, field: &Field, command: Command) -> Option<&'static str> {
        match (field, command) {
            (Field::GroupName, Command::Update) => Some("Cognito cannot rename a group."),
            (Field::CreatedAt | Field::UpdatedAt, _) => {
                Some("Cognito keeps a group's creation and modification times itself.")
            }
            _ => None,
        }
    }

    fn insert(&self, row: &Row, _options: WriteOptions) -> FdwResult<Vec<Change>> {
        Ok(vec![Change::CreateGroup(values(row, row)?)])
    }

    /// UpdateGroup, only when the description, precedence or role changed.
    fn update(&self, old: &Row, new: &Row) -> FdwResult<Vec<Change>> {
        const WRITABLE: [(Field, &str); 3] = [
            (Field::Description, "description"),
            (Field::Precedence, "precedence"),
            (Field::RoleArn, "role_arn"),
        ];
        if WRITABLE
            .iter()
            .all(|(field, _)| old.value(field) == new.value(field))
        {
            return Ok(Vec::new());
        }
        let keep = WRITABLE
            .iter()
            .filter(|(field, _)| new.get(field).is_none())
            .map(|(_, name)| *name)
            .collect();
        Ok(vec![Change::UpdateGroup {
            values: values(old, new)?,
            keep,
        }])
    }

    fn delete(&self, old: &Row) -> FdwResult<Vec<Change>> {
        Ok(vec![Change::DeleteGroup {
            group_name: old.required(&Field::GroupName, "group")?,
        }])
    }

    fn read_back_operation(&self) -> &'static str {
        "GetGroup"
    }

    fn read_back<'a>(
        &self,
        client: &'a CognitoClient,
        pace: &'a Pace,
        key: &'a Row,
    ) -> ReadBack<'a> {
        Box::pin(async move {
            let name = key.required(&Field::GroupName, "group")?;
            let group = get_group(client, pace, &name).await?;
            Ok(group.map(|g| Box::new(g) as Box<dyn Record>))
        })
    }
}

/// A group's values as a row gives them: its name from `key`, the rest from `row`.
fn values(key: &Row, row: &Row) -> FdwResult<GroupValues> {
    let precedence = match row.value(&Field::Precedence) {
        Value::Null => None,
        Value::Int(p) => Some(i32::try_from(*p).ok().filter(|p| *p >= 0).ok_or_else(|| {
            FdwError::new(
                ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                format!("precedence {p} is out of range: Cognito takes 0 to 2147483647"),
            )
        })?),
        other => {
            let text = text_of(other).unwrap_or_default();
            Some(text.trim().parse().map_err(|_| {
                FdwError::new(
                    ERRCODE_INVALID_TEXT_REPRESENTATION,
                    format!(
                        "invalid precedence \"{}\": Cognito takes 0 to 2147483647",
                        text.escape_debug()
                    ),
                )
            })?)
        }
    };
    Ok(GroupValues {
        group_name: key.required(&Field::GroupName, "group")?,
        description: text_of(row.value(&Field::Description)),
        precedence,
        role_arn: text_of(row.value(&Field::RoleArn)),
    })
}

impl Record for Group {
    fn identity(&self) -> &str {
        &self.name
    }

    fn value(&self, field: &Field) -> Value {
        let text = |t: &Option<String>| t.clone().map_or(Value::Null, Value::Text);
        match field {
            Field::GroupName => Value::Text(self.name.clone()),
            Field::Description => text(&self.description),
            Field::Precedence => self
                .precedence
                .map_or(Value::Null, |p| Value::Int(p.into())),
            Field::RoleArn => text(&self.role_arn),
            Field::CreatedAt => self.created.map_or(Value::Null, Value::Time),
            Field::UpdatedAt => self.modified.map_or(Value::Null, Value::Time),
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pushdown::{rank, Condition, Operand, Requests};
    use pgrx::pg_sys;

    fn col(name: &str, oid: pg_sys::Oid) -> ColumnDef {
        ColumnDef {
            index: 0,
            name: name.into(),
            type_oid: oid,
            typmod: -1,
            domain: None,
            type_name: format!("oid {}", oid.to_u32()),
            attribute: None,
            attributes_array: false,
        }
    }

    fn c(value: &str) -> Operand {
        Operand::Const(Some(value.into()))
    }

    #[test]
    fn documented_columns_map_to_their_fields_and_any_may_be_text() {
        for (name, ty) in IMPORT_COLUMNS {
            assert!(field_of(name).is_some(), "{name} ({ty})");
            let plan = plan_column(&col(name, pg_sys::TEXTOID)).unwrap();
            assert_eq!(plan.ty, ColumnType::Text, "{name}");
        }
        let plan = plan_column(&col("precedence", pg_sys::INT4OID)).unwrap();
        assert_eq!((plan.field, plan.ty), (Field::Precedence, ColumnType::Int4));
        let plan = plan_column(&col("created_at", pg_sys::TIMESTAMPTZOID)).unwrap();
        assert_eq!(plan.ty, ColumnType::TimestampTz);
    }

    #[test]
    fn wrong_types_and_unknown_columns_are_refused() {
        let err = plan_column(&col("precedence", pg_sys::BOOLOID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_DATA_TYPE);
        assert_eq!(
            err.message,
            "column \"precedence\" has type oid 16, which cannot hold Cognito's group precedence"
        );
        assert_eq!(
            err.hint.as_deref(),
            Some("Declare it as integer, bigint or text.")
        );
        let err = plan_column(&col("username", pg_sys::TEXTOID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_COLUMN_NAME_NOT_FOUND);
        let mut mapped = col("group_name", pg_sys::TEXTOID);
        mapped.attribute = Some("custom:x".into());
        assert!(plan_column(&mapped).is_err());
    }

    #[test]
    fn a_name_is_one_get_group_per_value_and_nothing_else_is_sent() {
        let candidates = rank(GROUPS, &[Condition::Equals(Field::GroupName, c("admins"))]);
        assert_eq!(candidates.len(), 1);
        assert!(candidates[0].is_lookup());
        assert_eq!(candidates[0].describe(), "group_name = \"admins\"");
        assert_eq!(candidates[0].lookup_operation(), Some("GetGroup"));
        // The plain name is what GetGroup takes.
        assert_eq!(
            candidates[0].requests(&[Some("admins".into())]),
            Some(Requests::Filters(vec![Some("admins".into())]))
        );
        let list = rank(
            GROUPS,
            &[Condition::In(
                Field::GroupName,
                vec![c("a"), c("b"), c("a"), Operand::Const(None)],
            )],
        );
        assert_eq!(
            list[0].requests(&[Some("a".into()), Some("b".into()), Some("a".into()), None]),
            Some(Requests::Filters(vec![Some("a".into()), Some("b".into())]))
        );
        // Quotes and backslashes may be in a group name: sent as they are.
        assert_eq!(
            list[0].requests(&[Some("O'Brien\"x\"\\".into())]),
            Some(Requests::Filters(vec![Some("O'Brien\"x\"\\".into())]))
        );
        // No group is named so: listed and checked locally rather than sent.
        for never in ["", "two words", "tab\there", &"x".repeat(129)] {
            assert_eq!(list[0].requests(&[Some(never.into())]), None, "{never:?}");
        }
        // ListGroups filters on nothing else.
        assert!(rank(
            GROUPS,
            &[
                Condition::Like(Field::GroupName, c("adm%")),
                Condition::Equals(Field::Description, c("x")),
                Condition::Equals(Field::RoleArn, c("x")),
            ]
        )
        .is_empty());
    }

    #[test]
    fn groups_give_their_values() {
        let g = Group {
            name: "admins".into(),
            description: None,
            precedence: Some(3),
            role_arn: Some("arn:aws:iam::123456789012:role/a".into()),
            created: None,
            modified: None,
        };
        assert_eq!(g.identity(), "admins");
        assert_eq!(g.value(&Field::Precedence), Value::Int(3));
        assert_eq!(g.value(&Field::Description), Value::Null);
        assert_eq!(
            g.value(&Field::RoleArn),
            Value::Text("arn:aws:iam::123456789012:role/a".into())
        );
    }

    fn group_row(cells: &[(Field, &str, Value)]) -> Row {
        Row(cells
            .iter()
            .map(|(field, column, value)| crate::objects::write::Cell {
                field: field.clone(),
                column: (*column).into(),
                value: value.clone(),
            })
            .collect())
    }

    #[test]
    fn a_group_update_sends_every_value_and_reads_those_the_table_lacks() {
        let name = (Field::GroupName, "group_name", Value::Text("admins".into()));
        let old = group_row(&[
            name.clone(),
            (Field::Precedence, "precedence", Value::Int(1)),
        ]);
        assert_eq!(Groups.update(&old, &old.clone()).unwrap(), vec![]);
        let new = group_row(&[
            name.clone(),
            (Field::Precedence, "precedence", Value::Int(2)),
        ]);
        assert_eq!(
            Groups.update(&old, &new).unwrap(),
            vec![Change::UpdateGroup {
                values: GroupValues {
                    group_name: "admins".into(),
                    description: None,
                    precedence: Some(2),
                    role_arn: None,
                },
                keep: vec!["description", "role_arn"],
            }]
        );
        let negative = group_row(&[
            name.clone(),
            (Field::Precedence, "precedence", Value::Int(-1)),
        ]);
        assert_eq!(
            Groups
                .insert(&negative, WriteOptions::default())
                .unwrap_err()
                .code,
            ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            Groups.delete(&old).unwrap(),
            vec![Change::DeleteGroup {
                group_name: "admins".into()
            }]
        );
        assert!(Groups.refuses(&Field::GroupName, Command::Update).is_some());
        assert!(Groups
            .refuses(&Field::Description, Command::Update)
            .is_none());
    }
}
