-- Migration 11: a richer customer. Level (A/B/C) and industry as first-class columns,
-- custom fields declared per pool with a type, and recycle days per level.

ALTER TABLE customers ADD COLUMN level TEXT CHECK (level IN ('A', 'B', 'C'));
ALTER TABLE customers ADD COLUMN industry TEXT;

-- `pool list --level/--industry` at a million customers.
CREATE INDEX customers_level ON customers(level, owner_id) WHERE level IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX customers_industry ON customers(industry, owner_id) WHERE industry IS NOT NULL AND deleted_at IS NULL;

-- The custom fields a pool declares (`pool fields add`), in declared order. Values live
-- in customers.custom (a JSON object), stored as text in a canonical form per type.
CREATE TABLE custom_fields (
    pool_id     INTEGER NOT NULL REFERENCES pools(id),
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('text', 'number', 'date', 'choice')),
    choices     TEXT    NOT NULL DEFAULT '',   -- comma-separated, for kind = 'choice'
    position    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (pool_id, name)
) STRICT;

-- Overrides may name a level now: the CHECK lives in the table, so it is rebuilt (the
-- trigger that reads it goes first and comes back below).
DROP TRIGGER customers_recycle_due;
CREATE TABLE pool_rule_overrides_new (
    pool_id                  INTEGER NOT NULL REFERENCES pools(id),
    scope                    TEXT    NOT NULL CHECK (scope IN ('stage', 'level', 'tag')),
    value                    TEXT    NOT NULL,
    recycle_no_contact_days  INTEGER,
    recycle_no_deal_days     INTEGER,
    PRIMARY KEY (pool_id, scope, value)
) STRICT, WITHOUT ROWID;
INSERT INTO pool_rule_overrides_new SELECT * FROM pool_rule_overrides;
DROP TABLE pool_rule_overrides;
ALTER TABLE pool_rule_overrides_new RENAME TO pool_rule_overrides;

-- The stored recycle date (migration 5) now also depends on the level: a stage override
-- beats a level override, which beats a tag override (the shortest of the matching
-- tags, matched on their ASCII-lower-cased key as domain::normalize::tag_key), which
-- beats the pool's default (domain::rules::effective).
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
