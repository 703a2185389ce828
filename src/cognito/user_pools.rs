//! ListUserPools, one page at a time, and DescribeUserPool, one pool by id.

use std::sync::{Arc, Mutex};

use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::operation::list_user_pools::ListUserPoolsOutput;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeDataType, SchemaAttributeType, UserPoolDescriptionType, UserPoolType,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use pgrx::PgSqlErrorCode::*;
use serde_json::json;

use super::client::{call, CognitoClient};
use super::listing::{instant, Pager, TokensSeen};
use super::rate::Limiter;
use crate::convert::Instant;
use crate::error::{FdwError, FdwResult};

/// A pool as the scan needs it, free of SDK types. ListUserPools gives the first five fields;
/// the rest are only known from DescribeUserPool (`described`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserPool {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub created: Option<Instant>,
    pub modified: Option<Instant>,
    /// Whatever DescribeUserPool said, if it was asked.
    pub described: Option<Described>,
}

/// What DescribeUserPool adds to a listed pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub arn: Option<String>,
    pub estimated_users: i64,
    pub mfa_configuration: Option<String>,
    pub deletion_protection: Option<String>,
    pub tier: Option<String>,
    pub domain: Option<String>,
    pub custom_domain: Option<String>,
    pub username_attributes: Vec<String>,
    pub custom_attributes: Vec<CustomAttribute>,
    /// The answer's `UserPool` object as Cognito sent it (it holds no secret).
    pub details: Option<serde_json::Value>,
}

/// A custom attribute of a pool's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomAttribute {
    /// Without its `custom:` (or `dev:custom:`) prefix.
    pub name: String,
    /// The name users carry it under: `custom:tenant_id`.
    pub attribute: String,
    /// String, Number, DateTime or Boolean.
    pub data_type: String,
    pub mutable: Option<bool>,
    pub developer_only: bool,
    /// MinLength/MaxLength or MinValue/MaxValue, as numbers where they are.
    pub constraints: serde_json::Value,
}

impl CustomAttribute {
    /// The custom attribute a schema entry describes, if it is one.
    fn of(schema: &SchemaAttributeType) -> Option<CustomAttribute> {
        let attribute = schema.name()?;
        let (name, developer_only) = match attribute.strip_prefix("dev:custom:") {
            Some(name) => (name, true),
            None => (attribute.strip_prefix("custom:")?, false),
        };
        let number = |v: Option<&str>| match v {
            Some(text) => text
                .parse::<i64>()
                .map_or_else(|_| json!(text), |n| json!(n)),
            None => serde_json::Value::Null,
        };
        let mut constraints = serde_json::Map::new();
        if let Some(c) = schema.string_attribute_constraints() {
            constraints.insert("min_length".into(), number(c.min_length()));
            constraints.insert("max_length".into(), number(c.max_length()));
        }
        if let Some(c) = schema.number_attribute_constraints() {
            constraints.insert("min_value".into(), number(c.min_value()));
            constraints.insert("max_value".into(), number(c.max_value()));
        }
        constraints.retain(|_, v| !v.is_null());
        Some(CustomAttribute {
            name: name.to_owned(),
            attribute: attribute.to_owned(),
            data_type: schema
                .attribute_data_type()
                .map_or("String", AttributeDataType::as_str)
                .to_owned(),
            mutable: schema.mutable(),
            developer_only,
            constraints: serde_json::Value::Object(constraints),
        })
    }

    /// As the `custom_attributes` column lists it.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "type": self.data_type,
            "mutable": self.mutable,
            "developer_only": self.developer_only,
            "constraints": self.constraints,
        })
    }
}

fn text(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_owned)
}

// Cognito deprecated a pool's Status (it no longer sends it); the column stays, as documented,
// for an endpoint that still does.
#[allow(deprecated)]
impl From<UserPoolDescriptionType> for UserPool {
    fn from(p: UserPoolDescriptionType) -> UserPool {
        UserPool {
            name: text(p.name()),
            status: text(p.status().map(|s| s.as_str())),
            created: p.creation_date().map(instant),
            modified: p.last_modified_date().map(instant),
            id: p.id.unwrap_or_default(),
            described: None,
        }
    }
}

impl UserPool {
    /// A pool from DescribeUserPool's answer, and that answer's `UserPool` object as JSON.
    #[allow(deprecated)] // Status: as above.
    pub fn described(p: &UserPoolType, details: Option<serde_json::Value>) -> UserPool {
        UserPool {
            id: p.id().unwrap_or_default().to_owned(),
            name: text(p.name()),
            status: text(p.status().map(|s| s.as_str())),
            created: p.creation_date().map(instant),
            modified: p.last_modified_date().map(instant),
            described: Some(Described {
                arn: text(p.arn()),
                estimated_users: p.estimated_number_of_users().into(),
                mfa_configuration: text(p.mfa_configuration().map(|m| m.as_str())),
                deletion_protection: text(p.deletion_protection().map(|d| d.as_str())),
                tier: text(p.user_pool_tier().map(|t| t.as_str())),
                domain: text(p.domain()),
                custom_domain: text(p.custom_domain()),
                username_attributes: p
                    .username_attributes()
                    .iter()
                    .map(|a| a.as_str().to_owned())
                    .collect(),
                custom_attributes: p
                    .schema_attributes()
                    .iter()
                    .filter_map(CustomAttribute::of)
                    .collect(),
                details,
            }),
        }
    }
}

/// Keeps the body of the last answer a request read, for `details`: the SDK's types cannot
/// be written back as JSON, and the answer as sent is what `details` promises.
#[derive(Debug, Clone, Default)]
struct KeepBody(Arc<Mutex<Option<Vec<u8>>>>);

impl Intercept for KeepBody {
    fn name(&self) -> &'static str {
        "KeepBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The body of a non-streaming answer is in memory once deserialized.
        if let (Some(bytes), Ok(mut kept)) = (context.response().body().bytes(), self.0.lock()) {
            *kept = Some(bytes.to_vec());
        }
        Ok(())
    }
}

impl KeepBody {
    /// The `UserPool` object of the answer kept, if it was JSON.
    fn user_pool(&self) -> Option<serde_json::Value> {
        let body = self.0.lock().ok()?.take()?;
        let mut answer: serde_json::Value = serde_json::from_slice(&body).ok()?;
        Some(answer.get_mut("UserPool")?.take())
    }
}

/// Whether `id` is a pool id of `region`: only those can be pools that ListUserPools lists
/// there (an id of another region, or no id at all, is answered without a request).
pub fn names_pool_in(id: &str, region: &str) -> bool {
    crate::options::pool_region(id).is_ok_and(|prefix| prefix == region)
}

/// DescribeUserPool of `id`: the pool, or None when there is no such pool (a listing would
/// not return it either). An id that is not a pool id of the client's region names no pool
/// of the listing, and is answered so without a request.
pub async fn describe(
    client: &CognitoClient,
    id: &str,
    limiter: &Limiter,
) -> FdwResult<Option<UserPool>> {
    if !names_pool_in(id, &client.region) {
        return Ok(None);
    }
    let client = client.for_pool(Some(id));
    let body = KeepBody::default();
    let result = call(
        &client,
        limiter,
        |_| false,
        || {
            client
                .sdk
                .describe_user_pool()
                .user_pool_id(id)
                .customize()
                .interceptor(body.clone())
                .send()
        },
    )
    .await;
    match result {
        Ok(output) => Ok(output
            .user_pool()
            .map(|pool| UserPool::described(pool, body.user_pool()))),
        Err((SdkError::ServiceError(context), _))
            if context.err().code() == Some("ResourceNotFoundException") =>
        {
            Ok(None)
        }
        Err((err, tried)) => Err(client.error("DescribeUserPool", err, tried)),
    }
}

/// One stream of ListUserPools over the client's region.
pub struct PoolPager {
    client: CognitoClient,
    page_size: i32,
    token: Option<String>,
    tokens_seen: TokensSeen,
    finished: bool,
}

impl PoolPager {
    pub fn new(client: CognitoClient, page_size: i32) -> PoolPager {
        PoolPager {
            client,
            page_size,
            token: None,
            tokens_seen: TokensSeen::default(),
            finished: false,
        }
    }
}

impl Pager for PoolPager {
    type Item = UserPool;

    fn finished(&self) -> bool {
        self.finished
    }

    fn operation(&self) -> &'static str {
        "ListUserPools"
    }

    async fn next_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<UserPool>> {
        if self.finished {
            return Ok(Vec::new());
        }
        let (client, page_size, token) = (&self.client, self.page_size, &self.token);
        let output = call(
            client,
            limiter,
            |output: &ListUserPoolsOutput| output.user_pools().len() >= page_size.max(1) as usize,
            || {
                client
                    .sdk
                    .list_user_pools()
                    .max_results(page_size)
                    .set_next_token(token.clone())
                    .send()
            },
        )
        .await
        .map_err(|(err, tried)| client.error("ListUserPools", err, tried))?;
        // As for ListUsers: an answer without its list is broken, not the last page.
        let Some(pools) = output.user_pools else {
            return Err(FdwError::new(
                ERRCODE_FDW_ERROR,
                format!(
                    "Cognito ListUserPools answer from {} has no UserPools list",
                    client.endpoint
                ),
            )
            .with_detail(format!(
                "region {}; the listing stopped rather than end early",
                client.region
            )));
        };
        self.token = output.next_token.filter(|t| !t.is_empty());
        if let Some(token) = &self.token {
            if self.tokens_seen.repeated(token) {
                return Err(FdwError::new(
                    ERRCODE_FDW_ERROR,
                    format!(
                        "Cognito ListUserPools at {} sent a page token it had already sent in \
                         this listing",
                        self.client.endpoint
                    ),
                )
                .with_detail(format!(
                    "region {}, after {} pages; the listing stopped rather than loop",
                    self.client.region,
                    self.tokens_seen.pages() + 1
                )));
            }
        }
        self.finished = self.token.is_none();
        Ok(pools.into_iter().map(UserPool::from).collect())
    }
}

/// One DescribeUserPool: of a pool listed (whose listed fields it keeps where the description
/// lacks them), or of an id looked up.
pub struct DescribePager {
    client: CognitoClient,
    id: String,
    listed: Option<UserPool>,
    finished: bool,
}

impl DescribePager {
    pub fn new(client: CognitoClient, id: String) -> DescribePager {
        DescribePager {
            client,
            id,
            listed: None,
            finished: false,
        }
    }

    /// The description of a pool ListUserPools returned.
    pub fn of_listed(client: CognitoClient, listed: UserPool) -> DescribePager {
        DescribePager {
            client,
            id: listed.id.clone(),
            listed: Some(listed),
            finished: false,
        }
    }
}

impl Pager for DescribePager {
    type Item = UserPool;

    fn finished(&self) -> bool {
        self.finished
    }

    fn operation(&self) -> &'static str {
        "DescribeUserPool"
    }

    async fn next_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<UserPool>> {
        if self.finished {
            return Ok(Vec::new());
        }
        let found = describe(&self.client, &self.id, limiter).await;
        self.finished = true;
        Ok(found?
            .map(|mut pool| {
                // ListUserPools' Status is kept when the description has none.
                if let Some(listed) = self.listed.take() {
                    pool.status = pool.status.or(listed.status);
                    pool.name = pool.name.or(listed.name);
                }
                pool
            })
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::client::http::{
        http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;
    use crate::cognito::client::build_on;
    use crate::options::ServerSettings;

    /// A server that gives one answer to every request and counts them.
    #[derive(Debug, Clone)]
    struct Answers(u16, &'static str, Arc<Mutex<u32>>);

    impl HttpConnector for Answers {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            *self.2.lock().unwrap() += 1;
            let status = StatusCode::try_from(self.0).expect("a valid status");
            HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(self.1))))
        }
    }

    fn answering(status: u16, body: &'static str) -> (CognitoClient, Arc<Mutex<u32>>) {
        let options = crate::options::tests::opts(&[
            ("region", "us-east-1"),
            ("endpoint_url", "http://127.0.0.1:9"),
            ("aws_access_key_id", "AKIAEXAMPLE"),
            ("aws_secret_access_key", "x"),
            ("max_attempts", "1"),
        ]);
        let settings = ServerSettings::resolve("srv", &options, &[]).expect("valid settings");
        let sent = Arc::new(Mutex::new(0));
        let server = Answers(status, body, sent.clone());
        let http = http_client_fn(move |_, _| SharedHttpConnector::new(server.clone()));
        (
            build_on(
                &settings,
                crate::cognito::client::static_keys("AKIAEXAMPLE", "x", None),
                http,
            ),
            sent,
        )
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(f)
    }

    fn limiter() -> Limiter {
        let key = format!("pools test {:?}", std::thread::current().id());
        Limiter::new(&key, "us-east-1", "UserPoolRead", 10_000)
    }

    /// DescribeUserPool's answer as AWS documents it, with what moto does not send:
    /// CustomDomain, UserPoolTier, and a developer-only attribute.
    const DESCRIBED: &str = r#"{"UserPool": {
        "Id": "us-east-1_Abc", "Name": "shop", "Arn": "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_Abc",
        "CreationDate": 1704067200, "LastModifiedDate": 1704070800.5,
        "EstimatedNumberOfUsers": 42, "MfaConfiguration": "OPTIONAL",
        "DeletionProtection": "ACTIVE", "UserPoolTier": "PLUS",
        "Domain": "shop-auth", "CustomDomain": "auth.shop.example",
        "UsernameAttributes": ["email", "phone_number"],
        "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::1:role/sms", "ExternalId": "x-1"},
        "SchemaAttributes": [
          {"Name": "email", "AttributeDataType": "String", "Mutable": true},
          {"Name": "custom:tenant_id", "AttributeDataType": "String", "Mutable": false,
           "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}},
          {"Name": "custom:seats", "AttributeDataType": "Number", "Mutable": true,
           "NumberAttributeConstraints": {"MinValue": "0"}},
          {"Name": "dev:custom:internal", "AttributeDataType": "Boolean", "DeveloperOnlyAttribute": true}
        ]}}"#;

    #[test]
    fn a_description_gives_every_column_and_the_answer_as_sent() {
        let (client, sent) = answering(200, DESCRIBED);
        let pool = run(describe(&client, "us-east-1_Abc", &limiter()))
            .unwrap()
            .expect("a pool");
        assert_eq!(*sent.lock().unwrap(), 1);
        assert_eq!(pool.id, "us-east-1_Abc");
        assert_eq!(pool.status, None);
        assert_eq!(pool.modified.map(|m| m.nanos), Some(500_000_000));
        let d = pool.described.expect("described");
        assert_eq!(d.estimated_users, 42);
        assert_eq!(
            (d.tier.as_deref(), d.custom_domain.as_deref()),
            (Some("PLUS"), Some("auth.shop.example"))
        );
        assert_eq!(d.deletion_protection.as_deref(), Some("ACTIVE"));
        assert_eq!(d.username_attributes, ["email", "phone_number"]);
        let custom: Vec<serde_json::Value> = d
            .custom_attributes
            .iter()
            .map(CustomAttribute::to_json)
            .collect();
        assert_eq!(
            serde_json::Value::from(custom),
            json!([
                {"name": "tenant_id", "type": "String", "mutable": false, "developer_only": false,
                 "constraints": {"min_length": 1, "max_length": 64}},
                {"name": "seats", "type": "Number", "mutable": true, "developer_only": false,
                 "constraints": {"min_value": 0}},
                {"name": "internal", "type": "Boolean", "mutable": null, "developer_only": true,
                 "constraints": {}}
            ])
        );
        assert_eq!(d.custom_attributes[0].attribute, "custom:tenant_id");
        let details = d.details.expect("details");
        assert_eq!(details["Domain"], "shop-auth");
        assert_eq!(details["SmsConfiguration"]["ExternalId"], "x-1");
    }

    #[test]
    fn a_missing_pool_is_no_row_and_an_id_of_another_region_is_not_asked() {
        let (client, sent) = answering(
            400,
            r#"{"__type": "ResourceNotFoundException", "message": "User pool us-east-1_Gone does not exist."}"#,
        );
        assert_eq!(
            run(describe(&client, "us-east-1_Gone", &limiter())).unwrap(),
            None
        );
        assert_eq!(*sent.lock().unwrap(), 1);
        for never in ["eu-west-1_Abc", "nothing", "us-east-1_", "us-east-1_a-b"] {
            assert_eq!(run(describe(&client, never, &limiter())).unwrap(), None);
        }
        assert_eq!(*sent.lock().unwrap(), 1, "no request for an id of no pool");
        let (client, _) = answering(
            400,
            r#"{"__type": "NotAuthorizedException", "message": "denied"}"#,
        );
        let err = run(describe(&client, "us-east-1_Abc", &limiter())).unwrap_err();
        assert_eq!(err.code, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION);
        assert!(err
            .detail
            .unwrap()
            .contains("Cognito DescribeUserPool on user pool us-east-1_Abc"));
    }

    #[test]
    fn a_listing_pages_on_its_token_and_needs_its_list() {
        let page = |status, body| {
            let (client, _) = answering(status, body);
            let mut pager = PoolPager::new(client, 60);
            let page = run(pager.next_page(&limiter()));
            (page, pager.finished())
        };
        let (pools, finished) = page(
            200,
            r#"{"UserPools": [{"Id": "us-east-1_A", "Name": "a", "CreationDate": 1704067200},
                {"Id": "us-east-1_B", "Name": "b", "Status": "Enabled"}], "NextToken": "t"}"#,
        );
        let pools = pools.unwrap();
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[1].status.as_deref(), Some("Enabled"));
        assert!(pools[0].described.is_none());
        assert!(!finished);
        let (empty, finished) = page(200, r#"{"UserPools": [], "NextToken": "u"}"#);
        assert_eq!(empty.unwrap(), Vec::new());
        assert!(!finished, "an empty page with a token is not the end");
        let (last, finished) = page(200, r#"{"UserPools": []}"#);
        assert_eq!(last.unwrap(), Vec::new());
        assert!(finished);
        let (broken, _) = page(200, r#"{}"#);
        assert!(broken
            .unwrap_err()
            .message
            .contains("has no UserPools list"));
        let (denied, _) = page(
            400,
            r#"{"__type": "AccessDeniedException", "message": "no"}"#,
        );
        assert!(denied
            .unwrap_err()
            .detail
            .unwrap()
            .contains("Cognito ListUserPools in region us-east-1 answered HTTP 400"));
    }
}
