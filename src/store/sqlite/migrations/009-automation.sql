-- Migration 9: automation per pool.
-- What counts as contact: only these interaction kinds, with a summary of at least this
-- many characters, move the recycle clock (a one-character note does not).
ALTER TABLE pool_rules ADD COLUMN contact_kinds TEXT NOT NULL DEFAULT 'call,email,meeting,visit,wechat';
ALTER TABLE pool_rules ADD COLUMN min_contact_chars INTEGER NOT NULL DEFAULT 2;
-- Lead allocation: off, round_robin or least_loaded, over a team ('team:NAME') or a list
-- of users ('users:a,b,c').
ALTER TABLE pool_rules ADD COLUMN allocate TEXT NOT NULL DEFAULT 'off'
    CHECK (allocate IN ('off', 'round_robin', 'least_loaded'));
ALTER TABLE pool_rules ADD COLUMN allocate_to TEXT NOT NULL DEFAULT '';

-- Follow-up rules: on an event (claim, deal, silent) for a stage ('' = any), plan an
-- action due so many days later, in the event's own transaction.
CREATE TABLE followup_rules (
    pool_id   INTEGER NOT NULL REFERENCES pools(id),
    event     TEXT    NOT NULL CHECK (event IN ('claim', 'deal', 'silent')),
    stage     TEXT    NOT NULL DEFAULT '',
    action    TEXT    NOT NULL,
    due_days  INTEGER NOT NULL CHECK (due_days >= 0),
    PRIMARY KEY (pool_id, event, stage)
) STRICT;

-- Round robin remembers who got the last customer of each pool, so the next run starts
-- after them (not always with the longest-serving member).
CREATE TABLE allocation_cursor (
    pool_id      INTEGER PRIMARY KEY REFERENCES pools(id),
    last_user_id INTEGER NOT NULL REFERENCES users(id)
) STRICT;
