//! `pool demo`: realistic customers, teams and users for a first look and for benchmarks.
use std::io::IsTerminal;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::Ctx;
use crate::domain::roles::Action;
use crate::error::Result;
use crate::store::{audit, demo};

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
    let store = ctx.store()?;
    // Bulk load: a bigger page cache for this connection only.
    store.bulk_cache_mib(256)?;
    let tx = store.begin()?;
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
    let summary = demo::load(&tx, a.customers, a.seed, now, |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "demo",
            entity: "database",
            entity_id: None,
            before: None,
            after: Some(json!({"seed": a.seed, "summary": &summary})),
        },
    )?;
    tx.commit()?;
    // Fresh statistics so the planner picks the right index on a big table.
    store.analyze()?;
    out.status(format!(
        "demo data loaded in {:.1} s (seed {}); try: pool list --in-pool --city 杭州",
        started.elapsed().as_secs_f64(),
        a.seed
    ));
    out.record(&summary)
}
