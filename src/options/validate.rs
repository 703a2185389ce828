//! The validator: every value checked against its declaration, and the rules that tie options
//! together (a pool id and its region; credentials come as a set).

use pgrx::PgSqlErrorCode::*;

use super::credentials::check_credentials;
use super::declare::{spec, valid_in, Kind, OptionSpec, CREDENTIAL_PLACES, OPTIONS};
use super::{lookup, parse_bool, word, Place};
use crate::error::{FdwError, FdwResult};
use crate::objects::Object;

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
    // A table's pool is held to its server's region when a scan resolves both (the validator
    // is not told the table's server); its shape is checked here.
    if let (Place::Table, Some(pool)) = (place, lookup(options, "user_pool_id")) {
        pool_region(pool)?;
    }
    Ok(())
}

/// The warning a server with an inline secret gets: every role can read `pg_foreign_server`.
/// The secret is still accepted, as the documented statements (and existing servers) use it.
/// A proxy URL with a password is the same kind of secret in the same place.
pub fn warning(place: Place, options: &[(String, String)]) -> Option<FdwError> {
    if place != Place::Server {
        return None;
    }
    if lookup(options, "aws_secret_access_key").is_some() {
        return Some(
            FdwError::new(
                ERRCODE_WARNING,
                "option \"aws_secret_access_key\" on a server is readable by every role",
            )
            .with_detail("Server options are shown to every role in pg_foreign_server.")
            .with_hint(
                "Put the credentials in a user mapping (CREATE USER MAPPING ... OPTIONS \
                 (aws_access_key_id '...', aws_secret_access_key '...')), which only its role \
                 and superusers can read, or keep the secret in Vault and name it with \
                 api_key_id.",
            ),
        );
    }
    let proxy_password = lookup(options, "https_proxy")
        .and_then(url_authority)
        .is_some_and(|authority| authority.contains('@'));
    proxy_password.then(|| {
        FdwError::new(
            ERRCODE_WARNING,
            "option \"https_proxy\" on a server is readable by every role",
        )
        .with_detail(
            "Server options are shown to every role in pg_foreign_server, and this proxy URL \
             carries a user name and password.",
        )
        .with_hint(
            "Prefer a proxy that admits the database server by its address, without a password.",
        )
    })
}

/// Option values reach HTTP headers, host names and messages; a control character would break
/// the first (the SDK panics on it) and garble the others.
fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

pub(super) fn check_value(spec: &OptionSpec, value: &str) -> FdwResult<()> {
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
        // A proxy URL may hold a password: checked like an endpoint, but never echoed.
        Kind::ProxyUrl => match url_authority(value).and_then(|a| a.rsplit('@').next()) {
            Some(host) if !host.is_empty() => Ok(()),
            _ => Err(bad(format!(
                "option \"{name}\" must be an http:// or https:// URL with a host"
            ))),
        },
        Kind::Path => match value.starts_with('/') {
            true => Ok(()),
            false => Err(bad(format!(
                "option \"{name}\" must be an absolute path, not \"{value}\""
            ))),
        },
        Kind::RoleArn => match is_role_arn(value) {
            true => Ok(()),
            false => Err(bad(format!(
                "option \"{name}\" is not an IAM role ARN: \"{value}\""
            ))
            .with_hint("A role ARN looks like arn:aws:iam::123456789012:role/cognito-reader.")),
        },
        Kind::SessionName => {
            let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
            match (2..=64).contains(&value.len()) && value.chars().all(allowed) {
                true => Ok(()),
                false => Err(bad(format!(
                    "option \"{name}\" must be 2 to 64 letters, digits or _+=,.@-, not \"{value}\""
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

/// The authority (`[user:password@]host[:port]`) of an http:// or https:// URL without white
/// space, if `value` is one.
fn url_authority(value: &str) -> Option<&str> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))?;
    if value.chars().any(char::is_whitespace) {
        return None;
    }
    Some(rest.split(['/', '?', '#']).next().unwrap_or_default())
}

/// `arn:<partition>:iam::<12 digits>:role/<path and name>`.
fn is_role_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if !partition.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty()))
}

/// Options only a superuser may set: `credentials 'aws'` signs with the database server's own
/// AWS identity, which belongs to the database, not to whoever creates a server or mapping;
/// `ca_file` makes the server process read a file of its choosing.
pub fn check_privileges(
    place: Place,
    options: &[(String, String)],
    superuser: bool,
) -> FdwResult<()> {
    if superuser || !matches!(place, Place::Server | Place::UserMapping) {
        return Ok(());
    }
    let denied = |what: &str, hint: &str| {
        Err(FdwError::new(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("only a superuser may set {what}"),
        )
        .with_hint(hint.to_owned()))
    };
    if lookup(options, "credentials").is_some_and(|v| word(v) == "aws") {
        return denied(
            "option \"credentials\" to 'aws'",
            "With 'aws' requests are signed with the credentials of the PostgreSQL server \
             process (its environment, files, instance or task role). Give keys in a user \
             mapping instead, or ask a superuser.",
        );
    }
    if lookup(options, "ca_file").is_some() {
        return denied(
            "option \"ca_file\"",
            "The file is read by the PostgreSQL server process. Ask a superuser.",
        );
    }
    Ok(())
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
    let Some(region) = lookup(options, "region") else {
        return Ok(());
    };
    if !is_region(region) {
        return Err(FdwError::new(
            ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
            format!("option \"region\" is not an AWS region name: \"{region}\""),
        )
        .with_hint("A region name looks like eu-west-1 or us-gov-west-1."));
    }
    match lookup(options, "user_pool_id") {
        Some(pool) => pool_in_region(pool, region),
        None => Ok(()),
    }
}

/// The region a pool id starts with, or why it is not a pool id.
pub fn pool_region(pool: &str) -> FdwResult<&str> {
    let bad = || {
        FdwError::new(
            ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
            format!("option \"user_pool_id\" is not a user pool id: \"{pool}\""),
        )
        .with_hint(
            "A user pool id is its region, an underscore, then letters and digits, like \
             eu-west-1_AbCdEf123.",
        )
    };
    let (prefix, id) = pool.split_once('_').ok_or_else(bad)?;
    if !is_region(prefix) || id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad());
    }
    Ok(prefix)
}

/// A pool is reached through its own region: a pool id of another region than the server's
/// would only give "pool not found", after every retry.
pub(super) fn pool_in_region(pool: &str, region: &str) -> FdwResult<()> {
    let prefix = pool_region(pool)?;
    if prefix != region {
        return Err(FdwError::new(
            ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
            format!(
                "user pool \"{pool}\" is in region \"{prefix}\", but option \"region\" is \
                 \"{region}\""
            ),
        )
        .with_hint("A pool is reached through its own region: make the two agree."));
    }
    Ok(())
}
