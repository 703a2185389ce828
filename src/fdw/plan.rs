//! Planning a scan. No network here: a plain EXPLAIN or a PREPARE never reaches Cognito.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgList;

use super::{catalog, quals};
use crate::error::{FdwResult, OrRaise};
use crate::objects::Field;
use crate::pushdown;
use crate::remote_plan::RemotePlan;

/// Cost of turning one fetched item into a row.
const ROW_COST: f64 = 0.1;

/// Cognito's text is UTF-8 and travels unconverted, both ways (values into rows, conditions
/// into filters): in a database of another encoding that would give wrong rows, so scans are
/// refused there.
fn require_utf8() -> FdwResult<()> {
    // SAFETY: both read the backend's database encoding, set at connection start.
    let (encoding, name) = unsafe {
        (
            pg_sys::GetDatabaseEncoding(),
            CStr::from_ptr(pg_sys::GetDatabaseEncodingName()).to_string_lossy(),
        )
    };
    if encoding == pg_sys::pg_enc::PG_UTF8 as i32 {
        return Ok(());
    }
    Err(crate::error::FdwError::new(
        pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("Cognito foreign tables need a UTF8 database; this one is {name}"),
    )
    .with_hint("Cognito's text is UTF-8: create the database with ENCODING 'UTF8'."))
}

/// What planning one scan of a table decides.
struct Planned {
    plan: RemotePlan,
    /// Parameter expressions the scan evaluates at run time.
    params: Vec<*mut pg_sys::Expr>,
    table: catalog::Table,
}

/// The plan for one scan of `relid` under `clauses`.
///
/// # Safety
/// `root` and `baserel` are the planner's live PlannerInfo and base rel of foreign table
/// `relid`; `clauses` is a List of RestrictInfo of that rel.
unsafe fn plan_for(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
    clauses: *mut pg_sys::List,
) -> FdwResult<Planned> {
    require_utf8()?;
    // Planning sends no request: no credentials are read.
    let table = catalog::table(relid, None)?;
    let object = catalog::table_object(&table.options)?;
    let columns = object.plan_columns(&catalog::table_columns(relid))?;
    let settings = &table.settings.scan;
    let mut plan = RemotePlan::new(object, columns, settings.pushdown);
    // SAFETY: `baserel` is the planner's live base rel and `clauses` a List of its
    // RestrictInfo, valid during planning (caller's contract), which is what `find` requires.
    let found = unsafe { quals::find(clauses, (*baserel).relid, &plan.columns) };
    if settings.pushdown {
        plan.candidates = pushdown::rank(object, &found.conditions);
    }
    // A LIMIT of a query on this table alone bounds what is read from it, unless the rows
    // are sorted first (PostgreSQL keeps limit_tuples for a bounded sort): then every row
    // must be read anyway, at full speed.
    // SAFETY: `root` is the planner's live PlannerInfo (caller's contract).
    let limit = unsafe { (*root).limit_tuples };
    // SAFETY: as above; all_baserels is its bitmapset of base rels, which bms_num_members
    // only reads.
    let alone = || unsafe {
        (*root).sort_pathkeys.is_null() && pg_sys::bms_num_members((*root).all_baserels) == 1
    };
    plan.limited = limit > 0.0 && alone();
    let every_condition_pushed = found.unrecognised == 0 && found.conditions.len() <= 1;
    if plan.limited && every_condition_pushed && plan.candidates.len() == found.conditions.len() {
        plan.page_size = (limit.ceil() as i32).clamp(1, object.max_page_size());
    }
    Ok(Planned {
        plan,
        params: found.params,
        table,
    })
}

/// Decide the remote plan and estimate rows; a column the wrapper cannot fill is an error
/// here, before any request.
///
/// # Safety
/// Called only by PostgreSQL's planner, as the FdwRoutine's GetForeignRelSize callback, with
/// its live PlannerInfo and the foreign table's base rel for the duration of the call.
#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_rel_size(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
) {
    // SAFETY: PostgreSQL passes its live PlannerInfo and the foreign table's base rel for the
    // duration of this callback; baserestrictinfo is that rel's List of RestrictInfo.
    let Planned { plan, table, .. } =
        unsafe { plan_for(root, baserel, foreigntableid, (*baserel).baserestrictinfo) }.or_raise();
    // What this backend last learnt of the table's size (the object says from what), else
    // what ANALYZE recorded, else the object's guess on the safe side. Planning never asks
    // Cognito: a plain EXPLAIN or PREPARE must not wait on the network, nor fail when it is
    // down.
    // SAFETY: `baserel` is the planner's live base rel, for the duration of this callback.
    let tuples = unsafe { (*baserel).tuples };
    let analyzed = (tuples >= 0.0).then_some(tuples);
    let pool = table
        .settings
        .use_remote_estimate
        .then(|| plan.object.known_rows(&table.pool_key()))
        .flatten()
        .map(|rows| rows as f64)
        .or(analyzed)
        .unwrap_or_else(|| plan.object.assumed_rows());
    // The relation's size, as postgres_fdw sets it for a table never analyzed: the paths'
    // costs below read it.
    // SAFETY: as above; the planner expects this callback to set the rel's size.
    unsafe { (*baserel).tuples = pool };
    let rows = match plan.candidates.first() {
        // A lookup by a unique key finds one record per value; others about as many as
        // their selectivity says.
        Some(best) if best.is_lookup() => {
            best.values.len() as f64 * best.selectivity.rows_per_value()
        }
        _ => {
            // SAFETY: the planner's own PlannerInfo and the rel's restriction clauses, valid
            // during this callback; varRelid 0 and a NULL SpecialJoinInfo are what a base rel's
            // restrictions take (as set_baserel_size_estimates passes them).
            let selectivity = unsafe {
                pg_sys::clauselist_selectivity(
                    root,
                    (*baserel).baserestrictinfo,
                    0,
                    pg_sys::JoinType::JOIN_INNER,
                    std::ptr::null_mut(),
                )
            };
            pool * selectivity
        }
    };
    // SAFETY: `baserel` is the planner's live base rel; fdw_private is ours to set, and the List
    // is palloc'd in the planner's memory context, which outlives the rel.
    unsafe {
        (*baserel).rows = rows.max(1.0);
        (*baserel).fdw_private = plan.to_fdw_private().cast();
    }
}

/// # Safety
/// Called only by PostgreSQL's planner, as the FdwRoutine's GetForeignPaths callback, with its
/// live PlannerInfo and the base rel get_foreign_rel_size filled, for the duration of the call.
#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _foreigntableid: pg_sys::Oid,
) {
    // SAFETY: PostgreSQL passes the live base rel for the duration of this callback; its
    // fdw_private was set by get_foreign_rel_size from `to_fdw_private`.
    let (plan, rows, tuples, lateral_relids) = unsafe {
        (
            RemotePlan::from_fdw_private((*baserel).fdw_private.cast()).or_raise(),
            (*baserel).rows,
            (*baserel).tuples,
            (*baserel).lateral_relids,
        )
    };
    // The fields the query reads, for an object whose records cost a request of their own
    // for some of them.
    // SAFETY: the live base rel; its restriction list is a List of RestrictInfo, whose bare
    // clauses extract_actual_clauses copies into a new List in the planner's context.
    let read = unsafe {
        let quals = pg_sys::extract_actual_clauses((*baserel).baserestrictinfo, false);
        super::columns::read_by_query(baserel, quals)
    };
    let fields: Vec<Field> = plan
        .columns
        .iter()
        .filter(|c| read.as_ref().is_none_or(|read| read.contains(&c.index)))
        .map(|c| c.field.clone())
        .collect();
    let per_record = plan.object.requests_per_record(&fields);
    let (requests, fetched) = listing_cost(&plan, tuples, rows, per_record);
    let request_cost = plan.object.request_cost();
    let startup = request_cost;
    let total = requests * request_cost + fetched * ROW_COST;
    // A table referenced laterally can only be scanned below the rels it refers to.
    // SAFETY: `root` and `baserel` are the planner's own, live during this callback; the path
    // is a new ForeignPath of this rel, which add_path takes over.
    unsafe {
        let path = foreignscan_path(root, baserel, rows, startup, total, lateral_relids);
        pg_sys::add_path(baserel, path.cast());
        add_lookup_join_paths(root, baserel, &plan);
    }
}

/// Requests and records fetched by an unparameterized scan of a table of `pool` records that
/// returns `rows` rows. A lookup costs one request per value; a pushed filter that is not a
/// lookup reads about its matches; with nothing pushed, every page is read (a request per
/// page size) and every record is checked locally. A listing whose records each need
/// `per_record` requests of their own (a Describe) costs those too; a lookup reads its
/// record whole.
fn listing_cost(plan: &RemotePlan, pool: f64, rows: f64, per_record: f64) -> (f64, f64) {
    let page = f64::from(plan.page_size);
    let pool = pool.max(1.0);
    match plan.candidates.first() {
        Some(best) if best.is_lookup() => {
            let per_value = (best.selectivity.rows_per_value() / page).ceil().max(1.0);
            (best.values.len() as f64 * per_value, rows)
        }
        Some(_) => ((rows / page).ceil().max(1.0) + rows * per_record, rows),
        None => ((pool / page).ceil().max(1.0) + pool * per_record, pool),
    }
}

/// Create a foreign scan path, the same way on every PostgreSQL version.
///
/// # Safety
/// `root` and `baserel` are the planner's live PlannerInfo and base rel; `required_outer` is
/// NULL or a bitmapset of rels of that query.
unsafe fn foreignscan_path(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    rows: f64,
    startup: f64,
    total: f64,
    required_outer: *mut pg_sys::Bitmapset,
) -> *mut pg_sys::ForeignPath {
    // SAFETY: the arguments are the planner's own (caller's contract); NIL lists mean "no
    // pathkeys, no outer path, no private data".
    #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16"))]
    let path = unsafe {
        pg_sys::create_foreignscan_path(
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
        )
    };
    // SAFETY: as above.
    #[cfg(any(feature = "pg17", feature = "pg18"))]
    let path = unsafe {
        pg_sys::create_foreignscan_path(
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
        )
    };
    path
}

/// Does this equivalence member stand for the column `arg` points to?
///
/// # Safety
/// Called only by generate_implied_equalities_for_column, as add_lookup_join_paths asks it
/// to, with a live EquivalenceMember and `arg` the Var built there.
unsafe extern "C-unwind" fn member_is_column(
    _root: *mut pg_sys::PlannerInfo,
    _rel: *mut pg_sys::RelOptInfo,
    _ec: *mut pg_sys::EquivalenceClass,
    em: *mut pg_sys::EquivalenceMember,
    arg: *mut std::ffi::c_void,
) -> bool {
    // SAFETY: generate_implied_equalities_for_column calls this with a live member of an
    // equivalence class, whose em_expr is a planner expression, and with `arg` the Var built in
    // add_lookup_join_paths, palloc'd in the planner's context. Each node read is non-null
    // and its tag checked before it is read as a RelabelType or a Var.
    unsafe {
        let (wanted, mut expr) = (
            arg.cast::<pg_sys::Var>(),
            (*em).em_expr.cast::<pg_sys::Node>(),
        );
        while !expr.is_null() && (*expr).type_ == pg_sys::NodeTag::T_RelabelType {
            expr = (*expr.cast::<pg_sys::RelabelType>()).arg.cast();
        }
        if expr.is_null() || (*expr).type_ != pg_sys::NodeTag::T_Var {
            return false;
        }
        let var = expr.cast::<pg_sys::Var>();
        (*var).varno == (*wanted).varno
            && (*var).varattno == (*wanted).varattno
            && (*var).varlevelsup == 0
    }
}

/// For a join such as `users.username = names.name`, a path that looks each outer row up
/// with one filtered request instead of listing everything: parameterized by the outer rel, as
/// postgres_fdw does. The planner takes it only where its cost says it is cheaper.
///
/// # Safety
/// `root` and `baserel` are the planner's live PlannerInfo and base rel, during
/// GetForeignPaths.
unsafe fn add_lookup_join_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    plan: &RemotePlan,
) {
    if !plan.pushdown {
        return;
    }
    // Join clauses the planner equates through equivalence classes (inner joins)...
    for column in &plan.columns {
        let probe = pushdown::Condition::Equals(column.field.clone(), pushdown::Operand::Param(0));
        let lookup = probe.candidate(plan.object).is_some_and(|c| c.is_lookup());
        if !lookup || column.ty != crate::convert::ColumnType::Text {
            continue;
        }
        // SAFETY: `root` and `baserel` are the planner's own, live during GetForeignPaths
        // (caller's contract); makeVar pallocs a Var of this rel in the planner's context,
        // which member_is_column reads as its `arg` while the call runs; the result is a List
        // of RestrictInfo, each one what `add_lookup_join_path` takes.
        unsafe {
            let var = pg_sys::makeVar(
                (*baserel).relid as _,
                (column.index + 1) as _,
                pg_sys::TEXTOID,
                -1,
                pg_sys::InvalidOid,
                0,
            );
            let clauses = pg_sys::generate_implied_equalities_for_column(
                root,
                baserel,
                Some(member_is_column),
                var.cast(),
                (*baserel).lateral_referencers,
            );
            for rinfo in PgList::<pg_sys::RestrictInfo>::from_pg(clauses).iter_ptr() {
                add_lookup_join_path(root, baserel, plan, rinfo);
            }
        }
    }
    // ...and the others, an outer join's among them (`groups left join group_members using
    // (group_name)`), where the clause may be checked at this scan, as postgres_fdw does.
    // SAFETY: joininfo is the live rel's List of RestrictInfo (join clauses), valid during
    // planning; each is what join_clause_is_movable_to and `add_lookup_join_path` take.
    unsafe {
        for rinfo in PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).joininfo).iter_ptr() {
            if pg_sys::join_clause_is_movable_to(rinfo, baserel) {
                add_lookup_join_path(root, baserel, plan, rinfo);
            }
        }
    }
}

/// A path that looks each outer row up through the join clause `rinfo`, when the scan can
/// send it as a lookup.
///
/// # Safety
/// `root` and `baserel` are the planner's live PlannerInfo and base rel, during
/// GetForeignPaths; `rinfo` a RestrictInfo of a clause of that rel.
unsafe fn add_lookup_join_path(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    plan: &RemotePlan,
    rinfo: *mut pg_sys::RestrictInfo,
) {
    // The planner may equate the column with any expression (`lower(n.name)`); offer the
    // lookup only where the scan can send the clause, else every outer row would list
    // everything.
    // SAFETY: lappend to NIL pallocs a new one-element List in the planner's context; it
    // holds the caller's RestrictInfo of this live rel, which is what `find` requires.
    let found = unsafe {
        let single = pg_sys::lappend(std::ptr::null_mut(), rinfo.cast());
        quals::find(single, (*baserel).relid, &plan.columns)
    };
    let Some(lookup) = pushdown::rank(plan.object, &found.conditions)
        .into_iter()
        .next()
        .filter(|c| c.is_lookup())
    else {
        return;
    };
    // SAFETY: the bitmapsets are the live RestrictInfo's and rel's, which bms_difference and
    // bms_union only read; the result is palloc'd in the planner's context.
    let outer = unsafe {
        pg_sys::bms_union(
            pg_sys::bms_difference((*rinfo).clause_relids, (*baserel).relids),
            (*baserel).lateral_relids,
        )
    };
    // bms_is_empty is a function up to PostgreSQL 15 and a macro (`a == NULL`) from 16, when
    // empty sets became always NULL; bms_num_members is a function on every version and
    // counts zero for both a NULL and an all-zero set.
    // SAFETY: `outer` is the bitmapset just built (or NULL), which bms_num_members only reads.
    if unsafe { pg_sys::bms_num_members(outer) } == 0 {
        return;
    }
    // Each outer row's value costs its own requests: a page per page size of its records.
    let rows = lookup.selectivity.rows_per_value();
    let requests = (rows / f64::from(plan.object.max_page_size()))
        .ceil()
        .max(1.0);
    // SAFETY: `root` and `baserel` are the planner's own, live during GetForeignPaths
    // (caller's contract), and `outer` a non-empty set of other rels of the query; the path is
    // a new ForeignPath of this rel, which add_path takes over.
    unsafe {
        // Also registers the clause as this path's parameterization.
        pg_sys::get_baserel_parampathinfo(root, baserel, outer);
        let path = foreignscan_path(
            root,
            baserel,
            rows,
            plan.object.request_cost(),
            requests * plan.object.request_cost() + rows * ROW_COST,
            outer,
        );
        pg_sys::add_path(baserel, path.cast());
    }
}

/// # Safety
/// Called only by PostgreSQL's planner, as the FdwRoutine's GetForeignPlan callback, with its
/// live PlannerInfo, base rel, target list and scan clauses for the duration of the call.
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
    // Planned again, with the join clauses of a parameterized path among the conditions, to
    // collect the parameter expressions in the order the plan names them. Outer columns among
    // them become executor parameters once PostgreSQL has placed the scan in its nested loop.
    // SAFETY: PostgreSQL passes its live PlannerInfo and the foreign table's base rel for the
    // duration of this callback; scan_clauses is a List of that rel's RestrictInfo.
    let Planned {
        mut plan, params, ..
    } = unsafe { plan_for(root, baserel, foreigntableid, scan_clauses) }.or_raise();
    let mut fdw_exprs = PgList::<pg_sys::Expr>::new();
    for param in params {
        fdw_exprs.push(param);
    }
    // Every condition, pushed or not, is also checked by PostgreSQL on the rows returned.
    // SAFETY: scan_clauses is the List of RestrictInfo PostgreSQL passes; the result is a new
    // List of their bare clauses, palloc'd in the planner's context, which is what
    // read_by_query takes with the live base rel.
    let local_quals = unsafe { pg_sys::extract_actual_clauses(scan_clauses, false) };
    // SAFETY: as above.
    if let Some(read) = unsafe { super::columns::read_by_query(baserel, local_quals) } {
        plan.columns.retain(|column| read.contains(&column.index));
    }
    // SAFETY: the target list, clauses and outer plan are PostgreSQL's own for this callback;
    // the two private Lists are palloc'd in the planner's context, as the plan node is.
    unsafe {
        pg_sys::make_foreignscan(
            tlist,
            local_quals,
            (*baserel).relid,
            fdw_exprs.into_pg(),
            plan.to_fdw_private(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            outer_plan,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::users::{UNKNOWN_POOL_USERS, USERS};
    use crate::objects::Field;
    use crate::pushdown::{Condition, Operand};

    fn plan(conditions: &[Condition]) -> RemotePlan {
        let mut plan = RemotePlan::new(USERS, Vec::new(), true);
        plan.candidates = pushdown::rank(USERS, conditions);
        plan
    }

    #[test]
    fn a_listing_costs_a_request_per_page_of_the_pool_and_a_lookup_one_per_value() {
        let c = |v: &str| Operand::Const(Some(v.into()));
        // Nothing pushed: the whole pool is read, whatever the local conditions keep.
        assert_eq!(listing_cost(&plan(&[]), 3000.0, 15.0, 0.0), (50.0, 3000.0));
        assert_eq!(
            listing_cost(&plan(&[]), 3001.0, 3001.0, 0.0),
            (51.0, 3001.0)
        );
        // a Describe per record listed (64 app clients: 2 pages and 64 Describes)
        assert_eq!(listing_cost(&plan(&[]), 64.0, 64.0, 1.0), (66.0, 64.0));
        // A lookup: one request per value.
        let lookup = plan(&[Condition::In(Field::Username, vec![c("a"), c("b")])]);
        assert_eq!(listing_cost(&lookup, 3000.0, 2.0, 0.0), (2.0, 2.0));
        // A prefix reads about its matches.
        let prefix = plan(&[Condition::Like(Field::Username, c("ab%"))]);
        assert_eq!(listing_cost(&prefix, 3000.0, 150.0, 0.0), (3.0, 150.0));
    }

    #[test]
    fn an_unknown_pool_is_costed_so_that_joins_of_many_rows_look_users_up() {
        // A nested loop of lookups costs one request per outer row; a listing of the unknown
        // pool must cost more than a join of a thousand rows doing that.
        let (requests, _) = listing_cost(&plan(&[]), UNKNOWN_POOL_USERS, UNKNOWN_POOL_USERS, 0.0);
        assert!(requests > 1000.0, "{requests}");
        let lookup = plan(&[Condition::Equals(Field::Username, Operand::Param(0))]);
        assert_eq!(listing_cost(&lookup, UNKNOWN_POOL_USERS, 1.0, 0.0).0, 1.0);
    }
}
