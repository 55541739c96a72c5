//! The audit log: appended in the caller's transaction, hash-chained.
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::audit::{chain_hash, Entry, GENESIS};
use crate::error::Result;
use crate::store::ops::audit::{LogFilter, LogRow, Record};

/// The OS account behind this process when it acts as another user (`--as`): every audit
/// row the process writes names it beside the actor. Set once, when the actor is known.
static OS_USER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub fn set_os_user(os_user: &str) {
    let _ = OS_USER.set(os_user.to_string());
}

/// Appends one row. Must run inside the IMMEDIATE transaction of the change it records,
/// so concurrent writers never fork the chain.
///
/// The row's time is the real time, read here under the write lock and never earlier than
/// the previous row's, so the chain is in time order whatever the clocks of the processes
/// that wrote it or `POOL_NOW` say; `Record::at` is kept as the simulated time only when
/// `POOL_NOW` is set.
pub fn append(conn: &Connection, r: Record) -> Result<i64> {
    let last: Option<(i64, String, i64)> = conn
        .prepare_cached("SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let (prev_seq, prev_hash, prev_at) = last.unwrap_or((0, GENESIS.to_string(), i64::MIN));
    let before = r.before.map(|v| v.to_string());
    let after = r.after.map(|v| v.to_string());
    let at = crate::clock::real_now().max(prev_at);
    let os_user = OS_USER.get().map(String::as_str).filter(|o| *o != r.actor);
    let sim_at = crate::clock::is_simulated().then_some(r.at);
    let entry = Entry {
        seq: prev_seq + 1,
        at,
        actor: r.actor,
        action: r.action,
        entity: r.entity,
        entity_id: r.entity_id,
        before: before.as_deref(),
        after: after.as_deref(),
        os_user,
        sim_at,
    };
    let hash = chain_hash(&prev_hash, &entry);
    conn.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash, os_user, sim_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
        hash,
        entry.os_user,
        entry.sim_at
    ])?;
    Ok(entry.seq)
}

pub fn count_action(conn: &Connection, action: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM audit_log WHERE action = ?1")?
        .query_row([action], |r| r.get(0))?)
}

use crate::domain::audit::Stored;

/// Streams every row in seq order (for verify). Works on databases of every schema
/// version (a backup is checked before it is upgraded).
pub fn for_each(conn: &Connection, mut each: impl FnMut(Stored) -> Result<bool>) -> Result<()> {
    let extra = if conn
        .prepare("SELECT os_user, sim_at FROM audit_log LIMIT 0")
        .is_ok()
    {
        "os_user, sim_at"
    } else {
        "NULL, NULL"
    };
    let mut s = conn.prepare(&format!(
        "SELECT seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash, {extra} FROM audit_log ORDER BY seq",
    ))?;
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
            os_user: r.get(10)?,
            sim_at: r.get(11)?,
            checked: None,
        };
        if !each(row)? {
            break;
        }
    }
    Ok(())
}

/// The last row's seq and hash (None for an empty log).
pub fn head(conn: &Connection) -> Result<Option<(i64, String)>> {
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// The seq of the row with this hash, if any.
pub fn seq_of_hash(conn: &Connection, hash: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT seq FROM audit_log WHERE hash = ?1")?
        .query_row([hash], |r| r.get(0))
        .optional()?)
}

/// Newest first. The WHERE clause is built from the filters given, so each one can use
/// its index (audit_entity, audit_actor, audit_action).
pub fn list(conn: &Connection, f: &LogFilter) -> Result<Vec<LogRow>> {
    use rusqlite::types::Value as V;
    let mut sql = String::from(
        "SELECT seq, at, actor, action, entity, entity_id, before, after, os_user, sim_at FROM audit_log WHERE 1",
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
            os_user: r.get(8)?,
            sim_at: crate::clock::iso_ts(r.get(9)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
