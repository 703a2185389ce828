//! Every option the wrapper accepts, declared once.
//!
//! The validator, the runtime settings and the README's options table all read `OPTIONS`.
//! Credentials may sit on the server or in a user mapping; PostgreSQL shows user mappings'
//! options only to their owner and superusers, while every role can read `pg_foreign_server`,
//! so the mapping is the place for secrets and wins over the server when it has any.

use std::fmt;
use std::time::Duration;

use pgrx::PgSqlErrorCode::*;

use crate::error::{FdwError, FdwResult};
use crate::objects::Object;

/// Where an option may be written: the catalog the validator is called for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Wrapper,
    Server,
    UserMapping,
    Table,
    Column,
    /// The OPTIONS clause of IMPORT FOREIGN SCHEMA.
    Import,
}

impl Place {
    pub fn describe(self) -> &'static str {
        match self {
            Place::Wrapper => "foreign data wrapper",
            Place::Server => "server",
            Place::UserMapping => "user mapping",
            Place::Table => "foreign table",
            Place::Column => "foreign table column",
            Place::Import => "IMPORT FOREIGN SCHEMA",
        }
    }

    /// The place as a message's "for ..." names it.
    fn for_place(self) -> String {
        match self {
            Place::Import => self.describe().to_owned(),
            _ => format!("a {}", self.describe()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any non-empty text.
    Text,
    /// A credential: checked for emptiness only, never echoed in any message.
    Secret,
    /// An http:// or https:// URL.
    Url,
    /// A whole number in a range.
    Int { min: i64, max: i64 },
    /// The name of a Cognito object this wrapper knows.
    Object,
    /// `true` or `false` (also `on`/`off`, `yes`/`no`), in any case.
    Bool,
    /// One of a fixed set of words, in any case.
    Choice(&'static [&'static str]),
    /// An AWS region name; checked with the pool id, whose prefix it must be.
    Region,
    /// `<region>_<letters and digits>`; checked with the region.
    UserPoolId,
    /// A standard attribute's name, or `custom:<name>` / `dev:<name>`.
    Attribute,
}

pub struct OptionSpec {
    pub name: &'static str,
    pub places: &'static [Place],
    pub kind: Kind,
    pub required: bool,
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

const CREDENTIAL_PLACES: &[Place] = &[Place::Server, Place::UserMapping];
/// Options a foreign table may set for itself, overriding its server's.
const SCAN_PLACES: &[Place] = &[Place::Server, Place::Table];

pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "aws_access_key_id",
        places: CREDENTIAL_PLACES,
        kind: Kind::Secret,
        required: false,
        default: None,
        doc: "AWS access key id. Required on the server or in a user mapping.",
    },
    OptionSpec {
        name: "aws_secret_access_key",
        places: CREDENTIAL_PLACES,
        kind: Kind::Secret,
        required: false,
        default: None,
        doc: "AWS secret access key, inline. Exactly one of this and `api_key_id`.",
    },
    OptionSpec {
        name: "api_key_id",
        places: CREDENTIAL_PLACES,
        kind: Kind::Text,
        required: false,
        default: None,
        doc: "Id (uuid) or name of a Vault secret holding the secret access key.",
    },
    OptionSpec {
        name: "aws_session_token",
        places: CREDENTIAL_PLACES,
        kind: Kind::Secret,
        required: false,
        default: None,
        doc: "Session token for temporary credentials.",
    },
    OptionSpec {
        name: "region",
        places: &[Place::Server],
        kind: Kind::Region,
        required: true,
        default: None,
        doc: "AWS region of the user pool, e.g. `eu-west-1`.",
    },
    OptionSpec {
        name: "user_pool_id",
        places: &[Place::Server],
        kind: Kind::UserPoolId,
        required: true,
        default: None,
        doc: "Id of the user pool, e.g. `eu-west-1_AbCdEf123`: its region, `_`, letters and \
              digits.",
    },
    OptionSpec {
        name: "endpoint_url",
        places: &[Place::Server],
        kind: Kind::Url,
        required: false,
        default: None,
        doc: "Another endpoint than AWS's own: an emulator or a VPC endpoint.",
    },
    OptionSpec {
        name: "connect_timeout_ms",
        places: &[Place::Server],
        kind: Kind::Int {
            min: 1,
            max: 600_000,
        },
        required: false,
        default: Some("5000"),
        doc: "Longest wait for a connection, per attempt.",
    },
    OptionSpec {
        name: "request_timeout_ms",
        places: &[Place::Server],
        kind: Kind::Int {
            min: 1,
            max: 3_600_000,
        },
        required: false,
        default: Some("30000"),
        doc: "Longest wait for one attempt of a request, connection included.",
    },
    OptionSpec {
        name: "max_attempts",
        places: &[Place::Server],
        kind: Kind::Int { min: 1, max: 20 },
        required: false,
        default: Some("5"),
        doc: "Attempts per request when Cognito fails transiently (5xx, timeouts, broken \
              connections); throttled attempts do not count: they may go on for up to \
              `request_timeout_ms` in all.",
    },
    OptionSpec {
        name: "max_backoff_ms",
        places: &[Place::Server],
        kind: Kind::Int {
            min: 1,
            max: 300_000,
        },
        required: false,
        default: Some("2000"),
        doc: "Longest wait between two attempts.",
    },
    OptionSpec {
        name: "pushdown",
        places: SCAN_PLACES,
        kind: Kind::Bool,
        required: false,
        default: Some("true"),
        doc: "Send WHERE conditions to Cognito as a ListUsers filter; `false` lists the whole \
              pool and filters locally, as the reference wrapper does.",
    },
    OptionSpec {
        name: "parallel_scan",
        places: SCAN_PLACES,
        kind: Kind::Choice(&["auto", "on", "off"]),
        required: false,
        default: Some("auto"),
        doc: "Split an unfiltered scan of a large pool into 16 partitions by `sub` prefix, \
              read concurrently: `auto` when reaching the rate needs several requests in \
              flight, `on` whenever the pool is large, `off` never.",
    },
    OptionSpec {
        name: "max_concurrent_requests",
        places: SCAN_PLACES,
        kind: Kind::Int { min: 1, max: 64 },
        required: false,
        default: Some("8"),
        doc: "Requests in flight at once in one scan. A foreign table may lower its server's \
              value (or the default), not raise it.",
    },
    OptionSpec {
        name: "requests_per_second",
        places: SCAN_PLACES,
        kind: Kind::Int {
            min: 1,
            max: 10_000,
        },
        required: false,
        default: Some("30"),
        doc: "Most ListUsers requests started per second by all backends of the cluster \
              together on the same endpoint and region (ListUsers' quota is 30 per account \
              and region); lowered automatically while Cognito throttles. A foreign table may \
              lower its server's value (or the default), not raise it.",
    },
    OptionSpec {
        name: "use_remote_estimate",
        places: &[Place::Server],
        kind: Kind::Bool,
        required: false,
        default: Some("true"),
        doc: "Estimate row counts from DescribeUserPool (cached per pool for 5 minutes).",
    },
    OptionSpec {
        name: "object",
        places: &[Place::Table],
        kind: Kind::Object,
        required: true,
        default: None,
        doc: "The Cognito object the table reads: `users`.",
    },
    OptionSpec {
        name: "attribute",
        places: &[Place::Column],
        kind: Kind::Attribute,
        required: false,
        default: None,
        doc: "Cognito attribute a column of `users` reads: a standard attribute's name, or \
              `custom:<name>` / `dev:<name>`, e.g. `custom:tenant`.",
    },
];

const SECRET_FORMS: [&str; 2] = ["aws_secret_access_key", "api_key_id"];
const CREDENTIAL_OPTIONS: [&str; 4] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "api_key_id",
    "aws_session_token",
];

fn spec(name: &str) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.name == name)
}

fn valid_in(place: Place) -> Vec<&'static str> {
    OPTIONS
        .iter()
        .filter(|o| o.places.contains(&place))
        .map(|o| o.name)
        .collect()
}

/// The value of option `name` among `(name, value)` pairs.
pub fn lookup<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The validator's whole check, for the options given in one place.
pub fn validate(place: Place, options: &[(String, String)]) -> FdwResult<()> {
    for (name, value) in options {
        let known = spec(name).filter(|s| s.places.contains(&place));
        let Some(spec) = known else {
            let valid = valid_in(place);
            let hint = if valid.is_empty() {
                format!("There are no valid options for {}.", place.for_place())
            } else {
                format!(
                    "Valid options for {} are: {}",
                    place.for_place(),
                    valid.join(", ")
                )
            };
            return Err(FdwError::new(
                ERRCODE_FDW_INVALID_OPTION_NAME,
                format!("invalid option \"{name}\""),
            )
            .with_hint(hint));
        };
        check_value(spec, value)?;
    }
    for spec in OPTIONS
        .iter()
        .filter(|s| s.required && s.places.contains(&place))
    {
        if lookup(options, spec.name).is_none() {
            return Err(FdwError::new(
                ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
                format!(
                    "option \"{}\" is required for {}",
                    spec.name,
                    place.for_place()
                ),
            ));
        }
    }
    if CREDENTIAL_PLACES.contains(&place) {
        check_credentials(options)?;
    }
    if place == Place::Server {
        check_pool(options)?;
    }
    Ok(())
}

/// The warning a server with an inline secret gets: every role can read `pg_foreign_server`.
/// The secret is still accepted, as the documented statements (and existing servers) use it.
pub fn warning(place: Place, options: &[(String, String)]) -> Option<FdwError> {
    if place != Place::Server || lookup(options, "aws_secret_access_key").is_none() {
        return None;
    }
    Some(
        FdwError::new(
            ERRCODE_WARNING,
            "option \"aws_secret_access_key\" on a server is readable by every role",
        )
        .with_detail("Server options are shown to every role in pg_foreign_server.")
        .with_hint(
            "Put the credentials in a user mapping (CREATE USER MAPPING ... OPTIONS \
             (aws_access_key_id '...', aws_secret_access_key '...')), which only its role and \
             superusers can read, or keep the secret in Vault and name it with api_key_id.",
        ),
    )
}

/// Option values reach HTTP headers, host names and messages; a control character would break
/// the first (the SDK panics on it) and garble the others.
fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

fn check_value(spec: &OptionSpec, value: &str) -> FdwResult<()> {
    let name = spec.name;
    let bad = |what: String| FdwError::new(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, what);
    if value.trim().is_empty() {
        return Err(bad(format!("option \"{name}\" must not be empty")));
    }
    // The value is not echoed: it may be a secret, and its control characters would garble
    // the message.
    if has_control(value) {
        return Err(bad(format!(
            "option \"{name}\" must not contain control characters"
        )));
    }
    match spec.kind {
        // Shapes that depend on each other are checked together, in `check_pool`.
        Kind::Text | Kind::Secret | Kind::Region | Kind::UserPoolId => Ok(()),
        Kind::Url => {
            let rest = value
                .strip_prefix("http://")
                .or_else(|| value.strip_prefix("https://"));
            let authority = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
            match rest {
                // The endpoint is named in error messages: it must not hold a password.
                Some(_) if authority.is_some_and(|a| a.contains('@')) => Err(bad(format!(
                    "option \"{name}\" must not carry a user name or password"
                ))),
                Some(host) if !host.is_empty() && !value.chars().any(char::is_whitespace) => Ok(()),
                _ => Err(bad(format!(
                    "option \"{name}\" must be an http:// or https:// URL, not \"{value}\""
                ))),
            }
        }
        Kind::Int { min, max } => match value.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(bad(format!(
                "option \"{name}\" must be a whole number from {min} to {max}, not \"{value}\""
            ))),
        },
        Kind::Bool => match parse_bool(value) {
            Some(_) => Ok(()),
            None => Err(bad(format!(
                "option \"{name}\" must be true or false, not \"{value}\""
            ))),
        },
        Kind::Choice(words) => match words.contains(&word(value).as_str()) {
            true => Ok(()),
            false => Err(bad(format!(
                "option \"{name}\" must be one of {}, not \"{value}\"",
                words.join(", ")
            ))),
        },
        Kind::Object => match Object::from_name(&word(value)) {
            Some(_) => Ok(()),
            None => Err(bad(format!("unknown Cognito object \"{value}\""))
                .with_hint(format!("Known objects are: {}", Object::names().join(", ")))),
        },
        Kind::Attribute => check_attribute(value),
    }
}

/// A keyword as the options compare it: case and surrounding blanks do not matter, the same
/// rule for booleans, choices and object names.
pub fn word(value: &str) -> String {
    value.trim().to_ascii_lowercase()
}

/// The attribute names that need no prefix: the standard ones a column may be named after,
/// and `updated_at` (reachable only through the option, as the column of that name reads
/// UserLastModifiedDate).
fn standard_attributes() -> impl Iterator<Item = &'static str> {
    crate::objects::users::STANDARD_ATTRIBUTES
        .iter()
        .copied()
        .chain(["updated_at"])
}

/// Cognito's attribute names are case-sensitive, so a misspelled standard name would read NULL
/// for every user: anything not standard must carry the prefix of a custom or developer-only
/// attribute, followed by a name.
fn check_attribute(value: &str) -> FdwResult<()> {
    if standard_attributes().any(|a| a == value) {
        return Ok(());
    }
    let named = ["custom:", "dev:"].iter().any(|prefix| {
        value
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.chars().any(char::is_whitespace))
    });
    if named {
        return Ok(());
    }
    Err(FdwError::new(
        ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
        format!("option \"attribute\" names no Cognito attribute: \"{value}\""),
    )
    .with_hint(format!(
        "Use a standard attribute ({}) or custom:<name> or dev:<name>.",
        standard_attributes().collect::<Vec<_>>().join(", ")
    )))
}

/// `xx-word(-word)*-N`: `eu-west-1`, `us-gov-west-1`, `cn-northwest-1`, `us-isob-east-1`.
fn is_region(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// A bad region would surface later as the SDK's debug dump, and a pool id of another region
/// as "pool not found" after every retry: both are refused here, naming the expected shape.
fn check_pool(options: &[(String, String)]) -> FdwResult<()> {
    let bad = |what: String, hint: &str| {
        FdwError::new(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, what).with_hint(hint.to_owned())
    };
    let (Some(region), Some(pool)) = (lookup(options, "region"), lookup(options, "user_pool_id"))
    else {
        return Ok(());
    };
    if !is_region(region) {
        return Err(bad(
            format!("option \"region\" is not an AWS region name: \"{region}\""),
            "A region name looks like eu-west-1 or us-gov-west-1.",
        ));
    }
    let shape = "A user pool id is its region, an underscore, then letters and digits, like \
                 eu-west-1_AbCdEf123.";
    let Some((prefix, id)) = pool.split_once('_') else {
        return Err(bad(
            format!("option \"user_pool_id\" is not a user pool id: \"{pool}\""),
            shape,
        ));
    };
    if !is_region(prefix) || id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad(
            format!("option \"user_pool_id\" is not a user pool id: \"{pool}\""),
            shape,
        ));
    }
    if prefix != region {
        return Err(bad(
            format!(
                "user pool \"{pool}\" is in region \"{prefix}\", but option \"region\" is \
                 \"{region}\""
            ),
            "A pool is reached through its own region: make the two agree.",
        ));
    }
    Ok(())
}

/// Credentials come as a set: an access key id and exactly one form of the secret. A place
/// without any credential option is fine: the set may sit in the other place.
fn check_credentials(options: &[(String, String)]) -> FdwResult<()> {
    if !CREDENTIAL_OPTIONS
        .iter()
        .any(|name| lookup(options, name).is_some())
    {
        return Ok(());
    }
    if lookup(options, "aws_access_key_id").is_none() {
        return Err(FdwError::new(
            ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
            "option \"aws_access_key_id\" is required with the other credential options",
        ));
    }
    match SECRET_FORMS.map(|name| lookup(options, name).is_some()) {
        [true, true] => Err(FdwError::new(
            ERRCODE_FDW_ERROR,
            "options \"aws_secret_access_key\" and \"api_key_id\" cannot both be set",
        )
        .with_hint("Give the secret inline or as a Vault secret id, not both.")),
        [false, false] => Err(FdwError::new(
            ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
            "one of the options \"aws_secret_access_key\" or \"api_key_id\" is required",
        )),
        _ => Ok(()),
    }
}

/// Where the secret access key comes from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SecretSource {
    Inline(String),
    /// The id or name of a Vault secret; not itself secret.
    Vault(String),
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret: SecretSource,
    pub session_token: Option<String>,
}

// Credentials must never reach a message, even through a stray `{:?}`.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// Everything a scan needs to know about its server, resolved from the catalogs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSettings {
    pub server_name: String,
    pub region: String,
    pub user_pool_id: String,
    pub endpoint_url: Option<String>,
    pub limits: Limits,
    pub credentials: Credentials,
}

/// How long one request may take, and how often it is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_attempts: u32,
    pub max_backoff: Duration,
}

impl fmt::Display for Limits {
    /// As EXPLAIN (ANALYZE, VERBOSE) reports them, in the options' own names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connect_timeout_ms {}, request_timeout_ms {}, max_attempts {}, max_backoff_ms {}",
            self.connect_timeout.as_millis(),
            self.request_timeout.as_millis(),
            self.max_attempts,
            self.max_backoff.as_millis()
        )
    }
}

fn int_option(options: &[(String, String)], name: &str) -> i64 {
    let value = lookup(options, name)
        .or_else(|| spec(name).and_then(|s| s.default))
        .unwrap_or("0");
    // The validator already checked the value; a default is a literal in OPTIONS.
    value.trim().parse().unwrap_or(0)
}

fn millis(options: &[(String, String)], name: &str) -> Duration {
    Duration::from_millis(int_option(options, name).max(1) as u64)
}

impl ServerSettings {
    /// Merge a server's options with those of the user mapping that applies (if any).
    pub fn resolve(
        server_name: &str,
        server: &[(String, String)],
        mapping: &[(String, String)],
    ) -> FdwResult<ServerSettings> {
        // Options written by an older release never met this validator; a value it refuses
        // (a control character in a key id makes the SDK panic) must not reach a request.
        let within = |what: String| {
            move |e: FdwError| {
                let detail = match &e.detail {
                    Some(d) => format!("In the options of {what}. {d}"),
                    None => format!("In the options of {what}."),
                };
                e.with_detail(detail)
            }
        };
        validate(Place::Server, server).map_err(within(format!("server \"{server_name}\"")))?;
        validate(Place::UserMapping, mapping).map_err(within(format!(
            "the user mapping for server \"{server_name}\""
        )))?;
        let required = |name: &str| {
            lookup(server, name).map(str::to_owned).ok_or_else(|| {
                FdwError::new(
                    ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
                    format!("server \"{server_name}\" has no option \"{name}\""),
                )
            })
        };
        let has_credentials =
            |opts: &[(String, String)]| lookup(opts, "aws_access_key_id").is_some();
        let source = if has_credentials(mapping) {
            mapping
        } else if has_credentials(server) {
            server
        } else {
            return Err(FdwError::new(
                ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
                format!("no AWS credentials for server \"{server_name}\""),
            )
            .with_hint(
                "Set aws_access_key_id and aws_secret_access_key (or api_key_id) in a user \
                 mapping for the current role or PUBLIC, or on the server.",
            ));
        };
        let secret = match (
            lookup(source, "aws_secret_access_key"),
            lookup(source, "api_key_id"),
        ) {
            (Some(secret), None) => SecretSource::Inline(secret.to_owned()),
            (None, Some(id)) => SecretSource::Vault(id.to_owned()),
            _ => {
                return Err(FdwError::new(
                    ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
                    format!(
                        "server \"{server_name}\" needs exactly one of aws_secret_access_key \
                         and api_key_id"
                    ),
                ))
            }
        };
        Ok(ServerSettings {
            server_name: server_name.to_owned(),
            region: required("region")?,
            user_pool_id: required("user_pool_id")?,
            endpoint_url: lookup(server, "endpoint_url").map(str::to_owned),
            limits: Limits {
                connect_timeout: millis(server, "connect_timeout_ms"),
                request_timeout: millis(server, "request_timeout_ms"),
                max_attempts: int_option(server, "max_attempts").clamp(1, 20) as u32,
                max_backoff: millis(server, "max_backoff_ms"),
            },
            credentials: Credentials {
                access_key_id: lookup(source, "aws_access_key_id")
                    .unwrap_or_default()
                    .to_owned(),
                secret,
                session_token: lookup(source, "aws_session_token").map(str::to_owned),
            },
        })
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" => Some(true),
        "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// How a scan of one table reads Cognito: its table's options over its server's, else the
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanSettings {
    pub pushdown: bool,
    /// `parallel_scan` is not `off`: a large pool may be partitioned.
    pub parallel_scan: bool,
    /// `parallel_scan 'on'`: a large pool is partitioned whatever the rate needs.
    pub always_partition: bool,
    pub max_concurrent_requests: u32,
    pub requests_per_second: u32,
}

impl ScanSettings {
    pub fn resolve(server: &[(String, String)], table: &[(String, String)]) -> ScanSettings {
        let get = |name: &str| {
            word(
                lookup(table, name)
                    .or_else(|| lookup(server, name))
                    .or_else(|| spec(name).and_then(|s| s.default))
                    .unwrap_or_default(),
            )
        };
        let number = |value: Option<&str>| value.and_then(|v| v.trim().parse::<u32>().ok());
        // The server's value (else the default) is a ceiling: a role with USAGE on the server
        // may create tables, and must not spend more of the account's quota than the server's
        // owner allowed.
        let limit = |name: &str| {
            let ceiling = number(lookup(server, name))
                .or_else(|| number(spec(name).and_then(|s| s.default)))
                .unwrap_or(1)
                .max(1);
            number(lookup(table, name)).map_or(ceiling, |own| own.clamp(1, ceiling))
        };
        ScanSettings {
            pushdown: parse_bool(&get("pushdown")).unwrap_or(true),
            parallel_scan: get("parallel_scan") != "off",
            always_partition: get("parallel_scan") == "on",
            max_concurrent_requests: limit("max_concurrent_requests"),
            requests_per_second: limit("requests_per_second"),
        }
    }
}

impl ScanSettings {
    /// The options that shape a listing, as EXPLAIN (ANALYZE, VERBOSE) reports them.
    pub fn describe(&self) -> String {
        format!(
            "max_concurrent_requests {}, requests_per_second {}, parallel_scan {}",
            self.max_concurrent_requests,
            self.requests_per_second,
            match (self.parallel_scan, self.always_partition) {
                (false, _) => "off",
                (true, true) => "on",
                (true, false) => "auto",
            }
        )
    }
}

/// Whether row counts may come from DescribeUserPool.
pub fn use_remote_estimate(server: &[(String, String)]) -> bool {
    lookup(server, "use_remote_estimate")
        .and_then(parse_bool)
        .unwrap_or(true)
}

/// The README's options table, generated so it cannot drift from `OPTIONS`.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| option | where | required | default | meaning |\n|---|---|---|---|---|\n");
    for o in OPTIONS {
        let places: Vec<&str> = o.places.iter().map(|p| p.describe()).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            o.name,
            places.join(", "),
            if o.required { "yes" } else { "no" },
            o.default.unwrap_or(""),
            o.doc
        ));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Option pairs as the catalogs give them; shared with other modules' tests.
    pub(crate) fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn server(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut o = opts(&[("region", "us-east-1"), ("user_pool_id", "us-east-1_abc")]);
        o.extend(opts(extra));
        o
    }

    #[test]
    fn unknown_option_lists_the_valid_ones_for_its_place() {
        let err = validate(Place::Table, &opts(&[("objct", "users")])).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_OPTION_NAME);
        assert_eq!(err.message, "invalid option \"objct\"");
        assert_eq!(
            err.hint.as_deref(),
            Some(
                "Valid options for a foreign table are: pushdown, parallel_scan, \
                 max_concurrent_requests, requests_per_second, object"
            )
        );
        // A server option in the wrong place is unknown there.
        let err = validate(Place::Table, &opts(&[("region", "x")])).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_OPTION_NAME);
        let err = validate(Place::Wrapper, &opts(&[("region", "x")])).unwrap_err();
        assert_eq!(
            err.hint.as_deref(),
            Some("There are no valid options for a foreign data wrapper.")
        );
    }

    #[test]
    fn required_options() {
        let err = validate(Place::Server, &opts(&[("region", "us-east-1")])).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_OPTION_NAME_NOT_FOUND);
        assert!(err.message.contains("user_pool_id"));
        let err = validate(Place::Table, &[]).unwrap_err();
        assert!(err.message.contains("\"object\""));
        assert!(validate(Place::Table, &opts(&[("object", "users")])).is_ok());
        assert!(validate(Place::Wrapper, &[]).is_ok());
    }

    #[test]
    fn credentials_come_as_a_set() {
        // None at all: they may sit in a user mapping.
        assert!(validate(Place::Server, &server(&[])).is_ok());
        assert!(validate(Place::UserMapping, &[]).is_ok());
        let both = server(&[
            ("aws_access_key_id", "AK"),
            ("aws_secret_access_key", "s"),
            ("api_key_id", "id"),
        ]);
        let err = validate(Place::Server, &both).unwrap_err();
        assert!(err.message.contains("cannot both be set"));
        let neither = opts(&[("aws_access_key_id", "AK")]);
        let err = validate(Place::UserMapping, &neither).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_OPTION_NAME_NOT_FOUND);
        let no_key = opts(&[("aws_secret_access_key", "s")]);
        let err = validate(Place::UserMapping, &no_key).unwrap_err();
        assert!(err.message.contains("aws_access_key_id"));
        let good = opts(&[("aws_access_key_id", "AK"), ("api_key_id", "cognito")]);
        assert!(validate(Place::UserMapping, &good).is_ok());
    }

    #[test]
    fn values_are_checked_and_secrets_never_echoed() {
        let err = validate(Place::Server, &server(&[("endpoint_url", "ftp://x")])).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE);
        assert!(validate(
            Place::Server,
            &server(&[("endpoint_url", "http://127.0.0.1:1")])
        )
        .is_ok());
        assert!(validate(Place::Server, &server(&[("endpoint_url", "https://")])).is_err());
        let err = validate(
            Place::Server,
            &server(&[("endpoint_url", "http://me:TOPSECRET@127.0.0.1:1/")]),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "option \"endpoint_url\" must not carry a user name or password"
        );
        assert!(validate(Place::Server, &server(&[("endpoint_url", "http://h/a@b")])).is_ok());
        for bad in ["-1", "0", "abc", "1e9", "99999999999"] {
            let err = validate(Place::Server, &server(&[("request_timeout_ms", bad)])).unwrap_err();
            assert!(
                err.message.contains("whole number"),
                "{bad}: {}",
                err.message
            );
        }
        assert!(validate(Place::Server, &server(&[("max_attempts", "10")])).is_ok());
        assert!(validate(
            Place::Server,
            &opts(&[("region", " "), ("user_pool_id", "p")])
        )
        .is_err());
        let err = validate(Place::Table, &opts(&[("object", "widgets")])).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("Known objects are: users"));
    }

    /// Every option, in every place it is valid, refuses a control character without echoing
    /// the value: a key id with a newline made the SDK panic when it built the request.
    #[test]
    fn control_characters_are_refused_everywhere_and_never_echoed() {
        for o in OPTIONS {
            for &place in o.places {
                for bad in [
                    "AKIA\nTOPSECRET",
                    "TOPSECRET\r",
                    "\u{7f}TOPSECRET",
                    "TOP\tSECRET",
                ] {
                    let err = validate(place, &opts(&[(o.name, bad)])).unwrap_err();
                    assert_eq!(err.code, ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, "{}", o.name);
                    assert_eq!(
                        err.message,
                        format!("option \"{}\" must not contain control characters", o.name)
                    );
                    let shown = format!("{err:?}");
                    assert!(!shown.contains("SECRET"), "{shown}");
                }
            }
        }
        // A secret refused for another reason is not echoed either.
        let err = validate(
            Place::UserMapping,
            &opts(&[
                ("aws_secret_access_key", "TOPSECRET"),
                ("api_key_id", "v"),
                ("aws_access_key_id", "AK"),
            ]),
        )
        .unwrap_err();
        assert!(
            err.message.contains("cannot both be set"),
            "{}",
            err.message
        );
        assert!(!format!("{err:?}").contains("TOPSECRET"));
    }

    #[test]
    fn regions_and_pool_ids_have_their_shapes() {
        for region in [
            "us-east-1",
            "eu-west-3",
            "ap-southeast-2",
            "us-gov-west-1",
            "cn-northwest-1",
            "us-isob-east-1",
            "il-central-1",
        ] {
            let pool = format!("{region}_AbCdEf123");
            let ok = opts(&[("region", region), ("user_pool_id", &pool)]);
            assert!(validate(Place::Server, &ok).is_ok(), "{region}");
        }
        // moto's pool ids: the region, then 32 hex digits.
        let moto = opts(&[
            ("region", "us-east-1"),
            ("user_pool_id", "us-east-1_0123456789abcdef0123456789abcdef"),
        ]);
        assert!(validate(Place::Server, &moto).is_ok());
        for region in [
            "us east 1",
            "US-EAST-1",
            "useast1",
            "us-east",
            "u-east-1",
            "us--1",
            "us-east-1a",
        ] {
            let err = validate(
                Place::Server,
                &opts(&[("region", region), ("user_pool_id", "us-east-1_abc")]),
            )
            .unwrap_err();
            assert_eq!(err.code, ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE);
            assert_eq!(
                err.message,
                format!("option \"region\" is not an AWS region name: \"{region}\""),
            );
        }
        for pool in [
            "p",
            "us-east-1_",
            "us-east-1_ab-c",
            "_abc",
            "useast1_abc",
            "us-east-1_a b",
        ] {
            let err = validate(
                Place::Server,
                &opts(&[("region", "us-east-1"), ("user_pool_id", pool)]),
            )
            .unwrap_err();
            assert_eq!(
                err.message,
                format!("option \"user_pool_id\" is not a user pool id: \"{pool}\""),
            );
        }
        let err = validate(
            Place::Server,
            &opts(&[("region", "eu-west-1"), ("user_pool_id", "us-east-1_abc")]),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "user pool \"us-east-1_abc\" is in region \"us-east-1\", but option \"region\" is \
             \"eu-west-1\""
        );
        // Checked after every single value, so a statement's other mistakes are named first.
        let err = validate(
            Place::Server,
            &opts(&[
                ("region", "r"),
                ("user_pool_id", "p"),
                ("max_attempts", "many"),
            ]),
        )
        .unwrap_err();
        assert!(err.message.contains("max_attempts"), "{}", err.message);
    }

    #[test]
    fn keywords_ignore_case_everywhere() {
        for (name, value) in [
            ("pushdown", "TRUE"),
            ("pushdown", "Off"),
            ("parallel_scan", "AUTO"),
            ("parallel_scan", " Off "),
            ("object", "USERS"),
        ] {
            let table = opts(&[("object", "users"), (name, value)]);
            assert!(validate(Place::Table, &table).is_ok(), "{name} {value}");
        }
        assert!(validate(Place::Server, &server(&[("use_remote_estimate", "NO")])).is_ok());
        let s = ScanSettings::resolve(
            &[],
            &opts(&[("parallel_scan", "OFF"), ("pushdown", "FALSE")]),
        );
        assert!(!s.parallel_scan && !s.pushdown);
        assert!(ScanSettings::resolve(&[], &opts(&[("parallel_scan", "Auto")])).parallel_scan);
    }

    #[test]
    fn attributes_are_standard_or_prefixed() {
        let column = |a: &str| validate(Place::Column, &opts(&[("attribute", a)]));
        for good in [
            "email",
            "given_name",
            "email_verified",
            "updated_at",
            "custom:tenant",
            "custom:x",
            "dev:internal_id",
        ] {
            assert!(column(good).is_ok(), "{good}");
        }
        for bad in [
            "custom:",
            "dev:",
            "emial",
            "Email",
            "tenant",
            "custom: x",
            "cognito:user_status",
        ] {
            let err = column(bad).unwrap_err();
            assert_eq!(err.code, ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE);
            assert_eq!(
                err.message,
                format!("option \"attribute\" names no Cognito attribute: \"{bad}\"")
            );
            let hint = err.hint.unwrap();
            assert!(
                hint.contains("sub, email, email_verified,") && hint.contains("updated_at"),
                "{hint}"
            );
        }
    }

    #[test]
    fn import_takes_no_options() {
        assert!(validate(Place::Import, &[]).is_ok());
        let err = validate(Place::Import, &opts(&[("foo", "bar")])).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_OPTION_NAME);
        assert_eq!(err.message, "invalid option \"foo\"");
        assert_eq!(
            err.hint.as_deref(),
            Some("There are no valid options for IMPORT FOREIGN SCHEMA.")
        );
    }

    #[test]
    fn inline_secrets_on_a_server_warn() {
        let inline = server(&[
            ("aws_access_key_id", "AK"),
            ("aws_secret_access_key", "TOPSECRET"),
        ]);
        let w = warning(Place::Server, &inline).expect("a warning");
        assert_eq!(w.code, ERRCODE_WARNING);
        let text = format!("{} {:?} {:?}", w.message, w.detail, w.hint);
        assert!(
            text.contains("user mapping") && text.contains("api_key_id"),
            "{text}"
        );
        assert!(!text.contains("TOPSECRET"));
        // Vault, or a secret in a user mapping, is what the warning asks for.
        let vault = server(&[("aws_access_key_id", "AK"), ("api_key_id", "v")]);
        assert!(warning(Place::Server, &vault).is_none());
        let mapping = opts(&[("aws_access_key_id", "AK"), ("aws_secret_access_key", "s")]);
        assert!(warning(Place::UserMapping, &mapping).is_none());
    }

    /// Options stored before this validator existed are checked when used.
    #[test]
    fn resolve_refuses_what_the_validator_refuses() {
        let srv = server(&[]);
        let map = opts(&[
            ("aws_access_key_id", "AK\nX"),
            ("aws_secret_access_key", "TOPSECRET"),
        ]);
        let err = ServerSettings::resolve("srv", &srv, &map).unwrap_err();
        assert_eq!(
            err.message,
            "option \"aws_access_key_id\" must not contain control characters"
        );
        assert_eq!(
            err.detail.as_deref(),
            Some("In the options of the user mapping for server \"srv\".")
        );
        let old = opts(&[
            ("region", "us east 1"),
            ("user_pool_id", "us-east-1_abc"),
            ("aws_access_key_id", "AK"),
            ("aws_secret_access_key", "s"),
        ]);
        let err = ServerSettings::resolve("srv", &old, &[]).unwrap_err();
        assert!(
            err.message.contains("not an AWS region name"),
            "{}",
            err.message
        );
        assert_eq!(
            err.detail.as_deref(),
            Some("In the options of server \"srv\".")
        );
    }

    #[test]
    fn mapping_wins_over_server_and_defaults_apply() {
        let srv = server(&[
            ("aws_access_key_id", "SERVERKEY"),
            ("aws_secret_access_key", "s1"),
        ]);
        let map = opts(&[
            ("aws_access_key_id", "MAPKEY"),
            ("api_key_id", "vault-name"),
        ]);
        let s = ServerSettings::resolve("srv", &srv, &map).unwrap();
        assert_eq!(s.credentials.access_key_id, "MAPKEY");
        assert!(s.credentials.secret == SecretSource::Vault("vault-name".into()));
        assert_eq!(
            s.limits.to_string(),
            "connect_timeout_ms 5000, request_timeout_ms 30000, max_attempts 5, max_backoff_ms 2000"
        );
        let s = ServerSettings::resolve("srv", &srv, &[]).unwrap();
        assert_eq!(s.credentials.access_key_id, "SERVERKEY");
        let err = ServerSettings::resolve("srv", &server(&[]), &[]).unwrap_err();
        assert!(err.message.contains("no AWS credentials"));
    }

    #[test]
    fn debug_output_hides_credentials() {
        let srv = server(&[
            ("aws_access_key_id", "AKIDSECRET"),
            ("aws_secret_access_key", "TOPSECRET"),
        ]);
        let s = ServerSettings::resolve("srv", &srv, &[]).unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("TOPSECRET") && !shown.contains("AKIDSECRET"),
            "{shown}"
        );
    }

    #[test]
    fn scan_settings_table_over_server_over_defaults() {
        let s = ScanSettings::resolve(&[], &[]);
        assert_eq!(
            s,
            ScanSettings {
                pushdown: true,
                parallel_scan: true,
                always_partition: false,
                max_concurrent_requests: 8,
                requests_per_second: 30
            }
        );
        let server = opts(&[("pushdown", "false"), ("requests_per_second", "10")]);
        let table = opts(&[("pushdown", "on"), ("parallel_scan", "off")]);
        let s = ScanSettings::resolve(&server, &table);
        assert!(s.pushdown && !s.parallel_scan);
        let on = ScanSettings::resolve(&[], &opts(&[("parallel_scan", "On")]));
        assert!(on.parallel_scan && on.always_partition);
        assert!(on.describe().ends_with("parallel_scan on"));
        assert!(!ScanSettings::resolve(&[], &[]).always_partition);
        assert_eq!(s.requests_per_second, 10);
        // The server's limits (or the defaults) are a ceiling a table can only go below.
        let owner = opts(&[
            ("requests_per_second", "5"),
            ("max_concurrent_requests", "1"),
        ]);
        let greedy = opts(&[
            ("requests_per_second", "10000"),
            ("max_concurrent_requests", "64"),
        ]);
        let s = ScanSettings::resolve(&owner, &greedy);
        assert_eq!((s.requests_per_second, s.max_concurrent_requests), (5, 1));
        let s = ScanSettings::resolve(&[], &greedy);
        assert_eq!((s.requests_per_second, s.max_concurrent_requests), (30, 8));
        let modest = opts(&[
            ("requests_per_second", "2"),
            ("max_concurrent_requests", "3"),
        ]);
        let s = ScanSettings::resolve(&opts(&[("requests_per_second", "100")]), &modest);
        assert_eq!((s.requests_per_second, s.max_concurrent_requests), (2, 3));
        assert!(!ScanSettings::resolve(&server, &[]).pushdown);
        let err = validate(
            Place::Table,
            &opts(&[("object", "users"), ("parallel_scan", "always")]),
        )
        .unwrap_err();
        assert!(
            err.message.contains("one of auto, on, off"),
            "{}",
            err.message
        );
        assert!(validate(
            Place::Table,
            &opts(&[("object", "users"), ("pushdown", "maybe")])
        )
        .is_err());
        assert!(!use_remote_estimate(&opts(&[(
            "use_remote_estimate",
            "off"
        )])));
    }

    #[test]
    fn every_option_has_a_place_and_doc() {
        for o in OPTIONS {
            assert!(!o.places.is_empty() && !o.doc.is_empty(), "{}", o.name);
            if let Some(d) = o.default {
                assert!(check_value(o, d).is_ok(), "default of {}", o.name);
            }
        }
        assert!(markdown_table().contains("| `object` | foreign table | yes |"));
    }
}

#[cfg(test)]
mod readme {
    /// The README's options table is generated from `OPTIONS`; this fails when they drift.
    /// To refresh it: `cargo test --lib --release readme -- --nocapture` prints the table.
    #[test]
    fn readme_options_table_is_current() {
        let table = super::markdown_table();
        println!("{table}");
        assert!(
            include_str!("../README.md").contains(&table),
            "README.md's options table differs from options::OPTIONS"
        );
    }
}
