//! Working a customer on the server: interactions, follow-ups, deals. The server's
//! triggers stamp times, move the recycle clock and the stage, and audit; RLS decides
//! which rows an actor sees.
use postgres::types::ToSql;
use postgres::Row;

use super::{tag_list, PgTx};
use crate::domain::rules::OwnedFacts;
use crate::error::{Error, Result};
use crate::store::ops::work::{Deal, DealFilter, Followup, FollowupFilter, Watched, WorkOps};

const FOLLOWUP_SELECT: &str = "SELECT f.id, f.customer_id, coalesce(c.name, c.company), u.login, f.due, f.action,
        f.status, f.note, f.assignee_id, u.team_id, c.owner_id
     FROM followups f JOIN users u ON u.id = f.assignee_id JOIN customers_v c ON c.id = f.customer_id";

fn followup_row(r: &Row) -> Followup {
    Followup {
        id: r.get(0),
        customer_id: r.get(1),
        customer: r.get(2),
        assignee: r.get(3),
        due: r.get(4),
        action: r.get(5),
        status: r.get(6),
        note: r.get(7),
        assignee_id: r.get(8),
        assignee_team: r.get(9),
        owner_id: r.get(10),
    }
}

const DEAL_SELECT: &str = "SELECT d.id, d.customer_id, coalesce(c.name, c.company), u.login,
        d.amount_minor, d.currency, d.product, d.on_date, d.voided_at IS NOT NULL, d.void_reason
     FROM deals d JOIN customers_v c ON c.id = d.customer_id LEFT JOIN users u ON u.id = d.user_id";

fn deal_row(r: &Row) -> Deal {
    let minor: i64 = r.get(4);
    Deal {
        id: r.get(0),
        customer_id: r.get(1),
        customer: r.get(2),
        owner: r.get(3),
        amount: crate::domain::money::format_amount(minor),
        currency: r.get(5),
        product: r.get(6),
        on: r.get(7),
        voided: r.get(8),
        void_reason: r.get(9),
        amount_minor: minor,
    }
}

impl WorkOps for PgTx<'_> {
    fn log_interaction(
        &mut self,
        customer_id: i64,
        user_id: i64,
        kind: &str,
        summary: &str,
        at: i64,
        _counts: bool,
        now: i64,
    ) -> Result<i64> {
        // The server's trigger moves last_contact_at when the interaction counts as
        // contact in the customer's pool (migration 8), whatever the client says.
        let r = self.write_rows(
            "INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&customer_id, &user_id, &kind, &summary, &at, &now],
        )?;
        Ok(r[0].get(0))
    }

    fn add_followup(
        &mut self,
        customer_id: i64,
        assignee: i64,
        by: i64,
        due: &str,
        action: &str,
        now: i64,
    ) -> Result<i64> {
        let r = self.write_rows(
            "INSERT INTO followups (customer_id, assignee_id, created_by, due, action, status, created_at)
             VALUES ($1, $2, $3, $4, $5, 'open', $6) RETURNING id",
            &[&customer_id, &assignee, &by, &due, &action, &now],
        )?;
        Ok(r[0].get(0))
    }

    /// The server's `zz_plan` triggers plan them (migration 8) and name the last one in
    /// `pool.planned_followup` ('<customer>:<id>').
    fn rule_followup_planned(&mut self, customer_id: i64) -> Result<Option<Option<i64>>> {
        let v: Option<String> = self
            .one("SELECT current_setting('pool.planned_followup', true)", &[])?
            .get(0);
        let id = v.as_deref().and_then(|v| {
            let (c, f) = v.split_once(':')?;
            (c.parse::<i64>().ok()? == customer_id).then(|| f.parse::<i64>().ok())?
        });
        Ok(Some(id))
    }

    fn followup(&mut self, id: i64) -> Result<Followup> {
        match self.opt(&format!("{FOLLOWUP_SELECT} WHERE f.id = $1"), &[&id])? {
            Some(r) => Ok(followup_row(&r)),
            None => Err(self.hidden_work("followup", id)?),
        }
    }

    fn close_followup(
        &mut self,
        id: i64,
        status: &str,
        note: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        Ok(self.exec(
            "UPDATE followups SET status = $2, note = coalesce($3, note), closed_at = $4
              WHERE id = $1 AND status = 'open'",
            &[&id, &status, &note, &now],
        )? == 1)
    }

    fn list_followups(&mut self, f: &FollowupFilter) -> Result<Vec<Followup>> {
        let mut sql = format!("{FOLLOWUP_SELECT} WHERE c.deleted_at IS NULL");
        let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut add = |sql: &mut String, cond: &str, v: Box<dyn ToSql + Sync>| {
            args.push(v);
            sql.push_str(&cond.replace('?', &format!("${}", args.len())));
        };
        if let Some(a) = f.assignee_id {
            add(&mut sql, " AND f.assignee_id = ?", Box::new(a));
        }
        if let Some(t) = f.team_id {
            add(&mut sql, " AND u.team_id = ?", Box::new(t));
        }
        if let Some(c) = f.customer_id {
            add(&mut sql, " AND f.customer_id = ?", Box::new(c));
        }
        if let Some(s) = &f.status {
            add(&mut sql, " AND f.status = ?", Box::new(s.clone()));
        }
        if let Some(d) = &f.due_before {
            add(
                &mut sql,
                " AND f.due COLLATE \"C\" < ?",
                Box::new(d.clone()),
            );
        }
        if let Some(d) = &f.due_on_or_after {
            add(
                &mut sql,
                " AND f.due COLLATE \"C\" >= ?",
                Box::new(d.clone()),
            );
        }
        if let Some(d) = &f.due_until {
            add(
                &mut sql,
                " AND f.due COLLATE \"C\" <= ? || 'T'",
                Box::new(d.clone()),
            );
        }
        sql.push_str(" ORDER BY f.due COLLATE \"C\", f.id");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        Ok(self.rows(&sql, &params)?.iter().map(followup_row).collect())
    }

    fn add_deal(
        &mut self,
        customer_id: i64,
        user_id: i64,
        amount_minor: i64,
        currency: &str,
        product: Option<&str>,
        on: &str,
        now: i64,
    ) -> Result<i64> {
        // The server's trigger sets won_at and moves a lead to customer.
        let r = self.write_rows(
            "INSERT INTO deals (customer_id, user_id, amount_minor, currency, product, on_date, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[&customer_id, &user_id, &amount_minor, &currency, &product, &on, &now],
        )?;
        Ok(r[0].get(0))
    }

    fn deal(&mut self, id: i64) -> Result<Deal> {
        match self.opt(&format!("{DEAL_SELECT} WHERE d.id = $1"), &[&id])? {
            Some(r) => Ok(deal_row(&r)),
            None => Err(self.hidden_work("deal", id)?),
        }
    }

    fn list_deals(&mut self, f: &DealFilter) -> Result<Vec<Deal>> {
        let mut sql = format!(
            "{DEAL_SELECT} WHERE c.deleted_at IS NULL
                AND ($1::bigint IS NULL OR d.customer_id = $1)
                AND ($2::bigint IS NULL OR c.owner_id = $2)
                AND ($3::bigint IS NULL OR c.owner_id IN (SELECT id FROM users WHERE team_id = $3))
                AND ($4 OR d.voided_at IS NULL)
              ORDER BY d.on_date DESC, d.id DESC"
        );
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        Ok(self
            .rows(
                &sql,
                &[
                    &f.customer_id,
                    &f.owner_id,
                    &f.owner_team,
                    &f.include_voided,
                ],
            )?
            .iter()
            .map(deal_row)
            .collect())
    }

    fn void_deal(&mut self, id: i64, by: i64, reason: &str, now: i64) -> Result<bool> {
        let n = self.exec(
            "UPDATE deals SET voided_at = $2, voided_by = $3, void_reason = $4
              WHERE id = $1 AND voided_at IS NULL",
            &[&id, &now, &by, &reason],
        )?;
        if n == 0 {
            return Ok(false);
        }
        // The server's work_log (migration 11) puts a customer left with no live deal
        // back to lead and audits the void with the stages.
        Ok(true)
    }

    fn owned_for_warning(&mut self, owner: Option<i64>, team: Option<i64>) -> Result<Vec<Watched>> {
        let rows = self.rows(
            "SELECT c.id, coalesce(c.name, c.company), u.login, c.pool_id, c.stage, c.tags, c.locked,
                    c.claimed_at, c.last_contact_at, c.won_at, c.level
               FROM customers_v c JOIN users u ON u.id = c.owner_id
              WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL
                AND ($1::bigint IS NULL OR c.owner_id = $1) AND ($2::bigint IS NULL OR u.team_id = $2)
              ORDER BY c.id",
            &[&owner, &team],
        )?;
        Ok(rows.iter().map(watched).collect())
    }
}

/// (id, label, owner login, pool, stage, tags, locked, claimed, last contact, won, level).
pub(crate) fn watched(r: &Row) -> Watched {
    let tags: String = r.get(5);
    Watched {
        id: r.get(0),
        label: r.get(1),
        owner: r.get(2),
        pool_id: r.get(3),
        facts: OwnedFacts {
            stage: r.get(4),
            tags: tag_list(&tags),
            locked: r.get(6),
            claimed_at: r.get::<_, Option<i64>>(7).unwrap_or(0),
            last_contact_at: r.get(8),
            won_at: r.get(9),
            level: r.get(10),
        },
    }
}

impl PgTx<'_> {
    /// Why a deal or follow-up the reader's history policies hide is not theirs: SQLite's
    /// "forbidden" message where the row's customer is one they may read (migration 11),
    /// else "not found".
    fn hidden_work(&mut self, kind: &str, id: i64) -> Result<Error> {
        let why: Option<String> = self
            .one("SELECT pool_private.hidden_work($1, $2)", &[&kind, &id])?
            .get(0);
        Ok(match why {
            Some(w) => Error::Forbidden(w),
            None if kind == "deal" => Error::not_found("deal", id),
            None => Error::not_found("follow-up", id),
        })
    }
}
