//! Bulk loading on the server: batches are multi-row INSERTs with the loader's ids (one
//! server audit row per statement); the identity sequence is moved past them.
use super::PgTx;
use crate::domain::customer::CustomerFields;
use crate::domain::normalize::tag_key;
use crate::error::{Error, Result};
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

    /// Not on PostgreSQL: the demo loader writes owner history and audit rows itself,
    /// which only the server may write. Load a demo into SQLite and import its export.
    fn load_demo(
        &mut self,
        _n: u64,
        _seed: u64,
        _now: i64,
        _progress: &mut dyn FnMut(u64),
    ) -> Result<DemoSummary> {
        Err(Error::Other(
            "pool demo is not available on a PostgreSQL pool: generate it into a SQLite file and pool export | pool import it".into(),
        ))
    }

    fn refresh_statistics(&mut self) -> Result<()> {
        // ANALYZE needs the table owner; autovacuum analyzes after a bulk load.
        Ok(())
    }
}
