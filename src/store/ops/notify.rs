//! Reminders: delivery channels per team, people's e-mail addresses, what was recycled
//! from whom, and the log of runs and of what each channel was sent.
use serde::Serialize;

use crate::error::Result;

/// A delivery channel as stored (the target is a secret: shown whole to admins only).
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    pub id: i64,
    pub team: String,
    pub kind: String,
    pub preset: String,
    pub target: String,
    pub sender: Option<String>,
    #[serde(skip)]
    pub team_id: i64,
}

/// A new channel.
pub struct NewChannel<'a> {
    pub team_id: i64,
    pub kind: &'a str,
    pub preset: &'a str,
    pub target: &'a str,
    pub sender: Option<&'a str>,
}

/// A customer recycled from someone: the ownership event.
#[derive(Debug, Clone)]
pub struct Recycled {
    pub event: i64,
    pub customer_id: i64,
    pub label: Option<String>,
    pub at: i64,
    pub reason: Option<String>,
}

/// What one run did, for its log row.
pub struct RunRow {
    pub at: i64,
    pub by: i64,
    pub team_id: Option<i64>,
    pub last_event: i64,
    pub digests: i64,
    pub sent: i64,
    pub failed: i64,
}

pub trait NotifyOps {
    /// Adds a channel; its id.
    fn add_channel(&mut self, c: &NewChannel, by: i64, now: i64) -> Result<i64>;
    /// The channels in use, of one team or all.
    fn channels(&mut self, team: Option<i64>) -> Result<Vec<Channel>>;
    /// One channel in use (not found: exit 3).
    fn channel(&mut self, id: i64) -> Result<Channel>;
    /// Takes a channel out of use (kept for the sent log); false if it was not in use.
    fn remove_channel(&mut self, id: i64, now: i64) -> Result<bool>;
    /// A user's e-mail address, if set.
    fn user_email(&mut self, user: i64) -> Result<Option<String>>;
    fn set_user_email(&mut self, user: i64, email: Option<&str>) -> Result<()>;
    /// The newest ownership event's id (0: none).
    fn last_ownership_event(&mut self) -> Result<i64>;
    /// Customers recycled from `user` in events after `after_event`, at or after `since`.
    fn recycled_from(&mut self, user: i64, after_event: i64, since: i64) -> Result<Vec<Recycled>>;
    /// The previous successful run (nothing failed) covering a team: the last ownership
    /// event it had seen.
    fn last_good_run(&mut self, team: i64) -> Result<Option<i64>>;
    /// Whether `user`'s item was sent on a channel.
    fn was_sent(&mut self, user: i64, channel: i64, item: &str) -> Result<bool>;
    /// Logs a run; its id.
    fn insert_notify_run(&mut self, r: &RunRow) -> Result<i64>;
    /// Logs the items a channel was sent for `user` in a run.
    fn record_sent(&mut self, user: i64, channel: i64, items: &[String], run: i64) -> Result<()>;
}
