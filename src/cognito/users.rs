//! ListUsers, one page at a time.

use aws_sdk_cognitoidentityprovider::types::UserType;

use super::client::CognitoClient;
use crate::convert::Instant;
use pgrx::PgSqlErrorCode::*;

use crate::error::{FdwError, FdwResult};

/// A user as the scan needs it, free of SDK types.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub username: String,
    pub attributes: Vec<(String, String)>,
    pub created: Option<Instant>,
    pub modified: Option<Instant>,
    pub enabled: bool,
    pub status: Option<String>,
}

impl From<UserType> for User {
    fn from(u: UserType) -> User {
        let instant = |d: &aws_smithy_types::DateTime| Instant {
            secs: d.secs(),
            nanos: d.subsec_nanos(),
        };
        User {
            created: u.user_create_date().map(instant),
            modified: u.user_last_modified_date().map(instant),
            enabled: u.enabled(),
            status: u.user_status().map(|s| s.as_str().to_owned()),
            username: u.username.unwrap_or_default(),
            attributes: u
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|a| (a.name, a.value.unwrap_or_default()))
                .collect(),
        }
    }
}

/// Where a ListUsers listing stands. It holds no page: each call hands its page to the caller,
/// so a scan keeps at most one page of users however large the pool.
pub struct UserPager {
    client: CognitoClient,
    page_size: i32,
    filter: Option<String>,
    token: Option<String>,
    finished: bool,
}

impl UserPager {
    pub fn new(client: CognitoClient, page_size: i32, filter: Option<String>) -> UserPager {
        UserPager {
            client,
            page_size,
            filter,
            token: None,
            finished: false,
        }
    }

    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The next page, possibly empty: Cognito may send an empty page that still carries a
    /// token, and the listing ends only when no token comes back.
    pub async fn next_page(&mut self) -> FdwResult<Vec<User>> {
        if self.finished {
            return Ok(Vec::new());
        }
        let output = self
            .client
            .sdk
            .list_users()
            .user_pool_id(&self.client.user_pool_id)
            .limit(self.page_size)
            .set_filter(self.filter.clone())
            .set_pagination_token(self.token.take())
            .send()
            .await
            .map_err(|e| self.client.error("ListUsers", e))?;
        // Cognito always sends a Users list, empty or not. An answer without one is broken (a
        // proxy's or a server's fault): taking it for the last page would present a short
        // result as complete.
        let Some(users) = output.users else {
            return Err(FdwError::new(
                ERRCODE_FDW_ERROR,
                format!(
                    "Cognito ListUsers answer from {} has no Users list",
                    self.client.endpoint
                ),
            )
            .with_detail(format!(
                "user pool {}; the listing stopped rather than end early",
                self.client.user_pool_id
            )));
        };
        self.token = output.pagination_token.filter(|t| !t.is_empty());
        self.finished = self.token.is_none();
        Ok(users.into_iter().map(User::from).collect())
    }
}
