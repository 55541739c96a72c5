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
    let (days, mut rows) = access_rows(&mut *tx, since, now)?;
    // A manager reads the audit rows of their team's users (`pool audit log`; on a server
    // the audit log's policy), so their access report covers their team.
    if me.role == Role::Manager {
        let team: std::collections::HashSet<String> = tx
            .users(Some(&me.team), true)?
            .into_iter()
            .map(|u| u.login)
            .collect();
        rows.retain(|r| team.contains(&r.user));
    }
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
    // Server mode counts whole-key lookups (each a probe of a masked contact): flagged
    // the same way, from 1,000 up (a masked phone hides 4 digits: 10,000 probes).
    if let Some(lookups) = tx.key_lookups(from, now + 1)? {
        for r in &mut rows {
            r.key_lookups = Some(0);
        }
        for (login, n, before) in lookups {
            let i = match rows.iter().position(|r| r.user == login) {
                Some(i) => i,
                None => {
                    rows.push(Access {
                        user: login,
                        key_lookups: Some(0),
                        ..Access::default()
                    });
                    rows.len() - 1
                }
            };
            let r = &mut rows[i];
            r.key_lookups = Some(n);
            r.flagged |= n >= 1_000 && n as f64 > 3.0 * (before as f64 / 30.0) * days;
        }
    }
    rows.retain(|r| r.unmasked_views + r.exports + r.key_lookups.unwrap_or(0) > 0);
    Ok((days, rows))
}

/// How long the periods of a revenue report are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevenuePeriod {
    Day,
    Week,
    Month,
    Quarter,
}

impl RevenuePeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            RevenuePeriod::Day => "day",
            RevenuePeriod::Week => "week",
            RevenuePeriod::Month => "month",
            RevenuePeriod::Quarter => "quarter",
        }
    }

    /// The first day of the period `d` falls in (weeks start on Monday).
    fn start(self, d: NaiveDate) -> NaiveDate {
        let first_of = |month: u32| NaiveDate::from_ymd_opt(d.year(), month, 1).unwrap_or(d);
        match self {
            RevenuePeriod::Day => d,
            RevenuePeriod::Week => {
                d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
            }
            RevenuePeriod::Month => first_of(d.month()),
            RevenuePeriod::Quarter => first_of((d.month() - 1) / 3 * 3 + 1),
        }
    }

    /// The period's label: 2026-11-28, 2026-W48 (ISO week), 2026-11, 2026-Q4.
    fn label(self, d: NaiveDate) -> String {
        match self {
            RevenuePeriod::Day => d.to_string(),
            RevenuePeriod::Week => {
                let w = d.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            RevenuePeriod::Month => format!("{}-{:02}", d.year(), d.month()),
            RevenuePeriod::Quarter => format!("{}-Q{}", d.year(), (d.month() - 1) / 3 + 1),
        }
    }

    /// The default first day: the start of the period 13 days, 11 weeks, 11 months or 3
    /// quarters before `to`'s (so 14 days, 12 weeks, 12 months or 4 quarters show).
    fn default_from(self, to: NaiveDate) -> NaiveDate {
        let back = match self {
            RevenuePeriod::Day => to - Duration::days(13),
            RevenuePeriod::Week => to - Duration::weeks(11),
            RevenuePeriod::Month => to.checked_sub_months(chrono::Months::new(11)).unwrap_or(to),
            RevenuePeriod::Quarter => to.checked_sub_months(chrono::Months::new(9)).unwrap_or(to),
        };
        self.start(back)
    }
}

/// One period's live deals in one currency.
#[derive(Debug, Clone, Serialize)]
pub struct RevenueRow {
    pub period: String,
    pub currency: String,
    pub deals: i64,
    /// Exact, e.g. "12000.50".
    pub amount: String,
    #[serde(skip)]
    pub amount_minor: i128,
}

/// Revenue per period and currency; never summed across currencies.
#[derive(Debug, Clone, Serialize)]
pub struct Revenue {
    pub by: &'static str,
    pub from: String,
    pub to: String,
    /// Whose deals: "all", "team NAME" or "user LOGIN".
    pub scope: String,
    pub rows: Vec<RevenueRow>,
    /// Per currency over the whole range.
    pub totals: Vec<RevenueRow>,
}

/// Live deals per period and currency between `from` and `to` (inclusive local dates;
/// default: the last 14 days, 12 weeks, 12 months or 4 quarters up to today). Scope as
/// the other reports: a manager their team, an admin or viewer everyone or `team`; a
/// member only the deals credited to them.
pub fn revenue(
    store: &mut dyn Backend,
    me: &User,
    by: RevenuePeriod,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    team: Option<&str>,
    today: NaiveDate,
) -> Result<Revenue> {
    use crate::domain::money::format_wide;
    use crate::store::ops::reports::DealScope;
    let to = to.unwrap_or(today);
    let from = from.unwrap_or_else(|| by.default_from(to));
    if from > to {
        return Err(Error::invalid("--from", "must not be after --to"));
    }
    let mut tx = read(store, me)?;
    let (scope, label) = if me.role == Role::Member {
        if team.is_some() {
            return Err(Error::Forbidden(
                "members see the revenue of their own deals (leave out --team)".into(),
            ));
        }
        (DealScope::User(me.id), format!("user {}", me.login))
    } else {
        match team_scope(&mut *tx, me, team)? {
            Some(id) => {
                let name = team.map_or_else(|| me.team.clone(), str::to_string);
                (DealScope::Team(id), format!("team {name}"))
            }
            None => (DealScope::All, "all".to_string()),
        }
    };
    let days = tx.revenue(&from.to_string(), &to.to_string(), scope)?;
    // (period start, currency) → (deals, amount), in order.
    let mut periods: BTreeMap<(NaiveDate, String), (i64, i128)> = BTreeMap::new();
    let mut totals: BTreeMap<String, (i64, i128)> = BTreeMap::new();
    for d in days {
        let Ok(on) = NaiveDate::parse_from_str(&d.on, "%Y-%m-%d") else {
            continue;
        };
        let p = periods
            .entry((by.start(on), d.currency.clone()))
            .or_default();
        p.0 += d.deals;
        p.1 += d.amount_minor;
        let t = totals.entry(d.currency).or_default();
        t.0 += d.deals;
        t.1 += d.amount_minor;
    }
    let row = |period: String, currency: String, (deals, minor): (i64, i128)| RevenueRow {
        period,
        currency,
        deals,
        amount: format_wide(minor),
        amount_minor: minor,
    };
    Ok(Revenue {
        by: by.as_str(),
        from: from.to_string(),
        to: to.to_string(),
        scope: label,
        rows: periods
            .into_iter()
            .map(|((start, cur), v)| row(by.label(start), cur, v))
            .collect(),
        totals: totals
            .into_iter()
            .map(|(cur, v)| row("total".into(), cur, v))
            .collect(),
    })
}

#[cfg(test)]
mod revenue_tests {
    use super::RevenuePeriod::*;
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_start_and_are_labelled() {
        assert_eq!(Week.start(d("2026-11-29")), d("2026-11-23"));
        assert_eq!(Week.label(d("2026-12-28")), "2026-W53");
        assert_eq!(Month.start(d("2026-11-29")), d("2026-11-01"));
        assert_eq!(Quarter.start(d("2026-11-29")), d("2026-10-01"));
        assert_eq!(Quarter.label(d("2026-02-01")), "2026-Q1");
        assert_eq!(Month.default_from(d("2026-11-29")), d("2025-12-01"));
        assert_eq!(Day.default_from(d("2026-11-29")), d("2026-11-16"));
    }
}
