//! Reminders: channels, e-mail addresses, recycle events, the run and sent logs.
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::{Error, Result};
use crate::store::ops::notify::{Channel, NewChannel, Recycled, RunRow};

const CHANNEL: &str = "SELECT c.id, t.name, c.kind, c.preset, c.target, c.sender, c.team_id
     FROM notify_channels c JOIN teams t ON t.id = c.team_id WHERE c.removed_at IS NULL";

fn channel_row(r: &Row) -> rusqlite::Result<Channel> {
    Ok(Channel {
        id: r.get(0)?,
        team: r.get(1)?,
        kind: r.get(2)?,
        preset: r.get(3)?,
        target: r.get(4)?,
        sender: r.get(5)?,
        team_id: r.get(6)?,
    })
}

pub fn add_channel(conn: &Connection, c: &NewChannel, by: i64, now: i64) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO notify_channels (team_id, kind, preset, target, sender, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![c.team_id, c.kind, c.preset, c.target, c.sender, by, now])?;
    Ok(conn.last_insert_rowid())
}

pub fn channels(conn: &Connection, team: Option<i64>) -> Result<Vec<Channel>> {
    let mut s = conn.prepare_cached(&format!(
        "{CHANNEL} AND (?1 IS NULL OR c.team_id = ?1) ORDER BY t.name, c.id"
    ))?;
    let rows = s.query_map([team], channel_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn channel(conn: &Connection, id: i64) -> Result<Channel> {
    conn.prepare_cached(&format!("{CHANNEL} AND c.id = ?1"))?
        .query_row([id], channel_row)
        .optional()?
        .ok_or_else(|| Error::not_found("channel", id))
}

pub fn remove_channel(conn: &Connection, id: i64, now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE notify_channels SET removed_at = ?2 WHERE id = ?1 AND removed_at IS NULL",
        )?
        .execute(params![id, now])?
        == 1)
}

pub fn user_email(conn: &Connection, user: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT email FROM users WHERE id = ?1")?
        .query_row([user], |r| r.get(0))
        .optional()?
        .flatten())
}

pub fn set_user_email(conn: &Connection, user: i64, email: Option<&str>) -> Result<()> {
    conn.prepare_cached("UPDATE users SET email = ?2 WHERE id = ?1")?
        .execute(params![user, email])?;
    Ok(())
}

pub fn last_ownership_event(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT coalesce(max(id), 0) FROM ownership_events",
        [],
        |r| r.get(0),
    )?)
}

pub fn recycled_from(
    conn: &Connection,
    user: i64,
    after_event: i64,
    since: i64,
) -> Result<Vec<Recycled>> {
    let mut s = conn.prepare_cached(
        "SELECT e.id, e.customer_id, coalesce(c.name, c.company), e.at, e.reason
         FROM ownership_events e JOIN customers c ON c.id = e.customer_id
         WHERE e.event = 'recycle' AND e.from_user = ?1 AND e.id > ?2 AND e.at >= ?3
           AND c.deleted_at IS NULL
         ORDER BY e.id",
    )?;
    let rows = s.query_map(params![user, after_event, since], |r| {
        Ok(Recycled {
            event: r.get(0)?,
            customer_id: r.get(1)?,
            label: r.get(2)?,
            at: r.get(3)?,
            reason: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn last_good_run(conn: &Connection, team: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT last_event FROM notify_runs
             WHERE failed = 0 AND (team_id IS NULL OR team_id = ?1) ORDER BY id DESC LIMIT 1",
        )?
        .query_row([team], |r| r.get(0))
        .optional()?)
}

pub fn was_sent(conn: &Connection, user: i64, channel: i64, item: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM notify_sent WHERE user_id = ?1 AND channel_id = ?2 AND item = ?3",
        )?
        .query_row(params![user, channel, item], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn insert_run(conn: &Connection, r: &RunRow) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO notify_runs (at, by_user, team_id, last_event, digests, sent, failed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        r.at,
        r.by,
        r.team_id,
        r.last_event,
        r.digests,
        r.sent,
        r.failed
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn record_sent(
    conn: &Connection,
    user: i64,
    channel: i64,
    items: &[String],
    run: i64,
) -> Result<()> {
    let mut s = conn.prepare_cached(
        "INSERT OR IGNORE INTO notify_sent (user_id, channel_id, item, run_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for i in items {
        s.execute(params![user, channel, i, run])?;
    }
    Ok(())
}
