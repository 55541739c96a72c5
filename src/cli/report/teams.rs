//! `pool report teams`: the owners' numbers rolled up by team, and cross-team shares
//! through the public pool.
use super::{emit, Env};
use crate::app::report as app;
use crate::error::Result;
use crate::store::Backend;

pub fn run(store: &mut dyn Backend, env: &Env) -> Result<()> {
    let data = app::teams(store, &env.me, env.now, env.today)?;
    emit(&env.out, &data, &data.teams, |o| {
        o.rows(&data.teams, "no teams with active people")?;
        o.section(
            "Cross-team shares (customers a team owns that another team released)",
            &data.cross_team,
        )
    })
}
