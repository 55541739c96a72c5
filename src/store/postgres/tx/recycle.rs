//! What recycling reads: owned customers past, or near, their pool's rules.
use postgres::Row;

use super::{tag_list, PgTx};
use crate::domain::rules::{OwnedFacts, Rules};
use crate::error::Result;
use crate::store::ops::recycle::{Due, OwnedRow, RecycleOps};
use crate::store::ops::work::Watched;

/// The owned rows' rule facts from the base table; their tags (`$TAGS`: whether to read
/// them) through the masking view, where a manager reads a tag holding a contact of
/// another team's customer masked (migration 27 closed the base table's text columns).
const OWNED_SELECT: &str = "SELECT id, owner_id, pool_id, stage,
            CASE WHEN $TAGS THEN (SELECT v.tags FROM customers_v v WHERE v.id = c.id) ELSE '' END,
            locked, claimed_at, last_contact_at, won_at, level
     FROM customers c";

fn owned_row(r: &Row) -> OwnedRow {
    let tags: String = r.get::<_, Option<String>>(4).unwrap_or_default();
    OwnedRow {
        id: r.get(0),
        owner_id: r.get(1),
        pool_id: r.get(2),
        facts: OwnedFacts {
            stage: r.get(3),
            tags: tag_list(&tags),
            locked: r.get(5),
            claimed_at: r.get::<_, Option<i64>>(6).unwrap_or(0),
            last_contact_at: r.get(7),
            won_at: r.get(8),
            level: r.get(9),
        },
    }
}

impl RecycleOps for PgTx<'_> {
    fn due_by(
        &mut self,
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
        let rows = self.rows(
            "SELECT id, owner_id, login,
                    CASE WHEN due_nd IS NOT NULL AND (due_nc IS NULL OR due_nd < due_nc) THEN due_nd ELSE due_nc END,
                    CASE WHEN due_nd IS NOT NULL AND (due_nc IS NULL OR due_nd < due_nc) THEN 'no_deal' ELSE 'no_contact' END
             FROM (
                SELECT c.id, c.owner_id, u.login,
                       CASE WHEN $2::bigint > 0 THEN greatest(coalesce(c.last_contact_at, c.claimed_at), c.claimed_at) + $2::bigint * 86400 END AS due_nc,
                       CASE WHEN $3::bigint > 0 AND c.won_at IS NULL THEN c.claimed_at + $3::bigint * 86400 END AS due_nd
                  FROM customers c JOIN users u ON u.id = c.owner_id
                 WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL AND c.pool_id = $1 AND NOT c.locked
                   AND NOT (c.stage = ANY ($4::text[]))
                   AND ($5::bigint IS NULL OR c.owner_id = $5) AND ($6::bigint IS NULL OR u.team_id = $6)
             ) x
             WHERE least(due_nc, due_nd) <= $7::bigint
             ORDER BY id",
            &[&pool_id, &nc, &nd, &rules.exempt_stages, &owner, &team, &until],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let reason: String = r.get(4);
                Due {
                    id: r.get(0),
                    owner_id: r.get(1),
                    owner: r.get(2),
                    due: r.get(3),
                    reason: if reason == "no_deal" {
                        "no_deal"
                    } else {
                        "no_contact"
                    },
                }
            })
            .collect())
    }

    fn recycle_candidates(
        &mut self,
        pool_id: i64,
        claimed_before: i64,
        team: Option<i64>,
        tags: bool,
    ) -> Result<Vec<OwnedRow>> {
        Ok(self
            .rows(
                &format!(
                    "{} WHERE owner_id IS NOT NULL AND deleted_at IS NULL AND pool_id = $1
                        AND NOT locked AND claimed_at <= $2
                        AND ($4::bigint IS NULL OR owner_id IN (SELECT id FROM users WHERE team_id = $4))
                      ORDER BY id",
                    OWNED_SELECT.replace("$TAGS", "$3::boolean")
                ),
                &[&pool_id, &claimed_before, &tags, &team],
            )?
            .iter()
            .map(owned_row)
            .collect())
    }

    fn owned_row(&mut self, id: i64) -> Result<Option<OwnedRow>> {
        Ok(self
            .opt(
                &format!(
                    "{} WHERE id = $1 AND owner_id IS NOT NULL AND deleted_at IS NULL",
                    OWNED_SELECT.replace("$TAGS", "true")
                ),
                &[&id],
            )?
            .map(|r| owned_row(&r)))
    }

    fn due_counts(
        &mut self,
        pool_id: i64,
        team: Option<i64>,
        until: i64,
    ) -> Result<Vec<(i64, String, i64)>> {
        Ok(self
            .rows(
                "SELECT u.id, u.login, count(*)
                   FROM customers c JOIN users u ON u.id = c.owner_id
                  WHERE c.recycle_due_at IS NOT NULL AND c.recycle_due_at <= $2 AND c.pool_id = $1
                    AND ($3::bigint IS NULL OR u.team_id = $3)
                  GROUP BY u.id, u.login ORDER BY u.login",
                &[&pool_id, &until, &team],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn due_soon_of(
        &mut self,
        owner: i64,
        pool_id: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<(Watched, i64)>> {
        let limit = if limit <= 0 { i64::MAX } else { limit };
        Ok(self
            .rows(
                "SELECT c.id, coalesce(c.name, c.company), u.login, c.pool_id, c.stage, c.tags, c.locked,
                        c.claimed_at, c.last_contact_at, c.won_at, c.level, c.recycle_due_at
                   FROM customers_v c JOIN users u ON u.id = c.owner_id
                  WHERE c.recycle_due_at IS NOT NULL AND c.owner_id = $1 AND c.recycle_due_at <= $3
                    AND c.pool_id = $2
                  ORDER BY c.recycle_due_at, c.id LIMIT $4",
                &[&owner, &pool_id, &until, &limit],
            )?
            .iter()
            .map(|r| (super::work::watched(r), r.get(11)))
            .collect())
    }
}
