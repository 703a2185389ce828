//! Every option the wrapper accepts, declared once.
//!
//! - `declare`: the one declaration table (`OPTIONS`), from which the README's table is made.
//! - `validate`: the validator, each value against its declaration, and the rules that tie
//!   options together.
//! - `credentials`: which credentials a scan signs with, and the rules they follow.
//! - `settings`: the options resolved into typed settings, defaults applied; one
//!   `TableSettings` per scan merges server, table and user mapping.
//!
//! The rules on single values (a keyword, a boolean) are written here, once, for all of them.

mod credentials;
mod declare;
mod settings;
mod validate;

pub use credentials::{AssumeRole, Credentials, SecretSource, Source};
pub use declare::{markdown_table, Kind, OptionSpec, OPTIONS};
pub use settings::{
    use_remote_estimate, Limits, ScanSettings, ServerSettings, TableSettings, Transport,
    WriteSettings, WritesOff,
};
pub use validate::{check_privileges, pool_region, validate, warning};

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

/// The value of option `name` among `(name, value)` pairs.
pub fn lookup<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A keyword as the options compare it: case and surrounding blanks do not matter, the same
/// rule for booleans, choices and object names.
pub fn word(value: &str) -> String {
    value.trim().to_ascii_lowercase()
}

pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" => Some(true),
        "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::validate::check_value;
    use super::*;
    use pgrx::PgSqlErrorCode::*;

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
                "Valid options for a foreign table are: user_pool_id, pushdown, parallel_scan, \
                 max_concurrent_requests, requests_per_second, object, updatable, invitation, \
                 batch_size, attributes_format"
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
        // A server needs no pool: its tables may each name one, and user_pools reads none.
        assert!(validate(Place::Server, &opts(&[("region", "us-east-1")])).is_ok());
        let err = validate(Place::Server, &opts(&[("user_pool_id", "us-east-1_a")])).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_OPTION_NAME_NOT_FOUND);
        assert!(err.message.contains("\"region\""));
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
        // Each object registered adds its name; users and groups come first.
        assert!(err
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("Known objects are: users, groups")));
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
    fn a_pool_on_the_table_wins_and_keeps_to_the_servers_region() {
        let table = |pool: &str| opts(&[("object", "users"), ("user_pool_id", pool)]);
        assert!(validate(Place::Table, &table("eu-west-1_Other")).is_ok());
        let err = validate(Place::Table, &table("Other")).unwrap_err();
        assert_eq!(
            err.message,
            "option \"user_pool_id\" is not a user pool id: \"Other\""
        );
        let srv = server(&[]);
        let own = TableSettings::resolve("srv", &srv, &table("us-east-1_Own"), None).unwrap();
        assert_eq!(own.user_pool_id.as_deref(), Some("us-east-1_Own"));
        let inherited =
            TableSettings::resolve("srv", &srv, &opts(&[("object", "users")]), None).unwrap();
        assert_eq!(inherited.user_pool_id.as_deref(), Some("us-east-1_abc"));
        let neither = TableSettings::resolve(
            "srv",
            &opts(&[("region", "us-east-1")]),
            &opts(&[("object", "user_pools")]),
            None,
        )
        .unwrap();
        assert_eq!(neither.user_pool_id, None);
        let err = TableSettings::resolve("srv", &srv, &table("eu-west-1_Other"), None).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE);
        assert_eq!(
            err.message,
            "user pool \"eu-west-1_Other\" is in region \"eu-west-1\", but option \"region\" \
             is \"us-east-1\""
        );
        assert!(err.detail.unwrap().contains("server \"srv\""));
        // The server's settings hold the server's pool only.
        let s = ServerSettings::resolve(
            "srv",
            &opts(&[
                ("region", "us-east-1"),
                ("aws_access_key_id", "AK"),
                ("aws_secret_access_key", "s"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(s.user_pool_id, None);
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
    fn import_takes_custom_attribute_columns_only() {
        assert!(validate(Place::Import, &[]).is_ok());
        let custom = |v: &str| validate(Place::Import, &opts(&[("custom_attribute_columns", v)]));
        assert!(custom("true").is_ok() && custom("Off").is_ok());
        assert!(custom("maybe")
            .unwrap_err()
            .message
            .contains("true or false"));
        let err = validate(Place::Import, &opts(&[("foo", "bar")])).unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_INVALID_OPTION_NAME);
        assert_eq!(err.message, "invalid option \"foo\"");
        assert_eq!(
            err.hint.as_deref(),
            Some("Valid options for IMPORT FOREIGN SCHEMA are: custom_attribute_columns")
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
        // A proxy's password is a secret in the same place.
        let proxy = server(&[("https_proxy", "http://u:TOPSECRET@127.0.0.1:3128")]);
        let w = warning(Place::Server, &proxy).expect("a warning");
        let text = format!("{} {:?} {:?}", w.message, w.detail, w.hint);
        assert!(
            text.contains("https_proxy") && !text.contains("TOPSECRET"),
            "{text}"
        );
        let plain = server(&[("https_proxy", "http://127.0.0.1:3128/a@b")]);
        assert!(warning(Place::Server, &plain).is_none());
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
        let keys = |s: &ServerSettings| match &s.credentials {
            Source::Keys(keys) => keys.clone(),
            Source::Aws => panic!("keys expected"),
        };
        let s = ServerSettings::resolve("srv", &srv, &map).unwrap();
        assert_eq!(keys(&s).access_key_id, "MAPKEY");
        assert!(keys(&s).secret == SecretSource::Vault("vault-name".into()));
        assert_eq!(
            s.limits.to_string(),
            "connect_timeout_ms 5000, request_timeout_ms 30000, max_attempts 5, max_backoff_ms 2000"
        );
        let s = ServerSettings::resolve("srv", &srv, &[]).unwrap();
        assert_eq!(keys(&s).access_key_id, "SERVERKEY");
        let err = ServerSettings::resolve("srv", &server(&[]), &[]).unwrap_err();
        assert!(err.message.contains("no AWS credentials"));
    }

    #[test]
    fn credentials_aws_takes_no_keys_and_needs_a_superuser() {
        let aws = server(&[("credentials", "AWS")]);
        assert!(validate(Place::Server, &aws).is_ok());
        let err = check_privileges(Place::Server, &aws, false).unwrap_err();
        assert_eq!(err.code, ERRCODE_INSUFFICIENT_PRIVILEGE);
        assert_eq!(
            err.message,
            "only a superuser may set option \"credentials\" to 'aws'"
        );
        assert!(check_privileges(Place::Server, &aws, true).is_ok());
        let mapping = opts(&[("credentials", "aws")]);
        assert!(check_privileges(Place::UserMapping, &mapping, false).is_err());
        let plain = server(&[("credentials", "options")]);
        assert!(check_privileges(Place::Server, &plain, false).is_ok());
        let ca = server(&[("ca_file", "/etc/ssl/private-ca.pem")]);
        assert_eq!(
            check_privileges(Place::Server, &ca, false)
                .unwrap_err()
                .code,
            ERRCODE_INSUFFICIENT_PRIVILEGE
        );
        let with_keys = server(&[
            ("credentials", "aws"),
            ("aws_access_key_id", "AK"),
            ("aws_secret_access_key", "TOPSECRET"),
        ]);
        let err = validate(Place::Server, &with_keys).unwrap_err();
        assert_eq!(
            err.message,
            "option \"aws_access_key_id\" cannot be used with credentials 'aws'"
        );
        assert!(!format!("{err:?}").contains("TOPSECRET"));
        let err = validate(Place::Server, &server(&[("credentials", "env")])).unwrap_err();
        assert!(
            err.message.contains("one of options, aws"),
            "{}",
            err.message
        );
    }

    #[test]
    fn sources_and_roles_resolve_mapping_first() {
        let aws = server(&[
            ("credentials", "aws"),
            ("role_arn", "arn:aws:iam::123456789012:role/server"),
        ]);
        let s = ServerSettings::resolve("srv", &aws, &[]).unwrap();
        assert_eq!(s.credentials, Source::Aws);
        let role = s.assume_role.unwrap();
        assert_eq!(role.role_arn, "arn:aws:iam::123456789012:role/server");
        assert_eq!(role.session_name, "cognito_fdw");
        // A mapping with keys of its own wins, and may name its own role.
        let keys = opts(&[
            ("aws_access_key_id", "MAPKEY"),
            ("aws_secret_access_key", "s"),
            ("role_arn", "arn:aws:iam::123456789012:role/mine"),
            ("external_id", "TOPSECRET"),
            ("role_session_name", "alice@example"),
        ]);
        let s = ServerSettings::resolve("srv", &aws, &keys).unwrap();
        assert!(matches!(&s.credentials, Source::Keys(k) if k.access_key_id == "MAPKEY"));
        let role = s.assume_role.clone().unwrap();
        assert_eq!(role.role_arn, "arn:aws:iam::123456789012:role/mine");
        assert_eq!(role.external_id.as_deref(), Some("TOPSECRET"));
        assert_eq!(role.session_name, "alice@example");
        assert!(!format!("{s:?}").contains("TOPSECRET"));
        // A mapping may not assume a role with credentials it was only lent.
        let borrowed = opts(&[("role_arn", "arn:aws:iam::123456789012:role/other")]);
        let err = ServerSettings::resolve("srv", &aws, &borrowed).unwrap_err();
        assert_eq!(err.code, ERRCODE_INSUFFICIENT_PRIVILEGE);
        let own = opts(&[
            ("credentials", "aws"),
            ("role_arn", "arn:aws:iam::123456789012:role/other"),
        ]);
        let s = ServerSettings::resolve("srv", &aws, &own).unwrap();
        assert_eq!(
            s.assume_role.unwrap().role_arn,
            "arn:aws:iam::123456789012:role/other"
        );
        // A mapping's credentials 'options' takes the server's keys, never the chain.
        let err =
            ServerSettings::resolve("srv", &aws, &opts(&[("credentials", "options")])).unwrap_err();
        assert!(
            err.message.contains("no AWS credentials"),
            "{}",
            err.message
        );
        // STS: its own endpoint, else endpoint_url, else the region's (None).
        let at = |extra: &[(&str, &str)]| {
            let mut o = server(&[("credentials", "aws")]);
            o.extend(opts(extra));
            ServerSettings::resolve("srv", &o, &[])
                .unwrap()
                .sts_endpoint_url
        };
        assert_eq!(at(&[]), None);
        assert_eq!(
            at(&[("endpoint_url", "http://e")]).as_deref(),
            Some("http://e")
        );
        assert_eq!(
            at(&[
                ("endpoint_url", "http://e"),
                ("sts_endpoint_url", "http://s")
            ])
            .as_deref(),
            Some("http://s")
        );
    }

    #[test]
    fn role_and_transport_options_have_their_shapes() {
        let err = validate(Place::UserMapping, &opts(&[("external_id", "x")])).unwrap_err();
        assert_eq!(
            err.message,
            "option \"external_id\" needs option \"role_arn\" in the same place"
        );
        for bad in [
            "arn:aws:iam::123:role/x",
            "role/x",
            "arn:aws:iam::123456789012:user/x",
        ] {
            let err = validate(Place::UserMapping, &opts(&[("role_arn", bad)])).unwrap_err();
            assert!(err.message.contains("not an IAM role ARN"), "{bad}");
        }
        assert!(validate(
            Place::UserMapping,
            &opts(&[("role_arn", "arn:aws-cn:iam::123456789012:role/path/name")])
        )
        .is_ok());
        let session = |name: &str| {
            validate(
                Place::Server,
                &server(&[
                    ("role_arn", "arn:aws:iam::123456789012:role/x"),
                    ("role_session_name", name),
                ]),
            )
        };
        assert!(session("db_1.reader@x").is_ok());
        assert!(session("a").is_err() && session("has space").is_err());
        for bad in [
            "ftp://proxy",
            "http://",
            "proxy:3128",
            "http://user:TOPSECRET@",
        ] {
            let err = validate(Place::Server, &server(&[("https_proxy", bad)])).unwrap_err();
            assert_eq!(
                err.message,
                "option \"https_proxy\" must be an http:// or https:// URL with a host"
            );
            assert!(!format!("{err:?}").contains("TOPSECRET"));
        }
        assert!(validate(
            Place::Server,
            &server(&[("https_proxy", "http://user:p%40ss@127.0.0.1:3128")])
        )
        .is_ok());
        let err = validate(Place::Server, &server(&[("ca_file", "ca.pem")])).unwrap_err();
        assert!(err.message.contains("absolute path"), "{}", err.message);
        let s = ServerSettings::resolve(
            "srv",
            &server(&[
                ("credentials", "aws"),
                ("https_proxy", "http://u:TOPSECRET@127.0.0.1:1"),
            ]),
            &[],
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("TOPSECRET"));
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
