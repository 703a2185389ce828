//! How a write statement ends: rows still in flight are settled before PostgreSQL reads the
//! statement's row count, and a transaction that changed Cognito and then rolls back says so.
//!
//! An UPDATE or DELETE keeps several rows' requests in flight (`InFlight`), and returns each
//! row to the executor before its requests are answered. A row whose record turns out to be
//! gone (deleted meanwhile) is then no row, and a failure must still fail the statement. The
//! executor counts rows as they are returned and reads the count right after ExecutorRun, so
//! an ExecutorRun hook waits for every row in flight of the statement's writes, raises the
//! first failure, and takes the gone rows off the count, before anyone reads it.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;

use futures_util::stream::{FuturesUnordered, StreamExt};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode::*;

use crate::cognito::writes::Outcome;
use crate::error::{FdwError, FdwResult};

/// One row's changes, once answered.
pub struct Done {
    /// The record the row names (its key fields, joined).
    pub key: String,
    /// The operations made, in order.
    pub made: Vec<&'static str>,
    pub outcome: FdwResult<Outcome>,
}

pub type Row = Pin<Box<dyn Future<Output = Done>>>;

/// Rows whose requests are in flight together.
pub struct InFlight {
    running: FuturesUnordered<Row>,
    keys: HashSet<String>,
    depth: usize,
}

impl InFlight {
    pub fn new(depth: u32) -> InFlight {
        InFlight {
            running: FuturesUnordered::new(),
            keys: HashSet::new(),
            depth: depth.max(1) as usize,
        }
    }

    /// The rows that must finish before a row on `key` starts: one while `depth` are in
    /// flight, and all when one in flight names the same record, so that two rows on one
    /// record are made in the order PostgreSQL gave them.
    pub async fn make_room(&mut self, key: &str) -> Vec<Done> {
        let left = match self.keys.contains(key) {
            true => 0,
            false => self.depth - 1,
        };
        self.finish(left).await
    }

    /// Start a row (after `make_room`).
    pub fn push(&mut self, key: String, row: Row) {
        self.keys.insert(key);
        self.running.push(row);
    }

    /// The rows that finish until at most `left` are in flight.
    pub async fn finish(&mut self, left: usize) -> Vec<Done> {
        let mut finished = Vec::new();
        while self.running.len() > left {
            let Some(done) = self.running.next().await else {
                break;
            };
            self.keys.remove(&done.key);
            finished.push(done);
        }
        finished
    }
}

/// A write with rows in flight: its executor state, and how to settle it.
#[derive(Clone, Copy)]
struct Registered {
    id: u64,
    estate: *mut pg_sys::EState,
    state: *mut c_void,
    settle: unsafe fn(*mut c_void),
}

thread_local! {
    static WRITES: RefCell<Vec<Registered>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
    static PREVIOUS_RUN: Cell<pg_sys::ExecutorRun_hook_type> = const { Cell::new(None) };
    /// Cognito changes made by the current transaction, for the WARNING when it rolls back.
    static CHANGES_MADE: Cell<u64> = const { Cell::new(0) };
    static WATCHING: Cell<bool> = const { Cell::new(false) };
}

/// Have `settle(state)` called when the executor of `estate` has run; the id unregisters it.
///
/// # Safety
/// `state` stays valid for `settle` until `unregister(id)` is called.
pub unsafe fn register(
    estate: *mut pg_sys::EState,
    state: *mut c_void,
    settle: unsafe fn(*mut c_void),
) -> u64 {
    let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
    WRITES.with(|w| {
        w.borrow_mut().push(Registered {
            id,
            estate,
            state,
            settle,
        })
    });
    id
}

pub fn unregister(id: u64) {
    WRITES.with(|w| w.borrow_mut().retain(|r| r.id != id));
}

/// Install the ExecutorRun hook (from `_PG_init`, once per backend).
pub fn install_hook() {
    // SAFETY: _PG_init runs once per backend on its only thread, before any query of ours
    // runs; the previous hook is kept and called first.
    unsafe {
        PREVIOUS_RUN.with(|p| p.set(pg_sys::ExecutorRun_hook));
        pg_sys::ExecutorRun_hook = Some(executor_run);
    }
}

/// Runs the statement, then settles its writes' rows in flight.
///
/// # Safety
/// Called only by PostgreSQL as its ExecutorRun hook.
#[cfg(not(feature = "pg18"))]
#[pg_guard]
unsafe extern "C-unwind" fn executor_run(
    query: *mut pg_sys::QueryDesc,
    direction: pg_sys::ScanDirection::Type,
    count: u64,
    execute_once: bool,
) {
    // SAFETY: the arguments PostgreSQL passed, handed on unchanged.
    unsafe {
        match PREVIOUS_RUN.with(Cell::get) {
            Some(previous) => previous(query, direction, count, execute_once),
            None => pg_sys::standard_ExecutorRun(query, direction, count, execute_once),
        }
        settle_writes((*query).estate);
    }
}

/// Runs the statement, then settles its writes' rows in flight.
///
/// # Safety
/// Called only by PostgreSQL as its ExecutorRun hook.
#[cfg(feature = "pg18")]
#[pg_guard]
unsafe extern "C-unwind" fn executor_run(
    query: *mut pg_sys::QueryDesc,
    direction: pg_sys::ScanDirection::Type,
    count: u64,
) {
    // SAFETY: the arguments PostgreSQL passed, handed on unchanged.
    unsafe {
        match PREVIOUS_RUN.with(Cell::get) {
            Some(previous) => previous(query, direction, count),
            None => pg_sys::standard_ExecutorRun(query, direction, count),
        }
        settle_writes((*query).estate);
    }
}

/// Settle every write of `estate` that has rows in flight.
///
/// # Safety
/// `estate` is the executor state of the query that just ran.
unsafe fn settle_writes(estate: *mut pg_sys::EState) {
    // Copied out first: settling may raise, and must not do so with the list borrowed.
    let writes: Vec<Registered> = WRITES.with(|w| {
        w.borrow()
            .iter()
            .filter(|r| r.estate == estate)
            .copied()
            .collect()
    });
    for write in writes {
        // SAFETY: a registered state is valid until it unregisters (`register`'s contract).
        unsafe { (write.settle)(write.state) };
    }
}

/// Count changes made to Cognito in the current transaction.
pub fn count_changes(n: u64) {
    if n == 0 {
        return;
    }
    if !WATCHING.with(|w| w.replace(true)) {
        // SAFETY: registers a callback that lives as long as the library (never unloaded
        // while the backend runs); on the backend thread.
        unsafe { pg_sys::RegisterXactCallback(Some(transaction_ended), std::ptr::null_mut()) };
    }
    CHANGES_MADE.with(|c| c.set(c.get() + n));
}

/// Says, when a transaction that changed Cognito rolls back, that its changes stay made;
/// refuses to PREPARE one (a ROLLBACK PREPARED would undo nothing either, and could not say
/// so).
///
/// # Safety
/// Called only by PostgreSQL as a transaction callback.
#[pg_guard]
unsafe extern "C-unwind" fn transaction_ended(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_PRE_PREPARE if CHANGES_MADE.with(Cell::get) > 0 => {
            CHANGES_MADE.with(|c| c.set(0));
            FdwError::new(
                ERRCODE_FEATURE_NOT_SUPPORTED,
                "cannot PREPARE a transaction that has changed Cognito",
            )
            .with_detail(
                "Cognito's changes were made when their rows were written; no ROLLBACK \
                 PREPARED could undo them.",
            )
            .raise()
        }
        XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT => {
            let made = CHANGES_MADE.with(|c| c.replace(0));
            if made > 0 {
                let what = match made {
                    1 => "the change it made to Cognito stays made".to_owned(),
                    n => format!("the {n} changes it made to Cognito stay made"),
                };
                FdwError::new(
                    ERRCODE_WARNING,
                    format!("the transaction rolled back, but {what}"),
                )
                .with_detail(
                    "Cognito has no transactions: each write was made when its row was \
                     processed, and a ROLLBACK cannot undo it.",
                )
                .warn();
            }
        }
        XACT_EVENT_COMMIT | XACT_EVENT_PARALLEL_COMMIT | XACT_EVENT_PREPARE => {
            CHANGES_MADE.with(|c| c.set(0))
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, name: &'static str) -> Row {
        let key = key.to_owned();
        Box::pin(async move {
            Done {
                key,
                made: vec![name],
                outcome: Ok(Outcome::Made),
            }
        })
    }

    #[test]
    fn rows_on_one_record_are_made_in_order_and_at_most_depth_are_in_flight() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let start = |in_flight: &mut InFlight, key: &str, name: &'static str| {
            let done = rt.block_on(in_flight.make_room(key));
            in_flight.push(key.to_owned(), row(key, name));
            done.into_iter().map(|d| d.made[0]).collect::<Vec<_>>()
        };
        let mut in_flight = InFlight::new(3);
        assert!(start(&mut in_flight, "a", "a1").is_empty());
        assert!(start(&mut in_flight, "b", "b1").is_empty());
        // "a" is in flight: every row in flight settles before a2 starts.
        let mut settled = start(&mut in_flight, "a", "a2");
        settled.sort();
        assert_eq!(settled, ["a1", "b1"]);
        assert!(start(&mut in_flight, "c", "c1").is_empty());
        assert!(start(&mut in_flight, "d", "d1").is_empty());
        // Three in flight: a fourth waits for one of them.
        assert_eq!(start(&mut in_flight, "e", "e1").len(), 1);
        assert_eq!(in_flight.running.len(), 3);
        assert_eq!(rt.block_on(in_flight.finish(0)).len(), 3);
        assert!(in_flight.running.is_empty() && in_flight.keys.is_empty());
    }
}
