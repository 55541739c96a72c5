-- Changing a pool's rules at scale (found measuring session 12's recycle at 1,000,000
-- customers): settings_log re-dated the pool's owned customers with
-- `UPDATE customers SET locked = locked`, one statement per changed row of pool_rules
-- AND of pool_rule_overrides (which `pool rules set` deletes and inserts again), each
-- through every guard, log and policy of a client's write: about 2 ms a row, so one
-- `pool rules set` on a pool with 400,000 owned customers ran for more than 25 minutes.
--
-- Now settings_log only notes the pool (rules_pending, once per pool and transaction);
-- at the transaction's end rules_flush re-dates the pool's owned customers in one
-- statement, as a server operation (the guards step aside, as for merge and forget:
-- only recycle_due_at changes, computed by the same recycle_due()), and only the rows
-- whose date changes are written.

CREATE TABLE pool_private.rules_pending (
    tx      bigint NOT NULL,
    pool_id bigint NOT NULL,
    PRIMARY KEY (tx, pool_id)
);
REVOKE ALL ON pool_private.rules_pending FROM PUBLIC;
ALTER TABLE pool_private.rules_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE pool_private.rules_pending FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON pool_private.rules_pending
    USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());

-- The report counts (migration 15) group by pool, owner, stage, quality, lock, deal and
-- duplicate flag, none of which a re-dating changes, and their statement trigger reads
-- both transition tables whole (0.5 ms a row at 2,000 rows, worse beyond): skipped for
-- it, as for a claim, which keeps its counts itself (migration 17).
CREATE OR REPLACE FUNCTION pool_private.claim_counts_itself() RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
    SELECT current_setting('pool.server_op', true) IS NOT DISTINCT FROM 'on'
       AND EXISTS (SELECT 1 FROM pool_private.server_ops WHERE tx = txid_current() AND op IN ('claim', 'rules'))
$$;

CREATE FUNCTION pool_private.rules_flush() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    held boolean;
BEGIN
    DELETE FROM pool_private.rules_pending WHERE tx = NEW.tx AND pool_id = NEW.pool_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    held := pool_private.server_op();
    IF NOT held THEN
        PERFORM pool_private.begin_op('rules');
    END IF;
    -- recycle_due(c)'s body (migration 5) inline, as a lateral subquery (no row: NULL,
    -- as the function returns): the same expression, but planned once for the statement instead of run as a function per
    -- row (23 µs a row against 190 µs at 1,000,000 customers).
    UPDATE customers cc SET recycle_due_at = d.due
      FROM customers c
           LEFT JOIN LATERAL (
                  SELECT CASE WHEN nc IS NULL THEN nd WHEN nd IS NULL THEN nc ELSE least(nc, nd) END
                        FROM (
                          SELECT CASE WHEN cd > 0 THEN greatest(coalesce(c.last_contact_at, claimed), claimed) + cd * 86400 END AS nc,
                                 CASE WHEN dd > 0 AND c.won_at IS NULL THEN claimed + dd * 86400 END AS nd
                            FROM (
                              SELECT coalesce(c.claimed_at, 0) AS claimed,
                                     coalesce(
                                         (SELECT o.recycle_no_contact_days FROM public.pool_rule_overrides o
                                           WHERE o.pool_id = r.pool_id AND o.scope = 'stage' AND o.value = c.stage),
                                         (SELECT o.recycle_no_contact_days FROM public.pool_rule_overrides o
                                           WHERE o.pool_id = r.pool_id AND o.scope = 'level' AND o.value = c.level),
                                         (SELECT min(o.recycle_no_contact_days) FROM public.pool_rule_overrides o
                                           WHERE o.pool_id = r.pool_id AND o.scope = 'tag'
                                             AND position(',' || o.value || ',' IN ',' || translate(c.tags, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') || ',') > 0),
                                         r.recycle_no_contact_days) AS cd,
                                     coalesce(
                                         (SELECT o.recycle_no_deal_days FROM public.pool_rule_overrides o
                                           WHERE o.pool_id = r.pool_id AND o.scope = 'stage' AND o.value = c.stage),
                                         (SELECT o.recycle_no_deal_days FROM public.pool_rule_overrides o
                                           WHERE o.pool_id = r.pool_id AND o.scope = 'level' AND o.value = c.level),
                                         (SELECT min(o.recycle_no_deal_days) FROM public.pool_rule_overrides o
                                           WHERE o.pool_id = r.pool_id AND o.scope = 'tag'
                                             AND position(',' || o.value || ',' IN ',' || translate(c.tags, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') || ',') > 0),
                                         r.recycle_no_deal_days) AS dd
                                FROM public.pool_rules r
                               WHERE r.pool_id = c.pool_id AND c.owner_id IS NOT NULL AND c.deleted_at IS NULL AND NOT c.locked
                                 AND position(',' || c.stage || ',' IN ',' || r.exempt_stages || ',') = 0) x) y
           ) d(due) ON true
     WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL AND c.pool_id = NEW.pool_id
       AND cc.id = c.id AND cc.recycle_due_at IS DISTINCT FROM d.due;
    IF NOT held THEN
        PERFORM pool_private.end_op();
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.rules_flush() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER z_flush AFTER INSERT ON pool_private.rules_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pool_private.rules_flush();

CREATE OR REPLACE FUNCTION pool_private.settings_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    j jsonb;
    k bigint;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin changes pools, rules, teams and settings');
    END IF;
    j := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
    k := coalesce((j ->> 'pool_id')::bigint, CASE WHEN TG_TABLE_NAME IN ('pools', 'teams') THEN (j ->> 'id')::bigint END);
    PERFORM pool_private.append_audit(a.login,
        CASE TG_TABLE_NAME
            WHEN 'teams' THEN CASE TG_OP WHEN 'INSERT' THEN 'team_add' WHEN 'UPDATE' THEN 'team_set' ELSE 'team_remove' END
            WHEN 'pools' THEN CASE TG_OP WHEN 'INSERT' THEN 'pool_add' WHEN 'UPDATE' THEN 'pool_set' ELSE 'pool_remove' END
            WHEN 'pool_teams' THEN CASE TG_OP WHEN 'DELETE' THEN 'pool_team_remove' ELSE 'pool_team_add' END
            WHEN 'custom_fields' THEN CASE TG_OP WHEN 'INSERT' THEN 'field_add' WHEN 'UPDATE' THEN 'field_set' ELSE 'field_remove' END
            WHEN 'settings' THEN 'settings_set'
            ELSE 'rules_set' END,
        CASE TG_TABLE_NAME WHEN 'teams' THEN 'team' WHEN 'settings' THEN 'setting' ELSE 'pool' END, k,
        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE row_to_json(OLD)::text END,
        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE row_to_json(NEW)::text END,
        pool_private.sim_now(a.role));
    IF TG_TABLE_NAME IN ('pool_rules', 'pool_rule_overrides') THEN
        -- The pool's owned customers get their recycle dates again, once per pool and
        -- transaction, at its end (rules_flush).
        INSERT INTO pool_private.rules_pending (tx, pool_id) VALUES (txid_current(), k)
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

UPDATE settings SET value = '29' WHERE key = 'schema_version';
