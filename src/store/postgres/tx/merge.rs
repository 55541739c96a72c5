//! Merges on the server: not yet. A merge moves interactions, follow-ups and deals to
//! the survivor and keeps before-images to undo it; the server's guards refuse moving a
//! record to another customer ("a record stays with its customer"), so merging needs a
//! server function that does it as the owner, checked and audited there.
use super::PgTx;
use crate::error::{Error, Result};
use crate::store::ops::merge::{MergeOf, MergeOps, MergeRecord};

fn not_yet(what: &str) -> Error {
    Error::Other(format!(
        "{what} is not available on a PostgreSQL pool yet: it needs a server function (the server refuses moving history between customers)"
    ))
}

impl MergeOps for PgTx<'_> {
    fn merge_customers(&mut self, _m: &MergeOf) -> Result<i64> {
        Err(not_yet("merging customers"))
    }

    fn merge_record(&mut self, merge_id: i64) -> Result<MergeRecord> {
        let r = self
            .opt(
                "SELECT id, survivor_id, merged_ids, undone_at IS NOT NULL, before = '{\"erased\":true}'
                 FROM merges WHERE id = $1",
                &[&merge_id],
            )?
            .ok_or_else(|| Error::not_found("merge", merge_id))?;
        let ids: String = r.get(2);
        Ok(MergeRecord {
            id: r.get(0),
            survivor_id: r.get(1),
            merged_ids: serde_json::from_str(&ids).unwrap_or_default(),
            undone: r.get(3),
            erased: r.get(4),
        })
    }

    fn undo_merge(&mut self, _merge_id: i64, _now: i64) -> Result<()> {
        Err(not_yet("undoing a merge"))
    }
}
