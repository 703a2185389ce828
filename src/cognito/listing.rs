//! Listing through one or more streams of one paged operation at once.
//!
//! Each stream (one filter: a lookup value, an IN value or a partition) pages on its own, with
//! a pager of its operation (`users::UserPager` for ListUsers). Page requests run concurrently,
//! as many as reaching the shared rate needs (round trip x rate, shared out among the backends
//! listing on the same quota) and at most `max_in_flight`; each waits for its turn under the
//! rate. Finished pages are handed out one at a time, so memory stays about one page per
//! request in flight. All of it runs on the backend's runtime only while the scan waits in
//! `runtime::wait`, and is dropped with the listing.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::client::CognitoClient;
use super::rate::Limiter;
use crate::error::FdwResult;

/// Where one stream of a paged operation stands. It holds no page: each call hands its page
/// to the caller.
// The runtime is current-thread and the listing never leaves the backend thread, so the
// futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait Pager {
    type Item;
    /// The next page, possibly empty; each attempt waits for its turn under `limiter`.
    async fn next_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<Self::Item>>;
    /// No page is left.
    fn finished(&self) -> bool;
}

type PageFuture<P> = Pin<Box<dyn Future<Output = (P, FdwResult<Vec<<P as Pager>::Item>>)>>>;

pub struct Listing<P: Pager> {
    limiter: Limiter,
    max_in_flight: usize,
    waiting: VecDeque<P>,
    in_flight: FuturesUnordered<PageFuture<P>>,
    pub requests: u64,
    pub pages: u64,
}

impl<P: Pager + 'static> Listing<P> {
    /// A listing of one stream per pager.
    pub fn new(limiter: Limiter, pagers: Vec<P>, max_in_flight: usize) -> Listing<P> {
        Listing {
            limiter,
            max_in_flight: max_in_flight.max(1),
            waiting: pagers.into(),
            in_flight: FuturesUnordered::new(),
            requests: 0,
            pages: 0,
        }
    }

    pub fn streams_left(&self) -> usize {
        self.waiting.len() + self.in_flight.len()
    }

    /// The next page from any stream (possibly empty), or None when every stream is done.
    pub async fn next_page(&mut self) -> Option<FdwResult<Vec<P::Item>>> {
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

/// The limiter of `client`'s quota `category` ("UserList") at its endpoint and region:
/// Cognito meters each category apart, so each has its own rate.
pub fn limiter_for(client: &CognitoClient, category: &str, requests_per_second: u32) -> Limiter {
    Limiter::new(
        &client.endpoint,
        &client.region,
        category,
        requests_per_second,
    )
}

/// The page tokens one listing has received. A listing ends only when no token comes back, so
/// a server that sends a token again is looping: each pager asks `repeated` of every token and
/// fails clearly instead of listing forever.
#[derive(Default)]
pub struct TokensSeen(std::collections::HashSet<u64>);

impl TokensSeen {
    /// Whether `token` came before in this listing; remembers it (as a hash: tokens can be
    /// long, and a scan may read thousands of pages).
    pub fn repeated(&mut self, token: &str) -> bool {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        token.hash(&mut hasher);
        !self.0.insert(hasher.finish())
    }

    /// Pages that brought a token so far.
    pub fn pages(&self) -> usize {
        self.0.len()
    }
}

/// An SDK time as the scan keeps it.
pub fn instant(d: &aws_smithy_types::DateTime) -> crate::convert::Instant {
    crate::convert::Instant {
        secs: d.secs(),
        nanos: d.subsec_nanos(),
    }
}
