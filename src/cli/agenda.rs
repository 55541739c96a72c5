//! `pool agenda`: what I should do today — overdue, today, the next 7 days, and my
//! customers about to be recycled; for a manager also the team's overdue follow-ups
//! and the customers their owners have gone silent on.
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use chrono::Duration;
use serde::Serialize;

use super::Ctx;
use crate::clock::iso_ts;
use crate::domain::roles::{Action, Role};
use crate::domain::rules::{recycle_due, shortest_recycle_days, Rules, DAY};
use crate::error::Result;
use crate::store::work::{self, Followup, FollowupFilter};
use crate::store::{pool, Store};

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

/// Rules per pool, read once.
struct RuleBook<'a> {
    store: &'a Store,
    by_pool: HashMap<i64, Rules>,
}

impl RuleBook<'_> {
    fn get(&mut self, pool_id: i64) -> Result<&Rules> {
        if !self.by_pool.contains_key(&pool_id) {
            let r = pool::rules(&self.store.conn, pool_id)?;
            self.by_pool.insert(pool_id, r);
        }
        Ok(&self.by_pool[&pool_id])
    }
}

/// The pools (all, or one) whose rules recycle anything, with their rules.
fn recycling_pools(store: &Store, only: Option<i64>) -> Result<Vec<(i64, Rules)>> {
    let mut out = Vec::new();
    for (pid, _) in pool::all_pool_ids(&store.conn)? {
        if only.is_some_and(|o| o != pid) {
            continue;
        }
        let rules = pool::rules(&store.conn, pid)?;
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
    store: &Store,
    team: Option<i64>,
    only_pool: Option<i64>,
    now: i64,
) -> Result<BTreeMap<String, (i64, i64)>> {
    let mut per_owner: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (pid, rules) in recycling_pools(store, only_pool)? {
        for (id, login, n) in pool::due_counts(&store.conn, pid, team, now + rules.warn_days * DAY)?
        {
            per_owner.entry(login).or_insert((id, 0)).1 += n;
        }
    }
    Ok(per_owner)
}

/// These owners' customers due back within their pool's warn_days, soonest first, at
/// most `per_owner` per owner (0 = all). Found on the stored recycle dates; the date and
/// reason shown are the rules' own (`recycle_due`).
pub fn recycle_soon(
    store: &Store,
    owners: &[i64],
    only_pool: Option<i64>,
    now: i64,
    per_owner: i64,
) -> Result<Vec<RecycleSoon>> {
    let conn = &store.conn;
    let pools = recycling_pools(store, only_pool)?;
    let mut out = Vec::new();
    for &o in owners {
        let mut mine = Vec::new();
        for (pid, rules) in &pools {
            for (w, stored) in
                pool::due_soon_of(conn, o, *pid, now + rules.warn_days * DAY, per_owner)?
            {
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

fn silent(store: &Store, team: i64, now: i64) -> Result<Vec<Silent>> {
    let mut book = RuleBook {
        store,
        by_pool: HashMap::new(),
    };
    let mut out = Vec::new();
    for w in work::owned_for_warning(&store.conn, None, Some(team))? {
        let warn = book.get(w.pool_id)?.warn_days;
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

pub fn run(ctx: &mut Ctx) -> Result<()> {
    let me = ctx.require(Action::ReadCustomers)?;
    let clock = crate::clock::now()?;
    let now = clock.timestamp();
    let today = clock.date_naive();
    let out = ctx.out;
    let store = ctx.store()?;
    let mine = FollowupFilter {
        assignee_id: Some(me.id),
        status: Some("open".into()),
        ..Default::default()
    };
    let overdue = work::list_followups(
        &store.conn,
        &FollowupFilter {
            due_before: Some(today.to_string()),
            ..mine.clone()
        },
    )?;
    let due_today = work::list_followups(
        &store.conn,
        &FollowupFilter {
            due_on_or_after: Some(today.to_string()),
            due_until: Some(today.to_string()),
            ..mine.clone()
        },
    )?;
    let next = work::list_followups(
        &store.conn,
        &FollowupFilter {
            due_on_or_after: Some((today + Duration::days(1)).to_string()),
            due_until: Some((today + Duration::days(7)).to_string()),
            ..mine
        },
    )?;
    let soon = recycle_soon(store, &[me.id], None, now, 0)?;
    let manager = matches!(me.role, Role::Manager | Role::Admin);
    let (team_overdue, team_silent) = if manager {
        let t = work::list_followups(
            &store.conn,
            &FollowupFilter {
                team_id: Some(me.team_id),
                status: Some("open".into()),
                due_before: Some(today.to_string()),
                ..Default::default()
            },
        )?;
        (Some(t), Some(silent(store, me.team_id, now)?))
    } else {
        (None, None)
    };
    let agenda = Agenda {
        user: me.login.clone(),
        overdue,
        today: due_today,
        next_7_days: next,
        recycle_soon: soon,
        team_overdue,
        team_silent,
    };
    if out.is_json() || out.format == super::output::Format::Csv {
        return out.record(&agenda);
    }
    let empty = agenda.overdue.is_empty()
        && agenda.today.is_empty()
        && agenda.next_7_days.is_empty()
        && agenda.recycle_soon.is_empty()
        && agenda.team_overdue.as_ref().is_none_or(|v| v.is_empty())
        && agenda.team_silent.as_ref().is_none_or(|v| v.is_empty());
    if empty {
        writeln!(
            std::io::stdout().lock(),
            "Nothing due for {} — a clear day.",
            me.login
        )?;
        return Ok(());
    }
    out.section(
        &format!("Overdue ({})", agenda.overdue.len()),
        &agenda.overdue,
    )?;
    out.section(&format!("Today ({})", agenda.today.len()), &agenda.today)?;
    out.section(
        &format!("Next 7 days ({})", agenda.next_7_days.len()),
        &agenda.next_7_days,
    )?;
    out.section(
        &format!("About to be recycled ({})", agenda.recycle_soon.len()),
        &agenda.recycle_soon,
    )?;
    if let Some(t) = &agenda.team_overdue {
        out.section(
            &format!("Team {}: overdue follow-ups ({})", me.team, t.len()),
            t,
        )?;
    }
    if let Some(s) = &agenda.team_silent {
        out.section(
            &format!("Team {}: customers gone silent ({})", me.team, s.len()),
            s,
        )?;
    }
    Ok(())
}
