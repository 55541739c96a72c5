//! Recycling: owned customers that are, or soon will be, past their pool's rules.
use rusqlite::{params, Connection, OptionalExtension};

use super::work::watched;
use crate::domain::rules::{OwnedFacts, Rules};
use crate::error::Result;
use crate::store::ops::recycle::{Due, OwnedRow};
use crate::store::ops::work::Watched;

fn owned_row(r: &rusqlite::Row) -> rusqlite::Result<OwnedRow> {
    Ok(OwnedRow {
        id: r.get(0)?,
        owner_id: r.get(1)?,
        pool_id: r.get(2)?,
        facts: owned_facts(r, 3)?,
    })
}

/// The recycling facts from seven consecutive columns starting at `at`: stage, tags
/// (comma-separated), locked, claimed, last contact, won, level.
pub(super) fn owned_facts(r: &rusqlite::Row, at: usize) -> rusqlite::Result<OwnedFacts> {
    let tags: String = r.get(at + 1)?;
    Ok(OwnedFacts {
        stage: r.get(at)?,
        tags: tags
            .split(',')
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        locked: r.get(at + 2)?,
        claimed_at: r.get::<_, Option<i64>>(at + 3)?.unwrap_or(0),
        last_contact_at: r.get(at + 4)?,
        won_at: r.get(at + 5)?,
        level: r.get(at + 6)?,
    })
}

const OWNED_SELECT: &str =
    "SELECT id, owner_id, pool_id, stage, tags, locked, claimed_at, last_contact_at, won_at, level
     FROM customers";

/// Owned, unlocked customers of a pool whose claim is older than `claimed_before`
/// (a cheap pre-filter: nothing claimed more recently can be due yet), optionally only
/// those whose owner is in `team`.
pub fn recycle_candidates(
    conn: &Connection,
    pool_id: i64,
    claimed_before: i64,
    team: Option<i64>,
) -> Result<Vec<OwnedRow>> {
    let mut s = conn.prepare_cached(&format!(
        "{OWNED_SELECT} WHERE owner_id IS NOT NULL AND deleted_at IS NULL AND pool_id = ?1
            AND locked = 0 AND claimed_at <= ?2
            AND (?3 IS NULL OR owner_id IN (SELECT id FROM users WHERE team_id = ?3)) ORDER BY id"
    ))?;
    let rows = s.query_map(params![pool_id, claimed_before, team], owned_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn owned_row_by_id(conn: &Connection, id: i64) -> Result<Option<OwnedRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "{OWNED_SELECT} WHERE id = ?1 AND owner_id IS NOT NULL AND deleted_at IS NULL"
        ))?
        .query_row([id], owned_row)
        .optional()?)
}

/// Owned customers of a pool whose recycle time is at or before `until`, computed in
/// SQL. Exact for a pool without per-stage/tag overrides (callers use the Rust rules
/// for pools with overrides).
pub fn due_by(
    conn: &Connection,
    pool_id: i64,
    rules: &Rules,
    owner: Option<i64>,
    team: Option<i64>,
    until: i64,
) -> Result<Vec<Due>> {
    let nc = rules.recycle_no_contact_days;
    let nd = rules.recycle_no_deal_days;
    if nc <= 0 && nd <= 0 {
        return Ok(Vec::new());
    }
    let exempt = serde_json::to_string(&rules.exempt_stages)?;
    let mut s = conn.prepare_cached(
        "SELECT id, owner_id, login,
                CASE WHEN due_nd IS NOT NULL AND (due_nc IS NULL OR due_nd < due_nc) THEN due_nd ELSE due_nc END,
                CASE WHEN due_nd IS NOT NULL AND (due_nc IS NULL OR due_nd < due_nc) THEN 'no_deal' ELSE 'no_contact' END
         FROM (
            SELECT c.id, c.owner_id, u.login,
                   CASE WHEN ?2 > 0 THEN max(coalesce(c.last_contact_at, c.claimed_at), c.claimed_at) + ?2 * 86400 END AS due_nc,
                   CASE WHEN ?3 > 0 AND c.won_at IS NULL THEN c.claimed_at + ?3 * 86400 END AS due_nd
              FROM customers c JOIN users u ON u.id = c.owner_id
             WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL AND c.pool_id = ?1 AND c.locked = 0
               AND c.stage NOT IN (SELECT value FROM json_each(?4))
               AND (?5 IS NULL OR c.owner_id = ?5) AND (?6 IS NULL OR u.team_id = ?6)
         )
         WHERE coalesce(min(due_nc, due_nd), due_nc, due_nd) <= ?7
         ORDER BY id",
    )?;
    let rows = s.query_map(params![pool_id, nc, nd, exempt, owner, team, until], |r| {
        let reason: String = r.get(4)?;
        Ok(Due {
            id: r.get(0)?,
            owner_id: r.get(1)?,
            owner: r.get(2)?,
            due: r.get(3)?,
            reason: if reason == "no_deal" {
                "no_deal"
            } else {
                "no_contact"
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Per owner (id, login): how many of a pool's customers are due back by `until`, from
/// the stored recycle dates (migration 5) on their index; owners with none are left out.
pub fn due_counts(
    conn: &Connection,
    pool_id: i64,
    team: Option<i64>,
    until: i64,
) -> Result<Vec<(i64, String, i64)>> {
    let mut s = conn.prepare_cached(
        "SELECT id, login, n FROM (
            SELECT u.id, u.login,
                   (SELECT count(*) FROM customers c INDEXED BY customers_recycle_due
                     WHERE c.recycle_due_at IS NOT NULL AND c.owner_id = u.id
                       AND c.recycle_due_at <= ?2 AND c.pool_id = ?1) AS n
              FROM users u WHERE ?3 IS NULL OR u.team_id = ?3)
          WHERE n > 0 ORDER BY login",
    )?;
    let rows = s.query_map(params![pool_id, until, team], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One owner's customers of one pool due back by `until`, soonest first (at most
/// `limit`; 0 = all), with the facts the rules need and the stored date.
pub fn due_soon_of(
    conn: &Connection,
    owner_id: i64,
    pool_id: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<(Watched, i64)>> {
    let mut s = conn.prepare_cached(
        "SELECT c.id, coalesce(c.name, c.company), c.owner_id, u.login, c.pool_id, c.stage, c.tags, c.locked,
                c.claimed_at, c.last_contact_at, c.won_at, c.level, c.recycle_due_at
           FROM customers c INDEXED BY customers_recycle_due JOIN users u ON u.id = c.owner_id
          WHERE c.recycle_due_at IS NOT NULL AND c.owner_id = ?1 AND c.recycle_due_at <= ?3
            AND c.pool_id = ?2
          ORDER BY c.recycle_due_at, c.id
          LIMIT ?4",
    )?;
    let limit = if limit <= 0 { -1 } else { limit };
    let rows = s.query_map(params![owner_id, pool_id, until, limit], |r| {
        Ok((watched(r)?, r.get(12)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every live owned customer with its stored recycle date, one at a time (doctor
/// compares each with the rules).
pub fn for_each_recycle_date(
    conn: &Connection,
    mut f: impl FnMut(Watched, Option<i64>) -> Result<()>,
) -> Result<()> {
    let mut s = conn.prepare(
        "SELECT c.id, coalesce(c.name, c.company), c.owner_id, '', c.pool_id, c.stage, c.tags, c.locked,
                c.claimed_at, c.last_contact_at, c.won_at, c.level, c.recycle_due_at
           FROM customers c WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL",
    )?;
    let mut rows = s.query([])?;
    while let Some(r) = rows.next()? {
        f(watched(r)?, r.get(12)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::rules::{rules, save_rules};
    use super::*;
    use crate::domain::rules::recycle_due;
    use crate::domain::rules::Override;
    use proptest::prelude::*;

    const STAGES: [&str; 4] = ["lead", "customer", "loyal", "churned"];

    fn stored_recycle_due(conn: &Connection, id: i64) -> Result<Option<i64>> {
        Ok(conn.query_row(
            "SELECT recycle_due_at FROM customers WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?)
    }
    const TAGS: [&str; 3] = ["vip", "hot", "展会"];

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::to_latest(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO teams (id, name, created_at) VALUES (1, 't', 0);
             INSERT INTO users (id, login, team_id, role, created_at) VALUES (1, 'li', 1, 'member', 0);",
        )
        .unwrap();
        conn
    }

    #[derive(Debug, Clone)]
    struct Facts {
        owned: bool,
        deleted: bool,
        stage: usize,
        tags: Vec<usize>,
        locked: bool,
        claimed: Option<i64>,
        contact: Option<i64>,
        won: Option<i64>,
    }

    fn facts() -> impl Strategy<Value = Facts> {
        (
            any::<bool>(),
            prop::bool::weighted(0.1),
            0..4usize,
            prop::collection::vec(0..3usize, 0..3),
            prop::bool::weighted(0.2),
            prop::option::weighted(0.9, 0..100i64),
            prop::option::of(0..100i64),
            prop::option::weighted(0.3, 0..100i64),
        )
            .prop_map(
                |(owned, deleted, stage, tags, locked, claimed, contact, won)| Facts {
                    owned,
                    deleted,
                    stage,
                    tags,
                    locked,
                    claimed,
                    contact,
                    won,
                },
            )
    }

    fn rules_strategy() -> impl Strategy<Value = Rules> {
        let days = prop::option::of(0..40i64);
        (
            0..40i64,
            0..40i64,
            prop::collection::vec(0..4usize, 0..2),
            prop::collection::vec((any::<bool>(), 0..4usize, days.clone(), days), 0..4),
        )
            .prop_map(|(nc, nd, exempt, overrides)| {
                let mut r = Rules {
                    recycle_no_contact_days: nc,
                    recycle_no_deal_days: nd,
                    exempt_stages: exempt.iter().map(|i| STAGES[*i].to_string()).collect(),
                    ..Default::default()
                };
                r.exempt_stages.dedup();
                for (stage, i, c, d) in overrides {
                    let (scope, value) = if stage {
                        ("stage", STAGES[i])
                    } else {
                        ("tag", TAGS[i % 3])
                    };
                    if !r
                        .overrides
                        .iter()
                        .any(|o| o.scope == scope && o.value == value)
                    {
                        r.overrides.push(Override {
                            scope: scope.into(),
                            value: value.into(),
                            recycle_no_contact_days: c,
                            recycle_no_deal_days: d,
                        });
                    }
                }
                r
            })
    }

    fn insert(conn: &Connection, f: &Facts) -> i64 {
        let day = |d: Option<i64>| d.map(|d| 1_000_000 + d * 86_400);
        let mut tags: Vec<&str> = f.tags.iter().map(|i| TAGS[*i]).collect();
        tags.dedup();
        conn.execute(
            "INSERT INTO customers (name, stage, tags, owner_id, locked, claimed_at, last_contact_at,
                won_at, deleted_at, created_at, updated_at)
             VALUES ('x', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 0)",
            params![
                STAGES[f.stage],
                tags.join(","),
                f.owned.then_some(1),
                f.locked,
                day(f.claimed),
                day(f.contact),
                day(f.won),
                f.deleted.then_some(5)
            ],
        )
        .unwrap();
        conn.last_insert_rowid()
    }

    /// What the rules say, from the row as stored.
    fn expected(conn: &Connection, id: i64) -> Option<i64> {
        let (owned, deleted): (Option<i64>, Option<i64>) = conn
            .query_row(
                "SELECT owner_id, deleted_at FROM customers WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        if owned.is_none() || deleted.is_some() {
            return None;
        }
        let w = conn
            .query_row(
                "SELECT c.id, coalesce(c.name, c.company), c.owner_id, 'li', c.pool_id, c.stage, c.tags,
                        c.locked, c.claimed_at, c.last_contact_at, c.won_at, c.level
                   FROM customers c WHERE c.id = ?1",
                [id],
                watched,
            )
            .unwrap();
        recycle_due(&rules(conn, 1).unwrap(), &w.facts).map(|(d, _)| d)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The stored recycle date (SQL trigger) is the rules' own (domain) date, after
        /// an insert, after changes of each fact, and after the rules change.
        #[test]
        fn stored_recycle_date_follows_the_rules(
            r1 in rules_strategy(),
            r2 in rules_strategy(),
            rows in prop::collection::vec(facts(), 1..12),
            changes in prop::collection::vec(facts(), 1..12),
        ) {
            let conn = db();
            save_rules(&conn, 1, &r1).unwrap();
            let ids: Vec<i64> = rows.iter().map(|f| insert(&conn, f)).collect();
            for id in &ids {
                prop_assert_eq!(stored_recycle_due(&conn, *id).unwrap(), expected(&conn, *id));
            }
            for (id, f) in ids.iter().zip(&changes) {
                let mut tags: Vec<&str> = f.tags.iter().map(|i| TAGS[*i]).collect();
                tags.dedup();
                conn.execute(
                    "UPDATE customers SET last_contact_at = coalesce(?2, last_contact_at), tags = ?3,
                        stage = ?4, locked = ?5, owner_id = CASE WHEN ?6 THEN 1 END WHERE id = ?1",
                    params![id, f.contact.map(|d| 2_000_000 + d * 86_400), tags.join(","),
                        STAGES[f.stage], f.locked, f.owned],
                ).unwrap();
                prop_assert_eq!(stored_recycle_due(&conn, *id).unwrap(), expected(&conn, *id));
            }
            save_rules(&conn, 1, &r2).unwrap();
            for id in &ids {
                prop_assert_eq!(stored_recycle_due(&conn, *id).unwrap(), expected(&conn, *id));
            }
        }
    }
}
