-- Migration 10: reminders (`pool notify`).
-- Where a person's digest goes by e-mail.
ALTER TABLE users ADD COLUMN email TEXT;

-- Delivery channels per team: a webhook (JSON POST, shaped by a preset) or an SMTP
-- server. The target (a webhook URL with its key, an SMTP URL with its password) is a
-- secret: only admins see it whole. Removed channels are kept (the sent log names them).
CREATE TABLE notify_channels (
    id          INTEGER PRIMARY KEY,
    team_id     INTEGER NOT NULL REFERENCES teams(id),
    kind        TEXT    NOT NULL CHECK (kind IN ('webhook', 'smtp')),
    preset      TEXT    NOT NULL DEFAULT 'generic' CHECK (preset IN ('generic', 'wecom', 'dingtalk', 'email')),
    target      TEXT    NOT NULL,
    sender      TEXT,
    created_by  INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    removed_at  INTEGER
) STRICT;

CREATE INDEX notify_channels_team ON notify_channels(team_id);

-- One row per (non-dry) run. The next run reports customers recycled after the last
-- ownership event the previous successful (nothing failed) run had seen.
CREATE TABLE notify_runs (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    by_user     INTEGER NOT NULL REFERENCES users(id),
    team_id     INTEGER REFERENCES teams(id),
    last_event  INTEGER NOT NULL,
    digests     INTEGER NOT NULL,
    sent        INTEGER NOT NULL,
    failed      INTEGER NOT NULL
) STRICT;

-- What each person was sent on each channel: one row per item and period (an overdue
-- follow-up per day, a recycle event once), written in the run's transaction, so a
-- second run with nothing new sends nothing.
CREATE TABLE notify_sent (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    channel_id  INTEGER NOT NULL REFERENCES notify_channels(id),
    item        TEXT    NOT NULL,
    run_id      INTEGER NOT NULL REFERENCES notify_runs(id),
    PRIMARY KEY (user_id, channel_id, item)
) STRICT, WITHOUT ROWID;
