//! `pool demo`: the demo company's people and generated customers, in one transaction
//! with its audit row.
use serde_json::json;

use super::scope;
use crate::demo::DemoSummary;
use crate::domain::roles::{Action, User};
use crate::error::Result;
use crate::store::ops::audit::Record;
use crate::store::Backend;

/// Loads `n` demo customers for `seed`; `progress` is told every 10,000.
pub fn load(
    store: &mut dyn Backend,
    me: &User,
    n: u64,
    seed: u64,
    now: i64,
    progress: &mut dyn FnMut(u64),
) -> Result<DemoSummary> {
    scope::require(me, Action::Demo)?;
    let mut tx = store.write()?;
    // Bulk load: a bigger page cache for this connection only.
    tx.bulk_cache(256)?;
    let summary = tx.load_demo(n, seed, now, progress)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "demo",
        entity: "database",
        entity_id: None,
        before: None,
        after: Some(json!({"seed": seed, "summary": &summary})),
    })?;
    // Fresh statistics so the planner picks the right index on a big table.
    tx.refresh_statistics()?;
    tx.commit()?;
    Ok(summary)
}
