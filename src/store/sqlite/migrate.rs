//! Schema migrations: `migrations/NNN-*.sql`, applied in order; step N brings a database
//! to version N. Shipped migrations are never edited; a change is a new file. The
//! top-level `schema.sql` is the resulting full schema, for reading (a test keeps it true).
use std::sync::LazyLock;

use rusqlite::{Connection, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

use crate::error::{Error, Result};

/// The schema's steps, in order; step N brings a database to version N.
const STEPS: [&str; 12] = [
    include_str!("migrations/001-initial.sql"),
    include_str!("migrations/002-merges-survivor.sql"),
    include_str!("migrations/003-locked-and-deal-amounts.sql"),
    include_str!("migrations/004-previous-owner.sql"),
    include_str!("migrations/005-recycle-due.sql"),
    include_str!("migrations/006-quality.sql"),
    include_str!("migrations/007-audit-os-user.sql"),
    include_str!("migrations/008-deal-void.sql"),
    include_str!("migrations/009-automation.sql"),
    include_str!("migrations/010-notify.sql"),
    include_str!("migrations/011-fields-level-industry.sql"),
    include_str!("migrations/012-contacts.sql"),
];

/// The same steps for rusqlite_migration's checks (`validate`).
pub static MIGRATIONS: LazyLock<Migrations<'static>> =
    LazyLock::new(|| Migrations::new(STEPS.iter().map(|sql| M::up(sql)).collect()));

/// The schema version this binary writes.
pub const LATEST: i64 = STEPS.len() as i64;

/// A schema as SQLite keeps it: (type, name, sql) of every table, index, trigger and
/// view, SQLite's own objects left out.
pub type Schema = Vec<(String, String, Option<String>)>;

pub fn schema_of(conn: &Connection) -> Result<Schema> {
    let mut s = conn.prepare(
        "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
    )?;
    let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The schema this binary's migrations give a database of `version`.
pub fn expected_schema(version: i64) -> Result<Schema> {
    let conn = Connection::open_in_memory()?;
    for sql in STEPS.iter().take(version.clamp(0, LATEST) as usize) {
        conn.execute_batch(sql)?;
    }
    schema_of(&conn)
}

/// Checks that a database holds exactly the tables, indexes, triggers and views of a pool
/// database of its version: nothing missing (a dropped append-only trigger), nothing
/// added (a planted trigger that rewrites customers after the next write). What differs
/// is named.
pub fn check_schema(conn: &Connection) -> Result<()> {
    let version = user_version(conn)?;
    if !(1..=LATEST).contains(&version) {
        return Err(Error::Integrity(format!(
            "schema version {version} is not one this pool writes (1 to {LATEST}): not a pool database"
        )));
    }
    let found = schema_of(conn)?;
    let want = expected_schema(version)?;
    let name = |o: &(String, String, Option<String>)| format!("{} {}", o.0, o.1);
    let extra: Vec<String> = found
        .iter()
        .filter(|o| !want.contains(o))
        .map(name)
        .collect();
    let missing: Vec<String> = want
        .iter()
        .filter(|o| !found.contains(o))
        .map(name)
        .collect();
    if extra.is_empty() && missing.is_empty() {
        return Ok(());
    }
    let list = |v: &[String]| {
        let mut s = v.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if v.len() > 5 {
            s.push_str(&format!(" and {} more", v.len() - 5));
        }
        s
    };
    let mut what = Vec::new();
    if !missing.is_empty() {
        what.push(format!("missing or changed: {}", list(&missing)));
    }
    if !extra.is_empty() {
        what.push(format!("not pool's: {}", list(&extra)));
    }
    Err(Error::Integrity(format!(
        "the schema is not pool's schema version {version} ({})",
        what.join("; ")
    )))
}

/// Whether the tables (not the indexes, triggers or views) are pool's for the version:
/// then every query of pool's can still run, and `doctor` checks the rows too.
pub fn tables_match(conn: &Connection) -> bool {
    let tables = |s: Schema| -> Schema { s.into_iter().filter(|o| o.0 == "table").collect() };
    match (user_version(conn), schema_of(conn)) {
        (Ok(v), Ok(found)) if (1..=LATEST).contains(&v) => {
            expected_schema(v).is_ok_and(|want| tables(want) == tables(found))
        }
        _ => false,
    }
}

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
    if found == 0 && !schema_of(&tx)?.is_empty() {
        return Err(Error::Integrity(
            "the file is an SQLite database with tables of its own, not a pool database".into(),
        ));
    }
    for (i, sql) in STEPS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql).map_err(|e| match Error::from(e) {
            // The message only: SQLite's own error text would quote the schema.
            Error::Sqlite(rusqlite::Error::SqlInputError { msg, .. }) => Error::Integrity(format!(
                "cannot upgrade the database to schema version {}: {msg}",
                i + 1
            )),
            Error::Sqlite(e) => Error::Integrity(format!(
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

    /// The full current schema as written by this binary's migrations, in creation order:
    /// what the top-level `schema.sql` must say.
    fn current_schema_sql() -> String {
        let mut conn = Connection::open_in_memory().unwrap();
        to_latest(&mut conn).unwrap();
        let mut s = conn
            .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid")
            .unwrap();
        let stmts: Vec<String> = s
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        stmts.iter().map(|q| format!("{q};\n\n")).collect()
    }

    const SCHEMA_HEADER: &str = "-- pool: the current full schema (SQLite), for reading. Generated from the\n-- migrations in src/store/sqlite/migrations/ (the only source of truth; a database\n-- is built and upgraded by them). A unit test fails when this file is out of date;\n-- regenerate it with: POOL_WRITE_SCHEMA=1 cargo test --lib schema_sql\n\n";

    #[test]
    fn schema_sql_is_the_migrated_schema() {
        let want = format!("{SCHEMA_HEADER}{}", current_schema_sql());
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.sql");
        if std::env::var_os("POOL_WRITE_SCHEMA").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap();
        // Loaded into an empty database, it gives exactly the migrated schema too.
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&have).unwrap();
        assert_eq!(schema_of(&conn).unwrap(), expected_schema(LATEST).unwrap());
        assert!(have == want, "schema.sql is out of date; regenerate it: POOL_WRITE_SCHEMA=1 cargo test --lib schema_sql");
    }

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
    fn a_migrated_database_has_exactly_the_expected_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        to_latest(&mut conn).unwrap();
        check_schema(&conn).unwrap();
        conn.execute_batch("CREATE TRIGGER zz AFTER INSERT ON audit_log BEGIN SELECT 1; END;")
            .unwrap();
        let e = check_schema(&conn).unwrap_err().to_string();
        assert!(e.contains("not pool's: trigger zz"), "{e}");
        conn.execute_batch("DROP TRIGGER zz; DROP TRIGGER audit_no_update;")
            .unwrap();
        let e = check_schema(&conn).unwrap_err().to_string();
        assert!(
            e.contains("missing or changed: trigger audit_no_update"),
            "{e}"
        );
        // An older version is checked against that version's schema.
        let mut old = Connection::open_in_memory().unwrap();
        MIGRATIONS.to_version(&mut old, 3).unwrap();
        check_schema(&old).unwrap();
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
