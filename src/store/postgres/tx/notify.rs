//! `pool notify` on a server (PostgreSQL migration 4): channels, the run and sent logs
//! and people's digest addresses, read and written under the server's policies (channel
//! targets only for admins and the team's managers; runs logged by their runner); the
//! e-mail address through `set_user_email`.
use postgres::Row;

use super::PgTx;
use crate::error::{Error, Result};
use crate::store::ops::notify::{Channel, NewChannel, NotifyOps, Recycled, RunRow};

const CHANNEL: &str = "SELECT c.id, t.name, c.kind, c.preset, c.target, c.sender, c.team_id
     FROM notify_channels_v c JOIN teams t ON t.id = c.team_id WHERE c.removed_at IS NULL";

fn channel_row(r: &Row) -> Channel {
    Channel {
        id: r.get(0),
        team: r.get(1),
        kind: r.get(2),
        preset: r.get(3),
        target: r.get(4),
        sender: r.get(5),
        team_id: r.get(6),
    }
}

impl NotifyOps for PgTx<'_> {
    /// The server stamps who and when, and audits it.
    fn add_channel(&mut self, c: &NewChannel, _by: i64, now: i64) -> Result<i64> {
        let rows = self.write_rows(
            "INSERT INTO notify_channels (team_id, kind, preset, target, sender, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&c.team_id, &c.kind, &c.preset, &c.target, &c.sender, &now],
        )?;
        rows.first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Other("the server returned no id for the channel".into()))
    }

    fn channels(&mut self, team: Option<i64>) -> Result<Vec<Channel>> {
        Ok(self
            .rows(
                &format!(
                    "{CHANNEL} AND ($1::bigint IS NULL OR c.team_id = $1) ORDER BY t.name, c.id"
                ),
                &[&team],
            )?
            .iter()
            .map(channel_row)
            .collect())
    }

    fn channel(&mut self, id: i64) -> Result<Channel> {
        self.opt(&format!("{CHANNEL} AND c.id = $1"), &[&id])?
            .map(|r| channel_row(&r))
            .ok_or_else(|| Error::not_found("channel", id))
    }

    fn remove_channel(&mut self, id: i64, now: i64) -> Result<bool> {
        Ok(self.exec(
            "UPDATE notify_channels SET removed_at = $2 WHERE id = $1 AND removed_at IS NULL",
            &[&id, &now],
        )? == 1)
    }

    fn user_email(&mut self, user: i64) -> Result<Option<String>> {
        Ok(self
            .opt(
                "SELECT email FROM notify_emails WHERE user_id = $1",
                &[&user],
            )?
            .map(|r| r.get(0)))
    }

    fn set_user_email(&mut self, user: i64, email: Option<&str>) -> Result<()> {
        let login = self.login_of(user)?;
        self.write_rows(
            "SELECT pool_private.set_user_email($1, $2)",
            &[&login, &email],
        )?;
        Ok(())
    }

    fn last_ownership_event(&mut self) -> Result<i64> {
        Ok(self
            .one(
                "SELECT coalesce(max(id), 0)::bigint FROM ownership_events",
                &[],
            )?
            .get(0))
    }

    fn recycled_from(&mut self, user: i64, after: i64, since: i64) -> Result<Vec<Recycled>> {
        Ok(self
            .rows(
                "SELECT e.id, e.customer_id, coalesce(c.name, c.company), e.at, e.reason
                 FROM ownership_events_v e JOIN customers_v c ON c.id = e.customer_id
                 WHERE e.event = 'recycle' AND e.from_user = $1 AND e.id > $2 AND e.at >= $3
                   AND c.deleted_at IS NULL
                 ORDER BY e.id",
                &[&user, &after, &since],
            )?
            .iter()
            .map(|r| Recycled {
                event: r.get(0),
                customer_id: r.get(1),
                label: r.get(2),
                at: r.get(3),
                reason: r.get(4),
            })
            .collect())
    }

    fn last_good_run(&mut self, team: i64) -> Result<Option<i64>> {
        Ok(self
            .opt(
                "SELECT last_event FROM notify_runs
                 WHERE failed = 0 AND (team_id IS NULL OR team_id = $1) ORDER BY id DESC LIMIT 1",
                &[&team],
            )?
            .map(|r| r.get(0)))
    }

    fn was_sent(&mut self, user: i64, channel: i64, item: &str) -> Result<bool> {
        Ok(self
            .opt(
                "SELECT 1 FROM notify_sent WHERE user_id = $1 AND channel_id = $2 AND item = $3",
                &[&user, &channel, &item],
            )?
            .is_some())
    }

    fn insert_notify_run(&mut self, r: &RunRow) -> Result<i64> {
        let rows = self.write_rows(
            "INSERT INTO notify_runs (at, by_user, team_id, last_event, digests, sent, failed)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &r.at,
                &r.by,
                &r.team_id,
                &r.last_event,
                &r.digests,
                &r.sent,
                &r.failed,
            ],
        )?;
        rows.first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Other("the server returned no id for the run".into()))
    }

    fn record_sent(&mut self, user: i64, channel: i64, items: &[String], run: i64) -> Result<()> {
        if !items.is_empty() {
            self.exec(
                "INSERT INTO notify_sent (user_id, channel_id, item, run_id)
                 SELECT $1, $2, i, $4 FROM unnest($3::text[]) i ON CONFLICT DO NOTHING",
                &[&user, &channel, &items, &run],
            )?;
        }
        Ok(())
    }
}
