//! `pool agenda`: what I should do today — overdue, today, the next 7 days, and my
//! customers about to be recycled; for a manager also the team's overdue follow-ups
//! and the customers their owners have gone silent on.
use std::io::Write;

use super::Ctx;
use crate::app::agenda as app;
use crate::domain::roles::Action;
use crate::error::Result;

pub fn run(ctx: &mut Ctx) -> Result<()> {
    let me = ctx.require(Action::ReadCustomers)?;
    let clock = crate::clock::now()?;
    let out = ctx.out;
    let agenda = app::agenda(ctx.store()?, &me, clock)?;
    if out.is_json() || out.format == super::output::Format::Csv {
        return out.record(&agenda);
    }
    if agenda.is_empty() {
        writeln!(
            std::io::stdout().lock(),
            "Nothing due for {} — a clear day.",
            me.login
        )?;
        return Ok(());
    }
    out.section(
        &format!("Overdue ({})", agenda.overdue.len()),
        &agenda.overdue,
    )?;
    out.section(&format!("Today ({})", agenda.today.len()), &agenda.today)?;
    out.section(
        &format!("Next 7 days ({})", agenda.next_7_days.len()),
        &agenda.next_7_days,
    )?;
    out.section(
        &format!("About to be recycled ({})", agenda.recycle_soon.len()),
        &agenda.recycle_soon,
    )?;
    if let Some(t) = &agenda.team_overdue {
        out.section(
            &format!("Team {}: overdue follow-ups ({})", me.team, t.len()),
            t,
        )?;
    }
    if let Some(s) = &agenda.team_silent {
        out.section(
            &format!("Team {}: customers gone silent ({})", me.team, s.len()),
            s,
        )?;
    }
    Ok(())
}
