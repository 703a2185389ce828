//! ListGroups, one page at a time, and GetGroup, one group by name.

use aws_sdk_cognitoidentityprovider::operation::list_groups::ListGroupsOutput;
use aws_sdk_cognitoidentityprovider::types::GroupType;

use super::client::{call, CognitoClient};
use super::listing::{instant, Pager, TokensSeen};
use super::not_found::names_a_missing_record;
use super::quota::{Category, Pace};
use super::rate::Limiter;
use crate::convert::Instant;
use crate::error::FdwResult;

/// A group as the scan needs it, free of SDK types.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub description: Option<String>,
    pub precedence: Option<i32>,
    pub role_arn: Option<String>,
    pub created: Option<Instant>,
    pub modified: Option<Instant>,
}

impl From<GroupType> for Group {
    fn from(g: GroupType) -> Group {
        Group {
            created: g.creation_date().map(instant),
            modified: g.last_modified_date().map(instant),
            precedence: g.precedence,
            // Cognito (and moto) send "" for a group created without one: no description.
            description: g.description.filter(|d| !d.is_empty()),
            role_arn: g.role_arn.filter(|r| !r.is_empty()),
            name: g.group_name.unwrap_or_default(),
        }
    }
}

/// GetGroup: the group named so, or None when it does not exist.
async fn lookup(client: &CognitoClient, limiter: &Limiter, name: &str) -> FdwResult<Option<Group>> {
    let result = call(
        client,
        limiter,
        |_| false,
        || {
            client
                .sdk
                .get_group()
                .user_pool_id(&client.user_pool_id)
                .group_name(name)
                .send()
        },
    )
    .await;
    match result {
        Ok(output) => Ok(output.group.map(Group::from)),
        // A group that does not exist is no row, as a listing would not return it. The same
        // code also answers for a missing pool, whose message names the pool: that stays
        // an error, as it is for a listing.
        Err((err, _)) if names_a_missing_record(&err, &client.user_pool_id) => Ok(None),
        Err((err, tried)) => Err(client.error("GetGroup", err, tried)),
    }
}

/// GetGroup paced as a scan's GetGroup is, for a write that reads a group back.
pub async fn get_group(
    client: &CognitoClient,
    pace: &Pace,
    name: &str,
) -> FdwResult<Option<Group>> {
    let limiter = pace.operation(Category::UserPoolResourceRead, "GetGroup");
    lookup(client, &limiter, name).await
}

/// One stream of groups: a whole ListGroups listing, or one GetGroup of a name.
pub struct GroupPager {
    client: CognitoClient,
    page_size: i32,
    /// Some: read this one group with GetGroup; None: list them all.
    name: Option<String>,
    token: Option<String>,
    /// Hashes of the tokens received: one coming back means the server is looping.
    tokens_seen: TokensSeen,
    finished: bool,
}

impl GroupPager {
    pub fn new(client: CognitoClient, page_size: i32, name: Option<String>) -> GroupPager {
        GroupPager {
            client,
            page_size,
            name,
            token: None,
            tokens_seen: TokensSeen::default(),
            finished: false,
        }
    }

    /// GetGroup: the group, or none when it does not exist.
    async fn get(&mut self, name: &str, limiter: &Limiter) -> FdwResult<Vec<Group>> {
        self.finished = true;
        Ok(lookup(&self.client, limiter, name)
            .await?
            .into_iter()
            .collect())
    }

    /// ListGroups: the next page, possibly empty; the listing ends when no token comes back.
    async fn list(&mut self, limiter: &Limiter) -> FdwResult<Vec<Group>> {
        let (client, page_size, token) = (&self.client, self.page_size, &self.token);
        let output = call(
            client,
            limiter,
            |output: &ListGroupsOutput| output.groups().len() >= page_size.max(1) as usize,
            || {
                client
                    .sdk
                    .list_groups()
                    .user_pool_id(&client.user_pool_id)
                    .limit(page_size)
                    .set_next_token(token.clone())
                    .send()
            },
        )
        .await
        .map_err(|(err, tried)| client.error("ListGroups", err, tried))?;
        let Some(groups) = output.groups else {
            return Err(client.missing_list("ListGroups", "Groups"));
        };
        self.token = output.next_token.filter(|t| !t.is_empty());
        self.tokens_seen
            .check(&self.client, "ListGroups", self.token.as_deref())?;
        self.finished = self.token.is_none();
        Ok(groups.into_iter().map(Group::from).collect())
    }
}

impl Pager for GroupPager {
    type Item = Group;

    fn finished(&self) -> bool {
        self.finished
    }

    fn operation(&self) -> &'static str {
        match self.name {
            Some(_) => "GetGroup",
            None => "ListGroups",
        }
    }

    async fn next_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<Group>> {
        if self.finished {
            return Ok(Vec::new());
        }
        match self.name.clone() {
            Some(name) => self.get(&name, limiter).await,
            None => self.list(limiter).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use pgrx::PgSqlErrorCode::*;

    use aws_smithy_runtime_api::client::http::{
        http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;
    use crate::cognito::client::{build_on, static_keys};
    use crate::options::ServerSettings;

    /// A server that gives one answer to every request.
    #[derive(Debug, Clone)]
    struct Answers(u16, &'static str);

    impl HttpConnector for Answers {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let status = StatusCode::try_from(self.0).expect("a valid status");
            HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(self.1))))
        }
    }

    /// One page of a GroupPager for `name` (None: ListGroups) against a server answering so.
    fn page(name: Option<&str>, status: u16, body: &'static str) -> (FdwResult<Vec<Group>>, bool) {
        let options: Vec<(String, String)> = [
            ("region", "us-east-1"),
            ("user_pool_id", "us-east-1_pool"),
            ("endpoint_url", "http://127.0.0.1:9"),
            ("aws_access_key_id", "AKIAEXAMPLE"),
            ("aws_secret_access_key", "x"),
            ("max_attempts", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let settings = ServerSettings::resolve("srv", &options, &[]).expect("valid settings");
        let server = Answers(status, body);
        let http = http_client_fn(move |_, _| SharedHttpConnector::new(server.clone()));
        let client = build_on(&settings, static_keys("AKIAEXAMPLE", "x", None), http);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let key = format!("groups test {:?}", std::thread::current().id());
        let limiter = Limiter::new(&key, "us-east-1", "UserPoolResourceRead", 10_000);
        let mut pager = GroupPager::new(client, 60, name.map(str::to_owned));
        let page = runtime.block_on(pager.next_page(&limiter));
        (page, pager.finished())
    }

    #[test]
    fn a_missing_group_is_no_row_and_a_missing_pool_an_error() {
        let (found, finished) = page(
            Some("admins"),
            200,
            r#"{"Group": {"GroupName": "admins", "Precedence": 1, "Description": ""}}"#,
        );
        let found = found.unwrap();
        assert!(finished);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (
                found[0].name.as_str(),
                found[0].precedence,
                &found[0].description
            ),
            ("admins", Some(1), &None)
        );
        let (none, finished) = page(
            Some("nobody"),
            400,
            r#"{"__type": "ResourceNotFoundException", "message": "Group not found."}"#,
        );
        assert_eq!(none.unwrap(), Vec::new());
        assert!(finished);
        let (err, _) = page(
            Some("admins"),
            400,
            r#"{"__type": "ResourceNotFoundException", "message": "User pool us-east-1_pool does not exist."}"#,
        );
        let err = err.unwrap_err();
        assert_eq!(err.code, ERRCODE_FDW_TABLE_NOT_FOUND);
        assert!(err.detail.unwrap().contains("Cognito GetGroup"));
    }

    #[test]
    fn a_listing_pages_on_its_token_and_needs_its_list() {
        let (groups, finished) = page(
            None,
            200,
            r#"{"Groups": [{"GroupName": "a", "RoleArn": "arn:x"}, {"GroupName": "b"}], "NextToken": "t"}"#,
        );
        let groups = groups.unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].role_arn.as_deref(), Some("arn:x"));
        assert!(!finished);
        let (last, finished) = page(None, 200, r#"{"Groups": []}"#);
        assert_eq!(last.unwrap(), Vec::new());
        assert!(finished);
        let (broken, _) = page(None, 200, r#"{}"#);
        assert!(broken.unwrap_err().message.contains("has no Groups list"));
    }
}
