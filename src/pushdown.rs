//! What of a WHERE clause can travel to Cognito, and how it is written. Pure: no PostgreSQL.
//!
//! Two questions are kept apart, as pg_search does: `Condition::candidate` asks at plan time
//! whether a condition's *shape* can be pushed (the object says which fields its listing
//! filters on, how selective each is, whether it has a prefix filter); `Candidate::requests`
//! asks at execution time whether its *values* can (no quote or backslash, no control
//! character, short enough) and writes the filters in Cognito's filter syntax. A pushed
//! condition is always also checked by PostgreSQL, so a request may return more than asked,
//! never less.

use serde::{Deserialize, Serialize};

use crate::objects::{Field, Filter, Object, Selectivity};

/// Cognito accepts a filter of at most this many characters.
pub const MAX_FILTER_LEN: usize = 256;
/// An IN list fans out into one request per distinct value, up to this many.
pub const MAX_IN_VALUES: usize = 50;

/// Where a condition's value comes from: a constant of the query, or an expression (a
/// parameter) evaluated when the scan starts, at slot `n` of the plan's `fdw_exprs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operand {
    Const(Option<String>),
    Param(usize),
}

/// A condition on one column, as the planner hands it over (already recognised as `=`,
/// `LIKE`, `IN` on a deterministic-collation text column, or a boolean test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Equals(Field, Operand),
    Like(Field, Operand),
    In(Field, Vec<Operand>),
    /// `where col`, `where not col`, `col = true`.
    Flag(Field, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Op {
    /// `attr = "v"`
    Equals,
    /// `attr ^= "v"`
    Prefix,
}

/// A condition that the object's listing can express, ranked by how few records it is likely
/// to match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub rank: u8,
    pub selectivity: Selectivity,
    pub attribute: String,
    pub op: Op,
    /// More than one for IN lists; a LIKE pattern for `Prefix`.
    pub values: Vec<Operand>,
    /// Sent as another operation than the listing, one request per value (the object's
    /// `Filter::lookup`); None: written as the listing's filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<Lookup>,
}

/// An operation that takes a value as it is ("GetGroup" takes a group name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lookup {
    pub operation: String,
    /// The longest value the operation takes, in characters.
    pub max_len: usize,
}

impl Condition {
    /// Can this condition's shape become a filter of `object`'s listing?
    ///
    /// Ranks, fewest matches first: an equality on a unique key (0), an IN list of them (1),
    /// an equality on a few-match field (2) or an IN list (3), a prefix (5), an equality on a
    /// many-match field (6) or an IN list (7), a boolean test (8).
    pub fn candidate(&self, object: Object) -> Option<Candidate> {
        let candidate = |filter: Filter, rank: u8, op: Op, values: Vec<Operand>| Candidate {
            rank,
            selectivity: filter.selectivity,
            attribute: filter.attribute.to_owned(),
            op,
            values,
            lookup: filter.lookup.map(|(operation, max_len)| Lookup {
                operation: operation.to_owned(),
                max_len,
            }),
        };
        let equality_rank = |selectivity: Selectivity, list: bool| {
            let base = match selectivity {
                Selectivity::Unique => 0,
                Selectivity::Few => 2,
                Selectivity::Many => 6,
            };
            base + u8::from(list)
        };
        match self {
            Condition::Equals(field, value) => {
                let filter = object.filter(field)?;
                let rank = equality_rank(filter.selectivity, false);
                Some(candidate(filter, rank, Op::Equals, vec![value.clone()]))
            }
            Condition::In(field, values) if values.len() <= MAX_IN_VALUES => {
                let filter = object.filter(field)?;
                let rank = equality_rank(filter.selectivity, true);
                Some(candidate(filter, rank, Op::Equals, values.clone()))
            }
            Condition::In(..) => None,
            Condition::Like(field, pattern) => {
                let filter = object.filter(field).filter(|f| f.prefix)?;
                Some(candidate(filter, 5, Op::Prefix, vec![pattern.clone()]))
            }
            Condition::Flag(field, on) => {
                let (attribute, word) = object.flag_filter(field, *on)?;
                let filter = Filter {
                    attribute,
                    selectivity: Selectivity::Many,
                    prefix: false,
                    lookup: None,
                };
                Some(candidate(
                    filter,
                    8,
                    Op::Equals,
                    vec![Operand::Const(Some(word.into()))],
                ))
            }
        }
    }
}

/// The candidates worth trying, best first; the scan sends the first whose values can go.
/// Constants are judged now, so that EXPLAIN shows only what may really be sent.
pub fn rank(object: Object, conditions: &[Condition]) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = conditions
        .iter()
        .filter_map(|c| c.candidate(object))
        .filter(|c| c.may_travel())
        .collect();
    // Of two prefixes (`like 'ab%' and like 'abc%'`), the longer matches fewer records.
    candidates.sort_by_key(|c| (c.rank, std::cmp::Reverse(c.known_prefix_len())));
    candidates
}

/// What the scan asks Cognito, once values are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requests {
    /// No record can match (`col = NULL`, an IN list of NULLs): ask nothing.
    Nothing,
    /// One listing per filter; `None` lists everything.
    Filters(Vec<Option<String>>),
}

impl Candidate {
    /// A lookup: requests per value, not a listing to filter. An equality on a unique key
    /// (one record, one request per value), or one sent to an operation of its own that
    /// reads just that value's records (ListUsersInGroup for a group name: a page per 60).
    pub fn is_lookup(&self) -> bool {
        self.op == Op::Equals && (self.selectivity == Selectivity::Unique || self.lookup.is_some())
    }

    /// The operation each value is sent to, when not the listing's filter ("GetGroup").
    pub fn lookup_operation(&self) -> Option<&str> {
        self.lookup.as_ref().map(|l| l.operation.as_str())
    }

    /// The length of a constant prefix, 0 for anything else.
    fn known_prefix_len(&self) -> usize {
        match (self.op, self.values.as_slice()) {
            (Op::Prefix, [Operand::Const(Some(pattern))]) => {
                like_prefix(pattern).map_or(0, |p| p.chars().count())
            }
            _ => 0,
        }
    }

    /// False when every value is a constant and one of them cannot be sent.
    fn may_travel(&self) -> bool {
        let mut constants = Vec::new();
        for value in &self.values {
            match value {
                Operand::Const(v) => constants.push(v.clone()),
                Operand::Param(_) => return true,
            }
        }
        self.requests(&constants).is_some()
    }

    /// The filters for these values, or None when a value cannot travel safely.
    pub fn requests(&self, values: &[Option<String>]) -> Option<Requests> {
        let mut filters: Vec<Option<String>> = Vec::new();
        for value in values {
            let Some(value) = value else {
                // NULL never equals or matches anything.
                continue;
            };
            let text = match self.op {
                Op::Equals => value.as_str(),
                Op::Prefix => like_prefix(value)?,
            };
            let filter = Some(match &self.lookup {
                Some(lookup) => write_value(text, lookup.max_len)?,
                None => write_filter(&self.attribute, self.op, text)?,
            });
            if !filters.contains(&filter) {
                filters.push(filter);
            }
        }
        Some(if filters.is_empty() {
            Requests::Nothing
        } else {
            Requests::Filters(filters)
        })
    }

    /// The filter as EXPLAIN shows it: values of constants, `$n` for parameters (the plan's
    /// slot; EXPLAIN itself names them as PostgreSQL does, see `describe_with`).
    pub fn describe(&self) -> String {
        self.describe_with(&|n| format!("${}", n + 1))
    }

    /// The filter with parameter `n` shown as `param(n)`.
    pub fn describe_with(&self, param: &dyn Fn(usize) -> String) -> String {
        let shown: Vec<String> = self
            .values
            .iter()
            .map(|v| match v {
                Operand::Const(Some(text)) => match self.op {
                    Op::Equals => format!("\"{text}\""),
                    Op::Prefix => format!("\"{}\"", like_prefix(text).unwrap_or(text)),
                },
                Operand::Const(None) => "NULL".into(),
                Operand::Param(n) => param(*n),
            })
            .collect();
        let op = match self.op {
            Op::Equals => "=",
            Op::Prefix => "^=",
        };
        match shown.as_slice() {
            [one] => format!("{} {op} {one}", self.attribute),
            many => format!("{} {op} any of ({})", self.attribute, many.join(", ")),
        }
    }
}

/// `abc%` is the prefix `abc`; any other wildcard, or the escape character, is not a prefix.
pub fn like_prefix(pattern: &str) -> Option<&str> {
    let prefix = pattern.strip_suffix('%')?;
    if prefix.is_empty() || prefix.contains(['%', '_', '\\']) {
        return None;
    }
    Some(prefix)
}

/// `attr = "value"`, or None when the value cannot be sent so that every server reads it the
/// same: AWS wants `"` and `\` escaped and moto does not unescape, so such values stay local,
/// as do control characters, empty values and filters past the API's length limit.
pub fn write_filter(attribute: &str, op: Op, value: &str) -> Option<String> {
    if value.is_empty() || value.contains(['"', '\\']) || value.chars().any(char::is_control) {
        return None;
    }
    let op = match op {
        Op::Equals => "=",
        Op::Prefix => "^=",
    };
    let filter = format!("{attribute} {op} \"{value}\"");
    (filter.chars().count() <= MAX_FILTER_LEN).then_some(filter)
}

/// A value for an operation that takes it as it is, or None when no record can be named so
/// (empty, too long, or holding white space or control characters, which Cognito's names do
/// not): such a value is checked locally against a listing rather than sent, where the
/// operation would refuse it.
pub fn write_value(value: &str, max_len: usize) -> Option<String> {
    let unnameable = value.is_empty()
        || value.chars().count() > max_len
        || value.chars().any(|c| c.is_whitespace() || c.is_control());
    (!unnameable).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::users::USERS;

    fn attr(name: &str) -> Field {
        Field::Attribute(name.into())
    }

    fn c(value: &str) -> Operand {
        Operand::Const(Some(value.into()))
    }

    fn filters(candidate: &Candidate, values: &[&str]) -> Option<Requests> {
        let values: Vec<Option<String>> = values.iter().map(|v| Some(v.to_string())).collect();
        candidate.requests(&values)
    }

    fn one(filter: &str) -> Option<Requests> {
        Some(Requests::Filters(vec![Some(filter.into())]))
    }

    #[test]
    fn equality_on_filterable_attributes() {
        for (field, name) in [
            (Field::Username, "username"),
            (attr("email"), "email"),
            (attr("phone_number"), "phone_number"),
            (attr("name"), "name"),
            (attr("given_name"), "given_name"),
            (attr("family_name"), "family_name"),
            (attr("preferred_username"), "preferred_username"),
            (attr("sub"), "sub"),
        ] {
            let cand = Condition::Equals(field, c("v")).candidate(USERS).unwrap();
            assert_eq!(cand.attribute, name);
            assert_eq!(filters(&cand, &["Zoë"]), one(&format!("{name} = \"Zoë\"")));
        }
        let status = Condition::Equals(Field::UserStatus, c("CONFIRMED"))
            .candidate(USERS)
            .unwrap();
        assert_eq!(
            filters(&status, &["CONFIRMED"]),
            one("cognito:user_status = \"CONFIRMED\"")
        );
    }

    #[test]
    fn refused_shapes() {
        // Custom attributes and the other fields are not filterable.
        assert!(Condition::Equals(attr("custom:tenant"), c("acme"))
            .candidate(USERS)
            .is_none());
        assert!(Condition::Equals(attr("email_verified"), c("true"))
            .candidate(USERS)
            .is_none());
        assert!(Condition::Equals(Field::CreatedAt, c("x"))
            .candidate(USERS)
            .is_none());
        assert!(Condition::Equals(Field::AllAttributes, c("x"))
            .candidate(USERS)
            .is_none());
        assert!(Condition::Like(Field::UserStatus, c("CON%"))
            .candidate(USERS)
            .is_none());
        let long: Vec<Operand> = (0..=MAX_IN_VALUES).map(|i| c(&i.to_string())).collect();
        assert!(Condition::In(Field::Username, long)
            .candidate(USERS)
            .is_none());
    }

    #[test]
    fn enabled_becomes_status() {
        let on = Condition::Flag(Field::Enabled, true)
            .candidate(USERS)
            .unwrap();
        assert_eq!(
            on.requests(&[Some("Enabled".into())]),
            one("status = \"Enabled\"")
        );
        let off = Condition::Flag(Field::Enabled, false)
            .candidate(USERS)
            .unwrap();
        assert_eq!(off.describe(), "status = \"Disabled\"");
    }

    #[test]
    fn like_prefixes_only() {
        assert_eq!(like_prefix("abc%"), Some("abc"));
        for not_a_prefix in ["abc", "%abc", "a%c%", "a_c%", "a\\%%", "%", "abc%%", ""] {
            assert_eq!(like_prefix(not_a_prefix), None, "{not_a_prefix}");
        }
        let cand = Condition::Like(attr("email"), c("user00%"))
            .candidate(USERS)
            .unwrap();
        assert_eq!(filters(&cand, &["user00%"]), one("email ^= \"user00\""));
        assert_eq!(filters(&cand, &["%user"]), None);
        assert_eq!(cand.describe(), "email ^= \"user00\"");
    }

    #[test]
    fn unsafe_values_stay_local() {
        let cand = Condition::Equals(attr("family_name"), Operand::Param(0))
            .candidate(USERS)
            .unwrap();
        for bad in ["O\"Brien", "back\\slash", "tab\there", "line\nfeed", ""] {
            assert_eq!(filters(&cand, &[bad]), None, "{bad:?}");
        }
        assert!(filters(&cand, &["O'Brien"]).is_some());
        let long = "x".repeat(MAX_FILTER_LEN);
        assert_eq!(filters(&cand, &[&long]), None);
        let fits = "x".repeat(MAX_FILTER_LEN - "family_name = \"\"".len());
        assert!(filters(&cand, &[&fits]).is_some());
        assert_eq!(cand.describe(), "family_name = $1");
    }

    #[test]
    fn nulls_match_nothing_and_in_lists_fan_out_once_per_value() {
        let cand = Condition::In(Field::Username, vec![c("a"), c("b"), c("a")])
            .candidate(USERS)
            .unwrap();
        let values = [Some("a".into()), None, Some("b".into()), Some("a".into())];
        assert_eq!(
            cand.requests(&values),
            Some(Requests::Filters(vec![
                Some("username = \"a\"".into()),
                Some("username = \"b\"".into())
            ]))
        );
        assert_eq!(cand.requests(&[None, None]), Some(Requests::Nothing));
        // One unsafe value keeps the whole list local.
        assert_eq!(cand.requests(&[Some("a".into()), Some("\"".into())]), None);
        assert_eq!(cand.describe(), "username = any of (\"a\", \"b\", \"a\")");
    }

    #[test]
    fn the_most_selective_condition_ranks_first() {
        let conditions = vec![
            Condition::Flag(Field::Enabled, true),
            Condition::Equals(Field::UserStatus, c("CONFIRMED")),
            Condition::Like(attr("email"), c("a%")),
            Condition::Equals(attr("given_name"), c("Zoë")),
            Condition::In(attr("email"), vec![c("a"), c("b")]),
            Condition::Equals(attr("email"), c("a@example.com")),
            Condition::Equals(attr("custom:tenant"), c("acme")),
        ];
        let ranked: Vec<(String, u8)> = rank(USERS, &conditions)
            .into_iter()
            .map(|c| (c.attribute, c.rank))
            .collect();
        let names: Vec<&str> = ranked.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            names,
            [
                "email",
                "email",
                "given_name",
                "email",
                "cognito:user_status",
                "status"
            ]
        );
        assert!(ranked.windows(2).all(|w| w[0].1 <= w[1].1));
        // Constants that cannot travel are dropped at plan time; parameters wait.
        let conditions = vec![
            Condition::Like(Field::Username, c("user_01%")),
            Condition::Equals(attr("email"), c("has \"quotes\"")),
            Condition::Equals(attr("sub"), Operand::Param(0)),
        ];
        let ranked = rank(USERS, &conditions);
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].describe(), "sub = $1");
    }

    #[test]
    fn of_two_prefixes_the_longer_is_sent() {
        for conditions in [
            vec![
                Condition::Like(Field::Username, c("ab%")),
                Condition::Like(Field::Username, c("abc%")),
            ],
            vec![
                Condition::Like(Field::Username, c("abc%")),
                Condition::Like(Field::Username, c("ab%")),
            ],
        ] {
            let ranked = rank(USERS, &conditions);
            assert_eq!(ranked[0].describe(), "username ^= \"abc\"");
            assert_eq!(
                ranked[0].requests(&[Some("abc%".into())]),
                one("username ^= \"abc\"")
            );
        }
        // Across attributes too, and a parameter (length unknown) comes after a known prefix;
        // a lookup still beats any prefix.
        let ranked = rank(
            USERS,
            &[
                Condition::Like(Field::Username, Operand::Param(0)),
                Condition::Like(attr("email"), c("a%")),
                Condition::Like(attr("given_name"), c("Zoë%")),
            ],
        );
        let shown: Vec<String> = ranked.iter().map(Candidate::describe).collect();
        assert_eq!(
            shown,
            ["given_name ^= \"Zoë\"", "email ^= \"a\"", "username ^= $1"]
        );
        let ranked = rank(
            USERS,
            &[
                Condition::Like(Field::Username, c("abcdef%")),
                Condition::Equals(attr("email"), c("a@example.com")),
            ],
        );
        assert_eq!(ranked[0].attribute, "email");
    }
}

#[cfg(test)]
mod properties {
    //! The filter writer and the LIKE reading checked against expectations written apart
    //! from the code: the two ways a server reads a filter (moto's regular expression, AWS's
    //! escaping grammar), the README's rule for what may be sent, and a LIKE matcher with
    //! PostgreSQL's semantics. Values are built from the characters that matter.
    use super::*;
    use proptest::prelude::*;

    const ATTRIBUTES: &[&str] = &[
        "username",
        "email",
        "sub",
        "given_name",
        "cognito:user_status",
    ];

    /// Characters that a filter or a LIKE pattern can trip on, beside ordinary ones.
    const NASTY: &[char] = &[
        '"', '\\', '\'', '%', '_', '\0', '\t', '\n', '\r', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}',
        '\u{a0}', '\u{200b}', '\u{2028}', '\u{feff}', 'é', 'ß', 'İ', '山', '🦀', ' ', '=', '^',
    ];

    fn op_text(op: Op) -> &'static str {
        match op {
            Op::Equals => "=",
            Op::Prefix => "^=",
        }
    }

    /// Unicode's control characters (general category Cc), spelled out.
    fn is_cc(c: char) -> bool {
        matches!(c as u32, 0x00..=0x1f | 0x7f..=0x9f)
    }

    /// The README's rule: a value is sent unless it is empty, holds `"`, `\` or a control
    /// character, or the filter would pass 256 characters.
    fn sendable(attribute: &str, op: Op, value: &str) -> bool {
        let length = attribute.chars().count() + op_text(op).len() + value.chars().count() + 4;
        !value.is_empty()
            && !value.contains(['"', '\\'])
            && !value.chars().any(is_cc)
            && length <= 256
    }

    /// moto 5.2.5's reading: `re.match(r"([\w:]+)\s*(=|\^=)\s*\"(.*)\"", filt)`, where `.`
    /// is any character but a newline and is greedy (the value runs to the last quote).
    fn moto_reads(filter: &str) -> Option<(String, Op, String)> {
        let name_end = filter
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(filter.len());
        let (name, rest) = filter.split_at(name_end);
        let rest = rest.trim_start();
        let (op, rest) = match rest.strip_prefix("^=") {
            Some(r) => (Op::Prefix, r),
            None => (Op::Equals, rest.strip_prefix('=')?),
        };
        let rest = rest.trim_start().strip_prefix('"')?;
        let line = rest.split('\n').next().unwrap_or("");
        let value = &line[..line.rfind('"')?];
        (!name.is_empty()).then(|| (name.to_owned(), op, value.to_owned()))
    }

    /// AWS's documented grammar: `AttributeName Filter-Type "AttributeValue"`, a backslash
    /// escaping the next character, the closing quote ending the filter.
    fn aws_reads(filter: &str) -> Option<(String, Op, String)> {
        let (name, rest) = filter.split_once(' ')?;
        let (op, rest) = rest.split_once(' ')?;
        let op = match op {
            "=" => Op::Equals,
            "^=" => Op::Prefix,
            _ => return None,
        };
        let mut chars = rest.strip_prefix('"')?.chars();
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => value.push(chars.next()?),
                '"' => break,
                c => value.push(c),
            }
        }
        chars.next().is_none().then(|| (name.to_owned(), op, value))
    }

    /// PostgreSQL's LIKE with its default escape `\`: `%` any run, `_` one character.
    /// None for a pattern that ends in a lone escape (PostgreSQL raises an error).
    fn like(subject: &[char], pattern: &[char]) -> Option<bool> {
        match pattern.split_first() {
            None => Some(subject.is_empty()),
            Some(('%', rest)) => {
                for skip in 0..=subject.len() {
                    if like(&subject[skip..], rest)? {
                        return Some(true);
                    }
                }
                Some(false)
            }
            Some(('_', rest)) => match subject.split_first() {
                Some((_, tail)) => like(tail, rest),
                None => like_never(rest),
            },
            Some(('\\', rest)) => {
                let (&want, rest) = rest.split_first()?;
                match subject.split_first() {
                    Some((&c, tail)) if c == want => like(tail, rest),
                    _ => like_never(rest),
                }
            }
            Some((&want, rest)) => match subject.split_first() {
                Some((&c, tail)) if c == want => like(tail, rest),
                _ => like_never(rest),
            },
        }
    }

    /// False, unless the rest of the pattern is malformed (then None, as PostgreSQL errors).
    fn like_never(pattern: &[char]) -> Option<bool> {
        let mut chars = pattern.iter();
        while let Some(c) = chars.next() {
            if *c == '\\' {
                chars.next()?;
            }
        }
        Some(false)
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                4 => proptest::sample::select(NASTY),
                4 => proptest::char::range('a', 'e'),
                1 => any::<char>(),
            ],
            0..max,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    /// Values of every length around the 256-character limit, or short and nasty.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => text(12),
            1 => (proptest::sample::select(&['a', 'é', '山', '🦀'][..]), 225usize..250)
                .prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
        ]
    }

    #[test]
    fn the_readers_and_the_matcher_are_right_on_known_cases() {
        // The oracles are code too: pin them on cases worked out by hand.
        assert_eq!(
            moto_reads("email = \"a\"b\""),
            Some(("email".into(), Op::Equals, "a\"b".into()))
        );
        assert_eq!(moto_reads("email = \"a\nb\""), None);
        assert_eq!(
            aws_reads("email ^= \"a\\\"b\""),
            Some(("email".into(), Op::Prefix, "a\"b".into()))
        );
        assert_eq!(aws_reads("email = \"a\"b\""), None);
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(like(&chars("abc"), &chars("a%")), Some(true));
        assert_eq!(like(&chars("abc"), &chars("a_c")), Some(true));
        assert_eq!(like(&chars("a_c"), &chars("a\\_c")), Some(true));
        assert_eq!(like(&chars("abc"), &chars("a\\_c")), Some(false));
        assert_eq!(like(&chars("ab"), &chars("a_%")), Some(true));
        assert_eq!(like(&chars("a"), &chars("a_%")), Some(false));
        assert_eq!(like(&chars("a"), &chars("a\\")), None);
    }

    #[test]
    fn filters_by_hand() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Zoë", Some("email = \"Zoë\"")),
            ("O'Brien", Some("email = \"O'Brien\"")),
            // Cognito's `=` knows no wildcards: they travel as they are.
            ("50%_off", Some("email = \"50%_off\"")),
            ("a\u{a0}b", Some("email = \"a\u{a0}b\"")),
            ("🦀", Some("email = \"🦀\"")),
            ("", None),
            ("say \"hi\"", None),
            ("C:\\Users", None),
            ("tab\there", None),
            ("nul\0", None),
            ("del\u{7f}", None),
            ("nel\u{85}", None),
            ("c1\u{9f}", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                write_filter("email", Op::Equals, value).as_deref(),
                *want,
                "{value:?}"
            );
        }
        let room = 256 - "email = \"\"".len();
        assert!(write_filter("email", Op::Equals, &"山".repeat(room)).is_some());
        assert!(write_filter("email", Op::Equals, &"山".repeat(room + 1)).is_none());
        let room = 256 - "email ^= \"\"".len();
        assert!(write_filter("email", Op::Prefix, &"a".repeat(room)).is_some());
        assert!(write_filter("email", Op::Prefix, &"a".repeat(room + 1)).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// A value is written exactly when the README says it may be sent, and then moto and
        /// AWS both read back the attribute, the operator and the value as given.
        #[test]
        fn filters_are_written_when_sendable_and_read_alike_everywhere(
            attribute in proptest::sample::select(ATTRIBUTES),
            prefix in any::<bool>(),
            value in value(),
        ) {
            let op = if prefix { Op::Prefix } else { Op::Equals };
            let written = write_filter(attribute, op, &value);
            prop_assert_eq!(written.is_some(), sendable(attribute, op, &value), "{:?}", written);
            if let Some(filter) = written {
                let want = Some((attribute.to_owned(), op, value.clone()));
                prop_assert_eq!(moto_reads(&filter), want.clone());
                prop_assert_eq!(aws_reads(&filter), want);
            }
        }

        /// A pattern taken for a prefix matches, under LIKE, exactly the strings that start
        /// with it; a plain literal followed by `%` is always taken.
        #[test]
        fn like_prefixes_match_what_like_matches(
            pattern in text(7).prop_map(|p| if p.len() % 2 == 0 { p + "%" } else { p }),
            subjects in proptest::collection::vec(text(9), 1..12),
            tails in proptest::collection::vec(text(4), 1..4),
        ) {
            let pattern_chars: Vec<char> = pattern.chars().collect();
            match like_prefix(&pattern) {
                Some(prefix) => {
                    let mut all = subjects.clone();
                    for tail in &tails {
                        all.push(format!("{prefix}{tail}"));
                        let mut cut: String = prefix.chars().collect();
                        cut.pop();
                        all.push(cut + tail);
                    }
                    for subject in &all {
                        let chars: Vec<char> = subject.chars().collect();
                        prop_assert_eq!(like(&chars, &pattern_chars),
                                        Some(subject.starts_with(prefix)),
                                        "{:?} LIKE {:?}", subject, pattern);
                    }
                }
                None => {
                    let literal = pattern.strip_suffix('%').unwrap_or("");
                    prop_assert!(literal.is_empty() || literal.contains(['%', '_', '\\']),
                                 "{:?} means starts with {:?}", pattern, literal);
                }
            }
        }
    }
}
