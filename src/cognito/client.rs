//! One SDK client per server, built from an explicit config.
//!
//! Nothing is read from process environment variables, `~/.aws` or instance metadata: each
//! client gets its own static credentials provider, so two servers in one backend never sign
//! with each other's keys. Clients are cached per server and rebuilt when anything they were
//! built from changes (`ALTER SERVER`, another user mapping, a rotated Vault secret).

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sdk_cognitoidentityprovider::config::retry::{RetryConfig, RetryPartition, TokenBucket};
use aws_sdk_cognitoidentityprovider::config::timeout::TimeoutConfig;
use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Region};
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::operation::RequestId;
use aws_sdk_cognitoidentityprovider::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime::client::retries::classifiers::HttpStatusCodeClassifier;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use pgrx::PgSqlErrorCode::{self, *};

use crate::error::FdwError;
use crate::options::{Limits, ServerSettings};

/// A client and what a message may say about where it points.
#[derive(Clone)]
pub struct CognitoClient {
    pub sdk: Client,
    pub endpoint: String,
    pub user_pool_id: String,
    /// The timeouts and retry bounds this client was built with.
    pub limits: Limits,
}

thread_local! {
    static CLIENTS: RefCell<HashMap<u32, (u64, CognitoClient)>> = RefCell::new(HashMap::new());
}

/// The cached client of server `server_oid`, built anew when `settings` or the secret changed.
pub fn client_for(server_oid: u32, settings: &ServerSettings, secret: &str) -> CognitoClient {
    let mut hasher = DefaultHasher::new();
    settings.hash(&mut hasher);
    secret.hash(&mut hasher);
    let fingerprint = hasher.finish();
    CLIENTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((known, client)) = cache.get(&server_oid) {
            if *known == fingerprint {
                return client.clone();
            }
        }
        let client = build(settings, secret);
        if let Some((_, old)) = cache.insert(server_oid, (fingerprint, client.clone())) {
            super::runtime::drop_in_runtime(old);
        }
        client
    })
}

fn build(settings: &ServerSettings, secret: &str) -> CognitoClient {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    build_on(settings, secret, http_client)
}

/// A client that sends its requests through `http_client`: the real one, or in unit tests one
/// that answers from memory.
pub(crate) fn build_on(
    settings: &ServerSettings,
    secret: &str,
    http_client: SharedHttpClient,
) -> CognitoClient {
    let credentials = AwsCredentials::new(
        settings.credentials.access_key_id.clone(),
        secret.to_owned(),
        settings.credentials.session_token.clone(),
        None,
        "cognito_fdw",
    );
    let mut config = aws_sdk_cognitoidentityprovider::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(credentials)
        .http_client(http_client)
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(settings.limits.max_attempts)
                .with_max_backoff(settings.limits.max_backoff),
        )
        // The SDK's default retry quota is one token bucket for the whole process: a scan
        // that meets a burst of throttling would drain it, fail, and leave the next queries
        // of this backend without retries. Attempts are bounded by max_attempts and the
        // request rate by our own spacing instead.
        // The SDK retries 500, 502, 503 and 504 by status, and throttling by error code
        // (TooManyRequestsException). A 429 without a code, as a gateway or proxy in front of
        // Cognito may send, is throttling too.
        .retry_classifier(HttpStatusCodeClassifier::new_from_codes(RETRIED_STATUSES))
        .retry_partition(
            RetryPartition::custom("cognito_fdw")
                .token_bucket(TokenBucket::unlimited())
                .build(),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.limits.connect_timeout)
                .operation_attempt_timeout(settings.limits.request_timeout)
                .build(),
        );
    let endpoint = match &settings.endpoint_url {
        Some(url) => {
            config = config.endpoint_url(url.clone());
            url.clone()
        }
        None => format!("https://cognito-idp.{}.amazonaws.com", settings.region),
    };
    CognitoClient {
        sdk: Client::from_conf(config.build()),
        endpoint,
        user_pool_id: settings.user_pool_id.clone(),
        limits: settings.limits,
    }
}

/// HTTP statuses retried whatever the body says.
const RETRIED_STATUSES: &[u16] = &[429, 500, 502, 503, 504];

/// Error codes that mean the credentials were refused.
const CREDENTIAL_ERRORS: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "NotAuthorizedException",
    "AccessDeniedException",
    "ExpiredTokenException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "InvalidClientTokenId",
];

fn sqlstate_for(code: &str) -> PgSqlErrorCode {
    if CREDENTIAL_ERRORS.contains(&code) {
        ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION
    } else if code == "ResourceNotFoundException" {
        ERRCODE_FDW_TABLE_NOT_FOUND
    } else {
        ERRCODE_FDW_ERROR
    }
}

impl CognitoClient {
    /// Turn a failed call into an error that says what failed, where, and why.
    pub fn error<E>(&self, operation: &str, err: SdkError<E, HttpResponse>) -> FdwError
    where
        E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
    {
        describe_error(operation, self, err)
    }
}

/// The error a failed call becomes: a service error as `<ErrorCode>: <message>` with the HTTP
/// status and AWS request id in the DETAIL; a transport failure with the endpoint and its cause.
fn describe_error<E>(
    operation: &str,
    client: &CognitoClient,
    err: SdkError<E, HttpResponse>,
) -> FdwError
where
    E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
{
    let (endpoint, user_pool_id, limits) = (&client.endpoint, &client.user_pool_id, client.limits);
    // A timed-out request was tried max_attempts times (timeouts are retried), each attempt
    // bounded by request_timeout_ms.
    let attempts = match limits.max_attempts {
        1 => "1 attempt".to_owned(),
        n => format!("up to {n} attempts"),
    };
    match &err {
        SdkError::ServiceError(context) => {
            let e = context.err();
            let status = context.raw().status().as_u16();
            let request_id = e.request_id().unwrap_or("none");
            let detail = format!(
                    "Cognito {operation} on user pool {user_pool_id} answered HTTP {status}; AWS request id: {request_id}"
                );
            match e.code() {
                    Some(code) => {
                        let message = e.message().unwrap_or("(no message)");
                        let mut error =
                            FdwError::new(sqlstate_for(code), format!("{code}: {message}"))
                                .with_detail(detail);
                        if CREDENTIAL_ERRORS.contains(&code) {
                            error = error.with_hint(
                                "Check the server's or user mapping's AWS credentials and region.",
                            );
                        }
                        error
                    }
                    None => FdwError::new(
                        ERRCODE_FDW_ERROR,
                        format!("Cognito {operation} at {endpoint} failed with HTTP {status} and no error code"),
                    )
                    .with_detail(detail),
                }
        }
        SdkError::TimeoutError(_) => FdwError::new(
            ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
            format!(
                "Cognito {operation} request to {endpoint} timed out after {} ms",
                limits.request_timeout.as_millis()
            ),
        )
        .with_detail(format!(
            "No answer within request_timeout_ms ({} ms) on {attempts} (max_attempts).",
            limits.request_timeout.as_millis()
        )),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => FdwError::new(
            ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
            format!(
                "Cognito {operation} request to {endpoint} timed out after {} ms: {}",
                limits.connect_timeout.as_millis(),
                root_cause(&err)
            ),
        )
        .with_detail(format!(
            "No connection within connect_timeout_ms ({} ms) on {attempts} (max_attempts).",
            limits.connect_timeout.as_millis()
        )),
        SdkError::DispatchFailure(_) => FdwError::new(
            ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
            format!(
                "Cognito {operation} request to {endpoint} failed: {}",
                root_cause(&err)
            ),
        ),
        // An answer the SDK could not take apart: a failure status without an error code is
        // reported by its status, a success with a broken body by what was wrong with it.
        SdkError::ResponseError(context) if !context.raw().status().is_success() => FdwError::new(
            ERRCODE_FDW_ERROR,
            format!(
                "Cognito {operation} at {endpoint} failed with HTTP {} and no error code in its answer",
                context.raw().status().as_u16()
            ),
        )
        .with_detail(format!("user pool {user_pool_id}")),
        SdkError::ResponseError(_) => FdwError::new(
            ERRCODE_FDW_ERROR,
            format!(
                "Cognito {operation} response from {endpoint} could not be read: {}",
                root_cause(&err)
            ),
        ),
        _ => FdwError::new(
            ERRCODE_FDW_ERROR,
            format!(
                "Cognito {operation} request to {endpoint} failed: {}",
                DisplayErrorContext(&err)
            ),
        ),
    }
}

/// The innermost cause of an error chain ("Connection refused (os error 111)"), which is what a
/// reader needs; the SDK's outer layers only say "dispatch failure".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    let mut chain = Vec::new();
    while let Some(next) = current.source() {
        current = next;
        chain.push(current.to_string());
    }
    chain.dedup();
    match chain.len() {
        0 => err.to_string(),
        _ => chain[chain.len().saturating_sub(2)..].join(": "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cognitoidentityprovider::operation::list_users::ListUsersError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(code: &str, message: &str) -> SdkError<ListUsersError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        let raw = HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        SdkError::service_error(ListUsersError::generic(meta), raw)
    }

    fn describe(err: SdkError<ListUsersError, HttpResponse>) -> FdwError {
        let client = CognitoClient {
            sdk: Client::from_conf(
                aws_sdk_cognitoidentityprovider::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .build(),
            ),
            endpoint: "http://127.0.0.1:9".into(),
            user_pool_id: "us-east-1_pool".into(),
            limits: Limits {
                connect_timeout: std::time::Duration::from_millis(5000),
                request_timeout: std::time::Duration::from_millis(1000),
                max_attempts: 3,
                max_backoff: std::time::Duration::from_millis(2000),
            },
        };
        describe_error("ListUsers", &client, err)
    }

    #[test]
    fn refused_credentials_say_so() {
        let e = describe(service_error(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
        assert_eq!(
            e.message,
            "UnrecognizedClientException: The security token included in the request is invalid."
        );
        assert_eq!(e.code, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION);
        assert!(e.hint.unwrap().contains("credentials"));
        assert!(e.detail.unwrap().starts_with(
            "Cognito ListUsers on user pool us-east-1_pool answered HTTP 400; AWS request id: "
        ));
    }

    #[test]
    fn missing_pools_and_other_codes() {
        let e = describe(service_error(
            "ResourceNotFoundException",
            "User pool x does not exist.",
        ));
        assert_eq!(e.code, ERRCODE_FDW_TABLE_NOT_FOUND);
        let e = describe(service_error("TooManyRequestsException", "Rate exceeded"));
        assert_eq!(e.message, "TooManyRequestsException: Rate exceeded");
        assert_eq!(e.code, ERRCODE_FDW_ERROR);
        assert!(!e.message.contains("unhandled"));
    }

    #[test]
    fn transport_failures_name_the_endpoint_and_the_cause() {
        let e = describe(SdkError::timeout_error("attempt timeout"));
        assert_eq!(
            e.message,
            "Cognito ListUsers request to http://127.0.0.1:9 timed out after 1000 ms"
        );
        assert_eq!(
            e.detail.as_deref(),
            Some(
                "No answer within request_timeout_ms (1000 ms) on up to 3 attempts (max_attempts)."
            )
        );
        assert_eq!(e.code, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION);
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = describe(SdkError::dispatch_failure(ConnectorError::io(io.into())));
        assert!(e
            .message
            .starts_with("Cognito ListUsers request to http://127.0.0.1:9 failed: "));
        assert!(e.message.ends_with("Connection refused"), "{}", e.message);
    }

    #[test]
    fn unreadable_answers_say_whether_the_status_failed() {
        let unreadable = |status: u16| {
            let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, "not JSON");
            describe(SdkError::response_error(ConnectorError::io(io.into()), raw))
        };
        assert_eq!(
            unreadable(502).message,
            "Cognito ListUsers at http://127.0.0.1:9 failed with HTTP 502 and no error code in its answer"
        );
        let e = unreadable(200);
        assert!(
            e.message.starts_with(
                "Cognito ListUsers response from http://127.0.0.1:9 could not be read: "
            ),
            "{}",
            e.message
        );
        assert!(e.message.ends_with("not JSON"), "{}", e.message);
    }
}
