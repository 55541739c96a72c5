//! `pool report access`: who read personal data unmasked or exported it, and how much;
//! unusual volume flagged.
use super::{date, emit, say, Env, SinceArg};
use crate::app::report as app;
use crate::error::Result;
use crate::store::Backend;

pub fn run(store: &mut dyn Backend, env: &Env, a: &SinceArg) -> Result<()> {
    let since = date("--since", &a.since, env.today)?;
    let (since, days, rows) = app::access(store, &env.me, since, env.now, env.today)?;
    emit(&env.out, &rows, &rows, |o| {
        o.rows(
            &rows,
            "No unmasked reads, exports or whole-key lookups in this window.",
        )?;
        say(format!(
            "flagged = at least 100 rows (or, on a server, 1,000 whole phone/e-mail lookups) since {since} and more than 3× the user's usual daily volume (30 days before) × {days:.0} days"
        ))
    })
}
