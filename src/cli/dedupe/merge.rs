//! `pool merge A B…`: merges customers by hand; the oldest survives.
use clap::Args;

use super::super::Ctx;
use crate::app::merge as app;
use crate::domain::roles::Action;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The customers to merge (the oldest survives)
    #[arg(required = true, num_args = 2..)]
    pub ids: Vec<i64>,
}

pub fn merge(ctx: &mut Ctx, a: &MergeArgs) -> Result<()> {
    let me = ctx.require(Action::Merge)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let mut ids = a.ids.clone();
    ids.sort();
    ids.dedup();
    if ids.len() < 2 {
        return Err(Error::invalid(
            "ids",
            "give at least two different customers",
        ));
    }
    let m = app::merge_group(ctx.store()?, &me, &ids, None, 1.0, "merged by hand", now)?;
    out.status(format!(
        "merged {} into {} (merge {}; undo with pool dedupe undo {})",
        m.merged
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        m.survivor,
        m.merge_id.unwrap_or_default(),
        m.merge_id.unwrap_or_default()
    ));
    out.record(&m)
}
