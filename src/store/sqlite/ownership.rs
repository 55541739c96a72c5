//! Ownership: the conditional owner changes, counts the claim rules need, and the
//! owner history.
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::rules::{ClaimFacts, Rules};
use crate::error::Result;
use crate::store::ops::pool::Stray;

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

/// Hands a customer's open follow-ups to `to`: those assigned to `from` (the previous
/// owner) and those of anyone who is not an active member of `to`'s team. The ids moved.
pub fn move_open_followups(
    conn: &Connection,
    customer_id: i64,
    from: Option<i64>,
    to: i64,
) -> Result<Vec<i64>> {
    let mut s = conn.prepare_cached(
        "UPDATE followups SET assignee_id = ?3
          WHERE customer_id = ?1 AND status = 'open' AND assignee_id <> ?3
            AND (assignee_id IS ?2 OR assignee_id NOT IN (
                 SELECT u.id FROM users u
                  WHERE u.active = 1 AND u.team_id = (SELECT team_id FROM users WHERE id = ?3)))
          RETURNING id",
    )?;
    let ids = s.query_map(params![customer_id, from, to], |r| r.get(0))?;
    let mut ids: Vec<i64> = ids.collect::<rusqlite::Result<_>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Open follow-ups nobody will do: on a live customer that is in a pool, or assigned to
/// a deactivated user, or to someone outside the owner's team. (follow-up id, customer
/// id, assignee id, the customer's owner).
pub const STRAY_FOLLOWUPS: &str = "SELECT f.id, f.customer_id, f.assignee_id, c.owner_id
       FROM followups f JOIN customers c ON c.id = f.customer_id
       JOIN users a ON a.id = f.assignee_id LEFT JOIN users o ON o.id = c.owner_id
      WHERE f.status = 'open' AND c.deleted_at IS NULL
        AND (c.owner_id IS NULL OR a.active = 0
             OR (f.assignee_id <> c.owner_id AND a.team_id <> o.team_id))
      ORDER BY f.id";

pub fn stray_followups(conn: &Connection) -> Result<Vec<Stray>> {
    let mut s = conn.prepare(STRAY_FOLLOWUPS)?;
    let rows = s.query_map([], |r| {
        Ok(Stray {
            id: r.get(0)?,
            customer_id: r.get(1)?,
            assignee_id: r.get(2)?,
            owner_id: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Gives one open follow-up to another assignee; false if it is not open.
pub fn reassign_followup(conn: &Connection, id: i64, to: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("UPDATE followups SET assignee_id = ?2 WHERE id = ?1 AND status = 'open'")?
        .execute(params![id, to])?
        == 1)
}

pub fn allocation_candidates(
    conn: &Connection,
    pool_id: i64,
    ids: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<(i64, String)>> {
    let (lo, hi) = ids.unwrap_or((i64::MIN, i64::MAX));
    let mut s = conn.prepare_cached(
        "SELECT id, stage FROM customers
          WHERE owner_id IS NULL AND deleted_at IS NULL AND pool_id = ?1
            AND previous_owner_id IS NULL AND claimed_at IS NULL
            AND id BETWEEN ?2 AND ?3
          ORDER BY id LIMIT ?4",
    )?;
    let rows = s.query_map(params![pool_id, lo, hi, limit], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn received_since(conn: &Connection, user: i64, since: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM ownership_events
              WHERE to_user = ?1 AND at >= ?2
                AND (event = 'claim' OR (event = 'assign' AND reason LIKE 'allocate%'))",
        )?
        .query_row(params![user, since], |r| r.get(0))?)
}

pub fn allocation_cursor(conn: &Connection, pool_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT last_user_id FROM allocation_cursor WHERE pool_id = ?1")?
        .query_row([pool_id], |r| r.get(0))
        .optional()?)
}

pub fn set_allocation_cursor(conn: &Connection, pool_id: i64, user: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO allocation_cursor (pool_id, last_user_id) VALUES (?1, ?2)
         ON CONFLICT (pool_id) DO UPDATE SET last_user_id = excluded.last_user_id",
    )?
    .execute(params![pool_id, user])?;
    Ok(())
}
