//! Which columns a scan fills, and filling them from a record.
//!
//! A query converts only the columns it reads, as postgres_fdw's `retrieved_attrs` does: a
//! value one column cannot hold (a `boolean` column over text attributes) then fails only
//! the queries that read that column, and `count(*)` converts nothing.

use pgrx::pg_sys;

use crate::convert::Filler;
use crate::error::FdwError;
use crate::objects::Record;

/// Whether the query reads each column, by 0-based index: the columns the rel's target list
/// carries above the scan (for output, joins, sorts and aggregates) and those the scan's own
/// conditions use. None when a whole-row reference reads every column.
///
/// # Safety
/// `baserel` is the planner's base rel of this scan; `local_quals` a List of its bare
/// clauses (not RestrictInfos).
pub unsafe fn read_by_query(
    baserel: *mut pg_sys::RelOptInfo,
    local_quals: *mut pg_sys::List,
) -> Option<Vec<usize>> {
    // SAFETY: the caller passes the planner's live base rel of this scan.
    let relid = unsafe { (*baserel).relid };
    let mut attrs: *mut pg_sys::Bitmapset = std::ptr::null_mut();
    // SAFETY: both are planner expression trees of this rel, which pull_varattnos only
    // reads; the bitmapset is palloc'd in the planner's context.
    unsafe {
        pull_varattnos((*(*baserel).reltarget).exprs.cast(), relid, &mut attrs);
        pull_varattnos(local_quals.cast(), relid, &mut attrs);
    }
    // pull_varattnos offsets attribute numbers so that system columns fit a bitmapset.
    let offset = pg_sys::FirstLowInvalidHeapAttributeNumber;
    // SAFETY: plain reads of the bitmapset just built.
    if unsafe { pg_sys::bms_is_member(-offset, attrs) } {
        return None;
    }
    let mut read = Vec::new();
    let mut member = -1;
    loop {
        // SAFETY: as above.
        member = unsafe { pg_sys::bms_next_member(attrs, member) };
        if member < 0 {
            break;
        }
        // System columns (ctid and the like) are not ours to fill.
        let attno = member + offset;
        if attno > 0 {
            read.push(attno as usize - 1);
        }
    }
    Some(read)
}

/// # Safety
/// `node` is NULL or a valid expression tree (or List of them) of the current planning call.
unsafe fn pull_varattnos(
    node: *mut pg_sys::Node,
    relid: pg_sys::Index,
    attrs: &mut *mut pg_sys::Bitmapset,
) {
    // SAFETY: the caller's node is a planner expression tree (or NULL, which it skips).
    unsafe { pg_sys::pull_varattnos(node, relid, attrs) }
}

/// Fill a row's `values` and `nulls` from `record`: each filler's column gets its value, every
/// other column is NULL. A value its column cannot hold is an error naming the record and the
/// column.
///
/// # Safety
/// On the backend thread, inside a transaction; `tupdesc` is the row's live descriptor, with
/// as many attributes as `values` and `nulls` have entries; datums are palloc'd in the current
/// memory context.
pub unsafe fn fill(
    values: &mut [pg_sys::Datum],
    nulls: &mut [bool],
    fillers: &mut [Filler],
    record: &dyn Record,
    noun: &str,
    tupdesc: pg_sys::TupleDesc,
) {
    nulls.fill(true);
    for filler in fillers {
        let index = filler.plan.index;
        // SAFETY: the caller's contract: on the backend thread, inside a transaction.
        match unsafe { filler.datum(record.value(&filler.plan.field)) } {
            Ok(Some(datum)) => {
                values[index] = datum;
                nulls[index] = false;
            }
            Ok(None) => {}
            Err(unfit) => {
                // SAFETY: the caller's live descriptor; from_pg_unchecked borrows it without
                // freeing it.
                let tupdesc = unsafe { pgrx::PgTupleDesc::from_pg_unchecked(tupdesc) };
                let name = tupdesc.get(index).map_or("?", |a| a.name());
                FdwError::new(
                    unfit.code,
                    format!(
                        "value of {noun} \"{}\" does not fit column \"{name}\": {}",
                        record.identity().escape_debug(),
                        unfit.why
                    ),
                )
                .raise()
            }
        }
    }
}
