//! Executing a scan.
//!
//! Execution state lives in a Rust `ScanState` that belongs to the executor: it is created in
//! BeginForeignScan and freed exactly once, by EndForeignScan or, when the query fails or is
//! cancelled first, by a reset callback on the executor's memory context. The plan itself holds
//! no state, so a cached plan can be executed any number of times.

use std::collections::VecDeque;
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use pgrx::pg_sys;
use pgrx::pg_sys::AsPgCStr;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode::*;

use super::catalog;
use crate::cognito::client::client_for;
use crate::cognito::runtime::{drop_in_runtime, wait};
use crate::cognito::{CognitoClient, User, UserPager};
use crate::convert::to_datum;
use crate::error::{FdwError, OrRaise};
use crate::objects::Item;
use crate::remote_plan::RemotePlan;

struct ScanState {
    plan: RemotePlan,
    /// None under EXPLAIN without ANALYZE: no credentials are read and no request is made.
    remote: Option<Remote>,
}

/// Scan states alive in this backend. Between statements it is 0; anything else is a leak.
static LIVE_SCANS: AtomicUsize = AtomicUsize::new(0);

pub fn live_scans() -> usize {
    LIVE_SCANS.load(Ordering::Relaxed)
}

impl ScanState {
    fn new(plan: RemotePlan, remote: Option<Remote>) -> ScanState {
        LIVE_SCANS.fetch_add(1, Ordering::Relaxed);
        ScanState { plan, remote }
    }
}

impl Drop for ScanState {
    fn drop(&mut self) {
        LIVE_SCANS.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Remote {
    client: CognitoClient,
    pager: UserPager,
    /// The users of the current page not yet returned: at most one page.
    page: VecDeque<User>,
    /// Requests and rows of earlier runs of this scan (before a rescan), for EXPLAIN ANALYZE.
    requests_before: u64,
}

impl Remote {
    fn new(client: CognitoClient, plan: &RemotePlan) -> Remote {
        Remote {
            pager: UserPager::new(client.clone(), plan.page_size, None),
            client,
            page: VecDeque::new(),
            requests_before: 0,
        }
    }

    fn requests(&self) -> u64 {
        self.requests_before + self.pager.requests
    }

    /// The next user, fetching pages as needed; None when the listing is done.
    fn next(&mut self) -> Option<User> {
        loop {
            if let Some(user) = self.page.pop_front() {
                return Some(user);
            }
            if self.pager.finished() {
                return None;
            }
            pgrx::check_for_interrupts!();
            let page = wait(self.pager.next_page()).or_raise().or_raise();
            self.page = page.into();
        }
    }
}

/// What `fdw_state` points to: a palloc'd cell in the executor's query context, registered
/// with that context's reset callbacks, holding the Rust state until one of the two owners
/// (EndForeignScan or the callback) takes it.
#[repr(C)]
struct StateCell {
    callback: pg_sys::MemoryContextCallback,
    state: *mut ScanState,
}

/// Runs when the executor's memory goes away, also on error or cancel. Must never raise:
/// PostgreSQL may be in the middle of aborting.
unsafe extern "C-unwind" fn release_state(arg: *mut c_void) {
    let cell = arg.cast::<StateCell>();
    // SAFETY: arg is the StateCell registered in begin_foreign_scan, which lives in the
    // context being reset and so is still valid during its own callbacks.
    let state = std::mem::replace(&mut (*cell).state, std::ptr::null_mut());
    if !state.is_null() {
        // SAFETY: state came from Box::into_raw and the null swap above makes this its only
        // release. Dropping never needs PostgreSQL; a panic in a destructor is swallowed so
        // that it cannot unwind into PostgreSQL's abort path.
        let _ = catch_unwind(AssertUnwindSafe(|| drop_in_runtime(Box::from_raw(state))));
    }
}

unsafe fn state<'a>(node: *mut pg_sys::ForeignScanState) -> Option<&'a mut ScanState> {
    let cell = (*node).fdw_state.cast::<StateCell>();
    // SAFETY: fdw_state is NULL or the StateCell of begin_foreign_scan; its state pointer is
    // NULL once released, else a live Box owned by this scan node.
    if cell.is_null() || (*cell).state.is_null() {
        None
    } else {
        Some(&mut *(*cell).state)
    }
}

/// The role whose user mapping applies: the view owner for a view, else the current user.
unsafe fn check_as_user(node: *mut pg_sys::ForeignScanState) -> pg_sys::Oid {
    #[cfg(any(feature = "pg16", feature = "pg17", feature = "pg18"))]
    let user = (*(*node).ss.ps.plan.cast::<pg_sys::ForeignScan>()).checkAsUser;
    #[cfg(not(any(feature = "pg16", feature = "pg17", feature = "pg18")))]
    let user = {
        let scan = (*node).ss.ps.plan.cast::<pg_sys::ForeignScan>();
        let estate = (*node).ss.ps.state;
        let rtes = pgrx::PgList::<pg_sys::RangeTblEntry>::from_pg((*estate).es_range_table);
        rtes.get_ptr((*scan).scan.scanrelid as usize - 1)
            .map_or(pg_sys::InvalidOid, |rte| (*rte).checkAsUser)
    };
    if user == pg_sys::InvalidOid {
        pg_sys::GetUserId()
    } else {
        user
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    eflags: c_int,
) {
    let scan = (*node).ss.ps.plan.cast::<pg_sys::ForeignScan>();
    let plan = super::plan::decode((*scan).fdw_private).or_raise();
    let remote = if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        None
    } else {
        let relid = (*(*node).ss.ss_currentRelation).rd_id;
        let server_oid = (*pg_sys::GetForeignTable(relid)).serverid;
        let (settings, secret) =
            catalog::server_settings(server_oid, check_as_user(node)).or_raise();
        let client = client_for(server_oid.to_u32(), &settings, &secret);
        Some(Remote::new(client, &plan))
    };

    let query_cxt = (*(*node).ss.ps.state).es_query_cxt;
    // SAFETY: the cell is allocated in the query context whose reset calls release_state, so
    // it outlives every use; the Box is released exactly once (see release_state).
    let cell = pg_sys::MemoryContextAllocZero(query_cxt, std::mem::size_of::<StateCell>())
        .cast::<StateCell>();
    (*cell).state = Box::into_raw(Box::new(ScanState::new(plan, remote)));
    (*cell).callback.func = Some(release_state);
    (*cell).callback.arg = cell.cast();
    pg_sys::MemoryContextRegisterResetCallback(query_cxt, &mut (*cell).callback);
    (*node).fdw_state = cell.cast();
}

#[pg_guard]
pub unsafe extern "C-unwind" fn iterate_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
) -> *mut pg_sys::TupleTableSlot {
    let slot = (*node).ss.ss_ScanTupleSlot;
    // SAFETY: a virtual slot's clear callback only resets its flags and values.
    ((*(*slot).tts_ops).clear.expect("slot has a clear callback"))(slot);
    let Some(state) = state(node) else {
        return slot;
    };
    let Some(remote) = state.remote.as_mut() else {
        return slot;
    };
    let Some(user) = remote.next() else {
        return slot;
    };
    let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
    // SAFETY: a virtual slot has natts entries in tts_values and tts_isnull.
    let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
    let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
    nulls.fill(true);
    // Datums are palloc'd in the per-tuple context that ForeignNext switched to, which the
    // executor resets for every row; `user` is freed when this function returns.
    for column in &state.plan.columns {
        match to_datum(user.value(&column.field), column.ty) {
            Ok(Some(datum)) => {
                values[column.index] = datum;
                nulls[column.index] = false;
            }
            Ok(None) => {}
            Err(what) => FdwError::new(
                ERRCODE_FDW_INVALID_DATA_TYPE,
                format!(
                    "value of user \"{}\" does not fit its column: {what}",
                    user.username
                ),
            )
            .raise(),
        }
    }
    pg_sys::ExecStoreVirtualTuple(slot)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn rescan_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    if let Some(state) = state(node) {
        if let Some(remote) = state.remote.take() {
            let requests = remote.requests();
            let mut fresh = Remote::new(remote.client.clone(), &state.plan);
            fresh.requests_before = requests;
            drop_in_runtime(remote);
            state.remote = Some(fresh);
        }
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    let cell = (*node).fdw_state.cast::<StateCell>();
    if !cell.is_null() {
        release_state(cell.cast());
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn explain_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
    let Some(state) = state(node) else {
        return;
    };
    pg_sys::ExplainPropertyText(
        c"Cognito Request".as_ptr(),
        state.plan.describe().as_pg_cstr(),
        es,
    );
    if (*es).analyze {
        if let Some(remote) = &state.remote {
            pg_sys::ExplainPropertyInteger(
                c"Cognito Requests".as_ptr(),
                std::ptr::null(),
                remote.requests() as i64,
                es,
            );
        }
    }
}
