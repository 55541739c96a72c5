//! `pool notify` on a server: its tables (migration 10 on SQLite) are not in the server
//! schema yet, so every operation says so.
use super::PgTx;
use crate::error::{Error, Result};
use crate::store::ops::notify::{Channel, NewChannel, NotifyOps, Recycled, RunRow};

fn not_yet() -> Error {
    Error::Other("pool notify is not available on a PostgreSQL pool yet".into())
}

impl NotifyOps for PgTx<'_> {
    fn add_channel(&mut self, _c: &NewChannel, _by: i64, _now: i64) -> Result<i64> {
        Err(not_yet())
    }
    fn channels(&mut self, _team: Option<i64>) -> Result<Vec<Channel>> {
        Err(not_yet())
    }
    fn channel(&mut self, _id: i64) -> Result<Channel> {
        Err(not_yet())
    }
    fn remove_channel(&mut self, _id: i64, _now: i64) -> Result<bool> {
        Err(not_yet())
    }
    fn user_email(&mut self, _user: i64) -> Result<Option<String>> {
        Err(not_yet())
    }
    fn set_user_email(&mut self, _user: i64, _email: Option<&str>) -> Result<()> {
        Err(not_yet())
    }
    fn last_ownership_event(&mut self) -> Result<i64> {
        Err(not_yet())
    }
    fn recycled_from(&mut self, _user: i64, _after: i64, _since: i64) -> Result<Vec<Recycled>> {
        Err(not_yet())
    }
    fn last_good_run(&mut self, _team: i64) -> Result<Option<i64>> {
        Err(not_yet())
    }
    fn was_sent(&mut self, _user: i64, _channel: i64, _item: &str) -> Result<bool> {
        Err(not_yet())
    }
    fn insert_notify_run(&mut self, _r: &RunRow) -> Result<i64> {
        Err(not_yet())
    }
    fn record_sent(
        &mut self,
        _user: i64,
        _channel: i64,
        _items: &[String],
        _run: i64,
    ) -> Result<()> {
        Err(not_yet())
    }
}
