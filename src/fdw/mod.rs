//! The PostgreSQL side: every FDW callback, and nothing else.
//!
//! - `plan`: GetForeignRelSize, GetForeignPaths, GetForeignPlan (no network).
//! - `scan`: BeginForeignScan, IterateForeignScan, ReScanForeignScan, EndForeignScan,
//!   ExplainForeignScan.
//! - `modify`: INSERT, UPDATE and DELETE (PlanForeignModify to EndForeignModify).
//! - `settle`: the end of a write statement (rows in flight, the ROLLBACK warning).
//! - `import`: ImportForeignSchema.
//! - `analyze`: AnalyzeForeignTable (the pool's size into pg_class).
//! - `cell`: Rust state owned by the executor, freed exactly once.
//! - `catalog`: reading options, columns, user mappings and Vault secrets from the catalogs.
//! - `columns`: which columns a scan fills.

pub mod analyze;
pub mod catalog;
pub mod cell;
pub mod columns;
pub mod import;
pub mod modify;
pub mod plan;
pub mod quals;
pub mod scan;
pub mod settle;

use pgrx::callconv::{BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, Returns, ReturnsError, SqlMapping, SqlTranslatable,
};
use pgrx::PgBox;

/// The value `cognito_fdw_handler()` returns: a palloc'd `FdwRoutine` node.
pub struct FdwRoutine(*mut pg_sys::FdwRoutine);

impl FdwRoutine {
    pub fn new() -> FdwRoutine {
        // SAFETY: alloc_node pallocs a zeroed node of the right size and sets its tag; every
        // callback we do not set stays NULL, which PostgreSQL reads as "not supported".
        let mut routine =
            unsafe { PgBox::<pg_sys::FdwRoutine>::alloc_node(pg_sys::NodeTag::T_FdwRoutine) };
        routine.GetForeignRelSize = Some(plan::get_foreign_rel_size);
        routine.GetForeignPaths = Some(plan::get_foreign_paths);
        routine.GetForeignPlan = Some(plan::get_foreign_plan);
        routine.BeginForeignScan = Some(scan::begin_foreign_scan);
        routine.IterateForeignScan = Some(scan::iterate_foreign_scan);
        routine.ReScanForeignScan = Some(scan::rescan_foreign_scan);
        routine.EndForeignScan = Some(scan::end_foreign_scan);
        routine.ExplainForeignScan = Some(scan::explain_foreign_scan);
        routine.IsForeignRelUpdatable = Some(modify::is_foreign_rel_updatable);
        routine.AddForeignUpdateTargets = Some(modify::add_foreign_update_targets);
        routine.PlanForeignModify = Some(modify::plan_foreign_modify);
        routine.BeginForeignModify = Some(modify::begin_foreign_modify);
        routine.ExecForeignInsert = Some(modify::exec_foreign_insert);
        routine.ExecForeignBatchInsert = Some(modify::exec_foreign_batch_insert);
        routine.GetForeignModifyBatchSize = Some(modify::get_foreign_modify_batch_size);
        routine.ExecForeignUpdate = Some(modify::exec_foreign_update);
        routine.ExecForeignDelete = Some(modify::exec_foreign_delete);
        routine.EndForeignModify = Some(modify::end_foreign_modify);
        routine.ExplainForeignModify = Some(modify::explain_foreign_modify);
        routine.ImportForeignSchema = Some(import::import_foreign_schema);
        routine.AnalyzeForeignTable = Some(analyze::analyze_foreign_table);
        FdwRoutine(routine.into_pg())
    }
}

impl Default for FdwRoutine {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: the Datum returned is the FdwRoutine pointer, which is what an fdw_handler
// function returns to PostgreSQL.
unsafe impl BoxRet for FdwRoutine {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: `self.0` is the FdwRoutine node `new` palloc'd in the calling function's
        // memory context, so it outlives the call; the handler's return is a pointer Datum,
        // never SQL null.
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.0)) }
    }
}

// SAFETY: the SQL type named here is the one `box_into` produces: a pointer to an
// FdwRoutine node, which is what PostgreSQL expects of an `fdw_handler` function.
unsafe impl SqlTranslatable for FdwRoutine {
    fn argument_sql() -> Result<SqlMapping, ArgumentError> {
        Err(ArgumentError::NotValidAsArgument("fdw_handler"))
    }

    fn return_sql() -> Result<Returns, ReturnsError> {
        Ok(Returns::One(SqlMapping::literal("fdw_handler")))
    }
}
