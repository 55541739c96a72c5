//! `pool report stale`: customers to be recycled within warn_days, by owner, soonest
//! first.
use serde::Serialize;

use super::{emit, say, Env, StaleArgs};
use crate::app::agenda::RecycleSoon;
use crate::app::report as app;
use crate::domain::charts::bar;
use crate::error::Result;
use crate::store::Backend;

#[derive(Serialize)]
struct OwnerDue {
    owner: String,
    recycle_soon: i64,
    shown: i64,
}

#[derive(Serialize)]
struct Drawn<'a> {
    owner: &'a str,
    recycle_soon: i64,
    shown: i64,
    chart: String,
}

#[derive(Serialize)]
struct Stale {
    /// Customers listed per owner, soonest first (0 = all).
    limit_per_owner: i64,
    owners: Vec<OwnerDue>,
    customers: Vec<RecycleSoon>,
}

pub fn run(store: &mut dyn Backend, env: &Env, a: &StaleArgs) -> Result<()> {
    let s = app::stale(
        store,
        &env.me,
        a.team.team.as_deref(),
        a.pool.as_deref(),
        a.limit,
        env.now,
    )?;
    let owners = s
        .counts
        .into_iter()
        .map(|(owner, (_, n))| OwnerDue {
            shown: s.customers.iter().filter(|c| c.owner == owner).count() as i64,
            owner,
            recycle_soon: n,
        })
        .collect();
    let data = Stale {
        limit_per_owner: a.limit,
        owners,
        customers: s.customers,
    };
    emit(&env.out, &data, &data.customers, |o| {
        if data.owners.is_empty() {
            return say("Nothing is about to be recycled.");
        }
        let max = data
            .owners
            .iter()
            .map(|w| w.recycle_soon)
            .max()
            .unwrap_or(0) as f64;
        let drawn: Vec<Drawn> = data
            .owners
            .iter()
            .map(|w| Drawn {
                owner: &w.owner,
                recycle_soon: w.recycle_soon,
                shown: w.shown,
                chart: bar(w.recycle_soon as f64, max, 20),
            })
            .collect();
        o.rows(&drawn, "")?;
        o.section("Soonest first", &data.customers)?;
        if data.owners.iter().any(|w| w.shown < w.recycle_soon) {
            o.status(format!(
                "showing the {} soonest per owner; --limit 0 lists all",
                data.limit_per_owner
            ));
        }
        Ok(())
    })
}
