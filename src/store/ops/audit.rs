//! The audit trail: one row per change, in the change's own transaction.
use crate::domain::audit::Stored;
use crate::error::Result;
use serde_json::Value;

/// What happened, for one audit row.
pub struct Record<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LogRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    /// The OS account that acted as `actor` (`--as`), if another.
    pub os_user: Option<String>,
    /// The simulated time (`POOL_NOW`) of the change, if one was set.
    pub sim_at: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    pub customer: Option<i64>,
    pub actor: Option<String>,
    pub actors_in_team: Option<i64>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: Option<i64>,
}

pub trait AuditOps {
    /// Appends one row to the hash chain; its sequence number.
    fn audit(&mut self, record: Record) -> Result<i64>;
    /// Rows matching the filter, newest first.
    fn audit_log(&mut self, filter: &LogFilter) -> Result<Vec<LogRow>>;
    /// Every row in chain order, until `each` says stop (false).
    fn for_each_audit(&mut self, each: &mut dyn FnMut(Stored) -> Result<bool>) -> Result<()>;
    /// The chain's last row: (seq, hash); None for an empty log.
    fn audit_head(&mut self) -> Result<Option<(i64, String)>>;
    /// The row that has this hash, if any.
    fn audit_seq_of_hash(&mut self, hash: &str) -> Result<Option<i64>>;
}
