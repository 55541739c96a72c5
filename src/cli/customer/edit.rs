//! `pool edit ID`: change fields or the stage; churning asks before it cancels plans.
use clap::Args;

use super::FieldArgs;
use super::StageArg;
use crate::app::customer::{self as app, Edit, Edited};
use crate::cli::output::confirm;
use crate::cli::Ctx;
use crate::domain::customer::Stage;
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Customer id
    pub id: i64,
    #[command(flatten)]
    pub fields: FieldArgs,
    /// New lifecycle stage
    #[arg(long, value_enum)]
    pub stage: Option<StageArg>,
    /// Empty a field (repeatable): company, phone, email, city, address, source, tags,
    /// notes, level, industry
    #[arg(long, value_name = "FIELD")]
    pub clear: Vec<String>,
    /// Remove a custom field's value (repeatable), e.g. --unset 行业
    #[arg(long, value_name = "KEY")]
    pub unset: Vec<String>,
}

pub fn run(ctx: &mut Ctx, a: &EditArgs) -> Result<()> {
    let me = ctx.require(Action::EditCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let e = Edit {
        id: a.id,
        given: a.fields.input(),
        stage: a.stage.map(Stage::from),
        clear: a.clear.clone(),
        extras: a.fields.extras(&a.unset)?,
    };
    // Churned customers need no plans: ask before the write lock, cancel inside it.
    let open = app::edit_followups_to_cancel(ctx.store()?, &me, &e)?;
    if open > 0
        && !confirm(
            ctx.global.yes,
            &format!(
                "customer {} has {open} open follow-up(s); cancel them?",
                a.id
            ),
        )?
    {
        out.status("nothing changed");
        return Ok(());
    }
    match app::edit(ctx.store()?, &me, &e, open > 0, now)? {
        Edited::Unchanged => out.status(format!("customer {} unchanged", a.id)),
        Edited::Updated(fields) => {
            out.status(format!("customer {} updated: {}", a.id, fields.join(", ")))
        }
    }
    Ok(())
}
