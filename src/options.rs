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
}

impl Place {
    pub fn describe(self) -> &'static str {
        match self {
            Place::Wrapper => "foreign data wrapper",
            Place::Server => "server",
            Place::UserMapping => "user mapping",
            Place::Table => "foreign table",
            Place::Column => "foreign table column",
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
    /// `true` or `false` (also `on`/`off`, `yes`/`no`).
    Bool,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
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
        kind: Kind::Text,
        required: true,
        default: None,
        doc: "AWS region of the user pool, e.g. `eu-west-1`.",
    },
    OptionSpec {
        name: "user_pool_id",
        places: &[Place::Server],
        kind: Kind::Text,
        required: true,
        default: None,
        doc: "Id of the user pool, e.g. `eu-west-1_AbCdEf123`.",
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
        kind: Kind::Choice(&["auto", "off"]),
        required: false,
        default: Some("auto"),
        doc: "Split an unfiltered scan of a large pool into 16 partitions by `sub` prefix, \
              read concurrently.",
    },
    OptionSpec {
        name: "max_concurrent_requests",
        places: SCAN_PLACES,
        kind: Kind::Int { min: 1, max: 64 },
        required: false,
        default: Some("8"),
        doc: "Requests in flight at once in one scan.",
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
              and region); lowered automatically while Cognito throttles.",
    },
    OptionSpec {
        name: "use_remote_estimate",
        places: &[Place::Server],
        kind: Kind::Bool,
        required: false,
        default: Some("true"),
        doc: "Estimate row counts from DescribeUserPool (cached per server for 5 minutes).",
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
        kind: Kind::Text,
        required: false,
        default: None,
        doc: "Cognito attribute a column of `users` reads, e.g. `custom:tenant`.",
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
                format!("There are no valid options for a {}.", place.describe())
            } else {
                format!(
                    "Valid options for a {} are: {}",
                    place.describe(),
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
                    "option \"{}\" is required for a {}",
                    spec.name,
                    place.describe()
                ),
            ));
        }
    }
    if CREDENTIAL_PLACES.contains(&place) {
        check_credentials(options)?;
    }
    Ok(())
}

fn check_value(spec: &OptionSpec, value: &str) -> FdwResult<()> {
    let name = spec.name;
    let bad = |what: String| FdwError::new(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, what);
    if value.trim().is_empty() {
        return Err(bad(format!("option \"{name}\" must not be empty")));
    }
    match spec.kind {
        Kind::Text | Kind::Secret => Ok(()),
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
        Kind::Choice(words) => match words.contains(&value.trim()) {
            true => Ok(()),
            false => Err(bad(format!(
                "option \"{name}\" must be one of {}, not \"{value}\"",
                words.join(", ")
            ))),
        },
        Kind::Object => match Object::from_name(value) {
            Some(_) => Ok(()),
            None => Err(bad(format!("unknown Cognito object \"{value}\""))
                .with_hint(format!("Known objects are: {}", Object::names().join(", ")))),
        },
    }
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
    pub parallel_scan: bool,
    pub max_concurrent_requests: u32,
    pub requests_per_second: u32,
}

impl ScanSettings {
    pub fn resolve(server: &[(String, String)], table: &[(String, String)]) -> ScanSettings {
        let get = |name: &str| {
            lookup(table, name)
                .or_else(|| lookup(server, name))
                .or_else(|| spec(name).and_then(|s| s.default))
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let int = |name: &str| get(name).parse::<u32>().unwrap_or(1).max(1);
        ScanSettings {
            pushdown: parse_bool(&get("pushdown")).unwrap_or(true),
            parallel_scan: get("parallel_scan") != "off",
            max_concurrent_requests: int("max_concurrent_requests"),
            requests_per_second: int("requests_per_second"),
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
            if self.parallel_scan { "auto" } else { "off" }
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
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
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
        let err =
            validate(Place::UserMapping, &opts(&[("aws_secret_access_key", "")])).unwrap_err();
        assert!(!err.message.contains("TOPSECRET"));
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
                max_concurrent_requests: 8,
                requests_per_second: 30
            }
        );
        let server = opts(&[("pushdown", "false"), ("requests_per_second", "10")]);
        let table = opts(&[("pushdown", "on"), ("parallel_scan", "off")]);
        let s = ScanSettings::resolve(&server, &table);
        assert!(s.pushdown && !s.parallel_scan);
        assert_eq!(s.requests_per_second, 10);
        assert!(!ScanSettings::resolve(&server, &[]).pushdown);
        let err = validate(
            Place::Table,
            &opts(&[("object", "users"), ("parallel_scan", "always")]),
        )
        .unwrap_err();
        assert!(err.message.contains("one of auto, off"), "{}", err.message);
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
