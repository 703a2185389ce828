//! ListUsers, one page at a time.

use aws_sdk_cognitoidentityprovider::types::UserType;

use super::client::CognitoClient;
use crate::convert::Instant;
use pgrx::PgSqlErrorCode::*;

use crate::error::{FdwError, FdwResult};

/// A user as the scan needs it, free of SDK types.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub username: String,
    pub attributes: Vec<(String, String)>,
    pub created: Option<Instant>,
    pub modified: Option<Instant>,
    pub enabled: bool,
    pub status: Option<String>,
}

impl From<UserType> for User {
    fn from(u: UserType) -> User {
        let instant = |d: &aws_smithy_types::DateTime| Instant {
            secs: d.secs(),
            nanos: d.subsec_nanos(),
        };
        User {
            created: u.user_create_date().map(instant),
            modified: u.user_last_modified_date().map(instant),
            enabled: u.enabled(),
            status: u.user_status().map(|s| s.as_str().to_owned()),
            username: u.username.unwrap_or_default(),
            attributes: u
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|a| (a.name, a.value.unwrap_or_default()))
                .collect(),
        }
    }
}

/// Where a ListUsers listing stands. It holds no page: each call hands its page to the caller,
/// so a scan keeps at most one page of users however large the pool.
pub struct UserPager {
    client: CognitoClient,
    page_size: i32,
    filter: Option<String>,
    token: Option<String>,
    finished: bool,
}

impl UserPager {
    pub fn new(client: CognitoClient, page_size: i32, filter: Option<String>) -> UserPager {
        UserPager {
            client,
            page_size,
            filter,
            token: None,
            finished: false,
        }
    }

    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The next page, possibly empty: Cognito may send an empty page that still carries a
    /// token, and the listing ends only when no token comes back.
    pub async fn next_page(&mut self) -> FdwResult<Vec<User>> {
        if self.finished {
            return Ok(Vec::new());
        }
        let output = self
            .client
            .sdk
            .list_users()
            .user_pool_id(&self.client.user_pool_id)
            .limit(self.page_size)
            .set_filter(self.filter.clone())
            .set_pagination_token(self.token.take())
            .send()
            .await
            .map_err(|e| self.client.error("ListUsers", e))?;
        // Cognito always sends a Users list, empty or not. An answer without one is broken (a
        // proxy's or a server's fault): taking it for the last page would present a short
        // result as complete.
        let Some(users) = output.users else {
            return Err(FdwError::new(
                ERRCODE_FDW_ERROR,
                format!(
                    "Cognito ListUsers answer from {} has no Users list",
                    self.client.endpoint
                ),
            )
            .with_detail(format!(
                "user pool {}; the listing stopped rather than end early",
                self.client.user_pool_id
            )));
        };
        self.token = output.pagination_token.filter(|t| !t.is_empty());
        self.finished = self.token.is_none();
        Ok(users.into_iter().map(User::from).collect())
    }
}

/// The response reader: whatever a server answers, reading it never panics; a well-formed page
/// reads back as exactly the users and token it holds, and each of their values either fits a
/// column or is refused with a reason.
#[cfg(test)]
mod properties {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use aws_smithy_runtime_api::client::http::{
        http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::DateTime;
    use proptest::prelude::*;
    use serde_json::{json, Value as Json};

    use super::*;
    use crate::cognito::client::build_on;
    use crate::convert::{prepare, ColumnType, Ready};
    use crate::objects::{Field, Item};
    use crate::options::ServerSettings;

    /// An HTTP status and body.
    type Answer = (u16, Vec<u8>);

    /// A server that gives the answers in order, repeating the last, and counts requests.
    #[derive(Debug, Clone)]
    struct Scripted {
        answers: Arc<Mutex<Vec<Answer>>>,
        calls: Arc<AtomicUsize>,
    }

    impl HttpConnector for Scripted {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut answers = self.answers.lock().expect("not poisoned");
            let (status, body) = match answers.len() {
                1 => answers[0].clone(),
                _ => answers.remove(0),
            };
            let status = StatusCode::try_from(status).expect("a valid status");
            HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(body))))
        }
    }

    /// One ListUsers call, as the scan makes it, against a server giving `answers`; with
    /// the page, whether the listing is finished and how many requests were sent.
    fn call_with(answers: Vec<Answer>, max_attempts: u32) -> (FdwResult<Vec<User>>, bool, usize) {
        let server = Scripted {
            answers: Arc::new(Mutex::new(answers)),
            calls: Arc::new(AtomicUsize::new(0)),
        };
        let calls = server.calls.clone();
        let options = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let settings = ServerSettings::resolve(
            "srv",
            &options(&[
                ("region", "us-east-1"),
                ("user_pool_id", "us-east-1_pool"),
                ("endpoint_url", "http://127.0.0.1:9"),
                ("aws_access_key_id", "AKIAEXAMPLE"),
                ("aws_secret_access_key", "x"),
                ("max_attempts", &max_attempts.to_string()),
                ("max_backoff_ms", "1"),
            ]),
            &[],
        )
        .expect("valid settings");
        let http = http_client_fn(move |_, _| SharedHttpConnector::new(server.clone()));
        let client = build_on(&settings, "x", http);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut pager = UserPager::new(client, 60, None);
        let page = runtime.block_on(pager.next_page());
        (page, pager.finished(), calls.load(Ordering::SeqCst))
    }

    /// One ListUsers call answered with `status` and `body`, tried once.
    fn read_page(status: u16, body: Vec<u8>) -> (FdwResult<Vec<User>>, bool) {
        let (page, finished, _) = call_with(vec![(status, body)], 1);
        (page, finished)
    }

    #[test]
    fn throttling_and_server_errors_are_retried_and_the_rest_fails_at_once() {
        let ok = br#"{"Users": [{"Username": "ada"}]}"#.to_vec();
        let throttled =
            br#"{"__type": "TooManyRequestsException", "message": "Rate exceeded"}"#.to_vec();
        for failure in [
            (400, throttled),
            (429, br#"{"message": "Too Many Requests"}"#.to_vec()),
            (500, br#"{"__type": "InternalErrorException"}"#.to_vec()),
            (503, b"<html>busy</html>".to_vec()),
        ] {
            let status = failure.0;
            let (page, _, calls) = call_with(vec![failure.clone(), failure, (200, ok.clone())], 3);
            assert_eq!(page.map(|users| users.len()), Ok(1), "HTTP {status}");
            assert_eq!(calls, 3, "HTTP {status}");
        }
        // Retrying cannot fix these: one request each.
        for failure in [
            br#"{"__type": "ResourceNotFoundException", "message": "no pool"}"#.to_vec(),
            br#"{"__type": "InvalidParameterException", "message": "bad filter"}"#.to_vec(),
            br#"{"__type": "NotAuthorizedException", "message": "no"}"#.to_vec(),
        ] {
            let (page, _, calls) = call_with(vec![(400, failure), (200, ok.clone())], 3);
            assert!(page.is_err());
            assert_eq!(calls, 1);
        }
        // Attempts are bounded by max_attempts.
        let (page, _, calls) = call_with(vec![(429, Vec::new())], 4);
        assert!(page.unwrap_err().message.contains("HTTP 429"));
        assert_eq!(calls, 4);
    }

    #[derive(Debug, Clone)]
    struct Sent {
        username: String,
        attributes: Vec<(String, String)>,
        created: Option<f64>,
        enabled: Option<bool>,
        status: Option<String>,
    }

    impl Sent {
        fn json(&self) -> Json {
            let mut user = json!({
                "Username": self.username,
                "Attributes": self.attributes.iter()
                    .map(|(name, value)| json!({"Name": name, "Value": value}))
                    .collect::<Vec<_>>(),
            });
            if let Some(t) = self.created {
                user["UserCreateDate"] = json!(t);
                user["UserLastModifiedDate"] = json!(t);
            }
            if let Some(enabled) = self.enabled {
                user["Enabled"] = json!(enabled);
            }
            if let Some(status) = &self.status {
                user["UserStatus"] = json!(status);
            }
            user
        }
    }

    fn sent_user() -> impl Strategy<Value = Sent> {
        let status = prop_oneof![
            Just("CONFIRMED".to_owned()),
            Just("FORCE_CHANGE_PASSWORD".to_owned()),
            ".{0,12}",
        ];
        (
            ".{0,24}",
            prop::collection::vec(("[a-z_:]{1,16}", ".{0,40}"), 0..5),
            prop::option::of(-1e11f64..1e11),
            prop::option::of(any::<bool>()),
            prop::option::of(status),
        )
            .prop_map(|(username, attributes, created, enabled, status)| Sent {
                username,
                attributes,
                created,
                enabled,
                status,
            })
    }

    fn page() -> impl Strategy<Value = (Vec<Sent>, Option<String>)> {
        (
            prop::collection::vec(sent_user(), 0..6),
            prop::option::of(".{0,30}"),
        )
    }

    const FIELDS: [Field; 5] = [
        Field::Username,
        Field::UserStatus,
        Field::Enabled,
        Field::CreatedAt,
        Field::AllAttributes,
    ];
    const TYPES: [ColumnType; 6] = [
        ColumnType::Text,
        ColumnType::Bool,
        ColumnType::Timestamp,
        ColumnType::TimestampTz,
        ColumnType::Jsonb,
        ColumnType::Json,
    ];

    /// Any JSON document, nested a few levels.
    fn any_json() -> impl Strategy<Value = Json> {
        // Names of ListUsers' own fields, so that random documents often look half right.
        const NAMES: &[&str] = &[
            "Users",
            "Username",
            "Attributes",
            "UserCreateDate",
            "PaginationToken",
            "Enabled",
            "UserStatus",
            "Name",
            "Value",
            "__type",
        ];
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::from),
            any::<i64>().prop_map(Json::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
            ".{0,10}".prop_map(Json::from),
            prop::sample::select(NAMES).prop_map(Json::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            prop::sample::select(NAMES).prop_map(str::to_owned),
                            ".{0,6}",
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(|pairs| Json::Object(pairs.into_iter().collect())),
            ]
        })
    }

    /// Every value of every user meets every column type without a panic; what PostgreSQL can
    /// hold is accepted.
    fn check_values(user: &User) {
        for field in &FIELDS {
            for ty in TYPES {
                let value = user.value(field);
                let result = prepare(value, ty);
                if *field == Field::Username && ty == ColumnType::Text {
                    let expected = (!user.username.contains('\0'))
                        .then(|| Some(Ready::Text(user.username.clone())));
                    assert_eq!(result.ok(), expected);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn a_well_formed_page_reads_back_as_sent((users, token) in page()) {
            let mut body = json!({
                "Users": users.iter().map(Sent::json).collect::<Vec<_>>(),
            });
            if let Some(token) = &token {
                body["PaginationToken"] = json!(token);
            }
            let (read, finished) = read_page(200, body.to_string().into_bytes());
            let read = read.expect("a well-formed page reads");
            prop_assert_eq!(read.len(), users.len());
            for (got, sent) in read.iter().zip(&users) {
                prop_assert_eq!(&got.username, &sent.username);
                prop_assert_eq!(&got.attributes, &sent.attributes);
                prop_assert_eq!(got.enabled, sent.enabled.unwrap_or(false));
                prop_assert_eq!(&got.status, &sent.status);
                let instant = sent.created.map(|t| {
                    let d = DateTime::from_secs_f64(t);
                    crate::convert::Instant { secs: d.secs(), nanos: d.subsec_nanos() }
                });
                prop_assert_eq!(got.created, instant);
                check_values(got);
            }
            // The listing ends exactly when no token (or an empty one) comes back.
            prop_assert_eq!(finished, token.as_deref().unwrap_or("").is_empty());
        }

        #[test]
        fn any_answer_reads_or_fails_clearly(
            status in prop_oneof![Just(200u16), Just(400), Just(500), 200u16..600],
            body in prop_oneof![
                any_json().prop_map(|j| j.to_string().into_bytes()),
                prop::collection::vec(any::<u8>(), 0..64),
                (page(), any::<prop::sample::Index>()).prop_map(|((users, _), cut)| {
                    let text = json!({"Users": users.iter().map(Sent::json).collect::<Vec<_>>()})
                        .to_string();
                    let bytes = text.into_bytes();
                    bytes[..cut.index(bytes.len() + 1)].to_vec()
                }),
            ],
        ) {
            let (read, _) = read_page(status, body);
            match read {
                Ok(users) => {
                    prop_assert_eq!(status / 100, 2);
                    users.iter().for_each(check_values);
                }
                Err(e) => {
                    // Either what the server said ("<Code>: <message>", with the status in the
                    // DETAIL) or what went wrong, naming the call; never a panic, and never the
                    // SDK's "unhandled error".
                    let text = format!("{} {:?}", e.message, e.detail).to_lowercase();
                    prop_assert!(!text.contains("panic") && !text.contains("unhandled"), "{}", text);
                    let service_error = e.detail.as_deref().is_some_and(|d| d.contains("answered HTTP"));
                    prop_assert!(service_error || e.message.starts_with("Cognito ListUsers "), "{}", e.message);
                }
            }
        }
    }
}
