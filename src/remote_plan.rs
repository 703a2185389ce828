//! What the planner decided for one scan, carried inside the plan.
//!
//! A cached plan may run a thousand times, in other memory contexts than the one it was made
//! in, so the plan holds no pointer: the `RemotePlan` travels as one JSON string node in
//! `fdw_private`, which `copyObject` copies like any other node. Its encoding is here, beside
//! the type.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::pg_sys::AsPgCStr;
use pgrx::PgList;
use pgrx::PgSqlErrorCode::*;
use serde::{Deserialize, Serialize};

use crate::error::{FdwError, FdwResult};
use crate::objects::{ColumnPlan, Object, Selectivity};
use crate::pushdown::Candidate;

/// Text as `fdw_private` carries it: a List of one String node, allocated in the current
/// memory context (the planner's, like the rest of the plan). A write's plan travels so too.
pub fn text_to_fdw_private(text: &str) -> *mut pg_sys::List {
    let mut private = PgList::<pg_sys::Node>::new();
    // SAFETY: makeString keeps the palloc'd C string, allocated in the current context like
    // the list.
    private.push(unsafe { pg_sys::makeString(text.as_pg_cstr()) }.cast());
    private.into_pg()
}

/// The text `text_to_fdw_private` stored (empty for an empty list).
///
/// # Safety
/// `fdw_private` must be a list made by `text_to_fdw_private` (or its copy).
pub unsafe fn text_of_fdw_private(fdw_private: *mut pg_sys::List) -> String {
    // SAFETY: by the contract above, element 0 is the String node `text_to_fdw_private` made.
    unsafe {
        let list = PgList::<pg_sys::Node>::from_pg(fdw_private);
        match list.get_ptr(0) {
            Some(node) => CStr::from_ptr((*node.cast::<pg_sys::String>()).sval)
                .to_string_lossy()
                .into_owned(),
            None => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePlan {
    pub object: Object,
    /// One entry per live column of the table, in attribute order; in the final plan only the
    /// columns the query reads (the others stay NULL and their values are never converted).
    pub columns: Vec<ColumnPlan>,
    pub page_size: i32,
    /// Conditions the object's listing can express, best first; the scan sends the first
    /// whose values can travel, else lists everything.
    pub candidates: Vec<Candidate>,
    /// Whether the `pushdown` option allowed conditions to be sent: planning needs it for the
    /// join paths. The options that shape execution (concurrency, rate, partitions, timeouts)
    /// are not in the plan: each run reads them afresh, so a cached plan uses the options
    /// current when its query starts.
    pub pushdown: bool,
    /// A LIMIT bounds what PostgreSQL will read from this scan: read lazily, one request at a
    /// time, no partitions.
    pub limited: bool,
}

impl RemotePlan {
    pub fn new(object: Object, columns: Vec<ColumnPlan>, pushdown: bool) -> RemotePlan {
        RemotePlan {
            object,
            columns,
            page_size: object.max_page_size(),
            candidates: Vec::new(),
            pushdown,
            limited: false,
        }
    }

    pub fn encode(&self) -> String {
        // Serialising plain enums, strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The plan as `fdw_private` carries it: a List of one String node, allocated in the
    /// current memory context (the planner's, like the rest of the plan).
    pub fn to_fdw_private(&self) -> *mut pg_sys::List {
        text_to_fdw_private(&self.encode())
    }

    /// The plan stored in a plan's (or a rel's) fdw_private.
    ///
    /// # Safety
    /// `fdw_private` must be a list made by `to_fdw_private` (or its copy).
    pub unsafe fn from_fdw_private(fdw_private: *mut pg_sys::List) -> FdwResult<RemotePlan> {
        // SAFETY: the caller's contract is `text_of_fdw_private`'s.
        RemotePlan::decode(&unsafe { text_of_fdw_private(fdw_private) })
    }

    pub fn decode(text: &str) -> FdwResult<RemotePlan> {
        serde_json::from_str(text).map_err(|e| {
            FdwError::new(
                ERRCODE_FDW_ERROR,
                format!("the plan of this foreign scan is unreadable ({e}); plan the query again"),
            )
        })
    }

    /// The attributes to ask for when the filters sent are on `filtered_on` (None: no
    /// filter); None asks for all of them.
    pub fn attributes_to_get(&self, filtered_on: Option<&str>) -> Option<Vec<String>> {
        self.object.attributes_to_get(&self.columns, filtered_on)
    }

    /// What EXPLAIN shows of the plan: label and value, in order. `parallel_scan` is the
    /// option's value for this run; `param` names the plan's parameter `n` as PostgreSQL's
    /// own EXPLAIN does (`$1`, `n.name`). `ran`: what the latest run asked for (EXPLAIN
    /// ANALYZE), which follows what could be sent; otherwise what the plan expects to ask.
    pub fn describe(
        &self,
        parallel_scan: bool,
        param: &dyn Fn(usize) -> String,
        ran: Option<Ran>,
    ) -> Vec<(&'static str, Shown)> {
        // A lookup by another operation (GetGroup) is named as that operation, its values as
        // a lookup rather than a filter of the listing.
        let lookup = self.candidates.first().and_then(|c| c.lookup_operation());
        let fields: Vec<_> = self.columns.iter().map(|c| c.field.clone()).collect();
        let mut lines = vec![(
            "Cognito Request",
            Shown::Text(self.object.request_line(&fields, lookup)),
        )];
        match (self.candidates.first(), self.object.partitioning()) {
            (Some(best), _) => {
                let label = match lookup {
                    Some(_) => "Cognito Lookup",
                    None => "Cognito Filter",
                };
                lines.push((label, Shown::Text(best.describe_with(param))))
            }
            (None, Some(partitions)) if parallel_scan && !self.limited => lines.push((
                "Cognito Partitions",
                Shown::Text(format!(
                    "{} by {} when the pool holds over {} {}s",
                    partitions.filters.len(),
                    partitions.by,
                    partitions.above,
                    self.object.record_noun()
                )),
            )),
            (None, _) => {}
        }
        let (attributes, page_size) = match ran {
            Some(ran) => (ran.attributes, ran.page_size),
            None => (
                self.attributes_to_get(self.candidates.first().map(|c| c.attribute.as_str())),
                self.page_size,
            ),
        };
        // Shown only when fewer than all are asked for.
        if let Some(attributes) = attributes {
            lines.push(("Cognito Attributes", Shown::Text(attributes.join(", "))));
        }
        // A lookup reads one record per request: no page.
        // A lookup of one record per value has no pages to size.
        let one_per_value = self
            .candidates
            .first()
            .is_some_and(|c| c.lookup.is_some() && c.selectivity == Selectivity::Unique);
        if !one_per_value {
            lines.push(("Cognito Page Size", Shown::Integer(page_size.into())));
        }
        lines
    }
}

/// What a run of the scan asked for, where it may differ from the plan's expectation.
#[derive(Debug, Clone)]
pub struct Ran {
    pub page_size: i32,
    pub attributes: Option<Vec<String>>,
}

/// A value EXPLAIN shows: text, or a number that stays a number in FORMAT JSON and YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    Text(String),
    Integer(i64),
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shown::Text(text) => f.write_str(text),
            Shown::Integer(n) => write!(f, "{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::ColumnType;
    use crate::objects::users::USERS;
    use crate::objects::Field;
    use crate::pushdown::{Condition, Operand};

    #[test]
    fn survives_the_round_trip_through_the_plan() {
        let mut plan = RemotePlan::new(
            USERS,
            vec![ColumnPlan {
                index: 2,
                field: Field::Attribute("custom:tenant".into()),
                ty: ColumnType::Text,
                type_oid: pgrx::pg_sys::VARCHAROID.to_u32(),
                typmod: 7,
                domain: Some(16_400),
            }],
            true,
        );
        plan.candidates = crate::pushdown::rank(
            USERS,
            &[Condition::Equals(
                Field::Attribute("email".into()),
                Operand::Param(0),
            )],
        );
        assert_eq!(RemotePlan::decode(&plan.encode()).unwrap(), plan);
        let shown: Vec<String> = plan
            .describe(true, &|n| format!("$p{n}"), None)
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        assert_eq!(
            shown,
            [
                "Cognito Request: ListUsers",
                "Cognito Filter: email = $p0",
                "Cognito Page Size: 60"
            ]
        );
        assert_eq!(
            plan.describe(true, &|_| String::new(), None)[2],
            ("Cognito Page Size", Shown::Integer(60))
        );
        assert!(RemotePlan::decode("{").is_err());
    }

    #[test]
    fn a_lookup_by_another_operation_is_named_as_that_operation() {
        use crate::objects::groups::GROUPS;
        let mut plan = RemotePlan::new(GROUPS, Vec::new(), true);
        let lines = |plan: &RemotePlan| -> Vec<String> {
            plan.describe(true, &|n| format!("$p{n}"), None)
                .into_iter()
                .map(|(label, value)| format!("{label}: {value}"))
                .collect()
        };
        assert_eq!(
            lines(&plan),
            ["Cognito Request: ListGroups", "Cognito Page Size: 60"]
        );
        plan.candidates = crate::pushdown::rank(
            GROUPS,
            &[Condition::Equals(Field::GroupName, Operand::Param(0))],
        );
        assert_eq!(
            lines(&plan),
            [
                "Cognito Request: GetGroup",
                "Cognito Lookup: group_name = $p0"
            ]
        );
        let again = RemotePlan::decode(&plan.encode()).unwrap();
        assert_eq!(again, plan);
    }
}
