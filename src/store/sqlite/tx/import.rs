use super::SqliteTx;
use crate::domain::customer::CustomerFields;
use crate::error::Result;
use crate::store::ops::import::{DemoSummary, ImportOps, NewLead, Suspended};
use crate::store::sqlite::{bulk, customers, demo};
use crate::store::Placement;

impl ImportOps for SqliteTx<'_> {
    fn bulk_cache(&mut self, mib: i64) -> Result<()> {
        self.tx.pragma_update(None, "cache_size", -mib * 1024)?;
        Ok(())
    }

    fn max_customer_id(&mut self) -> Result<i64> {
        bulk::max_id(&self.tx)
    }

    fn remember_custom_fields(&mut self, names: &[String]) -> Result<()> {
        bulk::remember_custom_fields(&self.tx, names)
    }

    fn for_each_match_keys(&mut self, each: &mut dyn FnMut(i64, [Option<&str>; 4])) -> Result<()> {
        bulk::for_each_keys(&self.tx, each)
    }

    fn suspend_indexes(&mut self) -> Result<Suspended> {
        bulk::suspend_indexes(&self.tx)
    }

    fn restore_indexes(&mut self, suspended: &Suspended) -> Result<()> {
        bulk::restore_indexes(&self.tx, suspended)
    }

    fn insert_leads(
        &mut self,
        place: &Placement,
        created_by: Option<i64>,
        now: i64,
        rows: &[NewLead],
    ) -> Result<()> {
        bulk::insert_batch(&self.tx, place, created_by, now, rows)
    }

    fn fill_customer(
        &mut self,
        id: i64,
        f: &CustomerFields,
        stage: &str,
        custom: Option<&str>,
        now: i64,
    ) -> Result<()> {
        customers::update_fields(&self.tx, id, f, stage, now)?;
        if let Some(custom) = custom {
            customers::set_custom(&self.tx, id, custom)?;
        }
        Ok(())
    }

    fn load_demo(
        &mut self,
        n: u64,
        seed: u64,
        now: i64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<DemoSummary> {
        demo::load(&self.tx, n, seed, now, progress)
    }

    fn refresh_statistics(&mut self) -> Result<()> {
        self.tx.execute_batch("ANALYZE")?;
        Ok(())
    }
}
