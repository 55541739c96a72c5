//! `pool recycle`: arguments, the call into `app::recycle`, the list of what moved.
use clap::Args;

use super::Ctx;
use crate::app::recycle as app;
use crate::domain::roles::Action;
use crate::error::Result;

pub use app::Recycled;

#[derive(Debug, Args)]
pub struct RecycleArgs {
    /// Show what would be recycled, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &mut Ctx, a: &RecycleArgs) -> Result<()> {
    let me = ctx.require(Action::Recycle)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let done = app::run(ctx.store()?, &me, a.dry_run, now)?;
    out.rows(&done, "nothing to recycle")?;
    let verb = if a.dry_run {
        "would be recycled"
    } else {
        "recycled"
    };
    out.status(format!("{} customer(s) {verb}", done.len()));
    if !a.dry_run {
        // The pools' `silent` follow-up rules: customers about to be recycled get one.
        let planned = crate::app::work::plan_silent(ctx.store()?, &me, now)?;
        if !planned.is_empty() {
            out.status(format!(
                "{} follow-up(s) planned for customers about to be recycled",
                planned.len()
            ));
        }
    }
    Ok(())
}
