//! `pool forget ID`: erase a customer's personal data for a deletion request (PIPL /
//! GDPR). The audit row names the fields, never the values.
use clap::Args;
use serde::Serialize;

use crate::app::customer as app;
use crate::cli::output::confirm;
use crate::cli::Ctx;
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// Customer id
    pub id: i64,
}

#[derive(Serialize)]
struct Forgotten {
    id: i64,
    erased_fields: Vec<&'static str>,
    interactions: usize,
    followups: usize,
    contacts: usize,
}

pub fn run(ctx: &mut Ctx, a: &ForgetArgs) -> Result<()> {
    let me = ctx.require(Action::ForgetCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    app::forget_target(ctx.store()?, &me, a.id)?;
    if !confirm(
        ctx.global.yes,
        &format!("erase all personal data of customer {} for good?", a.id),
    )? {
        out.status("nothing erased");
        return Ok(());
    }
    let done = app::forget(ctx.store()?, &me, a.id, now)?;
    out.status(format!(
        "customer {} erased; a tombstone stays for the audit trail",
        a.id
    ));
    out.record(&Forgotten {
        id: done.id,
        erased_fields: done.erased_fields,
        interactions: done.counts.interactions,
        followups: done.counts.followups,
        contacts: done.contacts,
    })
}
