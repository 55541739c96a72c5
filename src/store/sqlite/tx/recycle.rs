use super::SqliteTx;
use crate::domain::rules::Rules;
use crate::error::Result;
use crate::store::ops::recycle::{Due, OwnedRow, RecycleOps};
use crate::store::ops::work::Watched;
use crate::store::sqlite::recycle;

impl RecycleOps for SqliteTx<'_> {
    fn due_by(
        &mut self,
        pool_id: i64,
        rules: &Rules,
        owner: Option<i64>,
        team: Option<i64>,
        until: i64,
    ) -> Result<Vec<Due>> {
        recycle::due_by(&self.tx, pool_id, rules, owner, team, until)
    }

    fn recycle_candidates(
        &mut self,
        pool_id: i64,
        claimed_before: i64,
        team: Option<i64>,
        _tags: bool,
    ) -> Result<Vec<OwnedRow>> {
        // (the tags column is read at no extra cost here)
        recycle::recycle_candidates(&self.tx, pool_id, claimed_before, team)
    }

    fn due_counts(
        &mut self,
        pool_id: i64,
        team: Option<i64>,
        until: i64,
    ) -> Result<Vec<(i64, String, i64)>> {
        recycle::due_counts(&self.tx, pool_id, team, until)
    }

    fn due_soon_of(
        &mut self,
        owner: i64,
        pool_id: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<(Watched, i64)>> {
        recycle::due_soon_of(&self.tx, owner, pool_id, until, limit)
    }

    fn owned_row(&mut self, id: i64) -> Result<Option<OwnedRow>> {
        recycle::owned_row_by_id(&self.tx, id)
    }
}
