//! `pool report followups`: overdue and due follow-ups by assignee.
use serde::Serialize;

use super::{emit, Env, TeamArg};
use crate::app::report as app;
use crate::domain::charts::bar;
use crate::error::Result;
use crate::store::Backend;

#[derive(Serialize)]
struct Drawn<'a> {
    assignee: &'a str,
    overdue: i64,
    today: i64,
    next_7_days: i64,
    chart: String,
}

pub fn run(store: &mut dyn Backend, env: &Env, a: &TeamArg) -> Result<()> {
    let rows = app::followups(store, &env.me, a.team.as_deref(), env.today)?;
    emit(&env.out, &rows, &rows, |o| {
        let total =
            |r: &crate::store::ops::reports::FollowupLoad| r.overdue + r.today + r.next_7_days;
        let max = rows.iter().map(total).max().unwrap_or(0) as f64;
        let table: Vec<Drawn> = rows
            .iter()
            .map(|r| Drawn {
                assignee: &r.assignee,
                overdue: r.overdue,
                today: r.today,
                next_7_days: r.next_7_days,
                chart: format!(
                    "{}{}",
                    "!".repeat(usize::from(r.overdue > 0)),
                    bar(total(r) as f64, max, 20)
                ),
            })
            .collect();
        o.rows(&table, "No open follow-ups due in the next 7 days.")
    })
}
