//! Customers: insert, read, list with filters, update, soft delete.
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

pub use crate::domain::customer::Customer;
use crate::domain::customer::CustomerFields;
use crate::domain::fields::Condition;
use crate::domain::normalize::tag_key;
use crate::error::{Error, Result};
use crate::store::ops::customers::{ForgetCounts, ListFilter, Placement, Sort};

const SELECT: &str =
    "SELECT c.id, c.name, c.company, c.phone, c.email, c.city, c.address, c.source,
        c.stage, c.tags, c.notes, c.custom, c.pool_id, pl.name, c.owner_id, o.login, o.team_id,
        p.login, c.locked, c.created_at, c.updated_at, c.claimed_at, c.pooled_at, c.released_at,
        c.last_contact_at, c.won_at, c.deleted_at, c.merged_into, c.level, c.industry
    FROM customers c
    JOIN pools pl ON pl.id = c.pool_id
    LEFT JOIN users o ON o.id = c.owner_id
    LEFT JOIN users p ON p.id = c.previous_owner_id";

fn from_row(r: &Row) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: r.get(0)?,
        name: r.get(1)?,
        company: r.get(2)?,
        phone: r.get(3)?,
        email: r.get(4)?,
        city: r.get(5)?,
        address: r.get(6)?,
        source: r.get(7)?,
        stage: r.get(8)?,
        tags: r.get(9)?,
        notes: r.get(10)?,
        custom: r.get(11)?,
        pool_id: r.get(12)?,
        pool: r.get(13)?,
        owner_id: r.get(14)?,
        owner: r.get(15)?,
        owner_team_id: r.get(16)?,
        previous_owner: r.get(17)?,
        locked: r.get(18)?,
        created_at: r.get(19)?,
        updated_at: r.get(20)?,
        claimed_at: r.get(21)?,
        pooled_at: r.get(22)?,
        released_at: r.get(23)?,
        last_contact_at: r.get(24)?,
        won_at: r.get(25)?,
        deleted_at: r.get(26)?,
        merged_into: r.get(27)?,
        level: r.get(28)?,
        industry: r.get(29)?,
    })
}

/// Inserts a customer and its tags. Uses cached statements: `pool demo` and `pool import`
/// call this in a loop inside one transaction.
pub fn insert(
    conn: &Connection,
    f: &CustomerFields,
    stage: &str,
    custom: Option<&str>,
    place: &Placement,
    created_by: Option<i64>,
    now: i64,
) -> Result<i64> {
    let tags = f.tags.join(",");
    let (claimed_at, pooled_at) = match place.owner_id {
        Some(_) => (Some(now), None),
        None => (None, Some(now)),
    };
    conn.prepare_cached(
        "INSERT INTO customers (name, company, phone, email, city, address, source, stage, tags,
            notes, custom, phone_key, email_key, name_key, company_key, pool_id, owner_id, locked,
            created_at, updated_at, created_by, claimed_at, pooled_at, level, industry)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, 0,
            ?18, ?18, ?19, ?20, ?21, ?22, ?23)",
    )?
    .execute(params![
        f.name,
        f.company,
        f.phone,
        f.email,
        f.city,
        f.address,
        f.source,
        stage,
        tags,
        f.notes,
        custom,
        f.keys.phone,
        f.keys.email,
        f.keys.name,
        f.keys.company,
        place.pool_id,
        place.owner_id,
        now,
        created_by,
        claimed_at,
        pooled_at,
        f.level,
        f.industry,
    ])?;
    let id = conn.last_insert_rowid();
    write_tags(conn, id, &f.tags)?;
    Ok(id)
}

fn write_tags(conn: &Connection, id: i64, tags: &[String]) -> Result<()> {
    let mut ins = conn
        .prepare_cached("INSERT OR IGNORE INTO customer_tags (tag, customer_id) VALUES (?1, ?2)")?;
    for t in tags {
        ins.execute(params![tag_key(t), id])?;
    }
    Ok(())
}

/// Reads one customer, deleted or not.
pub fn find(conn: &Connection, id: i64) -> Result<Option<Customer>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE c.id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// `name_and_company` of many customers: a few hundred ids a statement rather than a
/// statement each (the dedupe report labels every member of every cluster).
#[allow(clippy::type_complexity)]
pub fn names_and_companies(
    conn: &Connection,
    ids: &[i64],
) -> Result<Vec<Option<(Option<String>, Option<String>)>>> {
    const AT_ONCE: usize = 256;
    let sql = format!(
        "SELECT id, name, company FROM customers WHERE deleted_at IS NULL AND id IN ({})",
        vec!["?"; AT_ONCE].join(", ")
    );
    let mut s = conn.prepare_cached(&sql)?;
    // In id order: neighbouring ids share the table's pages, each read once.
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut found = std::collections::HashMap::with_capacity(sorted.len());
    for chunk in sorted.chunks(AT_ONCE) {
        // A short last chunk is filled up with an id no customer has.
        let padded = chunk.iter().copied().chain(std::iter::repeat(i64::MIN));
        let mut rows = s.query(rusqlite::params_from_iter(padded.take(AT_ONCE)))?;
        while let Some(r) = rows.next()? {
            found.insert(r.get::<_, i64>(0)?, (r.get(1)?, r.get(2)?));
        }
    }
    Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
}

/// A live customer's name and company (None: no such live customer).
pub fn name_and_company(
    conn: &Connection,
    id: i64,
) -> Result<Option<(Option<String>, Option<String>)>> {
    Ok(conn
        .prepare_cached("SELECT name, company FROM customers WHERE id = ?1 AND deleted_at IS NULL")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Reads one live customer: a deleted or merged one is "not found" (with where it went).
pub fn get(conn: &Connection, id: i64) -> Result<Customer> {
    match find(conn, id)? {
        Some(c) if c.deleted_at.is_none() => Ok(c),
        Some(c) => match c.merged_into {
            Some(s) => Err(Error::NotFound {
                what: "customer",
                id: format!("{id} (merged into {s})"),
            }),
            None => Err(Error::NotFound {
                what: "customer",
                id: format!("{id} (deleted)"),
            }),
        },
        None => Err(Error::not_found("customer", id)),
    }
}

/// Replaces the editable fields (values and keys) and the stage.
pub fn update_fields(
    conn: &Connection,
    id: i64,
    f: &CustomerFields,
    stage: &str,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE customers SET name = ?2, company = ?3, phone = ?4, email = ?5, city = ?6,
            address = ?7, source = ?8, stage = ?9, tags = ?10, notes = ?11, phone_key = ?12,
            email_key = ?13, name_key = ?14, company_key = ?15, updated_at = ?16, level = ?17,
            industry = ?18
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        f.name,
        f.company,
        f.phone,
        f.email,
        f.city,
        f.address,
        f.source,
        stage,
        f.tags.join(","),
        f.notes,
        f.keys.phone,
        f.keys.email,
        f.keys.name,
        f.keys.company,
        now,
        f.level,
        f.industry
    ])?;
    conn.prepare_cached("DELETE FROM customer_tags WHERE customer_id = ?1")?
        .execute([id])?;
    write_tags(conn, id, &f.tags)?;
    Ok(())
}

/// Soft delete: the row stays as a tombstone so interactions, follow-ups and deals keep
/// their customer (foreign keys) and the audit trail stays readable.
pub fn soft_delete(conn: &Connection, id: i64, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE customers SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
        )?
        .execute(params![id, now])?;
    conn.prepare_cached("DELETE FROM customer_tags WHERE customer_id = ?1")?
        .execute([id])?;
    // Nobody works on a deleted customer: its open plans end with it.
    conn.prepare_cached(
        "UPDATE followups SET status = 'cancelled', note = coalesce(note, 'customer deleted'), closed_at = ?2
         WHERE customer_id = ?1 AND status = 'open'",
    )?
    .execute(params![id, now])?;
    Ok(n == 1)
}

/// The column a list is ordered by.
fn sort_column(s: Sort) -> &'static str {
    match s {
        Sort::Id => "c.id",
        Sort::Name => "c.name",
        Sort::Company => "c.company",
        Sort::City => "c.city",
        Sort::Created => "c.created_at",
        Sort::Updated => "c.updated_at",
        Sort::LastContact => "c.last_contact_at",
        Sort::Stage => "c.stage",
    }
}

/// Builds the WHERE clause of a filter. The pooled/owned conditions are written the way
/// the partial indexes are declared, so the planner can use them.
fn where_clause(f: &ListFilter) -> (String, Vec<SqlValue>) {
    let mut sql = String::from(" WHERE c.deleted_at IS NULL");
    let mut args: Vec<SqlValue> = Vec::new();
    let mut arg = |sql: &mut String, cond: &str, v: SqlValue| {
        args.push(v);
        sql.push_str(&cond.replace('?', &format!("?{}", args.len())));
    };
    match f.in_pool {
        Some(None) => sql.push_str(" AND c.owner_id IS NULL"),
        Some(Some(p)) => arg(
            &mut sql,
            " AND c.owner_id IS NULL AND c.pool_id = ?",
            p.into(),
        ),
        None => {}
    }
    if let Some(o) = f.owner_id {
        arg(
            &mut sql,
            " AND c.owner_id IS NOT NULL AND c.owner_id = ?",
            o.into(),
        );
    }
    if let Some(t) = f.team_id {
        arg(
            &mut sql,
            " AND c.owner_id IS NOT NULL AND c.owner_id IN (SELECT id FROM users WHERE team_id = ?)",
            t.into(),
        );
    }
    if let Some(s) = &f.stage {
        arg(&mut sql, " AND c.stage = ?", s.clone().into());
    }
    // Where the reader sees a row's contacts masked, a contact typed into its name,
    // company, city, source or tags is masked too (cli::view): filters match what the
    // reader sees, so a value that masking changes only matches rows seen whole.
    let seen_whole = unmasked(f).unwrap_or_else(|| "0".to_string());
    let only_seen_whole = |sql: &mut String, v: &str| {
        if crate::domain::mask::mask_in_text(v) != v {
            sql.push_str(&format!(" AND {seen_whole}"));
        }
    };
    if let Some(t) = &f.tag {
        arg(
            &mut sql,
            " AND c.id IN (SELECT customer_id FROM customer_tags WHERE tag = ?)",
            t.clone().into(),
        );
        only_seen_whole(&mut sql, t);
    }
    if let Some(c) = &f.city {
        arg(&mut sql, " AND c.city = ?", c.clone().into());
        only_seen_whole(&mut sql, c);
    }
    if let Some(s) = &f.source {
        arg(&mut sql, " AND c.source = ?", s.clone().into());
        only_seen_whole(&mut sql, s);
    }
    if let Some(l) = &f.level {
        arg(&mut sql, " AND c.level = ?", l.clone().into());
    }
    if let Some(i) = &f.industry {
        arg(&mut sql, " AND c.industry = ?", i.clone().into());
    }
    if let Some(q) = &f.search {
        let like = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let digits: String = q.chars().filter(|c| c.is_ascii_digit()).collect();
        // The name as the reader sees it must hold the text too (the mask runs only on
        // the rows whose raw name matches).
        arg(
            &mut sql,
            &format!(" AND ((c.name LIKE ? ESCAPE '\\' AND ({seen_whole} OR pool_mask_text(c.name) LIKE ? ESCAPE '\\'))"),
            like.clone().into(),
        );
        arg(
            &mut sql,
            &format!(" OR (c.company LIKE ? ESCAPE '\\' AND ({seen_whole} OR pool_mask_text(c.company) LIKE ? ESCAPE '\\'))"),
            like.clone().into(),
        );
        if let Some(cond) = unmasked(f) {
            sql.push_str(&format!(" OR ({cond} AND ("));
            arg(&mut sql, "c.phone LIKE ? ESCAPE '\\'", like.clone().into());
            arg(
                &mut sql,
                " OR c.email LIKE ? ESCAPE '\\'",
                like.clone().into(),
            );
            if digits.len() >= 4 {
                arg(
                    &mut sql,
                    " OR c.phone_key LIKE ?",
                    format!("%{digits}%").into(),
                );
            }
            // Contact people's phone and e-mail, by the same rule as the customer's own.
            arg(
                &mut sql,
                " OR c.id IN (SELECT customer_id FROM contacts WHERE phone LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\'",
                like.into(),
            );
            if digits.len() >= 4 {
                arg(
                    &mut sql,
                    " OR phone_key LIKE ?",
                    format!("%{digits}%").into(),
                );
            }
            sql.push_str(")))");
        }
        // A whole phone number or e-mail address matches for everyone.
        if let Ok(k) = crate::domain::normalize::phone_key(q) {
            arg(&mut sql, " OR c.phone_key = ?", k.into());
        }
        if let Ok(k) = crate::domain::normalize::email_key(q) {
            arg(&mut sql, " OR c.email_key = ?", k.into());
        }
        // A contact person's whole number or address, through the contacts' key indexes.
        if let Ok(k) = crate::domain::normalize::phone_key(q) {
            arg(
                &mut sql,
                " OR c.id IN (SELECT customer_id FROM contacts WHERE phone_key = ?)",
                k.into(),
            );
        }
        if let Ok(k) = crate::domain::normalize::email_key(q) {
            arg(
                &mut sql,
                " OR c.id IN (SELECT customer_id FROM contacts WHERE email_key = ?)",
                k.into(),
            );
        }
        sql.push(')');
    }
    if let Some(t) = f.contact_before {
        arg(
            &mut sql,
            " AND coalesce(c.last_contact_at, c.claimed_at, c.created_at) < ?",
            t.into(),
        );
    }
    if let Some(t) = f.visible_to_team {
        arg(
            &mut sql,
            " AND (c.owner_id IS NOT NULL OR c.pool_id = 1 OR c.pool_id IN (SELECT pool_id FROM pool_teams WHERE team_id = ?))",
            t.into(),
        );
    }
    let unmasked = unmasked(f);
    for w in &f.conditions {
        custom_condition(&mut sql, &mut args, w, unmasked.as_deref());
    }
    (sql, args)
}

/// The rows whose contacts the reader sees unmasked, as SQL (None: no row).
fn unmasked(f: &ListFilter) -> Option<String> {
    use crate::domain::roles::ContactScope;
    match f.contact_scope {
        ContactScope::All => Some("1".to_string()),
        ContactScope::PooledAndTeam(t) => Some(format!(
            "(c.owner_id IS NULL OR c.owner_id IN (SELECT id FROM users WHERE team_id = {t}))"
        )),
        ContactScope::Owner(u) => Some(format!("c.owner_id = {u}")),
        ContactScope::Nothing => None,
    }
}

/// A `--where` condition on the custom JSON column (a scan of the rows the other
/// filters leave). `!=` also matches customers without the field. Where the reader sees
/// a row's contacts masked (`unmasked` is the SQL of the rows they see whole), it
/// compares the value as shown to them (phones and e-mails in it masked), and a number
/// that masking would change as absent, as the server's masked view does.
fn custom_condition(
    sql: &mut String,
    args: &mut Vec<SqlValue>,
    w: &Condition,
    unmasked: Option<&str>,
) {
    use crate::domain::fields::Op;
    args.push(format!("$.\"{}\"", w.key).into());
    let raw = format!("json_extract(c.custom, ?{})", args.len());
    let masked = if w.numeric {
        format!("(CASE WHEN pool_mask_text({raw}) = {raw} THEN {raw} END)")
    } else {
        format!("pool_mask_text({raw})")
    };
    let v = match unmasked {
        Some("1") => raw,
        Some(cond) => format!("(CASE WHEN {cond} THEN {raw} ELSE {masked} END)"),
        None => masked,
    };
    let value: SqlValue = if w.numeric {
        w.value.parse::<f64>().unwrap_or(0.0).into()
    } else {
        w.value.clone().into()
    };
    args.push(value);
    let p = format!("?{}", args.len());
    let lhs = if w.numeric {
        format!("CAST({v} AS REAL)")
    } else {
        v.clone()
    };
    let cond = match w.op {
        Op::Eq => format!("{v} IS NOT NULL AND {lhs} = {p}"),
        Op::Ne => format!("({v} IS NULL OR {lhs} <> {p})"),
        Op::Gt => format!("{v} IS NOT NULL AND {lhs} > {p}"),
        Op::Ge => format!("{v} IS NOT NULL AND {lhs} >= {p}"),
        Op::Lt => format!("{v} IS NOT NULL AND {lhs} < {p}"),
        Op::Le => format!("{v} IS NOT NULL AND {lhs} <= {p}"),
        Op::Contains => format!("instr(lower({v}), lower({p})) > 0"),
    };
    sql.push_str(&format!(" AND ({cond})"));
}

pub fn list(conn: &Connection, f: &ListFilter) -> Result<Vec<Customer>> {
    let (clause, args) = where_clause(f);
    let mut sql = format!("{SELECT}{clause} ORDER BY {}", sort_column(f.sort));
    if f.desc {
        sql.push_str(" DESC");
    }
    if f.sort != Sort::Id {
        sql.push_str(", c.id");
    }
    if let Some(l) = f.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many customers match (export records it before the first row leaves).
pub fn count(conn: &Connection, f: &ListFilter) -> Result<i64> {
    let (clause, args) = where_clause(f);
    let sql = format!("SELECT count(*) FROM customers c{clause}");
    Ok(conn.query_row(&sql, params_from_iter(args), |r| r.get(0))?)
}

/// Streams every matching customer to `each` without collecting them (export).
pub fn for_each(
    conn: &Connection,
    f: &ListFilter,
    mut each: impl FnMut(Customer) -> Result<()>,
) -> Result<()> {
    let (clause, args) = where_clause(f);
    let sql = format!("{SELECT}{clause} ORDER BY c.id");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(args))?;
    while let Some(r) = rows.next()? {
        each(from_row(r)?)?;
    }
    Ok(())
}

/// The query plan of a filter, for tests and `--explain`-style checks.
pub fn explain(conn: &Connection, f: &ListFilter) -> Result<Vec<String>> {
    let (clause, args) = where_clause(f);
    let mut sql = format!(
        "EXPLAIN QUERY PLAN {SELECT}{clause} ORDER BY {}",
        sort_column(f.sort)
    );
    if let Some(l) = f.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(3))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn set_custom(conn: &Connection, id: i64, custom: &str) -> Result<()> {
    conn.prepare_cached("UPDATE customers SET custom = ?2 WHERE id = ?1")?
        .execute(params![id, custom])?;
    Ok(())
}

/// Erases a customer's personal data (a deletion request): personal fields, match keys,
/// custom fields, tags, and the free text of its interactions and follow-ups. The row
/// stays as a tombstone so foreign keys and the audit chain stay valid. With
/// `secure_delete` on (see `store::configure`) the old bytes are zeroed in the file.
pub fn forget(conn: &Connection, id: i64, now: i64) -> Result<ForgetCounts> {
    conn.prepare_cached(
        "UPDATE customers SET name = NULL, phone = NULL, email = NULL, address = NULL, notes = NULL,
            custom = NULL, tags = '', phone_key = NULL, email_key = NULL, name_key = NULL,
            owner_id = NULL, locked = 0, forgotten_at = ?2, deleted_at = coalesce(deleted_at, ?2),
            updated_at = ?2
         WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    conn.prepare_cached("DELETE FROM customer_tags WHERE customer_id = ?1")?
        .execute([id])?;
    let interactions = conn
        .prepare_cached("UPDATE interactions SET summary = '(erased)' WHERE customer_id = ?1")?
        .execute([id])?;
    let followups = conn
        .prepare_cached(
            "UPDATE followups SET action = '(erased)', note = NULL,
                status = CASE WHEN status = 'open' THEN 'cancelled' ELSE status END,
                closed_at = coalesce(closed_at, ?2)
             WHERE customer_id = ?1",
        )?
        .execute(params![id, now])?;
    let reasons = conn
        .prepare_cached("UPDATE ownership_events SET reason = NULL WHERE customer_id = ?1")?
        .execute([id])?;
    // Merge before-images may hold copies of the erased values.
    let merges = conn
        .prepare_cached(
            "UPDATE merges SET before = '{\"erased\":true}'
             WHERE survivor_id = ?1 OR EXISTS (SELECT 1 FROM json_each(merges.merged_ids) WHERE value = ?1)",
        )?
        .execute([id])?;
    // ANALYZE keeps sample index keys (sqlite_stat4), which may be this customer's
    // phone or e-mail; drop the samples (row counts in sqlite_stat1 hold no values).
    let has_stat4: bool = conn
        .prepare_cached("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'")?
        .query_row([], |r| r.get::<_, i64>(0))?
        > 0;
    if has_stat4 {
        conn.execute("DELETE FROM sqlite_stat4", [])?;
    }
    Ok(ForgetCounts {
        interactions,
        followups,
        owner_events: reasons,
        merges,
    })
}

/// A customer's stored phone and e-mail match keys.
pub fn contact_keys(conn: &Connection, id: i64) -> Result<(Option<String>, Option<String>)> {
    Ok(conn
        .prepare_cached("SELECT phone_key, email_key FROM customers WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Live customers count (cheap: uses the stage index).
pub fn live_count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM customers WHERE deleted_at IS NULL",
        [],
        |r| r.get(0),
    )?)
}

// The bulk-load machinery (import) lives in `bulk`; export reads the field names too.
