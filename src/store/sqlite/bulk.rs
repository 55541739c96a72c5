//! Bulk loading (`pool import`): new customers in multi-row statements, the customer
//! indexes dropped for the load and built once at the end, the live match keys streamed
//! out for the importer's in-memory key map, and the custom field names kept in
//! `settings`.
use rusqlite::{Connection, OptionalExtension};

use crate::domain::normalize::tag_key;
use crate::error::Result;
use crate::store::ops::customers::Placement;
use crate::store::ops::import::{NewLead, Suspended};

/// Drops every index on customers and customer_tags in the caller's transaction and
/// returns their SQL, so a rollback (crash, Ctrl-C) brings them back untouched. A bulk
/// import writes the rows alone and builds each index once at the end, from sorted
/// keys: much less work than a B-tree descent per row and index (random match keys),
/// and the only pages a load touches are the tables' last ones.
pub fn suspend_indexes(conn: &Connection) -> Result<Suspended> {
    let indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM sqlite_schema
             WHERE type = 'index' AND tbl_name IN ('customers', 'customer_tags') AND sql IS NOT NULL
             ORDER BY name",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut sqls = Vec::with_capacity(indexes.len());
    for (name, sql) in indexes {
        conn.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
        sqls.push(sql);
    }
    Ok(Suspended(sqls))
}

/// Builds the suspended indexes again. SQLite sorts the keys of each in chunks on two
/// threads (`PRAGMA threads`) when a chunk is smaller than the data, hence a small page
/// cache while they are built: faster, and less memory, than one sort in one big chunk.
pub fn restore_indexes(conn: &Connection, suspended: &Suspended) -> Result<()> {
    let sqls = &suspended.0;
    if sqls.is_empty() {
        return Ok(());
    }
    let cache: i64 = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
    let threads: i64 = conn.pragma_query_value(None, "threads", |r| r.get(0))?;
    conn.pragma_update(None, "cache_size", -8 * 1024)?;
    conn.pragma_update(None, "threads", 2)?;
    let built = sqls.iter().try_for_each(|sql| conn.execute_batch(sql));
    conn.pragma_update(None, "threads", threads)?;
    conn.pragma_update(None, "cache_size", cache)?;
    built?;
    Ok(())
}

/// The largest customer id, tombstones included (0 for an empty table).
pub fn max_id(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM customers")?
        .query_row([], |r| r.get(0))?)
}

/// Every live customer's id and match keys (phone, e-mail, name, company), for the bulk
/// import's in-memory key map. The keys are lent, not copied: no allocation per row.
pub fn for_each_keys(
    conn: &Connection,
    each: &mut dyn FnMut(i64, [Option<&str>; 4]),
) -> Result<()> {
    let mut s = conn.prepare("SELECT id, phone_key, email_key, name_key, company_key FROM customers WHERE deleted_at IS NULL")?;
    let mut rows = s.query([])?;
    while let Some(r) = rows.next()? {
        let key = |i| r.get_ref(i).and_then(|v| Ok(v.as_str_or_null()?));
        each(r.get(0)?, [key(1)?, key(2)?, key(3)?, key(4)?]);
    }
    Ok(())
}

/// Rows per multi-row INSERT of a bulk import.
const BULK_ROWS: usize = 64;

/// Writes new customers (explicit ids) and their tags with few statements: `BULK_ROWS`
/// customers per INSERT, in the caller's transaction.
pub fn insert_batch(
    conn: &Connection,
    place: &Placement,
    created_by: Option<i64>,
    now: i64,
    rows: &[NewLead],
) -> Result<()> {
    const COLS: &str = "id, name, company, phone, email, city, address, source, stage, tags, notes, custom,
        phone_key, email_key, name_key, company_key, pool_id, owner_id, locked, created_at, updated_at,
        created_by, claimed_at, pooled_at, level, industry";
    let (claimed, pooled) = match place.owner_id {
        Some(_) => (Some(now), None),
        None => (None, Some(now)),
    };
    let one = format!("({})", vec!["?"; 26].join(","));
    for chunk in rows.chunks(BULK_ROWS) {
        let sql = format!(
            "INSERT INTO customers ({COLS}) VALUES {}",
            vec![one.as_str(); chunk.len()].join(",")
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut i = 1;
        for r in chunk {
            let f = &r.fields;
            let tags = f.tags.join(",");
            let values: [&dyn rusqlite::ToSql; 26] = [
                &r.id,
                &f.name,
                &f.company,
                &f.phone,
                &f.email,
                &f.city,
                &f.address,
                &f.source,
                &r.stage,
                &tags,
                &f.notes,
                &r.custom,
                &f.keys.phone,
                &f.keys.email,
                &f.keys.name,
                &f.keys.company,
                &place.pool_id,
                &place.owner_id,
                &0,
                &now,
                &now,
                &created_by,
                &claimed,
                &pooled,
                &f.level,
                &f.industry,
            ];
            for v in values {
                stmt.raw_bind_parameter(i, v)?;
                i += 1;
            }
        }
        stmt.raw_execute()?;
    }
    let tags: Vec<(String, i64)> = rows
        .iter()
        .flat_map(|r| r.fields.tags.iter().map(move |t| (tag_key(t), r.id)))
        .collect();
    for chunk in tags.chunks(BULK_ROWS * 2) {
        let sql = format!(
            "INSERT OR IGNORE INTO customer_tags (tag, customer_id) VALUES {}",
            vec!["(?,?)"; chunk.len()].join(",")
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut i = 1;
        for (t, id) in chunk {
            stmt.raw_bind_parameter(i, t)?;
            stmt.raw_bind_parameter(i + 1, id)?;
            i += 2;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

/// The custom field names ever imported, in first-seen order (kept in `settings`, so an
/// export knows its columns without scanning every customer first).
pub fn known_custom_fields(conn: &Connection) -> Result<Vec<String>> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value FROM settings WHERE key = 'custom_fields'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

pub fn remember_custom_fields(conn: &Connection, names: &[String]) -> Result<()> {
    let mut all = known_custom_fields(conn)?;
    let before = all.len();
    for n in names {
        if !all.contains(n) {
            all.push(n.clone());
        }
    }
    if all.len() != before {
        conn.prepare_cached(
            "INSERT INTO settings (key, value) VALUES ('custom_fields', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute([serde_json::to_string(&all)?])?;
    }
    Ok(())
}
