//! What recycling reads: owned customers that are, or may be, past their pool's rules.
use crate::domain::rules::OwnedFacts;
use crate::domain::rules::Rules;
use crate::error::Result;

use crate::store::ops::work::Watched;

/// An owned customer as recycling sees it.
pub struct OwnedRow {
    pub id: i64,
    pub owner_id: i64,
    pub pool_id: i64,
    pub facts: OwnedFacts,
}

/// An owned customer due back in its pool by some time.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub owner_id: i64,
    pub owner: String,
    pub due: i64,
    pub reason: &'static str,
}

pub trait RecycleOps {
    /// Owned customers of a pool whose stored recycle date is before `until` (optionally
    /// of one owner or team), with the reason. Exact when the pool has no overrides.
    fn due_by(
        &mut self,
        pool_id: i64,
        rules: &Rules,
        owner: Option<i64>,
        team: Option<i64>,
        until: i64,
    ) -> Result<Vec<Due>>;
    /// Owned customers of a pool claimed before `claimed_before` (the candidates when
    /// per-stage or per-tag days apply), optionally only those owned by one team's
    /// users; their tags only when `tags` (a server reads them through the masking view,
    /// which costs per row).
    fn recycle_candidates(
        &mut self,
        pool_id: i64,
        claimed_before: i64,
        team: Option<i64>,
        tags: bool,
    ) -> Result<Vec<OwnedRow>>;
    /// Per owner (id, login, optionally of one team): how many of a pool's customers are
    /// due back by `until`, on the stored recycle dates; owners with none left out.
    fn due_counts(
        &mut self,
        pool_id: i64,
        team: Option<i64>,
        until: i64,
    ) -> Result<Vec<(i64, String, i64)>>;
    /// One owner's customers of one pool due back by `until`, soonest first (at most
    /// `limit`; 0 = all), with the facts the rules need and the stored date.
    fn due_soon_of(
        &mut self,
        owner: i64,
        pool_id: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<(Watched, i64)>>;
    /// One owned customer as recycling sees it (None: not owned or gone).
    fn owned_row(&mut self, id: i64) -> Result<Option<OwnedRow>>;
}
