//! `pool report owners`: per person, owned against the limit, locked, contacts, overdue
//! follow-ups, deals, and customers about to be recycled.
use serde::Serialize;

use super::{emit, Env, TeamArg};
use crate::app::report as app;
use crate::domain::charts::bar;
use crate::domain::money::format_totals;
use crate::error::Result;
use crate::store::Backend;

#[derive(Serialize)]
struct Row {
    user: String,
    team: String,
    owned: i64,
    limit: i64,
    locked: i64,
    contacts_30d: i64,
    overdue_followups: i64,
    deals: i64,
    deal_amount: String,
    recycle_soon: i64,
}

#[derive(Serialize)]
struct Drawn<'a> {
    user: &'a str,
    team: &'a str,
    owned: i64,
    limit: i64,
    load: String,
    locked: i64,
    contacts_30d: i64,
    overdue_followups: i64,
    deals: i64,
    deal_amount: &'a str,
    recycle_soon: i64,
}

pub fn run(store: &mut dyn Backend, env: &Env, a: &TeamArg) -> Result<()> {
    let o = app::owners(store, &env.me, a.team.as_deref(), env.now, env.today)?;
    let limit = o.max_owned;
    let rows: Vec<Row> = o
        .stats
        .into_iter()
        .map(|s| Row {
            recycle_soon: o.recycle_soon.get(&s.user).map_or(0, |&(_, n)| n),
            user: s.user,
            team: s.team,
            owned: s.owned,
            limit,
            locked: s.locked,
            contacts_30d: s.contacts_30d,
            overdue_followups: s.overdue_followups,
            deals: s.deals,
            deal_amount: format_totals(&s.deal_totals),
        })
        .collect();
    emit(&env.out, &rows, &rows, |out| {
        let max = rows.iter().map(|r| r.owned).max().unwrap_or(0).max(limit) as f64;
        let drawn: Vec<Drawn> = rows
            .iter()
            .map(|r| Drawn {
                user: &r.user,
                team: &r.team,
                owned: r.owned,
                limit: r.limit,
                load: bar(r.owned as f64, max, 20),
                locked: r.locked,
                contacts_30d: r.contacts_30d,
                overdue_followups: r.overdue_followups,
                deals: r.deals,
                deal_amount: &r.deal_amount,
                recycle_soon: r.recycle_soon,
            })
            .collect();
        out.rows(&drawn, "no active users")?;
        if limit > 0 {
            out.status(format!(
                "limit = max_owned of the public pool ({limit}); the bar is owned vs the largest of limit and owned"
            ));
        }
        Ok(())
    })
}
