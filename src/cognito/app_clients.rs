//! ListUserPoolClients, one page at a time, and DescribeUserPoolClient, one client by id.
//!
//! A client's secret never leaves this module: the record keeps only whether there is one.

use aws_sdk_cognitoidentityprovider::operation::list_user_pool_clients::ListUserPoolClientsOutput;
use aws_sdk_cognitoidentityprovider::types::{UserPoolClientDescription, UserPoolClientType};
use serde_json::{json, Map, Value as Json};

use super::client::{call, CognitoClient};
use super::listing::{instant, Pager, TokensSeen};
use super::not_found::names_a_missing_record;
use super::rate::Limiter;
use crate::convert::Instant;
use crate::error::FdwResult;

/// An app client as the scan needs it, free of SDK types (and of its secret).
#[derive(Debug, Clone, PartialEq)]
pub struct AppClient {
    pub id: String,
    pub name: Option<String>,
    /// What DescribeUserPoolClient tells; None when the client was only listed.
    pub described: Option<ClientDetails>,
}

/// The part of a client only DescribeUserPoolClient gives.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientDetails {
    pub created: Option<Instant>,
    pub modified: Option<Instant>,
    pub explicit_auth_flows: Vec<String>,
    pub allowed_oauth_flows: Vec<String>,
    pub allowed_oauth_scopes: Vec<String>,
    pub callback_urls: Vec<String>,
    pub logout_urls: Vec<String>,
    pub supported_identity_providers: Vec<String>,
    pub has_secret: bool,
    /// The whole UserPoolClient answer but its secret, keys as AWS names them.
    pub details: Json,
}

impl From<UserPoolClientDescription> for AppClient {
    fn from(c: UserPoolClientDescription) -> AppClient {
        AppClient {
            id: c.client_id.unwrap_or_default(),
            name: c.client_name,
            described: None,
        }
    }
}

impl From<UserPoolClientType> for AppClient {
    fn from(c: UserPoolClientType) -> AppClient {
        let strings = |list: &[String]| list.to_vec();
        let described = ClientDetails {
            created: c.creation_date().map(instant),
            modified: c.last_modified_date().map(instant),
            explicit_auth_flows: c
                .explicit_auth_flows()
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
            allowed_oauth_flows: c
                .allowed_o_auth_flows()
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
            allowed_oauth_scopes: strings(c.allowed_o_auth_scopes()),
            callback_urls: strings(c.callback_urls()),
            logout_urls: strings(c.logout_urls()),
            supported_identity_providers: strings(c.supported_identity_providers()),
            has_secret: c.client_secret().is_some_and(|s| !s.is_empty()),
            details: details(&c),
        };
        AppClient {
            id: c.client_id.unwrap_or_default(),
            name: c.client_name,
            described: Some(described),
        }
    }
}

/// A time inside `details`: the text `timestamptz` reads back (`2024-01-02 03:04:05+00`).
fn time(d: &aws_smithy_types::DateTime) -> Json {
    Json::String(instant(d).utc_text())
}

/// The UserPoolClient answer as JSON, keys as AWS names them, fields AWS left out left out.
/// Built field by field rather than from a serialisation of the SDK type, so that a field
/// added to the SDK later (perhaps another secret) appears only once it is written here;
/// `ClientSecret` is never written.
fn details(c: &UserPoolClientType) -> Json {
    let mut m = Map::new();
    let mut put = |key: &str, value: Option<Json>| {
        if let Some(value) = value {
            m.insert(key.to_owned(), value);
        }
    };
    let list = |l: &Option<Vec<String>>| l.as_ref().map(|l| json!(l));
    put("UserPoolId", c.user_pool_id.as_ref().map(|v| json!(v)));
    put("ClientName", c.client_name.as_ref().map(|v| json!(v)));
    put("ClientId", c.client_id.as_ref().map(|v| json!(v)));
    put("LastModifiedDate", c.last_modified_date.as_ref().map(time));
    put("CreationDate", c.creation_date.as_ref().map(time));
    put(
        "RefreshTokenValidity",
        Some(json!(c.refresh_token_validity)),
    );
    put(
        "AccessTokenValidity",
        c.access_token_validity.map(|v| json!(v)),
    );
    put("IdTokenValidity", c.id_token_validity.map(|v| json!(v)));
    put(
        "TokenValidityUnits",
        c.token_validity_units.as_ref().map(|u| {
            let unit = |t: Option<&aws_sdk_cognitoidentityprovider::types::TimeUnitsType>| {
                t.map(|t| json!(t.as_str()))
            };
            let mut units = Map::new();
            for (key, value) in [
                ("AccessToken", unit(u.access_token())),
                ("IdToken", unit(u.id_token())),
                ("RefreshToken", unit(u.refresh_token())),
            ] {
                if let Some(value) = value {
                    units.insert(key.to_owned(), value);
                }
            }
            Json::Object(units)
        }),
    );
    put("ReadAttributes", list(&c.read_attributes));
    put("WriteAttributes", list(&c.write_attributes));
    put(
        "ExplicitAuthFlows",
        c.explicit_auth_flows
            .as_ref()
            .map(|l| json!(l.iter().map(|f| f.as_str()).collect::<Vec<_>>())),
    );
    put(
        "SupportedIdentityProviders",
        list(&c.supported_identity_providers),
    );
    put("CallbackURLs", list(&c.callback_urls));
    put("LogoutURLs", list(&c.logout_urls));
    put(
        "DefaultRedirectURI",
        c.default_redirect_uri.as_ref().map(|v| json!(v)),
    );
    put(
        "AllowedOAuthFlows",
        c.allowed_o_auth_flows
            .as_ref()
            .map(|l| json!(l.iter().map(|f| f.as_str()).collect::<Vec<_>>())),
    );
    put("AllowedOAuthScopes", list(&c.allowed_o_auth_scopes));
    put(
        "AllowedOAuthFlowsUserPoolClient",
        c.allowed_o_auth_flows_user_pool_client.map(|v| json!(v)),
    );
    put(
        "AnalyticsConfiguration",
        c.analytics_configuration.as_ref().map(|a| {
            let mut out = Map::new();
            for (key, value) in [
                ("ApplicationId", a.application_id.as_ref()),
                ("ApplicationArn", a.application_arn.as_ref()),
                ("RoleArn", a.role_arn.as_ref()),
                ("ExternalId", a.external_id.as_ref()),
            ] {
                if let Some(value) = value {
                    out.insert(key.to_owned(), json!(value));
                }
            }
            out.insert("UserDataShared".to_owned(), json!(a.user_data_shared));
            Json::Object(out)
        }),
    );
    put(
        "PreventUserExistenceErrors",
        c.prevent_user_existence_errors
            .as_ref()
            .map(|v| json!(v.as_str())),
    );
    put(
        "EnableTokenRevocation",
        c.enable_token_revocation.map(|v| json!(v)),
    );
    put(
        "EnablePropagateAdditionalUserContextData",
        c.enable_propagate_additional_user_context_data
            .map(|v| json!(v)),
    );
    put(
        "AuthSessionValidity",
        c.auth_session_validity.map(|v| json!(v)),
    );
    put(
        "RefreshTokenRotation",
        c.refresh_token_rotation.as_ref().map(|r| {
            let mut out = Map::new();
            out.insert("Feature".to_owned(), json!(r.feature.as_str()));
            if let Some(grace) = r.retry_grace_period_seconds {
                out.insert("RetryGracePeriodSeconds".to_owned(), json!(grace));
            }
            Json::Object(out)
        }),
    );
    Json::Object(m)
}

/// One stream of app clients: a whole ListUserPoolClients listing, or one
/// DescribeUserPoolClient of an id.
pub struct ClientPager {
    client: CognitoClient,
    page_size: i32,
    /// Some: describe this one client; None: list them all.
    id: Option<String>,
    token: Option<String>,
    tokens_seen: TokensSeen,
    finished: bool,
}

impl ClientPager {
    /// A whole listing, `page_size` clients a request.
    pub fn list(client: CognitoClient, page_size: i32) -> ClientPager {
        ClientPager::new(client, page_size, None)
    }

    /// The one client `id`, described.
    pub fn describe(client: CognitoClient, id: String) -> ClientPager {
        ClientPager::new(client, 1, Some(id))
    }

    fn new(client: CognitoClient, page_size: i32, id: Option<String>) -> ClientPager {
        ClientPager {
            client,
            page_size,
            id,
            token: None,
            tokens_seen: TokensSeen::default(),
            finished: false,
        }
    }

    /// DescribeUserPoolClient: the client, or none when it does not exist.
    async fn describe_one(&mut self, id: &str, limiter: &Limiter) -> FdwResult<Vec<AppClient>> {
        let client = &self.client;
        let result = call(
            client,
            limiter,
            |_| false,
            || {
                client
                    .sdk
                    .describe_user_pool_client()
                    .user_pool_id(&client.user_pool_id)
                    .client_id(id)
                    .send()
            },
        )
        .await;
        self.finished = true;
        match result {
            Ok(output) => Ok(output
                .user_pool_client
                .map(AppClient::from)
                .into_iter()
                .collect()),
            Err((err, _)) if names_a_missing_record(&err, &client.user_pool_id) => Ok(Vec::new()),
            Err((err, tried)) => Err(client.error("DescribeUserPoolClient", err, tried)),
        }
    }

    /// ListUserPoolClients: the next page, possibly empty; the listing ends when no token
    /// comes back.
    async fn list_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<AppClient>> {
        let (client, page_size, token) = (&self.client, self.page_size, &self.token);
        let output = call(
            client,
            limiter,
            |output: &ListUserPoolClientsOutput| {
                output.user_pool_clients().len() >= page_size.max(1) as usize
            },
            || {
                client
                    .sdk
                    .list_user_pool_clients()
                    .user_pool_id(&client.user_pool_id)
                    .max_results(page_size)
                    .set_next_token(token.clone())
                    .send()
            },
        )
        .await
        .map_err(|(err, tried)| client.error("ListUserPoolClients", err, tried))?;
        // As for ListUsers: an answer without its list is broken, not the last page.
        let Some(clients) = output.user_pool_clients else {
            return Err(client.missing_list("ListUserPoolClients", "UserPoolClients"));
        };
        self.token = output.next_token.filter(|t| !t.is_empty());
        self.tokens_seen
            .check(&self.client, "ListUserPoolClients", self.token.as_deref())?;
        self.finished = self.token.is_none();
        Ok(clients.into_iter().map(AppClient::from).collect())
    }
}

impl Pager for ClientPager {
    type Item = AppClient;

    fn finished(&self) -> bool {
        self.finished
    }

    fn operation(&self) -> &'static str {
        match self.id {
            Some(_) => "DescribeUserPoolClient",
            None => "ListUserPoolClients",
        }
    }

    async fn next_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<AppClient>> {
        if self.finished {
            return Ok(Vec::new());
        }
        match self.id.clone() {
            Some(id) => self.describe_one(&id, limiter).await,
            None => self.list_page(limiter).await,
        }
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

    use pgrx::PgSqlErrorCode::*;

    use super::*;
    use crate::cognito::client::build_on;
    use crate::options::ServerSettings;

    /// A server that gives one answer to every request.
    #[derive(Debug, Clone)]
    struct Answers(u16, &'static str);

    impl HttpConnector for Answers {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let status = StatusCode::try_from(self.0).expect("a valid status");
            HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(self.1))))
        }
    }

    /// One page of a ClientPager for `id` (None: a listing) against a server answering so.
    fn page(
        id: Option<&str>,
        status: u16,
        body: &'static str,
    ) -> (FdwResult<Vec<AppClient>>, bool) {
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
        let settings = ServerSettings::resolve("srv", &options, &[]).expect("valid settings");
        let server = Answers(status, body);
        let http = http_client_fn(move |_, _| SharedHttpConnector::new(server.clone()));
        let client = build_on(
            &settings,
            crate::cognito::client::static_keys("AKIAEXAMPLE", "x", None),
            http,
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let key = format!("clients test {:?}", std::thread::current().id());
        let limiter = Limiter::new(&key, "us-east-1", "UserPoolClientRead", 10_000);
        let mut pager = match id {
            Some(id) => ClientPager::describe(client, id.to_owned()),
            None => ClientPager::list(client, 60),
        };
        let page = runtime.block_on(pager.next_page(&limiter));
        (page, pager.finished())
    }

    const DESCRIBED: &str = r#"{"UserPoolClient": {
        "UserPoolId": "us-east-1_pool", "ClientName": "web", "ClientId": "abc123",
        "ClientSecret": "s3cr3t-never-shown", "CreationDate": 1704067200,
        "LastModifiedDate": 1704070800.5, "RefreshTokenValidity": 30,
        "TokenValidityUnits": {"AccessToken": "hours"},
        "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
        "AllowedOAuthFlows": ["code", "implicit"], "AllowedOAuthScopes": ["openid"],
        "CallbackURLs": ["https://a.example/cb"], "AllowedOAuthFlowsUserPoolClient": true,
        "RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 10}}}"#;

    #[test]
    fn a_described_client_keeps_everything_but_its_secret() {
        let (found, finished) = page(Some("abc123"), 200, DESCRIBED);
        let found = found.unwrap();
        assert!(finished);
        assert_eq!(found.len(), 1);
        let c = &found[0];
        assert_eq!((c.id.as_str(), c.name.as_deref()), ("abc123", Some("web")));
        let d = c.described.as_ref().unwrap();
        assert!(d.has_secret);
        assert_eq!(d.allowed_oauth_flows, ["code", "implicit"]);
        assert_eq!(d.callback_urls, ["https://a.example/cb"]);
        assert!(d.logout_urls.is_empty());
        assert_eq!(d.created.unwrap().secs, 1_704_067_200);
        assert_eq!(d.details["ClientId"], "abc123");
        assert_eq!(d.details["CreationDate"], "2024-01-01 00:00:00+00");
        assert_eq!(d.details["LastModifiedDate"], "2024-01-01 01:00:00.5+00");
        assert_eq!(
            d.details["TokenValidityUnits"],
            json!({"AccessToken": "hours"})
        );
        assert_eq!(d.details["RefreshTokenRotation"]["Feature"], "ENABLED");
        assert_eq!(d.details["CallbackURLs"], json!(["https://a.example/cb"]));
        assert!(d.details.get("LogoutURLs").is_none());
        assert!(d.details.get("ClientSecret").is_none());
        // Nowhere, not in any value, not in the record's Debug text.
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_missing_client_is_no_row_and_a_missing_pool_an_error() {
        for message in ["User pool client abc123 does not exist.", "abc123"] {
            let body: &'static str = Box::leak(
                format!(r#"{{"__type": "ResourceNotFoundException", "message": "{message}"}}"#)
                    .into_boxed_str(),
            );
            let (none, finished) = page(Some("abc123"), 400, body);
            assert_eq!(none.unwrap(), Vec::new(), "{message}");
            assert!(finished);
        }
        let (err, _) = page(
            Some("abc123"),
            400,
            r#"{"__type": "ResourceNotFoundException", "message": "User pool us-east-1_pool does not exist."}"#,
        );
        let err = err.unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_TABLE_NOT_FOUND);
        assert!(err
            .detail
            .unwrap()
            .contains("Cognito DescribeUserPoolClient"));
    }

    #[test]
    fn a_listing_pages_on_its_token_and_needs_its_list() {
        let (clients, finished) = page(
            None,
            200,
            r#"{"UserPoolClients": [{"ClientId": "a", "ClientName": "web"}, {"ClientId": "b"}], "NextToken": "t"}"#,
        );
        let clients = clients.unwrap();
        assert_eq!(clients.len(), 2);
        assert_eq!(clients[0].name.as_deref(), Some("web"));
        assert_eq!(clients[1].described, None);
        assert!(!finished);
        let (last, finished) = page(None, 200, r#"{"UserPoolClients": []}"#);
        assert_eq!(last.unwrap(), Vec::new());
        assert!(finished);
        let (broken, _) = page(None, 200, r#"{}"#);
        assert!(broken
            .unwrap_err()
            .message
            .contains("has no UserPoolClients list"));
    }
}
