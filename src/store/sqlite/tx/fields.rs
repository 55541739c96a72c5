use super::SqliteTx;
use crate::domain::fields::FieldDef;
use crate::error::Result;
use crate::store::ops::FieldOps;
use crate::store::sqlite::fields;

impl FieldOps for SqliteTx<'_> {
    fn fields(&mut self, pool_id: i64) -> Result<Vec<FieldDef>> {
        fields::list(&self.tx, pool_id)
    }

    fn all_fields(&mut self) -> Result<Vec<(i64, FieldDef)>> {
        fields::all(&self.tx)
    }

    fn add_field(&mut self, pool_id: i64, def: &FieldDef, now: i64) -> Result<bool> {
        fields::add(&self.tx, pool_id, def, now)
    }

    fn remove_field(&mut self, pool_id: i64, name: &str) -> Result<bool> {
        fields::remove(&self.tx, pool_id, name)
    }

    fn set_custom(&mut self, id: i64, custom: Option<&str>, now: i64) -> Result<()> {
        fields::set_custom(&self.tx, id, custom, now)
    }
}
