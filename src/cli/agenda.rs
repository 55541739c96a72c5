//! `pool agenda`: what I should do today — overdue, today, the next 7 days, and my
//! customers about to be recycled; for a manager also the team's overdue follow-ups
//! and the customers their owners have gone silent on.
use std::io::Write;

use serde::Serialize;

use super::Ctx;
use crate::app::agenda as app;
use crate::domain::roles::Action;
use crate::error::Result;

pub fn run(ctx: &mut Ctx) -> Result<()> {
    let me = ctx.require(Action::ReadCustomers)?;
    let clock = crate::clock::now()?;
    let out = ctx.out;
    let agenda = app::agenda(ctx.store()?, &me, clock)?;
    if out.is_json() {
        return out.record(&agenda);
    }
    if out.format == super::output::Format::Csv {
        return out.rows(&csv_rows(&agenda), "");
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

/// One line of the agenda as CSV: flat, the section first.
#[derive(Serialize)]
struct Line<'a> {
    section: &'static str,
    /// Follow-up id, or customer id for the recycle and silence sections.
    id: i64,
    customer: Option<&'a str>,
    who: &'a str,
    due: Option<&'a str>,
    what: String,
}

fn csv_rows(a: &app::Agenda) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let followups = [
        ("overdue", Some(&a.overdue)),
        ("today", Some(&a.today)),
        ("next_7_days", Some(&a.next_7_days)),
        ("team_overdue", a.team_overdue.as_ref()),
    ];
    for (section, list) in followups {
        for f in list.into_iter().flatten() {
            out.push(Line {
                section,
                id: f.id,
                customer: f.customer.as_deref(),
                who: &f.assignee,
                due: Some(&f.due),
                what: f.action.clone(),
            });
        }
    }
    for r in &a.recycle_soon {
        out.push(Line {
            section: "recycle_soon",
            id: r.id,
            customer: r.customer.as_deref(),
            who: &r.owner,
            due: r.due.as_deref(),
            what: format!("{} ({} days left)", r.reason, r.days_left),
        });
    }
    for s in a.team_silent.iter().flatten() {
        out.push(Line {
            section: "team_silent",
            id: s.id,
            customer: s.customer.as_deref(),
            who: &s.owner,
            due: None,
            what: format!("silent {} days", s.silent_days),
        });
    }
    out
}
