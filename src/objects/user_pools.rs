//! `object 'user_pools'`: the user pools of the server's region, read with ListUserPools; the
//! columns ListUserPools does not give come from one DescribeUserPool per pool, asked only
//! when the query reads one of them. An id is looked up with DescribeUserPool.

use super::{
    CognitoObject, ColumnDef, ColumnPlan, Field, Filter, ListRequest, Object, Record, Records,
    Selectivity,
};
use crate::cognito::listing::FanOut;
use crate::cognito::quota::{Category, Pace};
use crate::cognito::user_pools::{names_pool_in, DescribePager, PoolPager, UserPool};
use crate::cognito::{CognitoClient, Listing};
use crate::convert::{ColumnType, Value};
use crate::error::FdwResult;

pub struct UserPools;

pub const USER_POOLS: Object = Object::new(&UserPools);

/// ListUserPools returns at most 60 pools a request.
const MAX_PAGE_SIZE: i32 = 60;
/// Cost of one ListUserPools or DescribeUserPool request, in the planner's units: as for
/// ListUsers.
const REQUEST_COST: f64 = 100.0;
/// Pools assumed in a region: Cognito's default quota is 1,000 pools an account and region,
/// and most accounts hold a handful.
const ASSUMED_POOLS: f64 = 20.0;
/// Cognito's pool ids are at most 55 characters.
const MAX_POOL_ID: usize = 55;

impl CognitoObject for UserPools {
    fn name(&self) -> &'static str {
        "user_pools"
    }

    fn record_noun(&self) -> &'static str {
        "user pool"
    }

    /// ListUserPools lists the region's pools: no pool is named.
    fn pool_scoped(&self) -> bool {
        false
    }

    fn plan_column(&self, column: &ColumnDef) -> FdwResult<ColumnPlan> {
        plan_column(column)
    }

    fn import_columns(&self) -> &'static [(&'static str, &'static str)] {
        IMPORT_COLUMNS
    }

    fn operation(&self) -> &'static str {
        "ListUserPools"
    }

    /// A Describe per record when a field beyond the listing's is read.
    fn requests_per_record(&self, fields: &[Field]) -> f64 {
        f64::from(u8::from(needs_description(fields)))
    }

    fn request_line(&self, fields: &[Field], lookup: Option<&str>) -> String {
        match lookup {
            Some(lookup) => lookup.to_owned(),
            None if needs_description(fields) => {
                "ListUserPools, DescribeUserPool per pool".to_owned()
            }
            None => "ListUserPools".to_owned(),
        }
    }

    fn quota_category(&self) -> Category {
        Category::UserPoolRead
    }

    fn max_page_size(&self) -> i32 {
        MAX_PAGE_SIZE
    }

    fn request_cost(&self) -> f64 {
        REQUEST_COST
    }

    /// ListUserPools filters on nothing; an id is looked up with DescribeUserPool.
    fn filter(&self, field: &Field) -> Option<Filter> {
        match field {
            Field::PoolId => Some(Filter {
                attribute: "id",
                selectivity: Selectivity::Unique,
                prefix: false,
                lookup: Some(("DescribeUserPool", MAX_POOL_ID)),
            }),
            _ => None,
        }
    }

    fn assumed_rows(&self) -> f64 {
        ASSUMED_POOLS
    }

    fn open(&self, client: &CognitoClient, pace: &Pace, request: &ListRequest) -> Box<dyn Records> {
        let client = client.for_pool(None);
        // ListUserPools and DescribeUserPool share UserPoolRead, with no cap per pool.
        let limiter = pace.category(Category::UserPoolRead);
        if request.filtered_on.is_some() {
            // A filter of a pools request is an id to describe; one that is no pool id of the
            // region names no pool listed there, and is not asked for.
            let pagers = request
                .filters
                .iter()
                .flatten()
                .filter(|id| names_pool_in(id, &client.region))
                .map(|id| DescribePager::new(client.clone(), id.clone()))
                .collect();
            return Box::new(Listing::new(limiter, pagers, request.max_in_flight));
        }
        let list = vec![PoolPager::new(client.clone(), request.page_size)];
        if !needs_description(&request.fields) {
            return Box::new(Listing::new(limiter, list, request.max_in_flight));
        }
        Box::new(FanOut::new(
            Listing::new(limiter, list, 1),
            Listing::new(limiter, Vec::new(), request.max_in_flight),
            move |listed: UserPool| vec![DescribePager::of_listed(client.clone(), listed)],
        ))
    }
}

/// Whether reading `fields` needs DescribeUserPool: ListUserPools gives only a pool's id,
/// name, status and times.
fn needs_description(fields: &[Field]) -> bool {
    fields.iter().any(|f| {
        !matches!(
            f,
            Field::PoolId
                | Field::PoolName
                | Field::PoolStatus
                | Field::CreatedAt
                | Field::UpdatedAt
        )
    })
}

/// The documented table, as IMPORT FOREIGN SCHEMA creates it.
pub const IMPORT_COLUMNS: &[(&str, &str)] = &[
    ("id", "text"),
    ("name", "text"),
    ("status", "text"),
    ("created_at", "timestamp"),
    ("updated_at", "timestamp"),
    ("arn", "text"),
    ("estimated_number_of_users", "bigint"),
    ("mfa_configuration", "text"),
    ("deletion_protection", "text"),
    ("user_pool_tier", "text"),
    ("domain", "text"),
    ("custom_domain", "text"),
    ("username_attributes", "text[]"),
    ("custom_attributes", "jsonb"),
    ("details", "jsonb"),
];

// Every field may also be text, except the lists, which may be jsonb.
const TEXT: &[ColumnType] = &[ColumnType::Text];
const NUMBER: &[ColumnType] = &[ColumnType::Int8, ColumnType::Int4, ColumnType::Text];
const TIME: &[ColumnType] = &[
    ColumnType::Timestamp,
    ColumnType::TimestampTz,
    ColumnType::Text,
];
const LIST: &[ColumnType] = &[ColumnType::TextArray, ColumnType::Jsonb, ColumnType::Json];
const DOCUMENT: &[ColumnType] = &[ColumnType::Jsonb, ColumnType::Json, ColumnType::Text];

fn field_of(name: &str) -> Option<(Field, &'static [ColumnType], &'static str)> {
    Some(match name {
        "id" => (Field::PoolId, TEXT, "pool id"),
        "name" => (Field::PoolName, TEXT, "pool name"),
        "status" => (Field::PoolStatus, TEXT, "pool status"),
        "created_at" => (Field::CreatedAt, TIME, "creation time"),
        "updated_at" => (Field::UpdatedAt, TIME, "last modification time"),
        "arn" => (Field::PoolArn, TEXT, "pool ARN"),
        "estimated_number_of_users" => (Field::EstimatedUsers, NUMBER, "estimated user count"),
        "mfa_configuration" => (Field::MfaConfiguration, TEXT, "MFA configuration"),
        "deletion_protection" => (Field::DeletionProtection, TEXT, "deletion protection"),
        "user_pool_tier" => (Field::PoolTier, TEXT, "pool tier"),
        "domain" => (Field::PoolDomain, TEXT, "domain prefix"),
        "custom_domain" => (Field::PoolCustomDomain, TEXT, "custom domain"),
        "username_attributes" => (Field::UsernameAttributes, LIST, "username attributes"),
        "custom_attributes" => (Field::CustomAttributes, DOCUMENT, "custom attributes"),
        "details" => (Field::PoolDetails, DOCUMENT, "pool description"),
        _ => return None,
    })
}

fn plan_column(column: &ColumnDef) -> FdwResult<ColumnPlan> {
    let named = super::Named {
        records: "user pools",
        short: "pools",
        table: "a user_pools table",
    };
    super::plan_named_column(column, field_of, IMPORT_COLUMNS, &named)
}

impl Record for UserPool {
    fn identity(&self) -> &str {
        &self.id
    }

    fn value(&self, field: &Field) -> Value {
        let text = |t: &Option<String>| t.clone().map_or(Value::Null, Value::Text);
        match field {
            Field::PoolId => Value::Text(self.id.clone()),
            Field::PoolName => text(&self.name),
            Field::PoolStatus => text(&self.status),
            Field::CreatedAt => self.created.map_or(Value::Null, Value::Time),
            Field::UpdatedAt => self.modified.map_or(Value::Null, Value::Time),
            _ => {
                // Only a description has the rest; a pool listed without one was listed for
                // a query that reads none of it.
                let Some(d) = &self.described else {
                    return Value::Null;
                };
                match field {
                    Field::PoolArn => text(&d.arn),
                    Field::EstimatedUsers => Value::Int(d.estimated_users),
                    Field::MfaConfiguration => text(&d.mfa_configuration),
                    Field::DeletionProtection => text(&d.deletion_protection),
                    Field::PoolTier => text(&d.tier),
                    Field::PoolDomain => text(&d.domain),
                    Field::PoolCustomDomain => text(&d.custom_domain),
                    Field::UsernameAttributes => Value::TextList(d.username_attributes.clone()),
                    Field::CustomAttributes => Value::Json(serde_json::Value::from(
                        d.custom_attributes
                            .iter()
                            .map(|a| a.to_json())
                            .collect::<Vec<_>>(),
                    )),
                    Field::PoolDetails => d.details.clone().map_or(Value::Null, Value::Json),
                    _ => Value::Null,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pushdown::{rank, Condition, Operand, Requests};
    use pgrx::pg_sys;
    use pgrx::PgSqlErrorCode::*;

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

    #[test]
    fn documented_columns_map_to_their_fields() {
        let oid = |ty: &str| match ty {
            "text" => pg_sys::TEXTOID,
            "timestamp" => pg_sys::TIMESTAMPOID,
            "bigint" => pg_sys::INT8OID,
            "text[]" => pg_sys::TEXTARRAYOID,
            _ => pg_sys::JSONBOID,
        };
        for (name, ty) in IMPORT_COLUMNS {
            let plan = plan_column(&col(name, oid(ty))).unwrap();
            assert_eq!(plan.ty.sql_name(), *ty, "{name}");
        }
        let err = plan_column(&col("username_attributes", pg_sys::TEXTOID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_DATA_TYPE);
        assert_eq!(
            err.hint.as_deref(),
            Some("Declare it as text[], jsonb or json.")
        );
        let err = plan_column(&col("username", pg_sys::TEXTOID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_COLUMN_NAME_NOT_FOUND);
    }

    #[test]
    fn only_columns_beyond_the_listing_need_a_description() {
        let listed = [
            Field::PoolId,
            Field::PoolName,
            Field::PoolStatus,
            Field::CreatedAt,
            Field::UpdatedAt,
        ];
        assert!(!needs_description(&listed));
        assert_eq!(USER_POOLS.request_line(&listed, None), "ListUserPools");
        for (name, _) in &IMPORT_COLUMNS[5..] {
            let (field, _, _) = field_of(name).unwrap();
            assert!(needs_description(&[Field::PoolId, field.clone()]), "{name}");
            assert_eq!(
                USER_POOLS.request_line(&[field], None),
                "ListUserPools, DescribeUserPool per pool"
            );
        }
        assert_eq!(
            USER_POOLS.request_line(&[Field::PoolDetails], Some("DescribeUserPool")),
            "DescribeUserPool"
        );
        assert!(!USER_POOLS.pool_scoped());
    }

    #[test]
    fn an_id_is_one_describe_per_value() {
        let c = |v: &str| Operand::Const(Some(v.into()));
        let candidates = rank(
            USER_POOLS,
            &[Condition::Equals(Field::PoolId, c("us-east-1_A"))],
        );
        assert!(candidates[0].is_lookup());
        assert_eq!(candidates[0].lookup_operation(), Some("DescribeUserPool"));
        assert_eq!(
            candidates[0].requests(&[Some("us-east-1_A".into()), Some("us-east-1_A".into())]),
            Some(Requests::Filters(vec![Some("us-east-1_A".into())]))
        );
        assert!(rank(USER_POOLS, &[Condition::Equals(Field::PoolName, c("x"))]).is_empty());
    }

    #[test]
    fn a_listed_pool_has_no_described_values() {
        let pool = UserPool {
            id: "us-east-1_A".into(),
            name: Some("a".into()),
            status: None,
            created: None,
            modified: None,
            described: None,
        };
        assert_eq!(pool.identity(), "us-east-1_A");
        assert_eq!(pool.value(&Field::PoolName), Value::Text("a".into()));
        assert_eq!(pool.value(&Field::EstimatedUsers), Value::Null);
        assert_eq!(pool.value(&Field::UsernameAttributes), Value::Null);
    }
}
