//! `pool report activity`: claims, releases, recycles, interactions and deals per
//! period.
use super::{date, emit, say, ActivityArgs, Env};
use crate::app::report as app;
use crate::domain::charts::sparkline;
use crate::error::Result;
use crate::store::ops::reports::Activity;
use crate::store::Backend;

pub fn run(store: &mut dyn Backend, env: &Env, a: &ActivityArgs) -> Result<()> {
    let until = date("--until", &a.until, env.today)?;
    let since = date("--since", &a.since, env.today)?;
    let rows = app::activity(
        store,
        &env.me,
        a.team.as_deref(),
        a.by.into(),
        since,
        until,
        env.today,
    )?;
    emit(&env.out, &rows, &rows, |o| {
        o.rows(&rows, "No activity in this period.")?;
        if !rows.is_empty() {
            let spark = |f: fn(&Activity) -> i64| {
                sparkline(&rows.iter().map(|r| f(r) as f64).collect::<Vec<_>>())
            };
            say(format!(
                "claims {}  releases {}  recycles {}  interactions {}  deals {}",
                spark(|r| r.claims),
                spark(|r| r.releases),
                spark(|r| r.recycles),
                spark(|r| r.interactions),
                spark(|r| r.deals)
            ))?;
        }
        Ok(())
    })
}
