//! `object 'identity_providers'`: the identity providers of a user pool, listed with
//! ListIdentityProviders and, when a column only DescribeIdentityProvider gives is read,
//! described one by one; or looked up by name with DescribeIdentityProvider. The secrets in a
//! provider's details are never read into a row (`cognito::identity_providers`).

use super::app_clients::{DOCUMENT, LIST_TYPES, TEXT, TIME};
use super::{
    CognitoObject, ColumnDef, ColumnPlan, Field, Filter, ListRequest, Object, Record, Records,
    Selectivity,
};
use crate::cognito::listing::FanOut;
use crate::cognito::quota::{Category, Pace};
use crate::cognito::{CognitoClient, IdentityProvider, Listing, ProviderPager};
use crate::convert::Value;
use crate::error::FdwResult;

pub struct IdentityProviders;

pub const IDENTITY_PROVIDERS: Object = Object::new(&IdentityProviders);

/// ListIdentityProviders returns at most 60 providers a request.
const MAX_PAGE_SIZE: i32 = 60;
/// Cost of one request, in the planner's units: as for ListUsers.
const REQUEST_COST: f64 = 100.0;
/// Providers assumed in a pool. Nothing counts them short of listing them all; a pool
/// federates with a few providers (a company SAML IdP, a social login or two), so 5 costs a
/// listing at one page and keeps a lookup by name the cheaper plan for a few names.
const ASSUMED_PROVIDERS: f64 = 5.0;
/// Cognito's provider names are 1 to 32 characters.
const MAX_PROVIDER_NAME: usize = 32;

const LIST: &str = "ListIdentityProviders";
const DESCRIBE: &str = "DescribeIdentityProvider";

/// Whether reading `fields` needs each provider described: ListIdentityProviders gives the
/// name, type and dates.
fn needs_describe(fields: &[Field]) -> bool {
    fields.iter().any(|f| {
        !matches!(
            f,
            Field::ProviderName | Field::ProviderType | Field::CreatedAt | Field::UpdatedAt
        )
    })
}

impl CognitoObject for IdentityProviders {
    fn name(&self) -> &'static str {
        "identity_providers"
    }

    fn record_noun(&self) -> &'static str {
        "identity provider"
    }

    fn plan_column(&self, column: &ColumnDef) -> FdwResult<ColumnPlan> {
        plan_column(column)
    }

    fn import_columns(&self) -> &'static [(&'static str, &'static str)] {
        IMPORT_COLUMNS
    }

    fn operation(&self) -> &'static str {
        LIST
    }

    /// A Describe per record when a field beyond the listing's is read.
    fn requests_per_record(&self, fields: &[Field]) -> f64 {
        f64::from(u8::from(needs_describe(fields)))
    }

    fn request_line(&self, fields: &[Field], lookup: Option<&str>) -> String {
        match (lookup, needs_describe(fields)) {
            (Some(lookup), _) => lookup.to_owned(),
            (None, true) => format!("{LIST}, {DESCRIBE} per provider"),
            (None, false) => LIST.to_owned(),
        }
    }

    /// Both operations are metered as UserPoolResourceRead, with groups.
    fn quota_category(&self) -> Category {
        Category::UserPoolResourceRead
    }

    fn max_page_size(&self) -> i32 {
        MAX_PAGE_SIZE
    }

    fn request_cost(&self) -> f64 {
        REQUEST_COST
    }

    /// ListIdentityProviders filters on nothing; a name is described, one request per name.
    fn filter(&self, field: &Field) -> Option<Filter> {
        match field {
            Field::ProviderName => Some(Filter {
                attribute: "provider_name",
                selectivity: Selectivity::Unique,
                prefix: false,
                lookup: Some((DESCRIBE, MAX_PROVIDER_NAME)),
            }),
            _ => None,
        }
    }

    fn assumed_rows(&self) -> f64 {
        ASSUMED_PROVIDERS
    }

    fn open(&self, client: &CognitoClient, pace: &Pace, request: &ListRequest) -> Box<dyn Records> {
        let describe = pace.operation(Category::UserPoolResourceRead, DESCRIBE);
        // A filter is a provider name to describe; [None] lists every provider; no filter at
        // all (nothing can match) opens no stream.
        if request.filters.iter().all(Option::is_some) {
            let pagers = request
                .filters
                .iter()
                .flatten()
                .map(|name| ProviderPager::describe(client.clone(), name.clone()))
                .collect();
            return Box::new(Listing::new(describe, pagers, request.max_in_flight));
        }
        let list = pace.operation(Category::UserPoolResourceRead, LIST);
        let listing = Listing::new(
            list,
            vec![ProviderPager::list(client.clone(), request.page_size)],
            request.max_in_flight,
        );
        if !needs_describe(&request.fields) {
            return Box::new(listing);
        }
        let client = client.clone();
        Box::new(FanOut::new(
            listing,
            Listing::new(describe, Vec::new(), request.max_in_flight),
            move |listed: IdentityProvider| {
                vec![ProviderPager::describe(client.clone(), listed.name)]
            },
        ))
    }
}

/// The documented table, as IMPORT FOREIGN SCHEMA creates it.
pub const IMPORT_COLUMNS: &[(&str, &str)] = &[
    ("provider_name", "text"),
    ("provider_type", "text"),
    ("created_at", "timestamp"),
    ("updated_at", "timestamp"),
    ("attribute_mapping", "jsonb"),
    ("idp_identifiers", "text[]"),
    ("provider_details", "jsonb"),
];

fn field_of(name: &str) -> Option<(Field, &'static [crate::convert::ColumnType], &'static str)> {
    Some(match name {
        "provider_name" => (Field::ProviderName, TEXT, "provider name"),
        "provider_type" => (Field::ProviderType, TEXT, "provider type"),
        "created_at" => (Field::CreatedAt, TIME, "creation time"),
        "updated_at" => (Field::UpdatedAt, TIME, "last modification time"),
        "attribute_mapping" => (Field::AttributeMapping, DOCUMENT, "attribute mapping"),
        "idp_identifiers" => (Field::IdpIdentifiers, LIST_TYPES, "IdP identifiers"),
        "provider_details" => (Field::ProviderDetails, DOCUMENT, "provider details"),
        _ => return None,
    })
}

fn plan_column(column: &ColumnDef) -> FdwResult<ColumnPlan> {
    let named = super::Named {
        records: "identity providers",
        short: "identity providers",
        table: "an identity_providers table",
    };
    super::plan_named_column(column, field_of, IMPORT_COLUMNS, &named)
}

impl Record for IdentityProvider {
    fn identity(&self) -> &str {
        &self.name
    }

    fn value(&self, field: &Field) -> Value {
        match field {
            Field::ProviderName => return Value::Text(self.name.clone()),
            Field::ProviderType => {
                return self.provider_type.clone().map_or(Value::Null, Value::Text)
            }
            Field::CreatedAt => return self.created.map_or(Value::Null, Value::Time),
            Field::UpdatedAt => return self.modified.map_or(Value::Null, Value::Time),
            _ => {}
        }
        // The other fields come with a description, which the listing asks for whenever
        // one of them is read.
        let Some(d) = &self.described else {
            return Value::Null;
        };
        match field {
            Field::AttributeMapping => Value::Json(d.attribute_mapping.clone()),
            Field::IdpIdentifiers => Value::TextList(d.idp_identifiers.clone()),
            Field::ProviderDetails => Value::Json(d.provider_details.clone()),
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::ColumnType;
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
    fn documented_columns_take_their_documented_types() {
        let oid = |ty: &str| match ty {
            "text" => pg_sys::TEXTOID,
            "timestamp" => pg_sys::TIMESTAMPOID,
            "text[]" => pg_sys::TEXTARRAYOID,
            "jsonb" => pg_sys::JSONBOID,
            other => panic!("{other}"),
        };
        for (name, ty) in IMPORT_COLUMNS {
            let plan = plan_column(&col(name, oid(ty))).unwrap();
            assert_eq!(plan.ty.sql_name(), *ty, "{name}");
        }
        let plan = plan_column(&col("provider_details", pg_sys::TEXTOID)).unwrap();
        assert_eq!(
            (plan.field, plan.ty),
            (Field::ProviderDetails, ColumnType::Text)
        );
        let err = plan_column(&col("idp_identifiers", pg_sys::TEXTOID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_DATA_TYPE);
        let err = plan_column(&col("client_secret", pg_sys::TEXTOID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_COLUMN_NAME_NOT_FOUND);
    }

    #[test]
    fn only_mapping_identifiers_and_details_need_a_describe_per_provider() {
        let line = |fields: &[Field]| IdentityProviders.request_line(fields, None);
        assert_eq!(
            line(&[
                Field::ProviderName,
                Field::ProviderType,
                Field::CreatedAt,
                Field::UpdatedAt
            ]),
            "ListIdentityProviders"
        );
        for field in [
            Field::AttributeMapping,
            Field::IdpIdentifiers,
            Field::ProviderDetails,
        ] {
            assert_eq!(
                line(&[Field::ProviderName, field.clone()]),
                "ListIdentityProviders, DescribeIdentityProvider per provider",
                "{field:?}"
            );
        }
    }

    #[test]
    fn a_name_is_one_describe_per_value() {
        let c = |v: &str| Operand::Const(Some(v.into()));
        let candidates = rank(
            IDENTITY_PROVIDERS,
            &[Condition::Equals(Field::ProviderName, c("ExampleOIDC"))],
        );
        assert!(candidates[0].is_lookup());
        assert_eq!(
            candidates[0].lookup_operation(),
            Some("DescribeIdentityProvider")
        );
        assert_eq!(
            candidates[0].requests(&[Some("ExampleOIDC".into())]),
            Some(Requests::Filters(vec![Some("ExampleOIDC".into())]))
        );
        // Longer than any provider name: listed and checked locally.
        assert_eq!(candidates[0].requests(&[Some("x".repeat(33))]), None);
        assert!(rank(
            IDENTITY_PROVIDERS,
            &[Condition::Equals(Field::ProviderType, c("SAML"))]
        )
        .is_empty());
    }
}
