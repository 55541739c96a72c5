use super::SqliteTx;
use crate::domain::customer::MatchKeys;
use crate::domain::linkage::{Keys, Model};
use crate::domain::matching::Record;
use crate::error::Result;
use crate::store::ops::MatchingOps;
use crate::store::sqlite::{customers, dedupe};

impl MatchingOps for SqliteTx<'_> {
    fn live_count(&mut self) -> Result<i64> {
        customers::live_count(&self.tx)
    }

    fn saved_model(&mut self) -> Result<Option<Model>> {
        dedupe::saved_model(&self.tx)
    }

    fn save_model(&mut self, model: &Model) -> Result<()> {
        dedupe::save_model(&self.tx, model)
    }

    fn recent_records(&mut self, limit: usize) -> Result<Vec<Record>> {
        dedupe::recent_records(&self.tx, limit)
    }

    fn neighbours(&mut self, keys: &MatchKeys, limit: i64) -> Result<Vec<Record>> {
        dedupe::neighbours(&self.tx, keys, limit)
    }

    fn match_record(&mut self, id: i64) -> Result<Option<Record>> {
        dedupe::record(&self.tx, id)
    }

    fn all_records(&mut self) -> Result<Vec<Record>> {
        dedupe::records(&self.tx)
    }

    fn each_record(&mut self, f: &mut dyn FnMut(Record)) -> Result<()> {
        dedupe::each_record(&self.tx, f)
    }

    fn each_keys(&mut self, f: &mut (dyn FnMut(i64, &Keys, Option<&str>) + Send)) -> Result<()> {
        dedupe::each_keys(&self.tx, f)
    }
}
