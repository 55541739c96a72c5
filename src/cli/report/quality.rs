//! `pool report quality`: completeness and validity per field, the duplicate rate, a
//! 0–100 score and the records to fix first.
use serde::Serialize;

use super::{emit, say, Env};
use crate::app::report as app;
use crate::domain::charts::bar;
use crate::error::Result;
use crate::store::Backend;

#[derive(Serialize)]
struct Drawn<'a> {
    field: &'a str,
    filled_pct: f64,
    valid_pct: f64,
    chart: String,
}

pub fn run(store: &mut dyn Backend, env: &Env) -> Result<()> {
    let q = app::quality(store, &env.me)?;
    emit(&env.out, &q, &q.fields, |o| {
        if q.customers == 0 {
            return say("No customers yet: nothing to measure.");
        }
        say(format!(
            "Data quality score {:.1}/100 over {} customers · duplicates {:.1}%",
            q.score, q.customers, q.duplicate_rate_pct
        ))?;
        let drawn: Vec<Drawn> = q
            .fields
            .iter()
            .map(|f| Drawn {
                field: &f.field,
                filled_pct: f.filled_pct,
                valid_pct: f.valid_pct,
                chart: bar(f.filled as f64, q.customers.max(1) as f64, 20),
            })
            .collect();
        o.rows(&drawn, "")?;
        o.section("Fix these first", &q.worst)?;
        say(format!("score = {}", q.score_rule))
    })
}
