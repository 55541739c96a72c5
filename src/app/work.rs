//! Working a customer: `log`, `followup add|list|done|cancel`, `deal add|list|void`.
//! Each change is made on a customer the actor may work on (through [`scope`]) and
//! audited in its own transaction; free text is never copied into the audit log.
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use super::scope;
use crate::domain::customer::Customer;
use crate::domain::dates::{check_due, check_not_past};
use crate::domain::roles::{Action, Role, User};
use crate::domain::rules::counts_as_contact;
use crate::domain::work::{self as rules, Kind};
use crate::error::{Error, Result};
use crate::store::ops::audit::Record;
use crate::store::ops::work::{Deal, DealFilter, Followup, FollowupFilter};
use crate::store::{Backend, Tx};

/// A due date and, optionally, a time of day.
pub type Due = (NaiveDate, Option<chrono::NaiveTime>);

/// A due date within range and not past (unless `past`), as stored: `2026-12-08` or
/// `2026-12-08 15:00` (local time; sorts and compares as text).
fn checked_due(due: Due, clock: DateTime<Utc>, past: bool) -> Result<String> {
    let local = clock.with_timezone(&crate::clock::zone()).naive_local();
    let d = check_due("--due", due.0, local.date())?;
    check_not_past("--due", due, local, past)?;
    Ok(match due.1 {
        Some(t) => format!("{d} {}", t.format("%H:%M")),
        None => d.to_string(),
    })
}

/// A live, owned customer that `me` may work on (owner, their manager, or an admin).
fn workable(tx: &mut dyn Tx, me: &User, id: i64) -> Result<Customer> {
    let c = tx.customer(id)?;
    if c.owner_id.is_none() {
        return Err(Error::NotOwned { id, pool: c.pool });
    }
    scope::check(tx, me, &c)?;
    Ok(c)
}

/// What `pool log` records.
pub struct NewLog {
    pub customer: i64,
    pub kind: Kind,
    pub summary: String,
    /// When it happened (None: now).
    pub at: Option<DateTime<Utc>>,
    /// The next step planned in the same go: (action, due date and time).
    pub next: Option<(String, Due)>,
    /// The next step may be due in the past (back-filling).
    pub past: bool,
}

#[derive(Debug, Serialize)]
pub struct Logged {
    pub interaction: i64,
    pub customer: i64,
    pub at: Option<String>,
    pub followup: Option<i64>,
    /// Whether it moved the recycle clock (the pool's contact_kinds and min_contact_chars).
    pub counts_as_contact: bool,
}

/// Logs an interaction (and plans the next step); the recycle clock moves forward.
pub fn log(store: &mut dyn Backend, me: &User, l: &NewLog, clock: DateTime<Utc>) -> Result<Logged> {
    scope::require(me, Action::Log)?;
    let now = clock.timestamp();
    let summary = rules::text("summary", &l.summary)?;
    let at = match l.at {
        Some(at) => rules::check_logged_at(at, clock)?,
        None => now,
    };
    let next = match &l.next {
        Some((action, due)) => Some((
            rules::text("--next", action)?,
            checked_due(*due, clock, l.past)?,
        )),
        None => None,
    };
    let mut tx = store.write()?;
    let c = workable(&mut *tx, me, l.customer)?;
    let counts = counts_as_contact(&tx.rules(c.pool_id)?, l.kind.as_str(), &summary);
    let iid = tx.log_interaction(c.id, me.id, l.kind.as_str(), &summary, at, counts, now)?;
    let fid = match &next {
        Some((action, due)) => {
            Some(tx.add_followup(c.id, c.owner_id.unwrap_or(me.id), me.id, due, action, now)?)
        }
        None => None,
    };
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "log",
        entity: "customer",
        entity_id: Some(c.id),
        before: None,
        // Ids and kinds only: free text may hold personal data (pool forget erases it).
        after: Some(
            json!({"interaction": iid, "kind": l.kind.as_str(), "at": at, "followup": fid}),
        ),
    })?;
    tx.commit()?;
    Ok(Logged {
        interaction: iid,
        customer: c.id,
        at: crate::clock::iso_ts(Some(at)),
        followup: fid,
        counts_as_contact: counts,
    })
}

/// A follow-up to plan.
pub struct NewFollowup {
    pub customer: i64,
    pub due: Due,
    /// The due date may be in the past (back-filling).
    pub past: bool,
    pub action: String,
    /// Who does it (default: the customer's owner).
    pub assignee: Option<String>,
}

/// Plans a follow-up on a customer `me` works on, for its owner or the assignee.
pub fn followup_add(
    store: &mut dyn Backend,
    me: &User,
    n: &NewFollowup,
    clock: DateTime<Utc>,
) -> Result<Followup> {
    scope::require(me, Action::FollowUp)?;
    let now = clock.timestamp();
    let due = checked_due(n.due, clock, n.past)?;
    let action = rules::text("action", &n.action)?;
    let mut tx = store.write()?;
    let c = workable(&mut *tx, me, n.customer)?;
    let who = match n.assignee.as_deref() {
        Some(login) => {
            let u = tx.user(login)?;
            rules::check_assignee(me, &u, c.owner_id)?;
            u
        }
        None => tx.user_by_id(c.owner_id.unwrap_or(me.id))?,
    };
    let fid = tx.add_followup(c.id, who.id, me.id, &due, &action, now)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "followup_add",
        entity: "followup",
        entity_id: Some(fid),
        before: None,
        after: Some(json!({"customer": c.id, "assignee": who.login, "due": due})),
    })?;
    let f = tx.followup(fid)?;
    tx.commit()?;
    Ok(f)
}

/// Which follow-ups to list; with none of team, assignee, customer: `me`'s own.
#[derive(Debug, Default)]
pub struct FollowupQuery {
    pub mine: bool,
    pub team: Option<String>,
    pub assignee: Option<String>,
    pub customer: Option<i64>,
    pub overdue: bool,
    /// Due within this many days from today.
    pub due_within_days: Option<i64>,
    /// None: every status.
    pub status: Option<String>,
}

/// Follow-ups in `me`'s scope: a member (or viewer) their own and those of customers
/// they work on; a manager their team's; an admin everyone's.
pub fn followups(
    store: &mut dyn Backend,
    me: &User,
    q: &FollowupQuery,
    today: NaiveDate,
) -> Result<Vec<Followup>> {
    scope::require(me, Action::ReadCustomers)?;
    let mut tx = store.read()?;
    let mut f = FollowupFilter {
        status: q.status.clone(),
        customer_id: q.customer,
        ..Default::default()
    };
    if let Some(t) = &q.team {
        let team = tx.team_id(t)?;
        rules::check_list_team(me, (t, team))?;
        f.team_id = Some(team);
    }
    if let Some(u) = &q.assignee {
        let who = tx.user(u)?;
        rules::check_list_assignee(me, &who)?;
        f.assignee_id = Some(who.id);
    }
    if let Some(id) = q.customer {
        if me.role != Role::Admin {
            scope::customer(&mut *tx, me, id)?;
        }
    }
    if q.mine || (q.team.is_none() && q.assignee.is_none() && q.customer.is_none()) {
        f.assignee_id = Some(me.id);
    }
    if q.overdue {
        f.due_before = Some(today.to_string());
        f.status = Some("open".into());
    }
    if let Some(days) = q.due_within_days {
        f.due_until = Some((today + chrono::Duration::days(days)).to_string());
    }
    tx.list_followups(&f)
}

/// Closes a follow-up as `done` or `cancelled`, with an optional note.
pub fn followup_close(
    store: &mut dyn Backend,
    me: &User,
    id: i64,
    note: Option<&str>,
    done: bool,
    now: i64,
) -> Result<()> {
    scope::require(me, Action::FollowUp)?;
    let status = if done { "done" } else { "cancelled" };
    let note = note.map(|n| rules::text("--note", n)).transpose()?;
    let mut tx = store.write()?;
    let f = tx.followup(id)?;
    rules::check_close(
        me,
        id,
        (&f.assignee, f.assignee_id, f.assignee_team),
        f.owner_id,
    )?;
    if !tx.close_followup(id, status, note.as_deref(), now)? {
        return Err(Error::Conflict(format!(
            "follow-up {id} is already {}",
            f.status
        )));
    }
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: if done {
            "followup_done"
        } else {
            "followup_cancel"
        },
        entity: "followup",
        entity_id: Some(id),
        before: Some(json!({"status": f.status})),
        after: Some(json!({"status": status, "customer": f.customer_id})),
    })?;
    tx.commit()
}

/// A deal to record.
pub struct NewDeal {
    pub customer: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub product: Option<String>,
    /// The deal's date (None: today).
    pub on: Option<NaiveDate>,
}

#[derive(Debug, Serialize)]
pub struct DealAdded {
    pub deal: i64,
    pub customer: i64,
    pub amount: String,
    pub currency: String,
    pub on: String,
    pub stage: String,
}

/// Records a deal on a customer `me` works on; a lead becomes a customer.
pub fn deal_add(
    store: &mut dyn Backend,
    me: &User,
    d: &NewDeal,
    clock: DateTime<Utc>,
) -> Result<DealAdded> {
    scope::require(me, Action::Deal)?;
    let now = clock.timestamp();
    let today = crate::clock::today_of(clock);
    let on = rules::check_deal(d.amount_minor, d.on.unwrap_or(today), today)?;
    let product = d
        .product
        .as_deref()
        .map(|p| rules::text("--product", p))
        .transpose()?;
    let mut tx = store.write()?;
    let c = workable(&mut *tx, me, d.customer)?;
    let did = tx.add_deal(
        c.id,
        c.owner_id.unwrap_or(me.id),
        d.amount_minor,
        &d.currency,
        product.as_deref(),
        &on.to_string(),
        now,
    )?;
    let stage = tx.customer(c.id)?.stage;
    plan_on_event(
        &mut *tx,
        me,
        "deal",
        (c.id, c.pool_id, &stage),
        c.owner_id.unwrap_or(me.id),
        now,
    )?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "deal_add",
        entity: "customer",
        entity_id: Some(c.id),
        before: Some(json!({"stage": c.stage})),
        after: Some(json!({"deal": did, "amount_minor": d.amount_minor, "currency": d.currency, "stage": stage})),
    })?;
    tx.commit()?;
    Ok(DealAdded {
        deal: did,
        customer: c.id,
        amount: crate::domain::money::format_amount(d.amount_minor),
        currency: d.currency.clone(),
        on: on.to_string(),
        stage,
    })
}

/// Deals in `me`'s scope: one customer's (one `me` may work on), or else an admin's
/// all, a manager's team's owners', a member's own customers'.
pub fn deals(
    store: &mut dyn Backend,
    me: &User,
    customer: Option<i64>,
    include_voided: bool,
    limit: Option<i64>,
) -> Result<Vec<Deal>> {
    scope::require(me, Action::ReadCustomers)?;
    let mut tx = store.read()?;
    let mut f = DealFilter {
        customer_id: customer,
        include_voided,
        limit,
        ..Default::default()
    };
    match (customer, me.role) {
        (_, Role::Admin) => {}
        (Some(id), _) => {
            scope::customer(&mut *tx, me, id)?;
        }
        (None, Role::Manager) => f.owner_team = Some(me.team_id),
        (None, _) => f.owner_id = Some(me.id),
    }
    tx.list_deals(&f)
}

/// Voids a deal recorded by mistake; the customer's stage follows. The deal as it is now
/// and the customer's stage.
pub fn deal_void(
    store: &mut dyn Backend,
    me: &User,
    id: i64,
    reason: &str,
    now: i64,
) -> Result<(Deal, String)> {
    scope::require(me, Action::Deal)?;
    let reason = rules::text("--reason", reason)?;
    let mut tx = store.write()?;
    let d = tx.deal(id)?;
    let before = tx.customer(d.customer_id)?;
    if me.role != Role::Admin {
        scope::check(&mut *tx, me, &before)?;
    }
    if !tx.void_deal(id, me.id, &reason, now)? {
        return Err(Error::Conflict(format!("deal {id} is already void")));
    }
    let after = tx.customer(d.customer_id)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "deal_void",
        entity: "customer",
        entity_id: Some(d.customer_id),
        before: Some(json!({
            "deal": id, "amount_minor": d.amount_minor, "currency": d.currency,
            "on": d.on, "stage": before.stage,
        })),
        after: Some(json!({"deal": id, "voided": true, "reason": reason, "stage": after.stage})),
    })?;
    let voided = tx.deal(id)?;
    tx.commit()?;
    Ok((voided, after.stage))
}

/// What settling stray follow-ups did.
#[derive(Debug, Default, Serialize)]
pub struct Settled {
    /// Handed to the customer's owner.
    pub moved: Vec<i64>,
    /// Cancelled (the customer is in a pool).
    pub cancelled: Vec<i64>,
}

/// Settles the open follow-ups nobody will do (see `PoolOps::stray_followups`) that
/// `pick` selects by (assignee, customer): each goes to the customer's owner, or is
/// cancelled with `why` when the customer is in a pool. One audit row each.
pub(crate) fn settle_strays(
    tx: &mut dyn Tx,
    me: &User,
    pick: &dyn Fn(i64, i64) -> bool,
    why: &str,
    now: i64,
) -> Result<Settled> {
    let mut done = Settled::default();
    for s in tx.stray_followups()? {
        if !pick(s.assignee_id, s.customer_id) {
            continue;
        }
        let (action, after) = match s.owner_id {
            Some(owner) => {
                if !tx.reassign_followup(s.id, owner)? {
                    continue;
                }
                done.moved.push(s.id);
                let login = tx.user_by_id(owner)?.login;
                (
                    "followup_move",
                    json!({"assignee": login, "customer": s.customer_id, "why": why}),
                )
            }
            None => {
                let note = format!("cancelled: {why}");
                if !tx.close_followup(s.id, "cancelled", Some(&note), now)? {
                    continue;
                }
                done.cancelled.push(s.id);
                (
                    "followup_cancel",
                    json!({"status": "cancelled", "customer": s.customer_id, "why": why}),
                )
            }
        };
        let before = tx.user_by_id(s.assignee_id)?.login;
        tx.audit(Record {
            at: now,
            actor: &me.login,
            action,
            entity: "followup",
            entity_id: Some(s.id),
            before: Some(json!({"assignee": before, "status": "open"})),
            after: Some(after),
        })?;
    }
    Ok(done)
}

/// `pool doctor --fix`: every open follow-up nobody will do goes to its customer's owner,
/// or is cancelled when the customer is in a pool (admin).
pub fn fix_stray_followups(store: &mut dyn Backend, me: &User, now: i64) -> Result<Settled> {
    scope::require(me, Action::Repair)?;
    let mut tx = store.write()?;
    let done = settle_strays(&mut *tx, me, &|_, _| true, "doctor --fix", now)?;
    tx.commit()?;
    Ok(done)
}

/// The local day `now` falls in.
fn day_of(now: i64) -> NaiveDate {
    crate::clock::today_of(DateTime::from_timestamp(now, 0).unwrap_or_default())
}

/// Plans the follow-up a pool's rule asks for when `event` (claim, deal) happens to a
/// customer at `stage`, for `owner`, in the event's own transaction, audited; its id.
pub(crate) fn plan_on_event(
    tx: &mut dyn Tx,
    me: &User,
    event: &str,
    customer: (i64, i64, &str),
    owner: i64,
    now: i64,
) -> Result<Option<i64>> {
    let (id, pool_id, stage) = customer;
    if let Some(planned) = tx.rule_followup_planned(id)? {
        return Ok(planned);
    }
    let rules = tx.rules(pool_id)?;
    let Some(rule) = crate::domain::rules::followup_rule(&rules, event, stage) else {
        return Ok(None);
    };
    let due = day_of(now) + chrono::Duration::days(rule.due_days);
    let fid = tx.add_followup(id, owner, me.id, &due.to_string(), &rule.action, now)?;
    let assignee = tx.user_by_id(owner)?.login;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "followup_add",
        entity: "followup",
        entity_id: Some(fid),
        before: None,
        after: Some(
            json!({"customer": id, "assignee": assignee, "due": due.to_string(), "rule": event}),
        ),
    })?;
    Ok(Some(fid))
}

/// The `silent` follow-up rules (run by `pool recycle`): every owned customer due back
/// within its pool's warn_days that has no open follow-up gets the rule's action, due
/// that many days before the recycle date (today at the earliest), for its owner. One
/// transaction per pool; the ids planned.
pub fn plan_silent(store: &mut dyn Backend, me: &User, now: i64) -> Result<Vec<i64>> {
    use crate::domain::rules::{followup_rule, recycle_due, DAY};
    scope::require(me, Action::Recycle)?;
    let today = day_of(now);
    let mut planned = Vec::new();
    // Only pools with a `silent` rule take the write lock (read first, without it).
    let pools: Vec<i64> = {
        let mut tx = store.read()?;
        let mut with_rule = Vec::new();
        for (pid, _) in tx.all_pools()? {
            if tx.rules(pid)?.followups.iter().any(|f| f.event == "silent") {
                with_rule.push(pid);
            }
        }
        with_rule
    };
    for pid in pools {
        let mut tx = store.write()?;
        let rules = tx.rules(pid)?;
        for d in tx.due_by(pid, &rules, None, None, now + rules.warn_days * DAY)? {
            let Some(row) = tx.owned_row(d.id)? else {
                continue;
            };
            let Some((due, _)) = recycle_due(&rules, &row.facts) else {
                continue;
            };
            let Some(rule) = followup_rule(&rules, "silent", &row.facts.stage) else {
                continue;
            };
            if due <= now || due > now + rules.warn_days * DAY || tx.open_followups(d.id)? > 0 {
                continue;
            }
            let on = (day_of(due) - chrono::Duration::days(rule.due_days)).max(today);
            let (action, owner) = (rule.action.clone(), row.owner_id);
            let fid = tx.add_followup(d.id, owner, me.id, &on.to_string(), &action, now)?;
            let assignee = tx.user_by_id(owner)?.login;
            tx.audit(Record {
                at: now,
                actor: &me.login,
                action: "followup_add",
                entity: "followup",
                entity_id: Some(fid),
                before: None,
                after: Some(json!({"customer": d.id, "assignee": assignee, "due": on.to_string(), "rule": "silent"})),
            })?;
            planned.push(fid);
        }
        tx.commit()?;
    }
    Ok(planned)
}

/// A customer's live deals as `pool show` lists them.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerDeals {
    /// The newest first, at most the limit asked for.
    pub deals: Vec<Deal>,
    /// Live deals left out by the limit.
    pub more: usize,
    /// Sums of all live deals per currency (never added across currencies).
    #[serde(skip)]
    pub totals: crate::domain::money::Totals,
}

/// The newest `limit` live deals of a customer `me` may work on, how many more there
/// are, and the totals per currency over all of them (voided deals excluded).
pub fn customer_deals(
    store: &mut dyn Backend,
    me: &User,
    id: i64,
    limit: usize,
) -> Result<CustomerDeals> {
    scope::require(me, Action::ReadCustomers)?;
    let mut tx = store.read()?;
    scope::customer(&mut *tx, me, id)?;
    let mut deals = tx.list_deals(&DealFilter {
        customer_id: Some(id),
        ..Default::default()
    })?;
    let mut totals = crate::domain::money::Totals::new();
    for d in &deals {
        *totals.entry(d.currency.clone()).or_default() += i128::from(d.amount_minor);
    }
    let more = deals.len().saturating_sub(limit);
    deals.truncate(limit);
    Ok(CustomerDeals {
        deals,
        more,
        totals,
    })
}
