//! Customers on the server. Every read goes through `customers_v`, which masks contacts
//! where the reader may not see them (the base table's contact columns are not even
//! readable for non-admins); writes are plain DML that the server's guard re-checks.
use postgres::types::ToSql;
use postgres::Row;

use super::PgTx;
use crate::domain::customer::CustomerFields;
use crate::domain::normalize::tag_key;
use crate::domain::roles::ContactScope;
use crate::error::{Error, Result};
use crate::store::ops::customers::{Event, ForgetCounts};
use crate::store::ops::CustomerOps;
use crate::store::{Customer, ListFilter, Placement, Sort};

pub(crate) const SELECT: &str =
    "SELECT c.id, c.name, c.company, c.phone, c.email, c.city, c.address, c.source,
        c.stage, c.tags, c.notes, c.custom, c.pool_id, pl.name, c.owner_id, o.login, o.team_id,
        p.login, c.locked, c.created_at, c.updated_at, c.claimed_at, c.pooled_at, c.released_at,
        c.last_contact_at, c.won_at, c.deleted_at, c.merged_into, c.level, c.industry
    FROM customers_v c
    JOIN pools pl ON pl.id = c.pool_id
    LEFT JOIN users o ON o.id = c.owner_id
    LEFT JOIN users p ON p.id = c.previous_owner_id";

pub(crate) fn from_row(r: &Row) -> Customer {
    Customer {
        id: r.get(0),
        name: r.get(1),
        company: r.get(2),
        phone: r.get(3),
        email: r.get(4),
        city: r.get(5),
        address: r.get(6),
        source: r.get(7),
        stage: r.get(8),
        tags: r.get(9),
        notes: r.get(10),
        custom: r.get(11),
        pool_id: r.get(12),
        pool: r.get(13),
        owner_id: r.get(14),
        owner: r.get(15),
        owner_team_id: r.get(16),
        previous_owner: r.get(17),
        locked: r.get(18),
        created_at: r.get(19),
        updated_at: r.get(20),
        claimed_at: r.get(21),
        pooled_at: r.get(22),
        released_at: r.get(23),
        last_contact_at: r.get(24),
        won_at: r.get(25),
        deleted_at: r.get(26),
        merged_into: r.get(27),
        level: r.get(28),
        industry: r.get(29),
    }
}

type Args = Vec<Box<dyn ToSql + Sync>>;

pub(crate) fn refs(args: &Args) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

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

/// The WHERE clause of a filter, as SQLite's `customers::where_clause` (on the masked
/// view: a masked phone or e-mail never matches a substring, and its match keys are
/// NULL, so only unmasked rows match a whole number or address).
fn where_clause(f: &ListFilter) -> (String, Args) {
    let mut sql = String::from(" WHERE c.deleted_at IS NULL");
    let mut args: Args = Vec::new();
    let mut arg = |sql: &mut String, cond: &str, v: Box<dyn ToSql + Sync>| {
        args.push(v);
        sql.push_str(&cond.replace('?', &format!("${}", args.len())));
    };
    match f.in_pool {
        Some(None) => sql.push_str(" AND c.owner_id IS NULL"),
        Some(Some(p)) => arg(
            &mut sql,
            " AND c.owner_id IS NULL AND c.pool_id = ?",
            Box::new(p),
        ),
        None => {}
    }
    if let Some(o) = f.owner_id {
        arg(&mut sql, " AND c.owner_id = ?", Box::new(o));
    }
    if let Some(t) = f.team_id {
        arg(
            &mut sql,
            " AND c.owner_id IN (SELECT id FROM users WHERE team_id = ?)",
            Box::new(t),
        );
    }
    if let Some(s) = &f.stage {
        arg(&mut sql, " AND c.stage = ?", Box::new(s.clone()));
    }
    if let Some(t) = &f.tag {
        arg(
            &mut sql,
            " AND c.id IN (SELECT customer_id FROM customer_tags WHERE tag = ?)",
            Box::new(t.clone()),
        );
    }
    if let Some(c) = &f.city {
        arg(&mut sql, " AND c.city = ?", Box::new(c.clone()));
    }
    if let Some(s) = &f.source {
        arg(&mut sql, " AND c.source = ?", Box::new(s.clone()));
    }
    if let Some(l) = &f.level {
        arg(&mut sql, " AND c.level = ?", Box::new(l.clone()));
    }
    if let Some(i) = &f.industry {
        arg(&mut sql, " AND c.industry = ?", Box::new(i.clone()));
    }
    if let Some(q) = &f.search {
        let like = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let digits: String = q.chars().filter(|c| c.is_ascii_digit()).collect();
        arg(
            &mut sql,
            " AND (c.name LIKE ? ESCAPE '\\'",
            Box::new(like.clone()),
        );
        arg(
            &mut sql,
            " OR c.company LIKE ? ESCAPE '\\'",
            Box::new(like.clone()),
        );
        let unmasked = match f.contact_scope {
            ContactScope::All => Some("true".to_string()),
            ContactScope::PooledAndTeam(t) => Some(format!(
                "(c.owner_id IS NULL OR c.owner_id IN (SELECT id FROM users WHERE team_id = {t}))"
            )),
            ContactScope::Owner(u) => Some(format!("c.owner_id = {u}")),
            ContactScope::Nothing => None,
        };
        if let Some(cond) = unmasked {
            sql.push_str(&format!(" OR ({cond} AND c.contact_visible AND ("));
            arg(
                &mut sql,
                "c.phone LIKE ? ESCAPE '\\'",
                Box::new(like.clone()),
            );
            arg(
                &mut sql,
                " OR c.email LIKE ? ESCAPE '\\'",
                Box::new(like.clone()),
            );
            if digits.len() >= 4 {
                arg(
                    &mut sql,
                    " OR c.phone_key LIKE ?",
                    Box::new(format!("%{digits}%")),
                );
            }
            // Contact people, by the same rule (contacts_v masks them likewise).
            arg(
                &mut sql,
                " OR c.id IN (SELECT customer_id FROM contacts_v WHERE contact_visible AND (phone LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\'",
                Box::new(like),
            );
            if digits.len() >= 4 {
                arg(
                    &mut sql,
                    " OR phone_key LIKE ?",
                    Box::new(format!("%{digits}%")),
                );
            }
            sql.push_str("))))");
        }
        // A whole number or address, also where the reader sees it masked (masked rows'
        // keys are NULL in the views): the server compares the keys, by equality only
        // (migration 11), on customers and their contact people.
        let phone = crate::domain::normalize::phone_key(q).ok();
        let email = crate::domain::normalize::email_key(q).ok();
        if phone.is_some() || email.is_some() {
            arg(
                &mut sql,
                " OR c.id IN (SELECT pool_private.whole_key_match(?::text, ",
                Box::new(phone),
            );
            arg(&mut sql, "?::text))", Box::new(email));
        }
        sql.push(')');
    }
    if let Some(t) = f.contact_before {
        arg(
            &mut sql,
            " AND coalesce(c.last_contact_at, c.claimed_at, c.created_at) < ?",
            Box::new(t),
        );
    }
    if let Some(t) = f.visible_to_team {
        arg(
            &mut sql,
            " AND (c.owner_id IS NOT NULL OR c.pool_id = 1 OR c.pool_id IN (SELECT pool_id FROM pool_teams WHERE team_id = ?))",
            Box::new(t),
        );
    }
    for w in &f.conditions {
        custom_condition(&mut sql, &mut args, w);
    }
    (sql, args)
}

/// A `--where` condition on the custom JSON column, as SQLite's. On the masked view a
/// customer whose custom fields are hidden from the reader (NULL there) matches only
/// `!=`, which tells nothing of its values.
fn custom_condition(sql: &mut String, args: &mut Args, w: &crate::domain::fields::Condition) {
    use crate::domain::fields::Op;
    args.push(Box::new(w.key.clone()));
    let v = format!("(c.custom::jsonb ->> ${})", args.len());
    if w.numeric {
        args.push(Box::new(w.value.parse::<f64>().unwrap_or(0.0)));
    } else {
        args.push(Box::new(w.value.clone()));
    }
    let p = format!("${}", args.len());
    let lhs = if w.numeric {
        format!("pool_private.as_number{v}")
    } else {
        v.clone()
    };
    let cond = match w.op {
        Op::Eq => format!("{lhs} = {p}"),
        Op::Ne => format!("({v} IS NULL OR {lhs} IS DISTINCT FROM {p})"),
        Op::Gt => format!("{lhs} > {p}"),
        Op::Ge => format!("{lhs} >= {p}"),
        Op::Lt => format!("{lhs} < {p}"),
        Op::Le => format!("{lhs} <= {p}"),
        Op::Contains => format!("strpos(lower({v}), lower({p})) > 0"),
    };
    sql.push_str(&format!(" AND ({cond})"));
}

impl PgTx<'_> {
    fn write_tags(&mut self, id: i64, tags: &[String]) -> Result<()> {
        if !tags.is_empty() {
            let tags: Vec<String> = tags.iter().map(|t| tag_key(t)).collect();
            self.exec(
                "INSERT INTO customer_tags (tag, customer_id) SELECT t, $2 FROM unnest($1::text[]) t
                 ON CONFLICT DO NOTHING",
                &[&tags, &id],
            )?;
        }
        Ok(())
    }

    pub(crate) fn find(&mut self, id: i64) -> Result<Option<Customer>> {
        Ok(self
            .opt(&format!("{SELECT} WHERE c.id = $1"), &[&id])?
            .map(|r| from_row(&r)))
    }
}

impl CustomerOps for PgTx<'_> {
    fn customer(&mut self, id: i64) -> Result<Customer> {
        match self.find(id)? {
            Some(c) if c.deleted_at.is_none() => Ok(c),
            Some(c) => Err(Error::NotFound {
                what: "customer",
                id: match c.merged_into {
                    Some(s) => format!("{id} (merged into {s})"),
                    None => format!("{id} (deleted)"),
                },
            }),
            None => {
                // Hidden by row level security in a pool the team does not see: say so,
                // as SQLite does, rather than "not found".
                let hidden: Option<String> = self
                    .one("SELECT pool_private.hidden_pool($1)", &[&id])?
                    .get(0);
                match hidden {
                    Some(pool) => {
                        let team: String = self
                            .opt(
                                "SELECT t.name FROM users u JOIN teams t ON t.id = u.team_id
                                  WHERE u.login = current_user",
                                &[],
                            )?
                            .map(|r| r.get(0))
                            .unwrap_or_default();
                        Err(Error::PoolNotVisible { pool, team })
                    }
                    None => Err(Error::not_found("customer", id)),
                }
            }
        }
    }

    fn contact_keys(&mut self, id: i64) -> Result<(Option<String>, Option<String>)> {
        let r = self.one(
            "SELECT phone_key, email_key FROM customers_v WHERE id = $1",
            &[&id],
        )?;
        Ok((r.get(0), r.get(1)))
    }

    fn find_customer(&mut self, id: i64) -> Result<Option<Customer>> {
        self.find(id)
    }

    fn insert_customer(
        &mut self,
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
        // The server stamps created/claimed/pooled times and created_by for non-admins.
        let rows = self.write_rows(
            "INSERT INTO customers (name, company, phone, email, city, address, source, stage, tags,
                notes, custom, phone_key, email_key, name_key, company_key, pool_id, owner_id, locked,
                created_at, updated_at, created_by, claimed_at, pooled_at, level, industry)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, false,
                $18, $18, $19, $20, $21, $22, $23)
             RETURNING id",
            &[
                &f.name,
                &f.company,
                &f.phone,
                &f.email,
                &f.city,
                &f.address,
                &f.source,
                &stage,
                &tags,
                &f.notes,
                &custom,
                &f.keys.phone,
                &f.keys.email,
                &f.keys.name,
                &f.keys.company,
                &place.pool_id,
                &place.owner_id,
                &now,
                &created_by,
                &claimed_at,
                &pooled_at,
                &f.level,
                &f.industry,
            ],
        )?;
        let id: i64 = rows
            .first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Other("the server returned no id for a new customer".into()))?;
        self.write_tags(id, &f.tags)?;
        Ok(id)
    }

    fn update_customer(
        &mut self,
        id: i64,
        f: &CustomerFields,
        stage: &str,
        custom: Option<Option<&str>>,
        now: i64,
    ) -> Result<()> {
        // One UPDATE with the custom values, so the server audits one customer_edit row.
        // (`custom` is written only when given: members may not read the column, so the
        // statement must not mention it otherwise.)
        const SET: &str = "UPDATE customers SET name = $2, company = $3, phone = $4, email = $5,
                city = $6, address = $7, source = $8, stage = $9, tags = $10, notes = $11,
                phone_key = $12, email_key = $13, name_key = $14, company_key = $15,
                updated_at = $16, level = $17, industry = $18";
        let tags = f.tags.join(",");
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &id,
            &f.name,
            &f.company,
            &f.phone,
            &f.email,
            &f.city,
            &f.address,
            &f.source,
            &stage,
            &tags,
            &f.notes,
            &f.keys.phone,
            &f.keys.email,
            &f.keys.name,
            &f.keys.company,
            &now,
            &f.level,
            &f.industry,
        ];
        let sql = match &custom {
            Some(c) => {
                params.push(c);
                format!("{SET}, custom = $19 WHERE id = $1")
            }
            None => format!("{SET} WHERE id = $1"),
        };
        let n = self.exec(&sql, &params)?;
        if n == 0 {
            return Err(Error::ChangedMeanwhile { id });
        }
        self.exec("DELETE FROM customer_tags WHERE customer_id = $1", &[&id])?;
        self.write_tags(id, &f.tags)
    }

    fn soft_delete_customer(&mut self, id: i64, now: i64) -> Result<bool> {
        // Tags and open follow-ups first: their guards refuse rows of a deleted customer.
        // Should the customer be gone meanwhile, the caller's error rolls these back.
        self.exec("DELETE FROM customer_tags WHERE customer_id = $1", &[&id])?;
        self.exec(
            "UPDATE followups SET status = 'cancelled', note = coalesce(note, 'customer deleted'), closed_at = $2
             WHERE customer_id = $1 AND status = 'open'",
            &[&id, &now],
        )?;
        let n = self.exec(
            "UPDATE customers SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL",
            &[&id, &now],
        )?;
        Ok(n == 1)
    }

    /// The server's `forget_customer` erases (admins only) what the SQLite backend does,
    /// the owner history's reasons included, and writes the `forget` audit row itself.
    fn forget_customer(&mut self, id: i64, _now: i64) -> Result<ForgetCounts> {
        let rows = self.write_rows("SELECT pool_private.forget_customer($1)", &[&id])?;
        let counts: String = rows
            .first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Other("the server returned no counts for forget".into()))?;
        let v: serde_json::Value = serde_json::from_str(&counts)?;
        let n = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
        Ok(ForgetCounts {
            interactions: n("interactions"),
            followups: n("followups"),
            owner_events: n("owner_events"),
            merges: n("merges"),
        })
    }

    fn customer_has_deal(&mut self, id: i64) -> Result<bool> {
        Ok(self
            .one(
                "SELECT EXISTS (SELECT 1 FROM deals WHERE customer_id = $1)",
                &[&id],
            )?
            .get(0))
    }

    fn customer_timeline(&mut self, id: i64) -> Result<Vec<Event>> {
        let rows = self.rows(
            "SELECT at, kind, by, detail FROM (
                SELECT e.at AS at, e.event AS kind, b.login AS by,
                       trim(coalesce('from ' || f.login, '') || coalesce(' to ' || t.login, '')
                            || coalesce(' (' || e.reason || ')', '')) AS detail, e.id AS ord, 1 AS src
                  FROM ownership_events_v e
                  LEFT JOIN users b ON b.id = e.by_user
                  LEFT JOIN users f ON f.id = e.from_user
                  LEFT JOIN users t ON t.id = e.to_user
                 WHERE e.customer_id = $1
                UNION ALL
                SELECT i.at, i.kind, u.login, i.summary, i.id, 2
                  FROM interactions i JOIN users u ON u.id = i.user_id WHERE i.customer_id = $1
                UNION ALL
                SELECT f.created_at, 'followup ' || f.status, u.login,
                       'due ' || f.due || ': ' || f.action || coalesce(' — ' || f.note, ''), f.id, 3
                  FROM followups f JOIN users u ON u.id = f.assignee_id WHERE f.customer_id = $1
                UNION ALL
                SELECT d.created_at, CASE WHEN d.voided_at IS NULL THEN 'deal' ELSE 'deal (void)' END, u.login,
                       (d.amount_minor / 100)::text || '.' || lpad((abs(d.amount_minor) % 100)::text, 2, '0')
                         || ' ' || d.currency || coalesce(' ' || d.product, '') || ' on ' || d.on_date, d.id, 4
                  FROM deals d LEFT JOIN users u ON u.id = d.user_id WHERE d.customer_id = $1
             ) x ORDER BY at DESC, src DESC, ord DESC",
            &[&id],
        )?;
        Ok(rows
            .iter()
            .map(|r| Event {
                at: r.get(0),
                kind: r.get(1),
                by: r.get(2),
                detail: r.get(3),
            })
            .collect())
    }

    fn list_customers(&mut self, f: &ListFilter) -> Result<Vec<Customer>> {
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
        let rows = self.rows(&sql, &refs(&args))?;
        Ok(rows.iter().map(from_row).collect())
    }

    fn count_customers(&mut self, f: &ListFilter) -> Result<i64> {
        let (clause, args) = where_clause(f);
        let sql = format!("SELECT count(*) FROM customers_v c{clause}");
        Ok(self.one(&sql, &refs(&args))?.get(0))
    }

    fn for_each_customer(
        &mut self,
        f: &ListFilter,
        each: &mut dyn FnMut(Customer) -> Result<()>,
    ) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator;
        let (clause, args) = where_clause(f);
        let sql = format!("{SELECT}{clause} ORDER BY c.id");
        let params = refs(&args);
        self.move_staged()?;
        let mut it = self.tx.query_raw(&sql, params.iter().copied())?;
        while let Some(r) = it.next()? {
            each(from_row(&r))?;
        }
        Ok(())
    }

    fn custom_field_names(&mut self) -> Result<Vec<String>> {
        let v: Option<String> = self
            .opt(
                "SELECT value FROM settings WHERE key = 'custom_fields'",
                &[],
            )?
            .map(|r| r.get(0));
        Ok(v.and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default())
    }

    fn team_id_by_name(&mut self, name: &str) -> Result<i64> {
        self.opt("SELECT id FROM teams WHERE name = $1", &[&name])?
            .map(|r| r.get(0))
            .ok_or_else(|| Error::not_found("team", name))
    }
}
