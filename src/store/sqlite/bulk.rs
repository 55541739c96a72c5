//! Bulk loading (`pool import`): new customers in multi-row statements, the customer
//! indexes dropped for the load and built once at the end, the live match keys streamed
//! out for the importer's in-memory key map, and the custom field names kept in
//! `settings`.
use rusqlite::{Connection, OptionalExtension};

use crate::domain::normalize::tag_key;
use crate::error::Result;
use crate::store::ops::customers::Placement;
use crate::store::ops::import::{NewLead, Suspended};

/// Partial indexes whose condition the rows a bulk import adds (new, unlocked leads
/// without a previous owner, recycle date or deal; level and industry only where the
/// file has such a column) do not meet: kept and updated as rows come, which costs a
/// condition test per row, where a rebuild would read the whole table once for each.
const KEPT_DURING_LOAD: &[&str] = &[
    "customers_locked",
    "customers_previous_owner",
    "customers_recycle_due",
    "customers_won",
    "customers_level",
    "customers_industry",
];

/// Drops the indexes on customers and customer_tags (but `KEPT_DURING_LOAD`) in the
/// caller's transaction and returns their SQL, so a rollback (crash, Ctrl-C) brings
/// them back untouched. A bulk import writes the rows alone and builds each index once
/// at the end, from sorted keys: much less work than a B-tree descent per row and index
/// (random match keys), and the only pages a load touches are the tables' last ones.
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
        if KEPT_DURING_LOAD.contains(&name.as_str()) {
            continue;
        }
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

/// Parameters every row of a bulk INSERT shares (bound once per statement)…
const SHARED: usize = 6;
/// …and each row's own.
const OWN: usize = 18;

/// The INSERT of `rows` new customers: each row's own values numbered after the shared
/// ones (built once for a full chunk: formatting a thousand parameters per statement
/// cost more than the bindings it saves).
fn insert_sql(rows: usize) -> String {
    use std::fmt::Write;
    let mut sql = String::from(
        "INSERT INTO customers (id, name, company, phone, email, city, address, source, stage,
            tags, notes, custom, phone_key, email_key, name_key, company_key, level, industry,
            pool_id, owner_id, locked, created_at, updated_at, created_by, claimed_at, pooled_at)
         VALUES ",
    );
    for r in 0..rows {
        let first = SHARED + 1 + r * OWN;
        sql.push_str(if r == 0 { "(" } else { ",(" });
        for p in first..first + OWN {
            let _ = write!(sql, "?{p},");
        }
        sql.push_str("?1,?2,0,?3,?3,?4,?5,?6)");
    }
    sql
}

/// Writes new customers (explicit ids) and their tags with few statements: `BULK_ROWS`
/// customers per INSERT, in the caller's transaction. What every row shares (pool,
/// owner, times, creator) is bound once per statement (`?1`–`?6`), each row's own
/// values after it: a third fewer bindings than binding every column of every row.
pub fn insert_batch(
    conn: &Connection,
    place: &Placement,
    created_by: Option<i64>,
    now: i64,
    rows: &[NewLead],
) -> Result<()> {
    let (claimed, pooled) = match place.owner_id {
        Some(_) => (Some(now), None),
        None => (None, Some(now)),
    };
    static FULL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    for chunk in rows.chunks(BULK_ROWS) {
        let sql = if chunk.len() == BULK_ROWS {
            std::borrow::Cow::Borrowed(FULL.get_or_init(|| insert_sql(BULK_ROWS)).as_str())
        } else {
            std::borrow::Cow::Owned(insert_sql(chunk.len()))
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let shared: [&dyn rusqlite::ToSql; SHARED] = [
            &place.pool_id,
            &place.owner_id,
            &now,
            &created_by,
            &claimed,
            &pooled,
        ];
        for (i, v) in shared.into_iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, v)?;
        }
        let mut i = SHARED + 1;
        for r in chunk {
            let f = &r.fields;
            let tags = f.tags.join(",");
            let values: [&dyn rusqlite::ToSql; OWN] = [
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
