//! Custom field declarations (migration 11) and a customer's custom values.
use rusqlite::{params, Connection};

use crate::domain::fields::{FieldDef, FieldKind};
use crate::error::Result;

fn def(r: &rusqlite::Row, at: usize) -> rusqlite::Result<FieldDef> {
    let kind: String = r.get(at + 1)?;
    let choices: String = r.get(at + 2)?;
    Ok(FieldDef {
        name: r.get(at)?,
        kind: FieldKind::parse(&kind).unwrap_or(FieldKind::Text),
        choices: choices
            .split(',')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect(),
    })
}

pub fn list(conn: &Connection, pool_id: i64) -> Result<Vec<FieldDef>> {
    let mut s = conn.prepare_cached(
        "SELECT name, kind, choices FROM custom_fields WHERE pool_id = ?1 ORDER BY position",
    )?;
    let rows = s.query_map([pool_id], |r| def(r, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn all(conn: &Connection) -> Result<Vec<(i64, FieldDef)>> {
    let mut s = conn.prepare_cached(
        "SELECT pool_id, name, kind, choices FROM custom_fields ORDER BY pool_id, position",
    )?;
    let rows = s.query_map([], |r| Ok((r.get(0)?, def(r, 1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn add(conn: &Connection, pool_id: i64, d: &FieldDef, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO custom_fields (pool_id, name, kind, choices, position, created_at)
             VALUES (?1, ?2, ?3, ?4,
                (SELECT coalesce(max(position), 0) + 1 FROM custom_fields WHERE pool_id = ?1), ?5)",
        )?
        .execute(params![
            pool_id,
            d.name,
            d.kind.as_str(),
            d.choices.join(","),
            now
        ])?;
    Ok(n == 1)
}

pub fn remove(conn: &Connection, pool_id: i64, name: &str) -> Result<bool> {
    let n = conn
        .prepare_cached("DELETE FROM custom_fields WHERE pool_id = ?1 AND name = ?2")?
        .execute(params![pool_id, name])?;
    Ok(n == 1)
}

pub fn set_custom(conn: &Connection, id: i64, custom: Option<&str>, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE customers SET custom = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, custom, now])?;
    Ok(())
}
