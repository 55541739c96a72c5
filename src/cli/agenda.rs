//! `pool agenda`: what I should do today — overdue, today, the next 7 days, and my
//! customers about to be recycled; for a manager also the team's overdue follow-ups
//! and the customers their owners have gone silent on.
use std::io::Write;

use clap::Args;
use serde::Serialize;

use super::Ctx;
use crate::app::agenda as app;
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct AgendaArgs {
    /// Lines shown per section in a table (the heading counts all; 0 shows all). JSON
    /// and CSV carry every line unless --limit is given
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// The first `n` (0: all) of a section, and how many were left out.
fn first<T>(v: &mut Vec<T>, n: usize) -> usize {
    if n == 0 || v.len() <= n {
        return 0;
    }
    let more = v.len() - n;
    v.truncate(n);
    more
}

pub fn run(ctx: &mut Ctx, a: &AgendaArgs) -> Result<()> {
    let me = ctx.require(Action::ReadCustomers)?;
    let clock = crate::clock::now()?;
    let out = ctx.out;
    let mut agenda = app::agenda(ctx.store()?, &me, clock)?;
    let table = !out.is_json() && out.format != super::output::Format::Csv;
    let limit = a.limit.unwrap_or(if table { 20 } else { 0 });
    // Headings count everything; the sections show the first `limit` lines.
    let counts = [
        agenda.overdue.len(),
        agenda.today.len(),
        agenda.next_7_days.len(),
        agenda.recycle_soon.len(),
        agenda.team_overdue.as_ref().map_or(0, Vec::len),
        agenda.team_silent.as_ref().map_or(0, Vec::len),
    ];
    let mut more = first(&mut agenda.overdue, limit)
        + first(&mut agenda.today, limit)
        + first(&mut agenda.next_7_days, limit)
        + first(&mut agenda.recycle_soon, limit);
    if let Some(t) = agenda.team_overdue.as_mut() {
        more += first(t, limit);
    }
    if let Some(t) = agenda.team_silent.as_mut() {
        more += first(t, limit);
    }
    if more > 0 {
        out.status(format!(
            "{more} more line(s) not shown: at most {limit} per section (--limit 0 shows all)"
        ));
    }
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
    out.section(&format!("Overdue ({})", counts[0]), &agenda.overdue)?;
    out.section(&format!("Today ({})", counts[1]), &agenda.today)?;
    out.section(&format!("Next 7 days ({})", counts[2]), &agenda.next_7_days)?;
    out.section(
        &format!("About to be recycled ({})", counts[3]),
        &agenda.recycle_soon,
    )?;
    if let Some(t) = &agenda.team_overdue {
        out.section(
            &format!("Team {}: overdue follow-ups ({})", me.team, counts[4]),
            t,
        )?;
    }
    if let Some(s) = &agenda.team_silent {
        out.section(
            &format!("Team {}: customers gone silent ({})", me.team, counts[5]),
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
