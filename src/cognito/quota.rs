//! Cognito's request-rate quota categories, and the limiters a listing is paced by.
//!
//! Cognito meters operations in categories per account and region (ListUsers and
//! ListUsersInGroup share UserList, for instance), and caps some operations per user pool too.
//! Each category gets its own limiter, shared by every backend of the cluster (`rate.rs`).

use super::client::CognitoClient;
use super::rate::Limiter;

/// A quota category: AWS's name and our default rate, under AWS's default quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// ListUsers, ListUsersInGroup: 30/s by default at AWS.
    UserList,
    /// ListGroups, GetGroup, ListIdentityProviders, DescribeIdentityProvider: 25/s at AWS.
    UserPoolResourceRead,
    /// ListUserPoolClients, DescribeUserPoolClient: 20/s at AWS.
    UserPoolClientRead,
    /// ListUserPools, DescribeUserPool: 20/s at AWS.
    UserPoolRead,
    /// AdminListGroupsForUser, AdminGetUser: 120/s at AWS.
    UserResourceRead,
    /// AdminCreateUser, AdminConfirmSignUp: 50/s at AWS.
    UserCreation,
    /// AdminUpdateUserAttributes, AdminDeleteUserAttributes, AdminDeleteUser,
    /// AdminEnableUser, AdminDisableUser, AdminAddUserToGroup, AdminRemoveUserFromGroup:
    /// 25/s at AWS.
    UserUpdate,
    /// CreateGroup, UpdateGroup, DeleteGroup: 15/s at AWS.
    UserPoolResourceWrite,
}

/// The rate `requests_per_second` means: the UserList rate. Every other category gets the same
/// share of its own default, so that one option halves (or doubles) all of a server's rates.
const USER_LIST_DEFAULT: u32 = 30;

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::UserList => "UserList",
            Category::UserPoolResourceRead => "UserPoolResourceRead",
            Category::UserPoolClientRead => "UserPoolClientRead",
            Category::UserPoolRead => "UserPoolRead",
            Category::UserResourceRead => "UserResourceRead",
            Category::UserCreation => "UserCreation",
            Category::UserUpdate => "UserUpdate",
            Category::UserPoolResourceWrite => "UserPoolResourceWrite",
        }
    }

    /// Requests per second when `requests_per_second` keeps its default.
    pub fn default_rate(self) -> u32 {
        match self {
            Category::UserList => USER_LIST_DEFAULT,
            Category::UserPoolResourceRead => 20,
            Category::UserPoolClientRead => 15,
            Category::UserPoolRead => 15,
            Category::UserResourceRead => 50,
            // Writes run at AWS's own default for their category: a write statement is
            // bounded by its rows, not by a listing that could go on.
            Category::UserCreation => 50,
            Category::UserUpdate => 25,
            Category::UserPoolResourceWrite => 10,
        }
    }

    /// Requests per second of one operation on one pool, where AWS caps that too (5/s for
    /// each resource and client read operation, whatever the category's rate).
    pub fn per_pool_operation_rate(self) -> Option<u32> {
        match self {
            Category::UserPoolResourceRead
            | Category::UserPoolClientRead
            | Category::UserPoolResourceWrite => Some(5),
            _ => None,
        }
    }

    /// The category's rate when the UserList rate is `requests_per_second`.
    pub fn rate(self, requests_per_second: u32) -> u32 {
        let share = u64::from(self.default_rate()) * u64::from(requests_per_second)
            / u64::from(USER_LIST_DEFAULT);
        share.clamp(1, u64::from(u32::MAX)) as u32
    }
}

/// What a listing's requests are paced by: the limiters of one client (endpoint, region and
/// pool) at one scan's `requests_per_second`.
#[derive(Clone)]
pub struct Pace {
    endpoint: String,
    region: String,
    user_pool_id: String,
    requests_per_second: u32,
}

impl Pace {
    pub fn new(client: &CognitoClient, requests_per_second: u32) -> Pace {
        Pace {
            endpoint: client.endpoint.clone(),
            region: client.region.clone(),
            user_pool_id: client.user_pool_id.clone(),
            requests_per_second,
        }
    }

    /// The limiter of `category` at this endpoint and region.
    pub fn category(&self, category: Category) -> Limiter {
        Limiter::new(
            &self.endpoint,
            &self.region,
            category.name(),
            category.rate(self.requests_per_second),
        )
    }

    /// The limiter of `operation`, of `category`: the category's, and where AWS caps the
    /// operation per pool, that cap as well.
    pub fn operation(&self, category: Category, operation: &str) -> Limiter {
        let limiter = self.category(category);
        match category.per_pool_operation_rate() {
            Some(rate) => limiter.capped(
                &format!(
                    "{} {} {} {operation}",
                    self.endpoint, self.region, self.user_pool_id
                ),
                rate.min(category.rate(self.requests_per_second)),
            ),
            None => limiter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_gets_the_same_share_of_its_default() {
        assert_eq!(Category::UserList.rate(30), 30);
        assert_eq!(Category::UserPoolResourceRead.rate(30), 20);
        assert_eq!(Category::UserResourceRead.rate(30), 50);
        assert_eq!(Category::UserPoolClientRead.rate(15), 7);
        assert_eq!(Category::UserList.rate(1), 1);
        // Never zero, however low the share.
        assert_eq!(Category::UserPoolRead.rate(1), 1);
        assert_eq!(Category::UserPoolRead.rate(60), 30);
        assert_eq!(
            Category::UserPoolClientRead.per_pool_operation_rate(),
            Some(5)
        );
        assert_eq!(Category::UserList.per_pool_operation_rate(), None);
    }
}
