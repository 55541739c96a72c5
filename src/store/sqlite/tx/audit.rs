use super::SqliteTx;
use crate::error::Result;
use crate::store::ops::audit::{AuditOps, Record};
use crate::store::sqlite::audit;

impl AuditOps for SqliteTx<'_> {
    fn audit(&mut self, record: Record) -> Result<i64> {
        audit::append(&self.tx, record)
    }
}
