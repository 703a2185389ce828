//! How many users a pool holds, from DescribeUserPool's EstimatedNumberOfUsers, remembered per
//! server in this backend for a few minutes. The planner reads only the remembered value, so
//! planning (and a plain EXPLAIN) never waits on the network; a scan that runs refreshes it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::client::CognitoClient;

const FRESH_FOR: Duration = Duration::from_secs(300);

thread_local! {
    /// When each server's value was learnt, and the value (None: the call failed or was
    /// denied; remembered too, so a denied call is not repeated on every scan).
    static KNOWN: RefCell<HashMap<u32, (Instant, Option<u64>)>> = RefCell::new(HashMap::new());
}

/// The remembered estimate, fresh or not.
pub fn known(server: u32) -> Option<u64> {
    KNOWN.with(|k| k.borrow().get(&server).and_then(|(_, users)| *users))
}

pub fn is_fresh(server: u32) -> bool {
    KNOWN.with(|k| {
        k.borrow()
            .get(&server)
            .is_some_and(|(at, _)| at.elapsed() < FRESH_FOR)
    })
}

/// Ask Cognito and remember the answer (or that there was none).
pub async fn refresh(server: u32, client: &CognitoClient) -> Option<u64> {
    let users = client
        .sdk
        .describe_user_pool()
        .user_pool_id(&client.user_pool_id)
        .send()
        .await
        .ok()
        .and_then(|out| out.user_pool?.estimated_number_of_users.try_into().ok());
    KNOWN.with(|k| k.borrow_mut().insert(server, (Instant::now(), users)));
    users
}
