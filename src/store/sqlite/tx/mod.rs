//! The seam's SQLite side: [`SqliteTx`] wraps one rusqlite transaction and implements
//! every operation trait of `store::ops` (one file per trait) by calling this backend's
//! SQL functions.
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

use rusqlite::{Transaction, TransactionBehavior};

use super::Store;
use crate::error::{Error, Result};
use crate::store::ops::{Backend, Tx};

pub struct SqliteTx<'c> {
    pub(crate) tx: Transaction<'c>,
}

impl Tx for SqliteTx<'_> {
    fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit()?;
        Ok(())
    }
}

impl Backend for Store {
    fn write(&mut self) -> Result<Box<dyn Tx + '_>> {
        if crate::clock::is_simulated() && !self.may_simulate {
            return Err(Error::SimulatedClock);
        }
        self.write_unchecked()
    }

    fn write_unchecked(&mut self) -> Result<Box<dyn Tx + '_>> {
        // IMMEDIATE: the write lock is taken at BEGIN, so nothing decided inside can be
        // invalidated by another writer (no check-then-act races).
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(Box::new(SqliteTx { tx }))
    }

    fn read(&mut self) -> Result<Box<dyn Tx + '_>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)?;
        Ok(Box::new(SqliteTx { tx }))
    }

    fn allow_simulated_clock(&mut self, allowed: bool) {
        self.may_simulate = allowed;
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn purge_erased(&mut self) -> Result<()> {
        self.checkpoint()
    }

    fn schema_version(&mut self) -> Result<i64> {
        super::migrate::user_version(&self.conn)
    }

    fn act_for(&mut self, os_user: &str) {
        super::audit::set_os_user(os_user);
    }
}
