//! Credential rules. The base credentials are keys in the options (an access key id and
//! exactly one form of the secret, inline or a Vault secret) or, with `credentials 'aws'`, the
//! AWS SDK's default chain of the server process; a role may then be assumed through STS. A
//! user mapping wins over its server. PostgreSQL shows user mappings' options only to their
//! owner and superusers, while every role can read `pg_foreign_server`, so the mapping is the
//! place for secrets.

use std::fmt;

use pgrx::PgSqlErrorCode::*;

use super::{lookup, word};
use crate::error::{FdwError, FdwResult};

const SECRET_FORMS: [&str; 2] = ["aws_secret_access_key", "api_key_id"];
const CREDENTIAL_OPTIONS: [&str; 4] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "api_key_id",
    "aws_session_token",
];

/// The credentials among one place's options, if it has any. They come as a set: an access
/// key id and exactly one form of the secret; an incomplete or doubled set is an error. A
/// place without any credential option is fine: the set may sit in the other place.
fn credentials_in(options: &[(String, String)]) -> FdwResult<Option<Credentials>> {
    if !CREDENTIAL_OPTIONS
        .iter()
        .any(|name| lookup(options, name).is_some())
    {
        return Ok(None);
    }
    let Some(access_key_id) = lookup(options, "aws_access_key_id") else {
        return Err(FdwError::new(
            ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
            "option \"aws_access_key_id\" is required with the other credential options",
        ));
    };
    let secret = match SECRET_FORMS.map(|name| lookup(options, name)) {
        [Some(_), Some(_)] => {
            return Err(FdwError::new(
                ERRCODE_FDW_ERROR,
                "options \"aws_secret_access_key\" and \"api_key_id\" cannot both be set",
            )
            .with_hint("Give the secret inline or as a Vault secret id, not both."))
        }
        [None, None] => {
            return Err(FdwError::new(
                ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
                "one of the options \"aws_secret_access_key\" or \"api_key_id\" is required",
            ))
        }
        [Some(secret), None] => SecretSource::Inline(secret.to_owned()),
        [None, Some(id)] => SecretSource::Vault(id.to_owned()),
    };
    Ok(Some(Credentials {
        access_key_id: access_key_id.to_owned(),
        secret,
        session_token: lookup(options, "aws_session_token").map(str::to_owned),
    }))
}

/// Whether one place's options choose the SDK's chain (`Some(true)`), the key options
/// (`Some(false)`), or leave it to the other place.
fn chooses_aws(options: &[(String, String)]) -> Option<bool> {
    lookup(options, "credentials").map(|v| word(v) == "aws")
}

/// The role one place asks for, if it names one; `external_id` and `role_session_name` go
/// with the `role_arn` of their own place.
fn role_in(options: &[(String, String)]) -> Option<AssumeRole> {
    Some(AssumeRole {
        role_arn: lookup(options, "role_arn")?.to_owned(),
        external_id: lookup(options, "external_id").map(str::to_owned),
        session_name: lookup(options, "role_session_name")
            .unwrap_or(DEFAULT_SESSION_NAME)
            .to_owned(),
    })
}

const DEFAULT_SESSION_NAME: &str = "cognito_fdw";

/// The validator's check of the credentials in one place.
pub(super) fn check_credentials(options: &[(String, String)]) -> FdwResult<()> {
    if chooses_aws(options) == Some(true) {
        if let Some(name) = CREDENTIAL_OPTIONS
            .iter()
            .find(|name| lookup(options, name).is_some())
        {
            return Err(FdwError::new(
                ERRCODE_FDW_ERROR,
                format!("option \"{name}\" cannot be used with credentials 'aws'"),
            )
            .with_hint(
                "With credentials 'aws' the keys come from the AWS SDK's default chain of the \
                 PostgreSQL server process; remove the key options, or use credentials \
                 'options'.",
            ));
        }
    }
    if lookup(options, "role_arn").is_none() {
        if let Some(name) = ["external_id", "role_session_name"]
            .into_iter()
            .find(|name| lookup(options, name).is_some())
        {
            return Err(FdwError::new(
                ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
                format!("option \"{name}\" needs option \"role_arn\" in the same place"),
            ));
        }
    }
    credentials_in(options).map(|_| ())
}

/// Where a server's requests get their credentials: the base credentials, and the role
/// assumed with them, if any.
pub(super) fn resolve(
    server_name: &str,
    server: &[(String, String)],
    mapping: &[(String, String)],
) -> FdwResult<(Source, Option<AssumeRole>)> {
    let (source, from_mapping) = resolve_source(server_name, server, mapping)?;
    let role = match role_in(mapping) {
        // Any role with USAGE on the server may create its own mapping: it must not assume
        // roles with credentials it was only lent for plain requests (the server's keys, or
        // the server process's identity under the server's `credentials 'aws'`).
        Some(role) if !from_mapping => {
            return Err(FdwError::new(
                ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "the user mapping for server \"{server_name}\" names role \"{}\" without \
                     base credentials of its own",
                    role.role_arn
                ),
            )
            .with_hint(
                "A user mapping's role_arn is assumed with that mapping's own credentials: \
                 keys in the mapping, or credentials 'aws' in the mapping (which only a \
                 superuser may set).",
            ))
        }
        Some(role) => Some(role),
        None => role_in(server),
    };
    Ok((source, role))
}

/// The base credentials, and whether the user mapping gave them.
fn resolve_source(
    server_name: &str,
    server: &[(String, String)],
    mapping: &[(String, String)],
) -> FdwResult<(Source, bool)> {
    if chooses_aws(mapping) == Some(true) {
        return Ok((Source::Aws, true));
    }
    if let Some(credentials) = credentials_in(mapping)? {
        return Ok((Source::Keys(credentials), true));
    }
    // A mapping's `credentials 'options'` takes the keys from the server, whatever the
    // server's own choice.
    if chooses_aws(mapping).is_none() && chooses_aws(server) == Some(true) {
        return Ok((Source::Aws, false));
    }
    let keys = credentials_in(server)?.ok_or_else(|| {
        FdwError::new(
            ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
            format!("no AWS credentials for server \"{server_name}\""),
        )
        .with_hint(
            "Set aws_access_key_id and aws_secret_access_key (or api_key_id) in a user \
             mapping for the current role or PUBLIC, or on the server, or (as a superuser) \
             credentials 'aws'.",
        )
    })?;
    Ok((Source::Keys(keys), false))
}

/// Where the base credentials come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// Keys in the options (or Vault).
    Keys(Credentials),
    /// The AWS SDK's default chain, as the server process sees it.
    Aws,
}

impl Source {
    /// The Vault secret or inline secret these credentials need, if any.
    pub fn secret(&self) -> Option<&SecretSource> {
        match self {
            Source::Keys(credentials) => Some(&credentials.secret),
            Source::Aws => None,
        }
    }
}

/// A role assumed through STS with the base credentials.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
}

// The external id is treated as a secret: it is one in some accounts' trust policies.
impl fmt::Debug for AssumeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRole")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .finish_non_exhaustive()
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
