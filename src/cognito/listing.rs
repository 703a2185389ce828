//! Listing users through one or more ListUsers streams at once.
//!
//! Each stream (one filter: a lookup value, an IN value or a `sub` partition) pages on its own.
//! Up to `max_in_flight` page requests run concurrently, started no faster than the backend's
//! rate for the server; finished pages are handed out one at a time, so memory stays about one
//! page per request in flight. All of it runs on the backend's runtime only while the scan
//! waits in `runtime::wait`, and is dropped with the listing.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::client::CognitoClient;
use super::rate;
use super::users::{User, UserPager};
use crate::error::FdwResult;

type PageFuture = Pin<Box<dyn Future<Output = (UserPager, FdwResult<Vec<User>>)>>>;

pub struct Listing {
    server: u32,
    requests_per_second: u32,
    max_in_flight: usize,
    waiting: VecDeque<UserPager>,
    in_flight: FuturesUnordered<PageFuture>,
    pub requests: u64,
    pub pages: u64,
}

impl Listing {
    pub fn new(
        client: &CognitoClient,
        server: u32,
        filters: Vec<Option<String>>,
        page_size: i32,
        max_in_flight: usize,
        requests_per_second: u32,
    ) -> Listing {
        Listing {
            server,
            requests_per_second,
            max_in_flight: max_in_flight.max(1),
            waiting: filters
                .into_iter()
                .map(|filter| UserPager::new(client.clone(), page_size, filter))
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
        loop {
            let mut retry_at = None;
            while self.in_flight.len() < self.max_in_flight && !self.waiting.is_empty() {
                match rate::take(self.server, Instant::now(), self.requests_per_second) {
                    Ok(()) => {
                        let mut pager = self.waiting.pop_front()?;
                        self.requests += 1;
                        self.in_flight.push(Box::pin(async move {
                            let page = pager.next_page().await;
                            (pager, page)
                        }));
                    }
                    Err(at) => {
                        retry_at = Some(at);
                        break;
                    }
                }
            }
            if self.in_flight.is_empty() {
                match retry_at {
                    Some(at) => {
                        tokio::time::sleep_until(at.into()).await;
                        continue;
                    }
                    None => return None,
                }
            }
            let finished = match retry_at {
                Some(at) => {
                    tokio::select! {
                        done = self.in_flight.next() => done,
                        _ = tokio::time::sleep_until(at.into()) => continue,
                    }
                }
                None => self.in_flight.next().await,
            };
            let (pager, page) = finished?;
            self.pages += 1;
            if page.is_ok() && !pager.finished() {
                self.waiting.push_back(pager);
            }
            return Some(page);
        }
    }
}
