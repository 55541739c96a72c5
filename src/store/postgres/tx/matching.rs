//! What the duplicate model reads, through the masked view: a reader matches only on the
//! keys they may see (the server's own cooldown check does not depend on it).
use postgres::Row;

use super::PgTx;
use crate::domain::customer::MatchKeys;
use crate::domain::linkage::Model;
use crate::domain::matching::Record;
use crate::error::Result;
use crate::store::ops::matching::KeyMatch;
use crate::store::ops::MatchingOps;

const RECORD: &str =
    "SELECT c.id, c.name, c.company, c.phone_key, c.email_key, c.city, c.address, u.login
     FROM customers_v c LEFT JOIN users u ON u.id = c.owner_id";

/// id, name, name_key, company_key, phone_key, email_key, city, address.
pub(crate) fn key_record(r: &Row) -> Record {
    Record::from_keys(
        r.get(0),
        r.get::<_, Option<&str>>(1),
        r.get::<_, Option<&str>>(2),
        r.get::<_, Option<&str>>(3),
        r.get::<_, Option<&str>>(4),
        r.get::<_, Option<&str>>(5),
        r.get::<_, Option<&str>>(6),
        r.get::<_, Option<&str>>(7),
    )
}

fn record_row(r: &Row) -> Record {
    Record::new(
        r.get(0),
        r.get::<_, Option<&str>>(1),
        r.get::<_, Option<&str>>(2),
        r.get::<_, Option<&str>>(3),
        r.get::<_, Option<&str>>(4),
        r.get::<_, Option<&str>>(5),
        r.get::<_, Option<&str>>(6),
        r.get(7),
    )
}

impl MatchingOps for PgTx<'_> {
    fn live_count(&mut self) -> Result<i64> {
        Ok(self
            .one(
                "SELECT count(*) FROM customers WHERE deleted_at IS NULL",
                &[],
            )?
            .get(0))
    }

    fn saved_model(&mut self) -> Result<Option<Model>> {
        let v: Option<String> = self
            .opt("SELECT value FROM settings WHERE key = 'match_model'", &[])?
            .map(|r| r.get(0));
        Ok(v.and_then(|s| serde_json::from_str::<Model>(&s).ok())
            .map(|mut m| {
                m.prepare();
                m
            }))
    }

    /// Settings are admins' (grant and policy): for anyone else the model is fitted
    /// again next time instead of saved.
    fn save_model(&mut self, model: &Model) -> Result<()> {
        let admin: bool = self
            .one("SELECT pool_private.my_role() IS NOT DISTINCT FROM 'admin' OR pool_private.is_owner()", &[])?
            .get(0);
        if admin {
            self.exec(
                "INSERT INTO settings (key, value) VALUES ('match_model', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&serde_json::to_string(model)?],
            )?;
        }
        Ok(())
    }

    fn recent_records(&mut self, limit: usize) -> Result<Vec<Record>> {
        let limit = limit as i64;
        Ok(self
            .rows(
                &format!("{RECORD} WHERE c.deleted_at IS NULL ORDER BY c.id DESC LIMIT $1"),
                &[&limit],
            )?
            .iter()
            .map(record_row)
            .collect())
    }

    fn neighbours(&mut self, keys: &MatchKeys, limit: i64) -> Result<Vec<Record>> {
        Ok(self
            .rows(
                &format!(
                    "{RECORD} WHERE c.deleted_at IS NULL
                       AND ((c.phone_key = $1 AND $1::text IS NOT NULL) OR (c.email_key = $2 AND $2::text IS NOT NULL)
                            OR c.name_key = $3)
                     ORDER BY c.id LIMIT $4"
                ),
                &[&keys.phone, &keys.email, &keys.name, &limit],
            )?
            .iter()
            .map(record_row)
            .collect())
    }

    fn match_record(&mut self, id: i64) -> Result<Option<Record>> {
        Ok(self.match_records(&[id])?.pop())
    }

    /// One query for the ids in the database (through the masked view) and one for those
    /// staged by this import (the importer's own rows). Neither moves the staged rows: an
    /// id below the first staged one is in `customers` already.
    fn match_records(&mut self, ids: &[i64]) -> Result<Vec<Record>> {
        let first_staged = self.stage.as_ref().map_or(i64::MAX, |s| s.first_id);
        let (staged, stored): (Vec<i64>, Vec<i64>) =
            ids.iter().partition(|id| **id >= first_staged);
        let mut out = Vec::with_capacity(ids.len());
        if !stored.is_empty() {
            let rows = self.tx.query(
                "SELECT id, name, name_key, company_key, phone_key, email_key, city, address
                   FROM customers_v WHERE id = ANY($1)",
                &[&stored],
            )?;
            out.extend(rows.iter().map(key_record));
        }
        if !staged.is_empty() {
            out.extend(self.staged_records(&staged)?);
        }
        Ok(out)
    }

    /// Migration 20's definer function: masked and hidden customers by whole key.
    fn whole_key_matches(&mut self, phones: &[&str], emails: &[&str]) -> Result<Vec<KeyMatch>> {
        if phones.is_empty() && emails.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .rows(
                "SELECT id, phone_key, email_key FROM pool_private.whole_key_matches($1, $2)",
                &[&phones, &emails],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// Migration 21: today's quota left, NULL for admins.
    fn key_lookups_left(&mut self) -> Result<Option<i64>> {
        Ok(self
            .rows("SELECT pool_private.key_lookups_left()", &[])?
            .first()
            .and_then(|r| r.get(0)))
    }

    fn all_records(&mut self) -> Result<Vec<Record>> {
        Ok(self
            .rows(
                &format!("{RECORD} WHERE c.deleted_at IS NULL ORDER BY c.id"),
                &[],
            )?
            .iter()
            .map(record_row)
            .collect())
    }
}
