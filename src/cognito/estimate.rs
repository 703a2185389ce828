//! How many users a pool holds, from DescribeUserPool's EstimatedNumberOfUsers, remembered per
//! pool in this backend for a few minutes. The planner reads only the remembered value, so
//! planning (and a plain EXPLAIN) never waits on the network; a scan that runs refreshes it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::config::retry::RetryConfig;

use super::client::CognitoClient;

const FRESH_FOR: Duration = Duration::from_secs(300);

/// What identifies a pool: where its requests go, its region and its id. Keyed by this rather
/// than by server, `ALTER SERVER ... SET user_pool_id` (or a new endpoint) starts afresh
/// instead of planning and partitioning with another pool's size, and two servers on one pool
/// share what they learn.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    endpoint: String,
    region: String,
    user_pool_id: String,
}

impl PoolKey {
    /// The key of pool `user_pool_id` (a table's, else its server's) through a server with
    /// these options.
    pub fn of(server_options: &[(String, String)], user_pool_id: Option<&str>) -> PoolKey {
        let get = |name: &str| {
            server_options
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let region = get("region").unwrap_or_default();
        PoolKey {
            // The same default the client uses: no endpoint_url means AWS's own.
            endpoint: get("endpoint_url")
                .unwrap_or_else(|| format!("https://cognito-idp.{region}.amazonaws.com")),
            region,
            user_pool_id: user_pool_id.unwrap_or_default().to_owned(),
        }
    }
}

thread_local! {
    /// When each pool's value was learnt, and the value (None: the call failed or was
    /// denied; remembered too, so a failing call is not repeated on every scan).
    static KNOWN: RefCell<HashMap<PoolKey, (Instant, Option<u64>)>> = RefCell::new(HashMap::new());
}

/// The remembered estimate, fresh or not.
pub fn known(pool: &PoolKey) -> Option<u64> {
    KNOWN.with(|k| k.borrow().get(pool).and_then(|(_, users)| *users))
}

pub fn is_fresh(pool: &PoolKey) -> bool {
    KNOWN.with(|k| {
        k.borrow()
            .get(pool)
            .is_some_and(|(at, _)| at.elapsed() < FRESH_FOR)
    })
}

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempts {
    /// The client's retries: ANALYZE asked for the size and may wait for it.
    AsConfigured,
    /// One attempt: a scan only uses the size to choose partitions, and must not spend a
    /// second request's budget (max_attempts × request_timeout_ms) on it before its own.
    One,
}

/// Ask Cognito and remember the answer (or that there was none). Failures are not errors:
/// without a size the scan reads one sequential stream, which is always correct.
pub async fn refresh(pool: &PoolKey, client: &CognitoClient, attempts: Attempts) -> Option<u64> {
    let mut call = client
        .sdk
        .describe_user_pool()
        .user_pool_id(&client.user_pool_id)
        .customize();
    if attempts == Attempts::One {
        call = call.config_override(
            aws_sdk_cognitoidentityprovider::config::Builder::default()
                .retry_config(RetryConfig::standard().with_max_attempts(1)),
        );
    }
    let users = call
        .send()
        .await
        .ok()
        .and_then(|out| out.user_pool?.estimated_number_of_users.try_into().ok());
    remember(pool, users);
    users
}

fn remember(pool: &PoolKey, users: Option<u64>) {
    KNOWN.with(|k| k.borrow_mut().insert(pool.clone(), (Instant::now(), users)));
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::options::tests::opts as options;

    /// The key of the pool the options name.
    fn key(o: &[(String, String)]) -> PoolKey {
        PoolKey::of(o, crate::options::lookup(o, "user_pool_id"))
    }

    #[test]
    fn an_estimate_belongs_to_its_pool_not_its_server() {
        let a = options(&[("region", "eu-west-1"), ("user_pool_id", "eu-west-1_A")]);
        let b = options(&[("region", "eu-west-1"), ("user_pool_id", "eu-west-1_B")]);
        let a_elsewhere = options(&[
            ("region", "eu-west-1"),
            ("user_pool_id", "eu-west-1_A"),
            ("endpoint_url", "http://127.0.0.1:5000"),
        ]);
        let a_again = options(&[
            ("user_pool_id", "eu-west-1_A"),
            ("aws_access_key_id", "AKIAOTHER"),
            ("region", "eu-west-1"),
        ]);
        remember(&key(&a), Some(8000));
        assert_eq!(known(&key(&a)), Some(8000));
        assert!(is_fresh(&key(&a)));
        // Another pool id, or the same id at another endpoint, is another pool.
        assert_eq!(known(&key(&b)), None);
        assert!(!is_fresh(&key(&b)));
        assert_eq!(known(&key(&a_elsewhere)), None);
        // Credentials and option order do not change which pool it is.
        assert_eq!(known(&key(&a_again)), Some(8000));
        // A failed call is remembered as fresh, so it is not repeated on every scan.
        remember(&key(&b), None);
        assert!(is_fresh(&key(&b)));
        assert_eq!(known(&key(&b)), None);
        // A table's pool through a server of another pool is the table's.
        assert_eq!(PoolKey::of(&b, Some("eu-west-1_A")), key(&a));
        assert_ne!(PoolKey::of(&a, None), key(&a));
    }
}
