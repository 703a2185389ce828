//! The only code that talks to AWS.
//!
//! It builds one client per server (own credentials, region, endpoint, timeouts and retries),
//! pages through list operations, and turns SDK failures into `FdwError`s that say what
//! happened and where. It returns plain Rust values and never calls into PostgreSQL, except
//! through `runtime::wait`, which checks for interrupts between slices of waiting.

pub mod client;
pub mod estimate;
pub mod groups;
pub mod listing;
pub mod quota;
pub mod rate;
pub mod runtime;
pub mod user_pools;
pub mod users;

pub use client::CognitoClient;
pub use groups::{Group, GroupPager};
pub use listing::{Listing, Pager};
pub use users::{User, UserPager};
