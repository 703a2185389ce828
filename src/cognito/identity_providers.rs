//! ListIdentityProviders, one page at a time, and DescribeIdentityProvider, one provider by
//! name.
//!
//! The secrets among a provider's details (an OIDC or social provider's `client_secret`, Sign
//! in with Apple's `private_key`) never leave this module: `without_secrets` drops them as
//! the answer is read.

use std::collections::HashMap;

use aws_sdk_cognitoidentityprovider::operation::list_identity_providers::ListIdentityProvidersOutput;
use aws_sdk_cognitoidentityprovider::types::{IdentityProviderType, ProviderDescription};
use serde_json::{Map, Value as Json};

use super::client::{call, CognitoClient};
use super::listing::{instant, Pager, TokensSeen};
use super::not_found::names_a_missing_record;
use super::rate::Limiter;
use crate::convert::Instant;
use crate::error::FdwResult;

/// An identity provider as the scan needs it, free of SDK types (and of secrets).
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityProvider {
    pub name: String,
    pub provider_type: Option<String>,
    pub created: Option<Instant>,
    pub modified: Option<Instant>,
    /// What DescribeIdentityProvider tells; None when the provider was only listed.
    pub described: Option<ProviderDetails>,
}

/// The part of a provider only DescribeIdentityProvider gives.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderDetails {
    /// User pool attribute to the provider's attribute, as a JSON object.
    pub attribute_mapping: Json,
    pub idp_identifiers: Vec<String>,
    /// The provider's details, as a JSON object, without its secrets.
    pub provider_details: Json,
}

/// Whether a key of a provider's details holds a secret, and so is never returned. AWS's
/// keys today are `client_secret` (OIDC, Google, Facebook, Login with Amazon) and
/// `private_key` (Sign in with Apple); SAML's (MetadataFile, MetadataURL, IDPSignout, ...)
/// hold none. Conservatively, any key whose name, ignoring case, `_` and `-`, contains
/// "secret", "password" or "privatekey", or is "key" alone, is dropped too, so that a key AWS
/// adds later for a secret is more likely dropped than shown. `key_id` and `team_id` name a
/// key, and stay.
pub fn is_secret_key(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    key == "key"
        || ["secret", "password", "privatekey"]
            .iter()
            .any(|s| key.contains(s))
}

/// A provider's details as a JSON object of strings, without its secrets.
pub fn without_secrets(details: HashMap<String, String>) -> Json {
    Json::Object(
        details
            .into_iter()
            .filter(|(key, _)| !is_secret_key(key))
            .map(|(key, value)| (key, Json::String(value)))
            .collect::<Map<_, _>>(),
    )
}

fn strings(map: HashMap<String, String>) -> Json {
    Json::Object(
        map.into_iter()
            .map(|(key, value)| (key, Json::String(value)))
            .collect(),
    )
}

impl From<ProviderDescription> for IdentityProvider {
    fn from(p: ProviderDescription) -> IdentityProvider {
        IdentityProvider {
            created: p.creation_date().map(instant),
            modified: p.last_modified_date().map(instant),
            provider_type: p.provider_type.map(|t| t.as_str().to_owned()),
            name: p.provider_name.unwrap_or_default(),
            described: None,
        }
    }
}

impl From<IdentityProviderType> for IdentityProvider {
    fn from(p: IdentityProviderType) -> IdentityProvider {
        IdentityProvider {
            created: p.creation_date().map(instant),
            modified: p.last_modified_date().map(instant),
            provider_type: p.provider_type.map(|t| t.as_str().to_owned()),
            name: p.provider_name.unwrap_or_default(),
            described: Some(ProviderDetails {
                attribute_mapping: strings(p.attribute_mapping.unwrap_or_default()),
                idp_identifiers: p.idp_identifiers.unwrap_or_default(),
                provider_details: without_secrets(p.provider_details.unwrap_or_default()),
            }),
        }
    }
}

/// One stream of identity providers: a whole ListIdentityProviders listing, or one
/// DescribeIdentityProvider of a name.
pub struct ProviderPager {
    client: CognitoClient,
    page_size: i32,
    /// Some: describe this one provider; None: list them all.
    name: Option<String>,
    token: Option<String>,
    tokens_seen: TokensSeen,
    finished: bool,
}

impl ProviderPager {
    /// A whole listing, `page_size` providers a request.
    pub fn list(client: CognitoClient, page_size: i32) -> ProviderPager {
        ProviderPager::new(client, page_size, None)
    }

    /// The one provider `name`, described.
    pub fn describe(client: CognitoClient, name: String) -> ProviderPager {
        ProviderPager::new(client, 1, Some(name))
    }

    fn new(client: CognitoClient, page_size: i32, name: Option<String>) -> ProviderPager {
        ProviderPager {
            client,
            page_size,
            name,
            token: None,
            tokens_seen: TokensSeen::default(),
            finished: false,
        }
    }

    /// DescribeIdentityProvider: the provider, or none when it does not exist.
    async fn describe_one(
        &mut self,
        name: &str,
        limiter: &Limiter,
    ) -> FdwResult<Vec<IdentityProvider>> {
        let client = &self.client;
        let result = call(
            client,
            limiter,
            |_| false,
            || {
                client
                    .sdk
                    .describe_identity_provider()
                    .user_pool_id(&client.user_pool_id)
                    .provider_name(name)
                    .send()
            },
        )
        .await;
        self.finished = true;
        match result {
            Ok(output) => Ok(output
                .identity_provider
                .map(IdentityProvider::from)
                .into_iter()
                .collect()),
            Err((err, _)) if names_a_missing_record(&err, &client.user_pool_id) => Ok(Vec::new()),
            Err((err, tried)) => Err(client.error("DescribeIdentityProvider", err, tried)),
        }
    }

    /// ListIdentityProviders: the next page, possibly empty; the listing ends when no token
    /// comes back.
    async fn list_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<IdentityProvider>> {
        let (client, page_size, token) = (&self.client, self.page_size, &self.token);
        let output = call(
            client,
            limiter,
            |output: &ListIdentityProvidersOutput| {
                output.providers().len() >= page_size.max(1) as usize
            },
            || {
                client
                    .sdk
                    .list_identity_providers()
                    .user_pool_id(&client.user_pool_id)
                    .max_results(page_size)
                    .set_next_token(token.clone())
                    .send()
            },
        )
        .await
        .map_err(|(err, tried)| client.error("ListIdentityProviders", err, tried))?;
        // Providers is a required member: the SDK reads an answer without it as an empty
        // list, so unlike ListUsers' a missing list cannot be told from an empty page.
        let providers = output.providers;
        self.token = output.next_token.filter(|t| !t.is_empty());
        self.tokens_seen
            .check(&self.client, "ListIdentityProviders", self.token.as_deref())?;
        self.finished = self.token.is_none();
        Ok(providers.into_iter().map(IdentityProvider::from).collect())
    }
}

impl Pager for ProviderPager {
    type Item = IdentityProvider;

    fn finished(&self) -> bool {
        self.finished
    }

    fn operation(&self) -> &'static str {
        match self.name {
            Some(_) => "DescribeIdentityProvider",
            None => "ListIdentityProviders",
        }
    }

    async fn next_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<IdentityProvider>> {
        if self.finished {
            return Ok(Vec::new());
        }
        match self.name.clone() {
            Some(name) => self.describe_one(&name, limiter).await,
            None => self.list_page(limiter).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use aws_smithy_runtime_api::client::http::{
        http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use serde_json::json;

    use pgrx::PgSqlErrorCode::*;

    use super::*;
    use crate::cognito::client::build_on;
    use crate::cognito::listing::Listing;
    use crate::options::ServerSettings;

    /// A server that gives its answers in order, one a request.
    #[derive(Debug, Clone)]
    struct Answers(Arc<Mutex<VecDeque<(u16, &'static str)>>>);

    impl HttpConnector for Answers {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let (status, body) = self
                .0
                .lock()
                .expect("not poisoned")
                .pop_front()
                .expect("no more requests than answers");
            let status = StatusCode::try_from(status).expect("a valid status");
            HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(body))))
        }
    }

    /// Every page of a ProviderPager for `name` (None: a listing) against a server giving
    /// `answers` in order, and the requests sent.
    fn pages(
        name: Option<&str>,
        answers: &[(u16, &'static str)],
    ) -> (FdwResult<Vec<IdentityProvider>>, u64) {
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
        let server = Answers(Arc::new(Mutex::new(answers.iter().copied().collect())));
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
        let key = format!("providers test {:?}", std::thread::current().id());
        let limiter = Limiter::new(&key, "us-east-1", "UserPoolResourceRead", 10_000);
        let pager = match name {
            Some(name) => ProviderPager::describe(client, name.to_owned()),
            None => ProviderPager::list(client, 60),
        };
        let mut listing = Listing::new(limiter, vec![pager], 1);
        let mut got = Vec::new();
        let result = runtime.block_on(async {
            while let Some(page) = listing.next_page().await {
                got.extend(page?);
            }
            Ok(got)
        });
        (result, listing.requests)
    }

    #[test]
    fn secrets_are_dropped_from_the_details() {
        for secret in [
            "client_secret",
            "CLIENT_SECRET",
            "private_key",
            "PrivateKey",
            "key",
            "signing-secret",
            "password",
        ] {
            assert!(is_secret_key(secret), "{secret}");
        }
        for kept in [
            "client_id",
            "key_id",
            "team_id",
            "authorize_scopes",
            "MetadataURL",
            "MetadataFile",
            "IDPSignout",
            "token_url",
            "jwks_uri",
        ] {
            assert!(!is_secret_key(kept), "{kept}");
        }
    }

    #[test]
    fn a_described_provider_keeps_everything_but_its_secrets() {
        let (found, requests) = pages(
            Some("ExampleOIDC"),
            &[(
                200,
                r#"{"IdentityProvider": {"ProviderName": "ExampleOIDC", "ProviderType": "OIDC",
                   "ProviderDetails": {"client_id": "cid", "client_secret": "s3cr3t",
                     "oidc_issuer": "https://login.example.net", "private_key": "pk"},
                   "AttributeMapping": {"email": "email"}, "IdpIdentifiers": ["example.com"],
                   "CreationDate": 1704067200}}"#,
            )],
        );
        let found = found.unwrap();
        assert_eq!(requests, 1);
        assert_eq!(found.len(), 1);
        let p = &found[0];
        assert_eq!(p.provider_type.as_deref(), Some("OIDC"));
        assert_eq!(p.created.unwrap().secs, 1_704_067_200);
        let d = p.described.as_ref().unwrap();
        assert_eq!(
            d.provider_details,
            json!({"client_id": "cid", "oidc_issuer": "https://login.example.net"})
        );
        assert_eq!(d.attribute_mapping, json!({"email": "email"}));
        assert_eq!(d.idp_identifiers, ["example.com"]);
        assert!(!format!("{p:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_missing_provider_is_no_row_and_a_missing_pool_an_error() {
        let (none, requests) = pages(
            Some("nobody"),
            &[(
                400,
                r#"{"__type": "ResourceNotFoundException", "message": "Identity provider nobody does not exist."}"#,
            )],
        );
        assert_eq!(none.unwrap(), Vec::new());
        assert_eq!(requests, 1);
        let (err, _) = pages(
            Some("nobody"),
            &[(
                400,
                r#"{"__type": "ResourceNotFoundException", "message": "User pool us-east-1_pool does not exist."}"#,
            )],
        );
        let err = err.unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_TABLE_NOT_FOUND);
        assert!(err
            .detail
            .unwrap()
            .contains("Cognito DescribeIdentityProvider"));
    }

    #[test]
    fn a_listing_pages_through_empty_pages_on_its_token() {
        let (providers, requests) = pages(
            None,
            &[
                (
                    200,
                    r#"{"Providers": [{"ProviderName": "a", "ProviderType": "SAML"}], "NextToken": "t1"}"#,
                ),
                (200, r#"{"Providers": [], "NextToken": "t2"}"#),
                (
                    200,
                    r#"{"Providers": [{"ProviderName": "b", "ProviderType": "Google", "CreationDate": 1}]}"#,
                ),
            ],
        );
        let providers = providers.unwrap();
        assert_eq!(requests, 3);
        let names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(providers[1].created.unwrap().secs, 1);
        assert_eq!(providers[1].described, None);
        let (looping, _) = pages(
            None,
            &[
                (200, r#"{"Providers": [], "NextToken": "t"}"#),
                (200, r#"{"Providers": [], "NextToken": "t"}"#),
            ],
        );
        assert!(looping
            .unwrap_err()
            .message
            .contains("sent a page token it had already sent"));
    }
}
