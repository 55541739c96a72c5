use super::SqliteTx;
use crate::error::Result;
use crate::store::ops::notify::{Channel, NewChannel, NotifyOps, Recycled, RunRow};
use crate::store::sqlite::notify;

impl NotifyOps for SqliteTx<'_> {
    fn add_channel(&mut self, c: &NewChannel, by: i64, now: i64) -> Result<i64> {
        notify::add_channel(&self.tx, c, by, now)
    }

    fn channels(&mut self, team: Option<i64>) -> Result<Vec<Channel>> {
        notify::channels(&self.tx, team)
    }

    fn channel(&mut self, id: i64) -> Result<Channel> {
        notify::channel(&self.tx, id)
    }

    fn remove_channel(&mut self, id: i64, now: i64) -> Result<bool> {
        notify::remove_channel(&self.tx, id, now)
    }

    fn user_email(&mut self, user: i64) -> Result<Option<String>> {
        notify::user_email(&self.tx, user)
    }

    fn set_user_email(&mut self, user: i64, email: Option<&str>) -> Result<()> {
        notify::set_user_email(&self.tx, user, email)
    }

    fn last_ownership_event(&mut self) -> Result<i64> {
        notify::last_ownership_event(&self.tx)
    }

    fn recycled_from(&mut self, user: i64, after_event: i64, since: i64) -> Result<Vec<Recycled>> {
        notify::recycled_from(&self.tx, user, after_event, since)
    }

    fn last_good_run(&mut self, team: i64) -> Result<Option<i64>> {
        notify::last_good_run(&self.tx, team)
    }

    fn was_sent(&mut self, user: i64, channel: i64, item: &str) -> Result<bool> {
        notify::was_sent(&self.tx, user, channel, item)
    }

    fn insert_notify_run(&mut self, r: &RunRow) -> Result<i64> {
        notify::insert_run(&self.tx, r)
    }

    fn record_sent(&mut self, user: i64, channel: i64, items: &[String], run: i64) -> Result<()> {
        notify::record_sent(&self.tx, user, channel, items, run)
    }
}
