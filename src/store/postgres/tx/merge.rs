//! Merges on the server: `pool_private.merge_customers` and `undo_merge` (migration 4)
//! check the owner rules and the merger's scope, keep the before-images, move the child
//! rows and write the audit rows; the client sends the merged fields it decided
//! (`domain::merge::plan`). Clients cannot write `merges` themselves.
use serde_json::json;

use super::PgTx;
use crate::error::{Error, Result};
use crate::store::ops::merge::{MergeOf, MergeOps, MergeRecord};

impl MergeOps for PgTx<'_> {
    fn merge_customers(&mut self, m: &MergeOf) -> Result<i64> {
        let f = &m.merged.fields;
        let fields = json!({
            "name": f.name,
            "company": f.company,
            "phone": f.phone,
            "email": f.email,
            "city": f.city,
            "address": f.address,
            "source": f.source,
            "tags": f.tags.join(","),
            "notes": f.notes,
            "custom": m.merged.custom,
            "phone_key": f.keys.phone,
            "email_key": f.keys.email,
            "name_key": f.keys.name,
            "company_key": f.keys.company,
        });
        let others: Vec<i64> = m.others.to_vec();
        let rows = self.write_rows(
            "SELECT pool_private.merge_customers($1, $2, $3, $4, $5)",
            &[&m.survivor, &others, &fields, &m.score, &m.reasons],
        )?;
        rows.first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Other("the server returned no merge id".into()))
    }

    fn merge_record(&mut self, merge_id: i64) -> Result<MergeRecord> {
        let r = self
            .opt(
                // (managers may not read the before-image itself: migration 28)
                "SELECT id, survivor_id, merged_ids, undone_at IS NOT NULL, pool_private.merge_erased(id)
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

    fn undo_merge(&mut self, merge_id: i64, _now: i64) -> Result<()> {
        self.write_rows("SELECT pool_private.undo_merge($1)", &[&merge_id])?;
        Ok(())
    }
}
