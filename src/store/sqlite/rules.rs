//! Pool rules: read, save (owned customers' recycle dates follow).
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::rules::{FollowupRule, Override, Rules};
use crate::error::Result;

pub fn rules(conn: &Connection, pool_id: i64) -> Result<Rules> {
    let mut r = conn
        .prepare_cached(
            "SELECT max_owned, count_won, daily_claims, reclaim_cooldown_days, recycle_no_contact_days,
                recycle_no_deal_days, warn_days, exempt_stages, max_locked, fresh_hold_hours,
                contact_kinds, min_contact_chars, allocate, allocate_to
             FROM pool_rules WHERE pool_id = ?1",
        )?
        .query_row([pool_id], |r| {
            let exempt: String = r.get(7)?;
            Ok(Rules {
                max_owned: r.get(0)?,
                count_won: r.get(1)?,
                daily_claims: r.get(2)?,
                reclaim_cooldown_days: r.get(3)?,
                recycle_no_contact_days: r.get(4)?,
                recycle_no_deal_days: r.get(5)?,
                warn_days: r.get(6)?,
                exempt_stages: exempt
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                max_locked: r.get(8)?,
                fresh_hold_hours: r.get(9)?,
                overrides: Vec::new(),
                contact_kinds: r
                    .get::<_, String>(10)?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                min_contact_chars: r.get(11)?,
                allocate: r.get(12)?,
                allocate_to: r.get(13)?,
                followups: Vec::new(),
            })
        })
        .optional()?
        .unwrap_or_default();
    let mut s = conn.prepare_cached(
        "SELECT scope, value, recycle_no_contact_days, recycle_no_deal_days
         FROM pool_rule_overrides WHERE pool_id = ?1 ORDER BY scope, value",
    )?;
    let rows = s.query_map([pool_id], |r| {
        Ok(Override {
            scope: r.get(0)?,
            value: r.get(1)?,
            recycle_no_contact_days: r.get(2)?,
            recycle_no_deal_days: r.get(3)?,
        })
    })?;
    r.overrides = rows.collect::<rusqlite::Result<_>>()?;
    let mut s = conn.prepare_cached(
        "SELECT event, stage, action, due_days FROM followup_rules WHERE pool_id = ?1
          ORDER BY event, stage",
    )?;
    let rows = s.query_map([pool_id], |r| {
        Ok(FollowupRule {
            event: r.get(0)?,
            stage: r.get(1)?,
            action: r.get(2)?,
            due_days: r.get(3)?,
        })
    })?;
    r.followups = rows.collect::<rusqlite::Result<_>>()?;
    Ok(r)
}

/// Saves a pool's rules; when a rule that decides recycling changed, the pool's owned
/// customers get their recycle dates again.
pub fn save_rules(conn: &Connection, pool_id: i64, r: &Rules) -> Result<()> {
    let old = rules(conn, pool_id)?;
    let recycling_changed = old.recycle_no_contact_days != r.recycle_no_contact_days
        || old.recycle_no_deal_days != r.recycle_no_deal_days
        || old.exempt_stages != r.exempt_stages
        || old.overrides != r.overrides;
    conn.prepare_cached(
        "INSERT INTO pool_rules (pool_id, max_owned, count_won, daily_claims, reclaim_cooldown_days,
            recycle_no_contact_days, recycle_no_deal_days, warn_days, exempt_stages, max_locked, fresh_hold_hours,
            contact_kinds, min_contact_chars, allocate, allocate_to)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (pool_id) DO UPDATE SET max_owned = excluded.max_owned,
            count_won = excluded.count_won, daily_claims = excluded.daily_claims,
            reclaim_cooldown_days = excluded.reclaim_cooldown_days,
            recycle_no_contact_days = excluded.recycle_no_contact_days,
            recycle_no_deal_days = excluded.recycle_no_deal_days, warn_days = excluded.warn_days,
            exempt_stages = excluded.exempt_stages, max_locked = excluded.max_locked,
            fresh_hold_hours = excluded.fresh_hold_hours, contact_kinds = excluded.contact_kinds,
            min_contact_chars = excluded.min_contact_chars, allocate = excluded.allocate,
            allocate_to = excluded.allocate_to",
    )?
    .execute(params![
        pool_id,
        r.max_owned,
        r.count_won,
        r.daily_claims,
        r.reclaim_cooldown_days,
        r.recycle_no_contact_days,
        r.recycle_no_deal_days,
        r.warn_days,
        r.exempt_stages.join(","),
        r.max_locked,
        r.fresh_hold_hours,
        r.contact_kinds.join(","),
        r.min_contact_chars,
        r.allocate,
        r.allocate_to
    ])?;
    conn.prepare_cached("DELETE FROM followup_rules WHERE pool_id = ?1")?
        .execute([pool_id])?;
    let mut ins = conn.prepare_cached(
        "INSERT INTO followup_rules (pool_id, event, stage, action, due_days) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for f in &r.followups {
        ins.execute(params![pool_id, f.event, f.stage, f.action, f.due_days])?;
    }
    conn.prepare_cached("DELETE FROM pool_rule_overrides WHERE pool_id = ?1")?
        .execute([pool_id])?;
    let mut ins = conn.prepare_cached(
        "INSERT INTO pool_rule_overrides (pool_id, scope, value, recycle_no_contact_days, recycle_no_deal_days)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for o in &r.overrides {
        ins.execute(params![
            pool_id,
            o.scope,
            o.value,
            o.recycle_no_contact_days,
            o.recycle_no_deal_days
        ])?;
    }
    if recycling_changed {
        refresh_recycle_dates(conn, pool_id)?;
    }
    Ok(())
}

/// After a pool's rules change: every owned customer of the pool gets its recycle date
/// again (touching `locked` fires the trigger that computes it).
pub fn refresh_recycle_dates(conn: &Connection, pool_id: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE customers SET locked = locked
              WHERE owner_id IS NOT NULL AND deleted_at IS NULL AND pool_id = ?1",
        )?
        .execute([pool_id])?)
}
