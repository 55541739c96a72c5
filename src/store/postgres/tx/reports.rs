//! The report aggregates on the server, counted under the reader's row level security
//! (a report shows what its reader may see).
use super::PgTx;
use crate::error::{Error, Result};
use crate::store::ops::reports::{
    Access, Activity, Count, DealScope, FieldQuality, FollowupLoad, Funnel, OwnerStats,
    QualityCounts, ReportOps, RevenueDay, Worst,
};

/// Bits of `pool_private.missing_mask` (as the SQLite backend's MISSING_MASK).
const NAME: i64 = 1;
const COMPANY: i64 = 2;
const PHONE: i64 = 4;
const PHONE_KEY: i64 = 8;
const EMAIL: i64 = 16;
const EMAIL_KEY: i64 = 32;
const CITY: i64 = 64;
const ADDRESS: i64 = 128;
const SOURCE: i64 = 256;

/// How bad a missing-field mask is: one point per missing field (phone and e-mail by
/// their validity), two more when the customer cannot be reached at all.
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

/// One group of live customers as the server keeps it (migration 15): what the
/// reports count by, and how many.
struct Group {
    pool_id: i64,
    owner_id: Option<i64>,
    stage: String,
    mask: i64,
    locked: bool,
    won: bool,
    dup: bool,
    n: i64,
}

impl PgTx<'_> {
    /// The groups the reader may see (the customers read policy, applied by the server).
    fn groups(&mut self) -> Result<Vec<Group>> {
        Ok(self
            .rows(
                "SELECT pool_id, owner_id, stage, quality_mask, locked, won, dup, n
                   FROM pool_private.report_groups()",
                &[],
            )?
            .iter()
            .map(|r| Group {
                pool_id: r.get(0),
                owner_id: r.get(1),
                stage: r.get(2),
                mask: r.get(3),
                locked: r.get(4),
                won: r.get(5),
                dup: r.get(6),
                n: r.get(7),
            })
            .collect())
    }

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
        let groups = self.groups()?;
        Ok(self
            .rows("SELECT id, name FROM pools ORDER BY id", &[])?
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                Count {
                    key: r.get(1),
                    count: groups
                        .iter()
                        .filter(|g| g.owner_id.is_none() && g.pool_id == id)
                        .map(|g| g.n)
                        .sum(),
                }
            })
            .collect())
    }

    fn owned_total(&mut self) -> Result<i64> {
        Ok(self
            .groups()?
            .iter()
            .filter(|g| g.owner_id.is_some())
            .map(|g| g.n)
            .sum())
    }

    fn by_stage(&mut self) -> Result<Vec<Count>> {
        let groups = self.groups()?;
        Ok(["lead", "customer", "loyal", "churned"]
            .iter()
            .map(|s| Count {
                key: s.to_string(),
                count: groups.iter().filter(|g| g.stage == *s).map(|g| g.n).sum(),
            })
            .collect())
    }

    fn events_between(&mut self, from: i64, to: i64) -> Result<Vec<Count>> {
        self.counts(
            "SELECT event, count(*) FROM ownership_events WHERE at >= $1 AND at < $2 GROUP BY event ORDER BY event",
            &[&from, &to],
        )
    }

    fn owner_stats(&mut self, team: Option<i64>, now: i64, today: &str) -> Result<Vec<OwnerStats>> {
        let since = now - 30 * 86_400;
        let groups = self.groups()?;
        let people = self.rows(
            "SELECT u.id, u.login, t.id, t.name FROM users u JOIN teams t ON t.id = u.team_id
              WHERE u.active AND u.role IN ('member', 'manager', 'admin') AND ($1::bigint IS NULL OR u.team_id = $1)
              ORDER BY t.name, u.login",
            &[&team],
        )?;
        // Owned and locked come from the server's groups (migration 15); the work counts
        // from `report_work` (migration 18), which counts what the reader's history
        // policies let them read without a policy test per row.
        let mut out: Vec<OwnerStats> = people
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let mine = || groups.iter().filter(move |g| g.owner_id == Some(id));
                OwnerStats {
                    user_id: id,
                    user: r.get(1),
                    team_id: r.get(2),
                    team: r.get(3),
                    owned: mine().map(|g| g.n).sum(),
                    locked: mine().filter(|g| g.locked).map(|g| g.n).sum(),
                    contacts_30d: 0,
                    overdue_followups: 0,
                    deals: 0,
                    deal_totals: Default::default(),
                }
            })
            .collect();
        let work = self.rows(
            "SELECT user_id, kind, currency, n, amount FROM pool_private.report_work($1, $2)",
            &[&since, &today],
        )?;
        for w in work {
            let user: Option<i64> = w.get(0);
            let Some(row) = out.iter_mut().find(|o| Some(o.user_id) == user) else {
                continue;
            };
            let n: i64 = w.get(3);
            match w.get::<_, &str>(1) {
                "contacts" => row.contacts_30d += n,
                "overdue" => row.overdue_followups += n,
                _ => {
                    let (currency, sum): (String, String) = (w.get(2), w.get(4));
                    let sum = sum
                        .parse::<i128>()
                        .map_err(|_| Error::Other(format!("bad sum from the server: {sum}")))?;
                    row.deals += n;
                    *row.deal_totals.entry(currency).or_default() += sum;
                }
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
        f.won = self.groups()?.iter().filter(|g| g.won).map(|g| g.n).sum();
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

    /// Counted per local day under the reader's row level security (members count the
    /// history they may read), then bucketed into periods here with the same strftime
    /// format the SQLite backend uses.
    fn activity(
        &mut self,
        fmt: &str,
        from: i64,
        to: i64,
        team: Option<i64>,
        offset: i64,
    ) -> Result<Vec<Activity>> {
        // Ownership events are readable to every user (a cheap policy); interactions and
        // deals come per day from `report_work_days` (migration 18), which counts what
        // the reader's history policies let them read.
        let rows = self.rows(
            "SELECT day, sum(claims)::bigint, sum(releases)::bigint, sum(recycles)::bigint,
                    sum(interactions)::bigint, sum(deals)::bigint FROM (
                SELECT (e.at + $4) / 86400 AS day, count(*) FILTER (WHERE e.event IN ('claim', 'assign')) AS claims,
                       count(*) FILTER (WHERE e.event = 'release') AS releases,
                       count(*) FILTER (WHERE e.event = 'recycle') AS recycles, 0 AS interactions, 0 AS deals
                  FROM ownership_events e
                 WHERE e.at >= $1 AND e.at < $2
                   AND ($3::bigint IS NULL OR coalesce(e.to_user, e.from_user) IN (SELECT id FROM users WHERE team_id = $3))
                 GROUP BY 1
                UNION ALL
                SELECT w.day, 0, 0, 0, w.interactions, w.deals FROM pool_private.report_work_days($1, $2, $3, $4) w
             ) x GROUP BY day ORDER BY day",
            &[&from, &to, &team, &offset],
        )?;
        let mut periods: std::collections::BTreeMap<String, Activity> = Default::default();
        for r in rows {
            let day: i64 = r.get(0);
            let date = chrono::DateTime::from_timestamp(day * 86_400, 0)
                .ok_or_else(|| Error::Other(format!("day {day} out of range")))?
                .date_naive();
            let period = date.format(fmt).to_string();
            let a = periods.entry(period.clone()).or_insert_with(|| Activity {
                period,
                ..Default::default()
            });
            a.claims += r.get::<_, i64>(1);
            a.releases += r.get::<_, i64>(2);
            a.recycles += r.get::<_, i64>(3);
            a.interactions += r.get::<_, i64>(4);
            a.deals += r.get::<_, i64>(5);
        }
        Ok(periods.into_values().collect())
    }

    /// Per missing-field mask, from the server (non-admins cannot read the contact
    /// columns a mask is made of; the server gives counts only).
    fn field_quality(&mut self) -> Result<QualityCounts> {
        let mut by_mask: std::collections::BTreeMap<i64, i64> = Default::default();
        for g in self.groups()? {
            *by_mask.entry(g.mask).or_default() += g.n;
        }
        let masks: Vec<(i64, i64)> = by_mask.into_iter().filter(|(_, n)| *n > 0).collect();
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

    fn duplicated(&mut self) -> Result<i64> {
        Ok(self.groups()?.iter().filter(|g| g.dup).map(|g| g.n).sum())
    }

    fn worst_records(&mut self, masks: &[(i64, i64)], limit: i64) -> Result<Vec<Worst>> {
        let mut levels: Vec<(i64, Vec<i64>)> = Vec::new();
        for (m, _) in masks {
            let b = badness(*m);
            match levels.iter_mut().find(|(l, _)| *l == b) {
                Some((_, ms)) => ms.push(*m),
                None => levels.push((b, vec![*m])),
            }
        }
        levels.sort_by_key(|(b, _)| -b);
        let mut out = Vec::new();
        for (_, ms) in levels {
            let want = limit - out.len() as i64;
            if want <= 0 {
                break;
            }
            let mut level = Vec::new();
            for m in ms {
                for r in self.rows(
                    "SELECT id, name, company FROM pool_private.quality_records($1, $2)",
                    &[&m, &want],
                )? {
                    level.push(Worst {
                        id: r.get(0),
                        name: r.get(1),
                        company: r.get(2),
                        missing: missing_words(m),
                    });
                }
            }
            level.sort_by_key(|w| w.id);
            level.truncate(want as usize);
            out.extend(level);
        }
        Ok(out)
    }

    /// Migration 20's counts (admins: everyone; managers: their team).
    fn key_lookups(&mut self, from: i64, to: i64) -> Result<Option<Vec<(String, i64, i64)>>> {
        let rows = self.rows(
            "SELECT login, lookups, before FROM pool_private.key_lookup_counts($1, $2) ORDER BY login",
            &[&from, &to],
        )?;
        Ok(Some(
            rows.iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect(),
        ))
    }

    /// The audit rows of unmasked reads and exports (admins and managers read the
    /// audit log). The row counts are read out of the JSON text with a pattern, not a
    /// cast: a client's own note that is not JSON cannot break the report.
    fn access(&mut self, from: i64, to: i64) -> Result<Vec<Access>> {
        let rows = self.rows(
            "WITH a AS (
                SELECT actor, action, coalesce(sim_at, at) AS t,
                       coalesce(substring(coalesce(after, '') FROM '\"rows\":\\s*([0-9]{1,15})')::bigint, 0) AS n
                  FROM audit_log
                 WHERE action IN ('view_unmasked', 'export')
                   AND coalesce(sim_at, at) >= $1::bigint - 30 * 86400 AND coalesce(sim_at, at) < $2::bigint)
             SELECT actor,
                    count(*) FILTER (WHERE action = 'view_unmasked' AND t >= $1),
                    coalesce(sum(n) FILTER (WHERE action = 'view_unmasked' AND t >= $1), 0)::bigint,
                    count(*) FILTER (WHERE action = 'export' AND t >= $1),
                    coalesce(sum(n) FILTER (WHERE action = 'export' AND t >= $1), 0)::bigint,
                    coalesce(sum(n) FILTER (WHERE t < $1), 0)::bigint
               FROM a GROUP BY actor ORDER BY 3 DESC, 5 DESC, actor",
            &[&from, &to],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let before: i64 = r.get(5);
                Access {
                    user: r.get(0),
                    unmasked_views: r.get(1),
                    unmasked_rows: r.get(2),
                    exports: r.get(3),
                    exported_rows: r.get(4),
                    usual_rows_per_day: (before as f64 / 30.0 * 10.0).round() / 10.0,
                    key_lookups: None,
                    flagged: false,
                }
            })
            .collect())
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
