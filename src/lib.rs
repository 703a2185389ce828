//! AWS Cognito user pools as PostgreSQL foreign tables.
//!
//! The path of one query, top to bottom: `fdw` (PostgreSQL callbacks) asks `objects` what a
//! table's columns mean, stores a `remote_plan::RemotePlan` in the plan, and at execution asks
//! `cognito` for pages of items, which `convert` turns into Datums. `options` holds every
//! option and the credentials; `error` the one error type.

#![deny(unsafe_op_in_unsafe_fn)]

use pgrx::prelude::*;

pub mod cognito;
pub mod convert;
pub mod error;
pub mod fdw;
pub mod objects;
pub mod options;
pub mod pushdown;
pub mod remote_plan;
pub mod request;

use error::OrRaise;
use options::Place;

pgrx::pg_module_magic!();

/// Runs when a backend loads the library, before any of its callbacks.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    fdw::settle::install_hook();
}

#[pg_extern(create_or_replace)]
fn cognito_fdw_handler() -> fdw::FdwRoutine {
    fdw::FdwRoutine::new()
}

/// Checks the options of every CREATE/ALTER of a wrapper, server, user mapping, foreign table
/// and column that uses this wrapper.
#[pg_extern(create_or_replace)]
fn cognito_fdw_validator(options: Vec<Option<String>>, catalog: Option<pg_sys::Oid>) {
    let place = match catalog {
        Some(pg_sys::ForeignDataWrapperRelationId) => Place::Wrapper,
        Some(pg_sys::ForeignServerRelationId) => Place::Server,
        Some(pg_sys::UserMappingRelationId) => Place::UserMapping,
        Some(pg_sys::ForeignTableRelationId) => Place::Table,
        Some(pg_sys::AttributeRelationId) => Place::Column,
        _ => return,
    };
    let pairs: Vec<(String, String)> = options
        .into_iter()
        .flatten()
        .map(|option| match option.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (option, String::new()),
        })
        .collect();
    options::validate(place, &pairs).or_raise();
    // SAFETY: superuser() reads the current user's catalog row; the validator runs inside a
    // transaction, as every CREATE or ALTER does.
    let superuser = unsafe { pg_sys::superuser() };
    options::check_privileges(place, &pairs, superuser).or_raise();
    if let Some(warning) = options::warning(place, &pairs) {
        warning.warn();
    }
}

/// How many foreign scans hold Rust state in this backend right now. Between statements it is
/// always 0: state is freed when a scan ends, fails or is cancelled.
#[pg_extern]
fn cognito_fdw_live_scans() -> i64 {
    fdw::scan::live_scans() as i64
}

/// The options table of the README, generated from the one declaration.
#[pg_extern]
fn cognito_fdw_options() -> TableIterator<
    'static,
    (
        name!(option, String),
        name!(valid_in, String),
        name!(required, bool),
        name!(default_value, Option<String>),
        name!(meaning, String),
    ),
> {
    TableIterator::new(options::OPTIONS.iter().map(|o| {
        let places: Vec<String> = o.places.iter().map(|p| p.describe().to_owned()).collect();
        (
            o.name.to_owned(),
            places.join(", "),
            o.required,
            o.default.map(str::to_owned),
            o.doc.to_owned(),
        )
    }))
}
