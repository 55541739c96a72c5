//! Pools and their rules.
use crate::domain::rules::Rules;
use crate::error::Result;

#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolRow {
    pub id: i64,
    pub name: String,
    pub teams: String,
    pub pooled: i64,
}

pub trait RulesOps {
    /// Every pool: (id, name), public first.
    fn all_pools(&mut self) -> Result<Vec<(i64, String)>>;
    /// Pools with the teams that see them and how many customers wait in each.
    fn list_pools(&mut self) -> Result<Vec<PoolRow>>;
    /// A new team pool that only these teams see (exists already: exit 5); its id.
    fn add_pool(&mut self, name: &str, team_ids: &[i64], now: i64) -> Result<i64>;
    /// Replaces a pool's rules (owned customers' recycle dates follow).
    fn save_rules(&mut self, pool_id: i64, rules: &Rules) -> Result<()>;
}
