use super::SqliteTx;
use crate::error::Result;
use crate::store::ops::merge::{MergeOf, MergeOps, MergeRecord};
use crate::store::sqlite::merge;

impl MergeOps for SqliteTx<'_> {
    fn merge_customers(&mut self, m: &MergeOf) -> Result<i64> {
        merge::merge(&self.tx, m)
    }

    fn merge_record(&mut self, merge_id: i64) -> Result<MergeRecord> {
        Ok(merge::get(&self.tx, merge_id)?.0)
    }

    fn undo_merge(&mut self, merge_id: i64, now: i64) -> Result<()> {
        merge::undo(&self.tx, merge_id, now)
    }
}
