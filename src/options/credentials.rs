//! Credential rules: an access key id and exactly one form of the secret (inline or a Vault
//! secret), in a user mapping or on the server; the mapping wins when it has any. PostgreSQL
//! shows user mappings' options only to their owner and superusers, while every role can read
//! `pg_foreign_server`, so the mapping is the place for secrets.

use std::fmt;

use pgrx::PgSqlErrorCode::*;

use super::lookup;
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

/// The validator's check of the credentials in one place.
pub(super) fn check_credentials(options: &[(String, String)]) -> FdwResult<()> {
    credentials_in(options).map(|_| ())
}

/// The credentials a server's requests are signed with: the user mapping's when it has any,
/// else the server's.
pub(super) fn resolve(
    server_name: &str,
    server: &[(String, String)],
    mapping: &[(String, String)],
) -> FdwResult<Credentials> {
    if let Some(credentials) = credentials_in(mapping)? {
        return Ok(credentials);
    }
    credentials_in(server)?.ok_or_else(|| {
        FdwError::new(
            ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
            format!("no AWS credentials for server \"{server_name}\""),
        )
        .with_hint(
            "Set aws_access_key_id and aws_secret_access_key (or api_key_id) in a user \
             mapping for the current role or PUBLIC, or on the server.",
        )
    })
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
