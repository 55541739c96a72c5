//! The report aggregates on the server, counted under the reader's row level security
//! (a report shows what its reader may see).
use super::PgTx;
use crate::error::{Error, Result};
use crate::store::ops::reports::{
    Access, Activity, Count, DealScope, FollowupLoad, Funnel, OwnerStats, QualityCounts, ReportOps,
    RevenueDay, Worst,
};

fn not_yet(what: &str) -> Error {
    Error::Other(format!(
        "the {what} report is not available on a PostgreSQL pool yet"
    ))
}

impl PgTx<'_> {
    fn counts(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Count>> {
        Ok(self
            .rows(sql, params)?
            .iter()
            .map(|r| Count {
                key: r.get(0),
                count: r.get(1),
            })
            .collect())
    }
}

impl ReportOps for PgTx<'_> {
    fn pooled_per_pool(&mut self) -> Result<Vec<Count>> {
        self.counts(
            "SELECT p.name, (SELECT count(*) FROM customers c
                              WHERE c.owner_id IS NULL AND c.deleted_at IS NULL AND c.pool_id = p.id)
               FROM pools p ORDER BY p.id",
            &[],
        )
    }

    fn owned_total(&mut self) -> Result<i64> {
        Ok(self
            .one(
                "SELECT count(*) FROM customers WHERE owner_id IS NOT NULL AND deleted_at IS NULL",
                &[],
            )?
            .get(0))
    }

    fn by_stage(&mut self) -> Result<Vec<Count>> {
        self.counts(
            "SELECT s.stage, coalesce(n.c, 0) FROM
                (VALUES ('lead', 1), ('customer', 2), ('loyal', 3), ('churned', 4)) s(stage, o)
             LEFT JOIN (SELECT stage, count(*) AS c FROM customers WHERE deleted_at IS NULL GROUP BY stage) n
               ON n.stage = s.stage
             ORDER BY s.o",
            &[],
        )
    }

    fn events_between(&mut self, from: i64, to: i64) -> Result<Vec<Count>> {
        self.counts(
            "SELECT event, count(*) FROM ownership_events WHERE at >= $1 AND at < $2 GROUP BY event ORDER BY event",
            &[&from, &to],
        )
    }

    fn owner_stats(&mut self, team: Option<i64>, now: i64, today: &str) -> Result<Vec<OwnerStats>> {
        let since = now - 30 * 86_400;
        let rows = self.rows(
            "SELECT u.id, u.login, t.id, t.name,
                (SELECT count(*) FROM customers c WHERE c.deleted_at IS NULL AND c.owner_id = u.id),
                (SELECT count(*) FROM customers c WHERE c.locked AND c.deleted_at IS NULL AND c.owner_id = u.id),
                (SELECT count(*) FROM interactions i WHERE i.user_id = u.id AND i.at >= $2),
                (SELECT count(*) FROM followups f WHERE f.assignee_id = u.id AND f.status = 'open' AND f.due < $3),
                (SELECT count(*) FROM deals d WHERE d.user_id = u.id AND d.voided_at IS NULL)
             FROM users u JOIN teams t ON t.id = u.team_id
             WHERE u.active AND u.role IN ('member', 'manager', 'admin') AND ($1::bigint IS NULL OR u.team_id = $1)
             ORDER BY t.name, u.login",
            &[&team, &since, &today],
        )?;
        let mut out: Vec<OwnerStats> = rows
            .iter()
            .map(|r| OwnerStats {
                user_id: r.get(0),
                user: r.get(1),
                team_id: r.get(2),
                team: r.get(3),
                owned: r.get(4),
                locked: r.get(5),
                contacts_30d: r.get(6),
                overdue_followups: r.get(7),
                deals: r.get(8),
                deal_totals: Default::default(),
            })
            .collect();
        // Exact sums (numeric), per user and currency.
        let totals = self.rows(
            "SELECT user_id, currency, sum(amount_minor)::text FROM deals
              WHERE voided_at IS NULL AND user_id IS NOT NULL GROUP BY user_id, currency",
            &[],
        )?;
        for t in totals {
            let (user, currency, sum): (i64, String, String) = (t.get(0), t.get(1), t.get(2));
            if let (Some(row), Ok(sum)) = (
                out.iter_mut().find(|o| o.user_id == user),
                sum.parse::<i128>(),
            ) {
                row.deal_totals.insert(currency, sum);
            }
        }
        Ok(out)
    }

    fn cross_team(&mut self) -> Result<Vec<(String, String, i64)>> {
        Ok(self
            .rows(
                "SELECT tn.name, tp.name, count(*) FROM customers c
                   JOIN users o ON o.id = c.owner_id JOIN teams tn ON tn.id = o.team_id
                   JOIN users p ON p.id = c.previous_owner_id JOIN teams tp ON tp.id = p.team_id
                  WHERE c.previous_owner_id IS NOT NULL AND c.owner_id IS NOT NULL AND c.deleted_at IS NULL
                    AND o.team_id <> p.team_id
                  GROUP BY tn.name, tp.name ORDER BY 3 DESC",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn funnel(&mut self) -> Result<Funnel> {
        let mut f = Funnel::default();
        for c in self.by_stage()? {
            match c.key.as_str() {
                "lead" => f.lead = c.count,
                "customer" => f.customer = c.count,
                "loyal" => f.loyal = c.count,
                _ => f.churned = c.count,
            }
        }
        f.total = f.lead + f.customer + f.loyal + f.churned;
        f.won = self
            .one(
                "SELECT count(*) FROM customers WHERE deleted_at IS NULL AND won_at IS NOT NULL",
                &[],
            )?
            .get(0);
        if f.won > 0 {
            let offset = f.won / 2;
            f.median_days_to_first_deal = self
                .opt(
                    "SELECT (won_at - created_at) / 86400.0::float8 FROM customers
                      WHERE deleted_at IS NULL AND won_at IS NOT NULL
                      ORDER BY won_at - created_at LIMIT 1 OFFSET $1",
                    &[&offset],
                )?
                .map(|r| r.get(0));
        }
        Ok(f)
    }

    fn followup_load(
        &mut self,
        team: Option<i64>,
        today: &str,
        week: &str,
    ) -> Result<Vec<FollowupLoad>> {
        Ok(self
            .rows(
                "SELECT u.login, count(*) FILTER (WHERE f.due < $2), count(*) FILTER (WHERE f.due = $2),
                        count(*) FILTER (WHERE f.due > $2 AND f.due <= $3)
                 FROM followups f JOIN users u ON u.id = f.assignee_id
                 WHERE f.status = 'open' AND f.due <= $3 AND ($1::bigint IS NULL OR u.team_id = $1)
                 GROUP BY u.login ORDER BY 2 DESC, u.login",
                &[&team, &today, &week],
            )?
            .iter()
            .map(|r| FollowupLoad {
                assignee: r.get(0),
                overdue: r.get(1),
                today: r.get(2),
                next_7_days: r.get(3),
            })
            .collect())
    }

    fn activity(
        &mut self,
        _fmt: &str,
        _from: i64,
        _to: i64,
        _team: Option<i64>,
        _offset: i64,
    ) -> Result<Vec<Activity>> {
        Err(not_yet("activity"))
    }

    fn field_quality(&mut self) -> Result<QualityCounts> {
        Err(not_yet("quality"))
    }

    fn duplicated(&mut self) -> Result<i64> {
        Err(not_yet("quality"))
    }

    fn worst_records(&mut self, _masks: &[(i64, i64)], _limit: i64) -> Result<Vec<Worst>> {
        Err(not_yet("quality"))
    }

    fn access(&mut self, _from: i64, _to: i64) -> Result<Vec<Access>> {
        Err(not_yet("access"))
    }

    /// The SQLite query on the server's `deals` (index `deals_revenue`, migration 6); the
    /// deals' own policies decide what a member reads.
    fn revenue(&mut self, from: &str, to: &str, scope: DealScope) -> Result<Vec<RevenueDay>> {
        let base = "SELECT on_date, currency, count(*), sum(amount_minor)::text FROM deals
             WHERE voided_at IS NULL AND on_date >= $1 AND on_date <= $2";
        let tail = " GROUP BY on_date, currency ORDER BY on_date, currency";
        let rows = match scope {
            DealScope::All => self.rows(&format!("{base}{tail}"), &[&from, &to])?,
            DealScope::Team(t) => self.rows(
                &format!("{base} AND user_id IN (SELECT id FROM users WHERE team_id = $3){tail}"),
                &[&from, &to, &t],
            )?,
            DealScope::User(u) => {
                self.rows(&format!("{base} AND user_id = $3{tail}"), &[&from, &to, &u])?
            }
        };
        rows.iter()
            .map(|r| {
                let sum: String = r.get(3);
                Ok(RevenueDay {
                    on: r.get(0),
                    currency: r.get(1),
                    deals: r.get(2),
                    amount_minor: sum
                        .parse()
                        .map_err(|_| Error::Other(format!("bad sum from the server: {sum}")))?,
                })
            })
            .collect()
    }
}
