-- Server mode, migration 8: automation per pool (SQLite migration 9) with the server
-- deciding it: what counts as contact (the recycle clock), lead allocation (who may deal
-- which leads to whom, within which limits) and follow-ups planned by rules on claim and
-- deal, in the event's own statement. Plus the demo loader (admins).
-- Run as the database owner, in one transaction, after migration 7.

-- ───────────────────────── the rule columns and tables ─────────────────────────

ALTER TABLE pool_rules ADD COLUMN contact_kinds text NOT NULL DEFAULT 'call,email,meeting,visit,wechat';
ALTER TABLE pool_rules ADD COLUMN min_contact_chars bigint NOT NULL DEFAULT 2 CHECK (min_contact_chars >= 0);
ALTER TABLE pool_rules ADD COLUMN allocate text NOT NULL DEFAULT 'off'
    CHECK (allocate IN ('off', 'round_robin', 'least_loaded'));
ALTER TABLE pool_rules ADD COLUMN allocate_to text NOT NULL DEFAULT '';

-- On an event (claim, deal, silent) for a stage ('' = any), plan an action due so many
-- days later. Admins write it (grant and policy), settings_log audits it.
CREATE TABLE followup_rules (
    pool_id   bigint NOT NULL REFERENCES pools(id),
    event     text   NOT NULL CHECK (event IN ('claim', 'deal', 'silent')),
    stage     text   NOT NULL DEFAULT '',
    action    text   NOT NULL,
    due_days  bigint NOT NULL CHECK (due_days >= 0),
    PRIMARY KEY (pool_id, event, stage)
);

-- Who got each pool's last allocated lead. Written only by set_allocation_cursor.
CREATE TABLE allocation_cursor (
    pool_id      bigint PRIMARY KEY REFERENCES pools(id),
    last_user_id bigint NOT NULL REFERENCES users(id)
);

ALTER TABLE followup_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE followup_rules FORCE ROW LEVEL SECURITY;
ALTER TABLE allocation_cursor ENABLE ROW LEVEL SECURITY;
ALTER TABLE allocation_cursor FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON followup_rules USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());
CREATE POLICY read ON followup_rules FOR SELECT USING ((SELECT pool_private.my_id()) IS NOT NULL);
CREATE POLICY admin_insert ON followup_rules FOR INSERT WITH CHECK ((SELECT pool_private.my_role()) = 'admin');
CREATE POLICY admin_update ON followup_rules FOR UPDATE USING ((SELECT pool_private.my_role()) = 'admin')
    WITH CHECK ((SELECT pool_private.my_role()) = 'admin');
CREATE POLICY admin_delete ON followup_rules FOR DELETE USING ((SELECT pool_private.my_role()) = 'admin');
CREATE POLICY owner_all ON allocation_cursor USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());
CREATE POLICY read ON allocation_cursor FOR SELECT USING ((SELECT pool_private.my_id()) IS NOT NULL);
REVOKE ALL ON followup_rules, allocation_cursor FROM PUBLIC;
GRANT SELECT ON followup_rules, allocation_cursor TO pool_admin, pool_manager, pool_member, pool_viewer;
GRANT INSERT, UPDATE, DELETE ON followup_rules TO pool_admin;

CREATE TRIGGER a_same_identity BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON followup_rules
    FOR EACH STATEMENT EXECUTE FUNCTION pool_private.same_identity();
CREATE TRIGGER z_log AFTER INSERT OR UPDATE OR DELETE ON followup_rules
    FOR EACH ROW EXECUTE FUNCTION pool_private.settings_log();
CREATE TRIGGER a_same_identity BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON allocation_cursor
    FOR EACH STATEMENT EXECUTE FUNCTION pool_private.same_identity();

-- Migration 2's defaults for a pool without a rules row, now with the new columns
-- (a row built field by field, so a later column keeps its NULL rather than breaking).
CREATE OR REPLACE FUNCTION pool_private.rules_of(p_pool bigint) RETURNS public.pool_rules LANGUAGE plpgsql STABLE
AS $$
DECLARE r public.pool_rules;
BEGIN
    SELECT * INTO r FROM public.pool_rules WHERE pool_id = p_pool;
    IF NOT FOUND THEN
        r.pool_id := p_pool; r.max_owned := 0; r.count_won := false; r.daily_claims := 0;
        r.reclaim_cooldown_days := 0; r.recycle_no_contact_days := 0; r.recycle_no_deal_days := 0;
        r.warn_days := 3; r.exempt_stages := 'loyal'; r.max_locked := 0; r.fresh_hold_hours := 0;
        r.contact_kinds := 'call,email,meeting,visit,wechat'; r.min_contact_chars := 2;
        r.allocate := 'off'; r.allocate_to := '';
    END IF;
    RETURN r;
END $$;

-- ───────────────────────── what counts as contact ─────────────────────────

-- domain::rules::counts_as_contact: the kind is one of the pool's contact_kinds and the
-- summary, trimmed of Unicode white space as Rust's str::trim does, has at least
-- min_contact_chars characters.
CREATE FUNCTION pool_private.counts_as_contact(p_pool bigint, p_kind text, p_summary text) RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT p_kind = ANY (string_to_array(r.contact_kinds, ','))
       AND char_length(regexp_replace(coalesce(p_summary, ''),
             '^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+|[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$',
             '', 'g')) >= r.min_contact_chars
      FROM (SELECT (pool_private.rules_of(p_pool)).*) r
$$;

-- Migration 2's work_log, with the interaction moving last_contact_at only when it
-- counts as contact in the customer's pool: a member cannot hold a customer off
-- recycling with empty notes, psql or not.
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
        PERFORM pool_private.append_audit(a.login, CASE WHEN TG_OP = 'INSERT' THEN 'followup_add' ELSE 'followup_' || NEW.status END,
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
        PERFORM pool_private.append_audit(a.login, CASE WHEN TG_OP = 'INSERT' THEN 'deal' ELSE 'deal_void' END,
            'customer', NEW.customer_id, NULL,
            pool_private.jobj('deal', pool_private.jn(NEW.id), 'amount_minor', pool_private.jn(NEW.amount_minor),
                              'currency', pool_private.js(NEW.currency), 'void_reason', pool_private.js(NEW.void_reason)), sim);
    END IF;
    RETURN NULL;
END $$;

-- ───────────────────────── allocation ─────────────────────────

-- app::rules::allocation_targets: the active, non-viewer users a pool deals to.
CREATE FUNCTION pool_private.allocation_targets(p_pool bigint) RETURNS SETOF public.users
LANGUAGE sql STABLE
AS $$
    SELECT u.* FROM public.users u, (SELECT (pool_private.rules_of(p_pool)).allocate_to AS t) r
     WHERE u.active AND u.role <> 'viewer'
       AND CASE WHEN r.t LIKE 'team:%' THEN u.team_id = (SELECT id FROM public.teams WHERE name = substr(r.t, 6))
                WHEN r.t LIKE 'users:%' THEN u.login = ANY (SELECT btrim(x) FROM unnest(string_to_array(substr(r.t, 7), ',')) x)
                ELSE false END
     ORDER BY u.id
$$;

-- app::allocate::check_targets: admins, or a manager whose team holds every target.
CREATE FUNCTION pool_private.require_allocate(a_team bigint, a_role text, a_trusted boolean, p_pool bigint)
RETURNS void LANGUAGE plpgsql STABLE
AS $$
DECLARE t record;
BEGIN
    IF a_trusted OR a_role = 'admin' THEN
        RETURN;
    END IF;
    IF a_role <> 'manager' THEN
        PERFORM pool_private.forbid('only a manager or an admin runs allocation');
    END IF;
    SELECT login, team_id INTO t FROM pool_private.allocation_targets(p_pool) WHERE team_id <> a_team LIMIT 1;
    IF FOUND THEN
        PERFORM pool_private.forbid(format('pool ''%s'' allocates to %s of another team; only an admin or that team''s manager may run it',
            pool_private.pool_name(p_pool), t.login));
    END IF;
END $$;

-- A lead given out with the label 'allocate' (intend('assign', 'allocate…')): the pool
-- must allocate, the new owner be one of its targets, the actor one who may run it, and
-- the daily cap (claims and allocations received today, the target's local day) hold.
-- max_owned, visibility and the rest are customers_guard's (b_guard, before this one).
CREATE FUNCTION pool_private.allocate_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    r public.pool_rules;
    v record;
    n bigint;
BEGIN
    IF pg_trigger_depth() > 1 OR OLD.owner_id IS NOT NULL OR NEW.owner_id IS NULL
       OR coalesce(pool_private.reason(), '') NOT LIKE 'allocate%' THEN
        RETURN NEW;
    END IF;
    SELECT * INTO a FROM pool_private.actor();
    IF a.trusted THEN
        RETURN NEW;
    END IF;
    r := pool_private.rules_of(OLD.pool_id);
    IF r.allocate = 'off' THEN
        RAISE EXCEPTION 'pool ''%'' does not allocate', pool_private.pool_name(OLD.pool_id) USING ERRCODE = 'PT422';
    END IF;
    PERFORM pool_private.require_allocate(a.team_id, a.role, a.trusted, OLD.pool_id);
    SELECT * INTO v FROM pool_private.allocation_targets(OLD.pool_id) t WHERE t.id = NEW.owner_id;
    IF NOT FOUND THEN
        PERFORM pool_private.forbid(format('user %s is not one pool ''%s'' allocates to',
            pool_private.login_of(NEW.owner_id), pool_private.pool_name(OLD.pool_id)));
    END IF;
    IF r.daily_claims > 0 THEN
        SELECT count(*) INTO n FROM ownership_events
         WHERE to_user = v.id AND at >= pool_private.day_start(v.team_id, pool_private.rule_now(a.role))
           AND (event = 'claim' OR (event = 'assign' AND reason LIKE 'allocate%'));
        IF n >= r.daily_claims THEN
            RAISE EXCEPTION 'daily claim limit reached: % received %/% today', v.login, n, r.daily_claims
                USING ERRCODE = 'PT411';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER c_allocate BEFORE UPDATE ON customers
    FOR EACH ROW WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.allocate_guard();

-- The round-robin cursor: by those who may run the pool's allocation, to one of its targets.
CREATE FUNCTION pool_private.set_allocation_cursor(p_pool bigint, p_user bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    PERFORM pool_private.require_allocate(a.team_id, a.role, a.trusted, p_pool);
    IF NOT EXISTS (SELECT 1 FROM pool_private.allocation_targets(p_pool) WHERE id = p_user) THEN
        RAISE EXCEPTION 'user % is not one pool % allocates to', p_user, p_pool USING ERRCODE = 'PT422';
    END IF;
    INSERT INTO allocation_cursor (pool_id, last_user_id) VALUES (p_pool, p_user)
    ON CONFLICT (pool_id) DO UPDATE SET last_user_id = excluded.last_user_id;
END $$;

-- Migration 5's customers_log; an allocated lead is recorded as SQLite's app records it:
-- event 'assign' with reason 'allocate: <method>', audit action 'allocate'.
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
        PERFORM pool_private.append_audit(a.login, CASE WHEN NEW.deleted_at IS NULL THEN 'undelete' ELSE 'delete' END,
            'customer', NEW.id, NULL, NULL, sim);
    END IF;
    FOREACH f IN ARRAY ARRAY['name', 'company', 'phone', 'email', 'city', 'address', 'source', 'stage', 'tags',
                             'notes', 'custom', 'pool_id', 'level', 'industry'] LOOP
        o := oj ->> f;
        nw := nj ->> f;
        IF o IS DISTINCT FROM nw AND NOT (f = 'pool_id' AND NEW.owner_id IS DISTINCT FROM OLD.owner_id) THEN
            bk := bk || f || pool_private.audit_value(f, o);
            ak := ak || f || pool_private.audit_value(f, nw);
        END IF;
    END LOOP;
    IF NEW.forgotten_at IS NULL AND cardinality(bk) > 0 THEN
        PERFORM pool_private.append_audit(a.login, 'edit', 'customer', NEW.id,
            pool_private.jobj(VARIADIC bk), pool_private.jobj(VARIADIC ak), sim);
    END IF;
    RETURN NULL;
END $$;

-- ───────────────────────── follow-ups planned by rules ─────────────────────────

-- app::work::plan_on_event on the server: the pool's rule for `p_event` at the
-- customer's stage (a stage rule beats an any-stage one) plans its action for the owner,
-- due `due_days` after today in the actor's team zone, audited as the app does. The id
-- is left in pool.planned_followup ('<customer>:<id>') for the client to report.
CREATE FUNCTION pool_private.plan_on_event(p_event text, c public.customers) RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    a record;
    rule public.followup_rules;
    now_ bigint;
    day date;
    fid bigint;
BEGIN
    SELECT * INTO rule FROM public.followup_rules
     WHERE pool_id = c.pool_id AND event = p_event AND stage IN (c.stage, '')
     ORDER BY stage = '' LIMIT 1;
    IF NOT FOUND OR c.owner_id IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT * INTO a FROM pool_private.actor();
    now_ := pool_private.rule_now(a.role);
    BEGIN
        day := (to_timestamp(now_) AT TIME ZONE pool_private.team_zone(a.team_id))::date;
    EXCEPTION WHEN invalid_parameter_value THEN
        day := (to_timestamp(now_) AT TIME ZONE 'UTC')::date;
    END;
    INSERT INTO public.followups (customer_id, assignee_id, created_by, due, action, status, created_at)
    VALUES (c.id, c.owner_id, coalesce(a.id, c.owner_id), to_char(day + rule.due_days::int, 'YYYY-MM-DD'),
            rule.action, 'open', now_)
    RETURNING id INTO fid;
    PERFORM pool_private.append_audit(a.login, 'followup_add', 'followup', fid, NULL,
        pool_private.jobj('customer', pool_private.jn(c.id), 'assignee', pool_private.js(pool_private.login_of(c.owner_id)),
                          'due', pool_private.js(to_char(day + rule.due_days::int, 'YYYY-MM-DD')),
                          'rule', pool_private.js(p_event)),
        pool_private.sim_now(a.role));
    PERFORM set_config('pool.planned_followup', c.id || ':' || fid, true);
    RETURN fid;
END $$;

-- A customer leaves the pool for an owner (claim, assign, allocation): the claim rule.
-- A deal: the deal rule, at the stage the deal left (z_log, which runs first, moved it).
CREATE FUNCTION pool_private.plan_rules() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE c public.customers;
BEGIN
    IF TG_TABLE_NAME = 'customers' THEN
        IF OLD.owner_id IS NULL AND NEW.owner_id IS NOT NULL AND NEW.deleted_at IS NULL THEN
            PERFORM pool_private.plan_on_event('claim', NEW);
        END IF;
    ELSE
        SELECT * INTO c FROM customers WHERE id = NEW.customer_id AND deleted_at IS NULL;
        IF FOUND THEN
            PERFORM pool_private.plan_on_event('deal', c);
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_plan AFTER UPDATE ON customers
    FOR EACH ROW WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.plan_rules();
CREATE TRIGGER zz_plan AFTER INSERT ON deals
    FOR EACH ROW WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.plan_rules();

-- ───────────────────────── pool demo ─────────────────────────

-- Writes one batch of generated demo customers with their back-dated history, as the
-- SQLite loader does: admins only, under the server-operation marker (the guards would
-- stamp every time with now), each owner checked, no time after now, one audit row per
-- batch ('demo_load' with the id range and counts). p_batch: a JSON array of customers
-- {name, company, phone, email, city, address, source, stage, tags, notes, keys…,
-- pool_id, owner_id, created_at, updated_at, claimed_at, pooled_at, last_contact_at,
-- won_at, tag_keys[], interactions[{kind, summary, at}], followup{due, action, at},
-- deal{amount_minor, product, on, at}}. Returns the ids written.
CREATE FUNCTION pool_private.load_demo(p_batch jsonb) RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    now_ bigint;
    x jsonb;
    i jsonb;
    cid bigint;
    owner_ bigint;
    ids bigint[] := '{}';
    n_int bigint := 0;
    n_fu bigint := 0;
    n_deal bigint := 0;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin loads demo data');
    END IF;
    now_ := pool_private.rule_now(a.role);
    PERFORM pool_private.begin_op('demo');
    FOR x IN SELECT * FROM jsonb_array_elements(p_batch) LOOP
        owner_ := (x ->> 'owner_id')::bigint;
        IF owner_ IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = owner_ AND active AND role <> 'viewer') THEN
            RAISE EXCEPTION 'demo: user % cannot own customers', owner_ USING ERRCODE = 'PT422';
        END IF;
        IF greatest((x ->> 'created_at')::bigint, (x ->> 'updated_at')::bigint, (x ->> 'claimed_at')::bigint,
                    (x ->> 'last_contact_at')::bigint, (x ->> 'won_at')::bigint) > now_ THEN
            RAISE EXCEPTION 'demo: a time after now' USING ERRCODE = 'PT422';
        END IF;
        INSERT INTO customers (name, company, phone, email, city, address, source, stage, tags, notes,
            phone_key, email_key, name_key, company_key, pool_id, owner_id, created_by, created_at, updated_at,
            claimed_at, pooled_at, last_contact_at, won_at)
        VALUES (x ->> 'name', x ->> 'company', x ->> 'phone', x ->> 'email', x ->> 'city', x ->> 'address',
            x ->> 'source', x ->> 'stage', coalesce(x ->> 'tags', ''), x ->> 'notes', x ->> 'phone_key', x ->> 'email_key',
            x ->> 'name_key', x ->> 'company_key', (x ->> 'pool_id')::bigint, owner_, a.id,
            (x ->> 'created_at')::bigint, (x ->> 'updated_at')::bigint, (x ->> 'claimed_at')::bigint,
            (x ->> 'pooled_at')::bigint, (x ->> 'last_contact_at')::bigint, (x ->> 'won_at')::bigint)
        RETURNING id INTO cid;
        ids := ids || cid;
        INSERT INTO customer_tags (tag, customer_id)
        SELECT t, cid FROM jsonb_array_elements_text(coalesce(x -> 'tag_keys', '[]')) t ON CONFLICT DO NOTHING;
        IF owner_ IS NOT NULL THEN
            INSERT INTO ownership_events (customer_id, event, to_user, by_user, pool_id, at)
            VALUES (cid, 'claim', owner_, owner_, (x ->> 'pool_id')::bigint, (x ->> 'claimed_at')::bigint);
            FOR i IN SELECT * FROM jsonb_array_elements(coalesce(x -> 'interactions', '[]')) LOOP
                INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at)
                VALUES (cid, owner_, i ->> 'kind', i ->> 'summary', least((i ->> 'at')::bigint, now_),
                        least((i ->> 'at')::bigint, now_));
                n_int := n_int + 1;
            END LOOP;
            IF jsonb_typeof(x -> 'followup') = 'object' THEN
                INSERT INTO followups (customer_id, assignee_id, created_by, due, action, status, created_at)
                VALUES (cid, owner_, owner_, x #>> '{followup,due}', x #>> '{followup,action}', 'open',
                        least((x #>> '{followup,at}')::bigint, now_));
                n_fu := n_fu + 1;
            END IF;
            IF jsonb_typeof(x -> 'deal') = 'object' THEN
                INSERT INTO deals (customer_id, user_id, amount_minor, currency, product, on_date, created_at)
                VALUES (cid, owner_, (x #>> '{deal,amount_minor}')::bigint, 'CNY', x #>> '{deal,product}',
                        x #>> '{deal,on}', least((x #>> '{deal,at}')::bigint, now_));
                n_deal := n_deal + 1;
            END IF;
        END IF;
    END LOOP;
    UPDATE customers c SET recycle_due_at = pool_private.recycle_due(c) WHERE c.id = ANY (ids);
    PERFORM pool_private.end_op();
    IF cardinality(ids) > 0 THEN
        PERFORM pool_private.append_audit(a.login, 'demo_load', 'customer', NULL, NULL,
            pool_private.jobj('count', cardinality(ids)::text, 'first_id', ids[1]::text,
                              'last_id', ids[cardinality(ids)]::text, 'interactions', n_int::text,
                              'followups', n_fu::text, 'deals', n_deal::text),
            pool_private.sim_now(a.role));
    END IF;
    RETURN ids;
END $$;

REVOKE ALL ON FUNCTION pool_private.rules_of(bigint), pool_private.counts_as_contact(bigint, text, text),
    pool_private.allocation_targets(bigint), pool_private.require_allocate(bigint, text, boolean, bigint),
    pool_private.allocate_guard(), pool_private.set_allocation_cursor(bigint, bigint),
    pool_private.plan_on_event(text, public.customers), pool_private.plan_rules(),
    pool_private.load_demo(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.set_allocation_cursor(bigint, bigint) TO pool_admin, pool_manager;
GRANT EXECUTE ON FUNCTION pool_private.load_demo(jsonb) TO pool_admin;

UPDATE settings SET value = '8' WHERE key = 'schema_version';
