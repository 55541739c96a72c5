//! Pools and ownership changes: events, bulk return and transfer.
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};

pub fn pool_id(conn: &Connection, name: &str) -> Result<i64> {
    conn.prepare_cached("SELECT id FROM pools WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::not_found("pool", name))
}

/// `public` (id 1) is seen by every team; other pools by the teams listed for them.
pub fn visible(conn: &Connection, pool_id: i64, team_id: i64) -> Result<bool> {
    if pool_id == 1 {
        return Ok(true);
    }
    Ok(conn
        .prepare_cached("SELECT 1 FROM pool_teams WHERE pool_id = ?1 AND team_id = ?2")?
        .query_row([pool_id, team_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// One row of owner history.
#[allow(clippy::too_many_arguments)]
pub fn record_event(
    conn: &Connection,
    customer_id: i64,
    event: &str,
    from_user: Option<i64>,
    to_user: Option<i64>,
    by_user: i64,
    pool_id: i64,
    reason: Option<&str>,
    at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO ownership_events (customer_id, event, from_user, to_user, by_user, pool_id, reason, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![customer_id, event, from_user, to_user, by_user, pool_id, reason, at])?;
    Ok(())
}

fn owned_ids(conn: &Connection, owner: i64) -> Result<Vec<i64>> {
    let mut s = conn.prepare_cached(
        "SELECT id FROM customers WHERE owner_id IS NOT NULL AND owner_id = ?1 AND deleted_at IS NULL ORDER BY id",
    )?;
    let ids = s.query_map([owner], |r| r.get(0))?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

/// Returns every customer of `owner` to its pool (e.g. when the owner leaves).
pub fn return_all(
    conn: &Connection,
    owner: i64,
    by: i64,
    event: &str,
    reason: &str,
    now: i64,
) -> Result<Vec<i64>> {
    let ids = owned_ids(conn, owner)?;
    conn.prepare_cached(
        "INSERT INTO ownership_events (customer_id, event, from_user, by_user, pool_id, reason, at)
         SELECT id, ?2, owner_id, ?3, pool_id, ?4, ?5 FROM customers
         WHERE owner_id IS NOT NULL AND owner_id = ?1 AND deleted_at IS NULL",
    )?
    .execute(params![owner, event, by, reason, now])?;
    conn.prepare_cached(
        "UPDATE customers SET owner_id = NULL, previous_owner_id = ?1, released_at = ?2,
            pooled_at = ?2, claimed_at = NULL, locked = 0, updated_at = ?2
         WHERE owner_id IS NOT NULL AND owner_id = ?1 AND deleted_at IS NULL",
    )?
    .execute(params![owner, now])?;
    Ok(ids)
}

/// Gives every customer of `from` to `to`.
pub fn transfer_all(
    conn: &Connection,
    from: i64,
    to: i64,
    by: i64,
    event: &str,
    now: i64,
) -> Result<Vec<i64>> {
    let ids = owned_ids(conn, from)?;
    conn.prepare_cached(
        "INSERT INTO ownership_events (customer_id, event, from_user, to_user, by_user, pool_id, at)
         SELECT id, ?2, owner_id, ?3, ?4, pool_id, ?5 FROM customers
         WHERE owner_id IS NOT NULL AND owner_id = ?1 AND deleted_at IS NULL",
    )?
    .execute(params![from, event, to, by, now])?;
    conn.prepare_cached(
        "UPDATE customers SET owner_id = ?2, previous_owner_id = ?1, claimed_at = ?3, updated_at = ?3
         WHERE owner_id IS NOT NULL AND owner_id = ?1 AND deleted_at IS NULL",
    )?
    .execute(params![from, to, now])?;
    Ok(ids)
}

use super::work::{watched, Watched};
use crate::domain::rules::{ClaimFacts, Override, OwnedFacts, Rules};

pub fn rules(conn: &Connection, pool_id: i64) -> Result<Rules> {
    let mut r = conn
        .prepare_cached(
            "SELECT max_owned, count_won, daily_claims, reclaim_cooldown_days, recycle_no_contact_days,
                recycle_no_deal_days, warn_days, exempt_stages, max_locked, fresh_hold_hours
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
            recycle_no_contact_days, recycle_no_deal_days, warn_days, exempt_stages, max_locked, fresh_hold_hours)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (pool_id) DO UPDATE SET max_owned = excluded.max_owned,
            count_won = excluded.count_won, daily_claims = excluded.daily_claims,
            reclaim_cooldown_days = excluded.reclaim_cooldown_days,
            recycle_no_contact_days = excluded.recycle_no_contact_days,
            recycle_no_deal_days = excluded.recycle_no_deal_days, warn_days = excluded.warn_days,
            exempt_stages = excluded.exempt_stages, max_locked = excluded.max_locked,
            fresh_hold_hours = excluded.fresh_hold_hours",
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
        r.fresh_hold_hours
    ])?;
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

/// Customers `user` owns from `pool_id` that count towards max_owned.
pub fn owned_count(conn: &Connection, user: i64, pool_id: i64, count_won: bool) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM customers
             WHERE owner_id IS NOT NULL AND deleted_at IS NULL AND owner_id = ?1 AND pool_id = ?2
               AND (?3 OR stage NOT IN ('customer', 'loyal'))",
        )?
        .query_row(params![user, pool_id, count_won], |r| r.get(0))?)
}

/// Another customer with the same phone or e-mail key that `user` released or lost to
/// recycling since `since`: (its id, when it was lost). Claiming or editing a copy into
/// that shape would dodge the re-claim cooldown.
pub fn lost_twin(
    conn: &Connection,
    user: i64,
    phone_key: Option<&str>,
    email_key: Option<&str>,
    except: i64,
    since: i64,
) -> Result<Option<(i64, i64)>> {
    if phone_key.is_none() && email_key.is_none() {
        return Ok(None);
    }
    Ok(conn
        .prepare_cached(
            "SELECT c.id, max(e.at) FROM ownership_events e JOIN customers c ON c.id = e.customer_id
             WHERE e.from_user = ?1 AND e.event IN ('release', 'recycle') AND e.at >= ?2
               AND c.id <> ?5
               AND ((?3 IS NOT NULL AND c.phone_key = ?3) OR (?4 IS NOT NULL AND c.email_key = ?4))
             GROUP BY c.id LIMIT 1",
        )?
        .query_row(params![user, since, phone_key, email_key, except], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// Whether the customer has at least one deal (a won stage needs one for members).
pub fn has_deal(conn: &Connection, customer_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM deals WHERE customer_id = ?1)")?
        .query_row([customer_id], |r| r.get(0))?)
}

/// Claims (ownership events of kind claim) a user made since `since`.
pub fn claims_since(conn: &Connection, user: i64, since: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM ownership_events WHERE to_user = ?1 AND event = 'claim' AND at >= ?2",
        )?
        .query_row(params![user, since], |r| r.get(0))?)
}

pub fn locked_count(conn: &Connection, user: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM customers WHERE locked = 1 AND deleted_at IS NULL AND owner_id = ?1",
        )?
        .query_row([user], |r| r.get(0))?)
}

/// The facts a claim is decided on, read inside the claim's transaction. A rule that is
/// off (0) is not counted: a claim stays O(1) however many customers the claimer owns.
pub fn claim_facts(
    conn: &Connection,
    customer_id: i64,
    pooled_at: Option<i64>,
    user: i64,
    pool_id: i64,
    rules: &Rules,
    day_start: i64,
) -> Result<ClaimFacts> {
    let claims_today: i64 = if rules.daily_claims > 0 {
        conn.prepare_cached(
            "SELECT count(*) FROM ownership_events WHERE to_user = ?1 AND event = 'claim' AND at >= ?2",
        )?
        .query_row(params![user, day_start], |r| r.get(0))?
    } else {
        0
    };
    let claimer_lost_at: Option<i64> = if rules.reclaim_cooldown_days > 0 {
        conn.prepare_cached(
            "SELECT max(at) FROM ownership_events
             WHERE from_user = ?1 AND customer_id = ?2 AND event IN ('release', 'recycle')",
        )?
        .query_row(params![user, customer_id], |r| r.get(0))?
    } else {
        None
    };
    let owned = if rules.max_owned > 0 {
        owned_count(conn, user, pool_id, rules.count_won)?
    } else {
        0
    };
    Ok(ClaimFacts {
        customer_id,
        pooled_at,
        owned,
        claims_today,
        claimer_lost_at,
    })
}

/// The conditional claim: succeeds only if nobody owns the customer at this instant.
pub fn set_owner_if_pooled(conn: &Connection, id: i64, owner: i64, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE customers SET owner_id = ?2, claimed_at = ?3, locked = 0, updated_at = ?3
             WHERE id = ?1 AND owner_id IS NULL AND deleted_at IS NULL",
        )?
        .execute(params![id, owner, now])?;
    Ok(n == 1)
}

/// Moves an owned customer from `from` to `to`, only if `from` still owns it.
pub fn set_owner_if_owned_by(
    conn: &Connection,
    id: i64,
    from: i64,
    to: i64,
    now: i64,
) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE customers SET owner_id = ?3, previous_owner_id = ?2, claimed_at = ?4, updated_at = ?4
             WHERE id = ?1 AND owner_id = ?2 AND deleted_at IS NULL",
        )?
        .execute(params![id, from, to, now])?;
    Ok(n == 1)
}

/// Returns a customer to a pool, only if `from` still owns it.
pub fn return_to_pool(
    conn: &Connection,
    id: i64,
    from: i64,
    pool_id: i64,
    now: i64,
) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE customers SET owner_id = NULL, previous_owner_id = ?2, pool_id = ?3,
                released_at = ?4, pooled_at = ?4, claimed_at = NULL, locked = 0, updated_at = ?4
             WHERE id = ?1 AND owner_id = ?2 AND deleted_at IS NULL",
        )?
        .execute(params![id, from, pool_id, now])?;
    Ok(n == 1)
}

pub fn set_locked(conn: &Connection, id: i64, locked: bool, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE customers SET locked = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, locked, now])?;
    Ok(())
}

pub fn open_followups(conn: &Connection, customer_id: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM followups WHERE customer_id = ?1 AND status = 'open'",
        )?
        .query_row([customer_id], |r| r.get(0))?)
}

pub fn cancel_open_followups(
    conn: &Connection,
    customer_id: i64,
    note: &str,
    now: i64,
) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE followups SET status = 'cancelled', note = ?2, closed_at = ?3
             WHERE customer_id = ?1 AND status = 'open'",
        )?
        .execute(params![customer_id, note, now])?)
}

/// An owned customer as recycling sees it.
pub struct OwnedRow {
    pub id: i64,
    pub owner_id: i64,
    pub pool_id: i64,
    pub facts: OwnedFacts,
}

fn owned_row(r: &rusqlite::Row) -> rusqlite::Result<OwnedRow> {
    Ok(OwnedRow {
        id: r.get(0)?,
        owner_id: r.get(1)?,
        pool_id: r.get(2)?,
        facts: owned_facts(r, 3)?,
    })
}

/// The recycling facts from six consecutive columns starting at `at`: stage, tags
/// (comma-separated), locked, claimed, last contact, won.
pub(super) fn owned_facts(r: &rusqlite::Row, at: usize) -> rusqlite::Result<OwnedFacts> {
    let tags: String = r.get(at + 1)?;
    Ok(OwnedFacts {
        stage: r.get(at)?,
        tags: tags
            .split(',')
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        locked: r.get(at + 2)?,
        claimed_at: r.get::<_, Option<i64>>(at + 3)?.unwrap_or(0),
        last_contact_at: r.get(at + 4)?,
        won_at: r.get(at + 5)?,
    })
}

const OWNED_SELECT: &str =
    "SELECT id, owner_id, pool_id, stage, tags, locked, claimed_at, last_contact_at, won_at
     FROM customers";

/// Owned, unlocked customers of a pool whose claim is older than `claimed_before`
/// (a cheap pre-filter: nothing claimed more recently can be due yet).
pub fn recycle_candidates(
    conn: &Connection,
    pool_id: i64,
    claimed_before: i64,
) -> Result<Vec<OwnedRow>> {
    let mut s = conn.prepare_cached(&format!(
        "{OWNED_SELECT} WHERE owner_id IS NOT NULL AND deleted_at IS NULL AND pool_id = ?1
            AND locked = 0 AND claimed_at <= ?2 ORDER BY id"
    ))?;
    let rows = s.query_map(params![pool_id, claimed_before], owned_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn owned_row_by_id(conn: &Connection, id: i64) -> Result<Option<OwnedRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "{OWNED_SELECT} WHERE id = ?1 AND owner_id IS NOT NULL AND deleted_at IS NULL"
        ))?
        .query_row([id], owned_row)
        .optional()?)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolRow {
    pub id: i64,
    pub name: String,
    pub teams: String,
    pub pooled: i64,
}

pub fn list_pools(conn: &Connection) -> Result<Vec<PoolRow>> {
    let mut s = conn.prepare_cached(
        "SELECT p.id, p.name,
            coalesce((SELECT group_concat(t.name, ',') FROM pool_teams pt JOIN teams t ON t.id = pt.team_id WHERE pt.pool_id = p.id), ''),
            (SELECT count(*) FROM customers c WHERE c.owner_id IS NULL AND c.deleted_at IS NULL AND c.pool_id = p.id)
         FROM pools p ORDER BY p.id",
    )?;
    let rows = s.query_map([], |r| {
        let id: i64 = r.get(0)?;
        let teams: String = r.get(2)?;
        Ok(PoolRow {
            id,
            name: r.get(1)?,
            teams: if id == 1 { "(all teams)".into() } else { teams },
            pooled: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn all_pool_ids(conn: &Connection) -> Result<Vec<(i64, String)>> {
    let mut s = conn.prepare_cached("SELECT id, name FROM pools ORDER BY id")?;
    let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn add_pool(conn: &Connection, name: &str, team_ids: &[i64], now: i64) -> Result<i64> {
    if conn
        .prepare_cached("SELECT 1 FROM pools WHERE name = ?1")?
        .query_row([name], |_| Ok(()))
        .optional()?
        .is_some()
    {
        return Err(Error::Conflict(format!("pool '{name}' already exists")));
    }
    conn.prepare_cached("INSERT INTO pools (name, created_at) VALUES (?1, ?2)")?
        .execute(params![name, now])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO pool_rules (pool_id) VALUES (?1)")?
        .execute([id])?;
    let mut ins =
        conn.prepare_cached("INSERT OR IGNORE INTO pool_teams (pool_id, team_id) VALUES (?1, ?2)")?;
    for t in team_ids {
        ins.execute([id, *t])?;
    }
    Ok(id)
}

/// An owned customer due back in its pool by some time.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub label: Option<String>,
    pub owner_id: i64,
    pub owner: String,
    pub due: i64,
    pub reason: &'static str,
}

/// Owned customers of a pool whose recycle time is at or before `until`, computed in
/// SQL. Exact for a pool without per-stage/tag overrides (callers use the Rust rules
/// for pools with overrides).
pub fn due_by(
    conn: &Connection,
    pool_id: i64,
    rules: &Rules,
    owner: Option<i64>,
    team: Option<i64>,
    until: i64,
) -> Result<Vec<Due>> {
    let nc = rules.recycle_no_contact_days;
    let nd = rules.recycle_no_deal_days;
    if nc <= 0 && nd <= 0 {
        return Ok(Vec::new());
    }
    let exempt = serde_json::to_string(&rules.exempt_stages)?;
    let mut s = conn.prepare_cached(
        "SELECT id, label, owner_id, login,
                CASE WHEN due_nd IS NOT NULL AND (due_nc IS NULL OR due_nd < due_nc) THEN due_nd ELSE due_nc END,
                CASE WHEN due_nd IS NOT NULL AND (due_nc IS NULL OR due_nd < due_nc) THEN 'no_deal' ELSE 'no_contact' END
         FROM (
            SELECT c.id, coalesce(c.name, c.company) AS label, c.owner_id, u.login,
                   CASE WHEN ?2 > 0 THEN max(coalesce(c.last_contact_at, c.claimed_at), c.claimed_at) + ?2 * 86400 END AS due_nc,
                   CASE WHEN ?3 > 0 AND c.won_at IS NULL THEN c.claimed_at + ?3 * 86400 END AS due_nd
              FROM customers c JOIN users u ON u.id = c.owner_id
             WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL AND c.pool_id = ?1 AND c.locked = 0
               AND c.stage NOT IN (SELECT value FROM json_each(?4))
               AND (?5 IS NULL OR c.owner_id = ?5) AND (?6 IS NULL OR u.team_id = ?6)
         )
         WHERE coalesce(min(due_nc, due_nd), due_nc, due_nd) <= ?7
         ORDER BY id",
    )?;
    let rows = s.query_map(params![pool_id, nc, nd, exempt, owner, team, until], |r| {
        let reason: String = r.get(5)?;
        Ok(Due {
            id: r.get(0)?,
            label: r.get(1)?,
            owner_id: r.get(2)?,
            owner: r.get(3)?,
            due: r.get(4)?,
            reason: if reason == "no_deal" {
                "no_deal"
            } else {
                "no_contact"
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Per owner (id, login): how many of a pool's customers are due back by `until`, from
/// the stored recycle dates (migration 5) on their index; owners with none are left out.
pub fn due_counts(
    conn: &Connection,
    pool_id: i64,
    team: Option<i64>,
    until: i64,
) -> Result<Vec<(i64, String, i64)>> {
    let mut s = conn.prepare_cached(
        "SELECT id, login, n FROM (
            SELECT u.id, u.login,
                   (SELECT count(*) FROM customers c INDEXED BY customers_recycle_due
                     WHERE c.recycle_due_at IS NOT NULL AND c.owner_id = u.id
                       AND c.recycle_due_at <= ?2 AND c.pool_id = ?1) AS n
              FROM users u WHERE ?3 IS NULL OR u.team_id = ?3)
          WHERE n > 0 ORDER BY login",
    )?;
    let rows = s.query_map(params![pool_id, until, team], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One owner's customers of one pool due back by `until`, soonest first (at most
/// `limit`; 0 = all), with the facts the rules need and the stored date.
pub fn due_soon_of(
    conn: &Connection,
    owner_id: i64,
    pool_id: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<(Watched, i64)>> {
    let mut s = conn.prepare_cached(
        "SELECT c.id, coalesce(c.name, c.company), c.owner_id, u.login, c.pool_id, c.stage, c.tags, c.locked,
                c.claimed_at, c.last_contact_at, c.won_at, c.recycle_due_at
           FROM customers c INDEXED BY customers_recycle_due JOIN users u ON u.id = c.owner_id
          WHERE c.recycle_due_at IS NOT NULL AND c.owner_id = ?1 AND c.recycle_due_at <= ?3
            AND c.pool_id = ?2
          ORDER BY c.recycle_due_at, c.id
          LIMIT ?4",
    )?;
    let limit = if limit <= 0 { -1 } else { limit };
    let rows = s.query_map(params![owner_id, pool_id, until, limit], |r| {
        Ok((watched(r)?, r.get(11)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every live owned customer with its stored recycle date, one at a time (doctor
/// compares each with the rules).
pub fn for_each_recycle_date(
    conn: &Connection,
    mut f: impl FnMut(Watched, Option<i64>) -> Result<()>,
) -> Result<()> {
    let mut s = conn.prepare(
        "SELECT c.id, coalesce(c.name, c.company), c.owner_id, '', c.pool_id, c.stage, c.tags, c.locked,
                c.claimed_at, c.last_contact_at, c.won_at, c.recycle_due_at
           FROM customers c WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL",
    )?;
    let mut rows = s.query([])?;
    while let Some(r) = rows.next()? {
        f(watched(r)?, r.get(11)?)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::recycle_due;
    use proptest::prelude::*;

    const STAGES: [&str; 4] = ["lead", "customer", "loyal", "churned"];

    fn stored_recycle_due(conn: &Connection, id: i64) -> Result<Option<i64>> {
        Ok(conn.query_row(
            "SELECT recycle_due_at FROM customers WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?)
    }
    const TAGS: [&str; 3] = ["vip", "hot", "展会"];

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::to_latest(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO teams (id, name, created_at) VALUES (1, 't', 0);
             INSERT INTO users (id, login, team_id, role, created_at) VALUES (1, 'li', 1, 'member', 0);",
        )
        .unwrap();
        conn
    }

    #[derive(Debug, Clone)]
    struct Facts {
        owned: bool,
        deleted: bool,
        stage: usize,
        tags: Vec<usize>,
        locked: bool,
        claimed: Option<i64>,
        contact: Option<i64>,
        won: Option<i64>,
    }

    fn facts() -> impl Strategy<Value = Facts> {
        (
            any::<bool>(),
            prop::bool::weighted(0.1),
            0..4usize,
            prop::collection::vec(0..3usize, 0..3),
            prop::bool::weighted(0.2),
            prop::option::weighted(0.9, 0..100i64),
            prop::option::of(0..100i64),
            prop::option::weighted(0.3, 0..100i64),
        )
            .prop_map(
                |(owned, deleted, stage, tags, locked, claimed, contact, won)| Facts {
                    owned,
                    deleted,
                    stage,
                    tags,
                    locked,
                    claimed,
                    contact,
                    won,
                },
            )
    }

    fn rules_strategy() -> impl Strategy<Value = Rules> {
        let days = prop::option::of(0..40i64);
        (
            0..40i64,
            0..40i64,
            prop::collection::vec(0..4usize, 0..2),
            prop::collection::vec((any::<bool>(), 0..4usize, days.clone(), days), 0..4),
        )
            .prop_map(|(nc, nd, exempt, overrides)| {
                let mut r = Rules {
                    recycle_no_contact_days: nc,
                    recycle_no_deal_days: nd,
                    exempt_stages: exempt.iter().map(|i| STAGES[*i].to_string()).collect(),
                    ..Default::default()
                };
                r.exempt_stages.dedup();
                for (stage, i, c, d) in overrides {
                    let (scope, value) = if stage {
                        ("stage", STAGES[i])
                    } else {
                        ("tag", TAGS[i % 3])
                    };
                    if !r
                        .overrides
                        .iter()
                        .any(|o| o.scope == scope && o.value == value)
                    {
                        r.overrides.push(Override {
                            scope: scope.into(),
                            value: value.into(),
                            recycle_no_contact_days: c,
                            recycle_no_deal_days: d,
                        });
                    }
                }
                r
            })
    }

    fn insert(conn: &Connection, f: &Facts) -> i64 {
        let day = |d: Option<i64>| d.map(|d| 1_000_000 + d * 86_400);
        let mut tags: Vec<&str> = f.tags.iter().map(|i| TAGS[*i]).collect();
        tags.dedup();
        conn.execute(
            "INSERT INTO customers (name, stage, tags, owner_id, locked, claimed_at, last_contact_at,
                won_at, deleted_at, created_at, updated_at)
             VALUES ('x', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 0)",
            params![
                STAGES[f.stage],
                tags.join(","),
                f.owned.then_some(1),
                f.locked,
                day(f.claimed),
                day(f.contact),
                day(f.won),
                f.deleted.then_some(5)
            ],
        )
        .unwrap();
        conn.last_insert_rowid()
    }

    /// What the rules say, from the row as stored.
    fn expected(conn: &Connection, id: i64) -> Option<i64> {
        let (owned, deleted): (Option<i64>, Option<i64>) = conn
            .query_row(
                "SELECT owner_id, deleted_at FROM customers WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        if owned.is_none() || deleted.is_some() {
            return None;
        }
        let w = conn
            .query_row(
                "SELECT c.id, coalesce(c.name, c.company), c.owner_id, 'li', c.pool_id, c.stage, c.tags,
                        c.locked, c.claimed_at, c.last_contact_at, c.won_at
                   FROM customers c WHERE c.id = ?1",
                [id],
                watched,
            )
            .unwrap();
        recycle_due(&rules(conn, 1).unwrap(), &w.facts).map(|(d, _)| d)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The stored recycle date (SQL trigger) is the rules' own (domain) date, after
        /// an insert, after changes of each fact, and after the rules change.
        #[test]
        fn stored_recycle_date_follows_the_rules(
            r1 in rules_strategy(),
            r2 in rules_strategy(),
            rows in prop::collection::vec(facts(), 1..12),
            changes in prop::collection::vec(facts(), 1..12),
        ) {
            let conn = db();
            save_rules(&conn, 1, &r1).unwrap();
            let ids: Vec<i64> = rows.iter().map(|f| insert(&conn, f)).collect();
            for id in &ids {
                prop_assert_eq!(stored_recycle_due(&conn, *id).unwrap(), expected(&conn, *id));
            }
            for (id, f) in ids.iter().zip(&changes) {
                let mut tags: Vec<&str> = f.tags.iter().map(|i| TAGS[*i]).collect();
                tags.dedup();
                conn.execute(
                    "UPDATE customers SET last_contact_at = coalesce(?2, last_contact_at), tags = ?3,
                        stage = ?4, locked = ?5, owner_id = CASE WHEN ?6 THEN 1 END WHERE id = ?1",
                    params![id, f.contact.map(|d| 2_000_000 + d * 86_400), tags.join(","),
                        STAGES[f.stage], f.locked, f.owned],
                ).unwrap();
                prop_assert_eq!(stored_recycle_due(&conn, *id).unwrap(), expected(&conn, *id));
            }
            save_rules(&conn, 1, &r2).unwrap();
            for id in &ids {
                prop_assert_eq!(stored_recycle_due(&conn, *id).unwrap(), expected(&conn, *id));
            }
        }
    }
}
