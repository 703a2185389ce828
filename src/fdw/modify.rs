//! INSERT, UPDATE and DELETE: the FDW callbacks of a write.
//!
//! Planning refuses what cannot be written before anything runs: a table whose options do not
//! allow writes, an object that is only read, a column Cognito keeps itself. UPDATE and
//! DELETE name each row to Cognito by the object's key columns, fetched as row identity
//! columns (`cognito_key_0`, ...); UPDATE also gets the old row (PostgreSQL fetches it whole
//! for a foreign table) and sends only what changed. Each row's changes are sent when the row
//! is processed: Cognito has no transactions, so a ROLLBACK cannot undo them, and a
//! transaction that made changes and then rolls back says so in a WARNING. An INSERT sends up
//! to `batch_size` rows' requests at once (ExecForeignBatchInsert), paced by the write quotas.

use std::ffi::{c_int, CString};

use futures_util::stream::{FuturesUnordered, StreamExt};
use pgrx::pg_sys;
use pgrx::pg_sys::AsPgCStr;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode::*;
use serde::{Deserialize, Serialize};

use super::catalog;
use super::cell::StateCell;
use super::columns::fill;
use super::settle::{self, count_changes, Done, InFlight};
use crate::cognito::client::client_for;
use crate::cognito::listing;
use crate::cognito::quota::Pace;
use crate::cognito::runtime::wait;
use crate::cognito::writes::{make, Change, Outcome};
use crate::cognito::CognitoClient;
use crate::convert::{value_of, Filler};
use crate::error::{FdwError, FdwResult, OrRaise};
use crate::objects::write::{Cell, Command, Row, WriteOptions, Writer};
use crate::objects::{ColumnPlan, Field, Object};
use crate::options::{WriteSettings, WritesOff};
use crate::remote_plan::{text_of_fdw_private, text_to_fdw_private};

/// What PlanForeignModify decided, carried in the plan as `fdw_private`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ModifyPlan {
    command: Command,
    object: Object,
    /// Every column of the table, in attribute order.
    columns: Vec<ColumnPlan>,
    /// The statement has RETURNING: each row is read back from Cognito after its changes.
    returning: bool,
    /// INSERT ... ON CONFLICT DO NOTHING: a user or group that exists already is no row.
    skip_existing: bool,
}

impl ModifyPlan {
    fn to_fdw_private(&self) -> *mut pg_sys::List {
        // Serialising plain enums, strings and integers cannot fail.
        text_to_fdw_private(&serde_json::to_string(self).unwrap_or_default())
    }

    /// # Safety
    /// `fdw_private` is a list `to_fdw_private` made (or its copy).
    unsafe fn from_fdw_private(fdw_private: *mut pg_sys::List) -> FdwResult<ModifyPlan> {
        // SAFETY: the caller's contract is `text_of_fdw_private`'s.
        let text = unsafe { text_of_fdw_private(fdw_private) };
        serde_json::from_str(&text).map_err(|e| {
            FdwError::new(
                ERRCODE_FDW_ERROR,
                format!("the plan of this foreign write is unreadable ({e}); plan it again"),
            )
        })
    }
}

/// The column that reads a key field, as IMPORT FOREIGN SCHEMA declares it.
fn key_column(field: &Field) -> (&'static str, &'static str) {
    match field {
        Field::GroupName => ("group_name", "group_name text"),
        _ => ("username", "username text"),
    }
}

/// The name of the row identity column that carries the object's `i`th key field.
fn key_name(i: usize) -> String {
    format!("cognito_key_{i}")
}

/// A foreign table as a write sees it, read from the catalogs.
struct Target {
    name: String,
    server_name: String,
    object: Object,
    columns: Vec<ColumnPlan>,
    settings: WriteSettings,
}

fn target(relid: pg_sys::Oid) -> FdwResult<Target> {
    let (server_oid, options) = catalog::foreign_table(relid);
    let (server_name, server_options) = catalog::server(server_oid);
    let object = catalog::table_object(&options)?;
    let columns = object.plan_columns(&catalog::table_columns(relid))?;
    Ok(Target {
        name: catalog::relation_name(relid),
        server_name,
        object,
        columns,
        settings: WriteSettings::resolve(&server_options, &options),
    })
}

impl Target {
    /// The object's writer, when the table may run `command`; otherwise PostgreSQL's error
    /// for a foreign table that does not allow it, saying which option or rule forbids it.
    fn writer(&self, command: Command) -> FdwResult<&'static dyn Writer> {
        let refused = |detail: String, hint: Option<String>| {
            let error = FdwError::new(
                ERRCODE_WRONG_OBJECT_TYPE,
                format!(
                    "foreign table \"{}\" does not allow {}",
                    self.name,
                    command.plural()
                ),
            )
            .with_detail(detail);
            match hint {
                Some(hint) => error.with_hint(hint),
                None => error,
            }
        };
        let object: &'static dyn crate::objects::CognitoObject = self.object.inner();
        let Some(writer) = object.writer() else {
            return Err(refused(
                format!(
                    "Cognito {} are read through this wrapper, not written.",
                    object.name().replace('_', " ")
                ),
                None,
            ));
        };
        if !writer.commands().contains(&command) {
            return Err(refused(
                format!(
                    "A {} table takes {}.",
                    object.name(),
                    writer
                        .commands()
                        .iter()
                        .map(|c| format!("{c:?}").to_uppercase())
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                None,
            ));
        }
        let server = &self.server_name;
        match self.settings.allowed {
            Ok(()) => Ok(writer),
            Err(WritesOff::NotSet) => Err(refused(
                format!(
                    "Writes change Cognito, and neither the table nor server \"{server}\" has \
                     option updatable 'true'."
                ),
                Some(format!(
                    "The server's owner may allow writes: ALTER SERVER {server} OPTIONS (ADD \
                     updatable 'true')."
                )),
            )),
            Err(WritesOff::ByTable) => Err(refused(
                "The table's option updatable is 'false'.".to_owned(),
                Some(format!(
                    "ALTER FOREIGN TABLE {} OPTIONS (SET updatable 'true').",
                    self.name
                )),
            )),
            Err(WritesOff::ByServer) => Err(refused(
                format!(
                    "The table's option updatable is 'true', but server \"{server}\" does not \
                     allow writes: only the server's owner may let its credentials write."
                ),
                Some(format!(
                    "The server's owner may allow writes: ALTER SERVER {server} OPTIONS (ADD \
                     updatable 'true')."
                )),
            )),
        }
    }
}

fn command_of(operation: pg_sys::CmdType::Type) -> FdwResult<Command> {
    match operation {
        pg_sys::CmdType::CMD_INSERT => Ok(Command::Insert),
        pg_sys::CmdType::CMD_UPDATE => Ok(Command::Update),
        pg_sys::CmdType::CMD_DELETE => Ok(Command::Delete),
        _ => Err(FdwError::new(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            "only INSERT, UPDATE and DELETE can write to a Cognito foreign table",
        )),
    }
}

/// # Safety
/// Called only by PostgreSQL as the FdwRoutine's IsForeignRelUpdatable callback, with an open
/// relation of a foreign table of this wrapper.
#[pg_guard]
pub unsafe extern "C-unwind" fn is_foreign_rel_updatable(rel: pg_sys::Relation) -> c_int {
    // SAFETY: PostgreSQL passes an open relation for the duration of the call.
    let relid = unsafe { (*rel).rd_id };
    // What the table would refuse anyway counts as not updatable: information_schema and
    // pg_relation_is_updatable tell the truth, and never fail for a table they list.
    let Ok(target) = target(relid) else {
        return 0;
    };
    [Command::Insert, Command::Update, Command::Delete]
        .into_iter()
        .filter(|command| target.writer(*command).is_ok())
        .map(|command| {
            let operation = match command {
                Command::Insert => pg_sys::CmdType::CMD_INSERT,
                Command::Update => pg_sys::CmdType::CMD_UPDATE,
                Command::Delete => pg_sys::CmdType::CMD_DELETE,
            };
            1 << operation
        })
        .sum()
}

/// # Safety
/// Called only by PostgreSQL's planner as the FdwRoutine's AddForeignUpdateTargets callback,
/// for an UPDATE or DELETE of a foreign table of this wrapper.
#[pg_guard]
pub unsafe extern "C-unwind" fn add_foreign_update_targets(
    root: *mut pg_sys::PlannerInfo,
    rtindex: pg_sys::Index,
    target_rte: *mut pg_sys::RangeTblEntry,
    target_relation: pg_sys::Relation,
) {
    // SAFETY: PostgreSQL passes the live planner state, the target's range table entry and
    // its open relation for the duration of the call.
    let (relid, operation, returning, tupdesc) = unsafe {
        (
            (*target_relation).rd_id,
            (*(*root).parse).commandType,
            !(*(*root).parse).returningList.is_null(),
            (*target_relation).rd_att,
        )
    };
    let target = target(relid).or_raise();
    let command = command_of(operation).or_raise();
    // Refused here already, so that the planner does not go on to fetch what is never used.
    let writer = target.writer(command).or_raise();
    for (i, field) in writer.key().iter().enumerate() {
        let Some(column) = target.columns.iter().find(|c| &c.field == field) else {
            let record = target.object.record_noun();
            let (name, declared) = key_column(field);
            FdwError::new(
                ERRCODE_FEATURE_NOT_SUPPORTED,
                format!(
                    "foreign table \"{}\" cannot {} Cognito {record}s: it has no column \
                     \"{name}\", which names a {record} to Cognito",
                    target.name,
                    match command {
                        Command::Delete => "delete",
                        _ => "update",
                    }
                ),
            )
            .with_hint(format!(
                "ALTER FOREIGN TABLE {} ADD COLUMN {declared}.",
                target.name
            ))
            .raise()
        };
        // SAFETY: the relation's live descriptor, borrowed (not freed) for this call.
        let tupdesc = unsafe { pgrx::PgTupleDesc::from_pg_unchecked(tupdesc) };
        let Some(attr) = tupdesc.get(column.index) else {
            continue;
        };
        // SAFETY: makeVar and add_row_identity_var allocate in the planner's context; the
        // name is a palloc'd copy.
        unsafe {
            let var = pg_sys::makeVar(
                rtindex as c_int,
                (column.index + 1) as pg_sys::AttrNumber,
                attr.atttypid,
                attr.atttypmod,
                attr.attcollation,
                0,
            );
            pg_sys::add_row_identity_var(root, var, rtindex, key_name(i).as_pg_cstr());
        }
    }
    // DELETE ... RETURNING returns the row as the scan read it: the whole row comes along.
    // (UPDATE always has it: PostgreSQL fetches the old row of a foreign table whole.)
    if command == Command::Delete && returning {
        // SAFETY: as above; makeWholeRowVar reads the range table entry PostgreSQL passed.
        unsafe {
            let var = pg_sys::makeWholeRowVar(target_rte, rtindex as c_int, 0, false);
            pg_sys::add_row_identity_var(root, var, rtindex, c"wholerow".as_ptr());
        }
    }
}

/// The columns a statement gives values to: INSERT's listed columns, UPDATE's SET columns.
///
/// # Safety
/// `rte` is the statement's live range table entry of the target, in `root`'s query.
unsafe fn columns_written(
    root: *mut pg_sys::PlannerInfo,
    rte: *mut pg_sys::RangeTblEntry,
    command: Command,
) -> Vec<usize> {
    // SAFETY: the caller's live entry; PostgreSQL 16 moved the column sets into the query's
    // permission infos, which getRTEPermissionInfo finds for it.
    #[cfg(any(feature = "pg16", feature = "pg17", feature = "pg18"))]
    let (inserted, updated) = unsafe {
        let info = pg_sys::getRTEPermissionInfo((*(*root).parse).rteperminfos, rte);
        ((*info).insertedCols, (*info).updatedCols)
    };
    // SAFETY: the caller's live entry holds the column sets itself before PostgreSQL 16.
    #[cfg(not(any(feature = "pg16", feature = "pg17", feature = "pg18")))]
    let (inserted, updated) = {
        let _ = root;
        unsafe { ((*rte).insertedCols, (*rte).updatedCols) }
    };
    let set = match command {
        Command::Insert => inserted,
        Command::Update => updated,
        Command::Delete => return Vec::new(),
    };
    let offset = pg_sys::FirstLowInvalidHeapAttributeNumber;
    let mut columns = Vec::new();
    let mut member = -1;
    loop {
        // SAFETY: a plain read of the planner's bitmapset.
        member = unsafe { pg_sys::bms_next_member(set, member) };
        if member < 0 {
            break;
        }
        let attno = member + offset;
        if attno > 0 {
            columns.push(attno as usize - 1);
        }
    }
    columns
}

/// # Safety
/// Called only by PostgreSQL's planner as the FdwRoutine's PlanForeignModify callback.
#[pg_guard]
pub unsafe extern "C-unwind" fn plan_foreign_modify(
    root: *mut pg_sys::PlannerInfo,
    plan: *mut pg_sys::ModifyTable,
    result_relation: pg_sys::Index,
    subplan_index: c_int,
) -> *mut pg_sys::List {
    // SAFETY: PostgreSQL passes the live planner state and ModifyTable node; the result
    // relation is an index into the planner's range table array, and returningLists is NIL
    // or has one entry per result relation.
    let (rte, operation, returning, on_conflict) = unsafe {
        let rte = *(*root).simple_rte_array.add(result_relation as usize);
        let lists = pgrx::PgList::<pg_sys::List>::from_pg((*plan).returningLists);
        let returning = lists
            .get_ptr(subplan_index as usize)
            .is_some_and(|list| !list.is_null());
        (rte, (*plan).operation, returning, (*plan).onConflictAction)
    };
    let command = command_of(operation).or_raise();
    // DO NOTHING has a meaning Cognito can give (the name exists already: no row); DO UPDATE
    // would need the existing record read and compared, which no single request does.
    if on_conflict == pg_sys::OnConflictAction::ONCONFLICT_UPDATE {
        FdwError::new(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            "ON CONFLICT DO UPDATE is not supported by Cognito foreign tables",
        )
        .with_hint("Use ON CONFLICT DO NOTHING, then UPDATE the rows that exist.")
        .raise()
    }
    // SAFETY: the live range table entry of the result relation.
    let relid = unsafe { (*rte).relid };
    let target = target(relid).or_raise();
    let writer = target.writer(command).or_raise();
    // SAFETY: `rte` is the target's entry in `root`'s query.
    for index in unsafe { columns_written(root, rte, command) } {
        let Some(column) = target.columns.iter().find(|c| c.index == index) else {
            continue;
        };
        if let Some(why) = writer.refuses(&column.field, command) {
            FdwError::new(
                ERRCODE_FEATURE_NOT_SUPPORTED,
                format!(
                    "cannot {} column \"{}\" of foreign table \"{}\"",
                    match command {
                        Command::Insert => "insert into",
                        _ => "update",
                    },
                    catalog::column_name(relid, index),
                    target.name
                ),
            )
            .with_detail(why)
            .raise()
        }
    }
    ModifyPlan {
        command,
        object: target.object,
        columns: target.columns,
        returning,
        skip_existing: on_conflict == pg_sys::OnConflictAction::ONCONFLICT_NOTHING,
    }
    .to_fdw_private()
}

/// One table's write, from BeginForeignModify to EndForeignModify.
struct ModifyState {
    plan: ModifyPlan,
    client: CognitoClient,
    pace: Pace,
    options: WriteOptions,
    batch_size: u32,
    /// The row identity columns carrying the key fields, in the subplan's output.
    keys: Vec<pg_sys::AttrNumber>,
    /// DELETE ... RETURNING: the whole row, in the subplan's output.
    wholerow: pg_sys::AttrNumber,
    /// RETURNING: one per column, filling the row read back.
    fillers: Vec<Filler>,
    /// Rows whose changes were all made, for the message of a statement that fails.
    rows_written: u64,
    /// Requests that changed Cognito, and read-backs for RETURNING, per operation.
    requests: Vec<(&'static str, u64)>,
    /// UPDATE and DELETE without RETURNING or row triggers: rows whose requests are in
    /// flight together (see `settle`); None sends each row's before taking the next.
    in_flight: Option<InFlight>,
    /// The first failure of a row in flight, raised once every row in flight has settled.
    failed: Option<FdwError>,
    /// The executor's state: a row in flight that turns out gone is taken off its count.
    estate: *mut pg_sys::EState,
    /// Whether the statement's row count is this write's (not a WITH query's).
    can_set_tag: bool,
    /// The ModifyTable node, whose EXPLAIN ANALYZE counts conflicting rows.
    mtstate: *mut pg_sys::ModifyTableState,
    /// Registered with `settle` while rows may be in flight.
    registration: Option<u64>,
}

impl Drop for ModifyState {
    fn drop(&mut self) {
        if let Some(id) = self.registration.take() {
            settle::unregister(id);
        }
    }
}

impl ModifyState {
    fn writer(&self) -> &'static dyn Writer {
        match self.plan.object.inner().writer() {
            Some(writer) => writer,
            // A plan is only made for an object with a writer.
            None => FdwError::new(
                ERRCODE_INTERNAL_ERROR,
                "write planned for a read-only object",
            )
            .raise(),
        }
    }

    /// Raise `error`, saying how many rows were written before it: they stay written. Rows
    /// in flight settle first, so that the count is exact.
    fn fail(&mut self, error: FdwError) -> ! {
        self.settle_in_flight();
        let rows = self.rows_written;
        if rows == 0 {
            error.raise()
        }
        let s = if rows == 1 { "" } else { "s" };
        let said = format!(
            "{rows} row{s} of this statement were written to Cognito before this error, and \
             stay written."
        );
        let detail = match &error.detail {
            Some(detail) => format!("{detail}\n{said}"),
            None => said,
        };
        error.with_detail(detail).raise()
    }

    /// Count the changes made, for EXPLAIN ANALYZE and the ROLLBACK warning.
    fn count(&mut self, made: &[&'static str]) {
        for operation in made {
            listing::count(&mut self.requests, operation, 1);
        }
        count_changes(made.len() as u64);
    }

    /// Wait for every row in flight and take their answers into account (a failure among
    /// them is kept in `failed`). Waiting may itself fail (a cancel): the rows left in flight
    /// are then dropped with the state.
    fn settle_in_flight(&mut self) {
        let Some(mut in_flight) = self.in_flight.take() else {
            return;
        };
        let finished = wait(in_flight.finish(0));
        self.in_flight = Some(in_flight);
        match finished {
            Ok(finished) => finished.into_iter().for_each(|done| self.settle(done)),
            Err(error) => {
                self.failed.get_or_insert(error);
            }
        }
    }

    /// Take the answer of a row in flight into account.
    fn settle(&mut self, done: Done) {
        self.count(&done.made);
        match done.outcome {
            Ok(Outcome::Made) => self.rows_written += 1,
            Ok(Outcome::Missing) => {
                // The row was returned to the executor, which counted it; it is no row.
                if self.can_set_tag {
                    // SAFETY: the executor's live state of this write's statement; the count
                    // is read only after ExecutorRun, which settles every row before it ends.
                    unsafe { (*self.estate).es_processed -= 1 };
                }
            }
            Err(error) => {
                self.failed.get_or_insert(error);
            }
        }
    }

    /// Send a row's changes: in flight with others when the write keeps rows in flight,
    /// else at once. False when its record turned out gone: the row is no row.
    fn write_row(&mut self, key: &Row, changes: Vec<Change>) -> bool {
        let Some(mut in_flight) = self.in_flight.take() else {
            let made = self.make_all(&changes) == Outcome::Made;
            self.rows_written += u64::from(made);
            return made;
        };
        let name = row_key(key);
        let (client, pace, key) = (self.client.clone(), self.pace.clone(), name.clone());
        let row = Box::pin(async move {
            let (made, outcome) = make_each(&client, &pace, &changes).await;
            Done { key, made, outcome }
        });
        let finished = wait(in_flight.make_room(&name));
        in_flight.push(name, row);
        self.in_flight = Some(in_flight);
        match finished {
            Ok(finished) => finished.into_iter().for_each(|done| self.settle(done)),
            Err(error) => self.fail(error),
        }
        self.raise_failure();
        true
    }

    /// Wait for every row in flight, then raise the first failure among them, if any.
    fn settle_all(&mut self) {
        self.settle_in_flight();
        self.raise_failure();
    }

    /// A row in flight failed: let the others settle, so that the count of rows written is
    /// exact, then raise it.
    fn raise_failure(&mut self) {
        if self.failed.is_none() {
            return;
        }
        self.settle_in_flight();
        if let Some(error) = self.failed.take() {
            self.fail(error)
        }
    }

    /// Make a row's changes in order; stop at the first that finds its record gone.
    fn make_all(&mut self, changes: &[Change]) -> Outcome {
        let (made, outcome) = match wait(make_each(&self.client, &self.pace, changes)) {
            Ok(result) => result,
            Err(error) => self.fail(error),
        };
        self.count(&made);
        match outcome {
            Ok(outcome) => outcome,
            Err(error) if self.skips(&error) => Outcome::Missing,
            Err(error) => self.fail(error),
        }
    }

    /// Whether `error` is an INSERT's conflict that ON CONFLICT DO NOTHING makes no row;
    /// EXPLAIN ANALYZE then counts it among the conflicting tuples, as for a local table.
    fn skips(&self, error: &FdwError) -> bool {
        let skips = self.plan.skip_existing && error.code == ERRCODE_UNIQUE_VIOLATION;
        // SAFETY: the live ModifyTableState of this write; its instrumentation is NULL
        // unless EXPLAIN ANALYZE asked for it.
        unsafe {
            let instrument = (*self.mtstate).ps.instrument;
            if skips && !instrument.is_null() {
                (*instrument).ntuples2 += 1.0;
            }
        }
        skips
    }

    /// Read the record `key` names back from Cognito into `slot`, for RETURNING.
    ///
    /// # Safety
    /// `slot` is the executor's live slot of the target relation's row type.
    unsafe fn return_record(&mut self, key: &Row, slot: *mut pg_sys::TupleTableSlot) {
        let writer = self.writer();
        listing::count(&mut self.requests, writer.read_back_operation(), 1);
        let record = wait(writer.read_back(&self.client, &self.pace, key))
            .and_then(|r| r)
            .unwrap_or_else(|e| self.fail(e));
        let Some(record) = record else {
            self.fail(FdwError::new(
                ERRCODE_FDW_ERROR,
                format!(
                    "the {} just written is gone from Cognito: RETURNING has nothing to return",
                    self.plan.object.record_noun()
                ),
            ))
        };
        // SAFETY: the caller's live slot; its descriptor has natts attributes, and the values
        // and nulls built here have as many. heap_form_tuple copies them into one palloc'd
        // tuple that the slot then owns.
        unsafe {
            let tupdesc = (*slot).tts_tupleDescriptor;
            let natts = (*tupdesc).natts as usize;
            let mut values = vec![pg_sys::Datum::from(0usize); natts];
            let mut nulls = vec![true; natts];
            fill(
                &mut values,
                &mut nulls,
                &mut self.fillers,
                record.as_ref(),
                self.plan.object.record_noun(),
                tupdesc,
            );
            let tuple = pg_sys::heap_form_tuple(tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
            pg_sys::ExecForceStoreHeapTuple(tuple, slot, true);
        }
    }
}

/// What names a row's record, for telling rows in flight apart.
fn row_key(key: &Row) -> String {
    let parts: Vec<String> = key
        .0
        .iter()
        .map(|c| crate::objects::write::text_of(&c.value).unwrap_or_default())
        .collect();
    parts.join("\u{0}")
}

/// Make `changes` in order: the operations made, and the outcome (Missing at the first that
/// finds its record gone).
async fn make_each(
    client: &CognitoClient,
    pace: &Pace,
    changes: &[Change],
) -> (Vec<&'static str>, FdwResult<Outcome>) {
    let mut made = Vec::new();
    for change in changes {
        match make(client, pace, change).await {
            Ok(Outcome::Made) => made.push(change.operation()),
            other => return (made, other),
        }
    }
    (made, Ok(Outcome::Made))
}

/// The values of `columns` in `slot`, as a row to write.
///
/// # Safety
/// `slot` is a live slot of the target relation's row type, holding a row.
unsafe fn read_row(slot: *mut pg_sys::TupleTableSlot, columns: &[ColumnPlan]) -> FdwResult<Row> {
    // SAFETY: the caller's live slot; slot_getsomeattrs_int deforms up to natts, after which
    // tts_values and tts_isnull hold natts valid entries.
    let (values, nulls, tupdesc) = unsafe {
        let tupdesc = (*slot).tts_tupleDescriptor;
        let natts = (*tupdesc).natts;
        if ((*slot).tts_nvalid as c_int) < natts {
            pg_sys::slot_getsomeattrs_int(slot, natts);
        }
        (
            std::slice::from_raw_parts((*slot).tts_values, natts as usize),
            std::slice::from_raw_parts((*slot).tts_isnull, natts as usize),
            pgrx::PgTupleDesc::from_pg_unchecked(tupdesc),
        )
    };
    let mut cells = Vec::with_capacity(columns.len());
    for column in columns {
        let name = tupdesc
            .get(column.index)
            .map_or_else(String::new, |a| a.name().to_owned());
        // SAFETY: the slot's value of this column, of the type the column was planned with.
        let value = unsafe { value_of(values[column.index], nulls[column.index], column.ty) }
            .map_err(|unfit| {
                FdwError::new(
                    unfit.code,
                    format!(
                        "value of column \"{name}\" cannot be written: {}",
                        unfit.why
                    ),
                )
            })?;
        cells.push(Cell {
            field: column.field.clone(),
            column: name,
            value,
        });
    }
    Ok(Row(cells))
}

/// The value and null flag of attribute `attno` (1-based) of `slot`, deformed as far as it.
///
/// # Safety
/// `slot` is a live slot holding a row with at least `attno` attributes.
unsafe fn attribute(
    slot: *mut pg_sys::TupleTableSlot,
    attno: pg_sys::AttrNumber,
) -> (pg_sys::Datum, bool) {
    let attno = c_int::from(attno);
    // SAFETY: the caller's live slot; slot_getsomeattrs_int deforms up to `attno`, after
    // which its first `attno` values and null flags are valid.
    unsafe {
        if c_int::from((*slot).tts_nvalid) < attno {
            pg_sys::slot_getsomeattrs_int(slot, attno);
        }
        let i = attno as usize - 1;
        (*(*slot).tts_values.add(i), *(*slot).tts_isnull.add(i))
    }
}

/// The key of the row in `plan_slot`: the object's key fields, from the row identity columns.
///
/// # Safety
/// `plan_slot` is the subplan's live output slot of the current row.
unsafe fn read_key(state: &ModifyState, plan_slot: *mut pg_sys::TupleTableSlot) -> FdwResult<Row> {
    let writer = state.writer();
    let mut cells = Vec::new();
    for (field, attno) in writer.key().iter().zip(&state.keys) {
        let Some(column) = state.plan.columns.iter().find(|c| &c.field == field) else {
            continue;
        };
        // SAFETY: `attno` is a column of the subplan's output (found by name at Begin), of the
        // type the key column was planned with.
        let value = unsafe {
            let (datum, is_null) = attribute(plan_slot, *attno);
            value_of(datum, is_null, column.ty)
        }
        .map_err(|unfit| FdwError::new(unfit.code, unfit.why))?;
        cells.push(Cell {
            field: field.clone(),
            column: format!("{field:?}"),
            value,
        });
    }
    Ok(Row(cells))
}

/// The role whose user mapping applies to the write.
///
/// # Safety
/// `rinfo` and `estate` are the executor's live result relation and state.
unsafe fn check_as_user(
    rinfo: *mut pg_sys::ResultRelInfo,
    estate: *mut pg_sys::EState,
) -> pg_sys::Oid {
    // SAFETY: live executor structures (caller's contract).
    #[cfg(any(feature = "pg16", feature = "pg17", feature = "pg18"))]
    let user = unsafe { pg_sys::ExecGetResultRelCheckAsUser(rinfo, estate) };
    // SAFETY: live executor structures; ri_RangeTableIndex (1-based) names the result
    // relation's entry in the EState's range table.
    #[cfg(not(any(feature = "pg16", feature = "pg17", feature = "pg18")))]
    let user = unsafe {
        let rtes = pgrx::PgList::<pg_sys::RangeTblEntry>::from_pg((*estate).es_range_table);
        rtes.get_ptr((*rinfo).ri_RangeTableIndex as usize - 1)
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
/// Called only by PostgreSQL's executor as the FdwRoutine's BeginForeignModify callback.
#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_modify(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
    fdw_private: *mut pg_sys::List,
    _subplan_index: c_int,
    eflags: c_int,
) {
    // Under EXPLAIN without ANALYZE nothing is written, and no credentials are read.
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        return;
    }
    // SAFETY: PostgreSQL passes the live ModifyTableState and result relation; fdw_private is
    // the list plan_foreign_modify made.
    let (plan, estate, relid) = unsafe {
        (
            ModifyPlan::from_fdw_private(fdw_private).or_raise(),
            (*mtstate).ps.state,
            (*(*rinfo).ri_RelationDesc).rd_id,
        )
    };
    // The options may have changed since the plan was made: they are held to again, before
    // any request.
    let target = target(relid).or_raise();
    let writer = target.writer(plan.command).or_raise();
    // SAFETY: live executor structures.
    let user = unsafe { check_as_user(rinfo, estate) };
    let table = catalog::table(relid, Some(user)).or_raise();
    let Some(server) = &table.settings.server else {
        FdwError::new(ERRCODE_INTERNAL_ERROR, "a write has no server settings").raise()
    };
    let client = client_for(
        (table.server_oid.to_u32(), user.to_u32()),
        server,
        table.secret.as_deref(),
    )
    .or_raise()
    .for_pool(table.settings.user_pool_id.as_deref());
    let pace = Pace::new(&client, table.settings.scan.requests_per_second);

    let mut keys = Vec::new();
    let mut wholerow = 0;
    if plan.command != Command::Insert {
        // SAFETY: the ModifyTable's subplan state is live; its plan's target list carries the
        // row identity columns add_foreign_update_targets asked for, by name.
        let tlist = unsafe { (*(*(*mtstate).ps.lefttree).plan).targetlist };
        for i in 0..writer.key().len() {
            let name = CString::new(key_name(i)).unwrap_or_default();
            // SAFETY: as above.
            let attno = unsafe { pg_sys::ExecFindJunkAttributeInTlist(tlist, name.as_ptr()) };
            if attno <= 0 {
                FdwError::new(
                    ERRCODE_INTERNAL_ERROR,
                    format!(
                        "the row identity column {} is missing from the plan",
                        key_name(i)
                    ),
                )
                .raise()
            }
            keys.push(attno);
        }
        if plan.command == Command::Delete && plan.returning {
            // SAFETY: as above.
            wholerow = unsafe { pg_sys::ExecFindJunkAttributeInTlist(tlist, c"wholerow".as_ptr()) };
        }
    }
    // SAFETY: the EState's query context outlives the node, as for a scan's fillers.
    let query_cxt = unsafe { (*estate).es_query_cxt };
    let fillers = match plan.returning {
        // SAFETY: on the backend thread; the fillers live in the state the cell frees.
        true => plan
            .columns
            .iter()
            .map(|c| unsafe { Filler::new(c.clone(), query_cxt) })
            .collect(),
        false => Vec::new(),
    };
    // Rows go in flight together unless each must be seen as it is written: RETURNING reads
    // each back, and row triggers see each row.
    // SAFETY: the live result relation; its trigger description is NULL or live.
    let triggers = unsafe {
        let trig = (*rinfo).ri_TrigDesc;
        !trig.is_null()
            && ((*trig).trig_update_before_row
                || (*trig).trig_update_after_row
                || (*trig).trig_delete_before_row
                || (*trig).trig_delete_after_row)
    };
    let batch_size = target.settings.batch_size;
    let pipelined =
        plan.command != Command::Insert && !plan.returning && !triggers && batch_size > 1;
    let state = ModifyState {
        client,
        pace,
        options: WriteOptions {
            invite: target.settings.invite,
        },
        batch_size,
        keys,
        wholerow,
        fillers,
        rows_written: 0,
        requests: Vec::new(),
        in_flight: pipelined.then(|| InFlight::new(batch_size)),
        failed: None,
        estate,
        // SAFETY: the live ModifyTableState.
        can_set_tag: unsafe { (*mtstate).canSetTag },
        mtstate,
        registration: None,
        plan,
    };
    // SAFETY: the query context outlives the node; ri_FdwState is ours to set.
    let cell = unsafe { StateCell::install(query_cxt, state) };
    // SAFETY: as above.
    unsafe { (*rinfo).ri_FdwState = cell.cast() };
    if pipelined {
        // SAFETY: the cell stays valid until its state is dropped, which unregisters it.
        let id = unsafe { settle::register(estate, cell.cast(), settle_cell) };
        // SAFETY: the cell just installed, not yet seen by anyone else.
        if let Some(state) = unsafe { StateCell::get(cell) } {
            state.registration = Some(id);
        }
    }
}

/// Settle the rows in flight of the write whose cell `cell` is (`settle`'s callback).
///
/// # Safety
/// `cell` is a live `StateCell<ModifyState>` (registered by begin_foreign_modify).
unsafe fn settle_cell(cell: *mut std::ffi::c_void) {
    // SAFETY: the caller's contract; no other reference to the state is alive while the
    // executor hook runs.
    if let Some(state) = unsafe { StateCell::<ModifyState>::get(cell.cast()) } {
        state.settle_all();
    }
}

/// The write's state, or None under EXPLAIN without ANALYZE.
///
/// # Safety
/// `rinfo` is the live result relation of one of our writes; no other reference to its state
/// is alive while the result is used.
unsafe fn state<'a>(rinfo: *mut pg_sys::ResultRelInfo) -> Option<&'a mut ModifyState> {
    // SAFETY: ri_FdwState is NULL or the cell begin_foreign_modify installed.
    unsafe { StateCell::<ModifyState>::get((*rinfo).ri_FdwState.cast()) }
}

/// # Safety
/// Called only by PostgreSQL's executor as the FdwRoutine's ExecForeignInsert callback.
#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_insert(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    _plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    // SAFETY: the live result relation of our write, used only within this call.
    let Some(state) = (unsafe { state(rinfo) }) else {
        return slot;
    };
    // SAFETY: PostgreSQL passes the live slot holding the row to insert.
    let row = unsafe { read_row(slot, &state.plan.columns) }.unwrap_or_else(|e| state.fail(e));
    let changes = state
        .writer()
        .insert(&row, state.options)
        .unwrap_or_else(|e| state.fail(e));
    if !state.write_row(&row, changes) {
        return std::ptr::null_mut();
    }
    if state.plan.returning {
        // SAFETY: the live slot of the target's row type.
        unsafe { state.return_record(&row, slot) };
    }
    slot
}

/// # Safety
/// Called only by PostgreSQL's executor as the FdwRoutine's ExecForeignBatchInsert callback,
/// with `*num_slots` live slots in each array.
#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_batch_insert(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slots: *mut *mut pg_sys::TupleTableSlot,
    _plan_slots: *mut *mut pg_sys::TupleTableSlot,
    num_slots: *mut c_int,
) -> *mut *mut pg_sys::TupleTableSlot {
    // SAFETY: the live result relation of our write, used only within this call.
    let Some(state) = (unsafe { state(rinfo) }) else {
        return slots;
    };
    // SAFETY: PostgreSQL passes `*num_slots` live slots, each holding a row to insert.
    let rows: Vec<Row> = unsafe {
        (0..*num_slots as usize)
            .map(|i| read_row(*slots.add(i), &state.plan.columns))
            .collect::<FdwResult<_>>()
    }
    .unwrap_or_else(|e| state.fail(e));
    // Every row's changes are decided before any is sent: a bad row fails the batch whole.
    let changes: Vec<Vec<Change>> = rows
        .iter()
        .map(|row| state.writer().insert(row, state.options))
        .collect::<FdwResult<_>>()
        .unwrap_or_else(|e| state.fail(e));
    let (client, pace) = (&state.client, &state.pace);
    let results = wait(async {
        let mut running: FuturesUnordered<_> = changes
            .iter()
            .enumerate()
            .map(|(i, row)| async move { (i, make_each(client, pace, row).await) })
            .collect();
        let mut results = Vec::with_capacity(changes.len());
        while let Some(result) = running.next().await {
            results.push(result);
        }
        results.sort_by_key(|(i, _)| *i);
        results
    })
    .unwrap_or_else(|e| state.fail(e));
    let mut first_error = None;
    let mut inserted = 0;
    for (i, (made, outcome)) in results {
        state.count(&made);
        match outcome {
            Ok(Outcome::Made) => {
                // The rows inserted come first in the array, as PostgreSQL counts them. The
                // slots are swapped, not copied: the array owns them and reuses each for the
                // next batch.
                // SAFETY: i and inserted (<= i) index the `*num_slots` slots.
                unsafe { std::ptr::swap(slots.add(inserted), slots.add(i)) };
                inserted += 1;
                state.rows_written += 1;
            }
            Ok(Outcome::Missing) => {}
            Err(error) if state.skips(&error) => {}
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        state.fail(error)
    }
    // SAFETY: PostgreSQL's count of the array, which it reads back as the rows inserted.
    unsafe { *num_slots = inserted as c_int };
    slots
}

/// # Safety
/// Called only by PostgreSQL's executor as the FdwRoutine's GetForeignModifyBatchSize
/// callback, after BeginForeignModify.
#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_modify_batch_size(
    rinfo: *mut pg_sys::ResultRelInfo,
) -> c_int {
    // SAFETY: the live result relation; its trigger description is NULL or live.
    let (returning, checks, triggers) = unsafe {
        let trig = (*rinfo).ri_TrigDesc;
        (
            !(*rinfo).ri_projectReturning.is_null(),
            !(*rinfo).ri_WithCheckOptions.is_null(),
            !trig.is_null() && ((*trig).trig_insert_before_row || (*trig).trig_insert_after_row),
        )
    };
    // RETURNING, row triggers and view checks see each row as it is written, as in
    // postgres_fdw: one at a time.
    if returning || checks || triggers {
        return 1;
    }
    // SAFETY: the live result relation of our write, used only within this call.
    match unsafe { state(rinfo) } {
        Some(state) => state.batch_size as c_int,
        None => 1,
    }
}

/// # Safety
/// Called only by PostgreSQL's executor as the FdwRoutine's ExecForeignUpdate callback.
#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_update(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    _plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    // SAFETY: the live result relation of our write, used only within this call.
    let Some(state) = (unsafe { state(rinfo) }) else {
        return slot;
    };
    // SAFETY: for an UPDATE of a foreign table PostgreSQL fetches the old row whole and
    // stores it in ri_oldTupleSlot before this call; `slot` holds the new row.
    let (old, new) = unsafe {
        let old_slot = (*rinfo).ri_oldTupleSlot;
        if old_slot.is_null() || (*old_slot).tts_flags & pg_sys::TTS_FLAG_EMPTY as u16 != 0 {
            state.fail(FdwError::new(
                ERRCODE_INTERNAL_ERROR,
                "UPDATE without the old row",
            ))
        }
        (
            read_row(old_slot, &state.plan.columns),
            read_row(slot, &state.plan.columns),
        )
    };
    let (old, new) = match (old, new) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(e), _) | (_, Err(e)) => state.fail(e),
    };
    let changes = state
        .writer()
        .update(&old, &new)
        .unwrap_or_else(|e| state.fail(e));
    if !state.write_row(&old, changes) {
        return std::ptr::null_mut();
    }
    if state.plan.returning {
        // SAFETY: the live slot of the target's row type.
        unsafe { state.return_record(&old, slot) };
    }
    slot
}

/// # Safety
/// Called only by PostgreSQL's executor as the FdwRoutine's ExecForeignDelete callback.
#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_delete(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    // SAFETY: the live result relation of our write, used only within this call.
    let Some(state) = (unsafe { state(rinfo) }) else {
        return slot;
    };
    // SAFETY: PostgreSQL passes the subplan's live output slot of the row to delete.
    let key = unsafe { read_key(state, plan_slot) }.unwrap_or_else(|e| state.fail(e));
    let changes = state
        .writer()
        .delete(&key)
        .unwrap_or_else(|e| state.fail(e));
    if !state.write_row(&key, changes) {
        return std::ptr::null_mut();
    }
    if state.plan.returning && state.wholerow > 0 {
        // SAFETY: `wholerow` is a column of the subplan's output holding the row as the scan
        // read it: a composite Datum of the target's row type, never NULL for a scanned row.
        // Its tuple is stored into `slot`, which copies what it needs.
        unsafe {
            let (datum, is_null) = attribute(plan_slot, state.wholerow);
            if !is_null {
                let header = pg_sys::pg_detoast_datum(datum.cast_mut_ptr())
                    .cast::<pg_sys::HeapTupleHeaderData>();
                let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
                tuple.t_len = pgrx::varsize_any(header.cast()) as u32;
                tuple.t_data = header;
                tuple.t_tableOid = (*(*rinfo).ri_RelationDesc).rd_id;
                pg_sys::ExecForceStoreHeapTuple(&mut tuple, slot, false);
            }
        }
    }
    slot
}

/// # Safety
/// Called only by PostgreSQL's executor as the FdwRoutine's EndForeignModify callback.
#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_modify(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
) {
    // A write inside a WITH query may still have rows in flight (PostgreSQL runs such a
    // query to its end after ExecutorRun): they settle here, before the statement ends.
    // SAFETY: the live result relation of our write, used only within this call.
    if let Some(state) = unsafe { state(rinfo) } {
        state.settle_all();
    }
    // SAFETY: ri_FdwState is NULL or the cell begin_foreign_modify installed; releasing it
    // here leaves the context's reset callback nothing to free.
    unsafe { StateCell::<ModifyState>::release((*rinfo).ri_FdwState.cast()) }
}

/// # Safety
/// Called only by PostgreSQL's EXPLAIN as the FdwRoutine's ExplainForeignModify callback.
#[pg_guard]
pub unsafe extern "C-unwind" fn explain_foreign_modify(
    _mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
    _fdw_private: *mut pg_sys::List,
    _subplan_index: c_int,
    es: *mut pg_sys::ExplainState,
) {
    // SAFETY: the live result relation of our write; its state exists under ANALYZE only.
    let Some(state) = (unsafe { state(rinfo) }) else {
        return;
    };
    let counts: Vec<String> = state
        .requests
        .iter()
        .map(|(operation, n)| format!("{operation} {n}"))
        .collect();
    let text = match counts.is_empty() {
        true => "none".to_owned(),
        false => counts.join(", "),
    };
    let text = CString::new(text).unwrap_or_default();
    // SAFETY: EXPLAIN's live state; the property functions copy label and value.
    unsafe {
        pg_sys::ExplainPropertyText(c"Cognito Write Requests".as_ptr(), text.as_ptr(), es);
        pg_sys::ExplainPropertyInteger(
            c"Cognito Rows Written".as_ptr(),
            std::ptr::null(),
            state.rows_written as i64,
            es,
        );
    }
}
