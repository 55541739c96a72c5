//! `pool show ID`: one customer, masked per the viewer, with its timeline.
use clap::Args;
use serde::Serialize;
use serde_json::json;

use crate::app::customer as app;
use crate::cli::view::detail;
use crate::cli::Ctx;
use crate::clock::iso_ts;
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Customer id
    pub id: i64,
}

#[derive(Serialize)]
struct TimelineRow {
    at: String,
    what: String,
    by: Option<String>,
    detail: String,
}

pub fn run(ctx: &mut Ctx, a: &ShowArgs) -> Result<()> {
    let me = ctx.require(Action::ReadCustomers)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let shown = app::show(ctx.store()?, &me, a.id, now)?;
    let timeline: Vec<TimelineRow> = shown
        .timeline
        .into_iter()
        .map(|e| TimelineRow {
            at: iso_ts(Some(e.at)).unwrap_or_default(),
            what: e.kind,
            by: e.by,
            detail: e.detail,
        })
        .collect();
    let hidden = shown.hidden;
    let mut m = detail(&shown.customer, &me, &shown.fields);
    if out.is_json() {
        m.insert("timeline".into(), serde_json::to_value(&timeline)?);
        m.insert("timeline_hidden".into(), json!(hidden));
        return out.record(&m);
    }
    out.record(&m)?;
    out.section("Timeline (newest first)", &timeline)?;
    if hidden > 0 {
        out.status(format!("{hidden} interaction(s), follow-up(s) and deal(s) hidden: claim the customer to see its history"));
    }
    Ok(())
}
