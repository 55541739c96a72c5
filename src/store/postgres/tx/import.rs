//! Bulk loading on the server: batches are multi-row INSERTs with the loader's ids (one
//! server audit row per statement); the identity sequence is moved past them.
use super::PgTx;
use crate::domain::customer::CustomerFields;
use crate::domain::normalize::tag_key;
use crate::error::Result;
use crate::store::ops::import::{DemoSummary, ImportOps, NewLead, Suspended};
use crate::store::ops::CustomerOps;
use crate::store::Placement;

impl ImportOps for PgTx<'_> {
    /// The server's memory is the server's business. But the guard triggers' lookups
    /// (a customer by id) must be planned for the table as it grows inside this one
    /// transaction: a generic plan made while it was small scans it whole for every row,
    /// which made a 20,000-row import take minutes.
    fn bulk_cache(&mut self, _mib: i64) -> Result<()> {
        self.exec("SET LOCAL plan_cache_mode = force_custom_plan", &[])?;
        Ok(())
    }

    fn max_customer_id(&mut self) -> Result<i64> {
        Ok(self
            .one("SELECT coalesce(max(id), 0) FROM customers", &[])?
            .get(0))
    }

    fn remember_custom_fields(&mut self, names: &[String]) -> Result<()> {
        let mut all = self.custom_field_names()?;
        let before = all.len();
        for n in names {
            if !all.contains(n) {
                all.push(n.clone());
            }
        }
        if all.len() != before {
            self.exec(
                "INSERT INTO settings (key, value) VALUES ('custom_fields', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&serde_json::to_string(&all)?],
            )?;
        }
        Ok(())
    }

    fn for_each_match_keys(&mut self, each: &mut dyn FnMut(i64, [Option<&str>; 4])) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut it = self.tx.query_raw(
            "SELECT id, phone_key, email_key, name_key, company_key FROM customers_v WHERE deleted_at IS NULL",
            std::iter::empty::<&(dyn postgres::types::ToSql + Sync)>(),
        )?;
        while let Some(r) = it.next()? {
            let (p, e, n, c): (Option<&str>, Option<&str>, Option<&str>, Option<&str>) =
                (r.get(1), r.get(2), r.get(3), r.get(4));
            each(r.get(0), [p, e, n, c]);
        }
        Ok(())
    }

    /// Indexes stay: the server maintains them per row (dropping them would need the
    /// owner, and would block every other client).
    fn suspend_indexes(&mut self) -> Result<Suspended> {
        Ok(Suspended::default())
    }

    fn restore_indexes(&mut self, _suspended: &Suspended) -> Result<()> {
        Ok(())
    }

    fn insert_leads(
        &mut self,
        place: &Placement,
        created_by: Option<i64>,
        now: i64,
        rows: &[NewLead],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (claimed, pooled) = match place.owner_id {
            Some(_) => (Some(now), None),
            None => (None, Some(now)),
        };
        let mut cols: [Vec<Option<String>>; 12] = Default::default();
        let mut ids = Vec::with_capacity(rows.len());
        let mut stages = Vec::with_capacity(rows.len());
        let mut tags = Vec::with_capacity(rows.len());
        for r in rows {
            let f = &r.fields;
            ids.push(r.id);
            stages.push(r.stage.to_string());
            tags.push(f.tags.join(","));
            for (i, v) in [
                &f.name,
                &f.company,
                &f.phone,
                &f.email,
                &f.city,
                &f.address,
                &f.source,
                &f.notes,
                &r.custom,
                &f.keys.phone,
                &f.keys.email,
                &f.keys.name,
            ]
            .into_iter()
            .enumerate()
            {
                cols[i].push(v.clone());
            }
        }
        let company_keys: Vec<Option<String>> =
            rows.iter().map(|r| r.fields.keys.company.clone()).collect();
        let levels: Vec<Option<String>> = rows.iter().map(|r| r.fields.level.clone()).collect();
        let industries: Vec<Option<String>> =
            rows.iter().map(|r| r.fields.industry.clone()).collect();
        self.exec(
            "INSERT INTO customers (id, name, company, phone, email, city, address, source, notes, custom,
                phone_key, email_key, name_key, company_key, stage, tags, level, industry, pool_id, owner_id,
                locked, created_at, updated_at, created_by, claimed_at, pooled_at)
             SELECT * , $17::bigint, $18::bigint, false, $19::bigint, $19::bigint, $20::bigint, $21::bigint, $22::bigint
               FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                           $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                           $14::text[], $15::text[], $16::text[], $23::text[], $24::text[])",
            &[
                &ids,
                &cols[0],
                &cols[1],
                &cols[2],
                &cols[3],
                &cols[4],
                &cols[5],
                &cols[6],
                &cols[7],
                &cols[8],
                &cols[9],
                &cols[10],
                &cols[11],
                &company_keys,
                &stages,
                &tags,
                &place.pool_id,
                &place.owner_id,
                &now,
                &created_by,
                &claimed,
                &pooled,
                &levels,
                &industries,
            ],
        )?;
        // Move the identity sequence past the loader's ids (nextval needs only USAGE;
        // reading or setting the sequence would need more).
        let last = ids.iter().copied().max().unwrap_or(0);
        let mut ahead = ids.len() as i64;
        while ahead > 0 {
            let got: i64 = self
                .one(
                    "SELECT max(nextval('customers_id_seq')) FROM generate_series(1, $1::bigint)",
                    &[&ahead],
                )?
                .get(0);
            ahead = last - got;
        }
        let (tag_names, tag_ids): (Vec<String>, Vec<i64>) = rows
            .iter()
            .flat_map(|r| r.fields.tags.iter().map(move |t| (tag_key(t), r.id)))
            .unzip();
        if !tag_names.is_empty() {
            self.exec(
                "INSERT INTO customer_tags (tag, customer_id) SELECT * FROM unnest($1::text[], $2::bigint[])
                 ON CONFLICT DO NOTHING",
                &[&tag_names, &tag_ids],
            )?;
        }
        Ok(())
    }

    fn fill_customer(
        &mut self,
        id: i64,
        f: &CustomerFields,
        stage: &str,
        custom: Option<&str>,
        now: i64,
    ) -> Result<()> {
        self.update_customer(id, f, stage, now)?;
        if let Some(custom) = custom {
            self.exec(
                "UPDATE customers SET custom = $2 WHERE id = $1",
                &[&id, &custom],
            )?;
        }
        Ok(())
    }

    /// The demo's people through `add_user`, its east pool and rules as an admin's plain
    /// writes (audited by the server), and the customers with their back-dated history
    /// through `pool_private.load_demo` (admins only; one audit row per batch).
    fn load_demo(
        &mut self,
        n: u64,
        seed: u64,
        now: i64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<DemoSummary> {
        use crate::demo::{plan::plan, PEOPLE};
        use crate::domain::roles::Role;
        let mut sum = DemoSummary::default();
        let mut members = Vec::new();
        for (login, display, team, role) in PEOPLE {
            let found = self.opt("SELECT id FROM users WHERE login = $1", &[login])?;
            let id: i64 = match found {
                Some(r) => r.get(0),
                None => {
                    sum.users += 1;
                    let role = role.as_str();
                    self.write_rows(
                        "SELECT pool_private.add_user($1, $2, $3, $4)",
                        &[login, team, &role, display],
                    )?[0]
                        .get(0)
                }
            };
            if matches!(role, Role::Member | Role::Manager) && team.starts_with("sales") {
                members.push(id);
            }
        }
        let east: i64 = match self.opt("SELECT id FROM pools WHERE name = 'east'", &[])? {
            Some(r) => r.get(0),
            None => self.write_rows(
                "INSERT INTO pools (name, created_at) VALUES ('east', $1) RETURNING id",
                &[&now],
            )?[0]
                .get(0),
        };
        self.exec(
            "INSERT INTO pool_rules (pool_id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&east],
        )?;
        self.exec(
            "INSERT INTO pool_teams (pool_id, team_id) SELECT $1, id FROM teams WHERE name = 'sales-east'
             ON CONFLICT DO NOTHING",
            &[&east],
        )?;
        self.exec(
            "UPDATE pool_rules SET recycle_no_contact_days = 30, recycle_no_deal_days = 90,
                reclaim_cooldown_days = 7, warn_days = 5 WHERE recycle_no_contact_days = 0",
            &[],
        )?;
        let mut batch = Vec::new();
        for (i, p) in plan(seed, n, members, now).enumerate() {
            match p {
                None => sum.skipped_invalid += 1,
                Some(p) => {
                    sum.customers += 1;
                    if p.owner.is_some() {
                        sum.owned += 1;
                        sum.interactions += p.logs.len() as u64;
                        sum.followups += u64::from(p.followup.is_some());
                        sum.deals += u64::from(p.deal.is_some());
                    } else {
                        sum.pooled += 1;
                    }
                    batch.push(demo_json(&p, if p.east { east } else { 1 }));
                }
            }
            if batch.len() >= 500 {
                self.load_demo_batch(&mut batch)?;
            }
            if (i as u64 + 1).is_multiple_of(10_000) {
                progress(i as u64 + 1);
            }
        }
        self.load_demo_batch(&mut batch)?;
        Ok(sum)
    }

    fn refresh_statistics(&mut self) -> Result<()> {
        // ANALYZE needs the table owner; autovacuum analyzes after a bulk load.
        Ok(())
    }
}

impl PgTx<'_> {
    fn load_demo_batch(&mut self, batch: &mut Vec<serde_json::Value>) -> Result<()> {
        if !batch.is_empty() {
            let rows = serde_json::Value::Array(std::mem::take(batch));
            self.write_rows("SELECT pool_private.load_demo($1)", &[&rows])?;
        }
        Ok(())
    }
}

/// One planned demo customer as `pool_private.load_demo` reads it.
fn demo_json(p: &crate::demo::plan::Planned, pool_id: i64) -> serde_json::Value {
    let f = &p.fields;
    serde_json::json!({
        "name": f.name, "company": f.company, "phone": f.phone, "email": f.email,
        "city": f.city, "address": f.address, "source": f.source, "stage": p.stage,
        "tags": f.tags.join(","), "notes": f.notes,
        "phone_key": f.keys.phone, "email_key": f.keys.email,
        "name_key": f.keys.name, "company_key": f.keys.company,
        "pool_id": pool_id, "owner_id": p.owner,
        "created_at": p.created, "updated_at": p.contact.unwrap_or(p.created),
        "claimed_at": p.claimed, "pooled_at": p.pooled,
        "last_contact_at": p.contact, "won_at": p.won_at,
        "tag_keys": f.tags.iter().map(|t| tag_key(t)).collect::<Vec<_>>(),
        "interactions": p.logs.iter()
            .map(|(kind, summary, at)| serde_json::json!({"kind": kind, "summary": summary, "at": at}))
            .collect::<Vec<_>>(),
        "followup": p.followup.as_ref()
            .map(|(due, action)| serde_json::json!({"due": due, "action": action, "at": p.contact})),
        "deal": p.deal.as_ref()
            .map(|(amount, product, on)| serde_json::json!({"amount_minor": amount, "product": product, "on": on, "at": p.contact})),
    })
}
