//! Who is in which group: ListUsersInGroup, one group's members a page at a time, and
//! AdminListGroupsForUser, one user's groups (with one AdminGetUser for the user's own values
//! when a query reads them).

use aws_sdk_cognitoidentityprovider::operation::admin_list_groups_for_user::AdminListGroupsForUserOutput;
use aws_sdk_cognitoidentityprovider::operation::list_users_in_group::ListUsersInGroupOutput;

use super::client::{call, CognitoClient};
use super::listing::{Pager, TokensSeen};
use super::not_found::names_a_missing_record;
use super::rate::Limiter;
use super::users::User;
use crate::error::FdwResult;

/// One user in one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub group_name: String,
    pub user: User,
    /// What tells two memberships apart, and names one in messages: "ann in admins". Cognito's
    /// usernames hold no white space, so the first blank ends the username: two memberships
    /// share an identity only when they are the same.
    pub identity: String,
}

impl Member {
    pub fn new(group_name: String, user: User) -> Member {
        Member {
            identity: format!("{} in {group_name}", user.username),
            group_name,
            user,
        }
    }
}

/// The members of one group, ListUsersInGroup page by page.
pub struct GroupMembersPager {
    client: CognitoClient,
    page_size: i32,
    group_name: String,
    token: Option<String>,
    tokens_seen: TokensSeen,
    finished: bool,
}

impl GroupMembersPager {
    pub fn new(client: CognitoClient, page_size: i32, group_name: String) -> GroupMembersPager {
        GroupMembersPager {
            client,
            page_size,
            group_name,
            token: None,
            tokens_seen: TokensSeen::default(),
            finished: false,
        }
    }
}

impl Pager for GroupMembersPager {
    type Item = Member;

    fn finished(&self) -> bool {
        self.finished
    }

    fn operation(&self) -> &'static str {
        "ListUsersInGroup"
    }

    async fn next_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<Member>> {
        if self.finished {
            return Ok(Vec::new());
        }
        let (client, page_size, group, token) =
            (&self.client, self.page_size, &self.group_name, &self.token);
        let result = call(
            client,
            limiter,
            |output: &ListUsersInGroupOutput| output.users().len() >= page_size.max(1) as usize,
            || {
                client
                    .sdk
                    .list_users_in_group()
                    .user_pool_id(&client.user_pool_id)
                    .group_name(group)
                    .limit(page_size)
                    .set_next_token(token.clone())
                    .send()
            },
        )
        .await;
        let output = match result {
            Ok(output) => output,
            // A group deleted since it was listed, or named by a condition and never there.
            Err((err, _)) if names_a_missing_record(&err, &client.user_pool_id) => {
                self.finished = true;
                return Ok(Vec::new());
            }
            Err((err, tried)) => return Err(client.error("ListUsersInGroup", err, tried)),
        };
        let Some(users) = output.users else {
            return Err(client.missing_list("ListUsersInGroup", "Users"));
        };
        self.token = output.next_token.filter(|t| !t.is_empty());
        self.tokens_seen
            .check(&self.client, "ListUsersInGroup", self.token.as_deref())?;
        self.finished = self.token.is_none();
        Ok(users
            .into_iter()
            .map(|u| Member::new(self.group_name.clone(), User::from(u)))
            .collect())
    }
}

/// The groups of one user: AdminListGroupsForUser page by page, and before it, when the query
/// reads the user's own values, one AdminGetUser (AdminListGroupsForUser gives only groups).
/// AdminGetUser takes the name as it is, whatever characters it holds, and is metered with
/// AdminListGroupsForUser (UserResourceRead), not with the listings (UserList).
pub struct UserGroupsPager {
    client: CognitoClient,
    page_size: i32,
    username: String,
    /// The user's values: looked up first when `Some(None)`; known when `Some(Some(_))`; not
    /// needed when None (the rows carry the username as it was asked).
    user: Option<Option<User>>,
    token: Option<String>,
    tokens_seen: TokensSeen,
    finished: bool,
}

impl UserGroupsPager {
    pub fn new(
        client: CognitoClient,
        page_size: i32,
        username: String,
        read_user: bool,
    ) -> UserGroupsPager {
        UserGroupsPager {
            client,
            page_size,
            username,
            user: read_user.then_some(None),
            token: None,
            tokens_seen: TokensSeen::default(),
            finished: false,
        }
    }

    /// AdminGetUser: the user named so, or None when there is none.
    async fn get_user(&self, limiter: &Limiter) -> FdwResult<Option<User>> {
        super::users::admin_get_user(&self.client, limiter, &self.username).await
    }
}

impl Pager for UserGroupsPager {
    type Item = Member;

    fn finished(&self) -> bool {
        self.finished
    }

    fn operation(&self) -> &'static str {
        match self.user {
            Some(None) => "AdminGetUser",
            _ => "AdminListGroupsForUser",
        }
    }

    async fn next_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<Member>> {
        if self.finished {
            return Ok(Vec::new());
        }
        if let Some(None) = self.user {
            match self.get_user(limiter).await? {
                Some(user) => self.user = Some(Some(user)),
                None => self.finished = true,
            }
            // The lookup is a page of its own, so that it is counted as its operation.
            return Ok(Vec::new());
        }
        let (client, page_size, username, token) =
            (&self.client, self.page_size, &self.username, &self.token);
        let result = call(
            client,
            limiter,
            |output: &AdminListGroupsForUserOutput| {
                output.groups().len() >= page_size.max(1) as usize
            },
            || {
                client
                    .sdk
                    .admin_list_groups_for_user()
                    .user_pool_id(&client.user_pool_id)
                    .username(username)
                    .limit(page_size)
                    .set_next_token(token.clone())
                    .send()
            },
        )
        .await;
        let output = match result {
            Ok(output) => output,
            Err((err, _)) if names_a_missing_record(&err, &client.user_pool_id) => {
                self.finished = true;
                return Ok(Vec::new());
            }
            Err((err, tried)) => return Err(client.error("AdminListGroupsForUser", err, tried)),
        };
        let Some(groups) = output.groups else {
            return Err(client.missing_list("AdminListGroupsForUser", "Groups"));
        };
        self.token = output.next_token.filter(|t| !t.is_empty());
        self.tokens_seen.check(
            &self.client,
            "AdminListGroupsForUser",
            self.token.as_deref(),
        )?;
        self.finished = self.token.is_none();
        let user = match &self.user {
            Some(Some(user)) => user.clone(),
            // Only the username is read: it is the one asked for.
            _ => User::named(self.username.clone()),
        };
        Ok(groups
            .into_iter()
            .map(|g| Member::new(g.group_name.unwrap_or_default(), user.clone()))
            .collect())
    }
}
