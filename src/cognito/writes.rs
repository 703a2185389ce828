//! The changes a write sends to Cognito, and sending them.
//!
//! An object decides which changes a row makes (`objects::write`, pure); this module sends
//! each through the one retry loop (`client::call`), paced by its quota category, and says
//! what came of it. Retrying a write is safe only where sending it twice does what sending it
//! once does, so a failure after a retry is read for what it means: a delete whose retry finds
//! the user gone did delete it, and a create whose retry meets "user exists" succeeded only if
//! the user holds what was sent.

use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::operation::RequestId;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use pgrx::PgSqlErrorCode::{self, *};

use super::client::{call, CognitoClient};
use super::groups::{get_group, Group};
use super::not_found::names_a_missing_record;
use super::quota::{Category, Pace};
use super::users::{get_user, User};
use crate::error::{FdwError, FdwResult};

/// A group's writable values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupValues {
    pub group_name: String,
    pub description: Option<String>,
    pub precedence: Option<i32>,
    pub role_arn: Option<String>,
}

/// One request that changes Cognito.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// AdminCreateUser; `invite`: let Cognito send its invitation (else MessageAction SUPPRESS).
    CreateUser {
        username: String,
        attributes: Vec<(String, String)>,
        invite: bool,
    },
    UpdateUserAttributes {
        username: String,
        attributes: Vec<(String, String)>,
    },
    DeleteUserAttributes {
        username: String,
        names: Vec<String>,
    },
    /// AdminEnableUser or AdminDisableUser.
    EnableUser {
        username: String,
        enabled: bool,
    },
    /// AdminConfirmSignUp: UNCONFIRMED to CONFIRMED.
    ConfirmUser {
        username: String,
    },
    DeleteUser {
        username: String,
    },
    CreateGroup(GroupValues),
    /// UpdateGroup sets every value it is sent and resets those it is not, so all three are
    /// sent: None in `keep` means the table has no column for it, and the group's current
    /// value is read first (GetGroup) and sent back unchanged.
    UpdateGroup {
        values: GroupValues,
        keep: Vec<&'static str>,
    },
    DeleteGroup {
        group_name: String,
    },
    AddUserToGroup {
        group_name: String,
        username: String,
    },
    RemoveUserFromGroup {
        group_name: String,
        username: String,
    },
}

/// What came of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Cognito now holds what the change said.
    Made,
    /// The user or group it names is gone (deleted meanwhile): the row is no row, as an
    /// UPDATE or DELETE of a row deleted by another transaction is in PostgreSQL.
    Missing,
}

impl Change {
    pub fn operation(&self) -> &'static str {
        match self {
            Change::CreateUser { .. } => "AdminCreateUser",
            Change::UpdateUserAttributes { .. } => "AdminUpdateUserAttributes",
            Change::DeleteUserAttributes { .. } => "AdminDeleteUserAttributes",
            Change::EnableUser { enabled: true, .. } => "AdminEnableUser",
            Change::EnableUser { enabled: false, .. } => "AdminDisableUser",
            Change::ConfirmUser { .. } => "AdminConfirmSignUp",
            Change::DeleteUser { .. } => "AdminDeleteUser",
            Change::CreateGroup(_) => "CreateGroup",
            Change::UpdateGroup { .. } => "UpdateGroup",
            Change::DeleteGroup { .. } => "DeleteGroup",
            Change::AddUserToGroup { .. } => "AdminAddUserToGroup",
            Change::RemoveUserFromGroup { .. } => "AdminRemoveUserFromGroup",
        }
    }

    /// The quota category Cognito meters the change in.
    pub fn category(&self) -> Category {
        match self {
            Change::CreateUser { .. } | Change::ConfirmUser { .. } => Category::UserCreation,
            Change::CreateGroup(_) | Change::UpdateGroup { .. } | Change::DeleteGroup { .. } => {
                Category::UserPoolResourceWrite
            }
            _ => Category::UserUpdate,
        }
    }
}

/// A failed request: the error as a message says it, and what the caller needs to read it.
struct Failure {
    code: Option<String>,
    /// Cognito said the user or group named does not exist (not the pool).
    missing: bool,
    /// More than one attempt was made: an earlier one may have been executed.
    retried: bool,
    error: FdwError,
}

impl Failure {
    fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// The error with the SQLSTATE a write's failure has in PostgreSQL's terms.
    fn into_error(self) -> FdwError {
        let code = match self.code.as_deref() {
            Some("UsernameExistsException" | "GroupExistsException" | "AliasExistsException") => {
                ERRCODE_UNIQUE_VIOLATION
            }
            Some(
                "InvalidParameterException"
                | "InvalidPasswordException"
                | "InvalidLambdaResponseException"
                | "UserLambdaValidationException",
            ) => ERRCODE_INVALID_PARAMETER_VALUE,
            Some("AccessDeniedException" | "NotAuthorizedException") => {
                ERRCODE_INSUFFICIENT_PRIVILEGE
            }
            _ => self.error.code,
        };
        FdwError { code, ..self.error }
    }
}

/// Send one request through the retry loop.
async fn send<T, E, F, Fut>(
    client: &CognitoClient,
    pace: &Pace,
    change: &Change,
    request: F,
) -> Result<T, Failure>
where
    E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let limiter = pace.operation(change.category(), change.operation());
    call(client, &limiter, |_| false, request)
        .await
        .map_err(|(err, tried)| {
            let code = match &err {
                SdkError::ServiceError(context) => context.err().code().map(str::to_owned),
                _ => None,
            };
            Failure {
                code,
                missing: names_a_missing_record(&err, &client.user_pool_id),
                retried: tried.made > 1,
                error: client.error(change.operation(), err, tried),
            }
        })
}

fn attribute_types(attributes: &[(String, String)]) -> FdwResult<Vec<AttributeType>> {
    attributes
        .iter()
        .map(|(name, value)| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| FdwError::new(ERRCODE_INVALID_PARAMETER_VALUE, e.to_string()))
        })
        .collect()
}

/// Make `change` in Cognito.
pub async fn make(client: &CognitoClient, pace: &Pace, change: &Change) -> FdwResult<Outcome> {
    let pool = &client.user_pool_id;
    let sdk = &client.sdk;
    let result = match change {
        Change::CreateUser {
            username,
            attributes,
            invite,
        } => {
            let types = attribute_types(attributes)?;
            let sent = send(client, pace, change, || {
                let request = sdk
                    .admin_create_user()
                    .user_pool_id(pool)
                    .username(username)
                    .set_user_attributes(Some(types.clone()));
                match invite {
                    true => request.send(),
                    false => request.message_action(MessageActionType::Suppress).send(),
                }
            })
            .await;
            match sent {
                Err(f) if f.is("UsernameExistsException") && f.retried => {
                    return created_earlier(client, pace, username, attributes, f).await;
                }
                other => other.map(drop),
            }
        }
        Change::UpdateUserAttributes {
            username,
            attributes,
        } => {
            let types = attribute_types(attributes)?;
            send(client, pace, change, || {
                sdk.admin_update_user_attributes()
                    .user_pool_id(pool)
                    .username(username)
                    .set_user_attributes(Some(types.clone()))
                    .send()
            })
            .await
            .map(drop)
        }
        Change::DeleteUserAttributes { username, names } => {
            let sent = send(client, pace, change, || {
                sdk.admin_delete_user_attributes()
                    .user_pool_id(pool)
                    .username(username)
                    .set_user_attribute_names(Some(names.clone()))
                    .send()
            })
            .await;
            match sent {
                // Deleting an attribute the user does not hold is refused: after a retry, an
                // earlier attempt deleted it if the user holds none of them now.
                Err(f) if f.is("InvalidParameterException") && f.retried => {
                    let user = get_user(client, pace, username).await?;
                    let holds_none =
                        |u: &User| !u.attributes.iter().any(|(name, _)| names.contains(name));
                    if user.as_ref().is_some_and(holds_none) {
                        return Ok(Outcome::Made);
                    }
                    Err(f)
                }
                other => other.map(drop),
            }
        }
        Change::EnableUser {
            username,
            enabled: true,
        } => send(client, pace, change, || {
            sdk.admin_enable_user()
                .user_pool_id(pool)
                .username(username)
                .send()
        })
        .await
        .map(drop),
        Change::EnableUser {
            username,
            enabled: false,
        } => send(client, pace, change, || {
            sdk.admin_disable_user()
                .user_pool_id(pool)
                .username(username)
                .send()
        })
        .await
        .map(drop),
        Change::ConfirmUser { username } => {
            let sent = send(client, pace, change, || {
                sdk.admin_confirm_sign_up()
                    .user_pool_id(pool)
                    .username(username)
                    .send()
            })
            .await;
            match sent {
                // A retry of a confirmation that was executed finds the user confirmed.
                Err(f) if f.is("NotAuthorizedException") && f.retried => {
                    let user = get_user(client, pace, username).await?;
                    if user.and_then(|u| u.status).as_deref() == Some("CONFIRMED") {
                        return Ok(Outcome::Made);
                    }
                    Err(f)
                }
                other => other.map(drop),
            }
        }
        Change::DeleteUser { username } => send(client, pace, change, || {
            sdk.admin_delete_user()
                .user_pool_id(pool)
                .username(username)
                .send()
        })
        .await
        .map(drop),
        Change::CreateGroup(values) => {
            let sent = send(client, pace, change, || {
                sdk.create_group()
                    .user_pool_id(pool)
                    .group_name(&values.group_name)
                    .set_description(values.description.clone())
                    .set_precedence(values.precedence)
                    .set_role_arn(values.role_arn.clone())
                    .send()
            })
            .await;
            match sent {
                Err(f) if f.is("GroupExistsException") && f.retried => {
                    let group = get_group(client, pace, &values.group_name).await?;
                    if group.is_some_and(|g| holds(&g, values)) {
                        return Ok(Outcome::Made);
                    }
                    Err(f)
                }
                other => other.map(drop),
            }
        }
        Change::UpdateGroup { values, keep } => {
            let mut values = values.clone();
            if !keep.is_empty() {
                let Some(current) = get_group(client, pace, &values.group_name).await? else {
                    return Ok(Outcome::Missing);
                };
                for name in keep {
                    match *name {
                        "description" => values.description = current.description.clone(),
                        "precedence" => values.precedence = current.precedence,
                        _ => values.role_arn = current.role_arn.clone(),
                    }
                }
            }
            send(client, pace, change, || {
                sdk.update_group()
                    .user_pool_id(pool)
                    .group_name(&values.group_name)
                    // An empty description is none; sending it clears the description also
                    // where an omitted one is kept (moto keeps what UpdateGroup omits, where
                    // AWS resets it).
                    .description(values.description.clone().unwrap_or_default())
                    .set_precedence(values.precedence)
                    .set_role_arn(values.role_arn.clone())
                    .send()
            })
            .await
            .map(drop)
        }
        Change::DeleteGroup { group_name } => send(client, pace, change, || {
            sdk.delete_group()
                .user_pool_id(pool)
                .group_name(group_name)
                .send()
        })
        .await
        .map(drop),
        Change::AddUserToGroup {
            group_name,
            username,
        } => {
            let sent = send(client, pace, change, || {
                sdk.admin_add_user_to_group()
                    .user_pool_id(pool)
                    .group_name(group_name)
                    .username(username)
                    .send()
            })
            .await;
            match sent {
                Err(f) if f.missing => return Err(missing_member(f, group_name, username)),
                other => other.map(drop),
            }
        }
        Change::RemoveUserFromGroup {
            group_name,
            username,
        } => send(client, pace, change, || {
            sdk.admin_remove_user_from_group()
                .user_pool_id(pool)
                .group_name(group_name)
                .username(username)
                .send()
        })
        .await
        .map(drop),
    };
    match result {
        Ok(()) => Ok(Outcome::Made),
        // A delete whose earlier attempt was executed finds its record gone: it is made.
        Err(f) if f.missing && f.retried && is_delete(change) => Ok(Outcome::Made),
        Err(f) if f.missing => Ok(Outcome::Missing),
        Err(f) => Err(f.into_error()),
    }
}

fn is_delete(change: &Change) -> bool {
    matches!(
        change,
        Change::DeleteUser { .. } | Change::DeleteGroup { .. } | Change::RemoveUserFromGroup { .. }
    )
}

/// An AdminCreateUser retried after a failure met "user exists": the earlier attempt created
/// the user if it holds every attribute sent; otherwise someone else holds the name.
async fn created_earlier(
    client: &CognitoClient,
    pace: &Pace,
    username: &str,
    attributes: &[(String, String)],
    failure: Failure,
) -> FdwResult<Outcome> {
    let user = get_user(client, pace, username).await?;
    match user {
        Some(user) if holds_attributes(&user, attributes) => Ok(Outcome::Made),
        _ => Err(failure.into_error().with_hint(
            "An earlier attempt of this AdminCreateUser failed without an answer; the user that \
             exists now does not hold the attributes sent, so it was not made by this statement.",
        )),
    }
}

/// Whether `user` holds each of `attributes` with the value given.
pub fn holds_attributes(user: &User, attributes: &[(String, String)]) -> bool {
    attributes
        .iter()
        .all(|(name, value)| user.attributes.iter().any(|(n, v)| n == name && v == value))
}

fn holds(group: &Group, values: &GroupValues) -> bool {
    group.description == values.description
        && group.precedence == values.precedence
        && group.role_arn == values.role_arn
}

/// AdminAddUserToGroup naming a user or group that does not exist: the membership refers to
/// a row that is not there, which PostgreSQL calls a foreign key violation.
fn missing_member(failure: Failure, group_name: &str, username: &str) -> FdwError {
    let what = match failure.code.as_deref() {
        Some("UserNotFoundException") => format!("user \"{username}\""),
        _ => format!("group \"{group_name}\""),
    };
    FdwError::new(
        ERRCODE_FOREIGN_KEY_VIOLATION,
        format!("cannot add user \"{username}\" to group \"{group_name}\": {what} does not exist"),
    )
    .with_detail(failure.error.message)
}

/// The SQLSTATE of a Cognito error code when a write meets it (for tests and messages).
pub fn sqlstate_of(code: &str, otherwise: PgSqlErrorCode) -> PgSqlErrorCode {
    Failure {
        code: Some(code.to_owned()),
        missing: false,
        retried: false,
        error: FdwError::new(otherwise, ""),
    }
    .into_error()
    .code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_is_metered_in_its_category() {
        let user = |u: &str| u.to_owned();
        assert_eq!(
            Change::CreateUser {
                username: user("a"),
                attributes: vec![],
                invite: false
            }
            .category(),
            Category::UserCreation
        );
        assert_eq!(
            Change::ConfirmUser {
                username: user("a")
            }
            .category(),
            Category::UserCreation
        );
        let disable = Change::EnableUser {
            username: user("a"),
            enabled: false,
        };
        assert_eq!(disable.category(), Category::UserUpdate);
        assert_eq!(disable.operation(), "AdminDisableUser");
        assert_eq!(
            Change::AddUserToGroup {
                group_name: "g".into(),
                username: user("a")
            }
            .category(),
            Category::UserUpdate
        );
        assert_eq!(
            Change::DeleteGroup {
                group_name: "g".into()
            }
            .category(),
            Category::UserPoolResourceWrite
        );
    }

    #[test]
    fn cognito_errors_become_postgresql_sqlstates() {
        assert_eq!(
            sqlstate_of("UsernameExistsException", ERRCODE_FDW_ERROR),
            ERRCODE_UNIQUE_VIOLATION
        );
        assert_eq!(
            sqlstate_of("GroupExistsException", ERRCODE_FDW_ERROR),
            ERRCODE_UNIQUE_VIOLATION
        );
        assert_eq!(
            sqlstate_of("InvalidParameterException", ERRCODE_FDW_ERROR),
            ERRCODE_INVALID_PARAMETER_VALUE
        );
        assert_eq!(
            sqlstate_of("AccessDeniedException", ERRCODE_FDW_ERROR),
            ERRCODE_INSUFFICIENT_PRIVILEGE
        );
        assert_eq!(
            sqlstate_of("TooManyRequestsException", ERRCODE_FDW_ERROR),
            ERRCODE_FDW_ERROR
        );
    }

    #[test]
    fn a_user_holds_what_was_sent_when_each_attribute_matches() {
        let mut user = User::named("a".into());
        user.attributes = vec![("sub".into(), "1".into()), ("email".into(), "a@x".into())];
        assert!(holds_attributes(&user, &[("email".into(), "a@x".into())]));
        assert!(!holds_attributes(&user, &[("email".into(), "b@x".into())]));
        assert!(!holds_attributes(&user, &[("name".into(), "A".into())]));
        assert!(holds_attributes(&user, &[]));
    }
}
