//! `object 'group_members'`: who is in which group. A whole listing reads the groups
//! (ListGroups) and each group's members (ListUsersInGroup), several groups at once; a group
//! name is read with ListUsersInGroup alone, a username with AdminListGroupsForUser.

use std::future::Future;
use std::pin::Pin;

use pgrx::PgSqlErrorCode::*;

use super::write::{Command, ReadBack, Row, WriteOptions, Writer};
use super::{
    CognitoObject, ColumnDef, ColumnPlan, Field, Filter, ListRequest, Object, Record, Records,
    Selectivity,
};
use crate::cognito::estimate::{self, Attempts, PoolKey};
use crate::cognito::listing::FanOut;
use crate::cognito::quota::{Category, Pace};
use crate::cognito::users::get_user;
use crate::cognito::writes::Change;
use crate::cognito::{
    CognitoClient, GroupMembersPager, GroupPager, Listing, Member, UserGroupsPager,
};
use crate::convert::{ColumnType, Value};
use crate::error::{FdwError, FdwResult};

pub struct GroupMembers;

pub const GROUP_MEMBERS: Object = Object::new(&GroupMembers);

/// ListUsersInGroup, ListGroups and AdminListGroupsForUser return at most 60 a request.
const MAX_PAGE_SIZE: i32 = 60;
/// Cost of one request, in the planner's units: as for ListUsers.
const REQUEST_COST: f64 = 100.0;
/// Cognito's group names and usernames are 1 to 128 characters.
const MAX_NAME: usize = 128;

impl CognitoObject for GroupMembers {
    /// Its user columns are those of `users`, custom attribute columns included.
    fn takes_custom_attribute_columns(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "group_members"
    }

    fn writer(&self) -> Option<&dyn Writer> {
        Some(self)
    }

    fn record_noun(&self) -> &'static str {
        "membership"
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

    fn request_line(&self, fields: &[Field], lookup: Option<&str>) -> String {
        match lookup {
            None => "ListGroups, ListUsersInGroup per group".to_owned(),
            Some("AdminListGroupsForUser") if reads_user(fields) => {
                "AdminGetUser and AdminListGroupsForUser per user".to_owned()
            }
            Some(operation) => operation.to_owned(),
        }
    }

    /// Its rows come from ListUsersInGroup, metered with ListUsers as UserList; the groups
    /// (UserPoolResourceRead) and a user's groups (UserResourceRead) keep their own rates.
    fn quota_category(&self) -> Category {
        Category::UserList
    }

    fn max_page_size(&self) -> i32 {
        MAX_PAGE_SIZE
    }

    fn request_cost(&self) -> f64 {
        REQUEST_COST
    }

    /// A group's members are read with ListUsersInGroup, a user's groups with
    /// AdminListGroupsForUser: each a lookup by the value as it is. A user is in a few groups,
    /// a group has many members, so a username is the better of the two.
    fn filter(&self, field: &Field) -> Option<Filter> {
        let (attribute, selectivity, operation) = match field {
            Field::GroupName => ("group_name", Selectivity::Many, "ListUsersInGroup"),
            Field::Username => ("username", Selectivity::Few, "AdminListGroupsForUser"),
            _ => return None,
        };
        Some(Filter {
            attribute,
            selectivity,
            prefix: false,
            lookup: Some((operation, MAX_NAME)),
        })
    }

    /// No API counts memberships; the pool's users stand in for them (DescribeUserPool's
    /// estimate, as for `users`): in most pools a user is in a group or two. What a wrong
    /// guess costs is as lopsided as for users: listing every group's members where a few
    /// lookups would do is the expensive mistake.
    fn known_rows(&self, pool: &PoolKey) -> Option<u64> {
        estimate::known(pool)
    }

    fn refresh_rows<'a>(
        &self,
        pool: &'a PoolKey,
        client: &'a CognitoClient,
        attempts: Attempts,
    ) -> Pin<Box<dyn Future<Output = Option<u64>> + 'a>> {
        Box::pin(estimate::refresh(pool, client, attempts))
    }

    fn assumed_rows(&self) -> f64 {
        super::users::UNKNOWN_POOL_USERS
    }

    fn open(&self, client: &CognitoClient, pace: &Pace, request: &ListRequest) -> Box<dyn Records> {
        let (page_size, in_flight) = (request.page_size, request.max_in_flight);
        let members_of = |group: String| GroupMembersPager::new(client.clone(), page_size, group);
        let names = || request.filters.iter().flatten().cloned();
        match request.filtered_on.as_deref() {
            Some("group_name") => Box::new(Listing::new(
                pace.category(Category::UserList),
                names().map(members_of).collect(),
                in_flight,
            )),
            Some(_) => {
                let read_user = reads_user(&request.fields);
                let pagers = names()
                    .map(|username| {
                        UserGroupsPager::new(client.clone(), page_size, username, read_user)
                    })
                    .collect();
                Box::new(Listing::new(
                    pace.category(Category::UserResourceRead),
                    pagers,
                    in_flight,
                ))
            }
            None => {
                let groups = Listing::new(
                    pace.operation(Category::UserPoolResourceRead, "ListGroups"),
                    vec![GroupPager::new(client.clone(), MAX_PAGE_SIZE, None)],
                    1,
                );
                let members =
                    Listing::new(pace.category(Category::UserList), Vec::new(), in_flight);
                let client = client.clone();
                Box::new(FanOut::new(groups, members, move |group| {
                    vec![GroupMembersPager::new(
                        client.clone(),
                        page_size,
                        group.name,
                    )]
                }))
            }
        }
    }
}

/// Whether a query reading `fields` reads anything of a user but the name.
fn reads_user(fields: &[Field]) -> bool {
    fields
        .iter()
        .any(|f| !matches!(f, Field::GroupName | Field::Username))
}

/// The documented table, as IMPORT FOREIGN SCHEMA creates it: the group, then the user's
/// columns as `users` has them.
pub const IMPORT_COLUMNS: &[(&str, &str)] = &[
    ("group_name", "text"),
    ("username", "text"),
    ("email", "text"),
    ("status", "text"),
    ("enabled", "boolean"),
    ("created_at", "timestamp"),
    ("updated_at", "timestamp"),
    ("attributes", "jsonb"),
];

/// `group_name`, or any column a users table may have, meaning what it means there.
fn plan_column(column: &ColumnDef) -> FdwResult<ColumnPlan> {
    if column.name == "group_name" && column.attribute.is_none() {
        return match ColumnType::of(column.type_oid) {
            Some(ColumnType::Text) => {
                Ok(ColumnPlan::new(column, Field::GroupName, ColumnType::Text))
            }
            _ => Err(FdwError::new(
                ERRCODE_FDW_INVALID_DATA_TYPE,
                format!(
                    "column \"group_name\" has type {}, which cannot hold Cognito's group name",
                    column.type_name
                ),
            )
            .with_hint("Declare it as text.")),
        };
    }
    super::users::plan_column(column).map_err(|err| {
        if err.code != ERRCODE_FDW_COLUMN_NAME_NOT_FOUND {
            return err;
        }
        FdwError::new(
            ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
            format!(
                "column \"{}\" is not a field of Cognito group members",
                column.name
            ),
        )
        .with_hint(
            "Columns of a group_members table are: group_name, and those of a users table \
             (username, status, enabled, created_at, updated_at, attributes, the standard \
             attributes; any other attribute with the column option attribute).",
        )
    })
}

impl Writer for GroupMembers {
    /// A membership has nothing to update: it is there or not.
    fn commands(&self) -> &'static [Command] {
        &[Command::Insert, Command::Delete]
    }

    fn key(&self) -> &'static [Field] {
        &[Field::GroupName, Field::Username]
    }

    fn refuses(&self, field: &Field, _command: Command) -> Option<&'static str> {
        match field {
            Field::GroupName | Field::Username => None,
            _ => Some(
                "A membership is a group name and a username; a user's own values are \
                 written through a users table.",
            ),
        }
    }

    fn insert(&self, row: &Row, _options: WriteOptions) -> FdwResult<Vec<Change>> {
        Ok(vec![Change::AddUserToGroup {
            group_name: row.required(&Field::GroupName, "membership")?,
            username: row.required(&Field::Username, "membership")?,
        }])
    }

    fn update(&self, _old: &Row, _new: &Row) -> FdwResult<Vec<Change>> {
        Err(FdwError::new(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            "a membership cannot be updated: delete it and insert another",
        ))
    }

    fn delete(&self, old: &Row) -> FdwResult<Vec<Change>> {
        Ok(vec![Change::RemoveUserFromGroup {
            group_name: old.required(&Field::GroupName, "membership")?,
            username: old.required(&Field::Username, "membership")?,
        }])
    }

    fn read_back_operation(&self) -> &'static str {
        "AdminGetUser"
    }

    /// The user's values as Cognito holds them (AdminGetUser), in the group written.
    fn read_back<'a>(
        &self,
        client: &'a CognitoClient,
        pace: &'a Pace,
        key: &'a Row,
    ) -> ReadBack<'a> {
        Box::pin(async move {
            let group_name = key.required(&Field::GroupName, "membership")?;
            let username = key.required(&Field::Username, "membership")?;
            let user = get_user(client, pace, &username).await?;
            Ok(user.map(|u| Box::new(Member::new(group_name, u)) as Box<dyn Record>))
        })
    }
}

impl Record for Member {
    fn identity(&self) -> &str {
        &self.identity
    }

    fn value(&self, field: &Field) -> Value {
        match field {
            Field::GroupName => Value::Text(self.group_name.clone()),
            other => self.user.value(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cognito::User;
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
    fn columns_are_the_group_and_the_users_columns() {
        let plan = plan_column(&col("group_name", pg_sys::TEXTOID)).unwrap();
        assert_eq!(plan.field, Field::GroupName);
        let plan = plan_column(&col("email", pg_sys::TEXTOID)).unwrap();
        assert_eq!(plan.field, Field::Attribute("email".into()));
        let plan = plan_column(&col("enabled", pg_sys::BOOLOID)).unwrap();
        assert_eq!((plan.field, plan.ty), (Field::Enabled, ColumnType::Bool));
        let mut tenant = col("tenant", pg_sys::TEXTOID);
        tenant.attribute = Some("custom:tenant".into());
        assert_eq!(
            plan_column(&tenant).unwrap().field,
            Field::Attribute("custom:tenant".into())
        );
        let err = plan_column(&col("precedence", pg_sys::INT4OID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_COLUMN_NAME_NOT_FOUND);
        assert!(err.message.contains("group members"), "{}", err.message);
        let err = plan_column(&col("group_name", pg_sys::INT4OID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_DATA_TYPE);
        for (name, _) in IMPORT_COLUMNS {
            assert!(plan_column(&col(name, pg_sys::TEXTOID)).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_username_is_preferred_to_a_group_name_and_both_are_lookups() {
        let candidates = rank(
            GROUP_MEMBERS,
            &[
                Condition::Equals(Field::GroupName, c("admins")),
                Condition::Equals(Field::Username, c("user0001")),
            ],
        );
        assert_eq!(candidates.len(), 2);
        assert!(candidates.iter().all(|c| c.is_lookup()));
        assert_eq!(
            candidates[0].lookup_operation(),
            Some("AdminListGroupsForUser")
        );
        assert_eq!(candidates[1].lookup_operation(), Some("ListUsersInGroup"));
        assert_eq!(
            candidates[1].requests(&[Some("admins".into()), Some("admins".into())]),
            Some(Requests::Filters(vec![Some("admins".into())]))
        );
        // Nothing else is sent: a prefix, an email, a status are checked locally.
        assert!(rank(
            GROUP_MEMBERS,
            &[
                Condition::Like(Field::GroupName, c("adm%")),
                Condition::Equals(Field::Attribute("email".into()), c("a@b")),
                Condition::Equals(Field::UserStatus, c("CONFIRMED")),
                Condition::Flag(Field::Enabled, true),
            ]
        )
        .is_empty());
    }

    #[test]
    fn the_user_is_looked_up_only_when_a_user_column_is_read() {
        assert!(!reads_user(&[Field::GroupName, Field::Username]));
        assert!(reads_user(&[Field::Username, Field::Enabled]));
        assert_eq!(
            GroupMembers.request_line(&[Field::GroupName], Some("AdminListGroupsForUser")),
            "AdminListGroupsForUser"
        );
        assert_eq!(
            GroupMembers.request_line(&[Field::AllAttributes], Some("AdminListGroupsForUser")),
            "AdminGetUser and AdminListGroupsForUser per user"
        );
        assert_eq!(
            GroupMembers.request_line(&[], None),
            "ListGroups, ListUsersInGroup per group"
        );
        let member = Member::new("admins".into(), User::named("ada".into()));
        assert_eq!(
            member.value(&Field::GroupName),
            Value::Text("admins".into())
        );
        assert_eq!(member.value(&Field::Username), Value::Text("ada".into()));
        assert_eq!(member.identity(), "ada in admins");
        assert_ne!(
            member.identity(),
            Member::new("admin".into(), User::named("sada".into())).identity()
        );
    }
}
