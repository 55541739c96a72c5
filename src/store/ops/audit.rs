//! The audit trail: one row per change, in the change's own transaction.
use crate::error::Result;

pub use crate::store::sqlite::audit::Record;

pub trait AuditOps {
    /// Appends one row to the hash chain; its sequence number.
    fn audit(&mut self, record: Record) -> Result<i64>;
}
