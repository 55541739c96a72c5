//! Merging duplicate customers and undoing a merge. A merge keeps the before-images of
//! every row it touches in `merges.before`, so undo restores the pre-merge state exactly.
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::store::ops::merge::{MergeOf, MergeRecord};

/// Every column of `customers`, in table order (before-images and undo use them all).
pub const COLUMNS: [&str; 31] = [
    "id",
    "name",
    "company",
    "phone",
    "email",
    "city",
    "address",
    "source",
    "stage",
    "tags",
    "notes",
    "custom",
    "phone_key",
    "email_key",
    "name_key",
    "company_key",
    "pool_id",
    "owner_id",
    "previous_owner_id",
    "locked",
    "created_at",
    "updated_at",
    "created_by",
    "claimed_at",
    "pooled_at",
    "released_at",
    "last_contact_at",
    "won_at",
    "deleted_at",
    "merged_into",
    "forgotten_at",
];

fn columns() -> &'static [&'static str] {
    &COLUMNS
}

/// A customer row as a JSON object of every column.
pub fn snapshot(conn: &Connection, id: i64) -> Result<Value> {
    let pairs: Vec<String> = columns().iter().map(|c| format!("'{c}', {c}")).collect();
    let sql = format!(
        "SELECT json_object({}) FROM customers WHERE id = ?1",
        pairs.join(", ")
    );
    let s: Option<String> = conn.query_row(&sql, [id], |r| r.get(0)).optional()?;
    let s = s.ok_or_else(|| Error::not_found("customer", id))?;
    Ok(serde_json::from_str(&s)?)
}

/// Writes a snapshot back over the row (undo).
fn restore_row(conn: &Connection, snap: &Value) -> Result<()> {
    let id = snap["id"]
        .as_i64()
        .ok_or_else(|| Error::Other("snapshot without id".into()))?;
    let sets: Vec<String> = columns()[1..]
        .iter()
        .map(|c| format!("{c} = json_extract(?2, '$.{c}')"))
        .collect();
    let sql = format!("UPDATE customers SET {} WHERE id = ?1", sets.join(", "));
    conn.execute(&sql, params![id, snap.to_string()])?;
    Ok(())
}

/// child id → the customer it belongs to now, for the children of `ids`.
fn child_origin(conn: &Connection, table: &str, ids: &[i64]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let mut s = conn.prepare_cached(&format!(
        "SELECT id FROM {table} WHERE customer_id = ?1 ORDER BY id"
    ))?;
    for id in ids {
        for r in s.query_map([id], |r| r.get::<_, i64>(0))? {
            out.insert(r?.to_string(), json!(id));
        }
    }
    Ok(out)
}

fn tags_of(conn: &Connection, id: i64) -> Result<Vec<String>> {
    let mut s =
        conn.prepare_cached("SELECT tag FROM customer_tags WHERE customer_id = ?1 ORDER BY tag")?;
    let rows = s.query_map([id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Child tables moved to the survivor (and back by undo; merges recorded before
/// contacts existed simply have none to move back).
const CHILDREN: [&str; 5] = [
    "interactions",
    "followups",
    "deals",
    "ownership_events",
    "contacts",
];

/// Merges `others` into `survivor` in the caller's transaction; returns the merge id.
pub fn merge(conn: &Connection, m: &MergeOf) -> Result<i64> {
    let MergeOf {
        survivor,
        others,
        merged,
        score,
        reasons,
        by,
        at: now,
    } = *m;
    let mut all = vec![survivor];
    all.extend_from_slice(others);
    let mut rows = Vec::new();
    let mut tags = Map::new();
    for id in &all {
        rows.push(snapshot(conn, *id)?);
        tags.insert(id.to_string(), json!(tags_of(conn, *id)?));
    }
    let mut origin = Map::new();
    for t in CHILDREN {
        origin.insert(t.into(), Value::Object(child_origin(conn, t, others)?));
    }
    // Work follows the customer (app moves open follow-ups to the survivor's owner);
    // undo gives each back to whom it was assigned.
    let mut assignees = Map::new();
    {
        let mut s = conn.prepare_cached(
            "SELECT id, assignee_id FROM followups WHERE customer_id = ?1 AND status = 'open'",
        )?;
        for id in &all {
            for r in s.query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
                let (f, a) = r?;
                assignees.insert(f.to_string(), json!(a));
            }
        }
    }
    let before = json!({"rows": rows, "tags": tags, "origin": origin, "assignees": assignees});
    conn.prepare_cached(
        "INSERT INTO merges (survivor_id, merged_ids, before, score, reasons, by_user, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![survivor, json!(others).to_string(), before.to_string(), score, reasons, by, now])?;
    let merge_id = conn.last_insert_rowid();
    for t in CHILDREN {
        let mut s = conn.prepare_cached(&format!(
            "UPDATE {t} SET customer_id = ?1 WHERE customer_id = ?2"
        ))?;
        for o in others {
            s.execute([survivor, *o])?;
        }
    }
    super::customers::update_fields(conn, survivor, &merged.fields, &merged.stage, now)?;
    conn.prepare_cached(
        "UPDATE customers SET custom = ?2, owner_id = ?3, last_contact_at = ?4, won_at = ?5,
            claimed_at = CASE WHEN ?3 IS NULL THEN NULL ELSE coalesce(claimed_at, ?6) END,
            pooled_at = CASE WHEN ?3 IS NULL THEN pooled_at ELSE NULL END
         WHERE id = ?1",
    )?
    .execute(params![
        survivor,
        merged.custom,
        merged.owner_id,
        merged.last_contact_at,
        merged.won_at,
        now
    ])?;
    let mut tomb = conn.prepare_cached(
        "UPDATE customers SET deleted_at = ?2, merged_into = ?3, updated_at = ?2, owner_id = NULL, locked = 0 WHERE id = ?1",
    )?;
    let mut untag = conn.prepare_cached("DELETE FROM customer_tags WHERE customer_id = ?1")?;
    for o in others {
        tomb.execute(params![o, now, survivor])?;
        untag.execute([o])?;
    }
    Ok(merge_id)
}

/// A merge and its before-images.
pub fn get(conn: &Connection, merge_id: i64) -> Result<(MergeRecord, Value)> {
    let (survivor, merged, before, undone): (i64, String, String, Option<i64>) = conn
        .prepare_cached(
            "SELECT survivor_id, merged_ids, before, undone_at FROM merges WHERE id = ?1",
        )?
        .query_row([merge_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?
        .ok_or_else(|| Error::not_found("merge", merge_id))?;
    let before: Value = serde_json::from_str(&before)?;
    Ok((
        MergeRecord {
            id: merge_id,
            survivor_id: survivor,
            merged_ids: serde_json::from_str(&merged)?,
            undone: undone.is_some(),
            erased: before.get("erased").is_some(),
        },
        before,
    ))
}

/// Puts every row back as it was before the merge (whether it may be undone is
/// `domain::merge::check_undo`'s to say).
pub fn undo(conn: &Connection, merge_id: i64, now: i64) -> Result<()> {
    let (_, before) = get(conn, merge_id)?;
    // Children go back to the customer they were moved from; open follow-ups to whom
    // they were assigned.
    restore_children(conn, &before)?;
    if let Some(map) = before["assignees"].as_object() {
        let mut s = conn.prepare_cached(
            "UPDATE followups SET assignee_id = ?2 WHERE id = ?1 AND status = 'open'",
        )?;
        for (f, a) in map {
            if let (Ok(f), Some(a)) = (f.parse::<i64>(), a.as_i64()) {
                s.execute([f, a])?;
            }
        }
    }
    for row in before["rows"].as_array().cloned().unwrap_or_default() {
        restore_row(conn, &row)?;
    }
    if let Some(tags) = before["tags"].as_object() {
        let mut del = conn.prepare_cached("DELETE FROM customer_tags WHERE customer_id = ?1")?;
        let mut ins = conn.prepare_cached(
            "INSERT OR IGNORE INTO customer_tags (tag, customer_id) VALUES (?1, ?2)",
        )?;
        for (id, list) in tags {
            let id: i64 = id
                .parse()
                .map_err(|_| Error::Other("bad merge record".into()))?;
            del.execute([id])?;
            for t in list.as_array().cloned().unwrap_or_default() {
                if let Some(t) = t.as_str() {
                    ins.execute(params![t, id])?;
                }
            }
        }
    }
    conn.prepare_cached("UPDATE merges SET undone_at = ?2 WHERE id = ?1")?
        .execute(params![merge_id, now])?;
    Ok(())
}

/// Moves each recorded child back to its original customer.
fn restore_children(conn: &Connection, before: &Value) -> Result<()> {
    let origin = before["origin"].as_object();
    for t in CHILDREN {
        if let Some(map) = origin.and_then(|o| o.get(t)).and_then(|m| m.as_object()) {
            let mut s =
                conn.prepare_cached(&format!("UPDATE {t} SET customer_id = ?2 WHERE id = ?1"))?;
            for (child, cust) in map {
                let child: i64 = child
                    .parse()
                    .map_err(|_| Error::Other("bad merge record".into()))?;
                if let Some(c) = cust.as_i64() {
                    s.execute([child, c])?;
                }
            }
        }
    }
    Ok(())
}
