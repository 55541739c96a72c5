//! Working a customer: `pool log`, `pool followup add|list|done|cancel`, `pool deal add`.
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::json;

use super::customer::check_scope;
use super::Ctx;
use crate::domain::dates::{check_due, check_past, parse_date, parse_when};
use crate::domain::money::{format_amount, parse_amount, parse_currency};
use crate::domain::normalize::clean_text;
use crate::domain::roles::{Action, Role};
use crate::error::{Error, Result};
use crate::store::customers::{self, Customer};
use crate::store::work::{self, FollowupFilter};
use crate::store::User;
use crate::store::{audit, teams, users};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Call,
    Email,
    Meeting,
    Visit,
    Wechat,
    Note,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Email => "email",
            Kind::Meeting => "meeting",
            Kind::Visit => "visit",
            Kind::Wechat => "wechat",
            Kind::Note => "note",
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
    /// Due date of --next: 2026-12-01, tomorrow, +3d, next monday
    #[arg(long, value_name = "DATE", requires = "next")]
    pub due: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FollowupCommand {
    /// Plan a follow-up on a customer
    Add {
        /// Customer id
        id: i64,
        /// Due date: 2026-12-01, tomorrow, +3d, next monday
        #[arg(long, value_name = "DATE")]
        due: String,
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
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusFilter {
    Open,
    Done,
    Cancelled,
    All,
}

#[derive(Debug, Subcommand)]
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

/// A live, owned customer that `me` may work on (owner, their manager, or an admin).
fn workable(conn: &rusqlite::Connection, me: &User, id: i64) -> Result<Customer> {
    let c = customers::get(conn, id)?;
    if c.owner_id.is_none() {
        return Err(Error::NotOwned { id, pool: c.pool });
    }
    check_scope(conn, me, &c)?;
    Ok(c)
}

fn text(field: &str, s: &str) -> Result<String> {
    let t = clean_text(s).ok_or_else(|| Error::invalid(field, "is empty"))?;
    if t.len() > crate::domain::customer::MAX_FIELD_BYTES {
        return Err(Error::invalid(field, "is longer than 64 KiB"));
    }
    Ok(t)
}

#[derive(Serialize)]
struct Logged {
    interaction: i64,
    customer: i64,
    at: Option<String>,
    followup: Option<i64>,
}

pub fn log(ctx: &mut Ctx, a: &LogArgs) -> Result<()> {
    let me = ctx.require(Action::Log)?;
    let clock = crate::clock::now()?;
    let now = clock.timestamp();
    let out = ctx.out;
    let summary = text("summary", &a.summary)?;
    let at = match &a.at {
        Some(s) => {
            let at = parse_when("--at", s, clock)?;
            // Not before ten years ago (the future is refused below, with its own hint).
            if at < clock {
                check_past("--at", at.date_naive(), clock.date_naive())?;
            }
            at.timestamp()
        }
        None => now,
    };
    if at > now + 300 {
        return Err(Error::invalid(
            "--at",
            "is in the future; log what happened, plan with --next",
        ));
    }
    let next = match (&a.next, &a.due) {
        (Some(n), Some(d)) => Some((
            text("--next", n)?,
            check_due(
                "--due",
                parse_date("--due", d, clock.date_naive())?,
                clock.date_naive(),
            )?,
        )),
        _ => None,
    };
    let tx = ctx.store()?.begin()?;
    let c = workable(&tx, &me, a.id)?;
    let iid = work::log_interaction(&tx, c.id, me.id, a.kind.as_str(), &summary, at, now)?;
    let fid = match &next {
        Some((action, due)) => {
            let assignee = c.owner_id.unwrap_or(me.id);
            Some(work::add_followup(
                &tx,
                c.id,
                assignee,
                me.id,
                &due.to_string(),
                action,
                now,
            )?)
        }
        None => None,
    };
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "log",
            entity: "customer",
            entity_id: Some(c.id),
            before: None,
            // Ids and kinds only: free text may hold personal data (pool forget erases it).
            after: Some(
                json!({"interaction": iid, "kind": a.kind.as_str(), "at": at, "followup": fid}),
            ),
        },
    )?;
    tx.commit()?;
    out.status(format!("logged {} on customer {}", a.kind.as_str(), c.id));
    out.record(&Logged {
        interaction: iid,
        customer: c.id,
        at: crate::clock::iso_ts(Some(at)),
        followup: fid,
    })
}

fn may_touch_followup(me: &User, f: &work::Followup) -> bool {
    match me.role {
        Role::Admin => true,
        Role::Manager => f.assignee_team == me.team_id,
        Role::Member => f.assignee_id == me.id || f.owner_id == Some(me.id),
        Role::Viewer => false,
    }
}

/// `+7d`-style periods for --due-within.
fn period_days(s: &str) -> Result<i64> {
    let t = s.trim().to_lowercase();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = num.parse().map_err(|_| {
        Error::invalid(
            "--due-within",
            format!("'{s}' is not a period like 7d or 2w"),
        )
    })?;
    match unit {
        "" | "d" => Ok(n),
        "w" => Ok(n * 7),
        _ => Err(Error::invalid(
            "--due-within",
            format!("'{s}' is not a period like 7d or 2w"),
        )),
    }
}

pub fn followup(ctx: &mut Ctx, cmd: FollowupCommand) -> Result<()> {
    let clock = crate::clock::now()?;
    let now = clock.timestamp();
    let today = clock.date_naive();
    let out = ctx.out;
    match cmd {
        FollowupCommand::Add {
            id,
            due,
            action,
            assignee,
        } => {
            let me = ctx.require(Action::FollowUp)?;
            let due = check_due("--due", parse_date("--due", &due, today)?, today)?;
            let action = text("action", &action)?;
            let tx = ctx.store()?.begin()?;
            let c = workable(&tx, &me, id)?;
            let who = match &assignee {
                Some(login) => {
                    let u = users::get(&tx, login)?;
                    if !u.active {
                        return Err(Error::invalid(
                            "--assignee",
                            format!("'{login}' is deactivated"),
                        ));
                    }
                    let ok = match me.role {
                        Role::Admin => true,
                        Role::Manager => u.team_id == me.team_id,
                        _ => u.id == me.id || Some(u.id) == c.owner_id,
                    };
                    if !ok {
                        return Err(Error::Forbidden(format!(
                            "you may not plan work for '{login}'"
                        )));
                    }
                    u
                }
                None => users::by_id(&tx, c.owner_id.unwrap_or(me.id))?,
            };
            let fid = work::add_followup(&tx, c.id, who.id, me.id, &due.to_string(), &action, now)?;
            audit::append(
                &tx,
                audit::Record {
                    at: now,
                    actor: &me.login,
                    action: "followup_add",
                    entity: "followup",
                    entity_id: Some(fid),
                    before: None,
                    after: Some(
                        json!({"customer": c.id, "assignee": who.login, "due": due.to_string()}),
                    ),
                },
            )?;
            tx.commit()?;
            out.status(format!("follow-up {fid} for {} due {due}", who.login));
            out.record(&work::get_followup(&ctx.store()?.conn, fid)?)
        }
        FollowupCommand::List(a) => {
            let me = ctx.require(Action::ReadCustomers)?;
            let conn = &ctx.store()?.conn;
            let mut f = FollowupFilter {
                status: match a.status {
                    StatusFilter::Open => Some("open".into()),
                    StatusFilter::Done => Some("done".into()),
                    StatusFilter::Cancelled => Some("cancelled".into()),
                    StatusFilter::All => None,
                },
                customer_id: a.customer,
                ..Default::default()
            };
            // Scope: a member (or viewer) lists their own follow-ups and those of
            // customers they work on; a manager their team's; an admin everyone's.
            if let Some(t) = &a.team {
                let team = teams::get(conn, t)?;
                if me.role != Role::Admin && (me.role != Role::Manager || team != me.team_id) {
                    return Err(Error::Forbidden(format!(
                        "the follow-ups of team '{t}' are its manager's to list"
                    )));
                }
                f.team_id = Some(team);
            }
            if let Some(u) = &a.assignee {
                let who = users::get(conn, u)?;
                let allowed = match me.role {
                    Role::Admin => true,
                    Role::Manager => who.team_id == me.team_id,
                    _ => who.id == me.id,
                };
                if !allowed {
                    return Err(Error::Forbidden(format!(
                        "the follow-ups of '{u}' are not yours to list"
                    )));
                }
                f.assignee_id = Some(who.id);
            }
            if let Some(id) = a.customer {
                if me.role != Role::Admin {
                    check_scope(conn, &me, &customers::get(conn, id)?)?;
                }
            }
            if a.mine || (a.team.is_none() && a.assignee.is_none() && a.customer.is_none()) {
                f.assignee_id = Some(me.id);
            }
            if a.overdue {
                f.due_before = Some(today.to_string());
                f.status = Some("open".into());
            }
            if let Some(p) = &a.due_within {
                f.due_until = Some((today + chrono::Duration::days(period_days(p)?)).to_string());
            }
            let rows = work::list_followups(conn, &f)?;
            out.rows(&rows, "no follow-ups")
        }
        FollowupCommand::Done { id, note } => close(ctx, id, note, "done", now),
        FollowupCommand::Cancel { id, note } => close(ctx, id, note, "cancelled", now),
    }
}

fn close(ctx: &mut Ctx, id: i64, note: Option<String>, status: &str, now: i64) -> Result<()> {
    let me = ctx.require(Action::FollowUp)?;
    let out = ctx.out;
    let note = match note {
        Some(n) => Some(text("--note", &n)?),
        None => None,
    };
    let tx = ctx.store()?.begin()?;
    let f = work::get_followup(&tx, id)?;
    if !may_touch_followup(&me, &f) {
        return Err(Error::Forbidden(format!(
            "follow-up {id} is {}'s",
            f.assignee
        )));
    }
    if !work::close_followup(&tx, id, status, note.as_deref(), now)? {
        return Err(Error::Conflict(format!(
            "follow-up {id} is already {}",
            f.status
        )));
    }
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: if status == "done" {
                "followup_done"
            } else {
                "followup_cancel"
            },
            entity: "followup",
            entity_id: Some(id),
            before: Some(json!({"status": f.status})),
            after: Some(json!({"status": status, "customer": f.customer_id})),
        },
    )?;
    tx.commit()?;
    out.status(format!("follow-up {id} {status}"));
    Ok(())
}

#[derive(Serialize)]
struct DealAdded {
    deal: i64,
    customer: i64,
    amount: String,
    currency: String,
    on: String,
    stage: String,
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
    let conn = &ctx.store()?.conn;
    let mut f = work::DealFilter {
        customer_id: a.customer,
        include_voided: a.voided,
        limit: (a.limit > 0).then_some(a.limit),
        ..Default::default()
    };
    match (a.customer, me.role) {
        (_, Role::Admin) => {}
        (Some(id), _) => check_scope(conn, &me, &customers::get(conn, id)?)?,
        (None, Role::Manager) => f.owner_team = Some(me.team_id),
        (None, _) => f.owner_id = Some(me.id),
    }
    let rows = work::list_deals(conn, &f)?;
    out.rows(&rows, "no deals")
}

fn deal_void(ctx: &mut Ctx, id: i64, reason: &str) -> Result<()> {
    let me = ctx.require(Action::Deal)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let reason = text("--reason", reason)?;
    let tx = ctx.store()?.begin()?;
    let d = work::get_deal(&tx, id)?;
    let before = customers::get(&tx, d.customer_id)?;
    if me.role != Role::Admin {
        check_scope(&tx, &me, &before)?;
    }
    if !work::void_deal(&tx, id, me.id, &reason, now)? {
        return Err(Error::Conflict(format!("deal {id} is already void")));
    }
    let after = customers::get(&tx, d.customer_id)?;
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "deal_void",
            entity: "customer",
            entity_id: Some(d.customer_id),
            before: Some(json!({
                "deal": id, "amount_minor": d.amount_minor, "currency": d.currency,
                "on": d.on, "stage": before.stage,
            })),
            after: Some(
                json!({"deal": id, "voided": true, "reason": reason, "stage": after.stage}),
            ),
        },
    )?;
    tx.commit()?;
    out.status(format!(
        "deal {id} on customer {} voided ({} {}); stage {}",
        d.customer_id, d.amount, d.currency, after.stage
    ));
    out.record(&work::get_deal(&ctx.store()?.conn, id)?)
}

fn deal_add(ctx: &mut Ctx, a: DealArgs) -> Result<()> {
    let me = ctx.require(Action::Deal)?;
    let clock = crate::clock::now()?;
    let now = clock.timestamp();
    let out = ctx.out;
    let minor = parse_amount(&a.amount)?;
    if minor == 0 {
        return Err(Error::invalid("amount", "must be more than 0"));
    }
    let currency = parse_currency(&a.currency)?;
    let on = match &a.on {
        Some(d) => check_past(
            "--on",
            parse_date("--on", d, clock.date_naive())?,
            clock.date_naive(),
        )?,
        None => clock.date_naive(),
    };
    let product = match &a.product {
        Some(p) => Some(text("--product", p)?),
        None => None,
    };
    let tx = ctx.store()?.begin()?;
    let c = workable(&tx, &me, a.id)?;
    let did = work::add_deal(
        &tx,
        c.id,
        c.owner_id.unwrap_or(me.id),
        minor,
        &currency,
        product.as_deref(),
        &on.to_string(),
        now,
    )?;
    let stage = customers::get(&tx, c.id)?.stage;
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "deal_add",
            entity: "customer",
            entity_id: Some(c.id),
            before: Some(json!({"stage": c.stage})),
            after: Some(
                json!({"deal": did, "amount_minor": minor, "currency": currency, "stage": stage}),
            ),
        },
    )?;
    tx.commit()?;
    out.status(format!(
        "deal {did} on customer {}: {} {currency}",
        c.id,
        format_amount(minor)
    ));
    out.record(&DealAdded {
        deal: did,
        customer: c.id,
        amount: format_amount(minor),
        currency,
        on: on.to_string(),
        stage,
    })
}
