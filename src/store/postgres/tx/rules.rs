//! Pools and their rules: admins only (grant and policy); the server audits every
//! change and recomputes the pool's recycle dates when its rules change.
use super::PgTx;
use crate::domain::rules::Rules;
use crate::error::{Error, Result};
use crate::store::ops::rules::{PoolRow, RulesOps};

impl RulesOps for PgTx<'_> {
    fn all_pools(&mut self) -> Result<Vec<(i64, String)>> {
        Ok(self
            .rows("SELECT id, name FROM pools ORDER BY id", &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn list_pools(&mut self) -> Result<Vec<PoolRow>> {
        Ok(self
            .rows(
                "SELECT p.id, p.name,
                    coalesce((SELECT string_agg(t.name, ',' ORDER BY t.name) FROM pool_teams pt JOIN teams t ON t.id = pt.team_id
                               WHERE pt.pool_id = p.id), ''),
                    (SELECT count(*) FROM customers c WHERE c.owner_id IS NULL AND c.deleted_at IS NULL AND c.pool_id = p.id)
                 FROM pools p ORDER BY p.id",
                &[],
            )?
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let teams: String = r.get(2);
                PoolRow {
                    id,
                    name: r.get(1),
                    teams: if id == 1 { "(all teams)".into() } else { teams },
                    pooled: r.get(3),
                }
            })
            .collect())
    }

    fn add_pool(&mut self, name: &str, team_ids: &[i64], now: i64) -> Result<i64> {
        if self
            .opt("SELECT 1 FROM pools WHERE name = $1", &[&name])?
            .is_some()
        {
            return Err(Error::Conflict(format!("pool '{name}' already exists")));
        }
        let id: i64 = self
            .write_rows(
                "INSERT INTO pools (name, created_at) VALUES ($1, $2) RETURNING id",
                &[&name, &now],
            )?
            .first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Other("the server returned no id for the new pool".into()))?;
        self.exec("INSERT INTO pool_rules (pool_id) VALUES ($1)", &[&id])?;
        self.exec(
            "INSERT INTO pool_teams (pool_id, team_id) SELECT $1, t FROM unnest($2::bigint[]) t
             ON CONFLICT DO NOTHING",
            &[&id, &team_ids],
        )?;
        Ok(id)
    }

    fn save_rules(&mut self, pool_id: i64, r: &Rules) -> Result<()> {
        self.exec(
            "INSERT INTO pool_rules (pool_id, max_owned, count_won, daily_claims, reclaim_cooldown_days,
                recycle_no_contact_days, recycle_no_deal_days, warn_days, exempt_stages, max_locked, fresh_hold_hours,
                contact_kinds, min_contact_chars, allocate, allocate_to)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (pool_id) DO UPDATE SET max_owned = excluded.max_owned,
                count_won = excluded.count_won, daily_claims = excluded.daily_claims,
                reclaim_cooldown_days = excluded.reclaim_cooldown_days,
                recycle_no_contact_days = excluded.recycle_no_contact_days,
                recycle_no_deal_days = excluded.recycle_no_deal_days, warn_days = excluded.warn_days,
                exempt_stages = excluded.exempt_stages, max_locked = excluded.max_locked,
                fresh_hold_hours = excluded.fresh_hold_hours, contact_kinds = excluded.contact_kinds,
                min_contact_chars = excluded.min_contact_chars, allocate = excluded.allocate,
                allocate_to = excluded.allocate_to",
            &[
                &pool_id,
                &r.max_owned,
                &r.count_won,
                &r.daily_claims,
                &r.reclaim_cooldown_days,
                &r.recycle_no_contact_days,
                &r.recycle_no_deal_days,
                &r.warn_days,
                &r.exempt_stages.join(","),
                &r.max_locked,
                &r.fresh_hold_hours,
                &r.contact_kinds.join(","),
                &r.min_contact_chars,
                &r.allocate,
                &r.allocate_to,
            ],
        )?;
        // Rewritten only when changed: every row written is an audit row on the server.
        let old = self.followup_rules(pool_id)?;
        if old != r.followups {
            self.exec("DELETE FROM followup_rules WHERE pool_id = $1", &[&pool_id])?;
            for f in &r.followups {
                self.exec(
                    "INSERT INTO followup_rules (pool_id, event, stage, action, due_days)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&pool_id, &f.event, &f.stage, &f.action, &f.due_days],
                )?;
            }
        }
        self.exec(
            "DELETE FROM pool_rule_overrides WHERE pool_id = $1",
            &[&pool_id],
        )?;
        for o in &r.overrides {
            self.exec(
                "INSERT INTO pool_rule_overrides (pool_id, scope, value, recycle_no_contact_days, recycle_no_deal_days)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &pool_id,
                    &o.scope,
                    &o.value,
                    &o.recycle_no_contact_days,
                    &o.recycle_no_deal_days,
                ],
            )?;
        }
        Ok(())
    }
}
