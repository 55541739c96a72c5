-- Server mode, migration 17: a claim keeps the report counts itself; same_identity only where it can refuse.
-- Run as the database owner, in one transaction, after the earlier migrations.
--
-- Every `pool claim ID` is a new backend, and migration 15's statement trigger
-- zz_counts_upd was its largest single cost there (about a third of the claim's server
-- CPU): planning its transition-table query, which reads customers five ways, for a move
-- that is always the same. A claim moves each claimed row from its pooled group
-- (owner 0, its own locked flag) to the claimer's group (locked false), nothing else of
-- a group changes (pool, stage, missing fields, won, keys and so the duplicate flag stay).
-- So pool_private.claim (migration 13) now writes that delta with its batch, under the
-- audit head's lock taken before the batch's UPDATE (as the trigger takes it first), and
-- zz_counts_upd steps aside for exactly the statements of a claim in progress: a
-- `server_ops` row of op 'claim' for this transaction (only definer code writes it) and
-- the pool.server_op setting. Every other UPDATE of customers is counted as before.

-- The trigger's WHEN test: cheap (a setting) unless a server operation is running.
CREATE FUNCTION pool_private.claim_counts_itself() RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
    SELECT current_setting('pool.server_op', true) IS NOT DISTINCT FROM 'on'
       AND EXISTS (SELECT 1 FROM pool_private.server_ops WHERE tx = txid_current() AND op = 'claim')
$$;
REVOKE ALL ON FUNCTION pool_private.claim_counts_itself() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.claim_counts_itself()
    TO pool_admin, pool_manager, pool_member, pool_viewer;

DROP TRIGGER zz_counts_upd ON customers;
CREATE TRIGGER zz_counts_upd AFTER UPDATE ON customers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT WHEN (NOT pool_private.claim_counts_itself())
    EXECUTE FUNCTION pool_private.customer_counts_upd();

-- same_identity (migration 2) refuses only when current_user is not the session's login
-- and not the owner: that test, as the trigger's WHEN, skips the PL/pgSQL call where it
-- could not refuse (every definer function's write, every plain write). A claim in a new
-- backend wrote five tables with it (about 4 ms of its CPU). Same trigger otherwise.
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT tg.tgrelid::regclass AS rel, pg_get_triggerdef(tg.oid) AS def
               FROM pg_trigger tg
              WHERE tg.tgname = 'a_same_identity' AND NOT tg.tgisinternal
                AND tg.tgfoid = 'pool_private.same_identity()'::regprocedure AND tg.tgqual IS NULL LOOP
        EXECUTE format('DROP TRIGGER a_same_identity ON %s', t.rel);
        EXECUTE replace(t.def, 'FOR EACH STATEMENT EXECUTE',
                        'FOR EACH STATEMENT WHEN (current_user <> session_user AND NOT pool_private.is_owner()) EXECUTE');
    END LOOP;
END $$;

-- Migration 13's claim; the changes: the audit head locked before the first batch is
-- written, and each batch's count delta written beside its UPDATE.
CREATE OR REPLACE FUNCTION pool_private.claim(p_ids bigint[])
RETURNS TABLE (id bigint, claimed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    sim bigint;
    now_ bigint;
    n int := coalesce(cardinality(p_ids), 0);
    rows_ public.customers[];
    row_ids bigint[];
    pos int;
    c public.customers;
    r record;
    simple boolean;
    check_it boolean;
    k int;
    pid bigint;
    b_id bigint[] := '{}';
    b_pool bigint[] := '{}';
    b_due bigint[] := '{}';
    au_id bigint[] := '{}';
    au_before text[] := '{}';
    au_after text;
    h record;
    seqs bigint[] := '{}';
    prevs text[] := '{}';
    hashes text[] := '{}';
    v_at bigint;
    won public.customers[] := '{}';
    head_locked boolean := false;
BEGIN
    -- The actor, its users row locked at once (lock_user's write: racing claims of one
    -- user queue here, and every limit below is counted after it).
    UPDATE users u SET lock_serial = u.lock_serial + 1
     WHERE u.login = session_user AND u.active AND u.role IN ('admin', 'manager', 'member')
    RETURNING u.id, u.login, u.team_id, u.role INTO a;
    IF NOT FOUND THEN
        RETURN QUERY SELECT x, false FROM unnest(p_ids) x;
        RETURN;
    END IF;
    IF a.role = 'admin' THEN
        sim := pool_private.sim_now(a.role);
    END IF;
    now_ := coalesce(sim, pool_private.clock());
    -- Then every listed live pooled customer, locked in id order (one order for every
    -- caller) and read in the same statement.
    SELECT array_agg(s.x ORDER BY (s.x).id), array_agg((s.x).id ORDER BY (s.x).id) INTO rows_, row_ids
      FROM (SELECT x FROM customers x WHERE x.id = ANY (p_ids) AND x.owner_id IS NULL AND x.deleted_at IS NULL
             ORDER BY x.id FOR UPDATE) s;
    -- begin_op('claim'), inline: the guard, log and count triggers step aside for these rows.
    INSERT INTO pool_private.server_ops (tx, op) VALUES (txid_current(), 'claim');
    PERFORM set_config('pool.server_op', 'on', true);
    -- Ids in the order given. Claims are written in batches: before check_claim counts
    -- (so it counts every earlier claim of this call) and at the end.
    FOR k IN 1 .. n + 1 LOOP
        check_it := false;
        claimed := false;
        IF k <= n THEN
            id := p_ids[k];
            pos := array_position(row_ids, p_ids[k]);
            -- An id listed twice is pooled no more once claimed.
            IF pos IS NOT NULL AND NOT p_ids[k] = ANY (au_id) THEN
                c := rows_[pos];
                IF pid IS DISTINCT FROM c.pool_id THEN
                    -- The pool's rules (rules_of's defaults where it has no row), name,
                    -- and whether recycle overrides or follow-up rules on claim exist.
                    SELECT coalesce(pr.max_owned, 0) AS max_owned, coalesce(pr.daily_claims, 0) AS daily,
                           coalesce(pr.reclaim_cooldown_days, 0) AS cooldown, coalesce(pr.fresh_hold_hours, 0) AS hold,
                           coalesce(pr.recycle_no_contact_days, 0) AS no_contact,
                           coalesce(pr.recycle_no_deal_days, 0) AS no_deal,
                           p.name, (p.id = 1 OR a.role = 'admin') AS visible,
                           EXISTS (SELECT 1 FROM pool_rule_overrides o WHERE o.pool_id = p.id) AS overrides,
                           EXISTS (SELECT 1 FROM followup_rules f WHERE f.pool_id = p.id AND f.event = 'claim') AS plans
                      INTO r
                      FROM pools p LEFT JOIN pool_rules pr ON pr.pool_id = p.id
                     WHERE p.id = c.pool_id;
                    -- pool_visible's test of pool_teams, only for a pool that needs it.
                    IF FOUND AND NOT r.visible THEN
                        r.visible := EXISTS (SELECT 1 FROM pool_teams t
                                              WHERE t.pool_id = c.pool_id AND t.team_id = a.team_id);
                    END IF;
                    -- No hold, cooldown, max_owned or daily cap, and a visible pool: then
                    -- check_claim has no test that could refuse, and is not called.
                    simple := r.name IS NOT NULL AND r.max_owned <= 0 AND r.daily <= 0 AND r.cooldown <= 0
                              AND r.hold <= 0 AND r.visible;
                    pid := c.pool_id;
                END IF;
                claimed := simple;
                check_it := NOT simple;
            END IF;
        END IF;
        IF (k > n OR check_it) AND cardinality(b_id) > 0 THEN
            -- The counts are changed under the audit head's lock, as migration 15's
            -- trigger changes them: every writer of a count holds it to commit.
            IF NOT head_locked THEN
                PERFORM 1 FROM audit_head ah WHERE ah.id = 1 FOR UPDATE;
                head_locked := true;
            END IF;
            UPDATE customers x SET owner_id = a.id, claimed_at = now_, locked = false, updated_at = now_,
                   recycle_due_at = t.due
              FROM unnest(b_id, b_due) AS t(id, due)
             WHERE x.id = t.id;
            INSERT INTO ownership_events (customer_id, event, from_user, to_user, by_user, pool_id, reason, at)
            SELECT t.id, 'claim', NULL, a.id, a.id, t.pool, NULL, now_
              FROM unnest(b_id, b_pool) WITH ORDINALITY AS t(id, pool, o) ORDER BY t.o;
            -- Each claimed row leaves its pooled group for the claimer's (locked false);
            -- its keys, and so its duplicate flag, are the same in both.
            WITH o AS (
                SELECT x.pool_id, x.stage, x.quality_mask, x.locked, x.won_at IS NOT NULL AS won,
                       (EXISTS (SELECT 1 FROM customers y WHERE x.phone_key IS NOT NULL AND y.phone_key = x.phone_key
                                   AND y.deleted_at IS NULL AND y.id <> x.id)
                        OR EXISTS (SELECT 1 FROM customers y WHERE x.email_key IS NOT NULL AND y.email_key = x.email_key
                                   AND y.deleted_at IS NULL AND y.id <> x.id)) AS dup
                  FROM unnest(rows_) x WHERE x.id = ANY (b_id))
            INSERT INTO pool_private.customer_counts AS t (pool_id, owner_id, stage, quality_mask, locked, won, dup, n)
            SELECT o.pool_id, g.owner, o.stage, o.quality_mask, g.locked, o.won, o.dup, sum(g.s)
              FROM o CROSS JOIN LATERAL (VALUES (0::bigint, o.locked, -1), (a.id, false, 1)) AS g(owner, locked, s)
             GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(g.s) <> 0
                ON CONFLICT ON CONSTRAINT customer_counts_pkey DO UPDATE SET n = t.n + excluded.n;
            b_id := '{}'; b_pool := '{}'; b_due := '{}';
        END IF;
        EXIT WHEN k > n;
        IF check_it THEN
            BEGIN
                PERFORM pool_private.check_claim(a.id, a.login, a.team_id, a.role, c, now_);
                claimed := true;
            EXCEPTION WHEN SQLSTATE 'PT000' THEN
                claimed := false;
            END;
        END IF;
        IF claimed THEN
            c.owner_id := a.id; c.claimed_at := now_; c.locked := false; c.updated_at := now_;
            -- recycle_due plans six subqueries: only where a recycle rule can apply.
            IF r.no_contact > 0 OR r.no_deal > 0 OR r.overrides THEN
                c.recycle_due_at := pool_private.recycle_due(c);
            ELSE
                c.recycle_due_at := NULL;
            END IF;
            b_id := b_id || c.id; b_pool := b_pool || c.pool_id; b_due := b_due || c.recycle_due_at;
            IF r.plans THEN
                won := won || c;
            END IF;
            au_id := au_id || c.id;
            au_before := au_before || ('{"owner":null,"pool":' || pool_private.js(r.name) || '}');
        END IF;
        RETURN NEXT;
    END LOOP;
    -- The audit rows, as append_audit writes them one by one, under one head lock.
    IF cardinality(au_id) > 0 THEN
        au_after := '{"owner":' || pool_private.js(a.login) || '}';
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
    -- The pools' follow-up rules on claim, after the claims' audit rows (migration 8's
    -- zz_plan steps aside for server operations); only in pools that have one.
    FOR k IN 1 .. coalesce(cardinality(won), 0) LOOP
        PERFORM pool_private.plan_on_event('claim', won[k]);
    END LOOP;
    -- end_op(), inline: from here on zz_counts_upd counts this transaction's updates again.
    DELETE FROM pool_private.server_ops WHERE tx = txid_current();
    PERFORM set_config('pool.server_op', '', true);
END $$;
REVOKE ALL ON FUNCTION pool_private.claim(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.claim(bigint[]) TO pool_admin, pool_manager, pool_member;

UPDATE settings SET value = '17' WHERE key = 'schema_version';
