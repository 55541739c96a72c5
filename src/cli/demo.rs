//! `pool demo`: realistic customers, teams and users for a first look and for benchmarks.
use std::io::IsTerminal;
use std::time::Instant;

use clap::Args;

use super::Ctx;
use crate::app::demo as app;
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many customers to generate (about 10% are near-duplicates of others)
    #[arg(long, default_value_t = 1000)]
    pub customers: u64,
    /// Seed: the same seed always gives the same data
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub fn run(ctx: &mut Ctx, a: &DemoArgs) -> Result<()> {
    let me = ctx.require(Action::Demo)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let started = Instant::now();
    let bar = if std::io::stderr().is_terminal() && !out.quiet && a.customers >= 20_000 {
        let b = indicatif::ProgressBar::new(a.customers);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} customers ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let summary = app::load(ctx.store()?, &me, a.customers, a.seed, now, &mut |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out.status(format!(
        "demo data loaded in {:.1} s (seed {}); try: pool list --in-pool --city 杭州",
        started.elapsed().as_secs_f64(),
        a.seed
    ));
    out.record(&summary)
}
