//! One SDK client per server and role, built from an explicit config.
//!
//! Each client gets its own credentials provider, so two servers in one backend never sign
//! with each other's keys, and nothing is taken from process environment variables unless a
//! superuser chose `credentials 'aws'`: static keys from the options, or the SDK's default
//! chain, optionally under a role assumed through STS. Clients are cached per server and role
//! (user mappings, and so credentials, differ per role), with the SDK's lazy identity cache
//! inside, and rebuilt when anything they were built from changes (`ALTER SERVER`, another
//! user mapping, a rotated Vault secret).

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant as Clock};

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::identity::IdentityCache;
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials as AwsCredentials;
use aws_sdk_cognitoidentityprovider::config::retry::RetryConfig;
use aws_sdk_cognitoidentityprovider::config::timeout::TimeoutConfig;
use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Region};
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::operation::RequestId;
use aws_sdk_cognitoidentityprovider::Client;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use pgrx::PgSqlErrorCode::{self, *};

use super::rate::Limiter;
use crate::error::{FdwError, FdwResult};
use crate::options::{AssumeRole, Limits, ServerSettings, Source};

/// A client and what a message may say about where it points.
#[derive(Clone)]
pub struct CognitoClient {
    pub sdk: Client,
    pub endpoint: String,
    /// The pool its requests name; empty for a client that reads no pool (`user_pools`).
    pub user_pool_id: String,
    pub region: String,
    /// The timeouts and retry bounds this client was built with.
    pub limits: Limits,
}

impl CognitoClient {
    /// The same client (connections, credentials, limits) for requests on `pool`: one server
    /// reads the pools its tables name, each table its own, through one cached client.
    pub fn for_pool(&self, pool: Option<&str>) -> CognitoClient {
        CognitoClient {
            user_pool_id: pool.unwrap_or_default().to_owned(),
            ..self.clone()
        }
    }
}

/// A server's oid and the role whose user mapping applies.
pub type ClientKey = (u32, u32);

thread_local! {
    static CLIENTS: RefCell<HashMap<ClientKey, (u64, CognitoClient)>> = RefCell::new(HashMap::new());
}

/// Temporary credentials are fetched again up to this long before they expire (less the
/// cache's random jitter of up to half of it), as the AWS SDKs' own credential caches do, so
/// no request is signed with keys about to expire; credentials handed out closer to their
/// expiry are fetched anew for each request.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// The cached client of server and role `key`, built anew when `settings` or the secret
/// changed. `secret`: the secret access key when the credentials are keys.
pub fn client_for(
    key: ClientKey,
    settings: &ServerSettings,
    secret: Option<&str>,
) -> FdwResult<CognitoClient> {
    let mut hasher = DefaultHasher::new();
    settings.hash(&mut hasher);
    secret.hash(&mut hasher);
    let fingerprint = hasher.finish();
    let cached = CLIENTS.with(|cache| {
        cache
            .borrow()
            .get(&key)
            .filter(|(known, _)| *known == fingerprint)
            .map(|(_, client)| client.clone())
    });
    if let Some(client) = cached {
        return Ok(client);
    }
    let http = http_client(settings)?;
    let credentials = super::runtime::wait(credentials_provider(settings, secret, http.clone()))?;
    let client = build_on(settings, credentials, http);
    CLIENTS.with(|cache| {
        if let Some((_, old)) = cache
            .borrow_mut()
            .insert(key, (fingerprint, client.clone()))
        {
            super::runtime::drop_in_runtime(old);
        }
    });
    Ok(client)
}

/// The HTTP client of one server: rustls with the system's roots and `ca_file`'s, through
/// `https_proxy` if set. No proxy is taken from the environment.
fn http_client(settings: &ServerSettings) -> FdwResult<SharedHttpClient> {
    let transport = &settings.transport;
    let mut trust = TrustStore::default();
    if let Some(path) = &transport.ca_file {
        trust = trust.with_pem_certificate(ca_certificates(&settings.server_name, path)?);
    }
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| {
            FdwError::new(
                ERRCODE_FDW_ERROR,
                format!(
                    "could not set up TLS for server \"{}\": {e}",
                    settings.server_name
                ),
            )
        })?;
    let proxy = match &transport.https_proxy {
        None => ProxyConfig::disabled(),
        Some(url) => {
            // The URL may hold a password: the parser's message, which may quote it, is not
            // passed on.
            let proxy = ProxyConfig::https(url.as_str()).map_err(|_| {
                FdwError::new(
                    ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
                    format!(
                        "option \"https_proxy\" of server \"{}\" is not a usable proxy URL",
                        settings.server_name
                    ),
                )
                .with_hint(
                    "A proxy URL looks like http://host:port or http://user:password@host:port.",
                )
            })?;
            match &transport.no_proxy {
                Some(hosts) => proxy.no_proxy(hosts),
                None => proxy,
            }
        }
    };
    Ok(
        aws_smithy_http_client::Builder::new().build_with_connector_fn(
            move |connector_settings, components| {
                let mut builder = Connector::builder().proxy_config(proxy.clone());
                builder.set_connector_settings(connector_settings.cloned());
                if let Some(components) = components {
                    builder.set_sleep_impl(components.sleep_impl());
                }
                builder
                    .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                    .tls_context(tls.clone())
                    .build()
            },
        ),
    )
}

/// The PEM certificates of `ca_file`, checked here: the TLS layer panics on one it cannot
/// parse, and only when it first connects.
fn ca_certificates(server_name: &str, path: &str) -> FdwResult<Vec<u8>> {
    let pem = std::fs::read(path).map_err(|e| {
        FdwError::new(
            ERRCODE_FDW_ERROR,
            format!(
                "could not read option \"ca_file\" of server \"{server_name}\", \"{path}\": {e}"
            ),
        )
    })?;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let certificates: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    let mut roots = rustls::RootCertStore::empty();
    let usable = certificates.is_ok_and(|certificates| {
        !certificates.is_empty() && certificates.into_iter().all(|c| roots.add(c).is_ok())
    });
    if !usable {
        return Err(FdwError::new(
            ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
            format!(
                "option \"ca_file\" of server \"{server_name}\", \"{path}\", holds no usable \
                 PEM certificate"
            ),
        )
        .with_hint("Give a file of one or more -----BEGIN CERTIFICATE----- blocks."));
    }
    Ok(pem)
}

/// The credentials a server's requests are signed with: its keys, or the SDK's default chain,
/// and then the role assumed with them, if any. Building is async in the SDK but reads
/// nothing: every source is asked only when a request needs credentials.
async fn credentials_provider(
    settings: &ServerSettings,
    secret: Option<&str>,
    http: SharedHttpClient,
) -> SharedCredentialsProvider {
    let region = Region::new(settings.region.clone());
    let base = match &settings.credentials {
        Source::Keys(keys) => static_keys(
            &keys.access_key_id,
            secret.unwrap_or_default(),
            keys.session_token.clone(),
        ),
        Source::Aws => {
            // ProviderConfig::empty reads the process's real environment and files.
            let conf = ProviderConfig::empty()
                .with_http_client(http.clone())
                .with_sleep_impl(TokioSleep::new())
                .with_time_source(SystemTimeSource::new())
                .with_region(Some(region.clone()))
                .with_behavior_version(Some(BehaviorVersion::latest()));
            let chain = DefaultCredentialsChain::builder()
                .region(region.clone())
                .configure(conf)
                .build()
                .await;
            SharedCredentialsProvider::new(Explained {
                inner: chain,
                role: None,
            })
        }
    };
    let Some(role) = &settings.assume_role else {
        return base;
    };
    let mut sts = aws_types::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .http_client(http)
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        .retry_config(
            aws_smithy_types::retry::RetryConfig::standard()
                .with_max_attempts(settings.limits.max_attempts),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.limits.connect_timeout)
                .operation_attempt_timeout(settings.limits.request_timeout)
                .build(),
        );
    if let Some(url) = &settings.sts_endpoint_url {
        sts = sts.endpoint_url(url.clone());
    }
    let mut builder = AssumeRoleProvider::builder(role.role_arn.clone())
        .session_name(role.session_name.clone())
        .configure(&sts.build());
    if let Some(id) = &role.external_id {
        builder = builder.external_id(id.clone());
    }
    let endpoint = settings
        .sts_endpoint_url
        .clone()
        .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", settings.region));
    SharedCredentialsProvider::new(Explained {
        inner: builder.build_from_provider(base).await,
        role: Some((role.clone(), endpoint)),
    })
}

/// Static keys, as the options give them.
pub(crate) fn static_keys(
    access_key_id: &str,
    secret: &str,
    session_token: Option<String>,
) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(AwsCredentials::new(
        access_key_id.to_owned(),
        secret.to_owned(),
        session_token,
        None,
        "cognito_fdw",
    ))
}

/// A credentials provider whose failures say, in words of our own, which source failed: the
/// SDK's own say "dispatch failure" or quote a whole error chain.
#[derive(Debug)]
struct Explained<P> {
    inner: P,
    /// The role assumed and the STS endpoint asked; None: the SDK's default chain.
    role: Option<(AssumeRole, String)>,
}

impl<P: ProvideCredentials> ProvideCredentials for Explained<P> {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.inner
                .provide_credentials()
                .await
                .map_err(|e| CredentialsError::provider_error(self.failure(&e)))
        })
    }
}

impl<P> Explained<P> {
    fn failure(&self, err: &CredentialsError) -> CredentialFailure {
        // A failure of the base credentials under a role is already explained.
        if let Some(inner) = find_in_chain::<CredentialFailure>(err) {
            return inner.clone();
        }
        let Some((role, endpoint)) = &self.role else {
            let message = match err {
                CredentialsError::CredentialsNotLoaded(_) => {
                    "no AWS credentials found by the AWS SDK's default chain of the PostgreSQL \
                     server process (environment, shared config and credentials files, web \
                     identity token, ECS container credentials, EC2 instance metadata)"
                        .to_owned()
                }
                other => format!(
                    "the AWS SDK's default credential chain of the PostgreSQL server process \
                     failed: {}",
                    root_cause(other)
                ),
            };
            return CredentialFailure {
                message,
                code: ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            };
        };
        type AssumeRoleFailure =
            SdkError<aws_sdk_sts::operation::assume_role::AssumeRoleError, HttpResponse>;
        match find_in_chain::<AssumeRoleFailure>(err) {
            Some(SdkError::ServiceError(context)) => CredentialFailure {
                message: format!(
                    "STS refused to assume role \"{}\": {}: {}",
                    role.role_arn,
                    context.err().code().unwrap_or("no error code"),
                    context.err().message().unwrap_or("(no message)")
                ),
                code: ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            },
            _ => CredentialFailure {
                message: format!(
                    "could not assume role \"{}\" through STS at {endpoint}: {}",
                    role.role_arn,
                    tls_failure(err)
                        .map(|tls| format!("TLS: {tls}"))
                        .unwrap_or_else(|| root_cause(err))
                ),
                code: ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
            },
        }
    }
}

/// Why no credentials could be had, as a message may say it (never with a key in it).
#[derive(Debug, Clone)]
pub struct CredentialFailure {
    pub message: String,
    pub code: PgSqlErrorCode,
}

impl std::fmt::Display for CredentialFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for CredentialFailure {}

/// The first error of type `T` in `err`'s chain, looking inside I/O errors too (the TLS layer
/// nests its errors there, where `source()` does not lead).
fn find_in_chain<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(found) = find_in_chain::<T>(inner) {
                return Some(found);
            }
        }
        current = e.source();
    }
    None
}

/// A TLS failure in the chain (a certificate that does not verify, say), in rustls's words.
fn tls_failure(err: &(dyn StdError + 'static)) -> Option<String> {
    find_in_chain::<rustls::Error>(err).map(ToString::to_string)
}

/// A client that sends its requests through `http_client`: the real one, or in unit tests one
/// that answers from memory.
pub(crate) fn build_on(
    settings: &ServerSettings,
    credentials: SharedCredentialsProvider,
    http_client: SharedHttpClient,
) -> CognitoClient {
    let mut config = aws_sdk_cognitoidentityprovider::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(credentials)
        .identity_cache(
            IdentityCache::lazy()
                .buffer_time(REFRESH_BEFORE_EXPIRY)
                .build(),
        )
        .http_client(http_client)
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        // One attempt per call: retries are ours (`retry`), one place that knows throttling
        // ("not executed, slow down", bounded by a wait budget) from other transient
        // failures (bounded by max_attempts), and that paces every retry through the shared
        // rate. The SDK's own retries would spend max_attempts on throttling and bypass the
        // rate.
        .retry_config(RetryConfig::disabled())
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
        user_pool_id: settings.user_pool_id.clone().unwrap_or_default(),
        region: settings.region.clone(),
        limits: settings.limits,
    }
}

/// Error codes that mean "slow down": the request was not executed.
const THROTTLING_ERRORS: &[&str] = &[
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "LimitExceededException",
];

/// Error codes of a service that failed this time and may not next time.
const TRANSIENT_ERRORS: &[&str] = &[
    "InternalErrorException",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// What a retry can do about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Throttled (an error code above, or HTTP 429 from a gateway): not executed; retry after
    /// slowing down, within the throttling budget.
    Throttled,
    /// 5xx, timeouts, refused or broken connections, bodies cut short: retry up to
    /// max_attempts, with backoff.
    Transient,
    /// Refused credentials, a missing pool, a rejected filter, an answer that is complete but
    /// unreadable: asking again gives the same.
    Never,
}

/// Classify a failed attempt.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Retry
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let by_status = |status: u16| match status {
        429 => Retry::Throttled,
        500..=599 => Retry::Transient,
        _ => Retry::Never,
    };
    // Credentials that could not be had, or a certificate that does not verify, would be the
    // same on the next attempt (the credential sources retry on their own).
    if find_in_chain::<CredentialFailure>(err).is_some() || tls_failure(err).is_some() {
        return Retry::Never;
    }
    match err {
        SdkError::ServiceError(context) => match context.err().code() {
            Some(code) if THROTTLING_ERRORS.contains(&code) => Retry::Throttled,
            Some(code) if TRANSIENT_ERRORS.contains(&code) => Retry::Transient,
            _ => by_status(context.raw().status().as_u16()),
        },
        SdkError::TimeoutError(_) => Retry::Transient,
        SdkError::DispatchFailure(failure) if failure.is_user() => Retry::Never,
        SdkError::DispatchFailure(_) => Retry::Transient,
        // A failure status whose body was cut off is no answer: the request may or may not
        // have been made, and asking again is how to learn which (a write reads a retried
        // failure for what it means).
        SdkError::ResponseError(_) if wire_failure(err).is_some() => Retry::Transient,
        SdkError::ResponseError(context) if !context.raw().status().is_success() => {
            by_status(context.raw().status().as_u16())
        }
        // A success whose body could not be read to its end (the connection broke) is worth
        // another try; one that was read whole but is not JSON came from something that is
        // not Cognito, and would be the same again.
        SdkError::ResponseError(_) if io_failure(err).is_some() => Retry::Transient,
        _ => Retry::Never,
    }
}

/// The I/O error in a failure's chain, if any: what broke on the wire.
fn io_failure<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        current = e.source();
    }
    None
}

/// A connection failure in words of our own, rather than the HTTP stack's ("tcp connect error:
/// Connection refused (os error 111)", which a later version of it may word otherwise).
fn wire_failure(err: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    use std::io::ErrorKind::*;
    Some(match io_failure(err)?.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset",
        ConnectionAborted => "connection aborted",
        NotConnected | BrokenPipe => "connection closed",
        UnexpectedEof => "connection closed before the answer was complete",
        AddrNotAvailable => "address not available",
        TimedOut => "timed out",
        _ => return None,
    })
}

/// How many attempts one call made, and over how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempts {
    pub made: u32,
    pub throttled: u32,
    pub elapsed: std::time::Duration,
}

impl std::fmt::Display for Attempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = if self.made == 1 { "" } else { "s" };
        write!(
            f,
            "{} attempt{s} over {:.1} s",
            self.made,
            self.elapsed.as_secs_f64()
        )?;
        if self.throttled > 0 {
            write!(f, ", {} throttled", self.throttled)?;
        }
        Ok(())
    }
}

/// First backoff after a transient failure; it doubles per attempt up to max_backoff_ms.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// First pause after throttling, before the shared rate spaces the retry; doubles likewise.
const FIRST_THROTTLE_PAUSE: Duration = Duration::from_millis(50);

/// A random point in [d/2, d]: retries of many streams spread out rather than collide.
fn jitter(d: Duration) -> Duration {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(super::rate::now() ^ (u64::from(std::process::id()) << 32) | 1);
    }
    let r = STATE.with(|s| {
        // xorshift64: plenty for spreading retries.
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    });
    d / 2 + d.mul_f64((r >> 11) as f64 / (1u64 << 53) as f64 / 2.0)
}

/// The `n`th backoff (n from 1): `first` doubled n-1 times, at most `max`, jittered.
fn backoff(first: Duration, n: u32, max: Duration) -> Duration {
    jitter(
        first
            .saturating_mul(1 << n.saturating_sub(1).min(20))
            .min(max),
    )
}

/// Send one request, retrying as the limits allow, and return its answer or the last failure
/// with the attempts made (the caller names the operation in the error, or takes a failure
/// such as ResourceNotFoundException for an answer).
///
/// Each attempt waits for its turn under `limiter`. A throttled attempt was not executed: it
/// slows the shared rate and is tried again, for up to request_timeout_ms of throttled
/// attempts in all, however many that takes. Other transient failures are tried up to
/// max_attempts times with growing backoff; the rest fail at once. `full` says whether an
/// answer was a full page: only those round trips tell the limiter how long a request takes.
/// One loop for every operation, so that retries, pacing and cancel behave alike.
pub async fn call<T, E, F, Fut>(
    client: &CognitoClient,
    limiter: &Limiter,
    full: impl Fn(&T) -> bool,
    mut send: F,
) -> Result<T, (SdkError<E, HttpResponse>, Attempts)>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let limits = client.limits;
    let started = Clock::now();
    let mut first_throttle = None;
    let (mut made, mut throttled, mut failed) = (0u32, 0u32, 0u32);
    loop {
        limiter.acquire().await;
        made += 1;
        let sent = Clock::now();
        let err = match send().await {
            Ok(output) => {
                limiter.succeeded(full(&output).then(|| sent.elapsed()));
                return Ok(output);
            }
            Err(err) => err,
        };
        let tried = |throttled| Attempts {
            made,
            throttled,
            elapsed: started.elapsed(),
        };
        let pause = match classify(&err) {
            Retry::Throttled => {
                limiter.throttled();
                throttled += 1;
                let since = *first_throttle.get_or_insert_with(Clock::now);
                let pause = backoff(FIRST_THROTTLE_PAUSE, throttled, limits.max_backoff);
                if since.elapsed() + pause > limits.request_timeout {
                    return Err((err, tried(throttled)));
                }
                pause
            }
            Retry::Transient if failed + 1 < limits.max_attempts => {
                failed += 1;
                backoff(FIRST_BACKOFF, failed, limits.max_backoff)
            }
            Retry::Transient | Retry::Never => return Err((err, tried(throttled))),
        };
        tokio::time::sleep(pause).await;
    }
}

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
    /// Turn a failed call into an error that says what failed, where, why, and after how
    /// many attempts over how long.
    /// The error for an answer of `operation` without its `list` ("Users"): Cognito always
    /// sends the list, empty or not, so such an answer is broken (a proxy's or a server's
    /// fault), and taking it for the last page would present a short result as complete.
    pub fn missing_list(&self, operation: &str, list: &str) -> FdwError {
        FdwError::new(
            ERRCODE_FDW_ERROR,
            format!(
                "Cognito {operation} answer from {} has no {list} list",
                self.endpoint
            ),
        )
        .with_detail(format!(
            "user pool {}; the listing stopped rather than end early",
            self.user_pool_id
        ))
    }

    pub fn error<E>(
        &self,
        operation: &str,
        err: SdkError<E, HttpResponse>,
        attempts: Attempts,
    ) -> FdwError
    where
        E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
    {
        describe_error(operation, self, err, attempts)
    }
}

/// The error a failed call becomes: a service error as `<ErrorCode>: <message>` with the HTTP
/// status and AWS request id in the DETAIL; a transport failure with the endpoint and its cause.
fn describe_error<E>(
    operation: &str,
    client: &CognitoClient,
    err: SdkError<E, HttpResponse>,
    tried: Attempts,
) -> FdwError
where
    E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
{
    let (endpoint, limits) = (&client.endpoint, client.limits);
    let attempts = match tried.made {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    };
    let over = format!("{:.1} s", tried.elapsed.as_secs_f64());
    if let Some(failure) = find_in_chain::<CredentialFailure>(&err) {
        return FdwError::new(failure.code, failure.message.clone())
            .with_detail(format!(
                "Cognito {operation} {} was not sent: it had no credentials to be signed with.",
                on_pool(client)
            ))
            .with_hint("Check the credentials, role_arn and sts_endpoint_url options of the server and the user mapping.");
    }
    if let Some(tls) = tls_failure(&err) {
        return FdwError::new(
            ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
            format!("Cognito {operation} request to {endpoint} failed: TLS: {tls}"),
        )
        .with_hint(
            "When the endpoint's certificate comes from a private CA, give that CA's \
             certificate (PEM) in the server option ca_file.",
        );
    }
    let error = match &err {
        SdkError::ServiceError(context) => {
            let e = context.err();
            let status = context.raw().status().as_u16();
            let request_id = e.request_id().unwrap_or("none");
            let detail = format!(
                    "Cognito {operation} {} answered HTTP {status}; AWS request id: {request_id}",
                    on_pool(client)
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
            "No answer within request_timeout_ms ({} ms) on {attempts} (max_attempts) over {over}.",
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
            "No connection within connect_timeout_ms ({} ms) on {attempts} (max_attempts) over {over}.",
            limits.connect_timeout.as_millis()
        )),
        SdkError::DispatchFailure(_) => FdwError::new(
            ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
            format!(
                "Cognito {operation} request to {endpoint} failed after {attempts}: {}",
                wire_failure(&err).map_or_else(|| root_cause(&err), str::to_owned)
            ),
        )
        .with_detail(format!(
            "{tried} (max_attempts {}, max_backoff_ms {}); cause: {}",
            limits.max_attempts,
            limits.max_backoff.as_millis(),
            root_cause(&err)
        )),
        // An answer the SDK could not take apart: a failure status without an error code is
        // reported by its status, a success with a broken body by what was wrong with it.
        SdkError::ResponseError(context) if !context.raw().status().is_success() => FdwError::new(
            ERRCODE_FDW_ERROR,
            format!(
                "Cognito {operation} at {endpoint} failed with HTTP {} and no error code in its answer",
                context.raw().status().as_u16()
            ),
        )
        .with_detail(on_pool(client)),
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
    };
    // Timeouts and connection failures said it above; for the rest, a call that was tried
    // more than once says so after what went wrong.
    let said = matches!(
        err,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
    );
    if said || tried.made == 1 {
        return error;
    }
    let summary = if tried.throttled == tried.made {
        format!(
            "throttled on {} attempts over {over}: throttled attempts may wait up to \
             request_timeout_ms ({} ms) in all",
            tried.made,
            limits.request_timeout.as_millis()
        )
    } else {
        format!("{tried} (max_attempts {})", limits.max_attempts)
    };
    let detail = match &error.detail {
        Some(detail) => format!("{detail}; {summary}"),
        None => summary,
    };
    error.with_detail(detail)
}

/// Where a request went, as a message names it: its pool, or for one that names none
/// (ListUserPools), its region.
fn on_pool(client: &CognitoClient) -> String {
    match client.user_pool_id.as_str() {
        "" => format!("in region {}", client.region),
        pool => format!("on user pool {pool}"),
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
        describe_after(err, 1)
    }

    fn describe_after(err: SdkError<ListUsersError, HttpResponse>, made: u32) -> FdwError {
        let client = CognitoClient {
            sdk: Client::from_conf(
                aws_sdk_cognitoidentityprovider::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .build(),
            ),
            endpoint: "http://127.0.0.1:9".into(),
            user_pool_id: "us-east-1_pool".into(),
            region: "us-east-1".into(),
            limits: Limits {
                connect_timeout: std::time::Duration::from_millis(5000),
                request_timeout: std::time::Duration::from_millis(1000),
                max_attempts: 3,
                max_backoff: std::time::Duration::from_millis(2000),
            },
        };
        let tried = Attempts {
            made,
            throttled: 0,
            elapsed: std::time::Duration::from_millis(3100),
        };
        describe_error("ListUsers", &client, err, tried)
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
    fn transport_failures_name_the_endpoint_the_cause_and_the_attempts() {
        let e = describe_after(SdkError::timeout_error("attempt timeout"), 3);
        assert_eq!(
            e.message,
            "Cognito ListUsers request to http://127.0.0.1:9 timed out after 1000 ms"
        );
        assert_eq!(
            e.detail.as_deref(),
            Some("No answer within request_timeout_ms (1000 ms) on 3 attempts (max_attempts) over 3.1 s.")
        );
        assert_eq!(e.code, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION);
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = describe_after(SdkError::dispatch_failure(ConnectorError::io(io.into())), 3);
        assert_eq!(
            e.message,
            "Cognito ListUsers request to http://127.0.0.1:9 failed after 3 attempts: connection refused"
        );
        assert_eq!(
            e.detail.as_deref(),
            Some("3 attempts over 3.1 s (max_attempts 3, max_backoff_ms 2000); cause: io error: Connection refused")
        );
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = describe(SdkError::dispatch_failure(ConnectorError::io(io.into())));
        assert!(
            e.message
                .ends_with("failed after 1 attempt: connection reset"),
            "{}",
            e.message
        );
    }

    #[test]
    fn what_a_retry_can_fix() {
        let status = |code: u16| {
            let raw = HttpResponse::new(StatusCode::try_from(code).unwrap(), SdkBody::empty());
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, "not JSON");
            SdkError::<ListUsersError, _>::response_error(ConnectorError::io(io.into()), raw)
        };
        assert_eq!(
            classify(&service_error("TooManyRequestsException", "")),
            Retry::Throttled
        );
        assert_eq!(classify(&status(429)), Retry::Throttled);
        assert_eq!(
            classify(&service_error("InternalErrorException", "")),
            Retry::Transient
        );
        assert_eq!(classify(&status(503)), Retry::Transient);
        assert_eq!(
            classify(&SdkError::<ListUsersError, _>::timeout_error("t")),
            Retry::Transient
        );
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let refused =
            SdkError::<ListUsersError, _>::dispatch_failure(ConnectorError::io(io.into()));
        assert_eq!(classify(&refused), Retry::Transient);
        // An error answer cut off in its body: no answer, tried again.
        let raw = HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "cut");
        let cut =
            SdkError::<ListUsersError, _>::response_error(ConnectorError::io(eof.into()), raw);
        assert_eq!(classify(&cut), Retry::Transient);
        assert_eq!(classify(&status(400)), Retry::Never);
        for code in [
            "ResourceNotFoundException",
            "NotAuthorizedException",
            "InvalidParameterException",
        ] {
            assert_eq!(classify(&service_error(code, "")), Retry::Never, "{code}");
        }
    }

    #[test]
    fn credential_and_tls_failures_are_explained_and_not_retried() {
        let failure = CredentialFailure {
            message: "STS refused to assume role \"arn:aws:iam::123456789012:role/r\": \
                      AccessDenied: not authorized"
                .into(),
            code: ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
        };
        // As the SDK nests it: the identity cache's error in a dispatch failure.
        let nested = CredentialsError::provider_error(failure);
        let err = SdkError::<ListUsersError, HttpResponse>::dispatch_failure(
            ConnectorError::other(Box::new(nested), None),
        );
        assert_eq!(classify(&err), Retry::Never);
        let e = describe_after(err, 1);
        assert_eq!(e.code, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION);
        assert!(e
            .message
            .starts_with("STS refused to assume role \"arn:aws:iam::123456789012:role/r\""));
        assert!(e.detail.unwrap().contains("was not sent"));

        // rustls's error inside the I/O errors of the TLS layer.
        let rustls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            std::io::Error::new(std::io::ErrorKind::InvalidData, rustls),
        );
        let err = SdkError::<ListUsersError, HttpResponse>::dispatch_failure(ConnectorError::io(
            io.into(),
        ));
        assert_eq!(classify(&err), Retry::Never);
        let e = describe_after(err, 1);
        assert_eq!(e.code, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION);
        assert_eq!(
            e.message,
            "Cognito ListUsers request to http://127.0.0.1:9 failed: TLS: invalid peer \
             certificate: UnknownIssuer"
        );
        assert!(e.hint.unwrap().contains("ca_file"));
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
