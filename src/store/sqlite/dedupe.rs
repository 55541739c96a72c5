//! Reading every live customer's match keys for the dedupe scan.
use rusqlite::{Connection, OptionalExtension};

use crate::domain::linkage::{Keys, Model};
use crate::domain::matching::Record;
use crate::error::Result;

/// One row of `id, name, company, phone_key, email_key, city, address, owner login`.
fn record_row(r: &rusqlite::Row) -> rusqlite::Result<Record> {
    Ok(Record::new(
        r.get(0)?,
        r.get::<_, Option<String>>(1)?.as_deref(),
        r.get::<_, Option<String>>(2)?.as_deref(),
        r.get::<_, Option<String>>(3)?.as_deref(),
        r.get::<_, Option<String>>(4)?.as_deref(),
        r.get::<_, Option<String>>(5)?.as_deref(),
        r.get::<_, Option<String>>(6)?.as_deref(),
        r.get(7)?,
    ))
}

pub fn records(conn: &Connection) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    each_record(conn, &mut |r| out.push(r))?;
    Ok(out)
}

/// `records`, one row at a time into `f` (none held).
pub fn each_record(conn: &Connection, f: &mut dyn FnMut(Record)) -> Result<()> {
    scan_rows(
        conn,
        "SELECT c.id, c.name, c.company, c.phone_key, c.email_key, c.city, c.address, u.login
         FROM customers c LEFT JOIN users u ON u.id = c.owner_id
         WHERE c.deleted_at IS NULL ORDER BY c.id",
        &mut |row| {
            f(record_row(row)?);
            Ok(())
        },
    )
}

/// Every live customer's match keys by id, with its owner's login, into `f`: the name
/// and company keys as stored (what `validate` made of the values, as import reads
/// them), the other values borrowed from the row rather than copied.
pub fn each_keys(conn: &Connection, f: &mut dyn FnMut(i64, &Keys, Option<&str>)) -> Result<()> {
    scan_rows(
        conn,
        "SELECT c.id, c.name, c.name_key, c.company_key, c.phone_key, c.email_key, c.city,
                c.address, u.login
         FROM customers c LEFT JOIN users u ON u.id = c.owner_id
         WHERE c.deleted_at IS NULL ORDER BY c.id",
        &mut |row| {
            let r = Record::from_keys(
                row.get(0)?,
                text(row, 1)?,
                text(row, 2)?,
                text(row, 3)?,
                text(row, 4)?,
                text(row, 5)?,
                text(row, 6)?,
                text(row, 7)?,
            );
            f(r.id, &r.keys(), text(row, 8)?);
            Ok(())
        },
    )
}

/// Column `i` of a row as text, borrowed (None: NULL).
fn text<'r>(row: &'r rusqlite::Row, i: usize) -> rusqlite::Result<Option<&'r str>> {
    Ok(row.get_ref(i)?.as_str_or_null()?)
}

/// Runs a whole-table read, each row into `f`. The scan reads each page once: a page
/// cache would only hold memory beside the records being collected (the caller's
/// setting is restored after).
fn scan_rows(
    conn: &Connection,
    sql: &str,
    f: &mut dyn FnMut(&rusqlite::Row) -> Result<()>,
) -> Result<()> {
    let cache: i64 = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
    conn.pragma_update(None, "cache_size", -128)?;
    let read = (|| -> Result<()> {
        let mut s = conn.prepare(sql)?;
        let mut rows = s.query([])?;
        while let Some(row) = rows.next()? {
            f(row)?;
        }
        Ok(())
    })();
    conn.pragma_update(None, "cache_size", cache)?;
    read
}

/// Live customers that could be the same as a new one: same phone, e-mail or name key
/// (all indexed), at most `limit`. The matcher scores them.
pub fn neighbours(
    conn: &Connection,
    keys: &crate::domain::customer::MatchKeys,
    limit: i64,
) -> Result<Vec<Record>> {
    let mut s = conn.prepare_cached(
        "SELECT c.id, c.name, c.company, c.phone_key, c.email_key, c.city, c.address, u.login
         FROM customers c LEFT JOIN users u ON u.id = c.owner_id
         WHERE c.deleted_at IS NULL AND c.id IN (
             SELECT id FROM customers WHERE phone_key = ?1 AND phone_key IS NOT NULL AND deleted_at IS NULL
             UNION SELECT id FROM customers WHERE email_key = ?2 AND email_key IS NOT NULL AND deleted_at IS NULL
             UNION SELECT id FROM customers WHERE name_key = ?3 AND deleted_at IS NULL
         )
         ORDER BY c.id LIMIT ?4",
    )?;
    let rows = s.query_map(
        rusqlite::params![keys.phone, keys.email, keys.name, limit],
        record_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The `limit` most recent live customers (for fitting the model of `add` and import).
pub fn recent_records(conn: &Connection, limit: usize) -> Result<Vec<Record>> {
    let mut s = conn.prepare(
        "SELECT c.id, c.name, c.company, c.phone_key, c.email_key, c.city, c.address, u.login
         FROM customers c LEFT JOIN users u ON u.id = c.owner_id
         WHERE c.deleted_at IS NULL ORDER BY c.id DESC LIMIT ?1",
    )?;
    let rows = s.query_map([limit as i64], record_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One customer's match record by id, live or not (None when there is no such id),
/// built from the stored keys (import's hot path: nothing normalised again).
pub fn record(conn: &Connection, id: i64) -> Result<Option<Record>> {
    let mut s = conn.prepare_cached(
        "SELECT name, name_key, company_key, phone_key, email_key, city, address
         FROM customers WHERE id = ?1",
    )?;
    let mut rows = s.query_map([id], |r| {
        Ok(Record::from_keys(
            id,
            r.get::<_, Option<String>>(0)?.as_deref(),
            r.get::<_, Option<String>>(1)?.as_deref(),
            r.get::<_, Option<String>>(2)?.as_deref(),
            r.get::<_, Option<String>>(3)?.as_deref(),
            r.get::<_, Option<String>>(4)?.as_deref(),
            r.get::<_, Option<String>>(5)?.as_deref(),
            r.get::<_, Option<String>>(6)?.as_deref(),
        ))
    })?;
    Ok(rows.next().transpose()?)
}

/// The match model fitted last (None if none, or if it no longer parses).
pub fn saved_model(conn: &Connection) -> Result<Option<Model>> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value FROM settings WHERE key = 'match_model'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|s| serde_json::from_str::<Model>(&s).ok())
        .map(|mut m| {
            m.prepare();
            m
        }))
}

pub fn save_model(conn: &Connection, m: &Model) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO settings (key, value) VALUES ('match_model', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([serde_json::to_string(m)?])?;
    Ok(())
}
