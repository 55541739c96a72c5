use super::SqliteTx;
use crate::domain::rules::Rules;
use crate::error::Result;
use crate::store::ops::rules::{PoolRow, RulesOps};
use crate::store::sqlite::{pools, rules};

impl RulesOps for SqliteTx<'_> {
    fn all_pools(&mut self) -> Result<Vec<(i64, String)>> {
        pools::all_pool_ids(&self.tx)
    }

    fn list_pools(&mut self) -> Result<Vec<PoolRow>> {
        pools::list_pools(&self.tx)
    }

    fn add_pool(&mut self, name: &str, team_ids: &[i64], now: i64) -> Result<i64> {
        pools::add_pool(&self.tx, name, team_ids, now)
    }

    fn save_rules(&mut self, pool_id: i64, rules: &Rules) -> Result<()> {
        rules::save_rules(&self.tx, pool_id, rules)
    }
}
