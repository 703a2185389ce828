//! Listing users through one or more ListUsers streams at once.
//!
//! Each stream (one filter: a lookup value, an IN value or a `sub` partition) pages on its own.
//! Page requests run concurrently, as many as reaching the shared rate needs (round trip x
//! rate, shared out among the backends listing on the same quota) and at most `max_in_flight`;
//! each waits for its turn under the rate. Finished pages are handed out one at a time, so
//! memory stays about one page per request in flight. All of it runs on the backend's runtime
//! only while the scan waits in `runtime::wait`, and is dropped with the listing.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::client::CognitoClient;
use super::rate::Limiter;
use super::users::{User, UserPager};
use crate::error::FdwResult;

type PageFuture = Pin<Box<dyn Future<Output = (UserPager, FdwResult<Vec<User>>)>>>;

pub struct Listing {
    limiter: Limiter,
    max_in_flight: usize,
    waiting: VecDeque<UserPager>,
    in_flight: FuturesUnordered<PageFuture>,
    pub requests: u64,
    pub pages: u64,
}

impl Listing {
    pub fn new(
        client: &CognitoClient,
        filters: Vec<Option<String>>,
        attributes: Option<Vec<String>>,
        page_size: i32,
        max_in_flight: usize,
        requests_per_second: u32,
    ) -> Listing {
        Listing {
            limiter: limiter_for(client, requests_per_second),
            max_in_flight: max_in_flight.max(1),
            waiting: filters
                .into_iter()
                .map(|filter| UserPager::new(client.clone(), page_size, filter, attributes.clone()))
                .collect(),
            in_flight: FuturesUnordered::new(),
            requests: 0,
            pages: 0,
        }
    }

    pub fn streams_left(&self) -> usize {
        self.waiting.len() + self.in_flight.len()
    }

    /// The next page from any stream (possibly empty), or None when every stream is done.
    pub async fn next_page(&mut self) -> Option<FdwResult<Vec<User>>> {
        let wanted = self.max_in_flight.min(self.limiter.streams());
        while self.in_flight.len() < wanted {
            let Some(mut pager) = self.waiting.pop_front() else {
                break;
            };
            let limiter = self.limiter;
            self.requests += 1;
            self.in_flight.push(Box::pin(async move {
                let page = pager.next_page(&limiter).await;
                (pager, page)
            }));
        }
        let (pager, page) = self.in_flight.next().await?;
        self.pages += 1;
        if page.is_ok() && !pager.finished() {
            self.waiting.push_back(pager);
        }
        Some(page)
    }
}

/// The limiter of `client`'s quota: ListUsers at its endpoint and region.
pub fn limiter_for(client: &CognitoClient, requests_per_second: u32) -> Limiter {
    Limiter::new(&client.endpoint, &client.region, requests_per_second)
}
