//! Planning a scan. No network here: a plain EXPLAIN or a PREPARE never reaches Cognito.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::pg_sys::AsPgCStr;
use pgrx::prelude::*;
use pgrx::PgList;

use super::{catalog, quals};
use crate::cognito::estimate;
use crate::error::{FdwResult, OrRaise};
use crate::options::{use_remote_estimate, ScanSettings};
use crate::pushdown;
use crate::remote_plan::{RemotePlan, MAX_PAGE_SIZE};

/// Rows assumed for a pool until DescribeUserPool has told this backend better.
const DEFAULT_ROWS: f64 = 1000.0;
/// Cost of one request, in the planner's units (a sequential page read is 1.0).
const REQUEST_COST: f64 = 100.0;
/// Cost of turning one fetched item into a row.
const ROW_COST: f64 = 0.1;

/// The plan for one scan of `relid`, and the parameter expressions it evaluates at run time.
unsafe fn plan_for(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
) -> FdwResult<(RemotePlan, Vec<*mut pg_sys::Expr>)> {
    let (server, table_options) = catalog::foreign_table(relid);
    let object = catalog::table_object(&table_options)?;
    let columns = object.plan_columns(&catalog::table_columns(relid))?;
    let (_, server_options) = catalog::server(server);
    let settings = ScanSettings::resolve(&server_options, &table_options);
    let mut plan = RemotePlan::new(object, columns, settings);
    let found = quals::find((*baserel).baserestrictinfo, (*baserel).relid, &plan.columns);
    if settings.pushdown {
        plan.candidates = pushdown::rank(&found.conditions);
    }
    // A LIMIT of a query on this table alone bounds what is read from it.
    let limit = (*root).limit_tuples;
    plan.limited = limit > 0.0 && pg_sys::bms_num_members((*root).all_baserels) == 1;
    let every_condition_pushed = found.unrecognised == 0 && found.conditions.len() <= 1;
    if plan.limited && every_condition_pushed && plan.candidates.len() == found.conditions.len() {
        plan.page_size = (limit.ceil() as i32).clamp(1, MAX_PAGE_SIZE);
    }
    Ok((plan, found.params))
}

fn encode(plan: &RemotePlan) -> *mut pg_sys::List {
    let mut private = PgList::<pg_sys::Node>::new();
    // SAFETY: makeString keeps the palloc'd C string, allocated in the planner's context like
    // the rest of the plan.
    private.push(unsafe { pg_sys::makeString(plan.encode().as_pg_cstr()) }.cast());
    private.into_pg()
}

/// Decide the remote plan and estimate rows; a column the wrapper cannot fill is an error
/// here, before any request.
#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_rel_size(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
) {
    let (plan, _) = plan_for(root, baserel, foreigntableid).or_raise();
    let (server, _) = catalog::foreign_table(foreigntableid);
    let (_, server_options) = catalog::server(server);
    let pool = use_remote_estimate(&server_options)
        .then(|| estimate::known(server.to_u32()))
        .flatten()
        .map_or(DEFAULT_ROWS, |users| users as f64);
    let rows = match plan.candidates.first() {
        // A lookup by username, sub, email or phone number finds one user per value.
        Some(best) if best.rank <= 1 => best.values.len() as f64,
        _ => {
            let selectivity = pg_sys::clauselist_selectivity(
                root,
                (*baserel).baserestrictinfo,
                0,
                pg_sys::JoinType::JOIN_INNER,
                std::ptr::null_mut(),
            );
            pool * selectivity
        }
    };
    (*baserel).rows = rows.max(1.0);
    (*baserel).fdw_private = encode(&plan).cast();
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _foreigntableid: pg_sys::Oid,
) {
    let plan = decode((*baserel).fdw_private.cast()).or_raise();
    let rows = (*baserel).rows;
    let requests = match plan.candidates.first() {
        Some(best) if best.rank <= 1 => best.values.len() as f64,
        _ => (rows / f64::from(plan.page_size)).ceil().max(1.0),
    };
    let startup = REQUEST_COST;
    let total = requests * REQUEST_COST + rows * ROW_COST;
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
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    _best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // Planned again, to collect the parameter expressions in the order the plan names them.
    let (plan, params) = plan_for(root, baserel, foreigntableid).or_raise();
    let mut fdw_exprs = PgList::<pg_sys::Expr>::new();
    for param in params {
        fdw_exprs.push(param);
    }
    // Every condition, pushed or not, is also checked by PostgreSQL on the rows returned.
    let local_quals = pg_sys::extract_actual_clauses(scan_clauses, false);
    pg_sys::make_foreignscan(
        tlist,
        local_quals,
        (*baserel).relid,
        fdw_exprs.into_pg(),
        encode(&plan),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        outer_plan,
    )
}

/// The RemotePlan stored in a plan's (or a rel's) fdw_private.
///
/// # Safety
/// `fdw_private` must be a list this module made.
pub unsafe fn decode(fdw_private: *mut pg_sys::List) -> FdwResult<RemotePlan> {
    let list = PgList::<pg_sys::Node>::from_pg(fdw_private);
    let text = match list.get_ptr(0) {
        // SAFETY: element 0 is the String node made by `encode` (or its copy).
        Some(node) => CStr::from_ptr((*node.cast::<pg_sys::String>()).sval)
            .to_string_lossy()
            .into_owned(),
        None => String::new(),
    };
    RemotePlan::decode(&text)
}
