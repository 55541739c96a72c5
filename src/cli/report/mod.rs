//! `pool report …`: the numbers a sales manager reads at a glance. Tables with small
//! unicode charts for people; the same numbers, without the charts, in JSON or CSV for
//! scripts. One file per report; the numbers come from `app::report`.
use std::io::Write;

use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::output::{Format, Out};
use super::Ctx;
use crate::app::report::Period;
use crate::domain::dates::parse_date;
use crate::domain::roles::{Action, User};
use crate::error::Result;

mod access;
mod activity;
mod followups;
mod funnel;
mod owners;
mod quality;
mod revenue;
mod stale;
mod summary;
mod teams;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ReportCommand {
    /// Pool size per pool, owned, by stage, claims/releases/recycles this week vs last
    Summary,
    /// Per user: owned vs limit, locked, contacts (30 days), overdue follow-ups, deals, about to be recycled
    Owners(TeamArg),
    /// The same rolled up by team, and cross-team shares through the public pool
    Teams,
    /// Lead → customer → loyal, churned: counts and conversion rates
    Funnel,
    /// Customers to be recycled within warn_days, by owner, with days left
    Stale(StaleArgs),
    /// Overdue and due follow-ups by assignee
    Followups(TeamArg),
    /// Claims, releases, recycles, interactions and deals per period
    Activity(ActivityArgs),
    /// Completeness and validity per field, duplicate rate, a 0–100 score, worst records
    Quality,
    /// Who read personal data unmasked or exported it, and how much; flags unusual volume
    Access(SinceArg),
    /// Revenue (live deals) per day, week, month or quarter, per currency
    Revenue(RevenueArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RevenueBy {
    Day,
    /// Monday to Sunday, labelled by ISO week (2026-W48)
    Week,
    Month,
    Quarter,
}

impl From<RevenueBy> for crate::app::report::RevenuePeriod {
    fn from(b: RevenueBy) -> Self {
        use crate::app::report::RevenuePeriod as P;
        match b {
            RevenueBy::Day => P::Day,
            RevenueBy::Week => P::Week,
            RevenueBy::Month => P::Month,
            RevenueBy::Quarter => P::Quarter,
        }
    }
}

#[derive(Debug, Args)]
pub struct RevenueArgs {
    /// Period length (days and weeks are local, in the configured time zone)
    #[arg(long, value_enum, default_value_t = RevenueBy::Month)]
    pub by: RevenueBy,
    /// First deal date counted (default: 14 days, 12 weeks, 12 months or 4 quarters back)
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last deal date counted, inclusive (default: today)
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only deals credited to this team's people (managers: their own team; members always
    /// see only their own deals)
    #[arg(long)]
    pub team: Option<String>,
}

#[derive(Debug, Args)]
pub struct TeamArg {
    /// Only this team (managers: their own team by default)
    #[arg(long)]
    pub team: Option<String>,
}

#[derive(Debug, Args)]
pub struct StaleArgs {
    #[command(flatten)]
    pub team: TeamArg,
    /// Only customers owned from this pool
    #[arg(long, value_name = "POOL")]
    pub pool: Option<String>,
    /// Customers listed per owner, soonest first; the counts always cover all (0 = list all)
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
}

#[derive(Debug, Args)]
pub struct SinceArg {
    /// Start of the window (default: 7 days ago)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum By {
    Day,
    Week,
    Month,
}

#[derive(Debug, Args)]
pub struct ActivityArgs {
    /// Only this team's people
    #[arg(long)]
    pub team: Option<String>,
    /// From this date (default: 8 periods back)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Up to this date, exclusive (default: tomorrow)
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Period length
    #[arg(long, value_enum, default_value_t = By::Week)]
    pub by: By,
}

/// Prints a report: JSON/CSV get `data` (or `rows` for CSV), tables get `draw`.
pub(crate) fn emit<T: Serialize, R: Serialize>(
    out: &Out,
    data: &T,
    rows: &[R],
    draw: impl FnOnce(&Out) -> Result<()>,
) -> Result<()> {
    match out.format {
        Format::Json | Format::Jsonl => out.json(data),
        Format::Csv => out.rows(rows, ""),
        Format::Table => draw(out),
        Format::Xlsx => Err(crate::cli::output::xlsx_only_for_export()),
    }
}

pub(crate) fn say(line: impl AsRef<str>) -> Result<()> {
    writeln!(std::io::stdout().lock(), "{}", line.as_ref())?;
    Ok(())
}

/// What every report is given: who asks, when, and how to print.
pub struct Env {
    pub me: User,
    pub now: i64,
    pub today: NaiveDate,
    pub out: Out,
}

impl From<By> for Period {
    fn from(b: By) -> Self {
        match b {
            By::Day => Period::Day,
            By::Week => Period::Week,
            By::Month => Period::Month,
        }
    }
}

/// An optional date flag.
fn date(flag: &str, v: &Option<String>, today: NaiveDate) -> Result<Option<NaiveDate>> {
    v.as_deref().map(|d| parse_date(flag, d, today)).transpose()
}

pub fn run(ctx: &mut Ctx, cmd: ReportCommand) -> Result<()> {
    let me = ctx.require(Action::Reports)?;
    let clock = crate::clock::now()?;
    let env = Env {
        me,
        now: clock.timestamp(),
        today: crate::clock::today_of(clock),
        out: ctx.out,
    };
    let store = ctx.store()?;
    match cmd {
        ReportCommand::Summary => summary::run(store, &env),
        ReportCommand::Owners(a) => owners::run(store, &env, &a),
        ReportCommand::Teams => teams::run(store, &env),
        ReportCommand::Funnel => funnel::run(store, &env),
        ReportCommand::Stale(a) => stale::run(store, &env, &a),
        ReportCommand::Followups(a) => followups::run(store, &env, &a),
        ReportCommand::Activity(a) => activity::run(store, &env, &a),
        ReportCommand::Quality => quality::run(store, &env),
        ReportCommand::Access(a) => access::run(store, &env, &a),
        ReportCommand::Revenue(a) => revenue::run(store, &env, &a),
    }
}
