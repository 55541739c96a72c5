//! `pool agenda` and the recycle warnings reports share: what is due, what is about to
//! be recycled, and (for managers) which customers their owners have gone silent on.
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::rules::RulesCache;
use super::scope;
use crate::clock::iso_ts;
use crate::domain::roles::{Action, Role, User};
use crate::domain::rules::{recycle_due, shortest_recycle_days, Rules, DAY};
use crate::error::Result;
use crate::store::ops::work::{Followup, FollowupFilter};
use crate::store::{Backend, Tx};

#[derive(Debug, Serialize)]
pub struct RecycleSoon {
    pub id: i64,
    pub customer: Option<String>,
    pub owner: String,
    pub due: Option<String>,
    pub days_left: i64,
    pub reason: &'static str,
    #[serde(skip)]
    pub due_at: i64,
}

#[derive(Debug, Serialize)]
pub struct Silent {
    pub id: i64,
    pub customer: Option<String>,
    pub owner: String,
    pub silent_days: i64,
}

#[derive(Debug, Serialize)]
pub struct Agenda {
    pub user: String,
    pub overdue: Vec<Followup>,
    pub today: Vec<Followup>,
    pub next_7_days: Vec<Followup>,
    pub recycle_soon: Vec<RecycleSoon>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_overdue: Option<Vec<Followup>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_silent: Option<Vec<Silent>>,
}

impl Agenda {
    pub fn is_empty(&self) -> bool {
        self.overdue.is_empty()
            && self.today.is_empty()
            && self.next_7_days.is_empty()
            && self.recycle_soon.is_empty()
            && self.team_overdue.as_ref().is_none_or(|v| v.is_empty())
            && self.team_silent.as_ref().is_none_or(|v| v.is_empty())
    }
}

/// `me`'s day: their open follow-ups overdue, due today and in the next 7 days, their
/// customers about to be recycled; for a manager (or admin) also their team's overdue
/// follow-ups and silent customers. One read snapshot.
pub fn agenda(store: &mut dyn Backend, me: &User, clock: DateTime<Utc>) -> Result<Agenda> {
    scope::require(me, Action::ReadCustomers)?;
    let now = clock.timestamp();
    let today = crate::clock::today_of(clock);
    let mut tx = store.read()?;
    let mine = FollowupFilter {
        assignee_id: Some(me.id),
        status: Some("open".into()),
        ..Default::default()
    };
    let overdue = tx.list_followups(&FollowupFilter {
        due_before: Some(today.to_string()),
        ..mine.clone()
    })?;
    let due_today = tx.list_followups(&FollowupFilter {
        due_on_or_after: Some(today.to_string()),
        due_until: Some(today.to_string()),
        ..mine.clone()
    })?;
    let next = tx.list_followups(&FollowupFilter {
        due_on_or_after: Some((today + Duration::days(1)).to_string()),
        due_until: Some((today + Duration::days(7)).to_string()),
        ..mine
    })?;
    let soon = recycle_soon(&mut *tx, &[me.id], None, now, 0)?;
    let (team_overdue, team_silent) = if matches!(me.role, Role::Manager | Role::Admin) {
        let t = tx.list_followups(&FollowupFilter {
            team_id: Some(me.team_id),
            status: Some("open".into()),
            due_before: Some(today.to_string()),
            ..Default::default()
        })?;
        (Some(t), Some(silent(&mut *tx, me.team_id, now)?))
    } else {
        (None, None)
    };
    Ok(Agenda {
        user: me.login.clone(),
        overdue,
        today: due_today,
        next_7_days: next,
        recycle_soon: soon,
        team_overdue,
        team_silent,
    })
}

/// The pools (all, or one) whose rules recycle anything, with their rules.
fn recycling_pools(tx: &mut dyn Tx, only: Option<i64>) -> Result<Vec<(i64, Rules)>> {
    let mut out = Vec::new();
    for (pid, _) in tx.all_pools()? {
        if only.is_some_and(|o| o != pid) {
            continue;
        }
        let rules = tx.rules(pid)?;
        if shortest_recycle_days(&rules).is_some() {
            out.push((pid, rules));
        }
    }
    Ok(out)
}

/// Per owner login (optionally of one team, one pool): the owner's id and how many owned
/// customers are due back within their pool's warn_days. Counted on the stored recycle
/// dates' index; owners with none are left out.
pub fn recycle_soon_counts(
    tx: &mut dyn Tx,
    team: Option<i64>,
    only_pool: Option<i64>,
    now: i64,
) -> Result<BTreeMap<String, (i64, i64)>> {
    let mut per_owner: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (pid, rules) in recycling_pools(tx, only_pool)? {
        for (id, login, n) in tx.due_counts(pid, team, now + rules.warn_days * DAY)? {
            per_owner.entry(login).or_insert((id, 0)).1 += n;
        }
    }
    Ok(per_owner)
}

/// These owners' customers due back within their pool's warn_days, soonest first, at
/// most `per_owner` per owner (0 = all). Found on the stored recycle dates; the date and
/// reason shown are the rules' own (`recycle_due`).
pub fn recycle_soon(
    tx: &mut dyn Tx,
    owners: &[i64],
    only_pool: Option<i64>,
    now: i64,
    per_owner: i64,
) -> Result<Vec<RecycleSoon>> {
    let pools = recycling_pools(tx, only_pool)?;
    let mut out = Vec::new();
    for &o in owners {
        let mut mine = Vec::new();
        for (pid, rules) in &pools {
            for (w, stored) in tx.due_soon_of(o, *pid, now + rules.warn_days * DAY, per_owner)? {
                let (due, reason) = recycle_due(rules, &w.facts)
                    .map(|(d, why)| (d, why.as_str()))
                    .unwrap_or((stored, "no_contact"));
                mine.push(RecycleSoon {
                    id: w.id,
                    customer: w.label,
                    owner: w.owner,
                    due: iso_ts(Some(due)),
                    days_left: (due - now).div_euclid(DAY),
                    reason,
                    due_at: due,
                });
            }
        }
        mine.sort_by_key(|r| (r.due_at, r.id));
        if per_owner > 0 {
            mine.truncate(per_owner as usize);
        }
        out.extend(mine);
    }
    out.sort_by_key(|r| (r.due_at, r.id));
    Ok(out)
}

/// A team's owned customers nobody has contacted for their pool's warn_days or more,
/// longest silent first.
fn silent(tx: &mut dyn Tx, team: i64, now: i64) -> Result<Vec<Silent>> {
    let mut rules = RulesCache::default();
    let mut out = Vec::new();
    for w in tx.owned_for_warning(None, Some(team))? {
        let warn = rules.get(&mut *tx, w.pool_id)?.warn_days;
        let clock = w
            .facts
            .last_contact_at
            .unwrap_or(w.facts.claimed_at)
            .max(w.facts.claimed_at);
        let days = (now - clock).div_euclid(DAY);
        if warn > 0 && days >= warn {
            out.push(Silent {
                id: w.id,
                customer: w.label,
                owner: w.owner,
                silent_days: days,
            });
        }
    }
    out.sort_by_key(|s| (-s.silent_days, s.id));
    Ok(out)
}
