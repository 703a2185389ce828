//! The options resolved into typed settings: a server's (with its user mapping's credentials)
//! and a scan's (its table's over its server's), defaults applied.

use std::fmt;
use std::time::Duration;

use pgrx::PgSqlErrorCode::*;

use super::credentials::{self, AssumeRole, Source};
use super::declare::{spec, Kind};
use super::validate::pool_in_region;
use super::{lookup, parse_bool, validate, word, Place};
use crate::error::{FdwError, FdwResult};

/// Everything a scan needs to know about its server, resolved from the catalogs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSettings {
    pub server_name: String,
    pub region: String,
    /// The server's own pool, if it names one: a table may name its own (`TableSettings`).
    pub user_pool_id: Option<String>,
    pub endpoint_url: Option<String>,
    pub limits: Limits,
    /// The base credentials.
    pub credentials: Source,
    /// The role assumed with them, if any.
    pub assume_role: Option<AssumeRole>,
    /// Where STS is asked: `sts_endpoint_url`, else `endpoint_url`, else None (the region's).
    pub sts_endpoint_url: Option<String>,
    pub transport: Transport,
}

/// How connections are made: trusted certificates and a proxy.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Transport {
    /// A PEM file of CA certificates trusted besides the system's.
    pub ca_file: Option<String>,
    /// `https_proxy`, which may hold a password.
    pub https_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

// The proxy URL may hold a password.
impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("ca_file", &self.ca_file)
            .field("https_proxy", &self.https_proxy.as_ref().map(|_| "<set>"))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// How long one request may take, and how often it is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_attempts: u32,
    pub max_backoff: Duration,
}

impl fmt::Display for Limits {
    /// As EXPLAIN (ANALYZE, VERBOSE) reports them, in the options' own names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connect_timeout_ms {}, request_timeout_ms {}, max_attempts {}, max_backoff_ms {}",
            self.connect_timeout.as_millis(),
            self.request_timeout.as_millis(),
            self.max_attempts,
            self.max_backoff.as_millis()
        )
    }
}

/// A whole-number option's value, else its default, held to its declared range: the range is
/// written once, in `OPTIONS` (the validator has already refused values outside it).
fn int_option(options: &[(String, String)], name: &str) -> i64 {
    let spec = spec(name);
    let value = lookup(options, name)
        .or_else(|| spec.and_then(|s| s.default))
        .unwrap_or("0");
    let n: i64 = value.trim().parse().unwrap_or(0);
    match spec.map(|s| s.kind) {
        Some(Kind::Int { min, max }) => n.clamp(min, max),
        _ => n,
    }
}

fn millis(options: &[(String, String)], name: &str) -> Duration {
    Duration::from_millis(int_option(options, name) as u64)
}

impl ServerSettings {
    /// Merge a server's options with those of the user mapping that applies (if any).
    pub fn resolve(
        server_name: &str,
        server: &[(String, String)],
        mapping: &[(String, String)],
    ) -> FdwResult<ServerSettings> {
        // Options written by an older release never met this validator; a value it refuses
        // (a control character in a key id makes the SDK panic) must not reach a request.
        let within = |what: String| {
            move |e: FdwError| {
                let detail = match &e.detail {
                    Some(d) => format!("In the options of {what}. {d}"),
                    None => format!("In the options of {what}."),
                };
                e.with_detail(detail)
            }
        };
        validate(Place::Server, server).map_err(within(format!("server \"{server_name}\"")))?;
        validate(Place::UserMapping, mapping).map_err(within(format!(
            "the user mapping for server \"{server_name}\""
        )))?;
        let required = |name: &str| {
            lookup(server, name).map(str::to_owned).ok_or_else(|| {
                FdwError::new(
                    ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
                    format!("server \"{server_name}\" has no option \"{name}\""),
                )
            })
        };
        let (credentials, assume_role) = credentials::resolve(server_name, server, mapping)?;
        let owned = |name: &str| lookup(server, name).map(str::to_owned);
        Ok(ServerSettings {
            server_name: server_name.to_owned(),
            region: required("region")?,
            user_pool_id: lookup(server, "user_pool_id").map(str::to_owned),
            endpoint_url: lookup(server, "endpoint_url").map(str::to_owned),
            limits: Limits {
                connect_timeout: millis(server, "connect_timeout_ms"),
                request_timeout: millis(server, "request_timeout_ms"),
                max_attempts: int_option(server, "max_attempts") as u32,
                max_backoff: millis(server, "max_backoff_ms"),
            },
            credentials,
            assume_role,
            sts_endpoint_url: owned("sts_endpoint_url").or_else(|| owned("endpoint_url")),
            transport: Transport {
                ca_file: owned("ca_file"),
                https_proxy: owned("https_proxy"),
                no_proxy: owned("no_proxy"),
            },
        })
    }
}

/// How a scan of one table reads Cognito: its table's options over its server's, else the
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanSettings {
    pub pushdown: bool,
    /// `parallel_scan` is not `off`: a large pool may be partitioned.
    pub parallel_scan: bool,
    /// `parallel_scan 'on'`: a large pool is partitioned whatever the rate needs.
    pub always_partition: bool,
    pub max_concurrent_requests: u32,
    pub requests_per_second: u32,
}

impl ScanSettings {
    pub fn resolve(server: &[(String, String)], table: &[(String, String)]) -> ScanSettings {
        let get = |name: &str| {
            word(
                lookup(table, name)
                    .or_else(|| lookup(server, name))
                    .or_else(|| spec(name).and_then(|s| s.default))
                    .unwrap_or_default(),
            )
        };
        let number = |value: Option<&str>| value.and_then(|v| v.trim().parse::<u32>().ok());
        // The server's value (else the default) is a ceiling: a role with USAGE on the server
        // may create tables, and must not spend more of the account's quota than the server's
        // owner allowed.
        let limit = |name: &str| {
            let ceiling = number(lookup(server, name))
                .or_else(|| number(spec(name).and_then(|s| s.default)))
                .unwrap_or(1)
                .max(1);
            number(lookup(table, name)).map_or(ceiling, |own| own.clamp(1, ceiling))
        };
        ScanSettings {
            pushdown: parse_bool(&get("pushdown")).unwrap_or(true),
            parallel_scan: get("parallel_scan") != "off",
            always_partition: get("parallel_scan") == "on",
            max_concurrent_requests: limit("max_concurrent_requests"),
            requests_per_second: limit("requests_per_second"),
        }
    }
}

impl ScanSettings {
    /// The options that shape a listing, as EXPLAIN (ANALYZE, VERBOSE) reports them.
    pub fn describe(&self) -> String {
        format!(
            "max_concurrent_requests {}, requests_per_second {}, parallel_scan {}",
            self.max_concurrent_requests,
            self.requests_per_second,
            match (self.parallel_scan, self.always_partition) {
                (false, _) => "off",
                (true, true) => "on",
                (true, false) => "auto",
            }
        )
    }
}

/// Everything one scan of a table reads from the options, resolved once: the table's listing
/// options over its server's, whether row counts may come from DescribeUserPool, and, for a
/// scan that sends requests, its server's settings with the credentials of the user mapping
/// that applies (server, table and user mapping merged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSettings {
    pub scan: ScanSettings,
    pub use_remote_estimate: bool,
    /// The pool the table reads: its own `user_pool_id`, else its server's; None for neither
    /// (which only `user_pools` accepts).
    pub user_pool_id: Option<String>,
    /// None where no request is sent (planning, EXPLAIN without ANALYZE): credentials are
    /// then neither read nor required.
    pub server: Option<ServerSettings>,
}

impl TableSettings {
    /// `mapping`: the options of the user mapping that applies (empty without one), or None
    /// when the scan sends no request.
    pub fn resolve(
        server_name: &str,
        server: &[(String, String)],
        table: &[(String, String)],
        mapping: Option<&[(String, String)]>,
    ) -> FdwResult<TableSettings> {
        let user_pool_id = lookup(table, "user_pool_id").or_else(|| lookup(server, "user_pool_id"));
        // The validator checks a table's pool id alone (it is not told the server): its
        // region is held to the server's here, before any request.
        if let (Some(pool), Some(region)) =
            (lookup(table, "user_pool_id"), lookup(server, "region"))
        {
            pool_in_region(pool, region).map_err(|e| {
                e.with_detail(format!(
                    "In the options of a foreign table of server \"{server_name}\"."
                ))
            })?;
        }
        Ok(TableSettings {
            scan: ScanSettings::resolve(server, table),
            use_remote_estimate: use_remote_estimate(server),
            user_pool_id: user_pool_id.map(str::to_owned),
            server: mapping
                .map(|mapping| ServerSettings::resolve(server_name, server, mapping))
                .transpose()?,
        })
    }
}

/// Whether row counts may come from DescribeUserPool.
pub fn use_remote_estimate(server: &[(String, String)]) -> bool {
    lookup(server, "use_remote_estimate")
        .and_then(parse_bool)
        .unwrap_or(true)
}

/// Why a table's writes are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritesOff {
    /// Neither the table nor its server says `updatable 'true'` (the default).
    NotSet,
    /// The table says `updatable 'false'`.
    ByTable,
    /// The table says `'true'`, but its server does not: only the server's owner may allow
    /// writes with the server's credentials.
    ByServer,
}

/// What the options say about writes to one table: server and table merged, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSettings {
    pub allowed: Result<(), WritesOff>,
    /// `invitation 'send'`.
    pub invite: bool,
    /// Rows of an INSERT in flight at once.
    pub batch_size: u32,
}

impl WriteSettings {
    pub fn resolve(server: &[(String, String)], table: &[(String, String)]) -> WriteSettings {
        let flag = |options: &[(String, String)]| lookup(options, "updatable").and_then(parse_bool);
        let server_allows = flag(server).unwrap_or(false);
        let allowed = match (flag(table), server_allows) {
            (Some(true), false) => Err(WritesOff::ByServer),
            (Some(false), _) => Err(WritesOff::ByTable),
            (None, false) => Err(WritesOff::NotSet),
            _ => Ok(()),
        };
        let number = |name: &str| {
            lookup(table, name)
                .or_else(|| lookup(server, name))
                .or_else(|| spec(name).and_then(|s| s.default))
                .and_then(|v| v.trim().parse::<u32>().ok())
        };
        WriteSettings {
            allowed,
            invite: lookup(table, "invitation")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("send")),
            batch_size: number("batch_size").unwrap_or(1).max(1),
        }
    }
}

#[cfg(test)]
mod write_tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn only_the_server_may_allow_writes_and_a_table_may_refuse_them() {
        let on = opts(&[("updatable", "true")]);
        let off = opts(&[("updatable", "false")]);
        let none = opts(&[]);
        let allowed = |server: &[(String, String)], table: &[(String, String)]| {
            WriteSettings::resolve(server, table).allowed
        };
        assert_eq!(allowed(&none, &none), Err(WritesOff::NotSet));
        assert_eq!(allowed(&on, &none), Ok(()));
        assert_eq!(allowed(&on, &on), Ok(()));
        assert_eq!(allowed(&on, &off), Err(WritesOff::ByTable));
        assert_eq!(allowed(&none, &on), Err(WritesOff::ByServer));
        assert_eq!(allowed(&off, &on), Err(WritesOff::ByServer));
    }

    #[test]
    fn batch_size_and_invitation() {
        let w = WriteSettings::resolve(&opts(&[("batch_size", "10")]), &opts(&[]));
        assert_eq!(w.batch_size, 10);
        assert!(!w.invite);
        let w = WriteSettings::resolve(
            &opts(&[("batch_size", "10")]),
            &opts(&[("batch_size", "3"), ("invitation", "SEND")]),
        );
        assert_eq!(w.batch_size, 3);
        assert!(w.invite);
        assert_eq!(WriteSettings::resolve(&[], &[]).batch_size, 50);
    }
}
