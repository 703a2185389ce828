//! What one run of a scan asks Cognito: a pure decision from the plan, the parameter values
//! and the run's settings. The executor (`fdw/scan.rs`) evaluates parameters, asks `decide`,
//! and carries out the answer; where the answer depends on the table's size, it learns the
//! size (from memory, or alongside the first page) and asks `partition`.

use crate::objects::ListRequest;
use crate::options::ScanSettings;
use crate::pushdown::{Operand, Requests};
use crate::remote_plan::RemotePlan;

/// Partition a whole listing only when its share of the rate needs this many requests in
/// flight: below it, one stream comes close and partitions' part-filled pages cost more than
/// they gain.
pub const PARTITION_FROM_STREAMS: usize = 3;

/// One listing to open, and what EXPLAIN ANALYZE says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub listing: ListRequest,
    /// Several streams may return the same record (an IN list under case-insensitive
    /// matching): repeats are dropped by the record's identity. False when the streams are
    /// disjoint.
    pub dedupe: bool,
    /// What was sent, as EXPLAIN ANALYZE shows it.
    pub sent: String,
    /// Each filter sent ("none" for a whole listing), for counting distinct ones over runs.
    pub filters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Open(Request),
    /// Everything is listed, and the table's size decides how (`partition`): in partitions
    /// when it is large, else in one stream.
    BySize {
        sequential: Request,
        partitioned: Request,
    },
}

/// What to ask Cognito for this run. `evaluate` gives an operand's value now; it is called
/// for the candidates in order, until one whose values can travel is found (a later
/// candidate's parameters, an initplan's result perhaps, are not evaluated for nothing).
pub fn decide(
    plan: &RemotePlan,
    settings: &ScanSettings,
    use_remote_estimate: bool,
    evaluate: &mut dyn FnMut(&Operand) -> Option<String>,
) -> Decision {
    let max_page_size = plan.object.max_page_size();
    let max_in_flight = if plan.limited {
        1
    } else {
        settings.max_concurrent_requests as usize
    };
    let request = |filters: Vec<Option<String>>,
                   filtered_on: Option<&str>,
                   page_size: i32,
                   sent: String,
                   written: Vec<String>| Request {
        listing: ListRequest {
            filters,
            // `filtered_on`: the attribute the filters are on, which every record they
            // return holds.
            attributes: plan.attributes_to_get(filtered_on),
            filtered_on: filtered_on.map(str::to_owned),
            fields: plan.columns.iter().map(|c| c.field.clone()).collect(),
            page_size,
            max_in_flight,
        },
        dedupe: false,
        sent,
        filters: written,
    };
    let chosen = plan
        .candidates
        .iter()
        .enumerate()
        .find_map(|(index, candidate)| {
            let values: Vec<Option<String>> = candidate.values.iter().map(&mut *evaluate).collect();
            candidate.requests(&values).map(|r| (index, r))
        });
    match chosen {
        Some((_, Requests::Nothing)) => Decision::Open(request(
            Vec::new(),
            None,
            max_page_size,
            "nothing: no value can match".to_owned(),
            Vec::new(),
        )),
        Some((index, Requests::Filters(filters))) => {
            // The plan's page size was cut to the LIMIT on the assumption that its first
            // candidate is sent and so every row returned is wanted; otherwise rows are
            // filtered locally and a cut page would cost a request per few rows.
            let page_size = if index == 0 {
                plan.page_size
            } else {
                max_page_size
            };
            let candidate = &plan.candidates[index];
            let attribute = candidate.attribute.as_str();
            // A lookup's values are sent as they are; shown the way a filter is.
            let written: Vec<String> = filters
                .iter()
                .flatten()
                .map(|value| match candidate.lookup {
                    Some(_) => format!("{attribute} = \"{value}\""),
                    None => value.clone(),
                })
                .collect();
            let fan_out = filters.len() > 1;
            let mut request = request(
                filters,
                Some(attribute),
                page_size,
                written.join(", "),
                written,
            );
            request.dedupe = fan_out;
            Decision::Open(request)
        }
        None => {
            // With no condition at all, every row listed is wanted and the plan's page size
            // (cut to a LIMIT) stands; with conditions whose values could not be sent, every
            // row is checked locally, and pages are read whole.
            let page_size = if plan.candidates.is_empty() {
                plan.page_size
            } else {
                max_page_size
            };
            let sequential = request(
                vec![None],
                None,
                page_size,
                "none".to_owned(),
                vec!["none".to_owned()],
            );
            // Under a LIMIT, rows are read lazily, one request at a time; without an estimate
            // the size is never known.
            let partitioning = plan.object.partitioning();
            let Some(partitioning) = partitioning
                .filter(|_| settings.parallel_scan && !plan.limited && use_remote_estimate)
            else {
                return Decision::Open(sequential);
            };
            let sent = format!(
                "{} partitions by {}",
                partitioning.filters.len(),
                partitioning.by
            );
            let written = partitioning.filters.clone();
            let partitioned = request(
                partitioning.filters.into_iter().map(Some).collect(),
                Some(partitioning.attribute),
                max_page_size,
                sent,
                written,
            );
            Decision::BySize {
                sequential,
                partitioned,
            }
        }
    }
}

/// Whether a whole listing of a table of `rows` records (None: unknown) is read in
/// partitions, when reaching the run's share of the rate needs `streams` requests in flight.
/// Partitions cost a part-filled page each: worth it only for a large table, and only when
/// several requests must be in flight, unless `parallel_scan` is `on`.
pub fn partition(
    plan: &RemotePlan,
    settings: &ScanSettings,
    rows: Option<u64>,
    streams: usize,
) -> bool {
    let Some(partitioning) = plan.object.partitioning() else {
        return false;
    };
    rows.is_some_and(|r| r > partitioning.above)
        && (settings.always_partition || streams >= PARTITION_FROM_STREAMS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::ColumnType;
    use crate::objects::users::USERS;
    use crate::objects::{ColumnPlan, Field};
    use crate::pushdown::{rank, Condition};

    fn c(value: &str) -> Operand {
        Operand::Const(Some(value.into()))
    }

    /// A plan reading username and email under `conditions`.
    fn plan(conditions: &[Condition]) -> RemotePlan {
        let columns = [Field::Username, Field::Attribute("email".into())]
            .into_iter()
            .enumerate()
            .map(|(index, field)| ColumnPlan {
                index,
                field,
                ty: ColumnType::Text,
                type_oid: pgrx::pg_sys::TEXTOID.to_u32(),
                typmod: -1,
                domain: None,
            })
            .collect();
        let mut plan = RemotePlan::new(USERS, columns, true);
        plan.candidates = rank(USERS, conditions);
        plan
    }

    fn settings() -> ScanSettings {
        ScanSettings::resolve(&[], &[])
    }

    /// Parameter n evaluates to `params[n]`; evaluations are counted.
    fn run(plan: &RemotePlan, params: &[Option<&str>], calls: &mut usize) -> Decision {
        decide(plan, &settings(), true, &mut |operand| match operand {
            Operand::Const(value) => value.clone(),
            Operand::Param(n) => {
                *calls += 1;
                params[*n].map(str::to_owned)
            }
        })
    }

    fn opened(decision: Decision) -> Request {
        match decision {
            Decision::Open(request) => request,
            other => panic!("not one listing: {other:?}"),
        }
    }

    #[test]
    fn the_first_candidate_is_sent_with_the_plans_page_size() {
        let mut plan = plan(&[
            Condition::Equals(Field::Username, Operand::Param(0)),
            Condition::Like(Field::Attribute("email".into()), c("a%")),
        ]);
        plan.page_size = 5;
        let mut calls = 0;
        let request = opened(run(&plan, &[Some("ada")], &mut calls));
        assert_eq!(calls, 1);
        assert_eq!(
            request.listing,
            ListRequest {
                filters: vec![Some("username = \"ada\"".into())],
                // email is read and may be missing from a user the filter returns: all.
                attributes: None,
                filtered_on: Some("username".into()),
                fields: vec![Field::Username, Field::Attribute("email".into())],
                page_size: 5,
                max_in_flight: 8,
            }
        );
        assert_eq!(request.sent, "username = \"ada\"");
        assert_eq!(request.filters, ["username = \"ada\""]);
        assert!(!request.dedupe);
    }

    #[test]
    fn a_later_candidate_is_sent_when_the_first_cannot_travel_and_reads_whole_pages() {
        let mut plan = plan(&[
            Condition::Equals(Field::Username, Operand::Param(0)),
            Condition::Like(Field::Attribute("email".into()), c("a%")),
        ]);
        plan.page_size = 5;
        let mut calls = 0;
        let request = opened(run(&plan, &[Some("has \"quotes\"")], &mut calls));
        assert_eq!(request.listing.filters, [Some("email ^= \"a\"".into())]);
        assert_eq!(request.listing.page_size, 60);
        // The filter's attribute is held by every user it returns, so it may be asked for.
        assert_eq!(
            request.listing.attributes,
            Some(vec!["email".into(), "sub".into()])
        );
    }

    #[test]
    fn later_candidates_are_not_evaluated_once_one_is_sent() {
        let plan = plan(&[
            Condition::Equals(Field::Username, Operand::Param(0)),
            Condition::Equals(Field::Attribute("email".into()), Operand::Param(1)),
        ]);
        let mut calls = 0;
        opened(run(
            &plan,
            &[Some("ada"), Some("a@example.com")],
            &mut calls,
        ));
        assert_eq!(calls, 1);
    }

    #[test]
    fn in_lists_fan_out_and_drop_repeats() {
        let plan = plan(&[Condition::In(
            Field::Username,
            vec![c("a"), Operand::Param(0)],
        )]);
        let request = opened(run(&plan, &[Some("b")], &mut 0));
        assert_eq!(request.listing.filters.len(), 2);
        assert!(request.dedupe);
        assert_eq!(request.sent, "username = \"a\", username = \"b\"");
    }

    #[test]
    fn a_group_lookup_sends_each_name_as_it_is_and_shows_it_as_a_filter() {
        use crate::objects::groups::GROUPS;
        let mut plan = RemotePlan::new(GROUPS, Vec::new(), true);
        plan.candidates = rank(
            GROUPS,
            &[Condition::In(
                Field::GroupName,
                vec![c("admins"), Operand::Param(0), c("admins")],
            )],
        );
        let request = opened(run(&plan, &[Some("ops")], &mut 0));
        assert_eq!(
            request.listing.filters,
            [Some("admins".into()), Some("ops".into())]
        );
        assert_eq!(
            request.sent,
            "group_name = \"admins\", group_name = \"ops\""
        );
        assert!(request.dedupe);
        assert_eq!(request.listing.attributes, None);
        // A name no group can have is not sent: every group is listed and checked locally.
        let request = opened(run(&plan, &[Some("two words")], &mut 0));
        assert_eq!(request.listing.filters, [None]);
        assert_eq!(request.sent, "none");
    }

    #[test]
    fn nothing_is_asked_when_no_value_can_match() {
        let plan = plan(&[Condition::Equals(Field::Username, Operand::Param(0))]);
        let request = opened(run(&plan, &[None], &mut 0));
        assert!(request.listing.filters.is_empty());
        assert_eq!(request.sent, "nothing: no value can match");
        assert!(request.filters.is_empty());
        assert_eq!(request.listing.page_size, 60);
    }

    #[test]
    fn no_condition_lists_everything_in_one_stream_or_in_partitions_by_size() {
        let mut plan = plan(&[]);
        plan.page_size = 7;
        let Decision::BySize {
            sequential,
            partitioned,
        } = run(&plan, &[], &mut 0)
        else {
            panic!("no choice by size")
        };
        assert_eq!(sequential.listing.filters, [None]);
        assert_eq!(sequential.listing.page_size, 7);
        assert_eq!(sequential.sent, "none");
        assert_eq!(sequential.filters, ["none"]);
        assert_eq!(sequential.listing.attributes, None);
        assert_eq!(partitioned.listing.filters.len(), 16);
        assert_eq!(
            partitioned.listing.filters[10].as_deref(),
            Some("sub ^= \"a\"")
        );
        assert_eq!(partitioned.listing.page_size, 60);
        assert_eq!(partitioned.sent, "16 partitions by sub prefix");
        assert!(!partitioned.dedupe);
        assert_eq!(partitioned.listing.max_in_flight, 8);
    }

    #[test]
    fn conditions_that_cannot_travel_list_everything_with_whole_pages() {
        let mut plan = plan(&[Condition::Equals(Field::Username, Operand::Param(0))]);
        plan.page_size = 7;
        let Decision::BySize { sequential, .. } = run(&plan, &[Some("\\")], &mut 0) else {
            panic!("no choice by size")
        };
        assert_eq!(sequential.listing.page_size, 60);
    }

    #[test]
    fn a_limit_reads_one_request_at_a_time_and_never_partitions() {
        let mut plan = plan(&[]);
        plan.limited = true;
        plan.page_size = 3;
        let request = opened(run(&plan, &[], &mut 0));
        assert_eq!(request.listing.max_in_flight, 1);
        assert_eq!(request.listing.page_size, 3);
        assert_eq!(request.listing.filters, [None]);
    }

    #[test]
    fn partitions_need_parallel_scan_and_an_estimate() {
        let plan = plan(&[]);
        let mut off = settings();
        off.parallel_scan = false;
        let evaluate = &mut |_: &Operand| None;
        assert!(matches!(
            decide(&plan, &off, true, evaluate),
            Decision::Open(_)
        ));
        assert!(matches!(
            decide(&plan, &settings(), false, evaluate),
            Decision::Open(_)
        ));
    }

    #[test]
    fn a_large_table_is_partitioned_when_the_rate_needs_several_streams_or_when_on() {
        let plan = plan(&[]);
        let auto = settings();
        let mut on = settings();
        on.always_partition = true;
        assert!(partition(&plan, &auto, Some(2001), PARTITION_FROM_STREAMS));
        assert!(!partition(
            &plan,
            &auto,
            Some(2001),
            PARTITION_FROM_STREAMS - 1
        ));
        assert!(partition(&plan, &on, Some(2001), 1));
        // Small or unknown: one stream, whatever the setting.
        assert!(!partition(&plan, &on, Some(2000), 10));
        assert!(!partition(&plan, &on, None, 10));
    }
}
