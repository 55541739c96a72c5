//! Schema migrations. `schema.sql` is migration 1; later changes are appended here as
//! new migrations and shipped ones are never edited.
use std::sync::LazyLock;

use rusqlite::{Connection, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

use crate::error::{Error, Result};

/// The schema's steps, in order; step N brings a database to version N.
const STEPS: [&str; 7] = [
    include_str!("../../schema.sql"),
    // 2: `pool forget` and merge undo look merges up by survivor.
    "CREATE INDEX merges_survivor ON merges(survivor_id);",
    // 3: reports at a million customers: locked customers per owner without
    // reading rows, deal amounts per user from the index alone.
    "CREATE INDEX customers_locked ON customers(owner_id) WHERE locked = 1 AND deleted_at IS NULL;
     CREATE INDEX deals_user_amount ON deals(user_id, amount_minor);",
    // 4: cross-team shares (report teams) from the few customers that changed hands.
    "CREATE INDEX customers_previous_owner ON customers(previous_owner_id, owner_id)
     WHERE previous_owner_id IS NOT NULL AND owner_id IS NOT NULL AND deleted_at IS NULL;",
    // 5: reports at a million customers answered from indexes (see the file).
    include_str!("migrations/5-recycle-due.sql"),
    // 6: the quality report from indexes (see the file).
    include_str!("migrations/6-quality.sql"),
    // 7: who really ran a command that acted as someone else, and the simulated time of
    // a change made under POOL_NOW (the row's own time is always the real one).
    "ALTER TABLE audit_log ADD COLUMN os_user TEXT;
     ALTER TABLE audit_log ADD COLUMN sim_at INTEGER;",
];

/// The same steps for rusqlite_migration's checks (`validate`).
pub static MIGRATIONS: LazyLock<Migrations<'static>> =
    LazyLock::new(|| Migrations::new(STEPS.iter().map(|sql| M::up(sql)).collect()));

/// The schema version this binary writes.
pub const LATEST: i64 = STEPS.len() as i64;

pub fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the database up to `LATEST`; refuses one written by a newer binary.
///
/// Several processes may open a brand-new (or older) file at once. The version is read
/// again inside a transaction that holds the write lock from its start (IMMEDIATE), so
/// exactly one process runs each step and the others, once they get the lock, find the
/// work done. Waiting past the busy timeout is exit 7, like any other write.
pub fn to_latest(conn: &mut Connection) -> Result<()> {
    let found = user_version(conn)?;
    if found > LATEST {
        return Err(Error::SchemaTooNew {
            found,
            known: LATEST,
        });
    }
    if found == LATEST {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = user_version(&tx)?;
    if found > LATEST {
        return Err(Error::SchemaTooNew {
            found,
            known: LATEST,
        });
    }
    for (i, sql) in STEPS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql).map_err(|e| match Error::from(e) {
            Error::Sqlite(e) => Error::Other(format!(
                "cannot upgrade the database to schema version {}: {e}",
                i + 1
            )),
            busy => busy,
        })?;
    }
    tx.pragma_update(None, "user_version", LATEST)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_validate() {
        MIGRATIONS.validate().unwrap();
    }

    #[test]
    fn latest_matches_the_migration_count() {
        let mut conn = Connection::open_in_memory().unwrap();
        to_latest(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), LATEST);
    }

    #[test]
    fn newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        let e = to_latest(&mut conn).unwrap_err();
        assert!(matches!(e, Error::SchemaTooNew { .. }));
        assert!(e.to_string().contains("newer"));
    }
}
