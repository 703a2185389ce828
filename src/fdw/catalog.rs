//! Reading what the catalogs say about a foreign table, its server and the current role.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgList, PgRelation, PgSqlErrorCode::*};

use crate::cognito::estimate::PoolKey;
use crate::error::{FdwError, FdwResult};
use crate::objects::{ColumnDef, Object};
use crate::options::{lookup, word, SecretSource, ServerSettings, TableSettings};

/// `(name, value)` pairs of a List of DefElem, as the catalogs store options.
///
/// # Safety
/// `list` must be NIL or a valid List of DefElem nodes.
pub unsafe fn options_of(list: *mut pg_sys::List) -> Vec<(String, String)> {
    // SAFETY: the caller guarantees `list` is NIL or a valid List of DefElem.
    let list = unsafe { PgList::<pg_sys::DefElem>::from_pg(list) };
    list.iter_ptr()
        .map(|def| {
            // SAFETY: catalog options are DefElems with a name and a string value; both
            // strings live in the list's memory context and are copied out here.
            unsafe {
                let name = CStr::from_ptr((*def).defname)
                    .to_string_lossy()
                    .into_owned();
                let value = CStr::from_ptr(pg_sys::defGetString(def))
                    .to_string_lossy()
                    .into_owned();
                (name, value)
            }
        })
        .collect()
}

/// A foreign table's server and options.
pub fn foreign_table(relid: pg_sys::Oid) -> (pg_sys::Oid, Vec<(String, String)>) {
    // SAFETY: relid is a foreign table the planner or executor is working on, so
    // GetForeignTable finds its catalog row (it raises an ERROR otherwise).
    unsafe {
        let table = pg_sys::GetForeignTable(relid);
        ((*table).serverid, options_of((*table).options))
    }
}

/// The object a foreign table reads, from its `object` option.
pub fn table_object(options: &[(String, String)]) -> FdwResult<Object> {
    let name = lookup(options, "object").ok_or_else(|| {
        FdwError::new(
            ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
            "foreign table has no option \"object\"",
        )
    })?;
    Object::from_name(&word(name)).ok_or_else(|| {
        FdwError::new(
            ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
            format!("unknown Cognito object \"{name}\""),
        )
    })
}

/// The live columns of a foreign table, with their `attribute` options.
pub fn table_columns(relid: pg_sys::Oid) -> Vec<ColumnDef> {
    // SAFETY: the caller plans or runs a query on relid and so already holds a lock on it;
    // PgRelation closes the relcache entry when dropped.
    let relation = unsafe { PgRelation::open(relid) };
    let tupdesc = relation.tuple_desc();
    let (_, table_options) = foreign_table(relid);
    let attributes_array =
        lookup(&table_options, "attributes_format").is_some_and(|f| word(f) == "array");
    let mut columns = Vec::new();
    for (index, attribute) in tupdesc.iter().enumerate() {
        if attribute.is_dropped() {
            continue;
        }
        // SAFETY: attnum and type come from the live tuple descriptor of relid.
        let (options, type_name) = unsafe {
            let options = options_of(pg_sys::GetForeignColumnOptions(relid, attribute.attnum));
            let type_name = CStr::from_ptr(pg_sys::format_type_with_typemod(
                attribute.atttypid,
                attribute.atttypmod,
            ))
            .to_string_lossy()
            .into_owned();
            (options, type_name)
        };
        // A domain is filled as its base type, held to the base type's modifier, then checked
        // against the domain's constraints, as the domain's input function does.
        let mut typmod = attribute.atttypmod;
        // SAFETY: a syscache walk down the domain chain of a live column's type.
        let type_oid = unsafe { pg_sys::getBaseTypeAndTypmod(attribute.atttypid, &mut typmod) };
        columns.push(ColumnDef {
            index,
            name: attribute.name().to_owned(),
            type_oid,
            typmod,
            domain: (type_oid != attribute.atttypid).then_some(attribute.atttypid),
            type_name,
            attribute: lookup(&options, "attribute").map(str::to_owned),
            attributes_array,
        });
    }
    columns
}

/// The server's name and options.
pub fn server(server_oid: pg_sys::Oid) -> (String, Vec<(String, String)>) {
    // SAFETY: server_oid comes from a foreign table's catalog row or IMPORT's server lookup.
    unsafe {
        let server = pg_sys::GetForeignServer(server_oid);
        let name = CStr::from_ptr((*server).servername)
            .to_string_lossy()
            .into_owned();
        (name, options_of((*server).options))
    }
}

/// The options of the user mapping for `userid` (or PUBLIC) on the server, if there is one.
/// Unlike postgres_fdw we do not require a mapping: the credentials may sit on the server.
fn user_mapping_options(userid: pg_sys::Oid, server_oid: pg_sys::Oid) -> Vec<(String, String)> {
    let exists = |user: pg_sys::Oid| {
        // SAFETY: a plain syscache probe; the tuple is released right away.
        unsafe {
            let tuple = pg_sys::SearchSysCache2(
                pg_sys::SysCacheIdentifier::USERMAPPINGUSERSERVER as _,
                pg_sys::Datum::from(user),
                pg_sys::Datum::from(server_oid),
            );
            let found = !tuple.is_null();
            if found {
                pg_sys::ReleaseSysCache(tuple);
            }
            found
        }
    };
    if exists(userid) || exists(pg_sys::InvalidOid) {
        // SAFETY: a mapping exists for the user or PUBLIC, so GetUserMapping finds one.
        unsafe { options_of((*pg_sys::GetUserMapping(userid, server_oid)).options) }
    } else {
        Vec::new()
    }
}

/// The settings and secret access key (when the credentials are keys) of server `server_oid`
/// as `user` reaches it (the server's options with its user mapping's), for a request outside
/// any scan (IMPORT FOREIGN SCHEMA reading the pool's schema).
pub fn server_connection(
    server_oid: pg_sys::Oid,
    user: pg_sys::Oid,
) -> FdwResult<(ServerSettings, Option<String>)> {
    let (name, server_options) = server(server_oid);
    let mapping = user_mapping_options(user, server_oid);
    let settings = ServerSettings::resolve(&name, &server_options, &mapping)?;
    let secret = match settings.credentials.secret() {
        None => None,
        Some(SecretSource::Inline(secret)) => Some(secret.clone()),
        Some(SecretSource::Vault(id)) => Some(vault_secret(&name, id)?),
    };
    Ok((settings, secret))
}

/// A foreign table as a scan sees it, read from the catalogs once.
pub struct Table {
    pub server_oid: pg_sys::Oid,
    /// The table's own options (`object` among them).
    pub options: Vec<(String, String)>,
    /// The server's options, which say where its pool is.
    pub server_options: Vec<(String, String)>,
    /// Server, table and user mapping merged.
    pub settings: TableSettings,
    /// The secret access key (inline, or read from Vault), when `settings.server` is set and
    /// its credentials are keys.
    pub secret: Option<String>,
}

/// The foreign table `relid` and its settings. `as_user`: the role whose user mapping
/// applies, for a scan that sends requests; None for one that sends none (planning, EXPLAIN
/// without ANALYZE), which reads no credentials and so needs none.
pub fn table(relid: pg_sys::Oid, as_user: Option<pg_sys::Oid>) -> FdwResult<Table> {
    let (server_oid, options) = foreign_table(relid);
    let (name, server_options) = server(server_oid);
    let mapping = as_user.map(|user| user_mapping_options(user, server_oid));
    let settings = TableSettings::resolve(&name, &server_options, &options, mapping.as_deref())?;
    if settings.user_pool_id.is_none() && table_object(&options)?.pool_scoped() {
        return Err(no_pool(relid, &name));
    }
    let secret = match settings
        .server
        .as_ref()
        .and_then(|s| s.credentials.secret())
    {
        None => None,
        Some(SecretSource::Inline(secret)) => Some(secret.clone()),
        Some(SecretSource::Vault(id)) => Some(vault_secret(&name, id)?),
    };
    Ok(Table {
        server_oid,
        options,
        server_options,
        settings,
        secret,
    })
}

/// A table of a pool-scoped object whose pool is named nowhere: refused before any request.
fn no_pool(relid: pg_sys::Oid, server_name: &str) -> FdwError {
    // SAFETY: relid is a live foreign table (its catalog row was just read); get_rel_name
    // returns a palloc'd copy of its name.
    let table = unsafe {
        let name = pg_sys::get_rel_name(relid);
        if name.is_null() {
            format!("{}", relid.to_u32())
        } else {
            CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    };
    FdwError::new(
        ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
        format!(
            "foreign table \"{table}\" reads a user pool, but neither it nor server \
             \"{server_name}\" has option \"user_pool_id\""
        ),
    )
    .with_hint(format!(
        "Name the pool on the table (ALTER FOREIGN TABLE {table} OPTIONS (ADD user_pool_id \
         '...')) or on the server."
    ))
}

impl Table {
    /// The pool the table reads, as the row-estimate cache knows it.
    pub fn pool_key(&self) -> PoolKey {
        PoolKey::of(&self.server_options, self.settings.user_pool_id.as_deref())
    }
}

/// Read a secret through Supabase Vault's interface, by id or by name.
///
/// The privileges are checked first, from the catalogs: a query on `vault` without them
/// fails with "permission denied for schema vault" and our internal SQL as its CONTEXT, which
/// names neither the server nor what the role lacks.
fn vault_secret(server_name: &str, id: &str) -> FdwResult<String> {
    let access = Spi::get_two::<bool, bool>(
        "select has_schema_privilege(n.oid, 'usage'), has_table_privilege(c.oid, 'select') \
         from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
         where n.nspname = 'vault' and c.relname = 'decrypted_secrets'",
    );
    match access {
        Ok((Some(true), Some(true))) => {}
        Ok((Some(_), Some(_))) => {
            return Err(FdwError::new(
                ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "the current role may not read Vault secret \"{id}\", named by option \
                     api_key_id of server \"{server_name}\""
                ),
            )
            .with_hint(
                "Grant the role USAGE on schema vault and SELECT on vault.decrypted_secrets, \
                 or give it a user mapping with its own credentials.",
            ))
        }
        _ => {
            return Err(FdwError::new(
                ERRCODE_INVALID_SCHEMA_NAME,
                format!(
                    "option api_key_id of server \"{server_name}\" names Vault secret \"{id}\", \
                     but there is no vault.decrypted_secrets"
                ),
            )
            .with_hint("Install Supabase Vault, or give the secret with aws_secret_access_key."))
        }
    }
    // An id names one secret; a name may match several (Vault's names need not be unique,
    // and a stand-in may not enforce it): then which one is meant is not ours to guess.
    let found = Spi::get_two_with_args::<i64, String>(
        "select count(*), min(decrypted_secret) from ( \
           select decrypted_secret from vault.decrypted_secrets where id::text = $1 \
           union all \
           select decrypted_secret from vault.decrypted_secrets where name = $1 \
             and not exists (select from vault.decrypted_secrets where id::text = $1)) s",
        &[id.into()],
    );
    match found {
        Ok((Some(1), Some(secret))) if !secret.is_empty() => Ok(secret),
        Ok((Some(n), _)) if n > 1 => Err(FdwError::new(
            ERRCODE_DUPLICATE_OBJECT,
            format!(
                "option api_key_id of server \"{server_name}\" names {n} Vault secrets called \
                 \"{id}\""
            ),
        )
        .with_hint("Name the secret by its id, or give the secrets distinct names.")),
        Ok(_) | Err(pgrx::spi::SpiError::InvalidPosition) => Err(FdwError::new(
            ERRCODE_UNDEFINED_OBJECT,
            format!(
                "Vault secret \"{id}\" (option api_key_id of server \"{server_name}\") does \
                 not exist or is empty"
            ),
        )),
        Err(e) => Err(FdwError::new(
            ERRCODE_FDW_ERROR,
            format!("could not read Vault secret \"{id}\": {e}"),
        )),
    }
}

/// A relation's name, for messages (its oid when it has none).
pub fn relation_name(relid: pg_sys::Oid) -> String {
    // SAFETY: get_rel_name reads the syscache inside the current transaction and returns a
    // palloc'd copy, or NULL for an oid that names no relation.
    unsafe {
        let name = pg_sys::get_rel_name(relid);
        if name.is_null() {
            relid.to_u32().to_string()
        } else {
            CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    }
}

/// The name of a table's column by 0-based index, for messages.
pub fn column_name(relid: pg_sys::Oid, index: usize) -> String {
    table_columns(relid)
        .into_iter()
        .find(|c| c.index == index)
        .map_or_else(|| format!("#{}", index + 1), |c| c.name)
}
