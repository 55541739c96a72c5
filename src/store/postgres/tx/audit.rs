//! The audit trail on the server: written by the server's triggers in the change's own
//! transaction; a client adds only notes (exports, unmasked reads, verifies) through
//! `pool_private.audit_note`, which returns the server's row for a change it audited.
use postgres::types::ToSql;

use super::customers::refs;
use super::PgTx;
use crate::domain::audit::Stored;
use crate::error::Result;
use crate::store::ops::audit::{AuditOps, LogFilter, LogRow, Record};

impl AuditOps for PgTx<'_> {
    fn audit(&mut self, r: Record) -> Result<i64> {
        let before = r.before.map(|v| v.to_string());
        let after = r.after.map(|v| v.to_string());
        // The server refuses a client's row for a data change (it audits every change
        // itself, in its triggers): that refusal only says the row exists already, or
        // will when the change is made.
        self.move_staged()?;
        self.tx.batch_execute("SAVEPOINT pool_note")?;
        match self.tx.query_one(
            "SELECT pool_private.audit_note($1, $2, $3, $4, $5)",
            &[&r.action, &r.entity, &r.entity_id, &before, &after],
        ) {
            Ok(row) => {
                self.tx.batch_execute("RELEASE SAVEPOINT pool_note")?;
                Ok(row.get(0))
            }
            Err(e)
                if e.code().map(|c| c.code()) == Some("PT403")
                    && e.as_db_error()
                        .is_some_and(|d| d.message().contains("writes the audit row")) =>
            {
                self.tx.batch_execute("ROLLBACK TO SAVEPOINT pool_note")?;
                Ok(0)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn audit_log(&mut self, f: &LogFilter) -> Result<Vec<LogRow>> {
        let mut sql = String::from(
            "SELECT seq, at, actor, action, entity, entity_id, before, after, os_user, sim_at FROM audit_log WHERE true",
        );
        let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut add = |sql: &mut String, cond: &str, v: Box<dyn ToSql + Sync>| {
            args.push(v);
            sql.push_str(&cond.replace('?', &format!("${}", args.len())));
        };
        if let Some(c) = f.customer {
            add(
                &mut sql,
                " AND ((entity = 'customer' AND entity_id = ?)
                    OR (entity = 'followup' AND (after::jsonb ->> 'customer')::bigint = ?)
                    OR (action = 'import' AND (after::jsonb ->> 'first_id')::bigint <= ?
                        AND (after::jsonb ->> 'last_id')::bigint >= ?))",
                Box::new(c),
            );
        }
        if let Some(a) = &f.actor {
            add(&mut sql, " AND actor = ?", Box::new(a.clone()));
        }
        if let Some(t) = f.actors_in_team {
            add(
                &mut sql,
                " AND actor IN (SELECT login FROM users WHERE team_id = ?)",
                Box::new(t),
            );
        }
        if let Some(a) = &f.action {
            add(&mut sql, " AND action = ?", Box::new(a.clone()));
        }
        if let Some(t) = f.since {
            add(&mut sql, " AND at >= ?", Box::new(t));
        }
        if let Some(t) = f.until {
            add(&mut sql, " AND at < ?", Box::new(t));
        }
        sql.push_str(" ORDER BY seq DESC");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let rows = self.rows(&sql, &refs(&args))?;
        Ok(rows
            .iter()
            .map(|r| LogRow {
                seq: r.get(0),
                at: crate::clock::iso_ts(Some(r.get(1))).unwrap_or_default(),
                actor: r.get(2),
                action: r.get(3),
                entity: r.get(4),
                entity_id: r.get(5),
                before: r.get(6),
                after: r.get(7),
                os_user: r.get(8),
                sim_at: crate::clock::iso_ts(r.get(9)),
            })
            .collect())
    }

    /// Admins (and the owner) read every row and the verifier hashes it; a manager reads
    /// only their team's rows and no hashes (migration 30), so the server checks each row
    /// for them (`pool_private.audit_chain`) and gives the head as a digest.
    fn for_each_audit(&mut self, each: &mut dyn FnMut(Stored) -> Result<bool>) -> Result<()> {
        use crate::domain::audit::Checked;
        use postgres::fallible_iterator::FallibleIterator;
        let reads_all: bool = self
            .one(
                "SELECT pool_private.is_owner() OR coalesce(pool_private.my_role() = 'admin', false)",
                &[],
            )?
            .get(0);
        let sql = if reads_all {
            "SELECT seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash, os_user, sim_at,
                    NULL::boolean, NULL::boolean, NULL::boolean
             FROM audit_log ORDER BY seq"
        } else {
            "SELECT seq, 0::bigint, '', '', '', NULL::bigint, NULL, NULL, '', coalesce(head, ''), NULL, NULL::bigint,
                    intact, linked, ordered
             FROM pool_private.audit_chain()"
        };
        let mut it = self
            .tx
            .query_raw(sql, std::iter::empty::<&(dyn ToSql + Sync)>())?;
        while let Some(r) = it.next()? {
            let checked = match (r.get(12), r.get(13), r.get(14)) {
                (Some(intact), Some(linked), Some(ordered)) => Some(Checked {
                    intact,
                    linked,
                    ordered,
                }),
                _ => None,
            };
            let row = Stored {
                seq: r.get(0),
                at: r.get(1),
                actor: r.get(2),
                action: r.get(3),
                entity: r.get(4),
                entity_id: r.get(5),
                before: r.get(6),
                after: r.get(7),
                prev_hash: r.get(8),
                hash: r.get(9),
                os_user: r.get(10),
                sim_at: r.get(11),
                checked,
            };
            if !each(row)? {
                break;
            }
        }
        Ok(())
    }

    /// The head row (migration 1's `audit_head`, moved with every append; admins).
    fn audit_head(&mut self) -> Result<Option<(i64, String)>> {
        Ok(self
            .opt("SELECT seq, hash FROM audit_head WHERE seq > 0", &[])?
            .map(|r| (r.get(0), r.get(1))))
    }

    /// The row holding `hash`, or a head digest a manager was given.
    fn audit_seq_of_hash(&mut self, hash: &str) -> Result<Option<i64>> {
        Ok(self
            .one("SELECT pool_private.audit_seq_of_hash($1)", &[&hash])?
            .get(0))
    }
}
