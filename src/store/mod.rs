//! Storage: the seam the `app` layer writes through, and its backends.
//!
//! `app` code sees only [`Backend`] (open a transaction) and [`Tx`] (named operations
//! and `commit`), never SQL or a driver type. Each backend keeps its SQL, migrations and
//! pragmas to itself: `sqlite/` (the embedded default) and `postgres/` (server mode).
pub mod ops;
pub mod postgres;
pub mod sqlite;

pub use ops::{Backend, Tx};
pub use sqlite::Store;

/// The newest schema version this binary writes.
pub const LATEST_SCHEMA: i64 = sqlite::migrate::LATEST;

// The record types the operations take and give (plain data, shared by backends).
pub use crate::domain::customer::Customer;
pub use crate::domain::roles::User;
pub use ops::audit::{LogFilter, LogRow};
pub use ops::customers::{ListFilter, Placement, Sort};

/// Opens the database at `path` for the doctor: read-only, not migrated, as far as a
/// damaged file allows.
pub fn diagnose(
    path: &std::path::Path,
) -> crate::error::Result<Box<dyn ops::maintenance::Diagnosis>> {
    Ok(Box::new(sqlite::maintenance::Diagnose::open(path)?))
}
