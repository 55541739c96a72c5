//! Pools: names, which teams see them, adding one.
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::store::ops::rules::PoolRow;

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
