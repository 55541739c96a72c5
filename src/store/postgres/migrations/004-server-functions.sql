-- pool on PostgreSQL, migration 4: the use cases the row guards cannot express, as
-- server functions (forget, merge, undo a merge, move a user to another team,
-- re-activate a user), and the end of direct client writes to `merges`.
--
-- Each function is SECURITY DEFINER with a fixed search_path, finds the actor as every
-- definer function of migration 2 does (pool_private.actor(): the login role, with an
-- active users row, its role and team), decides the whole rule itself, and appends its
-- audit rows in the caller's transaction. Moving history between customers, erasing the
-- owner history's reasons and restoring before-images are things no row guard allows a
-- client; the functions do them as the owner while they hold a "server operation"
-- marker (below), during which the row guards and row logs step aside for the rows the
-- function writes — the function has checked and audits them itself.

-- ───────────────────────── the server-operation marker ─────────────────────────

-- One row per transaction while one of the functions below runs. Only the owner
-- writes it (no grant to any pool role); a client can set the setting pool.server_op,
-- but without this row the guards stay on.
CREATE TABLE pool_private.server_ops (
    tx  bigint PRIMARY KEY,
    op  text   NOT NULL
);
REVOKE ALL ON pool_private.server_ops FROM PUBLIC;
ALTER TABLE pool_private.server_ops ENABLE ROW LEVEL SECURITY;
ALTER TABLE pool_private.server_ops FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON pool_private.server_ops
    USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());

CREATE FUNCTION pool_private.server_op_held() RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$ SELECT EXISTS (SELECT 1 FROM pool_private.server_ops WHERE tx = txid_current()) $$;

-- The triggers' WHEN test: cheap (a setting) unless a server operation may be running.
CREATE FUNCTION pool_private.server_op() RETURNS boolean LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF current_setting('pool.server_op', true) IS DISTINCT FROM 'on' THEN
        RETURN false;
    END IF;
    RETURN pool_private.server_op_held();
END $$;

CREATE FUNCTION pool_private.begin_op(p_op text) RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    INSERT INTO pool_private.server_ops (tx, op) VALUES (txid_current(), p_op);
    PERFORM set_config('pool.server_op', 'on', true);
END $$;

CREATE FUNCTION pool_private.end_op() RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    DELETE FROM pool_private.server_ops WHERE tx = txid_current();
    PERFORM set_config('pool.server_op', '', true);
END $$;

-- The guards and logs of migration 2, the same functions, now skipped for the rows a
-- server operation writes.
DROP TRIGGER b_guard ON customers;
DROP TRIGGER z_log ON customers;
CREATE TRIGGER b_guard BEFORE INSERT OR UPDATE ON customers
    FOR EACH ROW WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.customers_guard();
CREATE TRIGGER z_log AFTER UPDATE ON customers
    FOR EACH ROW WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.customers_log();
DROP TRIGGER b_guard ON customer_tags;
CREATE TRIGGER b_guard BEFORE INSERT OR DELETE ON customer_tags
    FOR EACH ROW WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.tags_guard();
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['interactions', 'followups', 'deals'] LOOP
        EXECUTE format('DROP TRIGGER b_guard ON public.%I', t);
        EXECUTE format('DROP TRIGGER z_log ON public.%I', t);
        EXECUTE format('CREATE TRIGGER b_guard BEFORE INSERT OR UPDATE OR DELETE ON public.%I
                        FOR EACH ROW WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.work_guard()', t);
        EXECUTE format('CREATE TRIGGER z_log AFTER INSERT OR UPDATE ON public.%I
                        FOR EACH ROW WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.work_log()', t);
    END LOOP;
END $$;

-- ───────────────────────── shared checks ─────────────────────────

-- May actor `a` (pool_private.actor()) merge, undo or erase around customer row `c`?
-- domain::roles::may_work_on plus app::scope::check's pool visibility: admins all;
-- managers pooled customers in pools their team sees and their team's customers.
CREATE FUNCTION pool_private.require_manage(a_id bigint, a_team bigint, a_role text, a_trusted boolean,
    c public.customers) RETURNS void LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF a_trusted OR a_role = 'admin' THEN
        RETURN;
    END IF;
    IF c.owner_id IS NULL AND NOT pool_private.pool_visible(c.pool_id, a_team) THEN
        PERFORM pool_private.forbid(format('customer %s is in a pool your team does not see', c.id));
    END IF;
    IF NOT pool_private.may_work_on(a_role, a_id, a_team, c.owner_id, pool_private.team_of(c.owner_id)) THEN
        PERFORM pool_private.forbid(format('customer %s belongs to %s', c.id, pool_private.login_of(c.owner_id)));
    END IF;
END $$;

-- The tables whose rows belong to a customer and follow it into a merge (and back on
-- undo), by customer_id. ADD NEW CHILD TABLES HERE (e.g. `contacts`, PostgreSQL
-- migration 6): CREATE OR REPLACE this function with the longer list; merge, undo and
-- their before-images use it and nothing else.
CREATE FUNCTION pool_private.merge_children() RETURNS text[] LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY['interactions', 'followups', 'deals', 'ownership_events'] $$;

-- ───────────────────────── pool forget ─────────────────────────

-- Erases a customer's personal data (a deletion request), as the SQLite backend does:
-- the personal fields, match keys, custom fields and tags; the free text of its
-- interactions and follow-ups (open ones cancelled); the reasons in its owner history;
-- the before-images of merges it took part in. The row stays as a tombstone. Admins
-- only. Returns the counts; the audit row 'forget' carries them.
CREATE FUNCTION pool_private.forget_customer(p_id bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    c public.customers;
    now_ bigint;
    n_int bigint;
    n_fu bigint;
    n_ev bigint;
    n_mg bigint;
    counts text;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin erases personal data');
    END IF;
    SELECT * INTO c FROM customers WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'customer % not found', p_id USING ERRCODE = 'PT404';
    END IF;
    IF c.forgotten_at IS NOT NULL THEN
        RAISE EXCEPTION 'customer % was already erased', p_id USING ERRCODE = 'PT409';
    END IF;
    now_ := pool_private.rule_now(a.role);
    PERFORM pool_private.begin_op('forget');
    UPDATE customers SET name = NULL, phone = NULL, email = NULL, address = NULL, notes = NULL,
           custom = NULL, tags = '', phone_key = NULL, email_key = NULL, name_key = NULL,
           owner_id = NULL, locked = false, forgotten_at = now_, deleted_at = coalesce(deleted_at, now_),
           updated_at = now_, recycle_due_at = NULL
     WHERE id = p_id;
    DELETE FROM customer_tags WHERE customer_id = p_id;
    UPDATE interactions SET summary = '(erased)' WHERE customer_id = p_id;
    GET DIAGNOSTICS n_int = ROW_COUNT;
    UPDATE followups SET action = '(erased)', note = NULL,
           status = CASE WHEN status = 'open' THEN 'cancelled' ELSE status END,
           closed_at = coalesce(closed_at, now_)
     WHERE customer_id = p_id;
    GET DIAGNOSTICS n_fu = ROW_COUNT;
    UPDATE ownership_events SET reason = NULL WHERE customer_id = p_id;
    GET DIAGNOSTICS n_ev = ROW_COUNT;
    -- Merge before-images may hold copies of the erased values.
    UPDATE merges SET before = '{"erased":true}'
     WHERE survivor_id = p_id
        OR p_id IN (SELECT jsonb_array_elements_text(merged_ids::jsonb)::bigint);
    GET DIAGNOSTICS n_mg = ROW_COUNT;
    PERFORM pool_private.end_op();
    counts := pool_private.jobj('interactions', n_int::text, 'followups', n_fu::text,
                                'owner_events', n_ev::text, 'merges', n_mg::text);
    PERFORM pool_private.append_audit(a.login, 'forget', 'customer', p_id, NULL,
        pool_private.jobj('erased_fields', '["name","phone","email","address","notes","custom","tags"]',
                          'counts', counts),
        pool_private.sim_now(a.role));
    RETURN counts;
END $$;

-- ───────────────────────── merges ─────────────────────────

-- Merges `p_others` into `p_survivor` (`pool merge`, `dedupe --apply`) with the rules of
-- domain::merge and app::merge: managers and admins; every customer live and theirs to
-- work on (managers: their team's, or pooled in pools their team sees); at most one
-- owner in the group, who keeps the survivor (an owner is never changed silently);
-- pooled customers join that owner only where the owner could claim them (a pool the
-- owner's team sees, no re-claim cooldown, no fresh hold). The client sends the merged
-- fields (domain::merge::plan: the fill-in and spelling rules need normalize.rs, and a
-- manager may edit these fields anyway); the server decides owner, stage (the furthest),
-- last contact (the latest) and first deal (the earliest), keeps the before-image of
-- every row it touches, moves the child rows (merge_children()), gives open follow-ups
-- to the owner, makes the others tombstones, and writes the audit rows 'merge' and
-- 'merged_into'. Returns the merge id.
CREATE FUNCTION pool_private.merge_customers(p_survivor bigint, p_others bigint[], p_fields jsonb,
    p_score double precision DEFAULT NULL, p_reasons text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
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
    PERFORM pool_private.append_audit(a.login, 'merge', 'customer', p_survivor,
        pool_private.jobj('merged', to_json(p_others)::text), after_, sim);
    FOREACH x IN ARRAY p_others LOOP
        PERFORM pool_private.append_audit(a.login, 'merged_into', 'customer', x,
            '{"merged_into":null}',
            pool_private.jobj('merge_id', merge_id::text, 'merged_into', p_survivor::text), sim);
    END LOOP;
    RETURN merge_id;
END $$;

-- Undoes a merge exactly from the before-image the server kept (`pool dedupe undo`):
-- once, not after one of its customers was erased; managers only where every customer
-- of it, before and now, is theirs to work on. Audit rows 'merge_undo' and
-- 'merge_restored'.
CREATE FUNCTION pool_private.undo_merge(p_merge bigint) RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    sim bigint;
    now_ bigint;
    mg public.merges;
    b jsonb;
    row_ jsonb;
    snap public.customers;
    c public.customers;
    ids bigint[];
    all_ids bigint[];
    t text;
    k text;
    v jsonb;
    x bigint;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND a.role NOT IN ('admin', 'manager') THEN
        PERFORM pool_private.forbid('only a manager or an admin undoes a merge');
    END IF;
    SELECT * INTO mg FROM merges WHERE id = p_merge FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'merge % not found', p_merge USING ERRCODE = 'PT404';
    END IF;
    IF mg.undone_at IS NOT NULL THEN
        RAISE EXCEPTION 'merge % was already undone', p_merge USING ERRCODE = 'PT409';
    END IF;
    b := mg.before::jsonb;
    IF b ? 'erased' THEN
        RAISE EXCEPTION 'merge % cannot be undone: one of its customers was erased', p_merge USING ERRCODE = 'PT409';
    END IF;
    ids := array(SELECT jsonb_array_elements_text(mg.merged_ids::jsonb)::bigint);
    all_ids := mg.survivor_id || ids;
    now_ := pool_private.rule_now(a.role);
    sim := pool_private.sim_now(a.role);
    PERFORM 1 FROM customers WHERE id = ANY (all_ids) ORDER BY id FOR UPDATE;
    -- Every customer, as it is now and as it will be again, must be the undoer's.
    FOR c IN SELECT * FROM customers WHERE id = ANY (all_ids) LOOP
        IF c.forgotten_at IS NOT NULL THEN
            RAISE EXCEPTION 'merge % cannot be undone: customer % was erased', p_merge, c.id USING ERRCODE = 'PT409';
        END IF;
        IF c.id = mg.survivor_id OR c.deleted_at IS NULL THEN
            PERFORM pool_private.require_manage(a.id, a.team_id, a.role, a.trusted, c);
        END IF;
    END LOOP;
    FOR row_ IN SELECT * FROM jsonb_array_elements(b -> 'rows') LOOP
        snap := jsonb_populate_record(NULL::public.customers, row_);
        IF NOT snap.id = ANY (all_ids) THEN
            RAISE EXCEPTION 'merge % has a before-image of customer %, which is not in it', p_merge, snap.id
                USING ERRCODE = 'PT800';
        END IF;
        PERFORM pool_private.require_manage(a.id, a.team_id, a.role, a.trusted, snap);
    END LOOP;

    PERFORM pool_private.begin_op('merge_undo');
    -- Children back to the customer they came from; open follow-ups to their assignee.
    FOREACH t IN ARRAY pool_private.merge_children() LOOP
        FOR k, v IN SELECT * FROM jsonb_each(coalesce(b -> 'origin' -> t, '{}')) LOOP
            EXECUTE format('UPDATE public.%I SET customer_id = $2 WHERE id = $1', t)
                USING k::bigint, (v #>> '{}')::bigint;
        END LOOP;
    END LOOP;
    FOR k, v IN SELECT * FROM jsonb_each(coalesce(b -> 'assignees', '{}')) LOOP
        UPDATE followups SET assignee_id = (v #>> '{}')::bigint
         WHERE id = k::bigint AND status = 'open' AND customer_id = ANY (all_ids);
    END LOOP;
    FOR row_ IN SELECT * FROM jsonb_array_elements(b -> 'rows') LOOP
        snap := jsonb_populate_record(NULL::public.customers, row_);
        UPDATE customers SET name = snap.name, company = snap.company, phone = snap.phone, email = snap.email,
               city = snap.city, address = snap.address, source = snap.source, stage = snap.stage,
               tags = snap.tags, notes = snap.notes, custom = snap.custom, phone_key = snap.phone_key,
               email_key = snap.email_key, name_key = snap.name_key, company_key = snap.company_key,
               pool_id = snap.pool_id, owner_id = snap.owner_id, previous_owner_id = snap.previous_owner_id,
               locked = snap.locked, created_at = snap.created_at, updated_at = snap.updated_at,
               created_by = snap.created_by, claimed_at = snap.claimed_at, pooled_at = snap.pooled_at,
               released_at = snap.released_at, last_contact_at = snap.last_contact_at, won_at = snap.won_at,
               deleted_at = snap.deleted_at, merged_into = snap.merged_into, forgotten_at = snap.forgotten_at
         WHERE id = snap.id;
    END LOOP;
    FOR k, v IN SELECT * FROM jsonb_each(coalesce(b -> 'tags', '{}')) LOOP
        IF k::bigint = ANY (all_ids) THEN
            DELETE FROM customer_tags WHERE customer_id = k::bigint;
            INSERT INTO customer_tags (tag, customer_id)
            SELECT e, k::bigint FROM jsonb_array_elements_text(v) e ON CONFLICT DO NOTHING;
        END IF;
    END LOOP;
    UPDATE customers cc SET recycle_due_at = pool_private.recycle_due(cc) WHERE cc.id = ANY (all_ids);
    UPDATE merges SET undone_at = now_ WHERE id = p_merge;
    PERFORM pool_private.end_op();

    PERFORM pool_private.append_audit(a.login, 'merge_undo', 'customer', mg.survivor_id,
        pool_private.jobj('merge_id', p_merge::text),
        pool_private.jobj('restored', to_json(ids)::text), sim);
    FOREACH x IN ARRAY ids LOOP
        PERFORM pool_private.append_audit(a.login, 'merge_restored', 'customer', x,
            pool_private.jobj('merge_id', p_merge::text, 'merged_into', mg.survivor_id::text),
            '{"merged_into":null}', sim);
    END LOOP;
    RETURN ids;
END $$;

-- Merges are written by the functions above only: a before-image a client could edit
-- would let an undo write any row.
REVOKE INSERT, UPDATE, DELETE ON merges FROM pool_admin, pool_manager, pool_member, pool_viewer;

-- ───────────────────────── users: team, re-activation ─────────────────────────

-- `pool user set --team`: admins only; the team must exist. Audit 'user_set'.
CREATE FUNCTION pool_private.set_user_team(p_login text, p_team text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    u record;
    t bigint;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin moves users between teams');
    END IF;
    SELECT * INTO u FROM users WHERE login = p_login FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user ''%'' not found', p_login USING ERRCODE = 'PT404';
    END IF;
    SELECT id INTO t FROM teams WHERE name = p_team;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'team ''%'' not found', p_team USING ERRCODE = 'PT404';
    END IF;
    IF t = u.team_id THEN
        RETURN;
    END IF;
    UPDATE users SET team_id = t WHERE id = u.id;
    PERFORM pool_private.append_audit(a.login, 'user_set', 'user', u.id,
        pool_private.jobj('team', pool_private.js((SELECT name FROM teams WHERE id = u.team_id))),
        pool_private.jobj('team', pool_private.js(p_team)), NULL);
END $$;

-- `pool user set --active`: admins only; the role may log in and connect again and gets
-- its group back (never a role that became privileged meanwhile). Audit 'user_set'.
CREATE FUNCTION pool_private.reactivate_user(p_login text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    u record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin re-activates users');
    END IF;
    SELECT * INTO u FROM users WHERE login = p_login FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user ''%'' not found', p_login USING ERRCODE = 'PT404';
    END IF;
    IF u.active THEN
        RAISE EXCEPTION 'user ''%'' is already active', p_login USING ERRCODE = 'PT409';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_login) THEN
        RAISE EXCEPTION 'the login role ''%'' no longer exists: add the user again under a new login', p_login
            USING ERRCODE = 'PT409';
    END IF;
    IF (SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication
          FROM pg_roles WHERE rolname = p_login) THEN
        RAISE EXCEPTION 'role ''%'' has privileges now: not re-activated as a pool user', p_login USING ERRCODE = 'PT409';
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN', p_login);
    EXECUTE format('GRANT %I TO %I', pool_private.group_of(u.role), p_login);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), p_login);
    UPDATE users SET active = true, deactivated_at = NULL WHERE id = u.id;
    PERFORM pool_private.append_audit(a.login, 'user_set', 'user', u.id,
        pool_private.jobj('active', 'false'), pool_private.jobj('active', 'true'), NULL);
END $$;

-- ───────────────────────── the access report's rows ─────────────────────────

-- Migration 2's audit_note, with one more entity a client may note: 'customers' (an
-- unmasked read of a list, `view_unmasked`), which it refused, so the access report
-- missed every unmasked list on a server.
CREATE OR REPLACE FUNCTION pool_private.audit_note(p_action text, p_entity text, p_entity_id bigint, p_before text, p_after text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    v bigint;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    SELECT max(seq) INTO v FROM audit_log
     WHERE tx = txid_current() AND entity = p_entity AND entity_id IS NOT DISTINCT FROM p_entity_id;
    IF v IS NOT NULL THEN
        RETURN v;
    END IF;
    IF p_action IN ('claim', 'release', 'recycle', 'assign', 'transfer', 'deactivate', 'user_deactivate',
                    'lock', 'unlock', 'edit', 'add', 'import', 'delete', 'forget', 'merge', 'log', 'followup',
                    'deal', 'rules', 'user_add', 'user_set', 'team_add', 'pool_add', 'bootstrap')
       OR p_entity NOT IN ('customer', 'customers', 'export', 'database', 'audit', 'report', 'user', 'team', 'pool') THEN
        RAISE EXCEPTION 'pool: the server writes the audit row of a % itself', p_action USING ERRCODE = 'PT403';
    END IF;
    RETURN pool_private.append_audit(a.login, p_action, p_entity, p_entity_id, p_before, p_after,
        pool_private.sim_now(a.role));
END $$;

-- ───────────────────────── pool notify ─────────────────────────

-- The tables of SQLite migration 10, with the server deciding who reads and writes:
-- channels (their targets are secrets: admins and the team's managers, who run the team's
-- digests, read them; admins write them), the run and sent logs (a run is logged by the
-- admin or manager who made it, for their own team unless an admin), people's digest
-- e-mail addresses (read by the person, their team's managers and admins; set through
-- set_user_email) and the one-run-at-a-time lease.
CREATE TABLE notify_channels (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    team_id     bigint NOT NULL REFERENCES teams(id),
    kind        text   NOT NULL CHECK (kind IN ('webhook', 'smtp')),
    preset      text   NOT NULL DEFAULT 'generic' CHECK (preset IN ('generic', 'wecom', 'dingtalk', 'email')),
    target      text   NOT NULL,
    sender      text,
    created_by  bigint REFERENCES users(id),
    created_at  bigint NOT NULL,
    removed_at  bigint
);
CREATE INDEX notify_channels_team ON notify_channels(team_id);

CREATE TABLE notify_runs (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at          bigint NOT NULL,
    by_user     bigint NOT NULL REFERENCES users(id),
    team_id     bigint REFERENCES teams(id),
    last_event  bigint NOT NULL,
    digests     bigint NOT NULL,
    sent        bigint NOT NULL,
    failed      bigint NOT NULL
);

CREATE TABLE notify_sent (
    user_id     bigint NOT NULL REFERENCES users(id),
    channel_id  bigint NOT NULL REFERENCES notify_channels(id),
    item        text   NOT NULL,
    run_id      bigint NOT NULL REFERENCES notify_runs(id),
    PRIMARY KEY (user_id, channel_id, item)
);

CREATE TABLE notify_emails (
    user_id  bigint PRIMARY KEY REFERENCES users(id),
    email    text   NOT NULL
);

-- The lease: one row, written by notify_lease_set only.
CREATE TABLE pool_private.notify_lease (
    id     int    PRIMARY KEY CHECK (id = 1),
    until  bigint
);
INSERT INTO pool_private.notify_lease VALUES (1, NULL);
REVOKE ALL ON pool_private.notify_lease FROM PUBLIC;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['notify_channels', 'notify_runs', 'notify_sent', 'notify_emails'] LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON public.%I USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner())', t);
        EXECUTE format('CREATE TRIGGER a_same_identity BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON public.%I
                        FOR EACH STATEMENT EXECUTE FUNCTION pool_private.same_identity()', t);
    END LOOP;
END $$;
ALTER TABLE pool_private.notify_lease ENABLE ROW LEVEL SECURITY;
ALTER TABLE pool_private.notify_lease FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON pool_private.notify_lease
    USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());

CREATE POLICY read ON notify_channels FOR SELECT USING (
    (SELECT pool_private.my_role()) = 'admin'
    OR ((SELECT pool_private.my_role()) = 'manager' AND team_id = (SELECT pool_private.my_team())));
CREATE POLICY admin_insert ON notify_channels FOR INSERT WITH CHECK ((SELECT pool_private.my_role()) = 'admin');
CREATE POLICY admin_update ON notify_channels FOR UPDATE USING ((SELECT pool_private.my_role()) = 'admin')
    WITH CHECK ((SELECT pool_private.my_role()) = 'admin');
CREATE POLICY read ON notify_runs FOR SELECT USING ((SELECT pool_private.my_role()) IN ('admin', 'manager'));
CREATE POLICY log ON notify_runs FOR INSERT WITH CHECK (
    by_user = (SELECT pool_private.my_id())
    AND ((SELECT pool_private.my_role()) = 'admin'
         OR ((SELECT pool_private.my_role()) = 'manager' AND team_id = (SELECT pool_private.my_team()))));
CREATE POLICY read ON notify_sent FOR SELECT USING ((SELECT pool_private.my_role()) IN ('admin', 'manager'));
CREATE POLICY log ON notify_sent FOR INSERT WITH CHECK (
    run_id IN (SELECT id FROM notify_runs WHERE by_user = (SELECT pool_private.my_id()))
    AND ((SELECT pool_private.my_role()) = 'admin'
         OR ((SELECT pool_private.my_role()) = 'manager' AND pool_private.team_of(user_id) = (SELECT pool_private.my_team()))));
CREATE POLICY read ON notify_emails FOR SELECT USING (
    (SELECT pool_private.my_role()) = 'admin' OR user_id = (SELECT pool_private.my_id())
    OR ((SELECT pool_private.my_role()) = 'manager' AND pool_private.team_of(user_id) = (SELECT pool_private.my_team())));

GRANT SELECT ON notify_channels, notify_runs, notify_sent TO pool_admin, pool_manager;
GRANT INSERT, UPDATE ON notify_channels TO pool_admin;
GRANT INSERT ON notify_runs, notify_sent TO pool_admin, pool_manager;
GRANT SELECT ON notify_emails TO pool_admin, pool_manager, pool_member, pool_viewer;
GRANT USAGE ON SEQUENCE notify_channels_id_seq, notify_runs_id_seq TO pool_admin, pool_manager;

-- Channels: the server stamps who and when; only removed_at changes afterwards; each
-- change is audited (without the target, a secret).
CREATE FUNCTION pool_private.channels_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF TG_OP = 'INSERT' THEN
        NEW.created_by := a.id; NEW.created_at := pool_private.clock(); NEW.removed_at := NULL;
    ELSE
        IF (NEW.id, NEW.team_id, NEW.kind, NEW.preset, NEW.target, NEW.sender, NEW.created_by, NEW.created_at)
           IS DISTINCT FROM (OLD.id, OLD.team_id, OLD.kind, OLD.preset, OLD.target, OLD.sender, OLD.created_by, OLD.created_at) THEN
            PERFORM pool_private.forbid('a channel is removed and added again, not edited');
        END IF;
        IF OLD.removed_at IS NOT NULL THEN
            NEW.removed_at := OLD.removed_at;
        ELSIF NEW.removed_at IS NOT NULL THEN
            NEW.removed_at := pool_private.clock();
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION pool_private.channels_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    j text;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    j := pool_private.jobj('team', pool_private.js((SELECT name FROM teams WHERE id = NEW.team_id)),
                           'kind', pool_private.js(NEW.kind), 'preset', pool_private.js(NEW.preset));
    IF TG_OP = 'INSERT' THEN
        PERFORM pool_private.append_audit(a.login, 'notify_channel_add', 'notify_channel', NEW.id, NULL, j,
            pool_private.sim_now(a.role));
    ELSIF NEW.removed_at IS NOT NULL AND OLD.removed_at IS NULL THEN
        PERFORM pool_private.append_audit(a.login, 'notify_channel_remove', 'notify_channel', NEW.id, j, NULL,
            pool_private.sim_now(a.role));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER b_guard BEFORE INSERT OR UPDATE ON notify_channels
    FOR EACH ROW EXECUTE FUNCTION pool_private.channels_guard();
CREATE TRIGGER z_log AFTER INSERT OR UPDATE ON notify_channels
    FOR EACH ROW EXECUTE FUNCTION pool_private.channels_log();

-- Each logged run is audited by the server (counts only).
CREATE FUNCTION pool_private.runs_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    PERFORM pool_private.append_audit(a.login, 'notify', 'notify_run', NEW.id, NULL,
        pool_private.jobj('team', pool_private.js((SELECT name FROM teams WHERE id = NEW.team_id)),
                          'digests', NEW.digests::text, 'sent', NEW.sent::text, 'failed', NEW.failed::text),
        pool_private.sim_now(a.role));
    RETURN NULL;
END $$;

CREATE TRIGGER z_log AFTER INSERT ON notify_runs
    FOR EACH ROW EXECUTE FUNCTION pool_private.runs_log();

-- `pool user set --email`: an admin for anyone, a user for themselves; audited masked.
CREATE FUNCTION pool_private.set_user_email(p_login text, p_email text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    u record;
    old_ text;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    SELECT * INTO u FROM users WHERE login = p_login;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user ''%'' not found', p_login USING ERRCODE = 'PT404';
    END IF;
    IF NOT a.trusted AND a.role <> 'admin' AND u.id IS DISTINCT FROM a.id THEN
        PERFORM pool_private.forbid(format('only an admin sets another user''s e-mail (%s)', p_login));
    END IF;
    IF p_email IS NOT NULL AND (length(p_email) > 254 OR p_email !~ '^[^@[:space:]]+@[^@[:space:]]+$') THEN
        RAISE EXCEPTION 'not an e-mail address: %', p_email USING ERRCODE = 'PT422';
    END IF;
    SELECT email INTO old_ FROM notify_emails WHERE user_id = u.id;
    IF p_email IS NULL THEN
        DELETE FROM notify_emails WHERE user_id = u.id;
    ELSE
        INSERT INTO notify_emails (user_id, email) VALUES (u.id, p_email)
        ON CONFLICT (user_id) DO UPDATE SET email = excluded.email;
    END IF;
    PERFORM pool_private.append_audit(a.login, 'user_set_email', 'user', u.id,
        pool_private.jobj('email', pool_private.js(pool_private.mask_email(old_))),
        pool_private.jobj('email', pool_private.js(pool_private.mask_email(p_email))), NULL);
END $$;

-- The run lease (`pool notify`, one run at a time): read under a row lock, so the
-- second of two racing runs waits and then sees the first one's lease; set by the
-- admins and managers who run digests.
CREATE FUNCTION pool_private.notify_lease_get() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    v bigint;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND a.role NOT IN ('admin', 'manager') THEN
        PERFORM pool_private.forbid('only a manager or an admin runs pool notify');
    END IF;
    SELECT until INTO v FROM pool_private.notify_lease WHERE id = 1 FOR UPDATE;
    RETURN v;
END $$;

CREATE FUNCTION pool_private.notify_lease_set(p_until bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND a.role NOT IN ('admin', 'manager') THEN
        PERFORM pool_private.forbid('only a manager or an admin runs pool notify');
    END IF;
    UPDATE pool_private.notify_lease SET until = p_until WHERE id = 1;
END $$;

REVOKE ALL ON FUNCTION pool_private.channels_guard(), pool_private.channels_log(), pool_private.runs_log(),
    pool_private.set_user_email(text, text), pool_private.notify_lease_get(),
    pool_private.notify_lease_set(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.set_user_email(text, text)
    TO pool_admin, pool_manager, pool_member, pool_viewer;
GRANT EXECUTE ON FUNCTION pool_private.notify_lease_get(), pool_private.notify_lease_set(bigint)
    TO pool_admin, pool_manager;

-- ───────────────────────── the quality report ─────────────────────────

-- `pool report quality` counts how complete and valid the records are, which needs the
-- contact columns and match keys that non-admins may not read. These functions give
-- only aggregates (and, for the worst records, the id, name and company the reader sees
-- anyway) over the live customers the reader may read (the customers read policy: admins
-- all; others owned customers and pooled ones in pools their team sees).

-- One bit per missing field, as the SQLite backend's MISSING_MASK.
CREATE FUNCTION pool_private.missing_mask(c public.customers) RETURNS bigint LANGUAGE sql IMMUTABLE
AS $$
    SELECT (c.name IS NULL)::int + 2 * (c.company IS NULL)::int + 4 * (c.phone IS NULL)::int
         + 8 * (c.phone_key IS NULL)::int + 16 * (c.email IS NULL)::int + 32 * (c.email_key IS NULL)::int
         + 64 * (c.city IS NULL)::int + 128 * (c.address IS NULL)::int + 256 * (c.source IS NULL)::int
$$;

CREATE FUNCTION pool_private.readable_by(a_role text, a_team bigint, a_trusted boolean, c public.customers)
RETURNS boolean LANGUAGE sql STABLE
AS $$
    SELECT c.deleted_at IS NULL
       AND (a_trusted OR a_role = 'admin' OR c.owner_id IS NOT NULL OR pool_private.pool_visible(c.pool_id, a_team))
$$;

-- Live readable customers per missing-field mask.
CREATE FUNCTION pool_private.quality_masks() RETURNS TABLE (mask bigint, n bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    RETURN QUERY SELECT pool_private.missing_mask(c), count(*)
                   FROM customers c WHERE pool_private.readable_by(a.role, a.team_id, a.trusted, c)
                  GROUP BY 1 ORDER BY 1;
END $$;

-- Live readable customers that share a phone or e-mail key with another live one.
CREATE FUNCTION pool_private.quality_duplicated() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    n bigint;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    SELECT count(*) INTO n FROM customers c
     WHERE pool_private.readable_by(a.role, a.team_id, a.trusted, c)
       AND ((c.phone_key IS NOT NULL AND EXISTS (
                SELECT 1 FROM customers d WHERE d.phone_key = c.phone_key AND d.id <> c.id AND d.deleted_at IS NULL))
         OR (c.email_key IS NOT NULL AND EXISTS (
                SELECT 1 FROM customers d WHERE d.email_key = c.email_key AND d.id <> c.id AND d.deleted_at IS NULL)));
    RETURN n;
END $$;

-- The first `p_limit` readable live customers (by id) with missing-field mask `p_mask`.
CREATE FUNCTION pool_private.quality_records(p_mask bigint, p_limit bigint)
RETURNS TABLE (id bigint, name text, company text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    RETURN QUERY SELECT c.id, c.name, c.company FROM customers c
                  WHERE pool_private.missing_mask(c) = p_mask
                    AND pool_private.readable_by(a.role, a.team_id, a.trusted, c)
                  ORDER BY c.id LIMIT greatest(p_limit, 0);
END $$;

-- ───────────────────────── privileges ─────────────────────────

REVOKE ALL ON FUNCTION pool_private.server_op_held(), pool_private.server_op(), pool_private.begin_op(text),
    pool_private.end_op(), pool_private.require_manage(bigint, bigint, text, boolean, public.customers),
    pool_private.merge_children(), pool_private.forget_customer(bigint),
    pool_private.merge_customers(bigint, bigint[], jsonb, double precision, text),
    pool_private.undo_merge(bigint), pool_private.set_user_team(text, text),
    pool_private.reactivate_user(text), pool_private.missing_mask(public.customers),
    pool_private.readable_by(text, bigint, boolean, public.customers), pool_private.quality_masks(),
    pool_private.quality_duplicated(), pool_private.quality_records(bigint, bigint) FROM PUBLIC;
-- The triggers' WHEN runs as the writer.
GRANT EXECUTE ON FUNCTION pool_private.server_op(), pool_private.server_op_held()
    TO pool_admin, pool_manager, pool_member, pool_viewer;
GRANT EXECUTE ON FUNCTION pool_private.merge_customers(bigint, bigint[], jsonb, double precision, text),
    pool_private.undo_merge(bigint) TO pool_admin, pool_manager;
GRANT EXECUTE ON FUNCTION pool_private.quality_masks(), pool_private.quality_duplicated(),
    pool_private.quality_records(bigint, bigint) TO pool_admin, pool_manager, pool_member, pool_viewer;
GRANT EXECUTE ON FUNCTION pool_private.forget_customer(bigint), pool_private.set_user_team(text, text),
    pool_private.reactivate_user(text) TO pool_admin;

UPDATE settings SET value = '4' WHERE key = 'schema_version';
