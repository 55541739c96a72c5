//! Teams.
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};
pub use crate::store::ops::people::TeamRow;

pub fn find(conn: &Connection, name: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM teams WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub fn get(conn: &Connection, name: &str) -> Result<i64> {
    find(conn, name)?.ok_or_else(|| Error::not_found("team", name))
}

pub fn insert(conn: &Connection, name: &str, now: i64) -> Result<i64> {
    if find(conn, name)?.is_some() {
        return Err(Error::Conflict(format!("team '{name}' already exists")));
    }
    conn.prepare_cached("INSERT INTO teams (name, created_at) VALUES (?1, ?2)")?
        .execute(params![name, now])?;
    Ok(conn.last_insert_rowid())
}

pub fn ensure(conn: &Connection, name: &str, now: i64) -> Result<i64> {
    match find(conn, name)? {
        Some(id) => Ok(id),
        None => insert(conn, name, now),
    }
}

pub fn list(conn: &Connection) -> Result<Vec<TeamRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.name, count(u.id), coalesce(sum(u.active), 0)
         FROM teams t LEFT JOIN users u ON u.team_id = t.id
         GROUP BY t.id ORDER BY t.name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(TeamRow {
            id: r.get(0)?,
            name: r.get(1)?,
            members: r.get(2)?,
            active_members: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
