-- Server migration 16: the commit-time audit deferral of migration 14, made exact.
--
-- * Order: once a row of a transaction waits for the commit, every later audit row of
--   that transaction waits too (whoever writes it: append_audit, the claim function's
--   batch), so the chain keeps statement order. The mark is on the audit head row: its
--   seq is raised by DEFER_MARK (2^62) while rows wait, so every row computed from it
--   has seq >= DEFER_MARK and a BEFORE INSERT trigger on audit_log moves it to the queue;
--   the writer's head update is dropped. The flush takes the mark off and appends.
-- * Lock: marking the head locks it, when the first row waits (as an immediate row
--   would), not at commit: no new lock at commit, so no deadlock there and nothing for
--   the commit to wait for (statement_timeout does not run during COMMIT).
-- * Folding: a follow-up moved or cancelled goes into the row of at most one owner change
--   of its customer (same actor, the nearest with nothing of that customer's ownership
--   between them): a move only into a change to its new assignee, a cancel only into a
--   change to the pool. Anything else gets its own followup_move/followup_cancel row.
--   Folded rows are compact JSON with the keys appended, as the app writes them.
-- * audit_note: an allowlist of the notes the app writes; a customer's note needs a
--   customer whose contacts the caller sees.
-- * intend('deactivate') is refused to clients; only deactivate_user's own changes are
--   labelled so (a marker row only that function writes).

ALTER TABLE pool_private.audit_defer
    ADD COLUMN owner_change boolean NOT NULL DEFAULT false,
    ADD COLUMN new_owner    bigint;
ALTER TABLE pool_private.work_moves
    ADD COLUMN assignee     bigint,
    ADD COLUMN folded_into  bigint;

-- The users deactivate_user is taking customers from in this transaction: the only
-- source of the 'deactivate' label (a client can set pool.event itself).
CREATE TABLE pool_private.deactivating (
    tx       bigint NOT NULL,
    user_id  bigint NOT NULL,
    PRIMARY KEY (tx, user_id)
);
REVOKE ALL ON pool_private.deactivating FROM PUBLIC;
ALTER TABLE pool_private.deactivating ENABLE ROW LEVEL SECURITY;
ALTER TABLE pool_private.deactivating FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON pool_private.deactivating
    USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());

-- ───────────────────────── the queue and the head mark ─────────────────────────

-- Something waits for the commit: mark and lock the head row (once), and make sure the
-- flush runs. Marking locks the head now, under the statement's own timeouts.
CREATE OR REPLACE FUNCTION pool_private.work_flush_at_commit() RETURNS void LANGUAGE sql
AS $$
    UPDATE public.audit_head SET seq = seq + 4611686018427387904 WHERE id = 1 AND seq < 4611686018427387904;
    INSERT INTO pool_private.defer_flush (tx) VALUES (txid_current()) ON CONFLICT DO NOTHING;
$$;
REVOKE ALL ON FUNCTION pool_private.work_flush_at_commit() FROM PUBLIC;

-- An audit row computed from the marked head (seq >= the mark) waits in the queue, in
-- the order written; the writer's own head update is then dropped (audit_head_hold).
CREATE FUNCTION pool_private.audit_divert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
BEGIN
    INSERT INTO pool_private.audit_defer (tx, actor, action, entity, entity_id, before, after, sim_at)
    VALUES (txid_current(), NEW.actor, NEW.action, NEW.entity, NEW.entity_id, NEW.before, NEW.after, NEW.sim_at);
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.audit_divert() FROM PUBLIC;
CREATE TRIGGER a_divert BEFORE INSERT ON audit_log
    FOR EACH ROW WHEN (NEW.seq >= 4611686018427387904) EXECUTE FUNCTION pool_private.audit_divert();

-- While the head is marked only the flush's unmarking (same hash, seq back) changes it.
CREATE FUNCTION pool_private.audit_head_hold() RETURNS trigger LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.seq = OLD.seq - 4611686018427387904 AND NEW.hash = OLD.hash AND NEW.at = OLD.at THEN
        RETURN NEW;
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.audit_head_hold() FROM PUBLIC;
CREATE TRIGGER a_hold BEFORE UPDATE ON audit_head
    FOR EACH ROW WHEN (OLD.seq >= 4611686018427387904) EXECUTE FUNCTION pool_private.audit_head_hold();

-- A plain row that waits (migration 14's signature).
CREATE OR REPLACE FUNCTION pool_private.defer_audit(p_actor text, p_action text, p_entity text, p_entity_id bigint,
    p_before text, p_after text, p_sim_at bigint) RETURNS void LANGUAGE sql
AS $$
    SELECT pool_private.work_flush_at_commit();
    INSERT INTO pool_private.audit_defer (tx, actor, action, entity, entity_id, before, after, sim_at)
    VALUES (txid_current(), p_actor, p_action, p_entity, p_entity_id, p_before, p_after, p_sim_at);
$$;

-- An owner change's row: waits for the follow-ups that move with it (to p_new_owner, or
-- cancelled when it is NULL).
CREATE FUNCTION pool_private.defer_owner(p_actor text, p_action text, p_customer bigint, p_new_owner bigint,
    p_before text, p_after text, p_sim_at bigint) RETURNS void LANGUAGE sql
AS $$
    SELECT pool_private.work_flush_at_commit();
    INSERT INTO pool_private.audit_defer (tx, actor, action, entity, entity_id, before, after, sim_at, owner_change, new_owner)
    VALUES (txid_current(), p_actor, p_action, 'customer', p_customer, p_before, p_after, p_sim_at, true, p_new_owner);
$$;
REVOKE ALL ON FUNCTION pool_private.defer_owner(text, text, bigint, bigint, text, text, bigint) FROM PUBLIC;

-- A key appended to a compact JSON object text, as serde_json (preserve_order) writes
-- `after["key"] = value` in the app.
CREATE FUNCTION pool_private.jadd(p_obj text, p_key text, p_val text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN p_obj = '{}' THEN '{' ELSE left(p_obj, -1) || ',' END || to_json(p_key)::text || ':' || p_val || '}'
$$;

CREATE OR REPLACE FUNCTION pool_private.work_flush() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    r record;
    moved bigint[];
    cancelled bigint[];
    after_ text;
BEGIN
    DELETE FROM pool_private.defer_flush WHERE tx = NEW.tx;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- Unmark the head; this transaction has held its lock since the first row waited.
    UPDATE public.audit_head SET seq = seq - 4611686018427387904 WHERE id = 1 AND seq >= 4611686018427387904;
    -- Each follow-up moved or cancelled to at most one owner change of its customer by the
    -- same actor: a move to a change to its new assignee, a cancel to a change to the
    -- pool; the nearest one with no other ownership row of that customer between them.
    UPDATE pool_private.work_moves m SET folded_into = (
        SELECT d.n FROM pool_private.audit_defer d
         WHERE d.tx = m.tx AND d.owner_change AND d.entity = 'customer' AND d.entity_id = m.customer_id
           AND d.actor = m.actor
           AND CASE WHEN m.moved THEN d.new_owner IS NOT DISTINCT FROM m.assignee AND d.new_owner IS NOT NULL
                    ELSE d.new_owner IS NULL END
           AND NOT EXISTS (SELECT 1 FROM pool_private.audit_defer b
                            WHERE b.tx = m.tx AND b.entity = 'customer' AND b.entity_id = m.customer_id
                              AND (b.owner_change OR b.action IN ('claim', 'allocate'))
                              AND b.n > least(d.n, m.n) AND b.n < greatest(d.n, m.n))
         ORDER BY abs(d.n - m.n), d.n
         LIMIT 1)
     WHERE m.tx = NEW.tx;
    FOR r IN SELECT d.n, d.owner_change, d.actor, d.action, d.entity, d.entity_id, d.before, d.after, d.sim_at
               FROM pool_private.audit_defer d WHERE d.tx = NEW.tx
             UNION ALL
             SELECT m.n, false, m.actor, CASE WHEN m.moved THEN 'followup_move' ELSE 'followup_cancel' END,
                    'followup', m.followup_id, m.before, m.after, m.sim_at
               FROM pool_private.work_moves m WHERE m.tx = NEW.tx AND m.folded_into IS NULL
              ORDER BY 1 LOOP
        after_ := r.after;
        IF r.owner_change THEN
            SELECT array_agg(m.followup_id ORDER BY m.followup_id) FILTER (WHERE m.moved),
                   array_agg(m.followup_id ORDER BY m.followup_id) FILTER (WHERE NOT m.moved)
              INTO moved, cancelled
              FROM pool_private.work_moves m WHERE m.tx = NEW.tx AND m.folded_into = r.n;
            IF moved IS NOT NULL THEN
                after_ := pool_private.jadd(after_, 'followups_moved', to_json(moved)::text);
            END IF;
            -- (a release names the count even when it is 0, as the app does)
            IF cancelled IS NOT NULL OR r.action = 'release' THEN
                after_ := pool_private.jadd(after_, 'followups_cancelled', coalesce(cardinality(cancelled), 0)::text);
            END IF;
            IF cancelled IS NOT NULL THEN
                after_ := pool_private.jadd(after_, 'followups_cancelled_ids', to_json(cancelled)::text);
            END IF;
        END IF;
        PERFORM pool_private.append_audit(r.actor, r.action, r.entity, r.entity_id, r.before, after_, r.sim_at);
    END LOOP;
    DELETE FROM pool_private.audit_defer WHERE tx = NEW.tx;
    DELETE FROM pool_private.work_moves WHERE tx = NEW.tx;
    RETURN NULL;
END $$;

-- ───────────────────────── the logs that queue ─────────────────────────

-- Migration 14's customers_log: an owner change's row waits with its new owner (for the
-- follow-ups that move with it), and 'deactivate' is believed only from deactivate_user.
-- Claims and allocations are unchanged.
CREATE OR REPLACE FUNCTION pool_private.customers_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    sim bigint;
    now_ bigint;
    ev text;
    action text;
    alloc text;
    f text;
    o text;
    nw text;
    bk text[] := '{}';
    ak text[] := '{}';
    oj jsonb := to_jsonb(OLD);
    nj jsonb := to_jsonb(NEW);
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO a FROM pool_private.actor();
    sim := pool_private.sim_now(a.role);
    now_ := coalesce(sim, pool_private.clock());
    IF NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
        IF OLD.owner_id IS NULL AND NEW.owner_id IS NOT NULL AND a.role IN ('admin', 'manager')
           AND pool_private.intent(ARRAY['assign'], '') = 'assign'
           AND coalesce(pool_private.reason(), '') LIKE 'allocate%' THEN
            -- allocation (allocate_guard checked it), also of a lead to the manager running it
            ev := 'assign';
            alloc := (pool_private.rules_of(OLD.pool_id)).allocate;
        ELSIF OLD.owner_id IS NULL AND NEW.owner_id IS NOT DISTINCT FROM a.id THEN
            ev := 'claim';
        ELSIF NEW.owner_id IS NULL THEN
            ev := CASE WHEN a.role IN ('admin', 'manager')
                       THEN pool_private.intent(ARRAY['release', 'recycle', 'deactivate'], 'release') ELSE 'release' END;
        ELSE
            ev := pool_private.intent(ARRAY['assign', 'transfer', 'deactivate'], 'assign');
        END IF;
        -- 'deactivate' only for deactivate_user's own changes (pool.event is the client's)
        IF ev = 'deactivate' AND NOT EXISTS (SELECT 1 FROM pool_private.deactivating d
                                              WHERE d.tx = txid_current() AND d.user_id = OLD.owner_id) THEN
            ev := CASE WHEN NEW.owner_id IS NULL THEN 'release' ELSE 'assign' END;
        END IF;
        INSERT INTO ownership_events (customer_id, event, from_user, to_user, by_user, pool_id, reason, at)
        VALUES (NEW.id, ev, OLD.owner_id, NEW.owner_id, a.id, NEW.pool_id,
                CASE WHEN NEW.owner_id IS NULL THEN pool_private.reason()
                     WHEN alloc IS NOT NULL THEN 'allocate: ' || alloc END, now_);
        IF alloc IS NOT NULL THEN
            PERFORM pool_private.append_audit(a.login, 'allocate', 'customer', NEW.id,
                pool_private.jobj('owner', 'null'),
                pool_private.jobj('owner', pool_private.js(pool_private.login_of(NEW.owner_id)),
                                  'method', pool_private.js(alloc)), sim);
        ELSIF ev = 'claim' THEN
            PERFORM pool_private.append_audit(a.login, ev, 'customer', NEW.id,
                pool_private.jobj('owner', pool_private.js(pool_private.login_of(OLD.owner_id)),
                                  'pool', pool_private.js(pool_private.pool_name(OLD.pool_id))),
                pool_private.jobj('owner', pool_private.js(pool_private.login_of(NEW.owner_id))), sim);
        ELSE
            -- Work follows the customer: the open follow-ups this transaction moves or
            -- cancels with it are named in this row (as the app's row on SQLite), so it
            -- is appended at commit (pool_private.work_flush).
            action := CASE ev WHEN 'deactivate' THEN 'user_deactivate' ELSE ev END;
            PERFORM pool_private.defer_owner(a.login, action, NEW.id, NEW.owner_id,
                pool_private.jobj('owner', pool_private.js(pool_private.login_of(OLD.owner_id)),
                                  'pool', pool_private.js(pool_private.pool_name(OLD.pool_id))),
                CASE WHEN NEW.owner_id IS NULL
                     THEN pool_private.jobj('owner', 'null', 'pool', pool_private.js(pool_private.pool_name(NEW.pool_id)),
                                            'reason', pool_private.js(pool_private.reason()))
                     ELSE pool_private.jobj('owner', pool_private.js(pool_private.login_of(NEW.owner_id))) END,
                sim);
        END IF;
    ELSIF NEW.locked <> OLD.locked THEN
        PERFORM pool_private.append_audit(a.login, CASE WHEN NEW.locked THEN 'lock' ELSE 'unlock' END, 'customer', NEW.id,
            pool_private.jobj('locked', pool_private.jb(OLD.locked)),
            pool_private.jobj('locked', pool_private.jb(NEW.locked)), sim);
    END IF;
    IF NEW.forgotten_at IS NOT NULL AND OLD.forgotten_at IS NULL THEN
        PERFORM pool_private.append_audit(a.login, 'forget', 'customer', NEW.id, NULL, NULL, sim);
    ELSIF NEW.merged_into IS DISTINCT FROM OLD.merged_into THEN
        PERFORM pool_private.append_audit(a.login, 'merge', 'customer', NEW.id,
            pool_private.jobj('merged_into', pool_private.jn(OLD.merged_into)),
            pool_private.jobj('merged_into', pool_private.jn(NEW.merged_into)), sim);
    ELSIF NEW.deleted_at IS DISTINCT FROM OLD.deleted_at THEN
        PERFORM pool_private.append_audit(a.login, CASE WHEN NEW.deleted_at IS NULL THEN 'customer_undelete' ELSE 'customer_delete' END,
            'customer', NEW.id, NULL, NULL, sim);
    END IF;
    FOREACH f IN ARRAY ARRAY['name', 'company', 'phone', 'email', 'city', 'address', 'source', 'stage', 'tags',
                             'notes', 'custom', 'pool_id', 'level', 'industry'] LOOP
        o := oj ->> f;
        nw := nj ->> f;
        IF f = 'custom' AND o IS DISTINCT FROM nw AND pool_private.custom_obj(o) IS NOT NULL
           AND pool_private.custom_obj(nw) IS NOT NULL THEN
            -- as app::fields::apply: each changed key, as custom.KEY
            SELECT bk || coalesce(array_agg(x ORDER BY k, i), '{}'), ak || coalesce(array_agg(y ORDER BY k, i), '{}')
              INTO bk, ak
              FROM (SELECT k, ov, nv FROM (
                        SELECT k, pool_private.custom_obj(o) -> k AS ov, pool_private.custom_obj(nw) -> k AS nv
                          FROM (SELECT jsonb_object_keys(pool_private.custom_obj(o)) AS k
                                UNION SELECT jsonb_object_keys(pool_private.custom_obj(nw))) keys) d
                     WHERE ov IS DISTINCT FROM nv) ch,
                   LATERAL (VALUES (1, 'custom.' || k, 'custom.' || k),
                                   (2, coalesce(ov::text, 'null'), coalesce(nv::text, 'null'))) AS v(i, x, y);
        ELSIF o IS DISTINCT FROM nw AND NOT (f = 'pool_id' AND NEW.owner_id IS DISTINCT FROM OLD.owner_id) THEN
            bk := bk || f || pool_private.audit_value(f, o);
            ak := ak || f || pool_private.audit_value(f, nw);
        END IF;
    END LOOP;
    IF NEW.forgotten_at IS NULL AND cardinality(bk) > 0 THEN
        -- an import's fill of a duplicate is named as the app names it
        PERFORM pool_private.append_audit(a.login,
            CASE WHEN pool_private.intent(ARRAY['import'], '') = 'import' THEN 'import_merge' ELSE 'customer_edit' END,
            'customer', NEW.id,
            pool_private.jobj(VARIADIC bk), pool_private.jobj(VARIADIC ak), sim);
    END IF;
    RETURN NULL;
END $$;


-- Migration 14's work_log (voided-deal branch kept): a follow-up moved or cancelled waits
-- with its new assignee, and locks the audit head as it is queued.
CREATE OR REPLACE FUNCTION pool_private.work_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    sim bigint;
    stage_before text;
    stage_after text;
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO a FROM pool_private.actor();
    sim := pool_private.sim_now(a.role);
    IF TG_TABLE_NAME = 'interactions' THEN
        UPDATE customers c SET last_contact_at = greatest(coalesce(c.last_contact_at, NEW.at), NEW.at)
         WHERE c.id = NEW.customer_id AND pool_private.counts_as_contact(c.pool_id, NEW.kind, NEW.summary);
        PERFORM pool_private.append_audit(a.login, 'log', 'customer', NEW.customer_id, NULL,
            pool_private.jobj('kind', pool_private.js(NEW.kind), 'at', pool_private.jn(NEW.at)), sim);
    ELSIF TG_TABLE_NAME = 'followups' THEN
        IF TG_OP = 'UPDATE' AND OLD.status = 'open'
           AND (NEW.status = 'cancelled' OR (NEW.status = 'open' AND NEW.assignee_id IS DISTINCT FROM OLD.assignee_id))
           AND (NEW.customer_id, NEW.due, NEW.action) IS NOT DISTINCT FROM (OLD.customer_id, OLD.due, OLD.action) THEN
            -- Moved or cancelled: decided at commit (work_flush), the head locked now.
            -- With an owner change of its customer to its new assignee (a move) or to
            -- the pool (a cancel) in this transaction by the same actor, that row names
            -- it, as on SQLite; else it gets its own row with the assignee before.
            PERFORM pool_private.work_flush_at_commit();
            INSERT INTO pool_private.work_moves (tx, customer_id, followup_id, moved, assignee, actor, sim_at, before, after)
            VALUES (txid_current(), NEW.customer_id, NEW.id, NEW.status = 'open',
                    CASE WHEN NEW.status = 'open' THEN NEW.assignee_id END, a.login, sim,
                    pool_private.jobj('assignee', pool_private.js(pool_private.login_of(OLD.assignee_id)), 'status', '"open"'),
                    pool_private.jobj('customer', pool_private.jn(NEW.customer_id), 'due', pool_private.js(NEW.due),
                                      'assignee', pool_private.js(pool_private.login_of(NEW.assignee_id)),
                                      'status', pool_private.js(NEW.status)));
            RETURN NULL;
        END IF;
        PERFORM pool_private.append_audit(a.login, CASE WHEN TG_OP = 'INSERT' THEN 'followup_add'
                 WHEN NEW.status = OLD.status AND NEW.assignee_id IS DISTINCT FROM OLD.assignee_id THEN 'followup_move'
                 WHEN NEW.status = 'done' THEN 'followup_done'
                 WHEN NEW.status = 'cancelled' THEN 'followup_cancel'
                 ELSE 'followup_' || NEW.status END,
            'followup', NEW.id, NULL,
            pool_private.jobj('customer', pool_private.jn(NEW.customer_id), 'due', pool_private.js(NEW.due),
                              'assignee', pool_private.js(pool_private.login_of(NEW.assignee_id)),
                              'status', pool_private.js(NEW.status)), sim);
    ELSIF TG_TABLE_NAME = 'deals' THEN
        IF TG_OP = 'INSERT' THEN
            UPDATE customers SET won_at = coalesce(won_at, NEW.created_at),
                   stage = CASE WHEN stage = 'lead' THEN 'customer' ELSE stage END
             WHERE id = NEW.customer_id;
        ELSIF OLD.voided_at IS NULL AND NEW.voided_at IS NOT NULL THEN
            SELECT stage INTO stage_before FROM customers WHERE id = NEW.customer_id;
            -- A customer left with no live deal is a lead again (won_at stays).
            UPDATE customers SET stage = 'lead'
             WHERE id = NEW.customer_id AND stage = 'customer'
               AND NOT EXISTS (SELECT 1 FROM deals d WHERE d.customer_id = NEW.customer_id
                                 AND d.voided_at IS NULL);
            SELECT stage INTO stage_after FROM customers WHERE id = NEW.customer_id;
            PERFORM pool_private.append_audit(a.login, 'deal_void', 'customer', NEW.customer_id,
                pool_private.jobj('deal', pool_private.jn(NEW.id), 'amount_minor', pool_private.jn(NEW.amount_minor),
                                  'currency', pool_private.js(NEW.currency), 'on', pool_private.js(NEW.on_date),
                                  'stage', pool_private.js(stage_before)),
                pool_private.jobj('deal', pool_private.jn(NEW.id), 'voided', 'true',
                                  'reason', pool_private.js(NEW.void_reason), 'stage', pool_private.js(stage_after)),
                sim);
            RETURN NULL;
        END IF;
        PERFORM pool_private.append_audit(a.login, CASE WHEN TG_OP = 'INSERT' THEN 'deal_add' ELSE 'deal_void' END,
            'customer', NEW.customer_id, NULL,
            pool_private.jobj('deal', pool_private.jn(NEW.id), 'amount_minor', pool_private.jn(NEW.amount_minor),
                              'currency', pool_private.js(NEW.currency), 'void_reason', pool_private.js(NEW.void_reason)), sim);
    END IF;
    RETURN NULL;
END $$;

-- ───────────────────────── deactivation's label ─────────────────────────

-- Migration 2's intend: 'deactivate' is deactivate_user's label alone (it runs as the
-- owner); a client asking for it is refused. (A client that sets pool.event itself gets
-- a plain release or assign in the log: customers_log asks pool_private.deactivating.)
CREATE OR REPLACE FUNCTION pool_private.intend(p_event text, p_reason text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF p_event = 'deactivate' AND NOT pool_private.is_owner() THEN
        RAISE EXCEPTION 'pool: only pool user deactivate labels a change ''deactivate'''
            USING ERRCODE = 'PT403', HINT = 'deactivate the user with pool user deactivate';
    END IF;
    PERFORM set_config('pool.event', coalesce(p_event, ''), true), set_config('pool.reason', coalesce(p_reason, ''), true);
END $$;

-- Migration 14's deactivate_user: its customers' changes are marked as a deactivation
-- (pool_private.deactivating) for customers_log; its own row follows theirs in the chain
-- (queued behind them when they wait).
CREATE OR REPLACE FUNCTION pool_private.deactivate_user(p_login text, p_heir text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    u record;
    h record;
    n bigint;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin deactivates users');
    END IF;
    SELECT * INTO u FROM users WHERE login = p_login FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user ''%'' not found', p_login USING ERRCODE = 'PT404';
    END IF;
    IF u.login = a.login THEN
        RAISE EXCEPTION 'you cannot deactivate yourself' USING ERRCODE = 'PT409';
    END IF;
    IF NOT u.active THEN
        RAISE EXCEPTION 'user ''%'' is already deactivated', p_login USING ERRCODE = 'PT409';
    END IF;
    INSERT INTO pool_private.deactivating (tx, user_id) VALUES (txid_current(), u.id) ON CONFLICT DO NOTHING;
    PERFORM pool_private.intend('deactivate', 'user deactivated');
    IF p_heir IS NOT NULL THEN
        SELECT * INTO h FROM users WHERE login = p_heir AND active AND id <> u.id;
        IF NOT FOUND THEN
            RAISE EXCEPTION '''%'' is not an active other user', p_heir USING ERRCODE = 'PT422';
        END IF;
        UPDATE customers SET owner_id = h.id, locked = false WHERE owner_id = u.id AND deleted_at IS NULL;
    ELSE
        UPDATE customers SET owner_id = NULL WHERE owner_id = u.id AND deleted_at IS NULL;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM pool_private.intend('', '');
    DELETE FROM pool_private.deactivating WHERE tx = txid_current() AND user_id = u.id;
    UPDATE users SET active = false, deactivated_at = pool_private.clock() WHERE id = u.id;
    EXECUTE format('REVOKE %I FROM %I', pool_private.group_of(u.role), p_login);
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM %I', current_database(), p_login);
    EXECUTE format('ALTER ROLE %I NOLOGIN', p_login);
    PERFORM pool_private.append_audit(a.login, 'user_deactivate', 'user', u.id,
        pool_private.jobj('active', 'true'), pool_private.jobj('active', 'false', 'heir', pool_private.js(p_heir)), NULL);
    RETURN n;
END $$;

-- ───────────────────────── what a client may note ─────────────────────────

-- Migration 14's audit_note with an allowlist: the notes the app writes on a server
-- (export, view_unmasked, demo, import_dry_run, and the import summary), exactly as
-- spelled; a view_unmasked of one customer only where the caller sees its contacts, a
-- demo note only from an admin. Any other action is refused with the message the
-- backend takes for "the server writes that row itself".
CREATE OR REPLACE FUNCTION pool_private.audit_note(p_action text, p_entity text, p_entity_id bigint, p_before text, p_after text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    v bigint;
    p record;
    j jsonb;
    c record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF p_entity = 'import' AND p_action = 'import' THEN
        BEGIN
            j := p_after::jsonb;
        EXCEPTION WHEN others THEN
            j := NULL;
        END;
        IF j IS NULL OR jsonb_typeof(j) <> 'object' THEN
            j := '{}'::jsonb;
        END IF;
        DELETE FROM pool_private.import_pending WHERE tx = txid_current() RETURNING * INTO p;
        IF FOUND THEN
            j := j || jsonb_build_object('imported', p.n, 'first_id', p.lo, 'last_id', p.hi);
        ELSE
            j := j || jsonb_build_object('imported', 0, 'first_id', NULL, 'last_id', NULL);
        END IF;
        v := pool_private.append_audit(a.login, 'import', 'import', NULL, NULL, j::text,
            pool_private.sim_now(a.role));
        -- (0 for a row that waits behind this transaction's queued ones)
        RETURN CASE WHEN v >= 4611686018427387904 THEN 0 ELSE v END;
    END IF;
    -- The server's row for it waits for the commit (work_flush).
    IF EXISTS (SELECT 1 FROM pool_private.audit_defer d
                WHERE d.tx = txid_current() AND d.entity = p_entity AND d.entity_id IS NOT DISTINCT FROM p_entity_id)
       OR (p_entity = 'followup' AND EXISTS (SELECT 1 FROM pool_private.work_moves m
                                              WHERE m.tx = txid_current() AND m.followup_id = p_entity_id)) THEN
        RETURN 0;
    END IF;
    SELECT max(seq) INTO v FROM audit_log
     WHERE tx = txid_current() AND entity = p_entity AND entity_id IS NOT DISTINCT FROM p_entity_id;
    IF v IS NOT NULL THEN
        RETURN v;
    END IF;
    IF NOT coalesce((p_action, p_entity) IN (('export', 'customers'), ('view_unmasked', 'customer'),
                                             ('view_unmasked', 'customers'), ('demo', 'database'),
                                             ('import_dry_run', 'import')), false) THEN
        RAISE EXCEPTION 'pool: the server writes the audit row of a % itself', p_action USING ERRCODE = 'PT403';
    END IF;
    IF p_entity = 'customer' THEN
        SELECT x.id, x.owner_id INTO c FROM customers x WHERE x.id = p_entity_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'customer % not found', p_entity_id USING ERRCODE = 'PT404';
        END IF;
        IF NOT a.trusted
           AND NOT pool_private.may_work_on(a.role, a.id, a.team_id, c.owner_id, pool_private.team_of(c.owner_id)) THEN
            PERFORM pool_private.forbid(format('you do not see customer %s''s contacts: nothing to note', p_entity_id));
        END IF;
    ELSIF p_entity_id IS NOT NULL THEN
        RAISE EXCEPTION 'a % note names no id', p_action USING ERRCODE = 'PT422';
    END IF;
    IF p_action = 'demo' AND NOT a.trusted AND a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin loads demo data');
    END IF;
    v := pool_private.append_audit(a.login, p_action, p_entity, p_entity_id, p_before, p_after,
        pool_private.sim_now(a.role));
    RETURN CASE WHEN v >= 4611686018427387904 THEN 0 ELSE v END;
END $$;

UPDATE settings SET value = '16' WHERE key = 'schema_version';
