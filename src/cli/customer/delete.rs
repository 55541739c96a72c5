//! `pool delete ID`: ask, then delete (a tombstone stays).
use clap::Args;

use crate::app::customer as app;
use crate::cli::output::confirm;
use crate::cli::Ctx;
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Customer id
    pub id: i64,
}

pub fn run(ctx: &mut Ctx, a: &DeleteArgs) -> Result<()> {
    let me = ctx.require(Action::DeleteCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let c = app::delete_target(ctx.store()?, &me, a.id)?;
    let label = format!(
        "{} {}",
        c.name.as_deref().unwrap_or(""),
        c.company.as_deref().unwrap_or("")
    );
    if !confirm(
        ctx.global.yes,
        &format!("delete customer {} ({})?", a.id, label.trim()),
    )? {
        out.status("nothing deleted");
        return Ok(());
    }
    app::delete(ctx.store()?, &me, a.id, now)?;
    out.status(format!("deleted customer {}", a.id));
    Ok(())
}
