//! The seam between `app` and a storage backend (TaskChampion's `StorageTxn` is the
//! model): a [`Backend`] hands out transactions, a [`Tx`] offers named operations and
//! `commit`. Operations take and give plain data; SQL, drivers and pragmas stay in the
//! backend. Operations take `&mut self` so a client whose transaction needs exclusive
//! access (PostgreSQL's) can implement them.
//!
//! The operations are grouped by job, one trait per file; `Tx` is all of them.
pub mod audit;
pub mod contacts;
pub mod customers;
pub mod fields;
pub mod import;
pub mod maintenance;
pub mod matching;
pub mod merge;
pub mod notify;
pub mod people;
pub mod pool;
pub mod recycle;
pub mod reports;
pub mod rules;
pub mod settings;
pub mod work;

pub use audit::AuditOps;
pub use contacts::ContactOps;
pub use customers::CustomerOps;
pub use fields::FieldOps;
pub use import::ImportOps;
pub use matching::MatchingOps;
pub use merge::MergeOps;
pub use notify::NotifyOps;
pub use people::PeopleOps;
pub use pool::PoolOps;
pub use recycle::RecycleOps;
pub use reports::ReportOps;
pub use rules::RulesOps;
pub use settings::SettingsOps;
pub use work::WorkOps;

use crate::error::Result;

/// One unit of work: every operation in it commits together or not at all. Dropped
/// without `commit`, it rolls back.
pub trait Tx:
    AuditOps
    + ContactOps
    + CustomerOps
    + FieldOps
    + ImportOps
    + MatchingOps
    + MergeOps
    + NotifyOps
    + PeopleOps
    + PoolOps
    + RecycleOps
    + ReportOps
    + RulesOps
    + SettingsOps
    + WorkOps
{
    fn commit(self: Box<Self>) -> Result<()>;
}

/// A database the app can work on.
pub trait Backend: maintenance::Maintenance {
    /// A write transaction that holds the right to write from its start, so a decision
    /// made in it cannot be invalidated by another writer before it commits. Refused
    /// under a simulated clock (`POOL_NOW`) unless [`Backend::allow_simulated_clock`].
    fn write(&mut self) -> Result<Box<dyn Tx + '_>>;
    /// A write transaction that records no dated change, or is rolled back (the first
    /// admin, a dry run): allowed under a simulated clock.
    fn write_unchecked(&mut self) -> Result<Box<dyn Tx + '_>>;
    /// A read-only snapshot: every read in it sees the same committed state.
    fn read(&mut self) -> Result<Box<dyn Tx + '_>>;
    /// Whether changes may be dated by `POOL_NOW` (the OS account is a pool admin).
    fn allow_simulated_clock(&mut self, allowed: bool);
    /// Where the data is, for messages (a file path; a server address without password).
    fn location(&self) -> String;
    /// The OS account behind a process that acts as another user (`--as`): every audit
    /// row written from now on names it beside the actor.
    fn act_for(&mut self, os_user: &str);
    /// Makes erased personal data unrecoverable from the backend's files once the erasing
    /// transaction has committed (SQLite: old page images linger in the WAL). Best
    /// effort: a reader still open may hold some old data back for a while.
    fn purge_erased(&mut self) -> Result<()>;
    /// The schema version the data is at.
    fn schema_version(&mut self) -> Result<i64>;
    /// On a server that proves who connects (PostgreSQL): the login, which is the acting
    /// user. None for a file (the OS account decides).
    fn server_login(&self) -> Option<String> {
        None
    }
    /// On a server: the checks of its security setup for `pool doctor` (row level
    /// security, grants, triggers…). None for a file (the file checks apply).
    fn server_checks(&mut self) -> Result<Option<Vec<maintenance::ServerCheck>>> {
        Ok(None)
    }
    /// On a server that decides claims itself: claims, in one transaction, every id of
    /// `ids` the server's rules allow, in order; for each id whether it was claimed. An
    /// id not claimed is untouched (the caller takes the one-by-one path, which explains
    /// it). None where there is no such path (a file: the app decides every claim).
    fn claim_at_once(&mut self, _ids: &[i64]) -> Result<Option<Vec<bool>>> {
        Ok(None)
    }
    /// On a server: ends the sessions a deactivated user's role still has open (one that
    /// logged in while the deactivation was committing); how many. A file has no sessions.
    fn end_sessions_of(&mut self, _login: &str) -> Result<i64> {
        Ok(0)
    }
}
