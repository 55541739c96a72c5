//! Work on a customer: interactions, follow-up plans, deals, and the timeline.
use crate::store::ops::work::{Deal, DealFilter, Event, Followup, FollowupFilter, Watched};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::error::{Error, Result};

/// Adds an interaction and, if it `counts` as contact, moves the customer's last contact
/// (the recycle clock) forward, never backwards, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub fn log_interaction(
    conn: &Connection,
    customer_id: i64,
    user_id: i64,
    kind: &str,
    summary: &str,
    at: i64,
    counts: bool,
    now: i64,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![customer_id, user_id, kind, summary, at, now])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached(
        "UPDATE customers SET updated_at = ?3,
            last_contact_at = CASE WHEN ?4 THEN max(coalesce(last_contact_at, 0), ?2) ELSE last_contact_at END
          WHERE id = ?1",
    )?
    .execute(params![customer_id, at, now, counts])?;
    Ok(id)
}

pub fn add_followup(
    conn: &Connection,
    customer_id: i64,
    assignee: i64,
    by: i64,
    due: &str,
    action: &str,
    now: i64,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO followups (customer_id, assignee_id, created_by, due, action, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6)",
    )?
    .execute(params![customer_id, assignee, by, due, action, now])?;
    Ok(conn.last_insert_rowid())
}

const FOLLOWUP_SELECT: &str = "SELECT f.id, f.customer_id, coalesce(c.name, c.company), u.login, f.due, f.action,
        f.status, f.note, f.assignee_id, u.team_id, c.owner_id
     FROM followups f JOIN users u ON u.id = f.assignee_id JOIN customers c ON c.id = f.customer_id";

fn followup_row(r: &rusqlite::Row) -> rusqlite::Result<Followup> {
    Ok(Followup {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        customer: r.get(2)?,
        assignee: r.get(3)?,
        due: r.get(4)?,
        action: r.get(5)?,
        status: r.get(6)?,
        note: r.get(7)?,
        assignee_id: r.get(8)?,
        assignee_team: r.get(9)?,
        owner_id: r.get(10)?,
    })
}

pub fn get_followup(conn: &Connection, id: i64) -> Result<Followup> {
    conn.prepare_cached(&format!("{FOLLOWUP_SELECT} WHERE f.id = ?1"))?
        .query_row([id], followup_row)
        .optional()?
        .ok_or_else(|| Error::not_found("follow-up", id))
}

pub fn close_followup(
    conn: &Connection,
    id: i64,
    status: &str,
    note: Option<&str>,
    now: i64,
) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE followups SET status = ?2, note = coalesce(?3, note), closed_at = ?4 WHERE id = ?1 AND status = 'open'",
        )?
        .execute(params![id, status, note, now])?;
    Ok(n == 1)
}

pub fn list_followups(conn: &Connection, f: &FollowupFilter) -> Result<Vec<Followup>> {
    let mut sql = format!("{FOLLOWUP_SELECT} WHERE c.deleted_at IS NULL");
    let mut args: Vec<SqlValue> = Vec::new();
    let mut add = |sql: &mut String, cond: &str, v: SqlValue| {
        args.push(v);
        sql.push_str(&cond.replace('?', &format!("?{}", args.len())));
    };
    if let Some(a) = f.assignee_id {
        add(&mut sql, " AND f.assignee_id = ?", a.into());
    }
    if let Some(t) = f.team_id {
        add(&mut sql, " AND u.team_id = ?", t.into());
    }
    if let Some(c) = f.customer_id {
        add(&mut sql, " AND f.customer_id = ?", c.into());
    }
    if let Some(s) = &f.status {
        add(&mut sql, " AND f.status = ?", s.clone().into());
    }
    if let Some(d) = &f.due_before {
        add(&mut sql, " AND f.due < ?", d.clone().into());
    }
    if let Some(d) = &f.due_on_or_after {
        add(&mut sql, " AND f.due >= ?", d.clone().into());
    }
    if let Some(d) = &f.due_until {
        // Inclusive of the day's timed follow-ups ("2026-12-02 15:00" <= "2026-12-02T").
        add(&mut sql, " AND f.due <= ? || 'T'", d.clone().into());
    }
    sql.push_str(" ORDER BY f.due, f.id");
    if let Some(l) = f.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    let mut s = conn.prepare(&sql)?;
    let rows = s.query_map(params_from_iter(args), followup_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[allow(clippy::too_many_arguments)]
pub fn add_deal(
    conn: &Connection,
    customer_id: i64,
    user_id: i64,
    amount_minor: i64,
    currency: &str,
    product: Option<&str>,
    on: &str,
    now: i64,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO deals (customer_id, user_id, amount_minor, currency, product, on_date, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![customer_id, user_id, amount_minor, currency, product, on, now])?;
    let id = conn.last_insert_rowid();
    // A deal makes a lead a customer and stops the no-deal recycle clock.
    conn.prepare_cached(
        "UPDATE customers SET won_at = coalesce(won_at, ?2), updated_at = ?2,
            stage = CASE WHEN stage = 'lead' THEN 'customer' ELSE stage END
         WHERE id = ?1",
    )?
    .execute(params![customer_id, now])?;
    Ok(id)
}

const DEAL_SELECT: &str = "SELECT d.id, d.customer_id, coalesce(c.name, c.company), u.login,
        d.amount_minor, d.currency, d.product, d.on_date, d.voided_at IS NOT NULL, d.void_reason
     FROM deals d JOIN customers c ON c.id = d.customer_id LEFT JOIN users u ON u.id = d.user_id";

fn deal_row(r: &rusqlite::Row) -> rusqlite::Result<Deal> {
    let minor: i64 = r.get(4)?;
    Ok(Deal {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        customer: r.get(2)?,
        owner: r.get(3)?,
        amount: crate::domain::money::format_amount(minor),
        currency: r.get(5)?,
        product: r.get(6)?,
        on: r.get(7)?,
        voided: r.get(8)?,
        void_reason: r.get(9)?,
        amount_minor: minor,
    })
}

pub fn get_deal(conn: &Connection, id: i64) -> Result<Deal> {
    conn.prepare_cached(&format!("{DEAL_SELECT} WHERE d.id = ?1"))?
        .query_row([id], deal_row)
        .optional()?
        .ok_or_else(|| Error::not_found("deal", id))
}

/// Newest first (by deal date, then id), live customers only.
pub fn list_deals(conn: &Connection, f: &DealFilter) -> Result<Vec<Deal>> {
    let mut sql = format!(
        "{DEAL_SELECT} WHERE c.deleted_at IS NULL
            AND (?1 IS NULL OR d.customer_id = ?1)
            AND (?2 IS NULL OR c.owner_id = ?2)
            AND (?3 IS NULL OR c.owner_id IN (SELECT id FROM users WHERE team_id = ?3))
            AND (?4 OR d.voided_at IS NULL)
          ORDER BY d.on_date DESC, d.id DESC"
    );
    if let Some(l) = f.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    let mut s = conn.prepare(&sql)?;
    let rows = s.query_map(
        params![f.customer_id, f.owner_id, f.owner_team, f.include_voided],
        deal_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Voids a live deal; the customer's first-deal time follows the deals still live, and
/// a `customer` with no live deal left is a `lead` again (the deal made it one).
/// Returns false if the deal was voided already.
pub fn void_deal(conn: &Connection, id: i64, by: i64, reason: &str, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE deals SET voided_at = ?2, voided_by = ?3, void_reason = ?4
              WHERE id = ?1 AND voided_at IS NULL",
        )?
        .execute(params![id, now, by, reason])?;
    if n == 0 {
        return Ok(false);
    }
    conn.prepare_cached(
        "UPDATE customers SET updated_at = ?2,
            won_at = (SELECT min(d.created_at) FROM deals d
                       WHERE d.customer_id = customers.id AND d.voided_at IS NULL),
            stage = CASE WHEN stage = 'customer' AND NOT EXISTS (
                        SELECT 1 FROM deals d WHERE d.customer_id = customers.id AND d.voided_at IS NULL)
                    THEN 'lead' ELSE stage END
         WHERE id = (SELECT customer_id FROM deals WHERE id = ?1)",
    )?
    .execute(params![id, now])?;
    Ok(true)
}

/// Everything that happened to a customer, newest first.
pub fn timeline(conn: &Connection, customer_id: i64) -> Result<Vec<Event>> {
    let mut s = conn.prepare_cached(
        "SELECT at, kind, by, detail FROM (
            SELECT e.at AS at, e.event AS kind, b.login AS by,
                   trim(coalesce('from ' || f.login, '') || coalesce(' to ' || t.login, '')
                        || coalesce(' (' || e.reason || ')', '')) AS detail, e.id AS ord, 1 AS src
              FROM ownership_events e
              LEFT JOIN users b ON b.id = e.by_user
              LEFT JOIN users f ON f.id = e.from_user
              LEFT JOIN users t ON t.id = e.to_user
             WHERE e.customer_id = ?1
            UNION ALL
            SELECT i.at, i.kind, u.login, i.summary, i.id, 2
              FROM interactions i JOIN users u ON u.id = i.user_id WHERE i.customer_id = ?1
            UNION ALL
            SELECT f.created_at, 'followup ' || f.status, u.login,
                   'due ' || f.due || ': ' || f.action || coalesce(' — ' || f.note, ''), f.id, 3
              FROM followups f JOIN users u ON u.id = f.assignee_id WHERE f.customer_id = ?1
            UNION ALL
            SELECT d.created_at, CASE WHEN d.voided_at IS NULL THEN 'deal' ELSE 'deal (void)' END, u.login,
                   printf('%d.%02d %s', d.amount_minor / 100, d.amount_minor % 100, d.currency)
                     || coalesce(' ' || d.product, '') || ' on ' || d.on_date, d.id, 4
              FROM deals d LEFT JOIN users u ON u.id = d.user_id WHERE d.customer_id = ?1
         ) ORDER BY at DESC, src DESC, ord DESC",
    )?;
    let rows = s.query_map([customer_id], |r| {
        Ok(Event {
            at: r.get(0)?,
            kind: r.get(1)?,
            by: r.get(2)?,
            detail: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Maps the first 12 columns (id, label, owner id, owner login, pool, stage, tags,
/// locked, claimed, last contact, won, level) of a row to a `Watched`.
pub fn watched(r: &rusqlite::Row) -> rusqlite::Result<Watched> {
    Ok(Watched {
        id: r.get(0)?,
        label: r.get(1)?,
        owner: r.get(3)?,
        pool_id: r.get(4)?,
        facts: super::recycle::owned_facts(r, 5)?,
    })
}

/// Owned customers of some owners (one user, or a team) for recycle warnings.
pub fn owned_for_warning(
    conn: &Connection,
    owner_id: Option<i64>,
    team_id: Option<i64>,
) -> Result<Vec<Watched>> {
    let mut s = conn.prepare_cached(
        "SELECT c.id, coalesce(c.name, c.company), c.owner_id, u.login, c.pool_id, c.stage, c.tags, c.locked,
                c.claimed_at, c.last_contact_at, c.won_at, c.level
           FROM customers c JOIN users u ON u.id = c.owner_id
          WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL
            AND (?1 IS NULL OR c.owner_id = ?1) AND (?2 IS NULL OR u.team_id = ?2)
          ORDER BY c.id",
    )?;
    let rows = s.query_map(params![owner_id, team_id], watched)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
