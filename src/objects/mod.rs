//! The Cognito objects a foreign table can read, one module each, behind one trait.
//!
//! An object module owns everything that is particular to its object: its columns (which names
//! it knows, which types they accept, how a fetched record gives each value), the table IMPORT
//! FOREIGN SCHEMA creates for it, its abilities (which conditions its listing operation can
//! send and how selective each is, page size, partitions), its row estimate, and how it opens
//! a listing through the client layer. The FDW callbacks, the pushdown, the request decision
//! and EXPLAIN are generic: they ask the object through `CognitoObject`.
//!
//! Adding an object is a module implementing `CognitoObject` plus one line in `REGISTERED`.

pub mod app_clients;
pub mod group_members;
pub mod groups;
pub mod identity_providers;
pub mod user_pools;
pub mod users;
pub mod write;

use std::future::Future;
use std::pin::Pin;

use pgrx::pg_sys;
use serde::{Deserialize, Serialize};

use crate::cognito::estimate::{Attempts, PoolKey};
use crate::cognito::listing::{FanOut, Listing, Pager};
use crate::cognito::quota::{Category, Pace};
use crate::cognito::CognitoClient;
use crate::convert::{ColumnType, Value};
use crate::error::{FdwError, FdwResult};
use pgrx::PgSqlErrorCode::*;

/// Every object a table may name in its `object` option, in IMPORT FOREIGN SCHEMA's order.
const REGISTERED: &[Object] = &[
    users::USERS,
    groups::GROUPS,
    group_members::GROUP_MEMBERS,
    app_clients::APP_CLIENTS,
    identity_providers::IDENTITY_PROVIDERS,
    user_pools::USER_POOLS,
];

/// What a Cognito object is to the wrapper. Implemented once per object, by a unit struct.
pub trait CognitoObject: Sync {
    /// The value of the table option `object`.
    fn name(&self) -> &'static str;
    /// One record, as messages name it: "user".
    fn record_noun(&self) -> &'static str;

    /// Whether a table of the object reads one user pool, named by `user_pool_id` on the
    /// table or its server (every object but `user_pools`, which lists a region's pools).
    fn pool_scoped(&self) -> bool {
        true
    }

    /// Whether IMPORT FOREIGN SCHEMA's `custom_attribute_columns` adds to the object's table a
    /// column per custom attribute of the pool (read with the column option `attribute`):
    /// `users` and `group_members`, whose user columns are those of `users`.
    fn takes_custom_attribute_columns(&self) -> bool {
        false
    }

    /// How rows of the object are written; None for an object that is only read.
    fn writer(&self) -> Option<&dyn write::Writer> {
        None
    }

    /// The field a column reads and the type it is filled as, or why it cannot be read.
    fn plan_column(&self, column: &ColumnDef) -> FdwResult<ColumnPlan>;
    /// The documented table, as IMPORT FOREIGN SCHEMA creates it: names and types in order.
    fn import_columns(&self) -> &'static [(&'static str, &'static str)];

    /// The listing operation, as EXPLAIN names it: "ListUsers".
    fn operation(&self) -> &'static str;
    /// The requests a scan reading `fields` makes, as EXPLAIN shows them, when it sends the
    /// lookup operation `lookup` (None: the listing). Objects whose records need a request of
    /// their own for some columns say so here ("ListUserPoolClients, DescribeUserPoolClient
    /// per client").
    fn request_line(&self, _fields: &[Field], lookup: Option<&str>) -> String {
        lookup.unwrap_or(self.operation()).to_owned()
    }
    /// Requests a listing makes per record it returns, beyond its pages, when the query
    /// reads `fields`: 1 for an object whose records need a request of their own for some
    /// fields (a Describe per client). The planner adds them to a listing's cost, so that a
    /// join of a few rows looks records up rather than listing and describing them all.
    fn requests_per_record(&self, _fields: &[Field]) -> f64 {
        0.0
    }
    /// The quota category Cognito meters the listing operation in: each category has its own
    /// rate, shared by the tables whose objects name it.
    fn quota_category(&self) -> Category;
    /// The most records one request of the listing returns.
    fn max_page_size(&self) -> i32;
    /// What one request of the listing costs, in the planner's units (a sequential page read
    /// is 1.0; a row fetched 0.1).
    fn request_cost(&self) -> f64;
    /// How the listing can send a condition on `field`, if it can.
    fn filter(&self, field: &Field) -> Option<Filter>;
    /// The attribute and value a boolean test of `field` (`where enabled`) is sent as; by
    /// default none is sent (only ListUsers filters on a flag).
    fn flag_filter(&self, _field: &Field, _on: bool) -> Option<(&'static str, &'static str)> {
        None
    }
    /// How a whole listing splits into streams read concurrently, if it does; by default it
    /// is one stream (only ListUsers takes a prefix filter to split on).
    fn partitioning(&self) -> Option<Partitioning> {
        None
    }
    /// What the requests ask for of each record, when a query reads `columns` and the filters
    /// sent are on `filtered_on` (every record they return holds it); None asks for all, the
    /// default (only ListUsers can ask for less).
    fn attributes_to_get(
        &self,
        _columns: &[ColumnPlan],
        _filtered_on: Option<&str>,
    ) -> Option<Vec<String>> {
        None
    }

    /// The records a table of `pool` holds, as far as this backend knows (no request made);
    /// by default nothing (no API counts groups, clients, providers or pools short of listing
    /// them all), and `assumed_rows` stands in.
    fn known_rows(&self, _pool: &PoolKey) -> Option<u64> {
        None
    }
    /// Ask Cognito how many records a table of `pool` holds, and remember the answer for
    /// `known_rows`; None when it cannot tell (failures are not errors: without a size a scan
    /// reads one stream, which is always correct). ANALYZE and the scan's size check ask it.
    /// By default nothing is asked.
    fn refresh_rows<'a>(
        &self,
        _pool: &'a PoolKey,
        _client: &'a CognitoClient,
        _attempts: Attempts,
    ) -> Pin<Box<dyn Future<Output = Option<u64>> + 'a>> {
        Box::pin(async { None })
    }
    /// The records assumed when nothing is known.
    fn assumed_rows(&self) -> f64;

    /// A listing of the streams `request` describes, each operation paced by its category's
    /// limiter from `pace`. Nothing is sent until its first page is asked for.
    fn open(&self, client: &CognitoClient, pace: &Pace, request: &ListRequest) -> Box<dyn Records>;
}

/// How selective a sent condition is: it orders the candidates, and a lookup by a unique key
/// is costed and joined as one request per value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Selectivity {
    /// At most one record per value (a username, an id).
    Unique,
    /// A few records per value (a name).
    Few,
    /// Many records per value (a status).
    Many,
}

impl Selectivity {
    /// Records per value the planner assumes of a lookup.
    pub fn rows_per_value(self) -> f64 {
        match self {
            Selectivity::Unique => 1.0,
            Selectivity::Few => 10.0,
            Selectivity::Many => 100.0,
        }
    }
}

/// How a listing operation can send conditions on one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// The name the operation's filter uses.
    pub attribute: &'static str,
    pub selectivity: Selectivity,
    /// Whether `like 'abc%'` can be sent as a prefix filter.
    pub prefix: bool,
    /// Not a filter of the listing but another operation, sent once per value with the value
    /// as it is (GetGroup takes a group name), and the longest value it takes; None: the
    /// listing's filter, written in ListUsers' syntax (`attr = "value"`).
    pub lookup: Option<(&'static str, usize)>,
}

/// Filters that split a whole listing into disjoint streams, read concurrently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partitioning {
    /// The attribute the filters are on: every record they return holds it.
    pub attribute: &'static str,
    /// One filter per partition; together they return every record once.
    pub filters: Vec<String>,
    /// What EXPLAIN says the partitions are by: "sub prefix".
    pub by: &'static str,
    /// Below this many records one stream is cheaper: partitions' part-filled pages cost more
    /// requests than they save time.
    pub above: u64,
}

/// The streams of one listing: one per filter (None lists everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub filters: Vec<Option<String>>,
    /// The attribute of the condition the filters are values of (`Filter::attribute`), for an
    /// object that sends conditions on several; None for a whole listing.
    pub filtered_on: Option<String>,
    /// The fields the query reads: an object whose records need a request of their own for
    /// some fields makes it only when one is read.
    pub fields: Vec<Field>,
    /// What to ask for of each record (None: everything).
    pub attributes: Option<Vec<String>>,
    pub page_size: i32,
    /// Requests in flight at most.
    pub max_in_flight: usize,
}

/// The columns IMPORT FOREIGN SCHEMA's `custom_attribute_columns` adds to a table whose
/// documented columns are `taken`, one per custom attribute (`custom:tenant_id` becomes
/// `tenant_id text options (attribute 'custom:tenant_id')`), as `name type options (...)`.
///
/// A name that is a documented column already (`custom:status`) gets the prefix `custom_`
/// (`custom_status`), then a number while still taken; `quote` quotes a name as SQL needs it
/// (`"Team-Name"`). Developer-only attributes are left out: ListUsers does not return them.
pub fn custom_attribute_columns(
    attributes: &[crate::cognito::user_pools::CustomAttribute],
    taken: &[&str],
    quote: &dyn Fn(&str) -> String,
) -> Vec<String> {
    let mut used: Vec<String> = taken.iter().map(|t| (*t).to_owned()).collect();
    let mut columns = Vec::new();
    for attribute in attributes.iter().filter(|a| !a.developer_only) {
        let ty = match attribute.data_type.as_str() {
            "Number" => "bigint",
            "DateTime" => "timestamptz",
            "Boolean" => "boolean",
            _ => "text",
        };
        let mut name = attribute.name.clone();
        if used.contains(&name) {
            name = format!("custom_{}", attribute.name);
        }
        let base = name.clone();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        used.push(name.clone());
        columns.push(format!(
            "{} {ty} options (attribute '{}')",
            quote(&name),
            attribute.attribute.replace('\'', "''")
        ));
    }
    columns
}

/// A registered object: what a plan names and carries (by name, so the plan stays plain data).
#[derive(Clone, Copy)]
pub struct Object(&'static dyn CognitoObject);

impl Object {
    pub const fn new(object: &'static dyn CognitoObject) -> Object {
        Object(object)
    }

    /// The object itself, for as long as the program runs.
    pub fn inner(self) -> &'static dyn CognitoObject {
        self.0
    }

    pub fn from_name(name: &str) -> Option<Object> {
        REGISTERED.iter().copied().find(|o| o.name() == name)
    }

    pub fn names() -> Vec<&'static str> {
        REGISTERED.iter().map(|o| o.name()).collect()
    }

    pub fn all() -> &'static [Object] {
        REGISTERED
    }

    /// Map every column of a table to a field, or say which column cannot be read and why.
    pub fn plan_columns(self, columns: &[ColumnDef]) -> FdwResult<Vec<ColumnPlan>> {
        columns.iter().map(|c| self.plan_column(c)).collect()
    }

    /// The CREATE FOREIGN TABLE that IMPORT FOREIGN SCHEMA issues, table name unqualified.
    pub fn import_ddl(self, quoted_server: &str) -> String {
        self.import_ddl_with(quoted_server, &[])
    }

    /// The same, with `extra` columns (`name type options (...)`) after the documented ones.
    pub fn import_ddl_with(self, quoted_server: &str, extra: &[String]) -> String {
        let name = self.name();
        let body: Vec<String> = self
            .import_columns()
            .iter()
            .map(|(col, ty)| format!("  {col} {ty}"))
            .chain(extra.iter().map(|column| format!("  {column}")))
            .collect();
        format!(
            "create foreign table {name} (\n{}\n)\nserver {quoted_server}\noptions (object '{name}')",
            body.join(",\n")
        )
    }
}

impl std::ops::Deref for Object {
    type Target = dyn CognitoObject;

    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Object {}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Object({})", self.name())
    }
}

impl Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Object, D::Error> {
        let name = String::deserialize(deserializer)?;
        Object::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown object \"{name}\"")))
    }
}

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
    /// The table's `attributes_format` is `array`.
    pub attributes_array: bool,
}

/// How an object without attributes names itself in its column errors: "app clients",
/// "an app_clients table".
pub struct Named {
    /// After "a field of Cognito ...".
    pub records: &'static str,
    /// Before "have no attributes" ("pools", where `records` is "user pools").
    pub short: &'static str,
    /// "a groups table", "an app_clients table".
    pub table: &'static str,
}

/// A fixed column name's field, the types it accepts and what it holds (for messages).
pub type NamedField = (Field, &'static [ColumnType], &'static str);

/// The plan of `column` of an object whose columns are fixed names (no attribute columns):
/// `field_of` gives a name's field, the types it accepts and what it holds, for messages.
pub fn plan_named_column(
    column: &ColumnDef,
    field_of: fn(&str) -> Option<NamedField>,
    columns: &[(&str, &str)],
    named: &Named,
) -> FdwResult<ColumnPlan> {
    let known = column
        .attribute
        .is_none()
        .then(|| field_of(&column.name))
        .flatten();
    let Some((field, accepted, what)) = known else {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        return Err(FdwError::new(
            ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
            format!(
                "column \"{}\" is not a field of Cognito {}",
                column.name, named.records
            ),
        )
        .with_hint(format!(
            "Columns of {} are: {} ({} have no attributes: the column option attribute does \
             not apply).",
            named.table,
            names.join(", "),
            named.short
        )));
    };
    check_type(column, field, accepted, what)
}

/// The plan of `column`, read as `field`, when its type is one of `accepted`.
pub fn check_type(
    column: &ColumnDef,
    field: Field,
    accepted: &[ColumnType],
    what: &str,
) -> FdwResult<ColumnPlan> {
    let names: Vec<&str> = accepted.iter().map(|t| t.sql_name()).collect();
    match ColumnType::of(column.type_oid) {
        Some(ty) if accepted.contains(&ty) => Ok(ColumnPlan::new(column, field, ty)),
        _ => Err(FdwError::new(
            ERRCODE_FDW_INVALID_DATA_TYPE,
            format!(
                "column \"{}\" has type {}, which cannot hold Cognito's {what}",
                column.name, column.type_name
            ),
        )
        .with_hint(format!("Declare it as {}.", users::one_of(&names)))),
    }
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

impl ColumnPlan {
    /// The plan of `column`, read as `field` and filled as `ty`.
    pub fn new(column: &ColumnDef, field: Field, ty: ColumnType) -> ColumnPlan {
        ColumnPlan {
            index: column.index,
            field,
            ty,
            type_oid: column.type_oid.to_u32(),
            typmod: column.typmod,
            domain: column.domain.map(|d| d.to_u32()),
        }
    }
}

/// A value an object can give for a row. One enum for every object, so that the plan's
/// encoding stays one plain type; what a field means is its object's business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    Username,
    UserStatus,
    Enabled,
    CreatedAt,
    UpdatedAt,
    AllAttributes,
    /// The attributes as an array of one-key objects (`attributes_format 'array'`).
    AttributesArray,
    Attribute(String),
    GroupName,
    Description,
    Precedence,
    RoleArn,
    // app_clients (created_at and updated_at are CreatedAt and UpdatedAt)
    ClientId,
    ClientName,
    ExplicitAuthFlows,
    AllowedOAuthFlows,
    AllowedOAuthScopes,
    CallbackUrls,
    LogoutUrls,
    SupportedIdentityProviders,
    HasSecret,
    ClientDetails,
    // identity_providers (created_at and updated_at are CreatedAt and UpdatedAt)
    ProviderName,
    ProviderType,
    AttributeMapping,
    IdpIdentifiers,
    ProviderDetails,
    // user_pools
    PoolId,
    PoolName,
    PoolStatus,
    PoolArn,
    EstimatedUsers,
    MfaConfiguration,
    DeletionProtection,
    PoolTier,
    PoolDomain,
    PoolCustomDomain,
    UsernameAttributes,
    CustomAttributes,
    PoolDetails,
}

/// One fetched record of any object.
pub trait Record {
    /// What tells two records of the object apart: the scan drops a record already returned
    /// when several streams may return it, and messages name it.
    fn identity(&self) -> &str;
    fn value(&self, field: &Field) -> Value;
}

/// The next page of a listing: None when every stream is done.
pub type NextPage<'a> = Pin<Box<dyn Future<Output = Option<FdwResult<Vec<Box<dyn Record>>>>> + 'a>>;

/// A listing of any object, as the scan reads it.
pub trait Records {
    /// The next page from any stream (possibly empty), or None when every stream is done.
    fn next_page(&mut self) -> NextPage<'_>;
    fn streams_left(&self) -> usize;
    /// Requests sent so far.
    fn requests(&self) -> u64;
    /// Pages received so far.
    fn pages(&self) -> u64;
    /// Requests sent so far, per operation, in the order first sent.
    fn requests_by_operation(&self) -> Vec<(&'static str, u64)>;
}

impl<P> Records for Listing<P>
where
    P: Pager + 'static,
    P::Item: Record + 'static,
{
    fn next_page(&mut self) -> NextPage<'_> {
        Box::pin(async move {
            let page = Listing::next_page(self).await?;
            Some(page.map(|records| {
                records
                    .into_iter()
                    .map(|r| Box::new(r) as Box<dyn Record>)
                    .collect()
            }))
        })
    }

    fn streams_left(&self) -> usize {
        Listing::streams_left(self)
    }

    fn requests(&self) -> u64 {
        self.requests
    }

    fn pages(&self) -> u64 {
        self.pages
    }

    fn requests_by_operation(&self) -> Vec<(&'static str, u64)> {
        self.by_operation.clone()
    }
}

impl<Parent, Child> Records for FanOut<Parent, Child>
where
    Parent: Pager + 'static,
    Child: Pager + 'static,
    Child::Item: Record + 'static,
{
    fn next_page(&mut self) -> NextPage<'_> {
        Box::pin(async move {
            let page = FanOut::next_page(self).await?;
            Some(page.map(|records| {
                records
                    .into_iter()
                    .map(|r| Box::new(r) as Box<dyn Record>)
                    .collect()
            }))
        })
    }

    fn streams_left(&self) -> usize {
        FanOut::streams_left(self)
    }

    fn requests(&self) -> u64 {
        FanOut::requests(self)
    }

    fn pages(&self) -> u64 {
        FanOut::pages(self)
    }

    fn requests_by_operation(&self) -> Vec<(&'static str, u64)> {
        self.by_operation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cognito::user_pools::CustomAttribute;

    fn attribute(name: &str, data_type: &str) -> CustomAttribute {
        CustomAttribute {
            name: name.into(),
            attribute: format!("custom:{name}"),
            data_type: data_type.into(),
            mutable: Some(true),
            developer_only: false,
            constraints: serde_json::json!({}),
        }
    }

    #[test]
    fn custom_attributes_become_typed_columns_with_names_of_their_own() {
        let quote = |name: &str| match name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            true => name.to_owned(),
            false => format!("\"{name}\""),
        };
        let mut internal = attribute("internal", "String");
        internal.developer_only = true;
        let attributes = [
            attribute("tenant_id", "String"),
            attribute("seats", "Number"),
            attribute("renewed_at", "DateTime"),
            attribute("active", "Boolean"),
            attribute("status", "String"),
            attribute("custom_email", "String"),
            attribute("email", "String"),
            attribute("Team-Name", "String"),
            attribute("it's", "String"),
            internal,
        ];
        let taken: Vec<&str> = users::IMPORT_COLUMNS.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            custom_attribute_columns(&attributes, &taken, &quote),
            [
                "tenant_id text options (attribute 'custom:tenant_id')",
                "seats bigint options (attribute 'custom:seats')",
                "renewed_at timestamptz options (attribute 'custom:renewed_at')",
                "active boolean options (attribute 'custom:active')",
                "custom_status text options (attribute 'custom:status')",
                "custom_email text options (attribute 'custom:custom_email')",
                "custom_email_2 text options (attribute 'custom:email')",
                "\"Team-Name\" text options (attribute 'custom:Team-Name')",
                "\"it's\" text options (attribute 'custom:it''s')",
            ]
        );
        let ddl = users::USERS.import_ddl_with("s", &["x text".to_owned()]);
        assert!(ddl.contains("  attributes jsonb,\n  x text\n)"), "{ddl}");
        assert_eq!(
            users::USERS.import_ddl("s"),
            users::USERS.import_ddl_with("s", &[])
        );
        let taking: Vec<&str> = Object::all()
            .iter()
            .filter(|o| o.takes_custom_attribute_columns())
            .map(|o| o.name())
            .collect();
        assert_eq!(taking, ["users", "group_members"]);
        // After group_members' eight columns; a custom:group_name would not take its name.
        let taken: Vec<&str> = group_members::IMPORT_COLUMNS
            .iter()
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(
            custom_attribute_columns(&[attribute("group_name", "Number")], &taken, &quote),
            ["custom_group_name bigint options (attribute 'custom:group_name')"]
        );
        let ddl = group_members::GROUP_MEMBERS.import_ddl_with("s", &["x text".to_owned()]);
        assert!(ddl.contains("  attributes jsonb,\n  x text\n)"), "{ddl}");
    }
}
