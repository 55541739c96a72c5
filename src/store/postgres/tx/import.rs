//! Bulk loading on the server: the loader's rows (with the ids it gave them) are COPYed
//! into a staging table the server made for this transaction (`pool_private.import_stage`),
//! then moved into `customers` and `customer_tags` by `pool_private.import_staged`, which
//! makes the row guard's INSERT checks once for the whole set, stamps the server's
//! columns, writes one audit row and moves the identity sequence (migration 10).
use std::io::Write;

use super::matching::key_record;
use super::PgTx;
use crate::domain::customer::CustomerFields;
use crate::domain::matching::Record;
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

    /// Over every customer, not only those the caller may read (the server's function:
    /// a member's import must not start at an id that is taken in a pool they do not see).
    fn max_customer_id(&mut self) -> Result<i64> {
        Ok(self
            .one("SELECT pool_private.last_customer_id()", &[])?
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

    /// The end of a bulk load: the staged rows go in now, so that their checks (pool,
    /// owner, limits) fail the import before it reports anything.
    fn restore_indexes(&mut self, _suspended: &Suspended) -> Result<()> {
        self.move_staged()
    }

    /// Rows go into the staging table by COPY (buffered here, sent a few MiB at a time);
    /// the server moves them into `customers` in one statement when anything else runs
    /// in this transaction, at the latest at `restore_indexes` (the end of the load).
    fn insert_leads(
        &mut self,
        place: &Placement,
        _created_by: Option<i64>,
        _now: i64,
        rows: &[NewLead],
    ) -> Result<()> {
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let same_place = self
            .stage
            .as_ref()
            .is_some_and(|s| s.pool_id == place.pool_id && s.owner_id == place.owner_id);
        if !same_place {
            self.move_staged()?;
            self.tx.execute("SELECT pool_private.import_stage()", &[])?;
            self.stage = Some(Stage {
                pool_id: place.pool_id,
                owner_id: place.owner_id,
                first_id: first.id,
                buf: Vec::with_capacity(SEND_BYTES + 64 * 1024),
            });
        }
        let Some(stage) = self.stage.as_mut() else {
            return Ok(());
        };
        for r in rows {
            stage.put_row(r);
        }
        if stage.buf.len() >= SEND_BYTES {
            self.send_staged()?;
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
        self.update_customer(id, f, stage, custom.map(Some), now)
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

    /// A lookup per row is a round trip (and, for a member, a scan of what the masked
    /// view shows): one pass over the keys is cheaper at any table size.
    fn key_map_for_large_files(&self) -> bool {
        true
    }

    /// From the identity sequence through the server (migration 12), which records them
    /// for this transaction: `import_staged` accepts no other id. Not a statement of the
    /// import itself, so the staged rows stay staged.
    fn reserve_customer_ids(&mut self, n: usize) -> Result<Option<Vec<i64>>> {
        let n = i32::try_from(n.clamp(1, 100_000)).unwrap_or(100_000);
        let row = self
            .tx
            .query_one("SELECT pool_private.reserve_customer_ids($1)", &[&n])?;
        Ok(Some(row.get(0)))
    }

    /// `import_staged` writes the `import` owner-history rows of an owner import.
    fn bulk_owner_imports(&self) -> bool {
        true
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

/// COPY data sent to the server once this much is buffered.
const SEND_BYTES: usize = 4 * 1024 * 1024;

const STAGE_COLUMNS: &str = "id, name, company, phone, email, city, address, source, notes, custom,
    phone_key, email_key, name_key, company_key, stage, tags, tag_keys, level, industry";

/// New customers staged for one placement, not yet in `customers`.
pub(crate) struct Stage {
    pool_id: i64,
    owner_id: Option<i64>,
    /// The lowest id staged (every staged id is at least this; every lower one is in
    /// `customers`).
    pub(crate) first_id: i64,
    /// Rows in COPY text format not yet sent.
    buf: Vec<u8>,
}

impl Stage {
    fn put(&mut self, v: Option<&str>) {
        match v {
            None => self.buf.extend_from_slice(b"\\N"),
            Some(s) => {
                for b in s.bytes() {
                    match b {
                        b'\\' => self.buf.extend_from_slice(b"\\\\"),
                        b'\n' => self.buf.extend_from_slice(b"\\n"),
                        b'\r' => self.buf.extend_from_slice(b"\\r"),
                        b'\t' => self.buf.extend_from_slice(b"\\t"),
                        _ => self.buf.push(b),
                    }
                }
            }
        }
    }

    fn put_row(&mut self, r: &NewLead) {
        let f = &r.fields;
        let tags = f.tags.join(",");
        let tag_keys = f
            .tags
            .iter()
            .map(|t| tag_key(t))
            .collect::<Vec<_>>()
            .join(",");
        self.buf.extend_from_slice(r.id.to_string().as_bytes());
        for v in [
            f.name.as_deref(),
            f.company.as_deref(),
            f.phone.as_deref(),
            f.email.as_deref(),
            f.city.as_deref(),
            f.address.as_deref(),
            f.source.as_deref(),
            f.notes.as_deref(),
            r.custom.as_deref(),
            f.keys.phone.as_deref(),
            f.keys.email.as_deref(),
            f.keys.name.as_deref(),
            f.keys.company.as_deref(),
            Some(r.stage),
            Some(tags.as_str()),
            Some(tag_keys.as_str()),
            f.level.as_deref(),
            f.industry.as_deref(),
        ] {
            self.buf.push(b'\t');
            self.put(v);
        }
        self.buf.push(b'\n');
    }
}

impl PgTx<'_> {
    /// Sends the buffered rows into the staging table.
    fn send_staged(&mut self) -> Result<()> {
        let Some(stage) = self.stage.as_mut() else {
            return Ok(());
        };
        if stage.buf.is_empty() {
            return Ok(());
        }
        let mut w = self.tx.copy_in(&format!(
            "COPY pg_temp.pool_import ({STAGE_COLUMNS}) FROM STDIN"
        ))?;
        w.write_all(&stage.buf)?;
        w.finish()?;
        stage.buf.clear();
        Ok(())
    }

    /// Moves the staged rows into `customers` (the server checks and audits them).
    pub(crate) fn move_staged(&mut self) -> Result<()> {
        if self.stage.is_none() {
            return Ok(());
        }
        self.send_staged()?;
        if let Some(stage) = self.stage.take() {
            self.tx.execute(
                "SELECT pool_private.import_staged($1, $2)",
                &[&stage.pool_id, &stage.owner_id],
            )?;
        }
        Ok(())
    }

    /// Staged (not yet moved) rows as the duplicate model sees them: the importer's own
    /// file, so nothing is masked.
    pub(crate) fn staged_records(&mut self, ids: &[i64]) -> Result<Vec<Record>> {
        if self.stage.is_none() {
            return Ok(Vec::new());
        }
        self.send_staged()?;
        Ok(self
            .tx
            .query(
                "SELECT id, name, name_key, company_key, phone_key, email_key, city, address
                   FROM pg_temp.pool_import WHERE id = ANY($1)",
                &[&ids],
            )?
            .iter()
            .map(key_record)
            .collect())
    }
}
