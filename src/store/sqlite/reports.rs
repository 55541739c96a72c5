//! The aggregates behind `pool report`: counted in SQL, on indexes, never by loading
//! customers into Rust (except the recycle forecast, which needs each pool's rules).
use rusqlite::{params, Connection};

use crate::error::Result;
use crate::store::ops::reports::{
    Access, Activity, Count, DealScope, FieldQuality, FollowupLoad, Funnel, OwnerStats,
    QualityCounts, RevenueDay, Worst,
};

fn collect<T>(rows: impl Iterator<Item = rusqlite::Result<T>>) -> Result<Vec<T>> {
    Ok(rows.collect::<rusqlite::Result<Vec<T>>>()?)
}

/// Pooled customers per pool (every pool, also empty ones). Counted on the pooled
/// partial index, named explicitly: with ANALYZE statistics, newer SQLite planners
/// prefer a skip-scan of the city index that reads every row.
pub fn pooled_per_pool(conn: &Connection) -> Result<Vec<Count>> {
    let mut counts = std::collections::HashMap::new();
    let mut s = conn.prepare_cached(
        "SELECT pool_id, count(*) FROM customers INDEXED BY customers_pooled
         WHERE owner_id IS NULL AND deleted_at IS NULL GROUP BY pool_id",
    )?;
    for r in s.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
        let (p, n) = r?;
        counts.insert(p, n);
    }
    let mut s = conn.prepare_cached("SELECT id, name FROM pools ORDER BY id")?;
    let rows = s.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for r in rows {
        let (id, name) = r?;
        out.push(Count {
            key: name,
            count: counts.get(&id).copied().unwrap_or(0),
        });
    }
    Ok(out)
}

pub fn owned_total(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM customers WHERE owner_id IS NOT NULL AND deleted_at IS NULL",
        )?
        .query_row([], |r| r.get(0))?)
}

/// Live customers per stage, in lifecycle order.
pub fn by_stage(conn: &Connection) -> Result<Vec<Count>> {
    let mut s = conn.prepare_cached(
        "SELECT s.stage, coalesce(n.c, 0) FROM
            (SELECT 'lead' AS stage, 1 AS o UNION ALL SELECT 'customer', 2 UNION ALL SELECT 'loyal', 3 UNION ALL SELECT 'churned', 4) s
         LEFT JOIN (SELECT stage, count(*) AS c FROM customers WHERE deleted_at IS NULL GROUP BY stage) n
           ON n.stage = s.stage
         ORDER BY s.o",
    )?;
    let rows = collect(s.query_map([], |r| {
        Ok(Count {
            key: r.get(0)?,
            count: r.get(1)?,
        })
    })?);
    rows
}

/// Owner changes of each kind in [from, to).
pub fn events_between(conn: &Connection, from: i64, to: i64) -> Result<Vec<Count>> {
    let mut s = conn.prepare_cached(
        "SELECT event, count(*) FROM ownership_events WHERE at >= ?1 AND at < ?2 GROUP BY event ORDER BY event",
    )?;
    let rows = collect(s.query_map(params![from, to], |r| {
        Ok(Count {
            key: r.get(0)?,
            count: r.get(1)?,
        })
    })?);
    rows
}

/// Per active owner (members and managers, optionally of one team).
pub fn owner_stats(
    conn: &Connection,
    team: Option<i64>,
    now: i64,
    today: &str,
) -> Result<Vec<OwnerStats>> {
    let mut s = conn.prepare_cached(
        "SELECT u.id, u.login, t.id, t.name,
            (SELECT count(*) FROM customers c WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL AND c.owner_id = u.id),
            (SELECT count(*) FROM customers c WHERE c.locked = 1 AND c.deleted_at IS NULL AND c.owner_id = u.id),
            (SELECT count(*) FROM interactions i WHERE i.user_id = u.id AND i.at >= ?2),
            (SELECT count(*) FROM followups f WHERE f.assignee_id = u.id AND f.status = 'open' AND f.due < ?3),
            coalesce(d.n, 0)
         FROM users u JOIN teams t ON t.id = u.team_id
         LEFT JOIN (SELECT user_id, count(*) AS n FROM deals INDEXED BY deals_user_currency
                     WHERE voided_at IS NULL GROUP BY user_id) d ON d.user_id = u.id
         WHERE u.active = 1 AND u.role IN ('member', 'manager', 'admin') AND (?1 IS NULL OR u.team_id = ?1)
         ORDER BY t.name, u.login",
    )?;
    let mut totals = deal_totals(conn)?;
    let rows = collect(s.query_map(params![team, now - 30 * 86_400, today], |r| {
        Ok(OwnerStats {
            user_id: r.get(0)?,
            user: r.get(1)?,
            team_id: r.get(2)?,
            team: r.get(3)?,
            owned: r.get(4)?,
            locked: r.get(5)?,
            contacts_30d: r.get(6)?,
            overdue_followups: r.get(7)?,
            deals: r.get(8)?,
            deal_totals: Default::default(),
        })
    })?);
    let mut rows = rows?;
    for row in &mut rows {
        row.deal_totals = totals.remove(&row.user_id).unwrap_or_default();
    }
    Ok(rows)
}

/// Live deal amounts per user and currency, exact whatever their number: SQLite sums the
/// high and low parts of each amount separately (neither sum can overflow an i64 for
/// amounts up to `MAX_AMOUNT_MINOR`) and they are joined in an i128.
pub fn deal_totals(
    conn: &Connection,
) -> Result<std::collections::HashMap<i64, crate::domain::money::Totals>> {
    const SPLIT: i64 = 1_000_000_000;
    let mut s = conn.prepare_cached(
        "SELECT user_id, currency, sum(amount_minor / ?1), sum(amount_minor % ?1)
           FROM deals INDEXED BY deals_user_currency
          WHERE voided_at IS NULL AND user_id IS NOT NULL
          GROUP BY user_id, currency",
    )?;
    let mut out: std::collections::HashMap<i64, crate::domain::money::Totals> =
        std::collections::HashMap::new();
    let mut rows = s.query([SPLIT])?;
    while let Some(r) = rows.next()? {
        let high: i64 = r.get(2)?;
        let low: i64 = r.get(3)?;
        let sum = i128::from(high) * i128::from(SPLIT) + i128::from(low);
        out.entry(r.get(0)?).or_default().insert(r.get(1)?, sum);
    }
    Ok(out)
}

/// (owner team, previous owner team, customers): customers a team now owns that a
/// member of another team released or lost.
pub fn cross_team(conn: &Connection) -> Result<Vec<(String, String, i64)>> {
    let mut s = conn.prepare_cached(
        "SELECT tn.name, tp.name, sum(n) FROM (
            SELECT owner_id, previous_owner_id, count(*) AS n FROM customers INDEXED BY customers_previous_owner
             WHERE previous_owner_id IS NOT NULL AND owner_id IS NOT NULL AND deleted_at IS NULL
             GROUP BY owner_id, previous_owner_id) c
           JOIN users o ON o.id = c.owner_id JOIN teams tn ON tn.id = o.team_id
           JOIN users p ON p.id = c.previous_owner_id JOIN teams tp ON tp.id = p.team_id
          WHERE o.team_id <> p.team_id
          GROUP BY tn.name, tp.name ORDER BY 3 DESC",
    )?;
    let rows = collect(s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?);
    rows
}

pub fn funnel(conn: &Connection) -> Result<Funnel> {
    let mut f = Funnel::default();
    for c in by_stage(conn)? {
        match c.key.as_str() {
            "lead" => f.lead = c.count,
            "customer" => f.customer = c.count,
            "loyal" => f.loyal = c.count,
            _ => f.churned = c.count,
        }
    }
    f.total = f.lead + f.customer + f.loyal + f.churned;
    // Both from the won-customers index (migration 5), ordered by days to the first deal.
    f.won = conn.query_row(
        "SELECT count(*) FROM customers INDEXED BY customers_won WHERE deleted_at IS NULL AND won_at IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    if f.won > 0 {
        f.median_days_to_first_deal = conn.query_row(
            "SELECT (won_at - created_at) / 86400.0 FROM customers INDEXED BY customers_won
             WHERE deleted_at IS NULL AND won_at IS NOT NULL
             ORDER BY won_at - created_at LIMIT 1 OFFSET ?1",
            [f.won / 2],
            |r| r.get(0),
        )?;
    }
    Ok(f)
}

pub fn followup_load(
    conn: &Connection,
    team: Option<i64>,
    today: &str,
    week: &str,
) -> Result<Vec<FollowupLoad>> {
    let mut s = conn.prepare_cached(
        "SELECT u.login,
            sum(f.due < ?2), sum(f.due >= ?2 AND f.due <= ?2 || 'T'), sum(f.due > ?2 || 'T' AND f.due <= ?3 || 'T')
         FROM followups f JOIN users u ON u.id = f.assignee_id
         WHERE f.status = 'open' AND f.due <= ?3 || 'T' AND (?1 IS NULL OR u.team_id = ?1)
         GROUP BY u.login ORDER BY 2 DESC, u.login",
    )?;
    let rows = collect(s.query_map(params![team, today, week], |r| {
        Ok(FollowupLoad {
            assignee: r.get(0)?,
            overdue: r.get(1)?,
            today: r.get(2)?,
            next_7_days: r.get(3)?,
        })
    })?);
    rows
}

/// Per period bucket (`fmt` is a strftime format such as '%Y-%m-%d'), in [from, to);
/// days are local days `offset` seconds ahead of UTC.
pub fn activity(
    conn: &Connection,
    fmt: &str,
    from: i64,
    to: i64,
    team: Option<i64>,
    offset: i64,
) -> Result<Vec<Activity>> {
    // Counted per day (integer arithmetic on covering indexes), then the few day rows
    // are bucketed into periods: strftime runs per day, not per event.
    let mut s = conn.prepare_cached(
        "SELECT strftime(?1, day * 86400, 'unixepoch') AS period,
                sum(claims), sum(releases), sum(recycles), sum(interactions), sum(deals) FROM (
            SELECT (e.at + ?5) / 86400 AS day, sum(e.event IN ('claim', 'assign')) AS claims,
                   sum(e.event = 'release') AS releases, sum(e.event = 'recycle') AS recycles,
                   0 AS interactions, 0 AS deals
              FROM ownership_events e INDEXED BY ownership_at
             WHERE e.at >= ?2 AND e.at < ?3
               AND (?4 IS NULL OR coalesce(e.to_user, e.from_user) IN (SELECT id FROM users WHERE team_id = ?4))
             GROUP BY day
            UNION ALL
            SELECT (i.at + ?5) / 86400, 0, 0, 0, count(*), 0 FROM interactions i INDEXED BY interactions_at
             WHERE i.at >= ?2 AND i.at < ?3 AND (?4 IS NULL OR i.user_id IN (SELECT id FROM users WHERE team_id = ?4))
             GROUP BY 1
            UNION ALL
            SELECT (d.created_at + ?5) / 86400, 0, 0, 0, 0, count(*) FROM deals d INDEXED BY deals_created
             WHERE d.created_at >= ?2 AND d.created_at < ?3 AND d.voided_at IS NULL
               AND (?4 IS NULL OR d.user_id IN (SELECT id FROM users WHERE team_id = ?4))
             GROUP BY 1
         ) GROUP BY period ORDER BY period",
    )?;
    let rows = collect(s.query_map(params![fmt, from, to, team, offset], |r| {
        Ok(Activity {
            period: r.get(0)?,
            claims: r.get(1)?,
            releases: r.get(2)?,
            recycles: r.get(3)?,
            interactions: r.get(4)?,
            deals: r.get(5)?,
        })
    })?);
    rows
}

/// The expression of the `customers_missing` index (migration 6): one bit per field a
/// customer misses. Queries must spell it exactly so SQLite reads it from the index.
const MISSING_MASK: &str =
    "(name IS NULL) + 2 * (company IS NULL) + 4 * (phone IS NULL) + 8 * (phone_key IS NULL)
        + 16 * (email IS NULL) + 32 * (email_key IS NULL) + 64 * (city IS NULL)
        + 128 * (address IS NULL) + 256 * (source IS NULL)";

const NAME: i64 = 1;
const COMPANY: i64 = 2;
const PHONE: i64 = 4;
const PHONE_KEY: i64 = 8;
const EMAIL: i64 = 16;
const EMAIL_KEY: i64 = 32;
const CITY: i64 = 64;
const ADDRESS: i64 = 128;
const SOURCE: i64 = 256;

/// Live customers, and per field how many are filled and how many of those are valid
/// (a phone or e-mail is valid when it produced a match key): counted per missing-field
/// mask on its index, then added up here (at most 512 masks).
pub fn field_quality(conn: &Connection) -> Result<QualityCounts> {
    let mut s = conn.prepare_cached(&format!(
        "SELECT {MISSING_MASK} AS mask, count(*) FROM customers INDEXED BY customers_missing
          WHERE deleted_at IS NULL GROUP BY mask"
    ))?;
    let masks = collect(s.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?)?;
    let count = |pred: &dyn Fn(i64) -> bool| -> i64 {
        masks.iter().filter(|(m, _)| pred(*m)).map(|(_, n)| n).sum()
    };
    let has = |bit: i64| move |m: i64| m & bit == 0;
    let q = |field: &str, filled: i64, valid: i64| FieldQuality {
        field: field.into(),
        filled,
        valid,
    };
    Ok(QualityCounts {
        total: count(&|_| true),
        named: count(&|m| m & NAME == 0 || m & COMPANY == 0),
        reachable: count(&|m| m & PHONE_KEY == 0 || m & EMAIL_KEY == 0),
        fields: vec![
            q("name", count(&has(NAME)), count(&has(NAME))),
            q("company", count(&has(COMPANY)), count(&has(COMPANY))),
            q("phone", count(&has(PHONE)), count(&has(PHONE_KEY))),
            q("email", count(&has(EMAIL)), count(&has(EMAIL_KEY))),
            q("city", count(&has(CITY)), count(&has(CITY))),
            q("address", count(&has(ADDRESS)), count(&has(ADDRESS))),
            q("source", count(&has(SOURCE)), count(&has(SOURCE))),
        ],
        masks,
    })
}

/// Live customers that share a phone or e-mail key with another live customer: those
/// in a duplicated phone group, plus those in a duplicated e-mail group whose phone is
/// not duplicated — from the two key indexes alone.
pub fn duplicated(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "WITH dup_phone AS MATERIALIZED (
            SELECT phone_key, count(*) AS n FROM customers INDEXED BY customers_phone_key
             WHERE phone_key IS NOT NULL AND deleted_at IS NULL
             GROUP BY phone_key HAVING count(*) > 1)
         SELECT coalesce((SELECT sum(n) FROM dup_phone), 0) + (
            SELECT count(*) FROM customers INDEXED BY customers_email_key
             WHERE email_key IS NOT NULL AND deleted_at IS NULL
               AND email_key IN (
                  SELECT email_key FROM customers INDEXED BY customers_email_key
                   WHERE email_key IS NOT NULL AND deleted_at IS NULL
                   GROUP BY email_key HAVING count(*) > 1)
               AND (phone_key IS NULL OR phone_key NOT IN (SELECT phone_key FROM dup_phone)))",
        [],
        |r| r.get(0),
    )?)
}

/// How bad a missing-field mask is: one point per missing field (phone and e-mail
/// counted by their validity), two more when the customer cannot be reached at all.
fn badness(m: i64) -> i64 {
    [NAME, COMPANY, PHONE_KEY, EMAIL_KEY, CITY, ADDRESS, SOURCE]
        .iter()
        .filter(|b| m & **b != 0)
        .count() as i64
        + 2 * i64::from(m & PHONE_KEY != 0 && m & EMAIL_KEY != 0)
}

fn missing_words(m: i64) -> String {
    [
        (NAME, "name"),
        (COMPANY, "company"),
        (PHONE_KEY, "phone"),
        (EMAIL_KEY, "email"),
        (CITY, "city"),
        (ADDRESS, "address"),
        (SOURCE, "source"),
    ]
    .iter()
    .filter(|(b, _)| m & b != 0)
    .map(|(_, w)| *w)
    .collect::<Vec<_>>()
    .join(" ")
}

/// The records missing the most (worst first, then by id), to fix first: the worst
/// masks from `field_quality`, their customers by id on the mask index.
pub fn worst_records(conn: &Connection, masks: &[(i64, i64)], limit: i64) -> Result<Vec<Worst>> {
    let mut levels: Vec<(i64, Vec<i64>)> = Vec::new();
    for (m, _) in masks {
        let b = badness(*m);
        match levels.iter_mut().find(|(l, _)| *l == b) {
            Some((_, ms)) => ms.push(*m),
            None => levels.push((b, vec![*m])),
        }
    }
    levels.sort_by_key(|(b, _)| -b);
    let mut s = conn.prepare_cached(&format!(
        "SELECT id, name, company FROM customers INDEXED BY customers_missing
          WHERE {MISSING_MASK} = ?1 AND deleted_at IS NULL ORDER BY id LIMIT ?2"
    ))?;
    let mut out = Vec::new();
    for (_, ms) in levels {
        let want = limit - out.len() as i64;
        if want <= 0 {
            break;
        }
        let mut level = Vec::new();
        for m in ms {
            level.extend(collect(s.query_map(params![m, want], |r| {
                Ok(Worst {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    company: r.get(2)?,
                    missing: missing_words(m),
                })
            })?)?);
        }
        level.sort_by_key(|w| w.id);
        level.truncate(want as usize);
        out.extend(level);
    }
    Ok(out)
}

/// Per user: unmasked reads and exports in [from, to), and their usual daily volume in
/// the 30 days before `from`. Times are the ones the rows were written for (`sim_at`,
/// which only an admin's OS account can set, else the real time), so the report and its
/// window follow the same clock.
pub fn access(conn: &Connection, from: i64, to: i64) -> Result<Vec<Access>> {
    let mut s = conn.prepare_cached(
        "SELECT actor,
            sum(action = 'view_unmasked' AND coalesce(sim_at, at) >= ?1),
            sum(CASE WHEN action = 'view_unmasked' AND coalesce(sim_at, at) >= ?1 THEN coalesce(json_extract(after, '$.rows'), 0) ELSE 0 END),
            sum(action = 'export' AND coalesce(sim_at, at) >= ?1),
            sum(CASE WHEN action = 'export' AND coalesce(sim_at, at) >= ?1 THEN coalesce(json_extract(after, '$.rows'), 0) ELSE 0 END),
            sum(CASE WHEN coalesce(sim_at, at) < ?1 THEN coalesce(json_extract(after, '$.rows'), 0) ELSE 0 END)
         FROM audit_log
         WHERE action IN ('view_unmasked', 'export') AND coalesce(sim_at, at) >= ?1 - 30 * 86400 AND coalesce(sim_at, at) < ?2
         GROUP BY actor ORDER BY 3 + 5 DESC, actor",
    )?;
    let rows = collect(s.query_map(params![from, to], |r| {
        let before: i64 = r.get(5)?;
        Ok(Access {
            user: r.get(0)?,
            unmasked_views: r.get(1)?,
            unmasked_rows: r.get(2)?,
            exports: r.get(3)?,
            exported_rows: r.get(4)?,
            usual_rows_per_day: (before as f64 / 30.0 * 10.0).round() / 10.0,
            key_lookups: None,
            flagged: false,
        })
    })?);
    rows
}

/// Live deals per date and currency in `from..=to`, read from `deals_revenue` alone;
/// summed exactly in two parts as `deal_totals` does.
pub fn revenue(
    conn: &Connection,
    from: &str,
    to: &str,
    scope: DealScope,
) -> Result<Vec<RevenueDay>> {
    const SPLIT: i64 = 1_000_000_000;
    let (cond, who) = match scope {
        DealScope::All => ("", None),
        DealScope::Team(t) => (
            " AND user_id IN (SELECT id FROM users WHERE team_id = ?4)",
            Some(t),
        ),
        DealScope::User(u) => (" AND user_id = ?4", Some(u)),
    };
    let sql = format!(
        "SELECT on_date, currency, count(*), sum(amount_minor / ?3), sum(amount_minor % ?3)
           FROM deals INDEXED BY deals_revenue
          WHERE voided_at IS NULL AND on_date >= ?1 AND on_date <= ?2{cond}
          GROUP BY on_date, currency ORDER BY on_date, currency"
    );
    let mut s = conn.prepare_cached(&sql)?;
    let map = |r: &rusqlite::Row| {
        let high: i64 = r.get(3)?;
        let low: i64 = r.get(4)?;
        Ok(RevenueDay {
            on: r.get(0)?,
            currency: r.get(1)?,
            deals: r.get(2)?,
            amount_minor: i128::from(high) * i128::from(SPLIT) + i128::from(low),
        })
    };
    let rows = match who {
        Some(w) => s.query_map(params![from, to, SPLIT, w], map)?,
        None => s.query_map(params![from, to, SPLIT], map)?,
    };
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Row = (
        Option<u8>,
        Option<u8>,
        Option<u8>,
        bool,
        Option<u8>,
        bool,
        Option<u8>,
        Option<u8>,
        Option<u8>,
        bool,
    );

    fn row() -> impl Strategy<Value = Row> {
        let v = || prop::option::of(0..4u8);
        (
            v(),
            v(),
            v(),
            any::<bool>(),
            v(),
            any::<bool>(),
            v(),
            v(),
            v(),
            prop::bool::weighted(0.1),
        )
    }

    fn db(rows: &[Row]) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::to_latest(&mut conn).unwrap();
        for (
            name,
            company,
            phone,
            phone_valid,
            email,
            email_valid,
            city,
            address,
            source,
            deleted,
        ) in rows
        {
            let t = |v: &Option<u8>, p: &str| v.map(|v| format!("{p}{v}"));
            conn.execute(
                "INSERT INTO customers (name, company, phone, phone_key, email, email_key, city, address,
                    source, deleted_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 0)",
                params![
                    t(name, "n"),
                    t(company, "c"),
                    t(phone, "p"),
                    t(phone, "p").filter(|_| *phone_valid),
                    t(email, "e"),
                    t(email, "e").filter(|_| *email_valid),
                    t(city, "ci"),
                    t(address, "a"),
                    t(source, "s"),
                    deleted.then_some(1)
                ],
            )
            .unwrap();
        }
        conn
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The index-driven quality numbers equal plain counting over the rows.
        #[test]
        fn quality_from_indexes_equals_counting_rows(rows in prop::collection::vec(row(), 0..40)) {
            let conn = db(&rows);
            let q = field_quality(&conn).unwrap();
            let plain: Vec<i64> = conn.query_row(
                "SELECT count(*), count(name), count(company), count(phone), count(phone_key), count(email),
                        count(email_key), count(city), count(address), count(source),
                        coalesce(sum(name IS NOT NULL OR company IS NOT NULL), 0),
                        coalesce(sum(phone_key IS NOT NULL OR email_key IS NOT NULL), 0)
                 FROM customers WHERE deleted_at IS NULL", [],
                |r| (0..12).map(|i| r.get(i)).collect(),
            ).unwrap();
            let f = |name: &str| q.fields.iter().find(|f| f.field == name).unwrap().clone();
            prop_assert_eq!(q.total, plain[0]);
            prop_assert_eq!((f("name").filled, f("company").filled), (plain[1], plain[2]));
            prop_assert_eq!((f("phone").filled, f("phone").valid), (plain[3], plain[4]));
            prop_assert_eq!((f("email").filled, f("email").valid), (plain[5], plain[6]));
            prop_assert_eq!((f("city").filled, f("address").filled, f("source").filled), (plain[7], plain[8], plain[9]));
            prop_assert_eq!((q.named, q.reachable), (plain[10], plain[11]));

            let dup: i64 = conn.query_row(
                "SELECT count(*) FROM customers c WHERE deleted_at IS NULL AND EXISTS (
                    SELECT 1 FROM customers o WHERE o.id <> c.id AND o.deleted_at IS NULL
                      AND (o.phone_key = c.phone_key OR o.email_key = c.email_key))", [],
                |r| r.get(0),
            ).unwrap();
            prop_assert_eq!(duplicated(&conn).unwrap(), dup);

            let worst: Vec<(i64, String)> = worst_records(&conn, &q.masks, 10)
                .unwrap().into_iter().map(|w| (w.id, w.missing)).collect();
            let mut s = conn.prepare(
                "SELECT id, trim((CASE WHEN name IS NULL THEN 'name ' ELSE '' END) ||
                     (CASE WHEN company IS NULL THEN 'company ' ELSE '' END) ||
                     (CASE WHEN phone_key IS NULL THEN 'phone ' ELSE '' END) ||
                     (CASE WHEN email_key IS NULL THEN 'email ' ELSE '' END) ||
                     (CASE WHEN city IS NULL THEN 'city ' ELSE '' END) ||
                     (CASE WHEN address IS NULL THEN 'address ' ELSE '' END) ||
                     (CASE WHEN source IS NULL THEN 'source' ELSE '' END))
                 FROM customers WHERE deleted_at IS NULL
                 ORDER BY (name IS NULL) + (company IS NULL) + 2 * (phone_key IS NULL AND email_key IS NULL)
                      + (phone_key IS NULL) + (email_key IS NULL) + (city IS NULL) + (address IS NULL)
                      + (source IS NULL) DESC, id LIMIT 10").unwrap();
            let plain: Vec<(i64, String)> = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap().map(|r| r.unwrap()).collect();
            prop_assert_eq!(worst, plain);
        }
    }
}
