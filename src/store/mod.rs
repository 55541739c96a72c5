//! Storage: the seam the `app` layer writes through, and its backends.
//!
//! `app` code sees only [`Backend`] (open a transaction) and [`Tx`] (named operations
//! and `commit`), never SQL or a driver type. Each backend keeps its SQL, migrations and
//! pragmas to itself: `sqlite/` today; a second one implements the same traits.
pub mod ops;
pub mod sqlite;

pub use ops::{Backend, Tx};
pub use sqlite::Store;

// The record types the operations take and give (plain data, shared by backends).
pub use crate::domain::customer::Customer;
pub use crate::domain::roles::User;
pub use sqlite::audit::{LogFilter, LogRow};
pub use sqlite::customers::{ListFilter, Placement, Sort};

// Paths the rest of the crate used before the seam; they go as each command moves to
// `app`.
pub use sqlite::{
    audit, busy_timeout, busy_timeout_checked, customers, dedupe, demo, merge, migrate, pool,
    reports, safety, teams, users, work, MAX_BUSY_TIMEOUT_SECS,
};
