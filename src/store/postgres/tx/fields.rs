//! Custom field declarations on the server (pg migration 5): everyone reads them,
//! admins write them (grant + policy); a customer's values are an UPDATE of `custom`
//! that the customers guard checks like any other edit.
use super::PgTx;
use crate::domain::fields::{FieldDef, FieldKind};
use crate::error::{Error, Result};
use crate::store::ops::FieldOps;

fn def(r: &postgres::Row, at: usize) -> FieldDef {
    let kind: String = r.get(at + 1);
    let choices: String = r.get(at + 2);
    FieldDef {
        name: r.get(at),
        kind: FieldKind::parse(&kind).unwrap_or(FieldKind::Text),
        choices: choices
            .split(',')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect(),
    }
}

impl FieldOps for PgTx<'_> {
    fn fields(&mut self, pool_id: i64) -> Result<Vec<FieldDef>> {
        Ok(self
            .rows(
                "SELECT name, kind, choices FROM custom_fields WHERE pool_id = $1 ORDER BY position",
                &[&pool_id],
            )?
            .iter()
            .map(|r| def(r, 0))
            .collect())
    }

    fn all_fields(&mut self) -> Result<Vec<(i64, FieldDef)>> {
        Ok(self
            .rows(
                "SELECT pool_id, name, kind, choices FROM custom_fields ORDER BY pool_id, position",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), def(r, 1)))
            .collect())
    }

    fn add_field(&mut self, pool_id: i64, d: &FieldDef, now: i64) -> Result<bool> {
        let n = self.exec(
            "INSERT INTO custom_fields (pool_id, name, kind, choices, position, created_at)
             VALUES ($1, $2, $3, $4,
                (SELECT coalesce(max(position), 0) + 1 FROM custom_fields WHERE pool_id = $1), $5)
             ON CONFLICT DO NOTHING",
            &[
                &pool_id,
                &d.name,
                &d.kind.as_str(),
                &d.choices.join(","),
                &now,
            ],
        )?;
        Ok(n == 1)
    }

    fn remove_field(&mut self, pool_id: i64, name: &str) -> Result<bool> {
        let n = self.exec(
            "DELETE FROM custom_fields WHERE pool_id = $1 AND name = $2",
            &[&pool_id, &name],
        )?;
        Ok(n == 1)
    }

    fn set_custom(&mut self, id: i64, custom: Option<&str>, now: i64) -> Result<()> {
        let n = self.exec(
            "UPDATE customers SET custom = $2, updated_at = $3 WHERE id = $1",
            &[&id, &custom, &now],
        )?;
        if n == 0 {
            return Err(Error::ChangedMeanwhile { id });
        }
        Ok(())
    }
}
