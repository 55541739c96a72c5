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
/// them). Two stages on two cores: this thread steps SQLite and copies each row's
/// columns into a batch; another builds the keys (normalising city and address, the
/// name's sorted tokens and sound) and hands them to `f`, a batch behind.
pub fn each_keys(
    conn: &Connection,
    f: &mut (dyn FnMut(i64, &Keys, Option<&str>) + Send),
) -> Result<()> {
    // The owners' logins by id, once (a few users), rather than joined to every row.
    let logins: std::collections::HashMap<i64, String> = conn
        .prepare("SELECT id, login FROM users")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let logins = &logins;
    // A few batches in flight at most: the memory of the read stays small.
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<RowBatch>(2);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<RowBatch>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for mut batch in full_rx {
                batch.each(logins, &mut *f);
                // The reader may have finished (its end of the channel gone): the
                // batch is then simply dropped.
                let _ = empty_tx.send(batch);
            }
        });
        let mut batch = RowBatch::default();
        let read = scan_rows(
            conn,
            "SELECT id, name, name_key, company_key, phone_key, email_key, city, address,
                    owner_id
             FROM customers WHERE deleted_at IS NULL ORDER BY id",
            &mut |row| {
                batch.push(row)?;
                if batch.ids.len() == RowBatch::ROWS {
                    let next = empty_rx.try_recv().unwrap_or_default();
                    // The builder only stops when this side stops sending.
                    let _ = full_tx.send(std::mem::replace(&mut batch, next));
                }
                Ok(())
            },
        );
        if read.is_ok() && !batch.ids.is_empty() {
            let _ = full_tx.send(batch);
        }
        // Closing the channel ends the builder; the scope waits for it.
        drop(full_tx);
        read
    })
}

/// Rows of `each_keys`'s query, their texts end to end in one buffer (a column's
/// `None` is NULL).
#[derive(Default)]
struct RowBatch {
    ids: Vec<i64>,
    text: String,
    /// Each row's columns 1..=7 as (start, end) in `text`, `start > end` for NULL.
    spans: Vec<[(u32, u32); 7]>,
    owners: Vec<Option<i64>>,
}

impl RowBatch {
    const ROWS: usize = 1024;

    fn push(&mut self, row: &rusqlite::Row) -> Result<()> {
        self.ids.push(row.get(0)?);
        let mut spans = [(1, 0); 7];
        for (i, span) in spans.iter_mut().enumerate() {
            if let Some(t) = text(row, i + 1)? {
                let start = self.text.len() as u32;
                self.text.push_str(t);
                *span = (start, self.text.len() as u32);
            }
        }
        self.spans.push(spans);
        self.owners.push(row.get(8)?);
        Ok(())
    }

    /// Each row's keys and owner's login (from `logins`) into `f`, and the batch
    /// emptied for reuse.
    fn each(
        &mut self,
        logins: &std::collections::HashMap<i64, String>,
        f: &mut dyn FnMut(i64, &Keys, Option<&str>),
    ) {
        let rows = self.ids.iter().zip(&self.spans).zip(&self.owners);
        for ((id, spans), owner) in rows {
            let col = |i: usize| {
                let (start, end) = spans[i];
                (start <= end).then(|| &self.text[start as usize..end as usize])
            };
            let r = Record::from_keys(*id, col(0), col(1), col(2), col(3), col(4), col(5), col(6));
            let login = owner.and_then(|o| logins.get(&o)).map(String::as_str);
            f(r.id, &r.keys(), login);
        }
        self.ids.clear();
        self.text.clear();
        self.spans.clear();
        self.owners.clear();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the columns the scan reads: the two-stage reader against the same rows read
    /// and built one at a time.
    fn table(rows: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT);
             CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, name_key TEXT,
                 company TEXT, company_key TEXT, phone_key TEXT, email_key TEXT, city TEXT,
                 address TEXT, owner_id INTEGER, deleted_at INTEGER);
             INSERT INTO users VALUES (1, 'li'), (2, 'wang');",
        )
        .unwrap();
        let mut ins = conn
            .prepare("INSERT INTO customers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
            .unwrap();
        for i in 1..=rows as i64 {
            // NULLs, empty strings and values in turn; every 7th row deleted.
            let v = |k: i64, s: String| match (i + k) % 3 {
                0 => None,
                1 => Some(String::new()),
                _ => Some(s),
            };
            ins.execute(rusqlite::params![
                i,
                v(0, format!("Henry Collinson {}", i % 50)),
                v(0, format!("henrycollinson{}", i % 50)),
                v(1, format!("创亿信息 {i}")),
                v(1, format!("创亿信息{}", i % 9)),
                v(2, format!("614042{:05}", i % 400)),
                v(0, format!("u{i}@qq.com")),
                v(1, "杭州".to_string()),
                v(2, format!("{} Mcgivern Crescent", i % 70)),
                (i % 4 != 0).then_some(i % 2 + 1),
                (i % 7 == 0).then_some(1),
            ])
            .unwrap();
        }
        drop(ins);
        conn
    }

    #[test]
    fn the_two_stage_read_is_the_rows_read_one_by_one() {
        // Several batches and a short last one.
        let conn = table(RowBatch::ROWS * 2 + 77);
        let mut got: Vec<(i64, String, Option<String>)> = Vec::new();
        each_keys(&conn, &mut |id, keys, owner| {
            got.push((id, format!("{keys:?}"), owner.map(String::from)))
        })
        .unwrap();
        let mut want = Vec::new();
        let mut s = conn
            .prepare(
                "SELECT c.id, c.name, c.name_key, c.company_key, c.phone_key, c.email_key,
                        c.city, c.address, u.login
                 FROM customers c LEFT JOIN users u ON u.id = c.owner_id
                 WHERE c.deleted_at IS NULL ORDER BY c.id",
            )
            .unwrap();
        let mut rows = s.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let t = |i| text(row, i).unwrap();
            let r = Record::from_keys(
                row.get(0).unwrap(),
                t(1),
                t(2),
                t(3),
                t(4),
                t(5),
                t(6),
                t(7),
            );
            want.push((r.id, format!("{:?}", r.keys()), t(8).map(String::from)));
        }
        assert_eq!(
            got.len(),
            RowBatch::ROWS * 2 + 77 - (RowBatch::ROWS * 2 + 77) / 7
        );
        assert_eq!(got, want);
    }

    #[test]
    fn a_failing_row_ends_the_read_with_its_error() {
        let conn = table(RowBatch::ROWS + 5);
        // A blob where text belongs, in the second batch.
        conn.execute(
            "UPDATE customers SET city = x'ff00' WHERE id = ?1",
            [RowBatch::ROWS as i64 + 3],
        )
        .unwrap();
        let mut seen = 0;
        let r = each_keys(&conn, &mut |_, _, _| seen += 1);
        assert!(r.is_err());
        // The batches before the bad row were handed over; none after it.
        assert!(seen <= RowBatch::ROWS + 2, "{seen}");
    }

    #[test]
    fn names_and_companies_come_back_in_order_many_statements_or_one() {
        let conn = table(700);
        let mut ids: Vec<i64> = (1..=700).rev().collect();
        ids.extend([5, 999_999, -3, 5]);
        let many = crate::store::sqlite::customers::names_and_companies(&conn, &ids).unwrap();
        let one: Vec<_> = ids
            .iter()
            .map(|&id| crate::store::sqlite::customers::name_and_company(&conn, id).unwrap())
            .collect();
        assert_eq!(many, one);
        assert!(many[ids.len() - 3].is_none() && many[ids.len() - 1].is_some());
    }
}
