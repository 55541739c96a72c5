-- Server mode, migration 9: claim many customers in one call.
-- Run as the database owner, in one transaction, after migration 8.
--
-- A claim through the guarded UPDATE costs a dozen client statements and, in a new
-- session, the guard and log triggers' whole PL/pgSQL (every rule branch, the edit audit
-- loop) for one row. `pool claim` runs this instead: one statement that claims every id
-- the rules allow, in order, and says which. An id it does not claim (not pooled, hidden,
-- refused by a rule, or anything else) is left untouched, and the client takes the
-- guarded one-by-one path for it, which gives the exact refusal.
--
-- Nothing is weaker than the guard's path:
--  * the actor is the login role (session_user, as pool_private.actor()), with an active
--    users row in the admin, manager or member group; anyone else gets no claim at all;
--  * the actor's users row is locked first, then the customer rows by id (FOR UPDATE),
--    one order for every caller; each must still be live and pooled;
--  * the rules are decided by pool_private.check_claim, the function the guard calls:
--    visibility, fresh hold, cooldown, max_owned, daily cap (local day), lost twins, all
--    counted after writing the actor's users row (lock_serial), so racing claims by the
--    same user serialise on that row; a refusal (SQLSTATE class PT) rolls back only that
--    id's subtransaction;
--  * the server stamps claimed_at/updated_at/recycle_due_at as the guard does, writes the
--    owner history row and the audit row (the same payloads as customers_log: before
--    {"owner":null,"pool":P}, after {"owner":LOGIN}; hash chained under the audit head's
--    row lock) in the caller's transaction;
--  * the pools' follow-up rules on claim plan their follow-ups (migration 8's
--    plan_on_event), audited after the claims;
--  * the guard and log triggers step aside only for the rows this function writes, by
--    migration 4's marker (a row in pool_private.server_ops, which no pool role may write).
CREATE FUNCTION pool_private.claim(p_ids bigint[])
RETURNS TABLE (id bigint, claimed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    sim bigint;
    now_ bigint;
    c public.customers;
    r public.pool_rules;
    k int;
    pid bigint;
    pname text;
    au_id bigint[] := '{}';
    au_before text[] := '{}';
    au_after text;
    h record;
    seqs bigint[] := '{}';
    prevs text[] := '{}';
    hashes text[] := '{}';
    v_at bigint;
    won public.customers[] := '{}';
BEGIN
    SELECT u.id, u.login, u.team_id, u.role INTO a FROM users u WHERE u.login = session_user AND u.active;
    IF NOT FOUND OR a.role NOT IN ('admin', 'manager', 'member') THEN
        RETURN QUERY SELECT x, false FROM unnest(p_ids) x;
        RETURN;
    END IF;
    sim := pool_private.sim_now(a.role);
    now_ := coalesce(sim, pool_private.clock());
    -- Locks in one order for every caller, the actor's users row first and then the
    -- customers by id, so racing calls queue instead of deadlocking.
    PERFORM pool_private.lock_user(a.id);
    IF cardinality(p_ids) > 1 THEN
        PERFORM 1 FROM customers x WHERE x.id = ANY (p_ids) AND x.owner_id IS NULL AND x.deleted_at IS NULL
          ORDER BY x.id FOR UPDATE;
    END IF;
    PERFORM pool_private.begin_op('claim');
    FOR k IN 1 .. coalesce(cardinality(p_ids), 0) LOOP
        id := p_ids[k];
        claimed := false;
        SELECT * INTO c FROM customers x
         WHERE x.id = p_ids[k] AND x.owner_id IS NULL AND x.deleted_at IS NULL FOR UPDATE;
        IF FOUND THEN
            BEGIN
                PERFORM pool_private.check_claim(a.id, a.login, a.team_id, a.role, c, now_);
                claimed := true;
            EXCEPTION WHEN SQLSTATE 'PT000' THEN
                claimed := false;
            END;
        END IF;
        IF claimed THEN
            IF pid IS DISTINCT FROM c.pool_id THEN
                r := pool_private.rules_of(c.pool_id);
                pname := pool_private.pool_name(c.pool_id);
                pid := c.pool_id;
            END IF;
            c.owner_id := a.id; c.claimed_at := now_; c.locked := false; c.updated_at := now_;
            -- recycle_due plans six subqueries: only where a recycle rule can apply.
            IF r.recycle_no_contact_days > 0 OR r.recycle_no_deal_days > 0
               OR EXISTS (SELECT 1 FROM pool_rule_overrides o WHERE o.pool_id = c.pool_id) THEN
                c.recycle_due_at := pool_private.recycle_due(c);
            ELSE
                c.recycle_due_at := NULL;
            END IF;
            UPDATE customers x SET owner_id = a.id, claimed_at = now_, locked = false, updated_at = now_,
                   recycle_due_at = c.recycle_due_at
             WHERE x.id = c.id;
            INSERT INTO ownership_events (customer_id, event, from_user, to_user, by_user, pool_id, reason, at)
            VALUES (c.id, 'claim', NULL, a.id, a.id, c.pool_id, NULL, now_);
            won := won || c;
            au_id := au_id || c.id;
            au_before := au_before || pool_private.jobj('owner', 'null', 'pool', pool_private.js(pname));
        END IF;
        RETURN NEXT;
    END LOOP;
    -- The audit rows, as append_audit writes them one by one, under one head lock.
    IF cardinality(au_id) > 0 THEN
        au_after := pool_private.jobj('owner', pool_private.js(a.login));
        SELECT ah.seq, ah.hash, ah.at INTO h FROM audit_head ah WHERE ah.id = 1 FOR UPDATE;
        v_at := greatest(pool_private.clock(), h.at);
        FOR k IN 1 .. cardinality(au_id) LOOP
            seqs := seqs || (h.seq + k);
            prevs := prevs || CASE WHEN k = 1 THEN h.hash ELSE hashes[k - 1] END;
            hashes := hashes || pool_private.chain_hash(prevs[k], pool_private.canonical(h.seq + k, v_at, a.login,
                'claim', 'customer', au_id[k], au_before[k], au_after, NULL, sim));
        END LOOP;
        INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash, os_user, sim_at)
        SELECT t.s, v_at, a.login, 'claim', 'customer', t.e, t.b, au_after, t.p, t.hh, NULL, sim
          FROM unnest(seqs, au_id, au_before, prevs, hashes) AS t(s, e, b, p, hh);
        UPDATE audit_head ah SET seq = seqs[cardinality(seqs)], hash = hashes[cardinality(hashes)], at = v_at
         WHERE ah.id = 1;
    END IF;
    -- The pools' follow-up rules on claim (migration 8's zz_plan trigger steps aside for
    -- server operations), after the claims' audit rows, as app::pool::claim orders them.
    FOR k IN 1 .. coalesce(cardinality(won), 0) LOOP
        PERFORM pool_private.plan_on_event('claim', won[k]);
    END LOOP;
    PERFORM pool_private.end_op();
END $$;
REVOKE ALL ON FUNCTION pool_private.claim(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.claim(bigint[]) TO pool_admin, pool_manager, pool_member;

UPDATE settings SET value = '9' WHERE key = 'schema_version';
