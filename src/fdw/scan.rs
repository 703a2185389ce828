//! Executing a scan.
//!
//! Execution state lives in a Rust `ScanState` that belongs to the executor (`cell::StateCell`):
//! it is created in BeginForeignScan and freed exactly once, by EndForeignScan or, when the
//! query fails or is cancelled first, by a reset callback on the executor's memory context. The
//! plan itself holds no state, so a cached plan can be executed any number of times.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::ffi::{c_int, CStr};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};

use pgrx::pg_sys;
use pgrx::pg_sys::AsPgCStr;
use pgrx::prelude::*;

use super::catalog;
use super::cell::StateCell;
use super::columns::fill;
use crate::cognito::client::client_for;
use crate::cognito::listing;
use crate::cognito::quota::Pace;
use crate::cognito::runtime::{drop_in_runtime, wait};
use crate::cognito::{estimate, rate, CognitoClient};
use crate::convert::Filler;
use crate::error::{FdwError, OrRaise};
use crate::objects::{Object, Record, Records};
use crate::options::TableSettings;
use crate::pushdown::Operand;
use crate::remote_plan::{Ran, RemotePlan, Shown};
use crate::request::{self, Decision, Request};

struct ScanState {
    plan: RemotePlan,
    /// One per column the query reads (`plan.columns`), holding values to the declared types.
    fillers: Vec<Filler>,
    /// The table's, server's and user mapping's options as they stood when this query started.
    settings: TableSettings,
    /// ExprStates of the plan's fdw_exprs (parameter values), in the executor's memory.
    params: *mut pg_sys::List,
    /// None under EXPLAIN without ANALYZE: no credentials are read and no request is made.
    connection: Option<Connection>,
    /// The listing of the current run, opened by the first Iterate after Begin or ReScan:
    /// parameter values (initplan results among them) are only known then.
    remote: Option<Remote>,
    /// Requests and pages of earlier runs of this scan (before a rescan), for EXPLAIN ANALYZE.
    requests_before: u64,
    pages_before: u64,
    by_operation_before: Vec<(&'static str, u64)>,
    /// Runs opened so far (1 + rescans that read again).
    runs: u64,
    /// Hashes of the distinct filters sent over all runs: under a nested loop each run sends
    /// its own, and EXPLAIN ANALYZE's counts cover all of them. At most one entry per request
    /// made, so it grows no faster than the requests themselves.
    filters_sent: HashSet<u64>,
    /// What the latest run sent, kept past a rescan for EXPLAIN ANALYZE.
    last_run: Option<LastRun>,
}

struct LastRun {
    sent: String,
    asked: Ran,
}

/// Scan states alive in this backend. Between statements it is 0; anything else is a leak.
static LIVE_SCANS: AtomicUsize = AtomicUsize::new(0);

pub fn live_scans() -> usize {
    LIVE_SCANS.load(Ordering::Relaxed)
}

impl ScanState {
    fn new(
        plan: RemotePlan,
        fillers: Vec<Filler>,
        settings: TableSettings,
        params: *mut pg_sys::List,
    ) -> ScanState {
        LIVE_SCANS.fetch_add(1, Ordering::Relaxed);
        ScanState {
            plan,
            fillers,
            settings,
            params,
            connection: None,
            remote: None,
            requests_before: 0,
            pages_before: 0,
            by_operation_before: Vec::new(),
            runs: 0,
            filters_sent: HashSet::new(),
            last_run: None,
        }
    }

    fn requests(&self) -> u64 {
        self.requests_before + self.remote.as_ref().map_or(0, Remote::requests)
    }

    fn pages(&self) -> u64 {
        self.pages_before + self.remote.as_ref().map_or(0, |r| r.listing.pages())
    }

    /// Requests per operation over every run.
    fn requests_by_operation(&self) -> Vec<(&'static str, u64)> {
        let mut counts = self.by_operation_before.clone();
        if let Some(remote) = &self.remote {
            for (operation, n) in remote.requests_by_operation(self.plan.object) {
                listing::count(&mut counts, operation, n);
            }
        }
        counts
    }
}

impl Drop for ScanState {
    fn drop(&mut self) {
        LIVE_SCANS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where this scan's requests go, resolved once at Begin.
struct Connection {
    client: CognitoClient,
    pool: estimate::PoolKey,
}

struct Remote {
    listing: Box<dyn Records>,
    /// The records of the current page not yet returned: at most one page.
    page: VecDeque<Box<dyn Record>>,
    /// Identities of the records already returned, when several streams may return the same
    /// record (`Request::dedupe`); None when the streams are disjoint.
    seen: Option<HashSet<String>>,
    /// What this run asked for.
    request: Request,
    /// Requests of a listing begun and then dropped for a better one (see `open`).
    discarded_requests: u64,
}

impl Remote {
    fn new(state: &ScanState, connection: &Connection, pace: &Pace, request: Request) -> Remote {
        let listing = state
            .plan
            .object
            .open(&connection.client, pace, &request.listing);
        Remote {
            listing,
            page: VecDeque::new(),
            seen: request.dedupe.then(HashSet::new),
            request,
            discarded_requests: 0,
        }
    }

    fn requests(&self) -> u64 {
        self.listing.requests() + self.discarded_requests
    }

    fn requests_by_operation(&self, object: Object) -> Vec<(&'static str, u64)> {
        let mut counts = Vec::new();
        if self.discarded_requests > 0 {
            listing::count(&mut counts, object.operation(), self.discarded_requests);
        }
        for (operation, n) in self.listing.requests_by_operation() {
            listing::count(&mut counts, operation, n);
        }
        counts
    }

    /// The next record, fetching pages as needed; None when every stream is done.
    fn next(&mut self) -> Option<Box<dyn Record>> {
        loop {
            while let Some(record) = self.page.pop_front() {
                let first_time = match &mut self.seen {
                    Some(seen) => seen.insert(record.identity().to_owned()),
                    None => true,
                };
                if first_time {
                    return Some(record);
                }
            }
            if self.listing.streams_left() == 0 {
                return None;
            }
            pgrx::check_for_interrupts!();
            match wait(self.listing.next_page()).or_raise() {
                None => return None,
                Some(page) => self.page = page.or_raise().into(),
            }
        }
    }
}

/// The value of an operand: a constant of the plan, or a parameter evaluated now.
///
/// # Safety
/// `params` is the List of ExprStates that ExecInitExprList made of the plan's fdw_exprs
/// (each of type text or varchar, as `quals` only keeps those), and `econtext` the scan
/// node's live expression context.
unsafe fn evaluate(
    operand: &Operand,
    params: *mut pg_sys::List,
    econtext: *mut pg_sys::ExprContext,
) -> Option<String> {
    match operand {
        Operand::Const(value) => value.clone(),
        Operand::Param(n) => {
            // SAFETY: `params` is the executor's List of ExprState (caller's contract).
            let states = unsafe { pgrx::PgList::<pg_sys::ExprState>::from_pg(params) };
            let state = states.get_ptr(*n)?;
            // SAFETY: `econtext` is the node's live expression context (caller's contract);
            // the per-tuple context is switched to for the evaluation and switched back below.
            // ExecEvalExpr is an inline call of the state's own evaluation function, set by
            // ExecInitExprList; a non-null result is a text Datum (the parameter's type is
            // text or varchar), which text_to_cstring copies into a palloc'd C string.
            unsafe {
                let old = pg_sys::MemoryContextSwitchTo((*econtext).ecxt_per_tuple_memory);
                let mut isnull = false;
                let datum =
                    (*state).evalfunc.expect("initialised ExprState")(state, econtext, &mut isnull);
                let value = (!isnull).then(|| {
                    CStr::from_ptr(pg_sys::text_to_cstring(datum.cast_mut_ptr()))
                        .to_string_lossy()
                        .into_owned()
                });
                pg_sys::MemoryContextSwitchTo(old);
                value
            }
        }
    }
}

/// Ask `request::decide` what to ask Cognito for this run of the scan (parameters may have
/// changed since the last), and open the listing it says.
///
/// # Safety
/// `econtext` is the scan node's live expression context and `state.params` the node's
/// parameter ExprStates, as `evaluate` requires.
unsafe fn open(
    state: &ScanState,
    connection: &Connection,
    econtext: *mut pg_sys::ExprContext,
) -> Remote {
    let (plan, settings) = (&state.plan, &state.settings.scan);
    let client = &connection.client;
    // SAFETY: DataDir is set at process start and is a NUL-terminated path from then on.
    let data_dir = unsafe { CStr::from_ptr(pg_sys::DataDir) }
        .to_string_lossy()
        .into_owned();
    rate::attach(std::path::Path::new(&data_dir));
    let pace = Pace::new(client, settings.requests_per_second);
    // The listing's own category: what the size decision below shares out.
    let limiter = pace.category(plan.object.quota_category());
    let decision = request::decide(
        plan,
        settings,
        state.settings.use_remote_estimate,
        // SAFETY: the plan's parameter states and this node's expression context, as
        // `evaluate` needs them.
        &mut |operand| unsafe { evaluate(operand, state.params, econtext) },
    );
    let (sequential, partitioned) = match decision {
        Decision::Open(request) => return Remote::new(state, connection, &pace, request),
        Decision::BySize {
            sequential,
            partitioned,
        } => (sequential, partitioned),
    };
    // Counted as listing from now, so that scans starting together see each other when they
    // choose their streams below.
    limiter.hold();
    let partition = |rows: Option<u64>| request::partition(plan, settings, rows, limiter.streams());
    if estimate::is_fresh(&connection.pool) {
        let rows = plan.object.known_rows(&connection.pool);
        let chosen = if partition(rows) {
            partitioned
        } else {
            sequential
        };
        return Remote::new(state, connection, &pace, chosen);
    }
    // The size is asked alongside the first page of a sequential listing, in one attempt: a
    // size check that fails costs the scan nothing, one that hangs at most one attempt's wait
    // (request_timeout_ms), and an endpoint that never answers fails the query within the
    // listing's budget, not after two. A large table costs one page more: the sequential
    // page is dropped for the partitions.
    let mut first = Remote::new(state, connection, &pace, sequential);
    let answered = wait(first_page_and_size(
        plan.object,
        first.listing.as_mut(),
        &connection.pool,
        client,
    ))
    .and_then(|answered| answered);
    let (rows, page) = match answered {
        Ok(answered) => answered,
        Err(error) => {
            // Its connections are released with the runtime entered, before the ERROR
            // unwinds.
            drop_in_runtime(first);
            error.raise()
        }
    };
    if partition(rows) {
        let mut remote = Remote::new(state, connection, &pace, partitioned);
        remote.discarded_requests = first.listing.requests();
        drop_in_runtime(first);
        remote
    } else {
        first.page = page.unwrap_or_default().into();
        first
    }
}

/// The table's size (one attempt, failures ignored) and the first page of `listing`, asked at
/// once; a failed page ends the wait without waiting for the size.
async fn first_page_and_size(
    object: Object,
    listing: &mut dyn Records,
    pool: &estimate::PoolKey,
    client: &CognitoClient,
) -> Result<(Option<u64>, Option<Vec<Box<dyn Record>>>), FdwError> {
    tokio::try_join!(
        async {
            Ok(object
                .refresh_rows(pool, client, estimate::Attempts::One)
                .await)
        },
        async { listing.next_page().await.transpose() },
    )
}

/// This scan's state, or None once released (or under EXPLAIN of a scan never begun).
///
/// # Safety
/// `node` is the executor's live ForeignScanState of one of our scans, and no other reference
/// to its state is alive while the result is used.
unsafe fn state<'a>(node: *mut pg_sys::ForeignScanState) -> Option<&'a mut ScanState> {
    // SAFETY: fdw_state is NULL or the cell begin_foreign_scan installed for a ScanState in
    // the query context, which outlives the node's callbacks.
    unsafe { StateCell::<ScanState>::get((*node).fdw_state.cast()) }
}

/// The role whose user mapping applies: the view owner for a view, else the current user.
///
/// # Safety
/// `node` is the executor's live ForeignScanState, whose plan is a ForeignScan.
unsafe fn check_as_user(node: *mut pg_sys::ForeignScanState) -> pg_sys::Oid {
    // SAFETY: `node` is live and its plan a ForeignScan (caller's contract).
    #[cfg(any(feature = "pg16", feature = "pg17", feature = "pg18"))]
    let user = unsafe { (*(*node).ss.ps.plan.cast::<pg_sys::ForeignScan>()).checkAsUser };
    // SAFETY: `node` is live and its plan a ForeignScan (caller's contract); its EState's
    // range table is a List of RangeTblEntry, where scanrelid (1-based) is this scan's.
    #[cfg(not(any(feature = "pg16", feature = "pg17", feature = "pg18")))]
    let user = unsafe {
        let scan = (*node).ss.ps.plan.cast::<pg_sys::ForeignScan>();
        let estate = (*node).ss.ps.state;
        let rtes = pgrx::PgList::<pg_sys::RangeTblEntry>::from_pg((*estate).es_range_table);
        rtes.get_ptr((*scan).scan.scanrelid as usize - 1)
            .map_or(pg_sys::InvalidOid, |rte| (*rte).checkAsUser)
    };
    if user == pg_sys::InvalidOid {
        // SAFETY: reads the current role's id, set for the whole statement.
        unsafe { pg_sys::GetUserId() }
    } else {
        user
    }
}

/// # Safety
/// Called only by PostgreSQL's executor, as the FdwRoutine's BeginForeignScan callback, with
/// the live ForeignScanState of a scan this wrapper planned.
#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    eflags: c_int,
) {
    // SAFETY: PostgreSQL passes the executor's live ForeignScanState for the duration of this
    // callback; its plan is the ForeignScan get_foreign_plan made, whose fdw_private came from
    // `to_fdw_private` and whose fdw_exprs are expressions ExecInitExprList can initialise
    // for this node (the states are allocated in the current, per-query, context).
    let (plan, params) = unsafe {
        let scan = (*node).ss.ps.plan.cast::<pg_sys::ForeignScan>();
        let plan = RemotePlan::from_fdw_private((*scan).fdw_private).or_raise();
        (
            plan,
            pg_sys::ExecInitExprList((*scan).fdw_exprs, node.cast()),
        )
    };
    // Every option that shapes execution is read here, once, when the query starts: the
    // listing's options and the client's come from the same read of the catalog, so a scan
    // never mixes two versions of its server, and EXPLAIN reports what this run used.
    // (PostgreSQL replans a cached statement after ALTER SERVER or ALTER FOREIGN TABLE, so
    // only `pushdown`, which shapes the plan, is taken from the planner.)
    // Under EXPLAIN without ANALYZE no request is sent, and no credentials are read.
    // SAFETY: the live node (as above) has its relation open and its EState set.
    let relid = unsafe { (*(*node).ss.ss_currentRelation).rd_id };
    let sends = eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int == 0;
    // SAFETY: the live node of a ForeignScan plan (as above).
    let user = sends.then(|| unsafe { check_as_user(node) });
    let table = catalog::table(relid, user).or_raise();
    // SAFETY: as above.
    let query_cxt = unsafe { (*(*node).ss.ps.state).es_query_cxt };
    let fillers = plan
        .columns
        .iter()
        // SAFETY: on the backend thread; the query context outlives the fillers, which live in
        // the state the cell frees before (or when) the executor resets that context.
        .map(|column| unsafe { Filler::new(column.clone(), query_cxt) })
        .collect();
    let connection = match (&table.settings.server, user) {
        (Some(server), Some(user)) => Some(Connection {
            client: client_for(
                (table.server_oid.to_u32(), user.to_u32()),
                server,
                table.secret.as_deref(),
            )
            .or_raise()
            .for_pool(table.settings.user_pool_id.as_deref()),
            pool: table.pool_key(),
        }),
        _ => None,
    };
    let mut state = ScanState::new(plan, fillers, table.settings, params);
    state.connection = connection;

    // SAFETY: the query context outlives the node: the executor resets it after End, or on
    // error, which is when the cell releases the state if End has not. fdw_state is ours to
    // set on the live node.
    unsafe { (*node).fdw_state = StateCell::install(query_cxt, state).cast() };
}

/// # Safety
/// Called only by PostgreSQL's executor, as the FdwRoutine's IterateForeignScan callback, with
/// the live ForeignScanState of a scan this wrapper planned.
#[pg_guard]
pub unsafe extern "C-unwind" fn iterate_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
) -> *mut pg_sys::TupleTableSlot {
    // SAFETY: PostgreSQL passes the executor's live ForeignScanState for the duration of this
    // callback; its scan slot is a virtual slot whose clear callback only resets its flags and
    // values.
    let slot = unsafe {
        let slot = (*node).ss.ss_ScanTupleSlot;
        ((*(*slot).tts_ops).clear.expect("slot has a clear callback"))(slot);
        slot
    };
    // SAFETY: the live node of one of our scans; the state is only used within this call,
    // and no other reference to it exists during it.
    let Some(state) = (unsafe { state(node) }) else {
        return slot;
    };
    if state.remote.is_none() {
        let Some(connection) = &state.connection else {
            return slot;
        };
        // SAFETY: the node's own expression context, and the parameter states
        // begin_foreign_scan initialised for this node, as `open` requires.
        let remote = unsafe { open(state, connection, (*node).ss.ps.ps_ExprContext) };
        state.runs += 1;
        for filter in &remote.request.filters {
            let mut hasher = DefaultHasher::new();
            filter.hash(&mut hasher);
            state.filters_sent.insert(hasher.finish());
        }
        state.last_run = Some(LastRun {
            sent: remote.request.sent.clone(),
            asked: Ran {
                page_size: remote.request.listing.page_size,
                attributes: remote.request.listing.attributes.clone(),
            },
        });
        state.remote = Some(remote);
    }
    let Some(remote) = state.remote.as_mut() else {
        return slot;
    };
    let Some(record) = remote.next() else {
        return slot;
    };
    // SAFETY: a virtual slot has natts entries in tts_values and tts_isnull, arrays that
    // nothing else touches until this callback returns the slot.
    let (values, nulls) = unsafe {
        let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
        (
            std::slice::from_raw_parts_mut((*slot).tts_values, natts),
            std::slice::from_raw_parts_mut((*slot).tts_isnull, natts),
        )
    };
    // Datums are palloc'd in the per-tuple context that ForeignNext switched to, which the
    // executor resets for every row; `record` is freed when this function returns. Only the
    // columns the query reads are converted: the others stay NULL.
    // SAFETY: on the backend thread, inside a transaction; the slot's descriptor is live with
    // the node.
    unsafe {
        fill(
            values,
            nulls,
            &mut state.fillers,
            record.as_ref(),
            state.plan.object.record_noun(),
            (*slot).tts_tupleDescriptor,
        )
    };
    // SAFETY: the node's own virtual slot, cleared above, with a value or a null flag for
    // every attribute.
    unsafe { pg_sys::ExecStoreVirtualTuple(slot) }
}

/// # Safety
/// Called only by PostgreSQL's executor, as the FdwRoutine's ReScanForeignScan callback, with
/// the live ForeignScanState of a scan this wrapper planned.
#[pg_guard]
pub unsafe extern "C-unwind" fn rescan_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    // SAFETY: PostgreSQL passes the executor's live ForeignScanState of one of our scans for
    // the duration of this callback; the state is only used within it.
    let Some(state) = (unsafe { state(node) }) else {
        return;
    };
    // The next Iterate opens a new listing with the parameter values of then.
    if let Some(old) = state.remote.take() {
        for (operation, n) in old.requests_by_operation(state.plan.object) {
            listing::count(&mut state.by_operation_before, operation, n);
        }
        state.requests_before += old.requests();
        state.pages_before += old.listing.pages();
        drop_in_runtime(old);
    }
}

/// # Safety
/// Called only by PostgreSQL's executor, as the FdwRoutine's EndForeignScan callback, with
/// the live ForeignScanState of a scan this wrapper planned.
#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    // SAFETY: as in `state`; nothing holds a reference to the state across this call.
    unsafe { StateCell::<ScanState>::release((*node).fdw_state.cast()) };
}

/// # Safety
/// Called only by PostgreSQL's executor, as the FdwRoutine's ExplainForeignScan callback, with
/// the live ForeignScanState and ExplainState of a scan this wrapper planned.
#[pg_guard]
pub unsafe extern "C-unwind" fn explain_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
    // SAFETY: PostgreSQL passes the executor's live ForeignScanState of one of our scans for
    // the duration of this callback; the state is only used within it.
    let Some(state) = (unsafe { state(node) }) else {
        return;
    };
    // SAFETY: `es` is EXPLAIN's live state for this callback; the label is a NUL-terminated
    // C string and the value a palloc'd copy, both read during the call.
    let property = |label: &CStr, value: String| unsafe {
        pg_sys::ExplainPropertyText(label.as_ptr(), value.as_pg_cstr(), es);
    };
    // SAFETY: as above; a NULL unit means none.
    let integer = |label: &CStr, n: i64| unsafe {
        pg_sys::ExplainPropertyInteger(label.as_ptr(), std::ptr::null(), n, es);
    };
    // SAFETY: the live node's plan is the ForeignScan get_foreign_plan made; its fdw_exprs a
    // List of expression nodes, in the plan's memory for as long as the plan.
    let (plan_node, exprs) = unsafe {
        let plan_node = (*node).ss.ps.plan;
        let exprs = pgrx::PgList::<pg_sys::Node>::from_pg(
            (*plan_node.cast::<pg_sys::ForeignScan>()).fdw_exprs,
        );
        (plan_node, exprs)
    };
    // Parameters are named as PostgreSQL names them in the same plan (`$1` for a query
    // parameter, `$0` for an initplan's result, `n.name` for an outer column), not by their
    // slot in this plan. The deparse context is the one ExplainNode just set for this node's
    // Filter; a scan with parameters always has that Filter, since every condition is also
    // checked locally. Without it, the slot number is all there is to show.
    // SAFETY: the live plan node (as above) and EXPLAIN's live state.
    let (deparse_ready, verbose, analyze) = unsafe {
        (
            !(*plan_node).qual.is_null() && !(*es).deparse_cxt.is_null(),
            (*es).verbose,
            (*es).analyze,
        )
    };
    let param = |n: usize| match exprs.get_ptr(n) {
        Some(expr) if deparse_ready => {
            // SAFETY: expr is one of this plan's fdw_exprs, the context is EXPLAIN's own for
            // this node (see above); the result is a palloc'd C string.
            unsafe {
                let text = pg_sys::deparse_expression(expr, (*es).deparse_cxt, verbose, false);
                CStr::from_ptr(text).to_string_lossy().into_owned()
            }
        }
        _ => format!("${}", n + 1),
    };
    let run = state.last_run.as_ref();
    let ran = run.filter(|_| analyze).map(|r| r.asked.clone());
    for (label, value) in state
        .plan
        .describe(state.settings.scan.parallel_scan, &param, ran)
    {
        let label = std::ffi::CString::new(label).unwrap_or_default();
        match (label.as_c_str(), value) {
            (l, Shown::Integer(n)) => integer(l, n),
            (l, Shown::Text(text)) => property(l, text),
        }
    }
    if verbose {
        if let Some(connection) = &state.connection {
            property(
                c"Cognito Options",
                format!(
                    "{}, {}",
                    connection.client.limits,
                    state.settings.scan.describe()
                ),
            );
        }
    }
    if analyze {
        if let Some(run) = run {
            if state.runs > 1 {
                // Under a nested loop or Memoize each run sends its own filter; the counts
                // below cover every run.
                integer(
                    c"Cognito Distinct Filters Sent",
                    state.filters_sent.len() as i64,
                );
                property(c"Cognito Last Filters Sent", run.sent.clone());
            } else {
                property(c"Cognito Filters Sent", run.sent.clone());
            }
            integer(c"Cognito Requests", state.requests() as i64);
            let by_operation = state.requests_by_operation();
            // Shown when a scan sent more than one operation (ListGroups, then
            // ListUsersInGroup per group); otherwise "Cognito Requests" says it all.
            if by_operation.len() > 1 {
                let counts: Vec<String> = by_operation
                    .iter()
                    .map(|(operation, n)| format!("{operation} {n}"))
                    .collect();
                property(c"Cognito Requests By Operation", counts.join(", "));
            }
            integer(c"Cognito Pages", state.pages() as i64);
        }
    }
}
