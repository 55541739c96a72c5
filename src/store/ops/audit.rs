//! The audit trail: one row per change, in the change's own transaction.
use crate::domain::audit::Stored;
use crate::error::Result;

pub use crate::store::sqlite::audit::{LogFilter, LogRow, Record};

pub trait AuditOps {
    /// Appends one row to the hash chain; its sequence number.
    fn audit(&mut self, record: Record) -> Result<i64>;
    /// Rows matching the filter, newest first.
    fn audit_log(&mut self, filter: &LogFilter) -> Result<Vec<LogRow>>;
    /// Every row in chain order, until `each` says stop (false).
    fn for_each_audit(&mut self, each: &mut dyn FnMut(Stored) -> Result<bool>) -> Result<()>;
    /// The chain's last row: (seq, hash); None for an empty log.
    fn audit_head(&mut self) -> Result<Option<(i64, String)>>;
    /// The row that has this hash, if any.
    fn audit_seq_of_hash(&mut self, hash: &str) -> Result<Option<i64>>;
}
