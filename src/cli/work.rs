//! Working a customer: `pool log`, `pool followup add|list|done|cancel`, `pool deal add`.
use clap::{Args, Subcommand, ValueEnum};

use super::Ctx;
use crate::app::work as app;
use crate::domain::dates::{parse_date, parse_due, parse_when};
use crate::domain::money::{parse_amount, parse_currency};
use crate::domain::roles::Action;
use crate::domain::work::period_days;
use crate::error::Result;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Call,
    Email,
    Meeting,
    Visit,
    Wechat,
    Note,
}

impl From<Kind> for crate::domain::work::Kind {
    fn from(k: Kind) -> Self {
        use crate::domain::work::Kind as K;
        match k {
            Kind::Call => K::Call,
            Kind::Email => K::Email,
            Kind::Meeting => K::Meeting,
            Kind::Visit => K::Visit,
            Kind::Wechat => K::Wechat,
            Kind::Note => K::Note,
        }
    }
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Customer id
    pub id: i64,
    /// What kind of contact
    #[arg(value_enum)]
    pub kind: Kind,
    /// What happened, e.g. "聊了报价"
    pub summary: String,
    /// When it happened (default now): 2026-11-20 14:30, yesterday, RFC 3339
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
    /// Plan the next step in the same go (needs --due)
    #[arg(long, value_name = "ACTION", requires = "due")]
    pub next: Option<String>,
    /// Due date (and time) of --next: 2026-12-01, 12月8日, tomorrow 15:00, 周五, 下周一
    /// 9:30, 明天下午3点, +3d
    #[arg(long, value_name = "DATE", requires = "next")]
    pub due: Option<String>,
    /// Allow a --due in the past (back-filling a plan)
    #[arg(long, requires = "due")]
    pub past: bool,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum FollowupCommand {
    /// Plan a follow-up on a customer
    Add {
        /// Customer id
        id: i64,
        /// Due date and, optionally, time: 2026-12-01, 12-08, 12月8日, tomorrow 15:00,
        /// 后天, 周五 9:30, 下周一, 明天下午3点, +3d, next monday (local time)
        #[arg(long, value_name = "DATE")]
        due: String,
        /// Allow a due date in the past (back-filling a plan)
        #[arg(long)]
        past: bool,
        /// What to do, e.g. "发合同"
        action: String,
        /// Who does it (default: the customer's owner)
        #[arg(long, value_name = "USER")]
        assignee: Option<String>,
    },
    /// List follow-ups (default: my open ones)
    #[command(alias = "ls")]
    List(FollowupListArgs),
    /// Mark a follow-up done
    Done {
        /// Follow-up id
        id: i64,
        /// How it went
        #[arg(long)]
        note: Option<String>,
    },
    /// Cancel a follow-up
    Cancel {
        /// Follow-up id
        id: i64,
        /// Why
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct FollowupListArgs {
    /// Only mine (the default unless --team, --assignee or --customer is given)
    #[arg(long)]
    pub mine: bool,
    /// Everyone in this team
    #[arg(long)]
    pub team: Option<String>,
    /// Only this assignee
    #[arg(long, value_name = "USER")]
    pub assignee: Option<String>,
    /// Only this customer
    #[arg(long, value_name = "ID")]
    pub customer: Option<i64>,
    /// Only overdue ones
    #[arg(long, conflicts_with = "due_within")]
    pub overdue: bool,
    /// Only those due within a period: 7d, 2w, 0d (today)
    #[arg(long, value_name = "PERIOD")]
    pub due_within: Option<String>,
    /// Status (default open)
    #[arg(long, value_enum, default_value_t = StatusFilter::Open)]
    pub status: StatusFilter,
    /// At most N follow-ups, soonest due first (0 = all)
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusFilter {
    Open,
    Done,
    Cancelled,
    All,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum DealCommand {
    /// Record a deal (a lead becomes a customer)
    Add(DealArgs),
    /// List deals: one customer's, or those of the customers you may work on (admins:
    /// all; managers: their team's owners'; members: their own customers')
    #[command(alias = "ls")]
    List(DealListArgs),
    /// Void a deal recorded by mistake (kept in the history and the audit trail; a
    /// customer left with no live deal is a lead again). Owner, their manager, or an admin
    Void {
        /// Deal id (pool deal list shows it)
        id: i64,
        /// Why, e.g. "typed 120000 for 12000"
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct DealListArgs {
    /// Only this customer's deals
    #[arg(long, value_name = "ID")]
    pub customer: Option<i64>,
    /// Also show voided deals
    #[arg(long)]
    pub voided: bool,
    /// At most N deals (0 = all)
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
}

#[derive(Debug, Args)]
pub struct DealArgs {
    /// Customer id
    pub id: i64,
    /// Amount, exact: 12000.50
    #[arg(long)]
    pub amount: String,
    /// Currency code
    #[arg(long, default_value = "CNY")]
    pub currency: String,
    /// What was sold
    #[arg(long)]
    pub product: Option<String>,
    /// Date of the deal (default today)
    #[arg(long, value_name = "DATE")]
    pub on: Option<String>,
}

pub fn log(ctx: &mut Ctx, a: &LogArgs) -> Result<()> {
    let me = ctx.require(Action::Log)?;
    let clock = crate::clock::now()?;
    let out = ctx.out;
    let at =
        a.at.as_deref()
            .map(|s| parse_when("--at", s, clock))
            .transpose()?;
    let next = match (&a.next, &a.due) {
        (Some(n), Some(d)) => Some((
            n.clone(),
            parse_due("--due", d, crate::clock::today_of(clock))?,
        )),
        _ => None,
    };
    let l = app::NewLog {
        customer: a.id,
        kind: a.kind.into(),
        summary: a.summary.clone(),
        at,
        next,
        past: a.past,
    };
    let logged = app::log(ctx.store()?, &me, &l, clock)?;
    out.status(format!(
        "logged {} on customer {}{}",
        l.kind.as_str(),
        logged.customer,
        if logged.counts_as_contact {
            ""
        } else {
            " (not counted as contact: the pool's contact_kinds / min_contact_chars; the recycle clock did not move)"
        }
    ));
    out.record(&logged)
}

pub fn followup(ctx: &mut Ctx, cmd: FollowupCommand) -> Result<()> {
    // Who acts first: their team's time zone decides "today".
    ctx.actor()?;
    let clock = crate::clock::now()?;
    let now = clock.timestamp();
    let today = crate::clock::today_of(clock);
    let out = ctx.out;
    match cmd {
        FollowupCommand::Add {
            id,
            due,
            past,
            action,
            assignee,
        } => {
            let me = ctx.require(Action::FollowUp)?;
            let n = app::NewFollowup {
                customer: id,
                due: parse_due("--due", &due, today)?,
                past,
                action,
                assignee,
            };
            let f = app::followup_add(ctx.store()?, &me, &n, clock)?;
            out.status(format!(
                "follow-up {} for {} due {}",
                f.id, f.assignee, f.due
            ));
            out.record(&f)
        }
        FollowupCommand::List(a) => {
            let me = ctx.require(Action::ReadCustomers)?;
            let q = app::FollowupQuery {
                mine: a.mine,
                team: a.team,
                assignee: a.assignee,
                customer: a.customer,
                overdue: a.overdue,
                due_within_days: a.due_within.as_deref().map(period_days).transpose()?,
                status: match a.status {
                    StatusFilter::Open => Some("open".into()),
                    StatusFilter::Done => Some("done".into()),
                    StatusFilter::Cancelled => Some("cancelled".into()),
                    StatusFilter::All => None,
                },
            };
            let mut rows = app::followups(ctx.store()?, &me, &q, today)?;
            let total = rows.len();
            if a.limit > 0 && total > a.limit {
                rows.truncate(a.limit);
                out.status(format!(
                    "(first {} of {total} shown; --limit 0 shows all)",
                    a.limit
                ));
            }
            out.rows(&rows, "no follow-ups")
        }
        FollowupCommand::Done { id, note } => close(ctx, id, note, true, now),
        FollowupCommand::Cancel { id, note } => close(ctx, id, note, false, now),
    }
}

fn close(ctx: &mut Ctx, id: i64, note: Option<String>, done: bool, now: i64) -> Result<()> {
    let me = ctx.require(Action::FollowUp)?;
    let out = ctx.out;
    app::followup_close(ctx.store()?, &me, id, note.as_deref(), done, now)?;
    out.status(format!(
        "follow-up {id} {}",
        if done { "done" } else { "cancelled" }
    ));
    Ok(())
}

pub fn deal(ctx: &mut Ctx, cmd: DealCommand) -> Result<()> {
    match cmd {
        DealCommand::Add(a) => deal_add(ctx, a),
        DealCommand::List(a) => deal_list(ctx, &a),
        DealCommand::Void { id, reason } => deal_void(ctx, id, &reason),
    }
}

fn deal_list(ctx: &mut Ctx, a: &DealListArgs) -> Result<()> {
    let me = ctx.require(Action::ReadCustomers)?;
    let out = ctx.out;
    let limit = (a.limit > 0).then_some(a.limit);
    let rows = app::deals(ctx.store()?, &me, a.customer, a.voided, limit)?;
    out.rows(&rows, "no deals")
}

fn deal_void(ctx: &mut Ctx, id: i64, reason: &str) -> Result<()> {
    let me = ctx.require(Action::Deal)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let (d, stage) = app::deal_void(ctx.store()?, &me, id, reason, now)?;
    out.status(format!(
        "deal {id} on customer {} voided ({} {}); stage {stage}",
        d.customer_id, d.amount, d.currency
    ));
    out.record(&d)
}

fn deal_add(ctx: &mut Ctx, a: DealArgs) -> Result<()> {
    let me = ctx.require(Action::Deal)?;
    let clock = crate::clock::now()?;
    let out = ctx.out;
    let today = crate::clock::today_of(clock);
    let d = app::NewDeal {
        customer: a.id,
        amount_minor: parse_amount(&a.amount)?,
        currency: parse_currency(&a.currency)?,
        product: a.product,
        on: a
            .on
            .as_deref()
            .map(|d| parse_date("--on", d, today))
            .transpose()?,
    };
    let added = app::deal_add(ctx.store()?, &me, &d, clock)?;
    out.status(format!(
        "deal {} on customer {}: {} {}",
        added.deal, added.customer, added.amount, added.currency
    ));
    out.record(&added)
}
