//! The seam's PostgreSQL side: [`PgTx`] wraps one server transaction and implements every
//! operation trait of `store::ops` (one file per trait, as `sqlite/tx`).
//!
//! Writes: `BEGIN` (READ COMMITTED). The server's guard triggers re-decide every rule and
//! count limits under a row lock on the gaining user's row, so the app's own check and the
//! server's cannot disagree in a way that breaks a limit. A statement that fails with
//! 40001/40P01 (serialization failure, deadlock victim) is retried a bounded number of
//! times from a savepoint taken just before it (READ COMMITTED takes a new snapshot per
//! statement, so the retry sees the winner's commit); past the bound: exit 7 (busy). A
//! whole-transaction retry would need the seam to hand the backend the app's closure.
//!
//! Reads: `BEGIN ISOLATION LEVEL REPEATABLE READ` (one snapshot; not READ ONLY, so the
//! server can count whole-key lookups, migration 20).
mod audit;
mod contacts;
mod customers;
mod fields;
mod import;
mod matching;
mod merge;
mod notify;
mod people;
mod pool;
mod recycle;
mod reports;
mod rules;
mod settings;
mod work;

use std::path::Path;

use postgres::types::ToSql;
use postgres::{Row, Transaction};

use super::errors::retryable;
use super::PgStore;
use crate::error::{Error, Result};
use crate::store::ops::maintenance::{Maintenance, PendingCopy, PreparedRestore, ServerCheck};
use crate::store::ops::{Backend, Tx};

/// How many times a statement is retried after a serialization failure or deadlock.
const RETRIES: u32 = 5;

pub struct PgTx<'c> {
    pub(crate) tx: Transaction<'c>,
    /// A write transaction (statements that write are retried from a savepoint).
    write: bool,
    /// New customers of a bulk import on their way in (see `import.rs`): every other
    /// statement of this transaction moves them into `customers` first, so nothing reads
    /// around them.
    pub(crate) stage: Option<import::Stage>,
}

impl PgTx<'_> {
    /// Rows of a read.
    pub(crate) fn rows(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.move_staged()?;
        Ok(self.tx.query(sql, params)?)
    }

    /// At most one row.
    pub(crate) fn opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        self.move_staged()?;
        Ok(self.tx.query_opt(sql, params)?)
    }

    /// Exactly one row.
    pub(crate) fn one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.move_staged()?;
        Ok(self.tx.query_one(sql, params)?)
    }

    /// A statement that writes: its row count, retried after 40001/40P01.
    pub(crate) fn exec(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.retry(|tx| tx.execute(sql, params))
    }

    /// A statement that writes and returns rows (a call of a server function), retried
    /// after 40001/40P01.
    pub(crate) fn write_rows(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        self.retry(|tx| tx.query(sql, params))
    }

    fn retry<T>(
        &mut self,
        mut run: impl FnMut(&mut Transaction<'_>) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        self.move_staged()?;
        if !self.write {
            return Ok(run(&mut self.tx)?);
        }
        let mut attempt = 0;
        loop {
            self.tx.batch_execute("SAVEPOINT pool_stmt")?;
            match run(&mut self.tx) {
                Ok(v) => {
                    self.tx.batch_execute("RELEASE SAVEPOINT pool_stmt")?;
                    return Ok(v);
                }
                Err(e) if retryable(&e) && attempt < RETRIES => {
                    self.tx.batch_execute("ROLLBACK TO SAVEPOINT pool_stmt")?;
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(
                        5 * u64::from(attempt * attempt),
                    ));
                }
                Err(e) if retryable(&e) => {
                    return Err(Error::Busy(u64::from(RETRIES)));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Tx for PgTx<'_> {
    fn commit(self: Box<Self>) -> Result<()> {
        let mut me = self;
        me.move_staged()?;
        match me.tx.commit() {
            Ok(()) => Ok(()),
            // Under SERIALIZABLE (CockroachDB) the commit itself may lose: nothing was
            // written; the command can be run again.
            Err(e) if retryable(&e) => Err(Error::Busy(0)),
            Err(e) => Err(e.into()),
        }
    }
}

impl PgStore {
    fn refuse_as(&self) -> Result<()> {
        match &self.refused_as {
            Some(os) => Err(Error::Forbidden(format!(
                "on a PostgreSQL pool you act as the role you log in as ('{}'); --as / POOL_USER cannot make '{os}' someone else: connect as that user instead (user=NAME in the connection string)",
                self.login()
            ))),
            None => Ok(()),
        }
    }

    fn begin(&mut self, write: bool) -> Result<PgTx<'_>> {
        self.refuse_as()?;
        let mut tx = self.client.transaction()?;
        if write {
            // An admin's POOL_NOW dates rule decisions (the server honours it only for
            // admins); audit rows keep the server's clock.
            if crate::clock::is_simulated() && self.may_simulate {
                let now = crate::clock::now()?.timestamp().to_string();
                tx.execute("SELECT set_config('pool.sim_now', $1, true)", &[&now])?;
            }
        } else {
            // Not READ ONLY: the server counts whole-key lookups even in a read
            // (migration 20); what a client may write is the server's call anyway.
            tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        }
        Ok(PgTx {
            tx,
            write,
            stage: None,
        })
    }
}

impl Backend for PgStore {
    fn write(&mut self) -> Result<Box<dyn Tx + '_>> {
        if crate::clock::is_simulated() && !self.may_simulate {
            return Err(Error::SimulatedClock);
        }
        Ok(Box::new(self.begin(true)?))
    }

    fn write_unchecked(&mut self) -> Result<Box<dyn Tx + '_>> {
        Ok(Box::new(self.begin(true)?))
    }

    fn read(&mut self) -> Result<Box<dyn Tx + '_>> {
        Ok(Box::new(self.begin(false)?))
    }

    fn allow_simulated_clock(&mut self, allowed: bool) {
        self.may_simulate = allowed;
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn server_login(&self) -> Option<String> {
        Some(self.login().to_string())
    }

    /// No `--as` on a server: the server knows the actor as the login role, and the
    /// audit rows it writes name that role. From here on every transaction is refused
    /// with a message that says how to act as someone else (log in as them).
    fn act_for(&mut self, os_user: &str) {
        self.refused_as = Some(os_user.to_string());
    }

    /// The server keeps no WAL copy a client could purge; VACUUM of the erased rows is
    /// the server's autovacuum's job (the owner can run `VACUUM customers`).
    fn purge_erased(&mut self) -> Result<()> {
        Ok(())
    }

    fn schema_version(&mut self) -> Result<i64> {
        super::migrate::version(&mut self.client)
    }

    fn server_checks(&mut self) -> Result<Option<Vec<ServerCheck>>> {
        self.refuse_as()?;
        super::doctor::checks(&mut self.client).map(Some)
    }

    /// `pool_private.end_sessions_of` (migration 32), in its own transaction: admins, of a
    /// deactivated user only.
    fn end_sessions_of(&mut self, login: &str) -> Result<i64> {
        self.refuse_as()?;
        let n: i32 = self
            .client
            .query_one("SELECT pool_private.end_sessions_of($1)", &[&login])?
            .get(0);
        Ok(n.into())
    }

    /// `pool_private.claim` (migration 9): one statement, its own transaction, one round
    /// trip. Whatever it does not claim, and every failure of the call itself (a role
    /// outside pool's groups, a deadlock past the retries), is left to the one-by-one
    /// path, which gives the exact error; so is everything under `--as` or a `POOL_NOW`
    /// not yet known to be an admin's.
    fn claim_at_once(&mut self, ids: &[i64]) -> Result<Option<Vec<bool>>> {
        let simulated = crate::clock::is_simulated();
        if ids.is_empty() || self.refused_as.is_some() || simulated && !self.may_simulate {
            return Ok(None);
        }
        // Integers only: nothing a user typed reaches the SQL text but digits.
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        let mut sql = String::new();
        if simulated {
            let now = crate::clock::now()?.timestamp();
            sql.push_str(&format!(
                "SELECT set_config('pool.sim_now', '{now}', true);"
            ));
        }
        sql.push_str(&format!(
            "SELECT claimed FROM pool_private.claim('{{{}}}'::bigint[])",
            list.join(",")
        ));
        for attempt in 0..=RETRIES {
            match self.client.simple_query(&sql) {
                Ok(msgs) => {
                    let rows: Vec<bool> = msgs
                        .iter()
                        .filter_map(|m| match m {
                            postgres::SimpleQueryMessage::Row(r) => Some(r.get(0) == Some("t")),
                            _ => None,
                        })
                        .collect();
                    // The set_config row comes first.
                    let rows = rows[rows.len().saturating_sub(ids.len())..].to_vec();
                    return Ok((rows.len() == ids.len()).then_some(rows));
                }
                Err(e) if retryable(&e) && attempt < RETRIES => {
                    std::thread::sleep(std::time::Duration::from_millis(
                        5 * u64::from((attempt + 1) * (attempt + 1)),
                    ));
                }
                Err(_) => return Ok(None),
            }
        }
        Ok(None)
    }
}

fn use_pg_dump(what: &str) -> Error {
    Error::invalid_hint(
        what,
        format!("pool does not {what} a PostgreSQL pool itself"),
        "as the database owner, back up with pg_dump -Fc -f pool.dump DBNAME and restore into an empty database with pg_restore -d DBNAME pool.dump (roles are cluster-wide: pg_dumpall --roles-only keeps the login roles)",
    )
}

impl Maintenance for PgStore {
    fn backup_copy(&mut self, _dest: &Path, _force: bool) -> Result<Box<dyn PendingCopy>> {
        Err(use_pg_dump("backup"))
    }

    fn prepare_restore(
        &mut self,
        _file: &Path,
        _aside: &Path,
    ) -> Result<Box<dyn PreparedRestore + '_>> {
        Err(use_pg_dump("restore"))
    }
}

/// Comma-separated tags as stored, as a list.
pub(crate) fn tag_list(tags: &str) -> Vec<String> {
    tags.split(',')
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}
