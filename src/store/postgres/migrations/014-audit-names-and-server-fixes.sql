-- Server migration 14: one audit vocabulary on both backends, the import's own audit
-- row, tags on the leads an import puts into the pool, and notify channels for the team.
--
-- Audit action names are now those the SQLite app writes (and users script against with
-- `pool audit log --action`): customer_add / customer_edit / customer_delete,
-- import_merge, deal_add, followup_done / followup_cancel / followup_move, team_add,
-- pool_add, rules_set, settings_set, field_add / field_remove. Rows already in the chain
-- keep their old names (the hash covers the action), so only new rows use these.

-- ───────────────────────── customers: edits and deletes ─────────────────────────

-- A custom-values column as a JSON object ('{}' for none); NULL if it is not one.
CREATE FUNCTION pool_private.custom_obj(p text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE j jsonb;
BEGIN
    IF p IS NULL OR p = '' THEN
        RETURN '{}'::jsonb;
    END IF;
    j := p::jsonb;
    RETURN CASE WHEN jsonb_typeof(j) = 'object' THEN j END;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- ───────────────────────── work follows the customer, in its row ─────────────────────────

-- On SQLite the app writes one row for an owner change that also moves or cancels the
-- customer's open follow-ups (followups_moved / followups_cancelled). On the server the
-- owner change and the follow-up updates are separate statements, in either order
-- (release cancels first, assign moves after), so both wait here and are appended at
-- commit by one deferred trigger: the customer's row with what moved, and a row of its
-- own for a follow-up changed without its customer. Owner-only tables, nothing granted;
-- a rolled-back transaction leaves nothing.
CREATE SEQUENCE pool_private.defer_seq;
CREATE TABLE pool_private.audit_defer (
    n          bigint PRIMARY KEY DEFAULT nextval('pool_private.defer_seq'),
    tx         bigint NOT NULL,
    actor      text   NOT NULL,
    action     text   NOT NULL,
    entity     text   NOT NULL,
    entity_id  bigint,
    before     text,
    after      text,
    sim_at     bigint
);
CREATE INDEX audit_defer_tx ON pool_private.audit_defer (tx, entity, entity_id);
CREATE TABLE pool_private.work_moves (
    n            bigint  PRIMARY KEY DEFAULT nextval('pool_private.defer_seq'),
    tx           bigint  NOT NULL,
    customer_id  bigint  NOT NULL,
    followup_id  bigint  NOT NULL,
    moved        boolean NOT NULL,
    actor        text    NOT NULL,
    sim_at       bigint,
    before       text,
    after        text
);
CREATE INDEX work_moves_tx ON pool_private.work_moves (tx, customer_id);
-- One row per transaction with something deferred: its constraint trigger runs the flush.
CREATE TABLE pool_private.defer_flush (tx bigint PRIMARY KEY);
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_defer', 'work_moves', 'defer_flush'] LOOP
        EXECUTE format('REVOKE ALL ON pool_private.%I FROM PUBLIC', t);
        EXECUTE format('ALTER TABLE pool_private.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE pool_private.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON pool_private.%I USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner())', t);
    END LOOP;
END $$;

CREATE FUNCTION pool_private.work_flush_at_commit() RETURNS void LANGUAGE sql
AS $$ INSERT INTO pool_private.defer_flush (tx) VALUES (txid_current()) ON CONFLICT DO NOTHING $$;
REVOKE ALL ON FUNCTION pool_private.work_flush_at_commit() FROM PUBLIC;

CREATE FUNCTION pool_private.defer_audit(p_actor text, p_action text, p_entity text, p_entity_id bigint,
    p_before text, p_after text, p_sim_at bigint) RETURNS void LANGUAGE sql
AS $$
    INSERT INTO pool_private.audit_defer (tx, actor, action, entity, entity_id, before, after, sim_at)
    VALUES (txid_current(), p_actor, p_action, p_entity, p_entity_id, p_before, p_after, p_sim_at);
    SELECT pool_private.work_flush_at_commit();
$$;
REVOKE ALL ON FUNCTION pool_private.defer_audit(text, text, text, bigint, text, text, bigint) FROM PUBLIC;

CREATE FUNCTION pool_private.work_flush() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    r record;
    moved bigint[];
    cancelled bigint;
    j jsonb;
BEGIN
    DELETE FROM pool_private.defer_flush WHERE tx = NEW.tx;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- In the order they were made; a follow-up moved or cancelled with its customer (an
    -- owner change waiting here, same actor) is named in the customer's row instead.
    FOR r IN SELECT d.n, false AS work, d.actor, d.action, d.entity, d.entity_id, d.before, d.after, d.sim_at,
                    NULL::boolean AS moved
               FROM pool_private.audit_defer d WHERE d.tx = NEW.tx
             UNION ALL
             SELECT m.n, true, m.actor, CASE WHEN m.moved THEN 'followup_move' ELSE 'followup_cancel' END,
                    'followup', m.followup_id, m.before, m.after, m.sim_at, m.moved
               FROM pool_private.work_moves m WHERE m.tx = NEW.tx
                AND NOT EXISTS (SELECT 1 FROM pool_private.audit_defer d
                                 WHERE d.tx = NEW.tx AND d.entity = 'customer' AND d.entity_id = m.customer_id
                                   AND d.actor = m.actor)
              ORDER BY 1 LOOP
        IF r.work OR r.entity <> 'customer' THEN
            PERFORM pool_private.append_audit(r.actor, r.action, r.entity, r.entity_id, r.before, r.after, r.sim_at);
            CONTINUE;
        END IF;
        SELECT coalesce(array_agg(m.followup_id ORDER BY m.followup_id) FILTER (WHERE m.moved), '{}'),
               count(*) FILTER (WHERE NOT m.moved)
          INTO moved, cancelled
          FROM pool_private.work_moves m
         WHERE m.tx = NEW.tx AND m.customer_id = r.entity_id AND m.actor = r.actor;
        -- (a customer changing owners twice in one transaction names them in the first)
        DELETE FROM pool_private.work_moves m
         WHERE m.tx = NEW.tx AND m.customer_id = r.entity_id AND m.actor = r.actor;
        j := r.after::jsonb;
        IF cardinality(moved) > 0 THEN
            j := j || jsonb_build_object('followups_moved', to_jsonb(moved));
        END IF;
        -- (a release names the count even when it is 0, as the app does)
        IF cancelled > 0 OR r.action = 'release' THEN
            j := j || jsonb_build_object('followups_cancelled', cancelled);
        END IF;
        PERFORM pool_private.append_audit(r.actor, r.action, r.entity, r.entity_id, r.before,
            CASE WHEN j = r.after::jsonb THEN r.after ELSE j::text END, r.sim_at);
    END LOOP;
    DELETE FROM pool_private.audit_defer WHERE tx = NEW.tx;
    DELETE FROM pool_private.work_moves WHERE tx = NEW.tx;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.work_flush() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER z_flush AFTER INSERT ON pool_private.defer_flush
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pool_private.work_flush();

-- Migration 2's deactivate_user, its own row waiting with its customers' (which wait for
-- their follow-ups), so the user's row still follows theirs in the chain.
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
    UPDATE users SET active = false, deactivated_at = pool_private.clock() WHERE id = u.id;
    EXECUTE format('REVOKE %I FROM %I', pool_private.group_of(u.role), p_login);
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM %I', current_database(), p_login);
    EXECUTE format('ALTER ROLE %I NOLOGIN', p_login);
    PERFORM pool_private.defer_audit(a.login, 'user_deactivate', 'user', u.id,
        pool_private.jobj('active', 'true'), pool_private.jobj('active', 'false', 'heir', pool_private.js(p_heir)), NULL);
    RETURN n;
END $$;

-- Migration 8's customers_log with SQLite's names and custom values audited key by key
-- (custom.KEY, as the app writes them); an edit made while the transaction
-- is labelled 'import' (the fill of a duplicate by `--on-duplicate merge`) is
-- 'import_merge', as the app writes it.
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
            PERFORM pool_private.defer_audit(a.login, action, 'customer', NEW.id,
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

-- ───────────────────────── new customers and the import's own row ─────────────────────────

-- The inserts of an import (a transaction labelled 'import' by intend(), or any
-- multi-row statement) are summed here, one row per transaction, and turned into ONE
-- audit row: by audit_note when the app notes its import summary (file, hash, counts),
-- else at commit by the deferred trigger below, so an import is never left unaudited.
CREATE TABLE pool_private.import_pending (
    tx      bigint PRIMARY KEY,
    actor   text   NOT NULL,
    sim_at  bigint,
    n       bigint NOT NULL,
    lo      bigint NOT NULL,
    hi      bigint NOT NULL
);
REVOKE ALL ON pool_private.import_pending FROM PUBLIC;
ALTER TABLE pool_private.import_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE pool_private.import_pending FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON pool_private.import_pending
    USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());

-- The server's own import row, for what the app did not summarise (a client that
-- labels its inserts 'import' and never notes the summary still gets one row).
CREATE FUNCTION pool_private.import_flush() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE p record;
BEGIN
    DELETE FROM pool_private.import_pending WHERE tx = NEW.tx RETURNING * INTO p;
    IF FOUND THEN
        PERFORM pool_private.append_audit(p.actor, 'import', 'import', NULL, NULL,
            pool_private.jobj('imported', p.n::text, 'first_id', p.lo::text, 'last_id', p.hi::text), p.sim_at);
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.import_flush() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER z_flush AFTER INSERT ON pool_private.import_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pool_private.import_flush();

-- Migration 2's customers_added: one inserted customer outside an import is
-- 'customer_add'; the rest is summed into import_pending.
CREATE OR REPLACE FUNCTION pool_private.customers_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    n bigint;
    lo bigint;
    hi bigint;
    one record;
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO a FROM pool_private.actor();
    SELECT count(*), min(id), max(id) INTO n, lo, hi FROM added;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    IF n = 1 AND pool_private.intent(ARRAY['import'], '') <> 'import' THEN
        SELECT * INTO one FROM added;
        PERFORM pool_private.append_audit(a.login, 'customer_add', 'customer', one.id, NULL,
            pool_private.jobj('name', pool_private.js(one.name), 'pool', pool_private.js(pool_private.pool_name(one.pool_id)),
                              'owner', pool_private.js(pool_private.login_of(one.owner_id))),
            pool_private.sim_now(a.role));
    ELSE
        INSERT INTO pool_private.import_pending AS p (tx, actor, sim_at, n, lo, hi)
        VALUES (txid_current(), a.login, pool_private.sim_now(a.role), n, lo, hi)
        ON CONFLICT (tx) DO UPDATE SET n = p.n + EXCLUDED.n, lo = least(p.lo, EXCLUDED.lo), hi = greatest(p.hi, EXCLUDED.hi);
    END IF;
    RETURN NULL;
END $$;

-- ───────────────────────── what a client may note ─────────────────────────

-- Migration 4's audit_note with the new names refused (the server writes those rows)
-- and the import's summary: the app's `import` row (file, sha256, duplicates…) is kept,
-- with the count and id range the server saw (import_pending) in place of the client's;
-- `import_dry_run` (nothing written) is noted like an export.
CREATE OR REPLACE FUNCTION pool_private.audit_note(p_action text, p_entity text, p_entity_id bigint, p_before text, p_after text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    v bigint;
    p record;
    j jsonb;
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
        RETURN pool_private.append_audit(a.login, 'import', 'import', NULL, NULL, j::text,
            pool_private.sim_now(a.role));
    END IF;
    SELECT max(seq) INTO v FROM audit_log
     WHERE tx = txid_current() AND entity = p_entity AND entity_id IS NOT DISTINCT FROM p_entity_id;
    IF v IS NOT NULL THEN
        RETURN v;
    END IF;
    -- The server's row for it waits for the commit (work_flush).
    IF EXISTS (SELECT 1 FROM pool_private.audit_defer d
                WHERE d.tx = txid_current() AND d.entity = p_entity AND d.entity_id IS NOT DISTINCT FROM p_entity_id)
       OR (p_entity = 'followup' AND EXISTS (SELECT 1 FROM pool_private.work_moves m
                                              WHERE m.tx = txid_current() AND m.followup_id = p_entity_id)) THEN
        RETURN 0;
    END IF;
    IF p_action IN ('claim', 'release', 'recycle', 'assign', 'transfer', 'deactivate', 'user_deactivate',
                    'lock', 'unlock', 'edit', 'add', 'import', 'delete', 'undelete', 'forget', 'merge', 'log',
                    'followup', 'deal', 'rules', 'user_add', 'user_set', 'team_add', 'pool_add', 'bootstrap',
                    'customer_add', 'customer_edit', 'customer_delete', 'customer_undelete', 'import_merge',
                    'merged_into', 'merge_undo', 'merge_restored', 'allocate', 'deal_add', 'deal_void',
                    'followup_add', 'followup_done', 'followup_cancel', 'followup_move', 'rules_set',
                    'settings_set', 'field_add', 'field_set', 'field_remove', 'team_set', 'team_remove',
                    'pool_set', 'pool_remove', 'pool_team_add', 'pool_team_remove', 'user_set_email',
                    'contact_add', 'contact_edit', 'contact_remove', 'notify_channel_add', 'notify_channel_remove')
       OR p_action LIKE 'team\_%' OR p_action LIKE 'pool\_%' OR p_action LIKE 'rules\_%' OR p_action LIKE 'setting\_%'
       OR p_entity NOT IN ('customer', 'customers', 'export', 'database', 'audit', 'report', 'user', 'team', 'pool', 'import')
       OR (p_entity = 'import' AND p_action <> 'import_dry_run') THEN
        RAISE EXCEPTION 'pool: the server writes the audit row of a % itself', p_action USING ERRCODE = 'PT403';
    END IF;
    RETURN pool_private.append_audit(a.login, p_action, p_entity, p_entity_id, p_before, p_after,
        pool_private.sim_now(a.role));
END $$;

-- ───────────────────────── settings: rules, pools, teams, fields ─────────────────────────

-- Migration 2's settings_log with the app's names.
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
        -- The pool's owned customers get their recycle dates again (the guard recomputes).
        UPDATE customers SET locked = locked WHERE owner_id IS NOT NULL AND deleted_at IS NULL AND pool_id = k;
    END IF;
    RETURN NULL;
END $$;

-- ───────────────────────── work: deals and follow-ups ─────────────────────────

-- Migration 11's work_log (migration 8's, with the voided-deal branch) with the app's
-- names (deal_add; followup_done, followup_cancel, followup_move for a new assignee).
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
            -- Moved or cancelled: decided at commit (work_flush). With its customer's
            -- owner change in this transaction by the same actor, the customer's row
            -- names it (followups_moved / followups_cancelled), as on SQLite; else it
            -- gets its own row with the assignee before and after.
            INSERT INTO pool_private.work_moves (tx, customer_id, followup_id, moved, actor, sim_at, before, after)
            VALUES (txid_current(), NEW.customer_id, NEW.id, NEW.status = 'open', a.login, sim,
                    pool_private.jobj('assignee', pool_private.js(pool_private.login_of(OLD.assignee_id)), 'status', '"open"'),
                    pool_private.jobj('customer', pool_private.jn(NEW.customer_id), 'due', pool_private.js(NEW.due),
                                      'assignee', pool_private.js(pool_private.login_of(NEW.assignee_id)),
                                      'status', pool_private.js(NEW.status)));
            PERFORM pool_private.work_flush_at_commit();
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

-- ───────────────────────── tags on the leads one just added ─────────────────────────

-- Migration 7's tags_added; a customer the actor inserted in this very transaction
-- (its customer_add row, or the id range of its import) may be tagged even when it went
-- into the pool: SQLite's import and add write a lead's tags with the lead, and a member
-- may import into the pool. Nothing else changes.
CREATE OR REPLACE FUNCTION pool_private.tags_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    bad record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.trusted OR pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    IF a.role = 'viewer' THEN
        PERFORM pool_private.forbid('a viewer only reads');
    END IF;
    SELECT t.customer_id AS id, (c.id IS NULL OR c.deleted_at IS NOT NULL) AS missing INTO bad
      FROM (SELECT DISTINCT customer_id FROM added) t
      LEFT JOIN public.customers c ON c.id = t.customer_id
      LEFT JOIN public.users o ON o.id = c.owner_id
     WHERE c.id IS NULL OR c.deleted_at IS NOT NULL
        OR NOT (pool_private.may_work_on(a.role, a.id, a.team_id, c.owner_id, o.team_id)
                OR (c.created_by = a.id AND c.owner_id IS NULL
                    AND (EXISTS (SELECT 1 FROM public.audit_log l
                                  WHERE l.tx = txid_current() AND l.action = 'customer_add'
                                    AND l.entity = 'customer' AND l.entity_id = c.id)
                         OR EXISTS (SELECT 1 FROM pool_private.import_pending p
                                     WHERE p.tx = txid_current() AND c.id BETWEEN p.lo AND p.hi))))
     ORDER BY 2 DESC, 1
     LIMIT 1;
    IF FOUND THEN
        IF bad.missing THEN
            RAISE EXCEPTION 'customer % not found', bad.id USING ERRCODE = 'PT404';
        END IF;
        PERFORM pool_private.forbid(format('customer %s is not yours to work on', bad.id));
    END IF;
    RETURN NULL;
END $$;

-- ───────────────────────── custom values, masked as SQLite shows them ─────────────────────────

-- domain::mask::mask_in_text: every phone-like run (7+ digits with + space - . ( )
-- between) and e-mail-like word in free text masked; text with fewer than 7 digits and
-- no '@' as it is.
CREATE FUNCTION pool_private.mask_in_text(p text) RETURNS text LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    ch text[];
    n int;
    res text := '';
    i int := 1;
    j int;
    e int;
    at_ int;
    last_digit int;
    digits int;
BEGIN
    IF p IS NULL OR (length(regexp_replace(p, '[^0-9]', '', 'g')) < 7 AND position('@' IN p) = 0) THEN
        RETURN p;
    END IF;
    ch := regexp_split_to_array(p, '');
    n := coalesce(array_length(ch, 1), 0);
    WHILE i <= n LOOP
        -- an e-mail address: a word starting here (not inside one) with an '@' after
        -- its first character and a dot after the '@'; a trailing dot is not part of it
        IF ch[i] ~ '^[A-Za-z0-9._+%-]$' AND NOT (i > 1 AND ch[i - 1] ~ '^[A-Za-z0-9._+%@-]$') THEN
            e := i;
            WHILE e <= n AND ch[e] ~ '^[A-Za-z0-9._+%@-]$' LOOP
                e := e + 1;
            END LOOP;
            WHILE e > i AND ch[e - 1] = '.' LOOP
                e := e - 1;
            END LOOP;
            at_ := position('@' IN array_to_string(ch[i:e - 1], ''));
            IF at_ > 1 AND position('.' IN substr(array_to_string(ch[i:e - 1], ''), at_ + 1)) > 0 THEN
                res := res || pool_private.mask_email(array_to_string(ch[i:e - 1], ''));
                i := e;
                CONTINUE;
            END IF;
        END IF;
        IF ch[i] ~ '^[0-9]$' OR (ch[i] = '+' AND i < n AND ch[i + 1] ~ '^[0-9]$') THEN
            j := i;
            last_digit := i;
            digits := 0;
            WHILE j <= n AND (ch[j] ~ '^[0-9]$' OR ch[j] IN ('+', ' ', '-', '.', '(', ')')) LOOP
                IF ch[j] ~ '^[0-9]$' THEN
                    digits := digits + 1;
                    last_digit := j;
                END IF;
                j := j + 1;
            END LOOP;
            -- (a date, 2026-12-01 or 2027/1/5 or 2027.01.15, is not a phone number)
            IF digits >= 7 AND array_to_string(ch[i:last_digit], '')
                   !~ '^[0-9]{4}(-[0-9]{1,2}-|\.[0-9]{1,2}\.|/[0-9]{1,2}/)[0-9]{1,2}$' THEN
                res := res || pool_private.mask_phone(array_to_string(ch[i:last_digit], ''));
            ELSE
                res := res || array_to_string(ch[i:last_digit], '');
            END IF;
            i := last_digit + 1;
            CONTINUE;
        END IF;
        res := res || ch[i];
        i := i + 1;
    END LOOP;
    RETURN res;
END $$;

-- app's shown_value over a custom-values column: string values through mask_in_text.
CREATE FUNCTION pool_private.mask_custom(p text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$
    SELECT jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'string' THEN to_jsonb(pool_private.mask_in_text(v #>> '{}'))
                                    ELSE v END)::text
      FROM jsonb_each(pool_private.custom_obj(p)) AS e(k, v)
$$;
GRANT EXECUTE ON FUNCTION pool_private.mask_in_text(text), pool_private.mask_custom(text), pool_private.custom_obj(text)
    TO pool_admin, pool_manager, pool_member, pool_viewer;

-- Migration 5's view: where the reader sees the contacts masked, custom values are
-- shown as the app shows them there (mask_in_text) instead of not at all, so list,
-- show, --where and export agree with SQLite. Notes stay hidden.
CREATE OR REPLACE VIEW customers_v WITH (security_barrier) AS
SELECT c.id, c.name, c.company,
       CASE WHEN s.sees THEN c.phone ELSE pool_private.mask_phone(c.phone) END AS phone,
       CASE WHEN s.sees THEN c.email ELSE pool_private.mask_email(c.email) END AS email,
       c.city,
       CASE WHEN s.sees OR c.address IS NULL THEN c.address ELSE '***' END AS address,
       c.source, c.stage, c.tags,
       CASE WHEN s.sees THEN c.notes END AS notes,
       CASE WHEN s.sees THEN c.custom
            WHEN length(regexp_replace(c.custom, '[^0-9]', '', 'g')) < 7 AND position('@' IN c.custom) = 0 THEN c.custom
            ELSE pool_private.mask_custom(c.custom) END AS custom,
       CASE WHEN s.sees THEN c.phone_key END AS phone_key,
       CASE WHEN s.sees THEN c.email_key END AS email_key,
       c.name_key, c.company_key, c.pool_id, c.owner_id, c.previous_owner_id, c.locked,
       c.created_at, c.updated_at, c.created_by, c.claimed_at, c.pooled_at, c.released_at,
       c.last_contact_at, c.won_at, c.deleted_at, c.merged_into, c.forgotten_at, c.recycle_due_at,
       s.sees AS contact_visible,
       c.level, c.industry
  FROM customers c
  CROSS JOIN LATERAL (
      SELECT pool_private.may_work_on((SELECT pool_private.my_role()), (SELECT pool_private.my_id()),
                                      (SELECT pool_private.my_team()), c.owner_id,
                                      pool_private.team_of(c.owner_id)) AS sees) s;

-- ───────────────────────── notify channels for the team ─────────────────────────

-- domain::notify::mask_target: scheme and host, the rest (path, key, user) hidden.
CREATE FUNCTION pool_private.mask_target(t text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN position('://' IN t) > 0 THEN split_part(t, '://', 1) ELSE '' END || '://'
        || regexp_replace(substring(CASE WHEN position('://' IN t) > 0 THEN substr(t, position('://' IN t) + 3) ELSE t END
                                    FROM '^[^/?]*'), '^.*@', '') || '/****'
$$;

-- Every pool user lists their own team's channels (as on SQLite), through this view
-- only: members and viewers have no privilege on the table, and the view shows them
-- the target masked (the webhook key is a secret: admins and the team's managers, who
-- post to it, read it whole, as migration 4's policy says).
CREATE POLICY team_read ON notify_channels FOR SELECT USING (team_id = (SELECT pool_private.my_team()));
CREATE VIEW notify_channels_v WITH (security_barrier) AS
SELECT c.id, c.team_id, c.kind, c.preset,
       CASE WHEN (SELECT pool_private.my_role()) = 'admin'
                 OR ((SELECT pool_private.my_role()) = 'manager' AND c.team_id = (SELECT pool_private.my_team()))
            THEN c.target ELSE pool_private.mask_target(c.target) END AS target,
       c.sender, c.created_at, c.removed_at
  FROM notify_channels c;
GRANT SELECT ON notify_channels_v TO pool_admin, pool_manager, pool_member, pool_viewer;
GRANT EXECUTE ON FUNCTION pool_private.mask_target(text) TO pool_admin, pool_manager, pool_member, pool_viewer;

-- ───────────────────────── merge: the contacts it moves ─────────────────────────

-- Migration 4's merge_customers; its 'merge' row also names the contact people moved to
-- the survivor (contacts_moved), as app/merge.rs writes it on SQLite.
CREATE OR REPLACE FUNCTION pool_private.merge_customers(p_survivor bigint, p_others bigint[], p_fields jsonb,
    p_score double precision DEFAULT NULL, p_reasons text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    contacts_ bigint[];
    a record;
    sim bigint;
    now_ bigint;
    all_ids bigint[];
    c public.customers;
    owners bigint[];
    owner_ bigint;
    o record;
    r public.pool_rules;
    lost bigint;
    rows_ jsonb := '[]';
    tags_ jsonb := '{}';
    origin jsonb := '{}';
    assignees jsonb;
    t text;
    m jsonb;
    merge_id bigint;
    moved bigint[];
    tag_list text[];
    after_ text;
    x bigint;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND a.role NOT IN ('admin', 'manager') THEN
        PERFORM pool_private.forbid('only a manager or an admin merges customers');
    END IF;
    IF p_survivor IS NULL OR coalesce(cardinality(p_others), 0) = 0 OR p_survivor = ANY (p_others)
       OR (SELECT count(DISTINCT v) FROM unnest(p_others) v) <> cardinality(p_others)
       OR array_position(p_others, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'a merge needs a survivor and at least one other, distinct customer' USING ERRCODE = 'PT422';
    END IF;
    IF p_fields IS NULL OR jsonb_typeof(p_fields) <> 'object' THEN
        RAISE EXCEPTION 'the merged fields must be a JSON object' USING ERRCODE = 'PT422';
    END IF;
    all_ids := p_survivor || p_others;
    now_ := pool_private.rule_now(a.role);
    sim := pool_private.sim_now(a.role);
    -- Lock the group (in id order, so two merges of overlapping groups queue).
    PERFORM 1 FROM customers WHERE id = ANY (all_ids) ORDER BY id FOR UPDATE;
    FOREACH x IN ARRAY all_ids LOOP
        SELECT * INTO c FROM customers WHERE id = x;
        IF NOT FOUND OR c.deleted_at IS NOT NULL THEN
            RAISE EXCEPTION 'customer % not found', x USING ERRCODE = 'PT404';
        END IF;
        PERFORM pool_private.require_manage(a.id, a.team_id, a.role, a.trusted, c);
    END LOOP;
    SELECT array_agg(DISTINCT owner_id) INTO owners FROM customers WHERE id = ANY (all_ids) AND owner_id IS NOT NULL;
    IF cardinality(owners) > 1 THEN
        RAISE EXCEPTION 'customers % have different owners (%); a manager must assign them to one owner first',
            array_to_string(all_ids, ', '),
            (SELECT string_agg(login, ', ' ORDER BY login) FROM users WHERE id = ANY (owners)) USING ERRCODE = 'PT409';
    END IF;
    owner_ := owners[1];
    IF owner_ IS NOT NULL THEN
        -- Owned beats pooled: only where the owner could claim each pooled one now.
        SELECT * INTO o FROM users WHERE id = owner_;
        FOR c IN SELECT * FROM customers WHERE id = ANY (all_ids) AND owner_id IS NULL LOOP
            IF o.role <> 'admin' AND NOT pool_private.pool_visible(c.pool_id, o.team_id) THEN
                RAISE EXCEPTION 'customer % is in pool ''%'', which %''s team does not see: assign it first',
                    c.id, pool_private.pool_name(c.pool_id), o.login USING ERRCODE = 'PT414';
            END IF;
            r := pool_private.rules_of(c.pool_id);
            IF r.fresh_hold_hours > 0 AND c.pooled_at IS NOT NULL AND now_ < c.pooled_at + r.fresh_hold_hours * 3600 THEN
                RAISE EXCEPTION 'customer % just entered the pool: % may not get it by a merge yet', c.id, o.login
                    USING ERRCODE = 'PT413';
            END IF;
            IF r.reclaim_cooldown_days > 0 THEN
                SELECT max(at) INTO lost FROM ownership_events
                 WHERE from_user = owner_ AND customer_id = c.id AND event IN ('release', 'recycle');
                IF lost IS NOT NULL AND now_ < lost + r.reclaim_cooldown_days * 86400 THEN
                    RAISE EXCEPTION 'customer % is in %''s re-claim cooldown: a merge does not give it back early',
                        c.id, o.login USING ERRCODE = 'PT412';
                END IF;
            END IF;
        END LOOP;
    END IF;

    -- The before-image: every customer row, its tags, where each child row came from,
    -- and to whom each open follow-up was assigned.
    FOREACH x IN ARRAY all_ids LOOP
        rows_ := rows_ || jsonb_build_array((SELECT to_jsonb(cc) FROM customers cc WHERE cc.id = x));
        tags_ := tags_ || jsonb_build_object(x::text,
            (SELECT coalesce(jsonb_agg(tag ORDER BY tag), '[]') FROM customer_tags WHERE customer_id = x));
    END LOOP;
    FOREACH t IN ARRAY pool_private.merge_children() LOOP
        EXECUTE format('SELECT coalesce(jsonb_object_agg(id::text, customer_id), ''{}'') FROM public.%I
                         WHERE customer_id = ANY ($1)', t) INTO m USING p_others;
        origin := origin || jsonb_build_object(t, m);
    END LOOP;
    SELECT coalesce(jsonb_object_agg(id::text, assignee_id), '{}') INTO assignees
      FROM followups WHERE customer_id = ANY (all_ids) AND status = 'open';
    INSERT INTO merges (survivor_id, merged_ids, before, score, reasons, by_user, at)
    VALUES (p_survivor, to_json(p_others)::text,
            jsonb_build_object('rows', rows_, 'tags', tags_, 'origin', origin, 'assignees', assignees)::text,
            p_score, p_reasons, a.id, now_)
    RETURNING id INTO merge_id;

    -- The contact people that move to the survivor, named in the merge row as the app does.
    SELECT array_agg(k.id ORDER BY array_position(p_others, k.customer_id), k.id) INTO contacts_
      FROM contacts k WHERE k.customer_id = ANY (p_others);
    PERFORM pool_private.begin_op('merge');
    FOREACH t IN ARRAY pool_private.merge_children() LOOP
        EXECUTE format('UPDATE public.%I SET customer_id = $1 WHERE customer_id = ANY ($2)', t)
            USING p_survivor, p_others;
    END LOOP;
    tag_list := array(SELECT DISTINCT btrim(v) FROM unnest(string_to_array(coalesce(p_fields ->> 'tags', ''), ',')) v
                       WHERE btrim(v) <> '');
    UPDATE customers s SET
           name = p_fields ->> 'name', company = p_fields ->> 'company', phone = p_fields ->> 'phone',
           email = p_fields ->> 'email', city = p_fields ->> 'city', address = p_fields ->> 'address',
           source = p_fields ->> 'source', notes = p_fields ->> 'notes', custom = p_fields ->> 'custom',
           tags = coalesce(p_fields ->> 'tags', ''),
           phone_key = p_fields ->> 'phone_key', email_key = p_fields ->> 'email_key',
           name_key = p_fields ->> 'name_key', company_key = p_fields ->> 'company_key',
           stage = g.stage, last_contact_at = g.last_contact, won_at = g.won,
           owner_id = owner_,
           claimed_at = CASE WHEN owner_ IS NULL THEN NULL ELSE coalesce(s.claimed_at, now_) END,
           pooled_at = CASE WHEN owner_ IS NULL THEN s.pooled_at ELSE NULL END,
           updated_at = now_
      FROM (SELECT (array_agg(stage ORDER BY CASE stage WHEN 'loyal' THEN 3 WHEN 'customer' THEN 2
                                                        WHEN 'churned' THEN 1 ELSE 0 END DESC))[1] AS stage,
                   max(last_contact_at) AS last_contact, min(won_at) AS won
              FROM customers WHERE id = ANY (all_ids)) g
     WHERE s.id = p_survivor;
    DELETE FROM customer_tags WHERE customer_id = ANY (all_ids);
    INSERT INTO customer_tags (tag, customer_id) SELECT v, p_survivor FROM unnest(tag_list) v ON CONFLICT DO NOTHING;
    UPDATE customers SET deleted_at = now_, merged_into = p_survivor, updated_at = now_, owner_id = NULL,
           locked = false
     WHERE id = ANY (p_others);
    UPDATE customers cc SET recycle_due_at = pool_private.recycle_due(cc) WHERE cc.id = ANY (all_ids);
    -- Work follows the customer: open follow-ups nobody in the owner's team will do go
    -- to the owner (undo gives them back).
    IF owner_ IS NOT NULL THEN
        WITH m AS (
            UPDATE followups SET assignee_id = owner_
             WHERE customer_id = p_survivor AND status = 'open' AND assignee_id <> owner_
               AND assignee_id NOT IN (SELECT u.id FROM users u WHERE u.active AND u.team_id = o.team_id)
            RETURNING id)
        SELECT array_agg(id ORDER BY id) INTO moved FROM m;
    END IF;
    PERFORM pool_private.end_op();

    after_ := pool_private.jobj('merge_id', merge_id::text, 'survivor', p_survivor::text,
        'score', coalesce(to_jsonb(p_score)::text, 'null'), 'reasons', pool_private.js(p_reasons));
    IF moved IS NOT NULL THEN
        after_ := left(after_, -1) || ',"followups_moved":' || to_json(moved)::text || '}';
    END IF;
    IF contacts_ IS NOT NULL THEN
        after_ := left(after_, -1) || ',"contacts_moved":' || to_json(contacts_)::text || '}';
    END IF;
    PERFORM pool_private.append_audit(a.login, 'merge', 'customer', p_survivor,
        pool_private.jobj('merged', to_json(p_others)::text), after_, sim);
    FOREACH x IN ARRAY p_others LOOP
        PERFORM pool_private.append_audit(a.login, 'merged_into', 'customer', x,
            '{"merged_into":null}',
            pool_private.jobj('merge_id', merge_id::text, 'merged_into', p_survivor::text), sim);
    END LOOP;
    RETURN merge_id;
END $$;

UPDATE settings SET value = '14' WHERE key = 'schema_version';
