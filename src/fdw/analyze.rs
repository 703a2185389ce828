//! ANALYZE on a foreign table records its size in pg_class.reltuples, where every backend's
//! planner finds it; the object says where the size comes from (for users, DescribeUserPool's
//! estimate of the pool's users). No rows are sampled:
//! per-column statistics would cost a full listing, and PostgreSQL's default selectivities
//! serve the conditions that stay local.

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::catalog;
use crate::cognito::client::client_for;
use crate::cognito::estimate;
use crate::cognito::runtime::wait;
use crate::error::OrRaise;

/// # Safety
/// Called only by ANALYZE, as the FdwRoutine's AnalyzeForeignTable callback, with the open
/// relation and out-parameters valid for the duration of the call.
#[pg_guard]
pub unsafe extern "C-unwind" fn analyze_foreign_table(
    relation: pg_sys::Relation,
    func: *mut pg_sys::AcquireSampleRowsFunc,
    totalpages: *mut pg_sys::BlockNumber,
) -> bool {
    // SAFETY: GetUserId reads the current role, set for the whole statement; `relation` is the
    // open relation ANALYZE passes for the duration of this callback.
    let (user, relid) = unsafe { (pg_sys::GetUserId(), (*relation).rd_id) };
    let table = catalog::table(relid, Some(user)).or_raise();
    let Some(settings) = &table.settings.server else {
        // Asked with a role, `table` resolves the server's settings or raises.
        return false;
    };
    let object = catalog::table_object(&table.options).or_raise();
    let client = client_for(
        (table.server_oid.to_u32(), user.to_u32()),
        settings,
        table.secret.as_deref(),
    )
    .or_raise()
    .for_pool(table.settings.user_pool_id.as_deref());
    let pool = table.pool_key();
    // A table whose size cannot be learnt (DescribeUserPool denied, say) is skipped with
    // PostgreSQL's own warning rather than failing a database-wide ANALYZE.
    if wait(object.refresh_rows(&pool, &client, estimate::Attempts::AsConfigured))
        .or_raise()
        .is_none()
    {
        return false;
    }
    // SAFETY: `func` and `totalpages` point to ANALYZE's locals, which it passes for us to
    // fill during this callback.
    unsafe {
        *func = Some(pool_size_as_sample);
        *totalpages = 1;
    }
    true
}

/// # Safety
/// Called only by ANALYZE, as the AcquireSampleRowsFunc analyze_foreign_table returned, with
/// the open relation and out-parameters valid for the duration of the call.
#[pg_guard]
unsafe extern "C-unwind" fn pool_size_as_sample(
    relation: pg_sys::Relation,
    _elevel: std::ffi::c_int,
    _rows: *mut pg_sys::HeapTuple,
    _targrows: std::ffi::c_int,
    totalrows: *mut f64,
    totaldeadrows: *mut f64,
) -> std::ffi::c_int {
    // SAFETY: `relation` is the open relation ANALYZE passes for the duration of this callback.
    let relid = unsafe { (*relation).rd_id };
    let table = catalog::table(relid, None).or_raise();
    let object = catalog::table_object(&table.options).or_raise();
    let pool = table.pool_key();
    let rows = object.known_rows(&pool).unwrap_or(0) as f64;
    // SAFETY: `totalrows` and `totaldeadrows` point to acquire_sample_rows' out-parameters,
    // valid for the duration of this callback.
    unsafe {
        *totalrows = rows;
        *totaldeadrows = 0.0;
    }
    0
}
