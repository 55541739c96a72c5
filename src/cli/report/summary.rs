//! `pool report summary`: pool size per pool, owned, by stage, and this week's and last
//! week's claims, releases and recycles.
use serde::Serialize;

use super::{emit, say, Env};
use crate::app::report as app;
use crate::domain::charts::bar;
use crate::error::Result;
use crate::store::Backend;

#[derive(Serialize)]
struct Line {
    metric: String,
    value: i64,
    chart: String,
}

pub fn run(store: &mut dyn Backend, env: &Env) -> Result<()> {
    let s = app::summary(store, &env.me, env.today)?;
    let max = s.total.max(1) as f64;
    let line = |metric: String, value: i64, chart: bool| Line {
        metric,
        value,
        chart: if chart {
            bar(value as f64, max, 30)
        } else {
            String::new()
        },
    };
    let mut lines = vec![
        line("customers".into(), s.total, false),
        line("owned".into(), s.owned, true),
    ];
    for p in &s.pools {
        lines.push(line(format!("in pool '{}'", p.key), p.count, true));
    }
    for st in &s.stages {
        lines.push(line(format!("stage {}", st.key), st.count, true));
    }
    for (label, w) in [("this week", &s.this_week), ("last week", &s.last_week)] {
        lines.push(line(format!("claims {label}"), w.claims, false));
        lines.push(line(format!("releases {label}"), w.releases, false));
        lines.push(line(format!("recycles {label}"), w.recycles, false));
    }
    #[derive(Serialize)]
    struct Metric<'a> {
        metric: &'a str,
        value: i64,
    }
    let data: Vec<Metric> = lines
        .iter()
        .map(|l| Metric {
            metric: &l.metric,
            value: l.value,
        })
        .collect();
    emit(&env.out, &s, &data, |o| {
        if s.total == 0 {
            say("The pool is empty: add customers with `pool add` or `pool import FILE`.")?;
            return Ok(());
        }
        o.rows(&lines, "")
    })
}
