use super::SqliteTx;
use crate::domain::audit::Stored;
use crate::error::Result;
use crate::store::ops::audit::{AuditOps, LogFilter, LogRow, Record};
use crate::store::sqlite::audit;

impl AuditOps for SqliteTx<'_> {
    fn audit(&mut self, record: Record) -> Result<i64> {
        audit::append(&self.tx, record)
    }

    fn audit_log(&mut self, filter: &LogFilter) -> Result<Vec<LogRow>> {
        audit::list(&self.tx, filter)
    }

    fn for_each_audit(&mut self, each: &mut dyn FnMut(Stored) -> Result<bool>) -> Result<()> {
        audit::for_each(&self.tx, each)
    }

    fn audit_head(&mut self) -> Result<Option<(i64, String)>> {
        audit::head(&self.tx)
    }

    fn audit_seq_of_hash(&mut self, hash: &str) -> Result<Option<i64>> {
        audit::seq_of_hash(&self.tx, hash)
    }
}
