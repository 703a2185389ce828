//! The one declaration of every option: where it may be written, what shape its value has,
//! whether it is required, its default and its meaning. The validator, the resolved settings
//! and the README's options table all read `OPTIONS`.

use crate::options::Place;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any non-empty text.
    Text,
    /// A credential: checked for emptiness only, never echoed in any message.
    Secret,
    /// An http:// or https:// URL.
    Url,
    /// An http:// or https:// URL that may carry a user name and password: checked like `Url`
    /// but, like a secret, never echoed.
    ProxyUrl,
    /// An absolute file path on the database server.
    Path,
    /// An IAM role's ARN: `arn:<partition>:iam::<account>:role/<name>`.
    RoleArn,
    /// An STS role session name: 2 to 64 of letters, digits and `_+=,.@-`.
    SessionName,
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

pub(super) const CREDENTIAL_PLACES: &[Place] = &[Place::Server, Place::UserMapping];
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
        name: "credentials",
        places: CREDENTIAL_PLACES,
        kind: Kind::Choice(&["options", "aws"]),
        required: false,
        default: Some("options"),
        doc: "Where the base credentials come from: `options` (the key options or Vault, \
              nothing else is read) or `aws` (the AWS SDK's default chain as the PostgreSQL \
              server process sees it: environment, shared config and credentials files, web \
              identity, ECS, EC2 instance metadata; only a superuser may set it).",
    },
    OptionSpec {
        name: "role_arn",
        places: CREDENTIAL_PLACES,
        kind: Kind::RoleArn,
        required: false,
        default: None,
        doc: "IAM role to assume through STS with the base credentials; a user mapping's wins \
              over the server's.",
    },
    OptionSpec {
        name: "external_id",
        places: CREDENTIAL_PLACES,
        kind: Kind::Secret,
        required: false,
        default: None,
        doc: "External id for assuming `role_arn` (in the same place as `role_arn`).",
    },
    OptionSpec {
        name: "role_session_name",
        places: CREDENTIAL_PLACES,
        kind: Kind::SessionName,
        required: false,
        default: Some("cognito_fdw"),
        doc: "Session name for assuming `role_arn` (in the same place as `role_arn`).",
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
        places: SCAN_PLACES,
        kind: Kind::UserPoolId,
        required: false,
        default: None,
        doc: "Id of the user pool, e.g. `eu-west-1_AbCdEf123`: its region (the server's), `_`, \
              letters and digits. On the server, on the table (which wins), or both; every \
              object but `user_pools` needs one.",
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
        name: "sts_endpoint_url",
        places: &[Place::Server],
        kind: Kind::Url,
        required: false,
        default: None,
        doc: "Where `role_arn` is assumed: by default `endpoint_url` when that is set, else \
              the region's STS endpoint.",
    },
    OptionSpec {
        name: "ca_file",
        places: &[Place::Server],
        kind: Kind::Path,
        required: false,
        default: None,
        doc: "PEM file of CA certificates trusted besides the system's, for an https:// \
              endpoint with a private CA (absolute path on the database server; only a \
              superuser may set it).",
    },
    OptionSpec {
        name: "https_proxy",
        places: &[Place::Server],
        kind: Kind::ProxyUrl,
        required: false,
        default: None,
        doc: "HTTP proxy (`http://[user:password@]host:port`) through which https:// requests \
              tunnel (CONNECT); its user name and password are never shown.",
    },
    OptionSpec {
        name: "no_proxy",
        places: &[Place::Server],
        kind: Kind::Text,
        required: false,
        default: None,
        doc: "Hosts reached without `https_proxy`: comma-separated names, `.domain` suffixes, \
              IP addresses or CIDR ranges.",
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
        doc: "Most ListUsers and ListUsersInGroup requests started per second by all \
              backends of the cluster together on the same endpoint and region (their \
              UserList quota is 30 per account and region); every other quota category gets \
              the same share of its own default (see Quota categories); lowered automatically \
              while Cognito throttles. A foreign table may lower its server's value (or the \
              default), not raise it.",
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
        doc: "The Cognito object the table reads: `users`, `groups`, `group_members`, \
              `app_clients`, `identity_providers` or `user_pools`.",
    },
    OptionSpec {
        name: "custom_attribute_columns",
        places: &[Place::Import],
        kind: Kind::Bool,
        required: false,
        default: Some("false"),
        doc: "Add to the imported `users` and `group_members` tables a column per custom \
              attribute of the server's pool, typed by the attribute's type (one DescribeUserPool \
              request).",
    },
    OptionSpec {
        name: "updatable",
        places: SCAN_PLACES,
        kind: Kind::Bool,
        required: false,
        default: Some("false"),
        doc: "Whether INSERT, UPDATE and DELETE on the table change Cognito (`users`, \
              `groups`, `group_members`). A table inherits its server's value and may say \
              `false` where the server says `true`, never `true` where the server does not: \
              the server's owner decides whether its credentials may write.",
    },
    OptionSpec {
        name: "invitation",
        places: &[Place::Table],
        kind: Kind::Choice(&["suppress", "send"]),
        required: false,
        default: Some("suppress"),
        doc: "Whether a user inserted into a `users` table gets Cognito's invitation message \
              (`send`) or none (`suppress`, AdminCreateUser's MessageAction SUPPRESS).",
    },
    OptionSpec {
        name: "batch_size",
        places: SCAN_PLACES,
        kind: Kind::Int { min: 1, max: 1000 },
        required: false,
        default: Some("50"),
        doc: "Rows of an INSERT sent to Cognito at once (their requests in flight together, \
              paced by the write quotas); 1 sends one row at a time. An INSERT with RETURNING \
              sends one row at a time, as postgres_fdw does.",
    },
    OptionSpec {
        name: "attributes_format",
        places: &[Place::Table],
        kind: Kind::Choice(&["object", "array"]),
        required: false,
        default: Some("object"),
        doc: "Shape of the `attributes` column of `users`: `object` (`{\"email\": \"...\"}`) \
              or `array` (`[{\"email\": \"...\"}, ...]`, the hosted wrapper's shape).",
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

pub(super) fn spec(name: &str) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.name == name)
}

pub(super) fn valid_in(place: Place) -> Vec<&'static str> {
    OPTIONS
        .iter()
        .filter(|o| o.places.contains(&place))
        .map(|o| o.name)
        .collect()
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
mod readme {
    /// The README's options table is generated from `OPTIONS`; this fails when they drift.
    /// To refresh it: `cargo test --lib --release readme -- --nocapture` prints the table.
    #[test]
    fn readme_options_table_is_current() {
        let table = super::markdown_table();
        println!("{table}");
        assert!(
            include_str!("../../README.md").contains(&table),
            "README.md's options table differs from options::OPTIONS"
        );
    }
}
