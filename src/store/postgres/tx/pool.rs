//! Ownership on the server: the same conditional UPDATEs as SQLite. The server's guard
//! re-checks every rule under the gaining user's row lock and stamps the times; its AFTER
//! trigger writes the owner history and the audit row, labelled by [`PoolOps::intend`].
use super::PgTx;
use crate::domain::rules::{ClaimFacts, FollowupRule, Override, Rules};
use crate::error::{Error, Result};
use crate::store::ops::pool::{OwnershipEvent, PoolOps, Stray};

impl PgTx<'_> {
    pub(crate) fn owned_ids(&mut self, owner: i64) -> Result<Vec<i64>> {
        Ok(self
            .rows(
                "SELECT id FROM customers WHERE owner_id = $1 AND deleted_at IS NULL ORDER BY id",
                &[&owner],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// A pool's follow-up rules, as SQLite orders them.
    pub(crate) fn followup_rules(&mut self, pool_id: i64) -> Result<Vec<FollowupRule>> {
        Ok(self
            .rows(
                "SELECT event, stage, action, due_days FROM followup_rules WHERE pool_id = $1
                  ORDER BY event, stage",
                &[&pool_id],
            )?
            .iter()
            .map(|r| FollowupRule {
                event: r.get(0),
                stage: r.get(1),
                action: r.get(2),
                due_days: r.get(3),
            })
            .collect())
    }

    pub(crate) fn login_of(&mut self, user: i64) -> Result<String> {
        self.opt("SELECT login FROM users WHERE id = $1", &[&user])?
            .map(|r| r.get(0))
            .ok_or_else(|| Error::not_found("user", user))
    }
}

impl PoolOps for PgTx<'_> {
    fn pool_id(&mut self, name: &str) -> Result<i64> {
        self.opt("SELECT id FROM pools WHERE name = $1", &[&name])?
            .map(|r| r.get(0))
            .ok_or_else(|| Error::not_found("pool", name))
    }

    fn pool_visible(&mut self, pool_id: i64, team_id: i64) -> Result<bool> {
        if pool_id == 1 {
            return Ok(true);
        }
        Ok(self
            .opt(
                "SELECT 1 FROM pool_teams WHERE pool_id = $1 AND team_id = $2",
                &[&pool_id, &team_id],
            )?
            .is_some())
    }

    fn rules(&mut self, pool_id: i64) -> Result<Rules> {
        let mut r = self
            .opt(
                "SELECT max_owned, count_won, daily_claims, reclaim_cooldown_days, recycle_no_contact_days,
                    recycle_no_deal_days, warn_days, exempt_stages, max_locked, fresh_hold_hours,
                    contact_kinds, min_contact_chars, allocate, allocate_to
                 FROM pool_rules WHERE pool_id = $1",
                &[&pool_id],
            )?
            .map(|r| {
                let exempt: String = r.get(7);
                Rules {
                    max_owned: r.get(0),
                    count_won: r.get(1),
                    daily_claims: r.get(2),
                    reclaim_cooldown_days: r.get(3),
                    recycle_no_contact_days: r.get(4),
                    recycle_no_deal_days: r.get(5),
                    warn_days: r.get(6),
                    exempt_stages: exempt
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                    max_locked: r.get(8),
                    fresh_hold_hours: r.get(9),
                    overrides: Vec::new(),
                    contact_kinds: r
                        .get::<_, String>(10)
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                    min_contact_chars: r.get(11),
                    allocate: r.get(12),
                    allocate_to: r.get(13),
                    followups: Vec::new(),
                }
            })
            .unwrap_or_default();
        r.overrides = self
            .rows(
                "SELECT scope, value, recycle_no_contact_days, recycle_no_deal_days
                 FROM pool_rule_overrides WHERE pool_id = $1 ORDER BY scope, value",
                &[&pool_id],
            )?
            .iter()
            .map(|r| Override {
                scope: r.get(0),
                value: r.get(1),
                recycle_no_contact_days: r.get(2),
                recycle_no_deal_days: r.get(3),
            })
            .collect();
        r.followups = self.followup_rules(pool_id)?;
        Ok(r)
    }

    fn claim_facts(
        &mut self,
        customer_id: i64,
        pooled_at: Option<i64>,
        user: i64,
        pool_id: i64,
        rules: &Rules,
        day_start: i64,
    ) -> Result<ClaimFacts> {
        let claims_today: i64 = if rules.daily_claims > 0 {
            self.one(
                "SELECT count(*) FROM ownership_events WHERE to_user = $1 AND event = 'claim' AND at >= $2",
                &[&user, &day_start],
            )?
            .get(0)
        } else {
            0
        };
        let claimer_lost_at: Option<i64> = if rules.reclaim_cooldown_days > 0 {
            self.one(
                "SELECT max(at) FROM ownership_events
                 WHERE from_user = $1 AND customer_id = $2 AND event IN ('release', 'recycle')",
                &[&user, &customer_id],
            )?
            .get(0)
        } else {
            None
        };
        let owned = if rules.max_owned > 0 {
            self.owned_count(user, pool_id, rules.count_won)?
        } else {
            0
        };
        Ok(ClaimFacts {
            customer_id,
            pooled_at,
            owned,
            claims_today,
            claimer_lost_at,
        })
    }

    fn owned_count(&mut self, user: i64, pool_id: i64, count_won: bool) -> Result<i64> {
        Ok(self
            .one(
                "SELECT count(*) FROM customers
                 WHERE owner_id = $1 AND deleted_at IS NULL AND pool_id = $2
                   AND ($3 OR stage NOT IN ('customer', 'loyal'))",
                &[&user, &pool_id, &count_won],
            )?
            .get(0))
    }

    fn locked_count(&mut self, user: i64) -> Result<i64> {
        Ok(self
            .one(
                "SELECT count(*) FROM customers WHERE locked AND deleted_at IS NULL AND owner_id = $1",
                &[&user],
            )?
            .get(0))
    }

    /// What RLS and the masked view show: a member sees no keys of customers they do
    /// not own, so this finds fewer twins than SQLite; the server's own check (PT412)
    /// is the authority.
    fn lost_twin(
        &mut self,
        user: i64,
        phone_key: Option<&str>,
        email_key: Option<&str>,
        except: i64,
        since: i64,
    ) -> Result<Option<(i64, i64)>> {
        if phone_key.is_none() && email_key.is_none() {
            return Ok(None);
        }
        Ok(self
            .opt(
                "SELECT c.id, max(e.at) FROM ownership_events e JOIN customers_v c ON c.id = e.customer_id
                 WHERE e.from_user = $1 AND e.event IN ('release', 'recycle') AND e.at >= $2
                   AND c.id <> $5
                   AND (($3::text IS NOT NULL AND c.phone_key = $3) OR ($4::text IS NOT NULL AND c.email_key = $4))
                 GROUP BY c.id LIMIT 1",
                &[&user, &since, &phone_key, &email_key, &except],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }

    fn set_owner_if_pooled(&mut self, id: i64, owner: i64, _now: i64) -> Result<bool> {
        let n = self.exec(
            "UPDATE customers SET owner_id = $2, locked = false
             WHERE id = $1 AND owner_id IS NULL AND deleted_at IS NULL",
            &[&id, &owner],
        )?;
        Ok(n == 1)
    }

    fn set_owner_if_owned_by(&mut self, id: i64, from: i64, to: i64, _now: i64) -> Result<bool> {
        let n = self.exec(
            "UPDATE customers SET owner_id = $3 WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL",
            &[&id, &from, &to],
        )?;
        Ok(n == 1)
    }

    fn return_to_pool(&mut self, id: i64, from: i64, pool_id: i64, _now: i64) -> Result<bool> {
        let n = self.exec(
            "UPDATE customers SET owner_id = NULL, pool_id = $3, locked = false
             WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL",
            &[&id, &from, &pool_id],
        )?;
        Ok(n == 1)
    }

    fn transfer_all(
        &mut self,
        from: i64,
        to: i64,
        _by: i64,
        event: &str,
        _now: i64,
    ) -> Result<Vec<i64>> {
        let ids = self.owned_ids(from)?;
        if event == "deactivate" {
            // The server's deactivate_user moves them, ends the role's access and writes
            // every history and audit row in this transaction.
            let (login, heir) = (self.login_of(from)?, self.login_of(to)?);
            self.write_rows(
                "SELECT pool_private.deactivate_user($1, $2)",
                &[&login, &heir],
            )?;
            return Ok(ids);
        }
        self.intend(event, None)?;
        self.exec(
            "UPDATE customers SET owner_id = $2 WHERE owner_id = $1 AND deleted_at IS NULL",
            &[&from, &to],
        )?;
        self.intend("", None)?;
        Ok(ids)
    }

    fn set_locked(&mut self, id: i64, locked: bool, _now: i64) -> Result<()> {
        let n = self.exec(
            "UPDATE customers SET locked = $2 WHERE id = $1",
            &[&id, &locked],
        )?;
        if n == 0 {
            return Err(Error::ChangedMeanwhile { id });
        }
        Ok(())
    }

    fn open_followups(&mut self, customer_id: i64) -> Result<i64> {
        Ok(self
            .one(
                "SELECT count(*) FROM followups WHERE customer_id = $1 AND status = 'open'",
                &[&customer_id],
            )?
            .get(0))
    }

    fn cancel_open_followups(&mut self, customer_id: i64, note: &str, now: i64) -> Result<usize> {
        let n = self.exec(
            "UPDATE followups SET status = 'cancelled', note = $2, closed_at = $3
             WHERE customer_id = $1 AND status = 'open'",
            &[&customer_id, &note, &now],
        )?;
        Ok(n as usize)
    }

    fn intend(&mut self, event: &str, reason: Option<&str>) -> Result<()> {
        // Not retried: it only sets two transaction-local settings.
        self.tx
            .execute("SELECT pool_private.intend($1, $2)", &[&event, &reason])?;
        Ok(())
    }

    /// The server wrote the row in the change's own trigger; clients may not insert one.
    fn record_event(&mut self, _e: &OwnershipEvent) -> Result<()> {
        Ok(())
    }

    fn move_open_followups(
        &mut self,
        customer_id: i64,
        from: Option<i64>,
        to: i64,
    ) -> Result<Vec<i64>> {
        let rows = self.write_rows(
            "UPDATE followups SET assignee_id = $3
              WHERE customer_id = $1 AND status = 'open' AND assignee_id <> $3
                AND (assignee_id IS NOT DISTINCT FROM $2::bigint OR assignee_id NOT IN (
                     SELECT u.id FROM users u
                      WHERE u.active AND u.team_id = (SELECT team_id FROM users WHERE id = $3)))
              RETURNING id",
            &[&customer_id, &from, &to],
        )?;
        let mut ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    fn stray_followups(&mut self) -> Result<Vec<Stray>> {
        Ok(self
            .rows(
                "SELECT f.id, f.customer_id, f.assignee_id, c.owner_id
                   FROM followups f JOIN customers_v c ON c.id = f.customer_id
                   JOIN users a ON a.id = f.assignee_id LEFT JOIN users o ON o.id = c.owner_id
                  WHERE f.status = 'open' AND c.deleted_at IS NULL
                    AND (c.owner_id IS NULL OR NOT a.active
                         OR (f.assignee_id <> c.owner_id AND a.team_id <> o.team_id))
                  ORDER BY f.id",
                &[],
            )?
            .iter()
            .map(|r| Stray {
                id: r.get(0),
                customer_id: r.get(1),
                assignee_id: r.get(2),
                owner_id: r.get(3),
            })
            .collect())
    }

    fn reassign_followup(&mut self, id: i64, to: i64) -> Result<bool> {
        Ok(self.exec(
            "UPDATE followups SET assignee_id = $2 WHERE id = $1 AND status = 'open'",
            &[&id, &to],
        )? == 1)
    }

    fn allocation_candidates(
        &mut self,
        pool_id: i64,
        ids: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        let (lo, hi) = ids.unwrap_or((i64::MIN, i64::MAX));
        Ok(self
            .rows(
                "SELECT id, stage FROM customers_v
                  WHERE owner_id IS NULL AND deleted_at IS NULL AND pool_id = $1
                    AND previous_owner_id IS NULL AND claimed_at IS NULL
                    AND id BETWEEN $2 AND $3
                  ORDER BY id LIMIT $4",
                &[&pool_id, &lo, &hi, &limit],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn received_since(&mut self, user: i64, since: i64) -> Result<i64> {
        Ok(self
            .one(
                "SELECT count(*) FROM ownership_events
                  WHERE to_user = $1 AND at >= $2
                    AND (event = 'claim' OR allocated)",
                &[&user, &since],
            )?
            .get(0))
    }

    fn allocation_cursor(&mut self, pool_id: i64) -> Result<Option<i64>> {
        Ok(self
            .opt(
                "SELECT last_user_id FROM allocation_cursor WHERE pool_id = $1",
                &[&pool_id],
            )?
            .map(|r| r.get(0)))
    }

    /// Through the server, which lets only those who may run the pool's allocation move it.
    fn set_allocation_cursor(&mut self, pool_id: i64, user: i64) -> Result<()> {
        self.write_rows(
            "SELECT pool_private.set_allocation_cursor($1, $2)",
            &[&pool_id, &user],
        )?;
        Ok(())
    }
}
