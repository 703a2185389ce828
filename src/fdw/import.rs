//! IMPORT FOREIGN SCHEMA: one table per Cognito object, as documented.
//!
//! Cognito has no schemas, so the remote schema name is not checked: `import foreign schema
//! cognito from server ...` is the documented spelling, and any other name imports the same.
//! It sends no request, unless the option `custom_attribute_columns` asks for a column per
//! custom attribute of the server's pool: then one DescribeUserPool reads the pool's schema.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::pg_sys::AsPgCStr;
use pgrx::prelude::*;
use pgrx::PgList;
use pgrx::PgSqlErrorCode::*;

use super::catalog;
use crate::cognito::client::client_for;
use crate::cognito::quota::{Category, Pace};
use crate::cognito::runtime::wait;
use crate::cognito::user_pools::{describe, CustomAttribute};
use crate::error::{FdwError, FdwResult, OrRaise};
use crate::objects::{custom_attribute_columns, Object};
use crate::options::{lookup, parse_bool, validate, Place, ScanSettings};

/// The custom attributes of the pool server `server_oid` names, read with one
/// DescribeUserPool as the current role reaches the server.
fn custom_attributes(
    server_oid: pg_sys::Oid,
    server_name: &str,
    server_options: &[(String, String)],
) -> FdwResult<Vec<CustomAttribute>> {
    let Some(pool) = lookup(server_options, "user_pool_id") else {
        return Err(FdwError::new(
            ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
            format!(
                "option \"custom_attribute_columns\" reads the pool of server \"{server_name}\", \
                 which has no option \"user_pool_id\""
            ),
        )
        .with_hint("Name the pool on the server, or import without custom_attribute_columns."));
    };
    // SAFETY: reads the current role's id, set for the whole statement.
    let user = unsafe { pg_sys::GetUserId() };
    let (settings, secret) = catalog::server_connection(server_oid, user)?;
    let client = client_for(
        (server_oid.to_u32(), user.to_u32()),
        &settings,
        secret.as_deref(),
    )?
    .for_pool(Some(pool));
    let rate = ScanSettings::resolve(server_options, &[]).requests_per_second;
    let limiter = Pace::new(&client, rate).category(Category::UserPoolRead);
    match wait(describe(&client, pool, &limiter))?? {
        Some(found) => Ok(found
            .described
            .map(|d| d.custom_attributes)
            .unwrap_or_default()),
        None => Err(FdwError::new(
            ERRCODE_FDW_TABLE_NOT_FOUND,
            format!("user pool \"{pool}\" of server \"{server_name}\" does not exist"),
        )),
    }
}

/// A name as SQL needs it: as it is when it can be, else double-quoted.
fn quote(name: &str) -> String {
    // SAFETY: quote_identifier returns its argument or a palloc'd quoted copy.
    unsafe {
        CStr::from_ptr(pg_sys::quote_identifier(name.as_pg_cstr()))
            .to_string_lossy()
            .into_owned()
    }
}

/// # Safety
/// Called only by PostgreSQL, as the FdwRoutine's ImportForeignSchema callback, with the
/// parsed statement valid for the duration of the call.
#[pg_guard]
pub unsafe extern "C-unwind" fn import_foreign_schema(
    stmt: *mut pg_sys::ImportForeignSchemaStmt,
    server_oid: pg_sys::Oid,
) -> *mut pg_sys::List {
    // Ignoring a misspelt option would hide the mistake: they are validated as any other.
    // SAFETY: PostgreSQL passes the parsed IMPORT FOREIGN SCHEMA statement for the duration of
    // this callback; its options are a List of DefElem, as for any OPTIONS clause.
    let options = unsafe { catalog::options_of((*stmt).options) };
    validate(Place::Import, &options).or_raise();
    let custom = lookup(&options, "custom_attribute_columns")
        .and_then(parse_bool)
        .unwrap_or(false);
    let (server_name, server_options) = catalog::server(server_oid);
    let quoted_server = quote(&server_name);

    // SAFETY: `stmt` is valid for this callback (as above); table_list is NIL or the List of
    // RangeVars of LIMIT TO / EXCEPT, each with a relname.
    let (listed, list_type): (Vec<String>, _) = unsafe {
        let listed = PgList::<pg_sys::RangeVar>::from_pg((*stmt).table_list)
            .iter_ptr()
            .map(|rv| CStr::from_ptr((*rv).relname).to_string_lossy().into_owned())
            .collect();
        (listed, (*stmt).list_type)
    };
    let wanted = |name: &str| {
        let named = listed.iter().any(|t| t == name);
        match list_type {
            pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_LIMIT_TO => named,
            pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_EXCEPT => !named,
            _ => true,
        }
    };

    let objects: Vec<Object> = Object::all()
        .iter()
        .copied()
        .filter(|o| wanted(o.name()))
        .collect();
    // Only an import that creates a table taking them asks for the pool's schema.
    let attributes = if custom && objects.iter().any(|o| o.takes_custom_attribute_columns()) {
        custom_attributes(server_oid, &server_name, &server_options).or_raise()
    } else {
        Vec::new()
    };
    let mut commands = PgList::<std::ffi::c_char>::new();
    for object in objects {
        let extra = match object.takes_custom_attribute_columns() {
            true => {
                let taken: Vec<&str> = object.import_columns().iter().map(|(c, _)| *c).collect();
                custom_attribute_columns(&attributes, &taken, &quote)
            }
            false => Vec::new(),
        };
        commands.push(object.import_ddl_with(&quoted_server, &extra).as_pg_cstr());
    }
    commands.into_pg()
}
