//! `pool allocate`: deal a pool's new leads out to its people (for cron).
use clap::Args;

use super::Ctx;
use crate::app::allocate::{self as app, Request};
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct AllocateArgs {
    /// Only this pool (default: every pool whose rules allocate)
    #[arg(long, value_name = "POOL")]
    pub pool: Option<String>,
    /// At most N leads this run
    #[arg(long, value_name = "N")]
    pub limit: Option<i64>,
    /// Show who would get what; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &mut Ctx, a: &AllocateArgs) -> Result<()> {
    let me = ctx.require(Action::Assign)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let req = Request {
        pool: a.pool.clone(),
        limit: a.limit.map(|n| n.max(0)),
        ids: None,
        dry_run: a.dry_run,
    };
    let done = app::allocate(ctx.store()?, &me, &req, now)?;
    out.rows(&done, "no new leads to allocate")?;
    out.status(format!(
        "{} lead(s) {}",
        done.len(),
        if a.dry_run {
            "would be allocated"
        } else {
            "allocated"
        }
    ));
    Ok(())
}
