//! `pool dedupe undo MERGE_ID`: restores every customer and moved record of a merge.
use super::super::Ctx;
use crate::app::merge as app;
use crate::domain::roles::Action;
use crate::error::Result;

pub fn undo(ctx: &mut Ctx, merge_id: i64) -> Result<()> {
    let me = ctx.require(Action::Merge)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let rec = app::undo(ctx.store()?, &me, merge_id, now)?;
    out.status(format!(
        "merge {merge_id} undone: customers {:?} are back",
        rec.merged_ids
    ));
    out.record(&rec)
}
