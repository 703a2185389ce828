//! ListUsers, one page at a time.

use aws_sdk_cognitoidentityprovider::operation::list_users::ListUsersOutput;
use aws_sdk_cognitoidentityprovider::types::UserType;

use super::client::{call, CognitoClient};
use super::listing::{instant, Pager, TokensSeen};
use super::quota::{Category, Pace};
use super::rate::Limiter;
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

impl User {
    /// A user known only by name (when a query reads nothing else of it).
    pub fn named(username: String) -> User {
        User {
            username,
            attributes: Vec::new(),
            created: None,
            modified: None,
            enabled: true,
            status: None,
        }
    }
}

impl From<UserType> for User {
    fn from(u: UserType) -> User {
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

/// AdminGetUser: the user named so, or None when there is none. It takes the name as it is,
/// whatever characters it holds (a ListUsers filter cannot quote every name).
pub async fn admin_get_user(
    client: &CognitoClient,
    limiter: &Limiter,
    username: &str,
) -> FdwResult<Option<User>> {
    let result = call(
        client,
        limiter,
        |_| false,
        || {
            client
                .sdk
                .admin_get_user()
                .user_pool_id(&client.user_pool_id)
                .username(username)
                .send()
        },
    )
    .await;
    match result {
        Ok(output) => Ok(Some(User {
            created: output.user_create_date().map(instant),
            modified: output.user_last_modified_date().map(instant),
            enabled: output.enabled(),
            status: output.user_status().map(|s| s.as_str().to_owned()),
            username: output.username,
            attributes: output
                .user_attributes
                .unwrap_or_default()
                .into_iter()
                .map(|a| (a.name, a.value.unwrap_or_default()))
                .collect(),
        })),
        Err((err, _)) if super::not_found::names_a_missing_record(&err, &client.user_pool_id) => {
            Ok(None)
        }
        Err((err, tried)) => Err(client.error("AdminGetUser", err, tried)),
    }
}

/// AdminGetUser paced in its category (UserResourceRead), for a write that reads a user back.
pub async fn get_user(
    client: &CognitoClient,
    pace: &Pace,
    username: &str,
) -> FdwResult<Option<User>> {
    let limiter = pace.category(Category::UserResourceRead);
    admin_get_user(client, &limiter, username).await
}

/// Where a ListUsers listing stands. It holds no page: each call hands its page to the caller,
/// so a scan keeps at most one page of users however large the pool.
pub struct UserPager {
    client: CognitoClient,
    page_size: i32,
    filter: Option<String>,
    /// `AttributesToGet`: None asks for every attribute.
    attributes: Option<Vec<String>>,
    token: Option<String>,
    /// Hashes of the tokens this listing has received: one coming back means the server is
    /// looping (a listing ends only when no token comes back, so it would never end).
    tokens_seen: TokensSeen,
    finished: bool,
}

impl UserPager {
    pub fn new(
        client: CognitoClient,
        page_size: i32,
        filter: Option<String>,
        attributes: Option<Vec<String>>,
    ) -> UserPager {
        UserPager {
            client,
            page_size,
            filter,
            attributes,
            token: None,
            tokens_seen: TokensSeen::default(),
            finished: false,
        }
    }
}

impl Pager for UserPager {
    type Item = User;

    fn finished(&self) -> bool {
        self.finished
    }

    fn operation(&self) -> &'static str {
        "ListUsers"
    }

    /// The next page, possibly empty: Cognito may send an empty page that still carries a
    /// token, and the listing ends only when no token comes back.
    ///
    /// Attempts are made and retried by `client::call`; every retry sends the same page
    /// token, so no page is skipped or read twice.
    async fn next_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<User>> {
        if self.finished {
            return Ok(Vec::new());
        }
        let (page_size, filter, attributes, token) =
            (self.page_size, &self.filter, &self.attributes, &self.token);
        let client = &self.client;
        let output = call(
            client,
            limiter,
            |output: &ListUsersOutput| output.users().len() >= page_size.max(1) as usize,
            || {
                client
                    .sdk
                    .list_users()
                    .user_pool_id(&client.user_pool_id)
                    .limit(page_size)
                    .set_filter(filter.clone())
                    .set_attributes_to_get(attributes.clone())
                    .set_pagination_token(token.clone())
                    .send()
            },
        )
        .await
        .map_err(|(err, tried)| client.error("ListUsers", err, tried))?;
        // Cognito always sends a Users list, empty or not. An answer without one is broken (a
        // proxy's or a server's fault): taking it for the last page would present a short
        // result as complete.
        let Some(users) = output.users else {
            return Err(self.client.missing_list("ListUsers", "Users"));
        };
        self.token = output.pagination_token.filter(|t| !t.is_empty());
        if let Some(token) = &self.token {
            if self.tokens_seen.repeated(token) {
                return Err(FdwError::new(
                    ERRCODE_FDW_ERROR,
                    format!(
                        "Cognito ListUsers at {} sent a pagination token it had already sent \
                         in this listing",
                        self.client.endpoint
                    ),
                )
                .with_detail(format!(
                    "user pool {}, after {} pages; the listing stopped rather than loop or \
                     return users twice",
                    self.client.user_pool_id,
                    self.tokens_seen.pages() + 1
                )));
            }
        }
        self.finished = self.token.is_none();
        Ok(users.into_iter().map(User::from).collect())
    }
}

/// The response reader: whatever a server answers, reading it never panics; a well-formed page
/// reads back as exactly the users and token it holds, and each of their values either fits a
/// column or is refused with a reason.
#[cfg(test)]
mod properties {
    use std::sync::{Arc, Mutex};

    use aws_smithy_runtime_api::client::http::{
        http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::DateTime;
    use proptest::prelude::*;
    use serde_json::{json, Value as Json};

    use std::time::Duration;

    use super::*;
    use crate::cognito::client::{build_on, static_keys};
    use crate::convert::{prepare, ColumnType, Ready};
    use crate::objects::{Field, Record};
    use crate::options::ServerSettings;

    /// An HTTP status and body; status 0: the connection is refused.
    type Answer = (u16, Vec<u8>);

    /// A server that gives the answers in order, repeating the last, and records the requests'
    /// bodies.
    #[derive(Debug, Clone)]
    struct Scripted {
        answers: Arc<Mutex<Vec<Answer>>>,
        bodies: Arc<Mutex<Vec<String>>>,
    }

    impl HttpConnector for Scripted {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let body = request.body().bytes().unwrap_or_default();
            self.bodies
                .lock()
                .expect("not poisoned")
                .push(String::from_utf8_lossy(body).into_owned());
            let mut answers = self.answers.lock().expect("not poisoned");
            let (status, body) = match answers.len() {
                1 => answers[0].clone(),
                _ => answers.remove(0),
            };
            if status == 0 {
                let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
                return HttpConnectorFuture::ready(Err(ConnectorError::io(io.into())));
            }
            let status = StatusCode::try_from(status).expect("a valid status");
            HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(body))))
        }
    }

    /// What the scripted server saw and the scan got.
    struct Run {
        /// Each call's result.
        pages: Vec<FdwResult<Vec<User>>>,
        finished: bool,
        /// The request bodies, in order.
        bodies: Vec<String>,
        elapsed: Duration,
    }

    /// `calls` ListUsers calls of one listing, as the scan makes them, against a server giving
    /// `answers`, with these server options beside the required ones (`rate`: the limiter's).
    fn run(answers: Vec<Answer>, calls: usize, extra: &[(&str, &str)]) -> Run {
        let server = Scripted {
            answers: Arc::new(Mutex::new(answers)),
            bodies: Arc::new(Mutex::new(Vec::new())),
        };
        let bodies = server.bodies.clone();
        let mut options: Vec<(String, String)> = [
            ("region", "us-east-1"),
            ("user_pool_id", "us-east-1_pool"),
            ("endpoint_url", "http://127.0.0.1:9"),
            ("aws_access_key_id", "AKIAEXAMPLE"),
            ("aws_secret_access_key", "x"),
            ("max_backoff_ms", "1"),
        ]
        .iter()
        .chain(extra.iter().filter(|(k, _)| *k != "rate"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        // A later value of an option replaces the default above.
        options.reverse();
        let mut named = std::collections::HashSet::new();
        options.retain(|(k, _)| named.insert(k.clone()));
        let settings = ServerSettings::resolve("srv", &options, &[]).expect("valid settings");
        let http = http_client_fn(move |_, _| SharedHttpConnector::new(server.clone()));
        let client = build_on(&settings, static_keys("AKIAEXAMPLE", "x", None), http);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        // A limiter of its own, fast enough never to wait, unless a test asks for a rate.
        let rate = extra
            .iter()
            .find(|(k, _)| *k == "rate")
            .map_or(10_000, |(_, v)| v.parse().expect("a number"));
        let key = format!("test {:?}", std::thread::current().id());
        let limiter = Limiter::new(&key, "us-east-1", "UserList", rate);
        let mut pager = UserPager::new(client, 60, None, None);
        let started = std::time::Instant::now();
        let pages = (0..calls)
            .map(|_| runtime.block_on(pager.next_page(&limiter)))
            .collect();
        let bodies = bodies.lock().expect("not poisoned").clone();
        Run {
            pages,
            finished: pager.finished(),
            bodies,
            elapsed: started.elapsed(),
        }
    }

    /// One ListUsers call against a server giving `answers`: the page, whether the listing is
    /// finished, and how many requests were sent.
    fn call_with(answers: Vec<Answer>, max_attempts: u32) -> (FdwResult<Vec<User>>, bool, usize) {
        let mut run = run(answers, 1, &[("max_attempts", &max_attempts.to_string())]);
        (run.pages.remove(0), run.finished, run.bodies.len())
    }

    /// One ListUsers call answered with `status` and `body`, tried once.
    fn read_page(status: u16, body: Vec<u8>) -> (FdwResult<Vec<User>>, bool) {
        let (page, finished, _) = call_with(vec![(status, body)], 1);
        (page, finished)
    }

    const OK: &[u8] = br#"{"Users": [{"Username": "ada"}]}"#;
    const THROTTLED: &[u8] =
        br#"{"__type": "TooManyRequestsException", "message": "Rate exceeded"}"#;

    #[test]
    fn transient_failures_are_retried_up_to_max_attempts_and_the_rest_fail_at_once() {
        for failure in [
            (500, br#"{"__type": "InternalErrorException"}"#.to_vec()),
            (503, b"<html>busy</html>".to_vec()),
            (502, Vec::new()),
            (0, Vec::new()),
        ] {
            let status = failure.0;
            let answers = vec![failure.clone(), failure.clone(), (200, OK.to_vec())];
            let (page, _, calls) = call_with(answers.clone(), 3);
            assert_eq!(page.map(|users| users.len()), Ok(1), "HTTP {status}");
            assert_eq!(calls, 3, "HTTP {status}");
            // One failure too many: max_attempts requests, then the error says so.
            let (page, _, calls) = call_with(answers, 2);
            assert_eq!(calls, 2, "HTTP {status}");
            let e = page.unwrap_err();
            let text = format!("{} {}", e.message, e.detail.unwrap_or_default());
            assert!(text.contains("2 attempts"), "HTTP {status}: {text}");
        }
        // Retrying cannot fix these: one request each.
        for failure in [
            br#"{"__type": "ResourceNotFoundException", "message": "no pool"}"#.to_vec(),
            br#"{"__type": "InvalidParameterException", "message": "bad filter"}"#.to_vec(),
            br#"{"__type": "NotAuthorizedException", "message": "no"}"#.to_vec(),
        ] {
            let (page, _, calls) = call_with(vec![(400, failure), (200, OK.to_vec())], 3);
            assert!(page.is_err());
            assert_eq!(calls, 1);
        }
        // A complete answer that is not JSON would be the same again.
        let (page, _, calls) = call_with(vec![(200, b"<html>".to_vec()), (200, OK.to_vec())], 3);
        assert!(page.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn throttling_is_retried_beyond_max_attempts_within_its_budget() {
        for throttled in [
            (400, THROTTLED.to_vec()),
            (429, br#"{"message": "Too Many Requests"}"#.to_vec()),
        ] {
            let status = throttled.0;
            let mut answers = vec![throttled; 6];
            answers.push((200, OK.to_vec()));
            let (page, _, calls) = call_with(answers, 2);
            assert_eq!(page.map(|users| users.len()), Ok(1), "HTTP {status}");
            assert_eq!(calls, 7, "HTTP {status}");
        }
        // Throttled attempts do not use up the attempts of other failures.
        let answers = vec![
            (400, THROTTLED.to_vec()),
            (500, Vec::new()),
            (400, THROTTLED.to_vec()),
            (400, THROTTLED.to_vec()),
            (500, Vec::new()),
            (200, OK.to_vec()),
        ];
        let (page, _, calls) = call_with(answers, 3);
        assert_eq!(page.map(|users| users.len()), Ok(1));
        assert_eq!(calls, 6);
    }

    #[test]
    fn the_throttling_budget_ends_it_and_says_so() {
        let run = run(
            vec![(400, THROTTLED.to_vec())],
            1,
            &[
                ("max_attempts", "2"),
                ("request_timeout_ms", "400"),
                ("max_backoff_ms", "40"),
            ],
        );
        let e = run.pages.into_iter().next().unwrap().unwrap_err();
        assert_eq!(e.message, "TooManyRequestsException: Rate exceeded");
        let detail = e.detail.unwrap();
        assert!(detail.contains("throttled on "), "{detail}");
        assert!(detail.contains("request_timeout_ms (400 ms)"), "{detail}");
        // Many more attempts than max_attempts, for about the budget, not much longer.
        assert!(run.bodies.len() > 5, "{} requests", run.bodies.len());
        assert!(
            run.elapsed >= Duration::from_millis(300),
            "{:?}",
            run.elapsed
        );
        assert!(
            run.elapsed < Duration::from_millis(1500),
            "{:?}",
            run.elapsed
        );
        let attempts = format!("{} attempts over ", run.bodies.len());
        assert!(detail.contains(&attempts), "{detail}");
    }

    /// A page of one user carrying `token`.
    fn page_with(token: &str) -> Vec<u8> {
        format!(r#"{{"Users": [{{"Username": "u{token}"}}], "PaginationToken": "{token}"}}"#)
            .into_bytes()
    }

    #[test]
    fn a_retry_sends_the_same_page_token() {
        let run = run(
            vec![
                (200, page_with("t1")),
                (500, Vec::new()),
                (400, THROTTLED.to_vec()),
                (0, Vec::new()),
                (200, OK.to_vec()),
            ],
            2,
            &[("max_attempts", "3")],
        );
        assert!(run.pages.iter().all(Result::is_ok));
        assert!(run.finished);
        assert_eq!(run.bodies.len(), 5);
        assert!(
            !run.bodies[0].contains("PaginationToken"),
            "{}",
            run.bodies[0]
        );
        for body in &run.bodies[1..] {
            assert!(body.contains(r#""PaginationToken":"t1""#), "{body}");
        }
    }

    #[test]
    fn a_repeated_pagination_token_fails_instead_of_looping() {
        let answers = vec![
            (200, page_with("a")),
            (200, page_with("b")),
            (200, page_with("a")),
        ];
        let run = run(answers, 4, &[]);
        assert!(run.pages[0].is_ok() && run.pages[1].is_ok());
        let e = run.pages[2].as_ref().unwrap_err();
        assert_eq!(e.code, ERRCODE_FDW_ERROR);
        assert!(e.message.contains("http://127.0.0.1:9"), "{}", e.message);
        assert!(
            e.message.contains("pagination token it had already sent"),
            "{}",
            e.message
        );
        let detail = e.detail.as_deref().unwrap();
        assert!(detail.contains("after 3 pages"), "{detail}");
        // Asked again, the listing does not go on either.
        assert!(run.pages[3].is_err() || run.bodies.len() == 3);
    }

    #[test]
    fn waits_are_reported_as_network_or_rate() {
        use crate::cognito::runtime::{Waiting, REPORTED};
        REPORTED.with(|r| r.borrow_mut().clear());
        // At 20 requests a second, the second request waits its turn.
        let answers = vec![(200, page_with("t")), (200, page_with("u"))];
        let run = run(answers, 2, &[("rate", "20")]);
        assert!(run.pages.iter().all(Result::is_ok));
        let reported = REPORTED.with(|r| r.borrow().clone());
        assert_eq!(
            reported,
            [Waiting::Network, Waiting::Rate, Waiting::Network],
            "the first request goes at once, the second waits for the rate"
        );
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
