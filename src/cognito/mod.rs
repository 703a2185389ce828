//! The only code that talks to AWS.
//!
//! It builds one client per server (own credentials, region, endpoint, timeouts and retries),
//! pages through list operations, and turns SDK failures into `FdwError`s that say what
//! happened and where. It returns plain Rust values and never calls into PostgreSQL, except
//! through `runtime::wait`, which checks for interrupts between slices of waiting.

pub mod app_clients;
pub mod client;
pub mod estimate;
pub mod groups;
pub mod identity_providers;
pub mod listing;
pub mod members;
pub mod not_found;
pub mod quota;
pub mod rate;
pub mod runtime;
pub mod user_pools;
pub mod users;
pub mod writes;

pub use app_clients::{AppClient, ClientPager};
pub use client::CognitoClient;
pub use groups::{Group, GroupPager};
pub use identity_providers::{IdentityProvider, ProviderPager};
pub use listing::{Listing, Pager};
pub use members::{GroupMembersPager, Member, UserGroupsPager};
pub use users::{User, UserPager};
