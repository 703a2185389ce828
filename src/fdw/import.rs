//! IMPORT FOREIGN SCHEMA: one table per Cognito object, as documented.
//!
//! Cognito has no schemas, so the remote schema name is not checked: `import foreign schema
//! cognito from server ...` is the documented spelling, and any other name imports the same.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::pg_sys::AsPgCStr;
use pgrx::prelude::*;
use pgrx::PgList;

use super::catalog;
use crate::error::OrRaise;
use crate::objects::Object;
use crate::options::{validate, Place};

#[pg_guard]
pub unsafe extern "C-unwind" fn import_foreign_schema(
    stmt: *mut pg_sys::ImportForeignSchemaStmt,
    server_oid: pg_sys::Oid,
) -> *mut pg_sys::List {
    // Nothing is valid there today; ignoring a misspelt option would hide the mistake.
    // SAFETY: the statement's options are a List of DefElem, as for any OPTIONS clause.
    let options = catalog::options_of((*stmt).options);
    validate(Place::Import, &options).or_raise();
    let (server_name, _) = catalog::server(server_oid);
    // SAFETY: quote_identifier returns its argument or a palloc'd quoted copy.
    let quoted_server = CStr::from_ptr(pg_sys::quote_identifier(server_name.as_pg_cstr()))
        .to_string_lossy()
        .into_owned();

    let listed: Vec<String> = PgList::<pg_sys::RangeVar>::from_pg((*stmt).table_list)
        .iter_ptr()
        // SAFETY: table_list holds the RangeVars of LIMIT TO / EXCEPT.
        .map(|rv| CStr::from_ptr((*rv).relname).to_string_lossy().into_owned())
        .collect();
    let wanted = |name: &str| {
        let named = listed.iter().any(|t| t == name);
        match (*stmt).list_type {
            pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_LIMIT_TO => named,
            pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_EXCEPT => !named,
            _ => true,
        }
    };

    let mut commands = PgList::<std::ffi::c_char>::new();
    for object in Object::all().iter().filter(|o| wanted(o.name())) {
        commands.push(object.import_ddl(&quoted_server).as_pg_cstr());
    }
    commands.into_pg()
}
