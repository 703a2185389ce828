//! `object 'app_clients'`: the app clients of a user pool, listed with ListUserPoolClients
//! and, when a column only DescribeUserPoolClient gives is read, described one by one; or
//! looked up by id with DescribeUserPoolClient. A client's secret is never read into a row:
//! `has_secret` says whether it has one.

use super::{
    CognitoObject, ColumnDef, ColumnPlan, Field, Filter, ListRequest, Object, Record, Records,
    Selectivity,
};
use crate::cognito::listing::FanOut;
use crate::cognito::quota::{Category, Pace};
use crate::cognito::{AppClient, ClientPager, CognitoClient, Listing};
use crate::convert::{ColumnType, Value};
use crate::error::FdwResult;

pub struct AppClients;

pub const APP_CLIENTS: Object = Object::new(&AppClients);

/// ListUserPoolClients returns at most 60 clients a request.
const MAX_PAGE_SIZE: i32 = 60;
/// Cost of one request, in the planner's units: as for ListUsers.
const REQUEST_COST: f64 = 100.0;
/// Clients assumed in a pool. Nothing counts them short of listing them all; a pool has one
/// client per application that signs users in (a web app, a mobile app, a back end or two),
/// so a few dozen at most is usual: 20 costs a listing at one page and keeps a lookup by id
/// the cheaper plan for a handful of ids.
const ASSUMED_CLIENTS: f64 = 20.0;
/// Cognito's client ids are 1 to 128 characters.
const MAX_CLIENT_ID: usize = 128;

const LIST: &str = "ListUserPoolClients";
const DESCRIBE: &str = "DescribeUserPoolClient";

/// Whether reading `fields` needs each client described: ListUserPoolClients gives only the
/// id and the name (and the pool).
fn needs_describe(fields: &[Field]) -> bool {
    fields
        .iter()
        .any(|f| !matches!(f, Field::ClientId | Field::ClientName))
}

/// Whether `id` may be a client id: Cognito's are word characters and `+` (AWS rejects any
/// other id with InvalidParameterException rather than answering that no such client exists).
fn may_be_client_id(id: &str) -> bool {
    id.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+')
}

impl CognitoObject for AppClients {
    fn name(&self) -> &'static str {
        "app_clients"
    }

    fn record_noun(&self) -> &'static str {
        "app client"
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
            (None, true) => format!("{LIST}, {DESCRIBE} per client"),
            (None, false) => LIST.to_owned(),
        }
    }

    /// Both operations are metered as UserPoolClientRead.
    fn quota_category(&self) -> Category {
        Category::UserPoolClientRead
    }

    fn max_page_size(&self) -> i32 {
        MAX_PAGE_SIZE
    }

    fn request_cost(&self) -> f64 {
        REQUEST_COST
    }

    /// ListUserPoolClients filters on nothing; an id is described, one request per id.
    fn filter(&self, field: &Field) -> Option<Filter> {
        match field {
            Field::ClientId => Some(Filter {
                attribute: "client_id",
                selectivity: Selectivity::Unique,
                prefix: false,
                lookup: Some((DESCRIBE, MAX_CLIENT_ID)),
            }),
            _ => None,
        }
    }

    fn assumed_rows(&self) -> f64 {
        ASSUMED_CLIENTS
    }

    fn open(&self, client: &CognitoClient, pace: &Pace, request: &ListRequest) -> Box<dyn Records> {
        let describe = pace.operation(Category::UserPoolClientRead, DESCRIBE);
        // A filter is a client id to describe; [None] lists every client; no filter at all
        // (nothing can match) opens no stream.
        if request.filters.iter().all(Option::is_some) {
            let pagers = request
                .filters
                .iter()
                .flatten()
                // No client has such an id: no request, no row.
                .filter(|id| may_be_client_id(id))
                .map(|id| ClientPager::describe(client.clone(), id.clone()))
                .collect();
            return Box::new(Listing::new(describe, pagers, request.max_in_flight));
        }
        let list = pace.operation(Category::UserPoolClientRead, LIST);
        let listing = Listing::new(
            list,
            vec![ClientPager::list(client.clone(), request.page_size)],
            request.max_in_flight,
        );
        if !needs_describe(&request.fields) {
            return Box::new(listing);
        }
        let client = client.clone();
        Box::new(FanOut::new(
            listing,
            Listing::new(describe, Vec::new(), request.max_in_flight),
            move |listed: AppClient| vec![ClientPager::describe(client.clone(), listed.id)],
        ))
    }
}

/// The documented table, as IMPORT FOREIGN SCHEMA creates it.
pub const IMPORT_COLUMNS: &[(&str, &str)] = &[
    ("client_id", "text"),
    ("client_name", "text"),
    ("created_at", "timestamp"),
    ("updated_at", "timestamp"),
    ("explicit_auth_flows", "text[]"),
    ("allowed_oauth_flows", "text[]"),
    ("allowed_oauth_scopes", "text[]"),
    ("callback_urls", "text[]"),
    ("logout_urls", "text[]"),
    ("supported_identity_providers", "text[]"),
    ("has_secret", "boolean"),
    ("details", "jsonb"),
];

pub(super) const TEXT: &[ColumnType] = &[ColumnType::Text];
pub(super) const TIME: &[ColumnType] = &[
    ColumnType::Timestamp,
    ColumnType::TimestampTz,
    ColumnType::Text,
];
/// A list: text[], or a JSON array.
pub(super) const LIST_TYPES: &[ColumnType] =
    &[ColumnType::TextArray, ColumnType::Jsonb, ColumnType::Json];
const FLAG: &[ColumnType] = &[ColumnType::Bool, ColumnType::Text];
pub(super) const DOCUMENT: &[ColumnType] = &[ColumnType::Jsonb, ColumnType::Json, ColumnType::Text];

fn field_of(name: &str) -> Option<(Field, &'static [ColumnType], &'static str)> {
    Some(match name {
        "client_id" => (Field::ClientId, TEXT, "client id"),
        "client_name" => (Field::ClientName, TEXT, "client name"),
        "created_at" => (Field::CreatedAt, TIME, "creation time"),
        "updated_at" => (Field::UpdatedAt, TIME, "last modification time"),
        "explicit_auth_flows" => (Field::ExplicitAuthFlows, LIST_TYPES, "explicit auth flows"),
        "allowed_oauth_flows" => (Field::AllowedOAuthFlows, LIST_TYPES, "allowed OAuth flows"),
        "allowed_oauth_scopes" => (
            Field::AllowedOAuthScopes,
            LIST_TYPES,
            "allowed OAuth scopes",
        ),
        "callback_urls" => (Field::CallbackUrls, LIST_TYPES, "callback URLs"),
        "logout_urls" => (Field::LogoutUrls, LIST_TYPES, "logout URLs"),
        "supported_identity_providers" => (
            Field::SupportedIdentityProviders,
            LIST_TYPES,
            "supported identity providers",
        ),
        "has_secret" => (Field::HasSecret, FLAG, "has-a-secret flag"),
        "details" => (Field::ClientDetails, DOCUMENT, "client details"),
        _ => return None,
    })
}

fn plan_column(column: &ColumnDef) -> FdwResult<ColumnPlan> {
    let named = super::Named {
        records: "app clients",
        short: "app clients",
        table: "an app_clients table",
    };
    super::plan_named_column(column, field_of, IMPORT_COLUMNS, &named)
}

impl Record for AppClient {
    fn identity(&self) -> &str {
        &self.id
    }

    fn value(&self, field: &Field) -> Value {
        match field {
            Field::ClientId => return Value::Text(self.id.clone()),
            Field::ClientName => return self.name.clone().map_or(Value::Null, Value::Text),
            _ => {}
        }
        // The other fields come with a description, which the listing asks for whenever
        // one of them is read.
        let Some(d) = &self.described else {
            return Value::Null;
        };
        let list = |l: &Vec<String>| Value::TextList(l.clone());
        match field {
            Field::CreatedAt => d.created.map_or(Value::Null, Value::Time),
            Field::UpdatedAt => d.modified.map_or(Value::Null, Value::Time),
            Field::ExplicitAuthFlows => list(&d.explicit_auth_flows),
            Field::AllowedOAuthFlows => list(&d.allowed_oauth_flows),
            Field::AllowedOAuthScopes => list(&d.allowed_oauth_scopes),
            Field::CallbackUrls => list(&d.callback_urls),
            Field::LogoutUrls => list(&d.logout_urls),
            Field::SupportedIdentityProviders => list(&d.supported_identity_providers),
            Field::HasSecret => Value::Bool(d.has_secret),
            Field::ClientDetails => Value::Json(d.details.clone()),
            _ => Value::Null,
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

    fn c(value: &str) -> Operand {
        Operand::Const(Some(value.into()))
    }

    #[test]
    fn documented_columns_take_their_documented_types() {
        let oid = |ty: &str| match ty {
            "text" => pg_sys::TEXTOID,
            "timestamp" => pg_sys::TIMESTAMPOID,
            "text[]" => pg_sys::TEXTARRAYOID,
            "boolean" => pg_sys::BOOLOID,
            "jsonb" => pg_sys::JSONBOID,
            other => panic!("{other}"),
        };
        for (name, ty) in IMPORT_COLUMNS {
            let plan = plan_column(&col(name, oid(ty))).unwrap();
            assert_eq!(plan.ty.sql_name(), *ty, "{name}");
        }
        let plan = plan_column(&col("callback_urls", pg_sys::JSONBOID)).unwrap();
        assert_eq!(
            (plan.field, plan.ty),
            (Field::CallbackUrls, ColumnType::Jsonb)
        );
        let plan = plan_column(&col("created_at", pg_sys::TIMESTAMPTZOID)).unwrap();
        assert_eq!(plan.ty, ColumnType::TimestampTz);
    }

    #[test]
    fn wrong_types_and_unknown_columns_are_refused() {
        let err = plan_column(&col("callback_urls", pg_sys::TEXTOID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_DATA_TYPE);
        assert_eq!(
            err.hint.as_deref(),
            Some("Declare it as text[], jsonb or json.")
        );
        let err = plan_column(&col("has_secret", pg_sys::INT4OID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_DATA_TYPE);
        let err = plan_column(&col("client_secret", pg_sys::TEXTOID)).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_COLUMN_NAME_NOT_FOUND);
        let mut mapped = col("client_id", pg_sys::TEXTOID);
        mapped.attribute = Some("custom:x".into());
        assert!(plan_column(&mapped).is_err());
    }

    #[test]
    fn only_columns_beyond_id_and_name_need_a_describe_per_client() {
        let line = |fields: &[Field]| AppClients.request_line(fields, None);
        assert_eq!(line(&[]), "ListUserPoolClients");
        assert_eq!(
            line(&[Field::ClientId, Field::ClientName]),
            "ListUserPoolClients"
        );
        for field in [
            Field::CreatedAt,
            Field::CallbackUrls,
            Field::HasSecret,
            Field::ClientDetails,
        ] {
            assert_eq!(
                line(&[Field::ClientId, field.clone()]),
                "ListUserPoolClients, DescribeUserPoolClient per client",
                "{field:?}"
            );
        }
        assert_eq!(
            AppClients.request_line(&[Field::ClientDetails], Some(DESCRIBE)),
            "DescribeUserPoolClient"
        );
    }

    #[test]
    fn an_id_is_one_describe_per_value_and_nothing_else_is_sent() {
        let candidates = rank(APP_CLIENTS, &[Condition::Equals(Field::ClientId, c("abc"))]);
        assert_eq!(candidates.len(), 1);
        assert!(candidates[0].is_lookup());
        assert_eq!(
            candidates[0].lookup_operation(),
            Some("DescribeUserPoolClient")
        );
        assert_eq!(
            candidates[0].requests(&[Some("abc".into()), Some("abc".into())]),
            Some(Requests::Filters(vec![Some("abc".into())]))
        );
        assert!(rank(
            APP_CLIENTS,
            &[
                Condition::Equals(Field::ClientName, c("web")),
                Condition::Like(Field::ClientId, c("ab%")),
            ]
        )
        .is_empty());
        assert!(may_be_client_id("4l9nq8cvd1f6e2hbd0o1tkd1p_+"));
        for never in ["a-b", "a.b", "ä", "it's"] {
            assert!(!may_be_client_id(never), "{never}");
        }
    }

    /// A server answering ListUserPoolClients with `pages` in order and
    /// DescribeUserPoolClient for any id with a client of that id (a secret for "s..." ids).
    #[derive(Debug, Clone)]
    struct Pool {
        pages: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<&'static str>>>,
    }

    impl aws_smithy_runtime_api::client::http::HttpConnector for Pool {
        fn call(
            &self,
            request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
            let target = request.headers().get("x-amz-target").unwrap_or_default();
            let body: serde_json::Value =
                serde_json::from_slice(request.body().bytes().unwrap_or_default())
                    .unwrap_or_default();
            let answer = if target.ends_with("ListUserPoolClients") {
                self.pages.lock().unwrap().pop_front().unwrap().to_owned()
            } else {
                let id = body["ClientId"].as_str().unwrap_or_default();
                let mut client = serde_json::json!({"ClientId": id, "ClientName": id,
                                                    "CallbackURLs": ["https://x/cb"]});
                if id.starts_with('s') {
                    client["ClientSecret"] = "never-shown".into();
                }
                serde_json::json!({ "UserPoolClient": client }).to_string()
            };
            aws_smithy_runtime_api::client::http::HttpConnectorFuture::ready(Ok(HttpResponse::new(
                200.try_into().unwrap(),
                aws_smithy_types::body::SdkBody::from(answer),
            )))
        }
    }

    /// Each record's identity and value of the last field, and the requests per operation.
    type Listed = (Vec<(String, Value)>, Vec<(&'static str, u64)>);

    /// Every record a listing of `fields` gives against `Pool`, and its requests per
    /// operation.
    fn list(fields: Vec<Field>, pages: &[&'static str]) -> Listed {
        use aws_smithy_runtime_api::client::http::{http_client_fn, SharedHttpConnector};
        let options: Vec<(String, String)> = [
            ("region", "us-east-1"),
            ("user_pool_id", "us-east-1_pool"),
            ("endpoint_url", "http://127.0.0.1:9"),
            ("aws_access_key_id", "AKIAEXAMPLE"),
            ("aws_secret_access_key", "x"),
            ("max_attempts", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let settings =
            crate::options::ServerSettings::resolve("srv", &options, &[]).expect("valid settings");
        let server = Pool {
            pages: std::sync::Arc::new(std::sync::Mutex::new(pages.iter().copied().collect())),
        };
        let http = http_client_fn(move |_, _| SharedHttpConnector::new(server.clone()));
        let client = crate::cognito::client::build_on(
            &settings,
            crate::cognito::client::static_keys("AKIAEXAMPLE", "x", None),
            http,
        );
        let request = ListRequest {
            filters: vec![None],
            filtered_on: None,
            fields: fields.clone(),
            attributes: None,
            page_size: 60,
            max_in_flight: 4,
        };
        let mut records = AppClients.open(&client, &Pace::new(&client, 10_000), &request);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut got = Vec::new();
        runtime.block_on(async {
            while let Some(page) = records.next_page().await {
                for record in page.expect("scripted pages do not fail") {
                    let last = fields.last().expect("a field");
                    got.push((record.identity().to_owned(), record.value(last)));
                }
            }
        });
        got.sort_by(|a, b| a.0.cmp(&b.0));
        (got, records.requests_by_operation())
    }

    const PAGES: &[&str] = &[
        r#"{"UserPoolClients": [{"ClientId": "s1"}, {"ClientId": "p2"}], "NextToken": "a"}"#,
        r#"{"UserPoolClients": [], "NextToken": "b"}"#,
        r#"{"UserPoolClients": [{"ClientId": "s3"}]}"#,
    ];

    #[test]
    fn names_are_listed_alone_and_other_fields_described_per_client() {
        let (got, requests) = list(vec![Field::ClientId, Field::ClientName], PAGES);
        let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["p2", "s1", "s3"], "through the empty page");
        assert_eq!(requests, [("ListUserPoolClients", 3)]);
        let (got, requests) = list(vec![Field::ClientId, Field::HasSecret], PAGES);
        assert_eq!(
            got,
            [
                ("p2".into(), Value::Bool(false)),
                ("s1".into(), Value::Bool(true)),
                ("s3".into(), Value::Bool(true)),
            ]
        );
        assert_eq!(
            requests,
            [("ListUserPoolClients", 3), ("DescribeUserPoolClient", 3)]
        );
        let (got, _) = list(vec![Field::ClientDetails], PAGES);
        for (id, details) in got {
            let Value::Json(details) = details else {
                panic!("{id}: {details:?}")
            };
            assert_eq!(details["ClientId"], id.as_str());
            assert!(!details.to_string().contains("never-shown"), "{details}");
        }
    }

    #[test]
    fn a_listed_client_gives_its_id_and_name_only() {
        let listed = AppClient {
            id: "abc".into(),
            name: Some("web".into()),
            described: None,
        };
        assert_eq!(listed.identity(), "abc");
        assert_eq!(listed.value(&Field::ClientName), Value::Text("web".into()));
        assert_eq!(listed.value(&Field::HasSecret), Value::Null);
    }
}
