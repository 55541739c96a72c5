//! The audit log: appended in the caller's transaction, hash-chained.
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::domain::audit::{chain_hash, Entry, GENESIS};
use crate::error::Result;

/// What happened, for one audit row.
pub struct Record<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Appends one row. Must run inside the IMMEDIATE transaction of the change it records,
/// so concurrent writers never fork the chain.
pub fn append(conn: &Connection, r: Record) -> Result<i64> {
    let last: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (prev_seq, prev_hash) = last.unwrap_or((0, GENESIS.to_string()));
    let before = r.before.map(|v| v.to_string());
    let after = r.after.map(|v| v.to_string());
    let entry = Entry {
        seq: prev_seq + 1,
        at: r.at,
        actor: r.actor,
        action: r.action,
        entity: r.entity,
        entity_id: r.entity_id,
        before: before.as_deref(),
        after: after.as_deref(),
    };
    let hash = chain_hash(&prev_hash, &entry);
    conn.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.entity,
        entry.entity_id,
        entry.before,
        entry.after,
        prev_hash,
        hash
    ])?;
    Ok(entry.seq)
}

pub fn count_action(conn: &Connection, action: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM audit_log WHERE action = ?1")?
        .query_row([action], |r| r.get(0))?)
}

use crate::domain::audit::Stored;

/// Streams every row in seq order (for verify).
pub fn for_each(conn: &Connection, mut each: impl FnMut(Stored) -> Result<bool>) -> Result<()> {
    let mut s = conn.prepare(
        "SELECT seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash FROM audit_log ORDER BY seq",
    )?;
    let mut rows = s.query([])?;
    while let Some(r) = rows.next()? {
        let row = Stored {
            seq: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            entity: r.get(4)?,
            entity_id: r.get(5)?,
            before: r.get(6)?,
            after: r.get(7)?,
            prev_hash: r.get(8)?,
            hash: r.get(9)?,
        };
        if !each(row)? {
            break;
        }
    }
    Ok(())
}

/// The seq of the row with this hash, if any.
pub fn seq_of_hash(conn: &Connection, hash: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT seq FROM audit_log WHERE hash = ?1")?
        .query_row([hash], |r| r.get(0))
        .optional()?)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LogRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    pub customer: Option<i64>,
    pub actor: Option<String>,
    pub actors_in_team: Option<i64>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: Option<i64>,
}

/// Newest first. The WHERE clause is built from the filters given, so each one can use
/// its index (audit_entity, audit_actor, audit_action).
pub fn list(conn: &Connection, f: &LogFilter) -> Result<Vec<LogRow>> {
    use rusqlite::types::Value as V;
    let mut sql = String::from(
        "SELECT seq, at, actor, action, entity, entity_id, before, after FROM audit_log WHERE 1",
    );
    let mut args: Vec<V> = Vec::new();
    let mut add = |sql: &mut String, cond: &str, v: V| {
        args.push(v);
        sql.push_str(&cond.replace('?', &format!("?{}", args.len())));
    };
    if let Some(c) = f.customer {
        // Rows about the customer, its follow-ups (they name it), and the import that
        // created it: an import holds the write lock, so every id from its first to its
        // last new customer is one of them.
        add(
            &mut sql,
            " AND ((entity = 'customer' AND entity_id = ?)
                OR (entity = 'followup' AND json_extract(after, '$.customer') = ?)
                OR (action = 'import' AND json_extract(after, '$.first_id') <= ?
                    AND json_extract(after, '$.last_id') >= ?))",
            c.into(),
        );
    }
    if let Some(a) = &f.actor {
        add(&mut sql, " AND actor = ?", a.clone().into());
    }
    if let Some(t) = f.actors_in_team {
        add(
            &mut sql,
            " AND actor IN (SELECT login FROM users WHERE team_id = ?)",
            t.into(),
        );
    }
    if let Some(a) = &f.action {
        add(&mut sql, " AND action = ?", a.clone().into());
    }
    if let Some(t) = f.since {
        add(&mut sql, " AND at >= ?", t.into());
    }
    if let Some(t) = f.until {
        add(&mut sql, " AND at < ?", t.into());
    }
    sql.push_str(" ORDER BY seq DESC");
    if let Some(l) = f.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    let mut s = conn.prepare(&sql)?;
    let rows = s.query_map(rusqlite::params_from_iter(args), |r| {
        Ok(LogRow {
            seq: r.get(0)?,
            at: crate::clock::iso_ts(Some(r.get(1)?)).unwrap_or_default(),
            actor: r.get(2)?,
            action: r.get(3)?,
            entity: r.get(4)?,
            entity_id: r.get(5)?,
            before: r.get(6)?,
            after: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
