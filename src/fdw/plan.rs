//! Planning a scan. No network here: a plain EXPLAIN or a PREPARE never reaches Cognito.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::pg_sys::AsPgCStr;
use pgrx::prelude::*;
use pgrx::PgList;

use super::catalog;
use crate::error::{FdwResult, OrRaise};
use crate::remote_plan::RemotePlan;

/// Rows assumed for a pool until the planner learns better.
const DEFAULT_ROWS: f64 = 1000.0;
/// Cost of one request, in the planner's units (a sequential page read is 1.0).
const REQUEST_COST: f64 = 100.0;
/// Cost of turning one fetched item into a row.
const ROW_COST: f64 = 0.1;

fn plan_for(relid: pg_sys::Oid) -> FdwResult<RemotePlan> {
    let object = catalog::table_object(relid)?;
    let columns = object.plan_columns(&catalog::table_columns(relid))?;
    Ok(RemotePlan::new(object, columns))
}

/// Decide the remote plan once per relation; a column the wrapper cannot fill is an error
/// here, before any request.
#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_rel_size(
    _root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
) {
    let plan = plan_for(foreigntableid).or_raise();
    let mut private = PgList::<pg_sys::Node>::new();
    // SAFETY: makeString keeps the palloc'd C string, allocated in the planner's context like
    // the rest of baserel.
    private.push(pg_sys::makeString(plan.encode().as_pg_cstr()).cast());
    (*baserel).fdw_private = private.into_pg().cast();
    (*baserel).rows = DEFAULT_ROWS;
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _foreigntableid: pg_sys::Oid,
) {
    let rows = (*baserel).rows;
    let pages = (rows / f64::from(crate::remote_plan::MAX_PAGE_SIZE))
        .ceil()
        .max(1.0);
    let startup = REQUEST_COST;
    let total = pages * REQUEST_COST + rows * ROW_COST;
    // A table referenced laterally can only be scanned below the rels it refers to.
    let required_outer = (*baserel).lateral_relids;
    // SAFETY: the arguments are the planner's own; NIL lists mean "no pathkeys, no outer
    // path, no private data".
    #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16"))]
    let path = pg_sys::create_foreignscan_path(
        root,
        baserel,
        std::ptr::null_mut(),
        rows,
        startup,
        total,
        std::ptr::null_mut(),
        required_outer,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    #[cfg(any(feature = "pg17", feature = "pg18"))]
    let path = pg_sys::create_foreignscan_path(
        root,
        baserel,
        std::ptr::null_mut(),
        rows,
        #[cfg(feature = "pg18")]
        0,
        startup,
        total,
        std::ptr::null_mut(),
        required_outer,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    pg_sys::add_path(baserel, path.cast());
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_plan(
    _root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _foreigntableid: pg_sys::Oid,
    _best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // Every condition is checked by PostgreSQL on the rows the scan returns.
    let local_quals = pg_sys::extract_actual_clauses(scan_clauses, false);
    pg_sys::make_foreignscan(
        tlist,
        local_quals,
        (*baserel).relid,
        std::ptr::null_mut(),
        (*baserel).fdw_private.cast(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        outer_plan,
    )
}

/// The RemotePlan stored by `get_foreign_rel_size`, read back from a plan's fdw_private.
///
/// # Safety
/// `fdw_private` must be the list this module put into a ForeignScan.
pub unsafe fn decode(fdw_private: *mut pg_sys::List) -> FdwResult<RemotePlan> {
    let list = PgList::<pg_sys::Node>::from_pg(fdw_private);
    let text = match list.get_ptr(0) {
        // SAFETY: element 0 is the String node made in get_foreign_rel_size (or its copy).
        Some(node) => CStr::from_ptr((*node.cast::<pg_sys::String>()).sval)
            .to_string_lossy()
            .into_owned(),
        None => String::new(),
    };
    RemotePlan::decode(&text)
}
