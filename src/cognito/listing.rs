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

use super::rate::Limiter;
use pgrx::PgSqlErrorCode::*;

use super::client::CognitoClient;
use crate::error::{FdwError, FdwResult};

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
    /// The operation the next page is asked with, as EXPLAIN ANALYZE counts requests.
    fn operation(&self) -> &'static str;
}

type PageFuture<P> = Pin<Box<dyn Future<Output = (P, FdwResult<Vec<<P as Pager>::Item>>)>>>;

pub struct Listing<P: Pager> {
    limiter: Limiter,
    max_in_flight: usize,
    waiting: VecDeque<P>,
    in_flight: FuturesUnordered<PageFuture<P>>,
    pub requests: u64,
    pub pages: u64,
    /// `requests`, per operation.
    pub by_operation: Vec<(&'static str, u64)>,
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
            by_operation: Vec::new(),
        }
    }

    pub fn streams_left(&self) -> usize {
        self.waiting.len() + self.in_flight.len()
    }

    /// Streams with no request in flight.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Requests this listing keeps in flight at most, now.
    pub fn wanted(&self) -> usize {
        self.max_in_flight.min(self.limiter.streams())
    }

    /// Add a stream, read after those already waiting.
    pub fn push(&mut self, pager: P) {
        self.waiting.push_back(pager);
    }

    /// The next page from any stream (possibly empty), or None when every stream is done.
    pub async fn next_page(&mut self) -> Option<FdwResult<Vec<P::Item>>> {
        let wanted = self.wanted();
        while self.in_flight.len() < wanted {
            let Some(mut pager) = self.waiting.pop_front() else {
                break;
            };
            let limiter = self.limiter;
            self.requests += 1;
            count(&mut self.by_operation, pager.operation(), 1);
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

/// Add `n` requests of `operation` to `counts`, kept in the order operations were first sent.
pub fn count(counts: &mut Vec<(&'static str, u64)>, operation: &'static str, n: u64) {
    match counts.iter_mut().find(|(op, _)| *op == operation) {
        Some((_, total)) => *total += n,
        None => counts.push((operation, n)),
    }
}

/// A listing whose records each open streams of another operation: the members of each
/// group listed (ListGroups, then ListUsersInGroup per group), the details of each client
/// listed (ListUserPoolClients, then DescribeUserPoolClient per client). Parent pages are
/// asked for while the children have fewer streams waiting than they keep in flight, and
/// concurrently with the children's requests, so the child streams never run dry while
/// parents remain; each side keeps its own rate.
pub struct FanOut<Parent: Pager, Child: Pager> {
    parents: Listing<Parent>,
    children: Listing<Child>,
    /// The child streams of one parent record (none: the parent gives no rows).
    children_of: Box<dyn Fn(Parent::Item) -> Vec<Child>>,
}

impl<Parent: Pager + 'static, Child: Pager + 'static> FanOut<Parent, Child> {
    pub fn new(
        parents: Listing<Parent>,
        children: Listing<Child>,
        children_of: impl Fn(Parent::Item) -> Vec<Child> + 'static,
    ) -> Self {
        FanOut {
            parents,
            children,
            children_of: Box::new(children_of),
        }
    }

    pub fn streams_left(&self) -> usize {
        self.parents.streams_left() + self.children.streams_left()
    }

    pub fn requests(&self) -> u64 {
        self.parents.requests + self.children.requests
    }

    pub fn pages(&self) -> u64 {
        self.parents.pages + self.children.pages
    }

    pub fn by_operation(&self) -> Vec<(&'static str, u64)> {
        let mut counts = self.parents.by_operation.clone();
        for (operation, n) in &self.children.by_operation {
            count(&mut counts, operation, *n);
        }
        counts
    }

    /// The next page of child records (possibly empty), or None when every stream is done.
    pub async fn next_page(&mut self) -> Option<FdwResult<Vec<Child::Item>>> {
        use futures_util::future::{select, Either};
        loop {
            let more_parents = self.parents.streams_left() > 0
                && self.children.waiting() < self.children.wanted().max(1);
            if !more_parents {
                return self.children.next_page().await;
            }
            let parents = if self.children.streams_left() == 0 {
                self.parents.next_page().await
            } else {
                // Listing::next_page is safe to drop: requests already sent stay in flight
                // in their listing and are collected by a later call.
                let parent = std::pin::pin!(self.parents.next_page());
                let child = std::pin::pin!(self.children.next_page());
                match select(parent, child).await {
                    Either::Left((parents, _)) => parents,
                    Either::Right((children, _)) => return children,
                }
            };
            match parents {
                // Every parent stream ended meanwhile (a stream may end without a page).
                None => continue,
                Some(Ok(records)) => {
                    for record in records {
                        for child in (self.children_of)(record) {
                            self.children.push(child);
                        }
                    }
                }
                Some(Err(err)) => return Some(Err(err)),
            }
        }
    }
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

    /// An error when `token`, the one `operation` just sent, came before in this listing.
    pub fn check(
        &mut self,
        client: &CognitoClient,
        operation: &str,
        token: Option<&str>,
    ) -> FdwResult<()> {
        match token {
            Some(token) if self.repeated(token) => Err(FdwError::new(
                ERRCODE_FDW_ERROR,
                format!(
                    "Cognito {operation} at {} sent a page token it had already sent in this \
                     listing",
                    client.endpoint
                ),
            )
            .with_detail(format!(
                "user pool {}, after {} pages; the listing stopped rather than loop",
                client.user_pool_id,
                self.pages() + 1
            ))),
            _ => Ok(()),
        }
    }
}

/// An SDK time as the scan keeps it.
pub fn instant(d: &aws_smithy_types::DateTime) -> crate::convert::Instant {
    crate::convert::Instant {
        secs: d.secs(),
        nanos: d.subsec_nanos(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted stream: its pages, handed out in order.
    struct Scripted {
        operation: &'static str,
        pages: VecDeque<Vec<u32>>,
    }

    impl Pager for Scripted {
        type Item = u32;

        async fn next_page(&mut self, limiter: &Limiter) -> FdwResult<Vec<u32>> {
            limiter.acquire().await;
            Ok(self.pages.pop_front().unwrap_or_default())
        }

        fn finished(&self) -> bool {
            self.pages.is_empty()
        }

        fn operation(&self) -> &'static str {
            self.operation
        }
    }

    #[test]
    fn a_fan_out_reads_every_child_of_every_parent_and_counts_each_operation() {
        let limiter = Limiter::new("fan out test", "us-east-1", "UserList", 10_000);
        // Two parent pages (an empty one between), then parents 1..=5; parent n has n
        // children 10n, 10n+1, .. in pages of two, and parent 3 has only an empty page.
        let parents = Scripted {
            operation: "ListGroups",
            pages: vec![vec![1, 2], vec![], vec![3, 4, 5]].into(),
        };
        let children_of = |n: u32| {
            let items: Vec<u32> = if n == 3 {
                Vec::new()
            } else {
                (0..n).map(|i| 10 * n + i).collect()
            };
            let mut pages: VecDeque<Vec<u32>> = items.chunks(2).map(<[u32]>::to_vec).collect();
            if pages.is_empty() {
                pages.push_back(Vec::new());
            }
            vec![Scripted {
                operation: "ListUsersInGroup",
                pages,
            }]
        };
        let mut fan_out = FanOut::new(
            Listing::new(limiter, vec![parents], 1),
            Listing::new(limiter, Vec::new(), 4),
            children_of,
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut got = Vec::new();
        runtime.block_on(async {
            while let Some(page) = fan_out.next_page().await {
                got.extend(page.expect("scripted pages do not fail"));
            }
        });
        got.sort_unstable();
        assert_eq!(
            got,
            [10, 20, 21, 40, 41, 42, 43, 50, 51, 52, 53, 54],
            "every child once"
        );
        assert_eq!(fan_out.streams_left(), 0);
        // 3 parent pages; children: 1 + 1 + 1 (parent 3's empty page) + 2 + 3.
        assert_eq!(
            fan_out.by_operation(),
            [("ListGroups", 3), ("ListUsersInGroup", 8)]
        );
        assert_eq!(fan_out.requests(), 11);
    }
}
