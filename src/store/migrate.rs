//! Schema migrations. `schema.sql` is migration 1; later changes are appended here as
//! new migrations and shipped ones are never edited.
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

use crate::error::{Error, Result};

pub static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up(include_str!("../../schema.sql")),
        // 2: `pool forget` and merge undo look merges up by survivor.
        M::up("CREATE INDEX merges_survivor ON merges(survivor_id);"),
        // 3: reports at a million customers: locked customers per owner without
        // reading rows, deal amounts per user from the index alone.
        M::up(
            "CREATE INDEX customers_locked ON customers(owner_id) WHERE locked = 1 AND deleted_at IS NULL;
             CREATE INDEX deals_user_amount ON deals(user_id, amount_minor);",
        ),
        // 4: cross-team shares (report teams) from the few customers that changed hands.
        M::up(
            "CREATE INDEX customers_previous_owner ON customers(previous_owner_id, owner_id)
             WHERE previous_owner_id IS NOT NULL AND owner_id IS NOT NULL AND deleted_at IS NULL;",
        ),
        // 5: reports at a million customers answered from indexes (see the file).
        M::up(include_str!("migrations/5-recycle-due.sql")),
        // 6: the quality report from indexes (see the file).
        M::up(include_str!("migrations/6-quality.sql")),
        // 7: voided deals; live deals per owner and currency (see the file).
        M::up(include_str!("migrations/7-deal-void.sql")),
    ])
});

/// The schema version this binary writes.
pub const LATEST: i64 = 7;

pub fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the database up to `LATEST`; refuses one written by a newer binary.
///
/// Two processes may open a brand-new file at once. The migration runs in one
/// transaction, so the loser of that race gets SQLITE_BUSY and simply re-reads the
/// version, which the winner has by then moved forward.
pub fn to_latest(conn: &mut Connection) -> Result<()> {
    let deadline = Instant::now() + super::busy_timeout();
    loop {
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
        match MIGRATIONS.to_latest(conn) {
            Ok(()) => return Ok(()),
            Err(rusqlite_migration::Error::RusqliteError { err, .. })
                if is_busy(&err) && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(Error::Other(format!("cannot migrate the database: {e}"))),
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked)
    )
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
