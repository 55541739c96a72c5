//! Merging duplicate customers, and undoing a merge exactly.
use serde::Serialize;

use crate::domain::customer::CustomerFields;
use crate::error::Result;

/// The merged values the survivor gets (decided by `domain::merge`).
#[derive(Debug, Clone)]
pub struct MergedFields {
    pub fields: CustomerFields,
    pub stage: String,
    pub custom: Option<String>,
    pub owner_id: Option<i64>,
    pub last_contact_at: Option<i64>,
    pub won_at: Option<i64>,
}

/// A recorded merge.
#[derive(Debug, Clone, Serialize)]
pub struct MergeRecord {
    pub id: i64,
    pub survivor_id: i64,
    pub merged_ids: Vec<i64>,
    pub undone: bool,
    /// A customer in it was erased (`pool forget`): its before-images are gone.
    #[serde(skip)]
    pub erased: bool,
}

/// One merge of `others` into `survivor`.
#[derive(Debug, Clone, Copy)]
pub struct MergeOf<'a> {
    pub survivor: i64,
    pub others: &'a [i64],
    pub merged: &'a MergedFields,
    pub score: f64,
    pub reasons: &'a str,
    pub by: i64,
    pub at: i64,
}

pub trait MergeOps {
    /// Merges, keeping the before-image of every row it touches; the merge id.
    fn merge_customers(&mut self, m: &MergeOf) -> Result<i64>;
    /// A merge by id (not found: exit 3).
    fn merge_record(&mut self, merge_id: i64) -> Result<MergeRecord>;
    /// Puts every row of a merge back as it was before it.
    fn undo_merge(&mut self, merge_id: i64, now: i64) -> Result<()>;
}
