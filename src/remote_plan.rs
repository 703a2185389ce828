//! What the planner decided for one scan, carried inside the plan.
//!
//! A cached plan may run a thousand times, in other memory contexts than the one it was made
//! in, so the plan holds no pointer: the `RemotePlan` travels as one JSON string node in
//! `fdw_private`, which `copyObject` copies like any other node.

use pgrx::PgSqlErrorCode::*;
use serde::{Deserialize, Serialize};

use crate::error::{FdwError, FdwResult};
use crate::objects::{ColumnPlan, Object};

/// ListUsers returns at most 60 users a request.
pub const MAX_PAGE_SIZE: i32 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePlan {
    pub object: Object,
    /// One entry per live column of the table, in attribute order.
    pub columns: Vec<ColumnPlan>,
    pub page_size: i32,
}

impl RemotePlan {
    pub fn new(object: Object, columns: Vec<ColumnPlan>) -> RemotePlan {
        RemotePlan {
            object,
            columns,
            page_size: MAX_PAGE_SIZE,
        }
    }

    pub fn encode(&self) -> String {
        // Serialising plain enums, strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(text: &str) -> FdwResult<RemotePlan> {
        serde_json::from_str(text).map_err(|e| {
            FdwError::new(
                ERRCODE_FDW_ERROR,
                format!("the plan of this foreign scan is unreadable ({e}); plan the query again"),
            )
        })
    }

    /// The request as EXPLAIN shows it.
    pub fn describe(&self) -> String {
        match self.object {
            Object::Users => format!("ListUsers (page size {})", self.page_size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::ColumnType;
    use crate::objects::Field;

    #[test]
    fn survives_the_round_trip_through_the_plan() {
        let plan = RemotePlan::new(
            Object::Users,
            vec![ColumnPlan {
                index: 2,
                field: Field::Attribute("custom:tenant".into()),
                ty: ColumnType::Text,
            }],
        );
        assert_eq!(RemotePlan::decode(&plan.encode()).unwrap(), plan);
        assert_eq!(plan.describe(), "ListUsers (page size 60)");
        assert!(RemotePlan::decode("{").is_err());
    }
}
