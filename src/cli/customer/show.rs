//! `pool show ID`: one customer, masked per the viewer, with its timeline.
use clap::Args;
use serde::Serialize;
use serde_json::json;

use std::io::Write;

use crate::app::customer as app;
use crate::app::{contact, work};
use crate::cli::contact::ContactRow;
use crate::cli::output::Format;
use crate::cli::view::detail;
use crate::cli::Ctx;
use crate::clock::iso_ts;
use crate::domain::money::{format_totals, format_wide};
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Customer id
    pub id: i64,
    /// Show at most N of its deals, newest first (totals count them all)
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub deals: usize,
}

/// One deal as `show` lists it.
#[derive(Serialize)]
struct DealRow {
    deal: i64,
    on: String,
    amount: String,
    currency: String,
    product: Option<String>,
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
    let contacts: Vec<ContactRow> = contact::for_show(ctx.store()?, &me, &shown.customer, now)?
        .into_iter()
        .map(Into::into)
        .collect();
    // Deals are history: shown to those who see the whole of it.
    let deals = if shown.full {
        Some(work::customer_deals(ctx.store()?, &me, a.id, a.deals)?)
    } else {
        None
    };
    let deal_rows: Vec<DealRow> = deals
        .iter()
        .flat_map(|d| &d.deals)
        .map(|d| DealRow {
            deal: d.id,
            on: d.on.clone(),
            amount: d.amount.clone(),
            currency: d.currency.clone(),
            product: d.product.clone(),
        })
        .collect();
    if out.is_json() {
        m.insert("contacts".into(), serde_json::to_value(&contacts)?);
        if let Some(d) = &deals {
            m.insert("deals".into(), serde_json::to_value(&deal_rows)?);
            m.insert("deals_more".into(), json!(d.more));
            let totals: serde_json::Map<String, serde_json::Value> = d
                .totals
                .iter()
                .map(|(c, v)| (c.clone(), json!(format_wide(*v))))
                .collect();
            m.insert("deal_totals".into(), serde_json::Value::Object(totals));
        }
        m.insert("timeline".into(), serde_json::to_value(&timeline)?);
        m.insert("timeline_hidden".into(), json!(hidden));
        return out.record(&m);
    }
    out.record(&m)?;
    out.section("Contacts", &contacts)?;
    if let Some(d) = &deals {
        out.section("Deals (newest first)", &deal_rows)?;
        if !d.deals.is_empty() && out.format == Format::Table {
            let mut w = std::io::stdout().lock();
            writeln!(w, "Deal totals: {}", format_totals(&d.totals))?;
        }
        if d.more > 0 {
            out.status(format!(
                "{} more deal(s): pool deal list --customer {}",
                d.more, a.id
            ));
        }
    }
    out.section("Timeline (newest first)", &timeline)?;
    if hidden > 0 {
        out.status(format!("{hidden} interaction(s), follow-up(s) and deal(s) hidden: claim the customer to see its history"));
    }
    Ok(())
}
