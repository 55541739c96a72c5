-- Server migration 11: one audit vocabulary on both backends, the import's own audit
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
        ELSE
            action := CASE ev WHEN 'deactivate' THEN 'user_deactivate' ELSE ev END;
            PERFORM pool_private.append_audit(a.login, action, 'customer', NEW.id,
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

-- Migration 8's work_log with the app's names (deal_add; followup_done, followup_cancel,
-- followup_move for a new assignee).
CREATE OR REPLACE FUNCTION pool_private.work_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    sim bigint;
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
        IF TG_OP = 'UPDATE' AND NEW.status IN ('open', 'cancelled') AND OLD.status = 'open'
           AND (NEW.customer_id, NEW.due, NEW.action) IS NOT DISTINCT FROM (OLD.customer_id, OLD.due, OLD.action)
           AND EXISTS (SELECT 1 FROM audit_log l
                        WHERE l.tx = txid_current() AND l.entity = 'customer' AND l.entity_id = NEW.customer_id
                          AND l.actor = a.login
                          AND l.action IN ('release', 'recycle', 'assign', 'transfer', 'user_deactivate')) THEN
            -- Moved or cancelled with its customer, in the same transaction by the same
            -- actor: the customer's row is the record (as on SQLite), not one per follow-up.
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
            IF digits >= 7 THEN
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

UPDATE settings SET value = '11' WHERE key = 'schema_version';
