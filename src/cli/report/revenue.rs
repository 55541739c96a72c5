//! `pool report revenue`: live deals per day, week, month or quarter, per currency
//! (never summed across currencies). Tables get a bar per row, scaled within its
//! currency; JSON and CSV carry the numbers only.
use std::collections::BTreeMap;

use serde::Serialize;

use super::{date, emit, say, Env, RevenueArgs};
use crate::app::report as app;
use crate::domain::charts::bar;
use crate::error::Result;
use crate::store::Backend;

/// Width of the bar column, in cells.
const BAR: usize = 20;

#[derive(Serialize)]
struct Drawn<'a> {
    period: &'a str,
    currency: &'a str,
    deals: i64,
    amount: &'a str,
    bar: String,
}

pub fn run(store: &mut dyn Backend, env: &Env, a: &RevenueArgs) -> Result<()> {
    let from = date("--from", &a.from, env.today)?;
    let to = date("--to", &a.to, env.today)?;
    let r = app::revenue(
        store,
        &env.me,
        a.by.into(),
        from,
        to,
        a.team.as_deref(),
        env.today,
    )?;
    emit(&env.out, &r, &r.rows, |out| {
        say(format!(
            "Revenue by {} from {} to {} ({}); voided deals excluded",
            r.by, r.from, r.to, r.scope
        ))?;
        let mut max: BTreeMap<&str, i128> = BTreeMap::new();
        for row in &r.rows {
            let m = max.entry(row.currency.as_str()).or_default();
            *m = (*m).max(row.amount_minor);
        }
        let drawn: Vec<Drawn> = r
            .rows
            .iter()
            .map(|row| Drawn {
                period: &row.period,
                currency: &row.currency,
                deals: row.deals,
                amount: &row.amount,
                bar: bar(
                    row.amount_minor as f64,
                    max.get(row.currency.as_str()).copied().unwrap_or(0) as f64,
                    BAR,
                ),
            })
            .collect();
        out.rows(&drawn, "No deals in this period.")?;
        if !r.totals.is_empty() {
            let totals: Vec<String> = r
                .totals
                .iter()
                .map(|t| {
                    let unit = if t.deals == 1 { "deal" } else { "deals" };
                    format!("{} {} ({} {unit})", t.amount, t.currency, t.deals)
                })
                .collect();
            say(format!("Total: {}", totals.join("; ")))?;
        }
        Ok(())
    })
}
