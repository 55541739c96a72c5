-- pool: the current full schema (SQLite), for reading. Generated from the
-- migrations in src/store/sqlite/migrations/ (the only source of truth; a database
-- is built and upgraded by them). A unit test fails when this file is out of date;
-- regenerate it with: POOL_WRITE_SCHEMA=1 cargo test --lib schema_sql

CREATE TABLE teams (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    login           TEXT    NOT NULL UNIQUE,
    display_name    TEXT,
    team_id         INTEGER NOT NULL REFERENCES teams(id),
    role            TEXT    NOT NULL CHECK (role IN ('admin', 'manager', 'member', 'viewer')),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at      INTEGER NOT NULL,
    deactivated_at  INTEGER
, email TEXT) STRICT;

CREATE INDEX users_team ON users(team_id);

CREATE TABLE pools (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE pool_teams (
    pool_id  INTEGER NOT NULL REFERENCES pools(id),
    team_id  INTEGER NOT NULL REFERENCES teams(id),
    PRIMARY KEY (pool_id, team_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE pool_rules (
    pool_id                  INTEGER PRIMARY KEY REFERENCES pools(id),
    max_owned                INTEGER NOT NULL DEFAULT 0,
    count_won                INTEGER NOT NULL DEFAULT 0 CHECK (count_won IN (0, 1)),
    daily_claims             INTEGER NOT NULL DEFAULT 0,
    reclaim_cooldown_days    INTEGER NOT NULL DEFAULT 0,
    recycle_no_contact_days  INTEGER NOT NULL DEFAULT 0,
    recycle_no_deal_days     INTEGER NOT NULL DEFAULT 0,
    warn_days                INTEGER NOT NULL DEFAULT 3,
    exempt_stages            TEXT    NOT NULL DEFAULT 'loyal',
    max_locked               INTEGER NOT NULL DEFAULT 0,
    fresh_hold_hours         INTEGER NOT NULL DEFAULT 0
, contact_kinds TEXT NOT NULL DEFAULT 'call,email,meeting,visit,wechat', min_contact_chars INTEGER NOT NULL DEFAULT 2, allocate TEXT NOT NULL DEFAULT 'off'
    CHECK (allocate IN ('off', 'round_robin', 'least_loaded')), allocate_to TEXT NOT NULL DEFAULT '') STRICT;

CREATE TABLE customers (
    id                 INTEGER PRIMARY KEY,
    -- raw values, trimmed and NFKC-normalised
    name               TEXT,
    company            TEXT,
    phone              TEXT,
    email              TEXT,
    city               TEXT,
    address            TEXT,
    source             TEXT,
    stage              TEXT    NOT NULL DEFAULT 'lead'
                       CHECK (stage IN ('lead', 'customer', 'loyal', 'churned')),
    tags               TEXT    NOT NULL DEFAULT '',   -- comma-separated copy of customer_tags, for display
    notes              TEXT,
    custom             TEXT,                          -- JSON object of custom columns
    -- normalised match keys
    phone_key          TEXT,
    email_key          TEXT,
    name_key           TEXT,
    company_key        TEXT,
    -- ownership
    pool_id            INTEGER NOT NULL DEFAULT 1 REFERENCES pools(id),
    owner_id           INTEGER REFERENCES users(id),  -- NULL = in the pool
    previous_owner_id  INTEGER REFERENCES users(id),
    locked             INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    -- timestamps
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    created_by         INTEGER REFERENCES users(id),
    claimed_at         INTEGER,
    pooled_at          INTEGER,   -- when it last entered a pool (fresh hold)
    released_at        INTEGER,
    last_contact_at    INTEGER,
    won_at             INTEGER,   -- first deal
    -- lifecycle of the record itself
    deleted_at         INTEGER,
    merged_into        INTEGER REFERENCES customers(id),
    forgotten_at       INTEGER
, recycle_due_at INTEGER, level TEXT CHECK (level IN ('A', 'B', 'C')), industry TEXT) STRICT;

CREATE INDEX customers_pooled ON customers(pool_id, pooled_at) WHERE owner_id IS NULL AND deleted_at IS NULL;

CREATE INDEX customers_owner ON customers(owner_id, stage) WHERE owner_id IS NOT NULL AND deleted_at IS NULL;

CREATE INDEX customers_city ON customers(city, owner_id) WHERE deleted_at IS NULL;

CREATE INDEX customers_stage ON customers(stage) WHERE deleted_at IS NULL;

CREATE INDEX customers_name_company ON customers(name_key, company_key) WHERE deleted_at IS NULL;

CREATE TABLE customer_tags (
    tag          TEXT    NOT NULL,
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    PRIMARY KEY (tag, customer_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX customer_tags_customer ON customer_tags(customer_id);

CREATE TABLE ownership_events (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    event        TEXT    NOT NULL CHECK (event IN ('claim', 'release', 'recycle', 'assign', 'transfer', 'deactivate', 'merge', 'import')),
    from_user    INTEGER REFERENCES users(id),
    to_user      INTEGER REFERENCES users(id),
    by_user      INTEGER REFERENCES users(id),
    pool_id      INTEGER REFERENCES pools(id),
    reason       TEXT,
    at           INTEGER NOT NULL
) STRICT;

CREATE INDEX ownership_customer ON ownership_events(customer_id, at);

CREATE INDEX ownership_to_user ON ownership_events(to_user, event, at);

CREATE INDEX ownership_from_user ON ownership_events(from_user, customer_id, at);

CREATE TABLE interactions (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    user_id      INTEGER NOT NULL REFERENCES users(id),
    kind         TEXT    NOT NULL CHECK (kind IN ('call', 'email', 'meeting', 'visit', 'wechat', 'note')),
    summary      TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX interactions_customer ON interactions(customer_id, at);

CREATE INDEX interactions_user ON interactions(user_id, at);

CREATE TABLE followups (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    assignee_id  INTEGER NOT NULL REFERENCES users(id),
    created_by   INTEGER REFERENCES users(id),
    due          TEXT    NOT NULL,   -- YYYY-MM-DD
    action       TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
    note         TEXT,
    created_at   INTEGER NOT NULL,
    closed_at    INTEGER
) STRICT;

CREATE INDEX followups_assignee ON followups(assignee_id, status, due);

CREATE INDEX followups_customer ON followups(customer_id, status);

CREATE INDEX followups_due ON followups(status, due);

CREATE TABLE deals (
    id            INTEGER PRIMARY KEY,
    customer_id   INTEGER NOT NULL REFERENCES customers(id),
    user_id       INTEGER REFERENCES users(id),
    amount_minor  INTEGER NOT NULL,
    currency      TEXT    NOT NULL,
    product       TEXT,
    on_date       TEXT    NOT NULL,   -- YYYY-MM-DD
    created_at    INTEGER NOT NULL
, voided_at INTEGER, voided_by INTEGER REFERENCES users(id), void_reason TEXT) STRICT;

CREATE INDEX deals_customer ON deals(customer_id);

CREATE INDEX deals_user ON deals(user_id, on_date);

CREATE INDEX deals_date ON deals(on_date);

CREATE TABLE merges (
    id           INTEGER PRIMARY KEY,
    survivor_id  INTEGER NOT NULL REFERENCES customers(id),
    merged_ids   TEXT    NOT NULL,   -- JSON array
    before       TEXT    NOT NULL,   -- JSON: rows and moved child ids
    score        REAL,
    reasons      TEXT,
    by_user      INTEGER REFERENCES users(id),
    at           INTEGER NOT NULL,
    undone_at    INTEGER
) STRICT;

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    entity     TEXT    NOT NULL,
    entity_id  INTEGER,
    before     TEXT,
    after      TEXT,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
, os_user TEXT, sim_at INTEGER) STRICT;

CREATE INDEX audit_entity ON audit_log(entity, entity_id);

CREATE INDEX audit_actor ON audit_log(actor, at);

CREATE INDEX audit_action ON audit_log(action, at);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX merges_survivor ON merges(survivor_id);

CREATE INDEX customers_locked ON customers(owner_id) WHERE locked = 1 AND deleted_at IS NULL;

CREATE INDEX deals_user_amount ON deals(user_id, amount_minor);

CREATE INDEX customers_previous_owner ON customers(previous_owner_id, owner_id)
     WHERE previous_owner_id IS NOT NULL AND owner_id IS NOT NULL AND deleted_at IS NULL;

CREATE TRIGGER customers_recycle_due_insert AFTER INSERT ON customers
WHEN NEW.owner_id IS NOT NULL
BEGIN
    UPDATE customers SET locked = locked WHERE id = NEW.id;
END;

CREATE INDEX customers_recycle_due ON customers(owner_id, recycle_due_at, pool_id)
    WHERE recycle_due_at IS NOT NULL;

CREATE INDEX customers_won ON customers(won_at - created_at)
    WHERE won_at IS NOT NULL AND deleted_at IS NULL;

CREATE INDEX ownership_at ON ownership_events(at, event, to_user, from_user);

CREATE INDEX interactions_at ON interactions(at, user_id);

CREATE INDEX deals_created ON deals(created_at, user_id);

CREATE INDEX customers_missing ON customers(
    (name IS NULL) + 2 * (company IS NULL) + 4 * (phone IS NULL) + 8 * (phone_key IS NULL)
        + 16 * (email IS NULL) + 32 * (email_key IS NULL) + 64 * (city IS NULL)
        + 128 * (address IS NULL) + 256 * (source IS NULL),
    deleted_at);

CREATE INDEX customers_phone_key ON customers(phone_key, deleted_at)
    WHERE phone_key IS NOT NULL AND deleted_at IS NULL;

CREATE INDEX customers_email_key ON customers(email_key, phone_key, deleted_at)
    WHERE email_key IS NOT NULL AND deleted_at IS NULL;

CREATE INDEX deals_user_currency ON deals(user_id, currency, amount_minor)
    WHERE voided_at IS NULL;

CREATE TABLE followup_rules (
    pool_id   INTEGER NOT NULL REFERENCES pools(id),
    event     TEXT    NOT NULL CHECK (event IN ('claim', 'deal', 'silent')),
    stage     TEXT    NOT NULL DEFAULT '',
    action    TEXT    NOT NULL,
    due_days  INTEGER NOT NULL CHECK (due_days >= 0),
    PRIMARY KEY (pool_id, event, stage)
) STRICT;

CREATE TABLE allocation_cursor (
    pool_id      INTEGER PRIMARY KEY REFERENCES pools(id),
    last_user_id INTEGER NOT NULL REFERENCES users(id)
) STRICT;

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

CREATE TABLE notify_sent (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    channel_id  INTEGER NOT NULL REFERENCES notify_channels(id),
    item        TEXT    NOT NULL,
    run_id      INTEGER NOT NULL REFERENCES notify_runs(id),
    PRIMARY KEY (user_id, channel_id, item)
) STRICT, WITHOUT ROWID;

CREATE INDEX customers_level ON customers(level, owner_id) WHERE level IS NOT NULL AND deleted_at IS NULL;

CREATE INDEX customers_industry ON customers(industry, owner_id) WHERE industry IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE custom_fields (
    pool_id     INTEGER NOT NULL REFERENCES pools(id),
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('text', 'number', 'date', 'choice')),
    choices     TEXT    NOT NULL DEFAULT '',   -- comma-separated, for kind = 'choice'
    position    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (pool_id, name)
) STRICT;

CREATE TABLE "pool_rule_overrides" (
    pool_id                  INTEGER NOT NULL REFERENCES pools(id),
    scope                    TEXT    NOT NULL CHECK (scope IN ('stage', 'level', 'tag')),
    value                    TEXT    NOT NULL,
    recycle_no_contact_days  INTEGER,
    recycle_no_deal_days     INTEGER,
    PRIMARY KEY (pool_id, scope, value)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER customers_recycle_due
AFTER UPDATE OF owner_id, pool_id, stage, level, tags, locked, claimed_at, last_contact_at, won_at, deleted_at
ON customers
WHEN NEW.owner_id IS NOT NULL OR OLD.recycle_due_at IS NOT NULL
BEGIN
    UPDATE customers SET recycle_due_at = (
        SELECT CASE WHEN nc IS NULL THEN nd WHEN nd IS NULL THEN nc ELSE min(nc, nd) END
        FROM (
            SELECT CASE WHEN cd > 0 THEN max(coalesce(NEW.last_contact_at, claimed), claimed) + cd * 86400 END AS nc,
                   CASE WHEN dd > 0 AND NEW.won_at IS NULL THEN claimed + dd * 86400 END AS nd
            FROM (
                SELECT coalesce(NEW.claimed_at, 0) AS claimed,
                       coalesce(
                           (SELECT o.recycle_no_contact_days FROM pool_rule_overrides o
                             WHERE o.pool_id = r.pool_id AND o.scope = 'stage' AND o.value = NEW.stage),
                           (SELECT o.recycle_no_contact_days FROM pool_rule_overrides o
                             WHERE o.pool_id = r.pool_id AND o.scope = 'level' AND o.value = NEW.level),
                           (SELECT min(o.recycle_no_contact_days) FROM pool_rule_overrides o
                             WHERE o.pool_id = r.pool_id AND o.scope = 'tag'
                               AND instr(',' || lower(NEW.tags) || ',', ',' || o.value || ',') > 0),
                           r.recycle_no_contact_days) AS cd,
                       coalesce(
                           (SELECT o.recycle_no_deal_days FROM pool_rule_overrides o
                             WHERE o.pool_id = r.pool_id AND o.scope = 'stage' AND o.value = NEW.stage),
                           (SELECT o.recycle_no_deal_days FROM pool_rule_overrides o
                             WHERE o.pool_id = r.pool_id AND o.scope = 'level' AND o.value = NEW.level),
                           (SELECT min(o.recycle_no_deal_days) FROM pool_rule_overrides o
                             WHERE o.pool_id = r.pool_id AND o.scope = 'tag'
                               AND instr(',' || lower(NEW.tags) || ',', ',' || o.value || ',') > 0),
                           r.recycle_no_deal_days) AS dd
                  FROM pool_rules r
                 WHERE r.pool_id = NEW.pool_id
                   AND NEW.owner_id IS NOT NULL AND NEW.deleted_at IS NULL AND NEW.locked = 0
                   AND instr(',' || r.exempt_stages || ',', ',' || NEW.stage || ',') = 0)))
    WHERE id = NEW.id;
END;

CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    name         TEXT    NOT NULL,
    title        TEXT,
    phone        TEXT,
    email        TEXT,
    phone_key    TEXT,
    email_key    TEXT,
    created_by   INTEGER REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX contacts_customer ON contacts(customer_id, id);

CREATE INDEX contacts_phone_key ON contacts(phone_key, customer_id) WHERE phone_key IS NOT NULL;

CREATE INDEX contacts_email_key ON contacts(email_key, customer_id) WHERE email_key IS NOT NULL;

CREATE INDEX deals_revenue ON deals(on_date, currency, amount_minor, user_id)
    WHERE voided_at IS NULL;

