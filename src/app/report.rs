//! Reports read through one snapshot, within the reader's scope: a manager sees their
//! own team's people; the access report is for admins and managers.
use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

use super::agenda::{recycle_soon, recycle_soon_counts, RecycleSoon};
use super::scope;
use crate::domain::charts::percent;
use crate::domain::money::{format_totals, Totals};
use crate::domain::roles::{Action, Role, User};
use crate::error::{Error, Result};
use crate::store::ops::reports::{
    Access, Activity, Count, FollowupLoad, Funnel, OwnerStats, Worst,
};
use crate::store::{Backend, Tx};

/// A read snapshot for a report, if `me` may read reports.
pub fn read<'s>(store: &'s mut dyn Backend, me: &User) -> Result<Box<dyn Tx + 's>> {
    scope::require(me, Action::Reports)?;
    store.read()
}

/// Which team a report covers: the named one (a manager only their own), or by default
/// a manager's own team and everyone for an admin or viewer.
pub fn team_scope(tx: &mut dyn Tx, me: &User, name: Option<&str>) -> Result<Option<i64>> {
    match name {
        Some(name) => {
            let id = tx.team_id(name)?;
            if me.role == Role::Manager && id != me.team_id {
                return Err(Error::Forbidden(format!(
                    "managers see their own team ({})",
                    me.team
                )));
            }
            Ok(Some(id))
        }
        None if me.role == Role::Manager => Ok(Some(me.team_id)),
        None => Ok(None),
    }
}

/// Who reads how much personal data (unmasked reads, exports): admins and managers.
pub fn require_access_report(me: &User) -> Result<()> {
    if !matches!(me.role, Role::Admin | Role::Manager) {
        return Err(Error::PermissionDenied {
            role: me.role.as_str().into(),
            action: "read the access report".into(),
        });
    }
    Ok(())
}

/// The start of a local day, as a timestamp.
fn ts(d: NaiveDate) -> i64 {
    crate::clock::start_of(d)
}

#[derive(Debug, Serialize)]
pub struct Week {
    pub claims: i64,
    pub releases: i64,
    pub recycles: i64,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub total: i64,
    pub pooled: i64,
    pub owned: i64,
    pub pools: Vec<Count>,
    pub stages: Vec<Count>,
    pub this_week: Week,
    pub last_week: Week,
}

/// Pool size per pool, owned, by stage; claims (and assigns), releases and recycles
/// this week (from Monday) and last week.
pub fn summary(store: &mut dyn Backend, me: &User, today: NaiveDate) -> Result<Summary> {
    let mut tx = read(store, me)?;
    let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
    let week = |tx: &mut dyn Tx, from: NaiveDate, to: NaiveDate| -> Result<Week> {
        let ev = tx.events_between(ts(from), ts(to))?;
        let get = |k: &str| {
            ev.iter()
                .filter(|c| c.key == k)
                .map(|c| c.count)
                .sum::<i64>()
        };
        Ok(Week {
            claims: get("claim") + get("assign"),
            releases: get("release"),
            recycles: get("recycle"),
        })
    };
    let pools = tx.pooled_per_pool()?;
    let pooled: i64 = pools.iter().map(|p| p.count).sum();
    let owned = tx.owned_total()?;
    Ok(Summary {
        total: pooled + owned,
        pooled,
        owned,
        pools,
        stages: tx.by_stage()?,
        this_week: week(&mut *tx, monday, today + Duration::days(1))?,
        last_week: week(&mut *tx, monday - Duration::days(7), monday)?,
    })
}

/// Per person in scope: their numbers, and how many of their customers are about to be
/// recycled (by login).
pub struct Owners {
    /// The public pool's max_owned, the limit shown.
    pub max_owned: i64,
    pub stats: Vec<OwnerStats>,
    pub recycle_soon: BTreeMap<String, (i64, i64)>,
}

pub fn owners(
    store: &mut dyn Backend,
    me: &User,
    team: Option<&str>,
    now: i64,
    today: NaiveDate,
) -> Result<Owners> {
    let mut tx = read(store, me)?;
    let team = team_scope(&mut *tx, me, team)?;
    let max_owned = tx.rules(1)?.max_owned;
    let stats = tx.owner_stats(team, now, &today.to_string())?;
    let recycle_soon = recycle_soon_counts(&mut *tx, team, None, now)?;
    Ok(Owners {
        max_owned,
        stats,
        recycle_soon,
    })
}

#[derive(Debug, Serialize, Default, Clone)]
pub struct TeamRow {
    pub team: String,
    pub people: i64,
    pub owned: i64,
    pub locked: i64,
    pub contacts_30d: i64,
    pub overdue_followups: i64,
    pub deals: i64,
    pub deal_amount: String,
    #[serde(skip)]
    pub totals: Totals,
}

#[derive(Debug, Serialize)]
pub struct Share {
    pub team: String,
    pub took_from: String,
    pub customers: i64,
}

#[derive(Debug, Serialize)]
pub struct Teams {
    pub teams: Vec<TeamRow>,
    pub cross_team: Vec<Share>,
}

/// The owners' numbers rolled up by team, and the customers a team owns that another
/// team released.
pub fn teams(store: &mut dyn Backend, me: &User, now: i64, today: NaiveDate) -> Result<Teams> {
    let mut tx = read(store, me)?;
    let mut by_team: BTreeMap<String, TeamRow> = BTreeMap::new();
    for s in tx.owner_stats(None, now, &today.to_string())? {
        let t = by_team.entry(s.team.clone()).or_insert_with(|| TeamRow {
            team: s.team.clone(),
            ..Default::default()
        });
        t.people += 1;
        t.owned += s.owned;
        t.locked += s.locked;
        t.contacts_30d += s.contacts_30d;
        t.overdue_followups += s.overdue_followups;
        t.deals += s.deals;
        for (currency, sum) in s.deal_totals {
            *t.totals.entry(currency).or_default() += sum;
        }
    }
    let teams = by_team
        .into_values()
        .map(|mut t| {
            t.deal_amount = format_totals(&t.totals);
            t
        })
        .collect();
    let cross_team = tx
        .cross_team()?
        .into_iter()
        .map(|(team, took_from, customers)| Share {
            team,
            took_from,
            customers,
        })
        .collect();
    Ok(Teams { teams, cross_team })
}

pub fn funnel(store: &mut dyn Backend, me: &User) -> Result<Funnel> {
    read(store, me)?.funnel()
}

/// Customers about to be recycled: per owner in scope the count, and the soonest
/// `limit` per owner (0: all).
pub struct Stale {
    pub counts: BTreeMap<String, (i64, i64)>,
    pub customers: Vec<RecycleSoon>,
}

pub fn stale(
    store: &mut dyn Backend,
    me: &User,
    team: Option<&str>,
    pool: Option<&str>,
    limit: i64,
    now: i64,
) -> Result<Stale> {
    let mut tx = read(store, me)?;
    let team = team_scope(&mut *tx, me, team)?;
    let only_pool = pool.map(|p| tx.pool_id(p)).transpose()?;
    let counts = recycle_soon_counts(&mut *tx, team, only_pool, now)?;
    let ids: Vec<i64> = counts.values().map(|&(id, _)| id).collect();
    let customers = recycle_soon(&mut *tx, &ids, only_pool, now, limit)?;
    Ok(Stale { counts, customers })
}

/// Open follow-ups overdue, due today and in the next 7 days, per assignee in scope.
pub fn followups(
    store: &mut dyn Backend,
    me: &User,
    team: Option<&str>,
    today: NaiveDate,
) -> Result<Vec<FollowupLoad>> {
    let mut tx = read(store, me)?;
    let team = team_scope(&mut *tx, me, team)?;
    tx.followup_load(
        team,
        &today.to_string(),
        &(today + Duration::days(7)).to_string(),
    )
}

/// How long the periods of an activity report are.
#[derive(Debug, Clone, Copy)]
pub enum Period {
    Day,
    Week,
    Month,
}

/// Claims, releases, recycles, interactions and deals per period, from `since` (default
/// 8 periods back) to `until` (exclusive, default tomorrow).
pub fn activity(
    store: &mut dyn Backend,
    me: &User,
    team: Option<&str>,
    by: Period,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<Vec<Activity>> {
    let (fmt, step_days) = match by {
        Period::Day => ("%Y-%m-%d", 1),
        Period::Week => ("%Y-W%W", 7),
        Period::Month => ("%Y-%m", 31),
    };
    let until = until.unwrap_or(today + Duration::days(1));
    let since = since.unwrap_or(until - Duration::days(step_days * 8));
    if since >= until {
        return Err(Error::invalid("--since", "must be before --until"));
    }
    let mut tx = read(store, me)?;
    let team = team_scope(&mut *tx, me, team)?;
    let from = ts(since);
    tx.activity(fmt, from, ts(until), team, crate::clock::offset_at(from))
}

#[derive(Debug, Serialize)]
pub struct FieldRow {
    pub field: String,
    pub filled_pct: f64,
    pub valid_pct: f64,
    #[serde(skip)]
    pub filled: i64,
}

#[derive(Debug, Serialize)]
pub struct Quality {
    pub customers: i64,
    pub score: f64,
    pub score_rule: &'static str,
    pub duplicate_rate_pct: f64,
    pub fields: Vec<FieldRow>,
    pub worst: Vec<Worst>,
}

/// Completeness and validity per field, the duplicate rate, a 0–100 score and the ten
/// records most in need of fixing.
pub fn quality(store: &mut dyn Backend, me: &User) -> Result<Quality> {
    let mut tx = read(store, me)?;
    let counts = tx.field_quality()?;
    let total = counts.total;
    let dup = tx.duplicated()?;
    let filled = |name: &str| {
        counts
            .fields
            .iter()
            .find(|f| f.field == name)
            .map_or(0, |f| f.filled)
    };
    let share = |n: i64| {
        if total == 0 {
            0.0
        } else {
            n as f64 / total as f64
        }
    };
    // The score: what a rep needs to act, weighted (sums to 100).
    let score = if total == 0 {
        0.0
    } else {
        35.0 * share(counts.reachable)
            + 15.0 * share(counts.named)
            + 10.0 * share(filled("city"))
            + 10.0 * share(filled("address"))
            + 10.0 * share(filled("source"))
            + 20.0 * (1.0 - share(dup))
    };
    let fields = counts
        .fields
        .iter()
        .map(|f| FieldRow {
            field: f.field.clone(),
            filled_pct: percent(f.filled, total),
            valid_pct: percent(f.valid, f.filled),
            filled: f.filled,
        })
        .collect();
    Ok(Quality {
        customers: total,
        score: (score * 10.0).round() / 10.0,
        score_rule: "35 × reachable (valid phone or e-mail) + 15 × named (name or company) + 10 × city + 10 × address + 10 × source + 20 × (1 − duplicate rate)",
        duplicate_rate_pct: percent(dup, total),
        fields,
        worst: tx.worst_records(&counts.masks, 10)?,
    })
}

/// Who read personal data unmasked or exported it since `since` (default 7 days ago),
/// with unusual volume flagged: at least 100 rows and more than 3× the user's usual
/// daily volume (the 30 days before) over the window. Admins and managers.
pub fn access(
    store: &mut dyn Backend,
    me: &User,
    since: Option<NaiveDate>,
    now: i64,
    today: NaiveDate,
) -> Result<(NaiveDate, f64, Vec<Access>)> {
    require_access_report(me)?;
    let since = since.unwrap_or(today - Duration::days(7));
    let mut tx = read(store, me)?;
    let (days, rows) = access_rows(&mut *tx, since, now)?;
    Ok((since, days, rows))
}

/// The access report's rows in a snapshot already open (`pool notify` reads the flagged
/// ones): the window's length in days and who read or exported anything, flagged.
pub fn access_rows(tx: &mut dyn Tx, since: NaiveDate, now: i64) -> Result<(f64, Vec<Access>)> {
    let from = ts(since);
    let days = ((now - from) as f64 / 86_400.0).max(1.0);
    let mut rows = tx.access(from, now + 1)?;
    for r in &mut rows {
        let volume = (r.unmasked_rows + r.exported_rows) as f64;
        r.flagged = volume >= 100.0 && volume > 3.0 * r.usual_rows_per_day * days;
    }
    rows.retain(|r| r.unmasked_views + r.exports > 0);
    Ok((days, rows))
}
