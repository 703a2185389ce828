//! The backend's one async runtime, and the only way to wait on it.
//!
//! A PostgreSQL backend is one thread; every SDK future runs on a current-thread runtime that
//! lives as long as the backend, so no scan builds or tears down a runtime. Waiting happens in
//! slices of `POLL`, and between slices the backend thread checks for interrupts: a cancel or a
//! statement_timeout raises its ERROR here, outside the runtime, and the unwind drops the
//! unfinished future (and with it the request) on the way out.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use pgrx::PgSqlErrorCode::*;
use tokio::runtime::Runtime;

use crate::error::{catch_panic, FdwError, FdwResult};

const POLL: Duration = Duration::from_millis(50);

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

pub fn runtime() -> FdwResult<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // The runtime's only extra threads are its blocking pool (hyper resolves host names
        // there). PostgreSQL's signal handlers (SIGALRM for statement_timeout, SIGINT for
        // cancel) change backend globals without atomics and must only ever run on the
        // backend's own thread, so these threads block every signal.
        .on_thread_start(block_signals)
        .build()
        .map_err(|e| {
            FdwError::new(
                ERRCODE_FDW_ERROR,
                format!("could not start the async runtime: {e}"),
            )
        })?;
    Ok(RUNTIME.get_or_init(|| rt))
}

fn block_signals() {
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the set before pthread_sigmask reads it; the mask changed
    // is the calling thread's own, a runtime thread that has not started any work yet.
    unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), std::ptr::null_mut());
    }
}

/// What a backend waits for, as `pg_stat_activity` shows it: wait_event_type `Extension`.
/// Up to PostgreSQL 16 the event is `PG_WAIT_EXTENSION | n`, which every version before 17 names
/// "Extension"; the numbers tell them apart for tools that read the raw value. From 17 on they
/// are the named events `CognitoRequest` and `CognitoRate` (see `event_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Nothing (the backend is not waiting on Cognito).
    Nothing = 0,
    /// An answer from Cognito: a request in flight, or a backoff before a retry.
    Network = 1,
    /// Our own turn under the request rate.
    Rate = 2,
}

/// The `wait_event_info` that stands for `what`.
///
/// Up to 16 PostgreSQL names every event of the Extension class "Extension", whatever its
/// number. From 17 only `PG_WAIT_EXTENSION` itself is built in: any other number must have been
/// registered by name (WaitEventExtensionNew), and reading pg_stat_activity while a backend
/// reports an unregistered one fails for every session with "could not find custom name for
/// wait event information". So there the waits are named events, registered by
/// `register_wait_events` before the first is reported; until then, plain "Extension".
#[cfg(not(test))]
fn event_info(what: Waiting) -> u32 {
    match what {
        Waiting::Nothing => 0,
        #[cfg(not(any(feature = "pg17", feature = "pg18")))]
        n => pgrx::pg_sys::PG_WAIT_EXTENSION | n as u32,
        #[cfg(any(feature = "pg17", feature = "pg18"))]
        n => match (NAMED_EVENTS.get(), n) {
            (Some([network, _]), Waiting::Network) => *network,
            (Some([_, rate]), Waiting::Rate) => *rate,
            _ => pgrx::pg_sys::PG_WAIT_EXTENSION,
        },
    }
}

/// The event numbers of `Waiting::Network` and `Waiting::Rate`, once registered (17 and later).
#[cfg(all(not(test), any(feature = "pg17", feature = "pg18")))]
static NAMED_EVENTS: std::sync::OnceLock<[u32; 2]> = std::sync::OnceLock::new();

/// Register this backend's named wait events, once per process (17 and later; nothing before).
/// The names live in the cluster's shared table, so every backend gets the same numbers.
#[cfg(not(test))]
fn register_wait_events() {
    #[cfg(any(feature = "pg17", feature = "pg18"))]
    if NAMED_EVENTS.get().is_none() {
        // SAFETY: called on the backend's own thread (from `wait`, before any future runs), with
        // NUL-terminated names shorter than NAMEDATALEN. WaitEventExtensionNew returns the number
        // a name already has or registers it under its own lock. If the shared table is full it
        // raises an ERROR, which pgrx's guard turns into a panic that ends the statement as any
        // ERROR does (the transaction's abort releases the lock): the query fails rather than
        // report a number that would break pg_stat_activity.
        let events = unsafe {
            [
                pgrx::pg_sys::WaitEventExtensionNew(c"CognitoRequest".as_ptr()),
                pgrx::pg_sys::WaitEventExtensionNew(c"CognitoRate".as_ptr()),
            ]
        };
        let _ = NAMED_EVENTS.set(events);
    }
}

#[cfg(test)]
fn register_wait_events() {}

/// Report what this backend now waits for. Futures run only inside `wait`, on the backend's
/// own thread, so this is the backend's wait state.
#[cfg(not(test))]
pub fn report_wait(what: Waiting) {
    let info = event_info(what);
    // SAFETY: my_wait_event_info points at this backend's wait slot (its PGPROC entry, or a
    // local variable before it has one) for the whole life of the process; it is written only
    // by the backend's own thread, which is the one running this (see `wait`), as the inline
    // pgstat_report_wait_start does with a plain store.
    unsafe {
        let slot = pgrx::pg_sys::my_wait_event_info;
        if !slot.is_null() {
            std::ptr::write_volatile(slot, info);
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Every wait reported, in order, for unit tests.
    pub static REPORTED: std::cell::RefCell<Vec<Waiting>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
pub fn report_wait(what: Waiting) {
    REPORTED.with(|r| r.borrow_mut().push(what));
}

/// Run `fut` to completion on the backend thread, answering query cancel within `POLL`.
pub fn wait<F: Future>(fut: F) -> FdwResult<F::Output> {
    let rt = runtime()?;
    let mut fut = std::pin::pin!(fut);
    register_wait_events();
    // Until a rate wait says otherwise, a backend waiting here waits on the network.
    report_wait(Waiting::Network);
    struct Done;
    impl Drop for Done {
        // Also on the unwind of a cancel: the backend no longer waits on Cognito.
        fn drop(&mut self) {
            report_wait(Waiting::Nothing);
        }
    }
    let _done = Done;
    loop {
        match slice(rt, fut.as_mut())? {
            Some(output) => return Ok(output),
            // Not inside block_on here: an ERROR raised by a pending interrupt unwinds through
            // plain Rust frames only.
            None => {
                pgrx::check_for_interrupts!();
            }
        }
    }
}

/// Drive `fut` for at most `POLL`: its output, or None if it is still pending. A panic in the
/// SDK would otherwise reach the client with its text and a backtrace.
pub(crate) fn slice<F: Future>(rt: &Runtime, fut: Pin<&mut F>) -> FdwResult<Option<F::Output>> {
    catch_panic(|| rt.block_on(async { tokio::time::timeout(POLL, fut).await.ok() }))
}

/// Drop a value that may hold runtime resources (sockets, timers) with the runtime entered, so
/// their deregistration finds the reactor.
pub fn drop_in_runtime<T>(value: T) {
    match RUNTIME.get() {
        Some(rt) => {
            let _guard = rt.enter();
            drop(value);
        }
        None => drop(value),
    }
}
