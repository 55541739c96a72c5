//! `pool report funnel`: lead → customer → loyal, churned: counts and conversion rates.
use serde::Serialize;

use super::{emit, say, Env};
use crate::app::report as app;
use crate::domain::charts::{bar, percent};
use crate::error::Result;
use crate::store::ops::reports::Funnel;
use crate::store::Backend;

#[derive(Serialize)]
struct Step {
    stage: &'static str,
    customers: i64,
    share: f64,
}

#[derive(Serialize)]
struct Drawn {
    stage: &'static str,
    customers: i64,
    share: f64,
    chart: String,
}

#[derive(Serialize)]
struct FunnelReport {
    #[serde(flatten)]
    counts: Funnel,
    lead_to_customer_pct: f64,
    customer_to_loyal_pct: f64,
    churn_pct: f64,
    steps: Vec<Step>,
}

pub fn run(store: &mut dyn Backend, env: &Env) -> Result<()> {
    let f = app::funnel(store, &env.me)?;
    let step = |stage: &'static str, n: i64| Step {
        stage,
        customers: n,
        share: percent(n, f.total),
    };
    let steps = vec![
        step("lead", f.lead),
        step("customer", f.customer),
        step("loyal", f.loyal),
        step("churned", f.churned),
    ];
    let report = FunnelReport {
        lead_to_customer_pct: percent(f.won, f.total),
        customer_to_loyal_pct: percent(f.loyal, f.won),
        churn_pct: percent(f.churned, f.total),
        steps,
        counts: f,
    };
    emit(&env.out, &report, &report.steps, |o| {
        if report.counts.total == 0 {
            return say("No customers yet: the funnel is empty.");
        }
        let max = report.counts.total.max(1) as f64;
        let drawn: Vec<Drawn> = report
            .steps
            .iter()
            .map(|s| Drawn {
                stage: s.stage,
                customers: s.customers,
                share: s.share,
                chart: bar(s.customers as f64, max, 30),
            })
            .collect();
        o.rows(&drawn, "")?;
        say(format!(
            "lead → customer {:.1}% (customers with a deal) · customer → loyal {:.1}% · churned {:.1}% of all{}",
            report.lead_to_customer_pct,
            report.customer_to_loyal_pct,
            report.churn_pct,
            report
                .counts
                .median_days_to_first_deal
                .map(|d| format!(" · median {d:.1} days from creation to first deal"))
                .unwrap_or_default()
        ))
    })
}
