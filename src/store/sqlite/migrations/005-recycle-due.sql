-- Migration 5: reports, agenda and recycling at a million customers from indexes.

-- When an owned customer goes back to its pool, by its pool's rules (the SQL twin of
-- domain::rules::recycle_due, checked against it by tests); NULL when never (in a pool,
-- deleted, locked, exempt stage, rules off). Kept by the trigger below on every change
-- of the facts it depends on, whatever code path makes it; `pool rules set` refreshes
-- its pool by touching the rows.
ALTER TABLE customers ADD COLUMN recycle_due_at INTEGER;

CREATE TRIGGER customers_recycle_due
AFTER UPDATE OF owner_id, pool_id, stage, tags, locked, claimed_at, last_contact_at, won_at, deleted_at
ON customers
WHEN NEW.owner_id IS NOT NULL OR OLD.recycle_due_at IS NOT NULL
BEGIN
    UPDATE customers SET recycle_due_at = (
        SELECT CASE WHEN nc IS NULL THEN nd WHEN nd IS NULL THEN nc ELSE min(nc, nd) END
        FROM (
            SELECT CASE WHEN cd > 0 THEN max(coalesce(NEW.last_contact_at, claimed), claimed) + cd * 86400 END AS nc,
                   CASE WHEN dd > 0 AND NEW.won_at IS NULL THEN claimed + dd * 86400 END AS nd
            FROM (
                -- A stage override beats a tag override (the shortest of the matching
                -- tags), which beats the pool's default.
                SELECT coalesce(NEW.claimed_at, 0) AS claimed,
                       coalesce(
                           (SELECT o.recycle_no_contact_days FROM pool_rule_overrides o
                             WHERE o.pool_id = r.pool_id AND o.scope = 'stage' AND o.value = NEW.stage),
                           (SELECT min(o.recycle_no_contact_days) FROM pool_rule_overrides o
                             WHERE o.pool_id = r.pool_id AND o.scope = 'tag'
                               AND instr(',' || NEW.tags || ',', ',' || o.value || ',') > 0),
                           r.recycle_no_contact_days) AS cd,
                       coalesce(
                           (SELECT o.recycle_no_deal_days FROM pool_rule_overrides o
                             WHERE o.pool_id = r.pool_id AND o.scope = 'stage' AND o.value = NEW.stage),
                           (SELECT min(o.recycle_no_deal_days) FROM pool_rule_overrides o
                             WHERE o.pool_id = r.pool_id AND o.scope = 'tag'
                               AND instr(',' || NEW.tags || ',', ',' || o.value || ',') > 0),
                           r.recycle_no_deal_days) AS dd
                  FROM pool_rules r
                 WHERE r.pool_id = NEW.pool_id
                   AND NEW.owner_id IS NOT NULL AND NEW.deleted_at IS NULL AND NEW.locked = 0
                   AND instr(',' || r.exempt_stages || ',', ',' || NEW.stage || ',') = 0)))
    WHERE id = NEW.id;
END;

-- A customer inserted with an owner (import --owner, demo, merge undo) gets its date
-- from the same trigger.
CREATE TRIGGER customers_recycle_due_insert AFTER INSERT ON customers
WHEN NEW.owner_id IS NOT NULL
BEGIN
    UPDATE customers SET locked = locked WHERE id = NEW.id;
END;

UPDATE customers SET locked = locked WHERE owner_id IS NOT NULL;

-- Per owner: due dates in order (owners' "recycle soon", stale, agenda).
CREATE INDEX customers_recycle_due ON customers(owner_id, recycle_due_at, pool_id)
    WHERE recycle_due_at IS NOT NULL;

-- Funnel: customers with a deal, and the median days to the first one, from an index.
CREATE INDEX customers_won ON customers(won_at - created_at)
    WHERE won_at IS NOT NULL AND deleted_at IS NULL;

-- Activity per period without reading the event, interaction and deal rows.
DROP INDEX ownership_at;
CREATE INDEX ownership_at ON ownership_events(at, event, to_user, from_user);
DROP INDEX interactions_at;
CREATE INDEX interactions_at ON interactions(at, user_id);
CREATE INDEX deals_created ON deals(created_at, user_id);
