-- pool on PostgreSQL, migration 2: the server enforces who may do what.
--
-- Design (see src/store/postgres/DESIGN.md for the whole argument):
--  * Identity: the login role. Policies compare `current_user` with users.login; no
--    policy or function ever reads a client-settable current_setting() for identity.
--    Every write statement first passes the invoker-rights trigger `a_same_identity`,
--    which refuses it when current_user differs from session_user (SET ROLE to a group),
--    so the SECURITY DEFINER code below (where current_user is the owner) can name the
--    actor by session_user and it is the current_user the policies checked.
--  * Reads: ENABLE + FORCE row level security on every table. Members, managers and
--    viewers have no SELECT privilege on the contact columns of `customers`; they read
--    contacts through the view `customers_v`, which masks them exactly like
--    domain/mask.rs where domain/roles.rs::sees_contact says so.
--  * Writes: plain INSERT/UPDATE on the tables (so the Rust backend keeps the SQLite
--    backend's SQL shape: the conditional claim UPDATE and its row count), guarded by
--    SECURITY DEFINER BEFORE triggers that re-check domain::rules/ownership (visibility,
--    max_owned with count_won, daily cap, re-claim cooldown incl. copies by phone/e-mail
--    key, fresh hold, lock limit, members only on their own customers, won stages need a
--    deal) and stamp server-maintained columns with the server clock. Why triggers and
--    not one function per use case: every path is guarded, psql included, with no second
--    API to keep in step with the ops seam; the row count of the guarded UPDATE is the
--    answer the seam already expects.
--  * Audit: AFTER triggers append the audit row (and the owner history row) in the same
--    transaction, actor = the login role, time = the server clock, hash computed in SQL
--    with sha256(), appends serialised by locking and writing the one row of audit_head.
--    A client cannot skip, forge, update, delete or truncate audit rows.
--  * Limits: counted after writing (not only locking) the acting user's users row, so
--    racing claims serialise under READ COMMITTED and fail with 40001 (retry) under
--    REPEATABLE READ/SERIALIZABLE. No advisory locks anywhere.
--
-- Errors carry SQLSTATEs of class PT (see DESIGN.md for the exit code of each).

CREATE SCHEMA pool_private;
-- Functions are not executable by PUBLIC unless granted below.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

DO $$
DECLARE g text;
BEGIN
    -- Group roles are cluster-wide: created once, shared by every pool database of the
    -- cluster (a user can only connect to the databases that granted them CONNECT).
    FOREACH g IN ARRAY ARRAY['pool_admin', 'pool_manager', 'pool_member', 'pool_viewer'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = g) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', g);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    -- The owner's name, fixed into a function: definer code (current_user = owner)
    -- passes the policies through it.
    EXECUTE format('CREATE FUNCTION pool_private.owner_name() RETURNS name LANGUAGE sql IMMUTABLE AS %L',
                   format('SELECT %L::name', current_user));
END $$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public, pool_private TO pool_admin, pool_manager, pool_member, pool_viewer;

-- ───────────────────────── who is acting ─────────────────────────

-- In policies and views (invoker context): the acting user, by current_user.
CREATE FUNCTION pool_private.is_owner() RETURNS boolean LANGUAGE sql STABLE
AS $$ SELECT current_user = pool_private.owner_name() $$;

CREATE FUNCTION pool_private.my_id() RETURNS bigint LANGUAGE sql STABLE
AS $$ SELECT id FROM public.users WHERE login = current_user AND active $$;

CREATE FUNCTION pool_private.my_role() RETURNS text LANGUAGE sql STABLE
AS $$ SELECT role FROM public.users WHERE login = current_user AND active $$;

CREATE FUNCTION pool_private.my_team() RETURNS bigint LANGUAGE sql STABLE
AS $$ SELECT team_id FROM public.users WHERE login = current_user AND active $$;

CREATE FUNCTION pool_private.team_of(p_user bigint) RETURNS bigint LANGUAGE sql STABLE
AS $$ SELECT team_id FROM public.users WHERE id = p_user $$;

-- Pools a team sees: public (1) and those listed for it.
CREATE FUNCTION pool_private.pool_visible(p_pool bigint, p_team bigint) RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT p_pool = 1 OR EXISTS (SELECT 1 FROM public.pool_teams WHERE pool_id = p_pool AND team_id = p_team) $$;

CREATE FUNCTION pool_private.my_pools() RETURNS bigint[] LANGUAGE sql STABLE
AS $$ SELECT array_append(array(SELECT pool_id FROM public.pool_teams WHERE team_id = pool_private.my_team()), 1::bigint) $$;

-- domain::roles::may_work_on (= sees_contact).
CREATE FUNCTION pool_private.may_work_on(p_role text, p_me bigint, p_team bigint, p_owner bigint, p_owner_team bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE p_role
        WHEN 'admin' THEN true
        WHEN 'manager' THEN p_owner IS NULL OR p_owner_team IS NOT DISTINCT FROM p_team
        WHEN 'member' THEN p_owner IS NOT DISTINCT FROM p_me AND p_owner IS NOT NULL
        ELSE false END
$$;

-- Every write statement: the role acting must be the role that logged in (or the owner,
-- inside pool's own definer code). Invoker rights: current_user here is the caller's.
CREATE FUNCTION pool_private.same_identity() RETURNS trigger LANGUAGE plpgsql
AS $$
BEGIN
    IF current_user <> session_user AND NOT pool_private.is_owner()
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'pool: act as the role you logged in as (current_user % is not %)',
            current_user, session_user USING ERRCODE = 'PT403';
    END IF;
    RETURN NULL;
END $$;

-- In definer code: the actor, by session_user (equal to the statement's current_user,
-- see same_identity). The owner and superusers are trusted (they own the data); anyone
-- else without an active users row is refused.
CREATE FUNCTION pool_private.actor(OUT id bigint, OUT login text, OUT team_id bigint, OUT role text, OUT trusted boolean)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    SELECT u.id, u.login, u.team_id, u.role, false INTO id, login, team_id, role, trusted
      FROM public.users u WHERE u.login = session_user AND u.active;
    IF FOUND THEN
        RETURN;
    END IF;
    IF session_user = pool_private.owner_name()
       OR (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
        id := NULL; login := session_user; team_id := NULL; role := 'admin'; trusted := true;
        RETURN;
    END IF;
    RAISE EXCEPTION 'pool: % is not an active pool user (an admin adds users with pool user add)', session_user
        USING ERRCODE = 'PT001';
END $$;

CREATE FUNCTION pool_private.clock() RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT floor(extract(epoch FROM clock_timestamp()))::bigint $$;

-- The time rules are decided at: the server clock; for an admin, the simulated clock
-- pool.sim_now when set (POOL_NOW: honoured for writes only for admins, as on SQLite).
-- Audit rows always carry the server clock.
CREATE FUNCTION pool_private.sim_now(p_role text) RETURNS bigint LANGUAGE plpgsql VOLATILE
AS $$
DECLARE s text := nullif(current_setting('pool.sim_now', true), '');
BEGIN
    IF p_role = 'admin' AND s ~ '^-?[0-9]{1,12}$' THEN
        RETURN s::bigint;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION pool_private.rule_now(p_role text) RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT coalesce(pool_private.sim_now(p_role), pool_private.clock()) $$;

-- ───────────────────────── the audit chain ─────────────────────────

-- JSON text helpers that write exactly what serde_json writes (compact, same escapes).
CREATE FUNCTION pool_private.js(p text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT coalesce(to_json(p)::text, 'null') $$;
CREATE FUNCTION pool_private.jn(p bigint) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT coalesce(p::text, 'null') $$;
CREATE FUNCTION pool_private.jb(p boolean) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT coalesce(p::text, 'null') $$;
-- An object from key, JSON-text pairs, in the order given.
CREATE FUNCTION pool_private.jobj(VARIADIC kv text[]) RETURNS text LANGUAGE sql IMMUTABLE
AS $$
    SELECT '{' || coalesce(string_agg(to_json(kv[i])::text || ':' || kv[i + 1], ',' ORDER BY i), '') || '}'
      FROM generate_series(1, coalesce(array_length(kv, 1), 0), 2) AS i
$$;

-- domain::audit::canonical, byte for byte.
CREATE FUNCTION pool_private.canonical(p_seq bigint, p_at bigint, p_actor text, p_action text, p_entity text,
    p_entity_id bigint, p_before text, p_after text, p_os_user text, p_sim_at bigint)
RETURNS text LANGUAGE sql IMMUTABLE
AS $$
    SELECT '[' || p_seq || ',' || p_at || ',' || pool_private.js(p_actor) || ',' || pool_private.js(p_action)
        || ',' || pool_private.js(p_entity) || ',' || pool_private.jn(p_entity_id)
        || ',' || pool_private.js(p_before) || ',' || pool_private.js(p_after)
        || CASE WHEN p_os_user IS NOT NULL OR p_sim_at IS NOT NULL
                THEN ',{"os_user":' || pool_private.js(p_os_user) || ',"sim_at":' || pool_private.jn(p_sim_at) || '}'
                ELSE '' END
        || ']'
$$;

-- domain::audit::chain_hash.
CREATE FUNCTION pool_private.chain_hash(p_prev text, p_canonical text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT encode(sha256(convert_to(p_prev || p_canonical, 'UTF8')), 'hex') $$;

-- Appends one row: under the lock of the head row (held to commit, so the chain is in
-- commit order), at = the server clock, never before the previous row.
CREATE FUNCTION pool_private.append_audit(p_actor text, p_action text, p_entity text, p_entity_id bigint,
    p_before text, p_after text, p_sim_at bigint DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql
AS $$
DECLARE
    h record;
    v_seq bigint;
    v_at bigint;
    v_hash text;
BEGIN
    SELECT seq, hash, at INTO h FROM public.audit_head WHERE id = 1 FOR UPDATE;
    v_seq := h.seq + 1;
    v_at := greatest(pool_private.clock(), h.at);
    v_hash := pool_private.chain_hash(h.hash, pool_private.canonical(v_seq, v_at, p_actor, p_action, p_entity,
        p_entity_id, p_before, p_after, NULL, p_sim_at));
    INSERT INTO public.audit_log (seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash, os_user, sim_at)
    VALUES (v_seq, v_at, p_actor, p_action, p_entity, p_entity_id, p_before, p_after, h.hash, v_hash, NULL, p_sim_at);
    UPDATE public.audit_head SET seq = v_seq, hash = v_hash, at = v_at WHERE id = 1;
    RETURN v_seq;
END $$;

-- What a client may add to the trail itself (the seam's `audit()`): a change the server
-- already audited in this transaction is not written twice (its seq is returned); a data
-- change the server audits may not be written by a client; anything else (export,
-- unmasked read, backup, verify…) is written with the server's actor and time.
CREATE FUNCTION pool_private.audit_note(p_action text, p_entity text, p_entity_id bigint, p_before text, p_after text)
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
       OR p_entity NOT IN ('customer', 'export', 'database', 'audit', 'report', 'user', 'team', 'pool') THEN
        RAISE EXCEPTION 'pool: the server writes the audit row of a % itself', p_action USING ERRCODE = 'PT403';
    END IF;
    RETURN pool_private.append_audit(a.login, p_action, p_entity, p_entity_id, p_before, p_after,
        pool_private.sim_now(a.role));
END $$;

-- The label and reason of the next ownership change in this transaction (e.g. a release
-- reason, 'recycle', 'transfer'): a description only, validated against what the server
-- sees (a member's release is always a release), never an identity.
CREATE FUNCTION pool_private.intend(p_event text, p_reason text DEFAULT NULL) RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT set_config('pool.event', coalesce(p_event, ''), true), set_config('pool.reason', coalesce(p_reason, ''), true) $$;

CREATE FUNCTION pool_private.intent(p_allowed text[], p_default text) RETURNS text LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN nullif(current_setting('pool.event', true), '') = ANY (p_allowed)
                THEN current_setting('pool.event', true) ELSE p_default END
$$;

CREATE FUNCTION pool_private.reason() RETURNS text LANGUAGE sql STABLE
AS $$ SELECT nullif(left(current_setting('pool.reason', true), 500), '') $$;

-- audit_log is append-only for everyone, its owner included (a superuser can still
-- disable triggers: `pool audit verify --expect HASH` catches a rewritten chain).
CREATE FUNCTION pool_private.audit_append_only() RETURNS trigger LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'PT800';
END $$;

CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION pool_private.audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION pool_private.audit_append_only();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION pool_private.audit_append_only();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION pool_private.audit_append_only();

-- ───────────────────────── masking (domain/mask.rs) ─────────────────────────

CREATE FUNCTION pool_private.mask_digits(d text) RETURNS text LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    n int := length(d);
    h int;
    t int;
BEGIN
    IF n <= 4 THEN
        RETURN '****';
    ELSIF n = 11 THEN
        h := 3; t := 4;
    ELSE
        h := least((n + 3) / 4, 4); t := least(n / 4, 3);
    END IF;
    RETURN left(d, h) || repeat('*', n - h - t) || right(d, t);
END $$;

-- Unicode White_Space, as Rust's char::is_whitespace.
CREATE FUNCTION pool_private.ws() RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT E'\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000' $$;

-- normalize::phone_without_extension.
CREATE FUNCTION pool_private.phone_without_extension(raw text) RETURNS text LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    ws text := pool_private.ws();
    t text;
    bd text;
    bm text;
    m text;
    main text;
BEGIN
    t := regexp_replace(lower(normalize(raw, NFKC)), '[' || ws || ']+$', '');
    bd := regexp_replace(t, '[0-9]+$', '');
    IF length(bd) = length(t) THEN
        RETURN t;
    END IF;
    bm := regexp_replace(bd, '[' || ws || '.:]+$', '');
    FOREACH m IN ARRAY ARRAY['extension', '分机号', '分机', 'ext', '转', 'x', '#'] LOOP
        IF right(bm, length(m)) = m THEN
            main := left(bm, length(bm) - length(m));
            IF main ~ '[0-9]' THEN
                RETURN main;
            END IF;
        END IF;
    END LOOP;
    RETURN t;
END $$;

-- mask::mask_phone.
CREATE FUNCTION pool_private.mask_phone(raw text) RETURNS text LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    ws text := pool_private.ws();
    main text;
    digits text;
    intl text;
BEGIN
    IF raw IS NULL THEN
        RETURN NULL;
    END IF;
    IF regexp_replace(raw, '[' || ws || ']', '', 'g') = '' THEN
        RETURN '';
    END IF;
    main := pool_private.phone_without_extension(raw);
    digits := regexp_replace(main, '[^0-9]', '', 'g');
    IF left(regexp_replace(main, '^[' || ws || '(]+', ''), 1) = '+' THEN
        intl := digits;
    ELSIF left(digits, 2) = '00' THEN
        intl := substr(digits, 3);
    END IF;
    IF intl IS NOT NULL THEN
        IF left(intl, 2) = '86' AND length(intl) > 2 THEN
            RETURN '+86 ' || pool_private.mask_digits(substr(intl, 3));
        END IF;
        RETURN '+' || pool_private.mask_digits(intl);
    END IF;
    IF left(digits, 2) = '86' AND substr(digits, 3) ~ '^1[3-9][0-9]{9}$' THEN
        RETURN '+86 ' || pool_private.mask_digits(substr(digits, 3));
    END IF;
    RETURN pool_private.mask_digits(digits);
END $$;

-- mask::mask_email.
CREATE FUNCTION pool_private.mask_email(raw text) RETURNS text LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    ws text := pool_private.ws();
    t text;
    m text[];
BEGIN
    IF raw IS NULL THEN
        RETURN NULL;
    END IF;
    t := regexp_replace(regexp_replace(raw, '^[' || ws || ']+', ''), '[' || ws || ']+$', '');
    m := regexp_match(t, '^(.*)@(.*)$');
    IF m IS NULL THEN
        RETURN '***';
    END IF;
    -- Greedy: the last '@' starts the domain.
    RETURN left(m[1], 1) || '***@' || m[2];
END $$;

-- Addresses, notes and custom fields of a customer whose contacts are masked are not
-- shown at all (stricter than mask_address / mask_in_text, until those are ported).

-- ───────────────────────── recycle date (SQLite migration 5) ─────────────────────────

CREATE FUNCTION pool_private.recycle_due(c public.customers) RETURNS bigint LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN nc IS NULL THEN nd WHEN nd IS NULL THEN nc ELSE least(nc, nd) END
      FROM (
        SELECT CASE WHEN cd > 0 THEN greatest(coalesce(c.last_contact_at, claimed), claimed) + cd * 86400 END AS nc,
               CASE WHEN dd > 0 AND c.won_at IS NULL THEN claimed + dd * 86400 END AS nd
          FROM (
            SELECT coalesce(c.claimed_at, 0) AS claimed,
                   coalesce(
                       (SELECT o.recycle_no_contact_days FROM public.pool_rule_overrides o
                         WHERE o.pool_id = r.pool_id AND o.scope = 'stage' AND o.value = c.stage),
                       (SELECT min(o.recycle_no_contact_days) FROM public.pool_rule_overrides o
                         WHERE o.pool_id = r.pool_id AND o.scope = 'tag'
                           AND position(',' || o.value || ',' IN ',' || c.tags || ',') > 0),
                       r.recycle_no_contact_days) AS cd,
                   coalesce(
                       (SELECT o.recycle_no_deal_days FROM public.pool_rule_overrides o
                         WHERE o.pool_id = r.pool_id AND o.scope = 'stage' AND o.value = c.stage),
                       (SELECT min(o.recycle_no_deal_days) FROM public.pool_rule_overrides o
                         WHERE o.pool_id = r.pool_id AND o.scope = 'tag'
                           AND position(',' || o.value || ',' IN ',' || c.tags || ',') > 0),
                       r.recycle_no_deal_days) AS dd
              FROM public.pool_rules r
             WHERE r.pool_id = c.pool_id AND c.owner_id IS NOT NULL AND c.deleted_at IS NULL AND NOT c.locked
               AND position(',' || c.stage || ',' IN ',' || r.exempt_stages || ',') = 0) x) y
$$;

-- ───────────────────────── the rules (domain/rules.rs, domain/ownership.rs) ─────────────────────────

CREATE FUNCTION pool_private.rules_of(p_pool bigint) RETURNS public.pool_rules LANGUAGE plpgsql STABLE
AS $$
DECLARE r public.pool_rules;
BEGIN
    SELECT * INTO r FROM public.pool_rules WHERE pool_id = p_pool;
    IF NOT FOUND THEN
        r := ROW(p_pool, 0, false, 0, 0, 0, 0, 3, 'loyal', 0, 0)::public.pool_rules;
    END IF;
    RETURN r;
END $$;

-- The limit lock: written, not only locked, so REPEATABLE READ/SERIALIZABLE racers conflict.
CREATE FUNCTION pool_private.lock_user(p_user bigint) RETURNS void LANGUAGE sql VOLATILE
AS $$ UPDATE public.users SET lock_serial = lock_serial + 1 WHERE id = p_user $$;

-- max_owned for `p_user` taking a customer of stage `p_stage` from pool `p_pool`.
CREATE FUNCTION pool_private.check_max_owned(p_user bigint, p_login text, p_pool bigint, p_stage text)
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r public.pool_rules := pool_private.rules_of(p_pool);
    n bigint;
BEGIN
    IF r.max_owned > 0 AND (r.count_won OR p_stage NOT IN ('customer', 'loyal')) THEN
        SELECT count(*) INTO n FROM public.customers
         WHERE owner_id = p_user AND deleted_at IS NULL AND pool_id = p_pool
           AND (r.count_won OR stage NOT IN ('customer', 'loyal'));
        IF n >= r.max_owned THEN
            RAISE EXCEPTION 'limit reached: % owns %/% customers in pool ''%''', p_login, n, r.max_owned,
                (SELECT name FROM public.pools WHERE id = p_pool) USING ERRCODE = 'PT410';
        END IF;
    END IF;
END $$;

-- The re-claim cooldown on copies: another customer with this phone or e-mail key that
-- `p_user` released or lost to recycling within the cooldown.
CREATE FUNCTION pool_private.check_lost_twin(p_user bigint, p_id bigint, p_pool bigint,
    p_phone_key text, p_email_key text, p_now bigint)
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r public.pool_rules := pool_private.rules_of(p_pool);
    twin bigint;
    lost bigint;
BEGIN
    IF r.reclaim_cooldown_days <= 0 OR (p_phone_key IS NULL AND p_email_key IS NULL) THEN
        RETURN;
    END IF;
    SELECT c.id, max(e.at) INTO twin, lost
      FROM public.ownership_events e JOIN public.customers c ON c.id = e.customer_id
     WHERE e.from_user = p_user AND e.event IN ('release', 'recycle')
       AND e.at >= p_now - r.reclaim_cooldown_days * 86400 AND c.id <> coalesce(p_id, 0)
       AND ((p_phone_key IS NOT NULL AND c.phone_key = p_phone_key)
         OR (p_email_key IS NOT NULL AND c.email_key = p_email_key))
     GROUP BY c.id LIMIT 1;
    IF twin IS NOT NULL AND lost + r.reclaim_cooldown_days * 86400 > p_now THEN
        RAISE EXCEPTION 'customer % is in its re-claim cooldown until % (same phone or e-mail as customer %, which you gave up)',
            coalesce(p_id, twin), to_char(to_timestamp(lost + r.reclaim_cooldown_days * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
            twin USING ERRCODE = 'PT412';
    END IF;
END $$;

-- A claim of pooled customer `c` by actor `a` (domain::ownership::claim_start + decide_claim).
CREATE FUNCTION pool_private.check_claim(a_id bigint, a_login text, a_team bigint, a_role text,
    c public.customers, p_now bigint)
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r public.pool_rules := pool_private.rules_of(c.pool_id);
    lost bigint;
    n bigint;
BEGIN
    IF a_role <> 'admin' AND NOT pool_private.pool_visible(c.pool_id, a_team) THEN
        RAISE EXCEPTION 'pool ''%'' is not visible to your team', (SELECT name FROM public.pools WHERE id = c.pool_id)
            USING ERRCODE = 'PT414';
    END IF;
    PERFORM pool_private.lock_user(a_id);
    IF r.fresh_hold_hours > 0 AND c.pooled_at IS NOT NULL AND p_now < c.pooled_at + r.fresh_hold_hours * 3600 THEN
        RAISE EXCEPTION 'customer % just entered the pool: only a manager can assign it until %', c.id,
            to_char(to_timestamp(c.pooled_at + r.fresh_hold_hours * 3600) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
            USING ERRCODE = 'PT413';
    END IF;
    IF r.reclaim_cooldown_days > 0 THEN
        SELECT max(at) INTO lost FROM public.ownership_events
         WHERE from_user = a_id AND customer_id = c.id AND event IN ('release', 'recycle');
        IF lost IS NOT NULL AND p_now < lost + r.reclaim_cooldown_days * 86400 THEN
            RAISE EXCEPTION 'customer % is in its re-claim cooldown until %', c.id,
                to_char(to_timestamp(lost + r.reclaim_cooldown_days * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
                USING ERRCODE = 'PT412';
        END IF;
    END IF;
    PERFORM pool_private.check_max_owned(a_id, a_login, c.pool_id, c.stage);
    IF r.daily_claims > 0 THEN
        -- domain::rules::day_start: UTC days.
        SELECT count(*) INTO n FROM public.ownership_events
         WHERE to_user = a_id AND event = 'claim' AND at >= p_now - (p_now % 86400 + 86400) % 86400;
        IF n >= r.daily_claims THEN
            RAISE EXCEPTION 'daily claim limit reached: %/% today', n, r.daily_claims USING ERRCODE = 'PT411';
        END IF;
    END IF;
    PERFORM pool_private.check_lost_twin(a_id, c.id, c.pool_id, c.phone_key, c.email_key, p_now);
END $$;

CREATE FUNCTION pool_private.forbid(p_msg text) RETURNS void LANGUAGE plpgsql
AS $$ BEGIN RAISE EXCEPTION 'permission denied: %', p_msg USING ERRCODE = 'PT403'; END $$;

-- ───────────────────────── customers: the guard ─────────────────────────

CREATE FUNCTION pool_private.customers_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    now_ bigint;
    v record;
    r public.pool_rules;
    n bigint;
    label text;
BEGIN
    -- Writes made by pool's own triggers (last contact after a log, won_at after a deal,
    -- recycle dates after a rule change) were checked where they started.
    IF pg_trigger_depth() > 1 THEN
        NEW.recycle_due_at := pool_private.recycle_due(NEW);
        RETURN NEW;
    END IF;
    SELECT * INTO a FROM pool_private.actor();
    IF a.trusted THEN
        NEW.recycle_due_at := pool_private.recycle_due(NEW);
        RETURN NEW;
    END IF;
    IF a.role = 'viewer' THEN
        PERFORM pool_private.forbid('a viewer only reads');
    END IF;
    now_ := pool_private.rule_now(a.role);

    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now_; NEW.updated_at := now_; NEW.created_by := a.id;
        NEW.previous_owner_id := NULL; NEW.released_at := NULL; NEW.won_at := NULL;
        NEW.deleted_at := NULL; NEW.merged_into := NULL; NEW.forgotten_at := NULL; NEW.locked := false;
        IF a.role <> 'admin' THEN
            NEW.last_contact_at := NULL;
        END IF;
        IF a.role = 'member' AND NEW.stage IN ('customer', 'loyal') THEN
            RAISE EXCEPTION 'permission denied: a member may set stage ''%'' only on a customer with a deal', NEW.stage
                USING ERRCODE = 'PT416';
        END IF;
        IF NEW.owner_id IS NULL THEN
            NEW.pooled_at := now_; NEW.claimed_at := NULL;
            IF a.role <> 'admin' AND NOT pool_private.pool_visible(NEW.pool_id, a.team_id) THEN
                RAISE EXCEPTION 'pool % is not visible to your team', NEW.pool_id USING ERRCODE = 'PT414';
            END IF;
        ELSE
            NEW.claimed_at := now_; NEW.pooled_at := NULL;
            SELECT * INTO v FROM users WHERE id = NEW.owner_id;
            IF NOT FOUND OR NOT v.active OR v.role = 'viewer' THEN
                RAISE EXCEPTION '''%'' cannot own customers', coalesce(v.login, NEW.owner_id::text) USING ERRCODE = 'PT422';
            END IF;
            IF a.role = 'member' AND NEW.owner_id <> a.id THEN
                PERFORM pool_private.forbid('a member adds customers for themselves or the pool');
            END IF;
            IF a.role = 'manager' AND v.team_id <> a.team_id THEN
                PERFORM pool_private.forbid(format('''%s'' is not in your team', v.login));
            END IF;
            PERFORM pool_private.lock_user(v.id);
            PERFORM pool_private.check_max_owned(v.id, v.login, NEW.pool_id, NEW.stage);
            PERFORM pool_private.check_lost_twin(v.id, NULL, NEW.pool_id, NEW.phone_key, NEW.email_key, now_);
        END IF;
        NEW.recycle_due_at := pool_private.recycle_due(NEW);
        RETURN NEW;
    END IF;

    -- UPDATE
    IF NEW.id <> OLD.id THEN
        PERFORM pool_private.forbid('a customer keeps its id');
    END IF;
    IF a.role <> 'admin' THEN
        -- Server-maintained: whatever a client writes, these stay as the rules below set them.
        NEW.created_at := OLD.created_at; NEW.created_by := OLD.created_by;
        NEW.claimed_at := OLD.claimed_at; NEW.pooled_at := OLD.pooled_at; NEW.released_at := OLD.released_at;
        NEW.previous_owner_id := OLD.previous_owner_id; NEW.last_contact_at := OLD.last_contact_at;
        NEW.won_at := OLD.won_at;
        IF NEW.forgotten_at IS DISTINCT FROM OLD.forgotten_at THEN
            PERFORM pool_private.forbid('only an admin erases personal data');
        END IF;
        IF a.role = 'member' AND (NEW.deleted_at IS DISTINCT FROM OLD.deleted_at
                                  OR NEW.merged_into IS DISTINCT FROM OLD.merged_into) THEN
            PERFORM pool_private.forbid('a member does not delete or merge customers');
        END IF;
    END IF;
    NEW.updated_at := now_;
    IF OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NOT NULL AND a.role <> 'admin' THEN
        RAISE EXCEPTION 'customer % not found (deleted)', OLD.id USING ERRCODE = 'PT404';
    END IF;
    -- Who may touch the row at all (the policies filtered already; the rule lives here too).
    IF NOT pool_private.may_work_on(a.role, a.id, a.team_id, OLD.owner_id, pool_private.team_of(OLD.owner_id))
       AND NOT (OLD.owner_id IS NULL AND NEW.owner_id IS NOT DISTINCT FROM a.id) THEN
        PERFORM pool_private.forbid(format('customer %s is not yours to change', OLD.id));
    END IF;

    IF NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
        IF OLD.owner_id IS NULL AND NEW.owner_id = a.id THEN
            -- claim (领取)
            IF NEW.pool_id <> OLD.pool_id THEN
                PERFORM pool_private.forbid('a claim does not move a customer to another pool');
            END IF;
            PERFORM pool_private.check_claim(a.id, a.login, a.team_id, a.role, OLD, now_);
            NEW.claimed_at := now_; NEW.locked := false;
        ELSIF NEW.owner_id IS NULL THEN
            -- release / recycle / deactivate (放入公海)
            label := CASE WHEN a.role IN ('admin', 'manager')
                          THEN pool_private.intent(ARRAY['release', 'recycle', 'deactivate'], 'release')
                          ELSE 'release' END;
            IF OLD.locked AND NOT (label = 'deactivate' AND a.role = 'admin') THEN
                RAISE EXCEPTION 'customer % is locked: unlock it first', OLD.id USING ERRCODE = 'PT415';
            END IF;
            IF a.role = 'member' AND NEW.pool_id <> OLD.pool_id THEN
                PERFORM pool_private.forbid(format('a member releases customer %s into its own pool', OLD.id));
            END IF;
            IF NEW.pool_id <> OLD.pool_id AND a.role <> 'admin'
               AND NOT pool_private.pool_visible(NEW.pool_id, a.team_id) THEN
                RAISE EXCEPTION 'pool % is not visible to your team', NEW.pool_id USING ERRCODE = 'PT414';
            END IF;
            NEW.previous_owner_id := OLD.owner_id; NEW.released_at := now_; NEW.pooled_at := now_;
            NEW.claimed_at := NULL; NEW.locked := false;
        ELSE
            -- assign / transfer: a hand-over by a manager or an admin
            IF a.role NOT IN ('admin', 'manager') THEN
                PERFORM pool_private.forbid('only a manager or an admin gives a customer to someone else');
            END IF;
            SELECT * INTO v FROM users WHERE id = NEW.owner_id;
            IF NOT FOUND OR NOT v.active OR v.role = 'viewer' THEN
                RAISE EXCEPTION '''%'' cannot own customers (deactivated or a viewer)', coalesce(v.login, NEW.owner_id::text)
                    USING ERRCODE = 'PT422';
            END IF;
            IF a.role <> 'admin' AND v.team_id <> a.team_id THEN
                PERFORM pool_private.forbid(format('''%s'' is not in your team', v.login));
            END IF;
            label := pool_private.intent(ARRAY['assign', 'transfer', 'deactivate'], 'assign');
            IF OLD.owner_id IS NOT NULL AND OLD.locked AND NOT (label = 'deactivate' AND a.role = 'admin') THEN
                RAISE EXCEPTION 'customer % is locked: unlock it first', OLD.id USING ERRCODE = 'PT415';
            END IF;
            IF OLD.owner_id IS NULL AND v.role <> 'admin' AND NOT pool_private.pool_visible(OLD.pool_id, v.team_id) THEN
                RAISE EXCEPTION 'pool % is not visible to %''s team', OLD.pool_id, v.login USING ERRCODE = 'PT414';
            END IF;
            PERFORM pool_private.lock_user(v.id);
            -- A bulk hand-over (transfer of everything, deactivate) is not limited, as on SQLite.
            IF label = 'assign' OR OLD.owner_id IS NULL THEN
                PERFORM pool_private.check_max_owned(v.id, v.login, OLD.pool_id, NEW.stage);
            END IF;
            IF OLD.owner_id IS NOT NULL THEN
                NEW.previous_owner_id := OLD.owner_id;
            END IF;
            NEW.pool_id := OLD.pool_id;
            NEW.claimed_at := now_;
        END IF;
    ELSIF NEW.pool_id <> OLD.pool_id THEN
        IF a.role = 'member' THEN
            PERFORM pool_private.forbid('a member does not move customers between pools');
        END IF;
        IF a.role <> 'admin' AND NOT pool_private.pool_visible(NEW.pool_id, a.team_id) THEN
            RAISE EXCEPTION 'pool % is not visible to your team', NEW.pool_id USING ERRCODE = 'PT414';
        END IF;
    END IF;

    -- lock (domain::ownership::decide_lock)
    IF NEW.locked AND NOT OLD.locked THEN
        IF NEW.owner_id IS NULL THEN
            RAISE EXCEPTION 'customer % is in the pool: only owned customers are locked', OLD.id USING ERRCODE = 'PT415';
        END IF;
        r := pool_private.rules_of(NEW.pool_id);
        IF r.max_locked = 0 THEN
            RAISE EXCEPTION 'locking is off in this pool' USING ERRCODE = 'PT415';
        END IF;
        PERFORM pool_private.lock_user(NEW.owner_id);
        SELECT count(*) INTO n FROM customers WHERE locked AND deleted_at IS NULL AND owner_id = NEW.owner_id;
        IF n >= r.max_locked THEN
            RAISE EXCEPTION 'lock limit reached: %/%', n, r.max_locked USING ERRCODE = 'PT415';
        END IF;
    END IF;

    -- won stages need a deal (domain::rules::check_stage_change)
    IF NEW.stage <> OLD.stage AND NEW.stage IN ('customer', 'loyal') AND a.role = 'member'
       AND NOT EXISTS (SELECT 1 FROM deals WHERE customer_id = OLD.id) THEN
        RAISE EXCEPTION 'permission denied: a member may set stage ''%'' only on a customer with a deal', NEW.stage
            USING ERRCODE = 'PT416';
    END IF;

    -- editing a customer into a copy of one the member gave up dodges the cooldown
    IF a.role = 'member' AND (NEW.phone_key IS DISTINCT FROM OLD.phone_key OR NEW.email_key IS DISTINCT FROM OLD.email_key) THEN
        PERFORM pool_private.check_lost_twin(a.id, OLD.id, NEW.pool_id,
            CASE WHEN NEW.phone_key IS DISTINCT FROM OLD.phone_key THEN NEW.phone_key END,
            CASE WHEN NEW.email_key IS DISTINCT FROM OLD.email_key THEN NEW.email_key END, now_);
    END IF;

    NEW.recycle_due_at := pool_private.recycle_due(NEW);
    RETURN NEW;
END $$;

-- How a changed field appears in the audit log (app::audit_value).
CREATE FUNCTION pool_private.audit_value(p_field text, p_value text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN p_value IS NULL THEN 'null'
                WHEN p_field = 'phone' THEN pool_private.js(pool_private.mask_phone(p_value))
                WHEN p_field = 'email' THEN pool_private.js(pool_private.mask_email(p_value))
                WHEN p_field = 'address' THEN '"(changed)"'
                WHEN p_field = 'notes' THEN '"(changed)"'
                ELSE pool_private.js(p_value) END
$$;

CREATE FUNCTION pool_private.login_of(p_user bigint) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT login FROM public.users WHERE id = p_user $$;

CREATE FUNCTION pool_private.pool_name(p_pool bigint) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT name FROM public.pools WHERE id = p_pool $$;

-- The owner history row and the audit rows of one changed customer.
CREATE FUNCTION pool_private.customers_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    sim bigint;
    now_ bigint;
    ev text;
    action text;
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
        IF OLD.owner_id IS NULL AND NEW.owner_id IS NOT DISTINCT FROM a.id THEN
            ev := 'claim';
        ELSIF NEW.owner_id IS NULL THEN
            ev := CASE WHEN a.role IN ('admin', 'manager')
                       THEN pool_private.intent(ARRAY['release', 'recycle', 'deactivate'], 'release') ELSE 'release' END;
        ELSE
            ev := pool_private.intent(ARRAY['assign', 'transfer', 'deactivate'], 'assign');
        END IF;
        INSERT INTO ownership_events (customer_id, event, from_user, to_user, by_user, pool_id, reason, at)
        VALUES (NEW.id, ev, OLD.owner_id, NEW.owner_id, a.id, NEW.pool_id,
                CASE WHEN NEW.owner_id IS NULL THEN pool_private.reason() END, now_);
        action := CASE ev WHEN 'deactivate' THEN 'user_deactivate' ELSE ev END;
        PERFORM pool_private.append_audit(a.login, action, 'customer', NEW.id,
            pool_private.jobj('owner', pool_private.js(pool_private.login_of(OLD.owner_id)),
                              'pool', pool_private.js(pool_private.pool_name(OLD.pool_id))),
            CASE WHEN NEW.owner_id IS NULL
                 THEN pool_private.jobj('owner', 'null', 'pool', pool_private.js(pool_private.pool_name(NEW.pool_id)),
                                        'reason', pool_private.js(pool_private.reason()))
                 ELSE pool_private.jobj('owner', pool_private.js(pool_private.login_of(NEW.owner_id))) END,
            sim);
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
    -- Field edits, masked as app::audit_value does.
    FOREACH f IN ARRAY ARRAY['name', 'company', 'phone', 'email', 'city', 'address', 'source', 'stage', 'tags',
                             'notes', 'custom', 'pool_id'] LOOP
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

-- New customers: one audit row per statement ('add' for one, 'import' with the id range
-- for many, as the SQLite import writes), so a COPY of a million rows appends once.
CREATE FUNCTION pool_private.customers_added() RETURNS trigger
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
    IF n = 1 THEN
        SELECT * INTO one FROM added;
        PERFORM pool_private.append_audit(a.login, 'add', 'customer', one.id, NULL,
            pool_private.jobj('name', pool_private.js(one.name), 'pool', pool_private.js(pool_private.pool_name(one.pool_id)),
                              'owner', pool_private.js(pool_private.login_of(one.owner_id))),
            pool_private.sim_now(a.role));
    ELSIF n > 1 THEN
        PERFORM pool_private.append_audit(a.login, 'import', 'customer', NULL, NULL,
            pool_private.jobj('count', n::text, 'first_id', lo::text, 'last_id', hi::text),
            pool_private.sim_now(a.role));
    END IF;
    RETURN NULL;
END $$;

-- ───────────────────────── work on a customer: log, follow-up, deal, tags ─────────────────────────

-- The customer `p_id` for actor `a`: may they work on it?
CREATE FUNCTION pool_private.require_work_on(a_id bigint, a_team bigint, a_role text, p_id bigint)
RETURNS public.customers LANGUAGE plpgsql STABLE
AS $$
DECLARE c public.customers;
BEGIN
    SELECT * INTO c FROM public.customers WHERE id = p_id AND deleted_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'customer % not found', p_id USING ERRCODE = 'PT404';
    END IF;
    IF NOT pool_private.may_work_on(a_role, a_id, a_team, c.owner_id, pool_private.team_of(c.owner_id)) THEN
        PERFORM pool_private.forbid(format('customer %s is not yours to work on', p_id));
    END IF;
    RETURN c;
END $$;

CREATE FUNCTION pool_private.work_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    now_ bigint;
    row_ record;
    c public.customers;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.trusted OR pg_trigger_depth() > 1 THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF a.role = 'viewer' THEN
        PERFORM pool_private.forbid('a viewer only reads');
    END IF;
    now_ := pool_private.rule_now(a.role);
    row_ := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    c := pool_private.require_work_on(a.id, a.team_id, a.role, row_.customer_id);
    IF TG_OP = 'UPDATE' AND NEW.customer_id <> OLD.customer_id THEN
        PERFORM pool_private.forbid('a record stays with its customer');
    END IF;
    IF TG_TABLE_NAME = 'interactions' THEN
        IF TG_OP <> 'INSERT' THEN
            PERFORM pool_private.forbid('interactions are history: add a new one');
        END IF;
        NEW.user_id := a.id; NEW.created_at := now_;
        -- A contact in the future would hold the customer off recycling.
        NEW.at := least(NEW.at, now_);
    ELSIF TG_TABLE_NAME = 'followups' THEN
        IF TG_OP = 'INSERT' THEN
            NEW.created_by := a.id; NEW.created_at := now_; NEW.status := 'open'; NEW.closed_at := NULL;
            IF a.role = 'member' THEN
                NEW.assignee_id := a.id;
            END IF;
        ELSIF TG_OP = 'UPDATE' THEN
            NEW.created_by := OLD.created_by; NEW.created_at := OLD.created_at;
            IF a.role = 'member' AND NEW.assignee_id <> OLD.assignee_id THEN
                PERFORM pool_private.forbid('a member does not hand follow-ups to others');
            END IF;
            IF NEW.status <> OLD.status THEN
                NEW.closed_at := CASE WHEN NEW.status = 'open' THEN NULL ELSE now_ END;
            END IF;
        ELSE
            PERFORM pool_private.forbid('follow-ups are cancelled, not deleted');
        END IF;
    ELSIF TG_TABLE_NAME = 'deals' THEN
        IF TG_OP = 'INSERT' THEN
            NEW.user_id := CASE WHEN a.role = 'member' THEN a.id ELSE coalesce(NEW.user_id, a.id) END;
            NEW.created_at := now_; NEW.voided_at := NULL; NEW.voided_by := NULL; NEW.void_reason := NULL;
        ELSIF TG_OP = 'UPDATE' THEN
            IF a.role NOT IN ('admin', 'manager') THEN
                PERFORM pool_private.forbid('only a manager voids a deal');
            END IF;
            IF (NEW.amount_minor, NEW.currency, NEW.on_date, NEW.user_id, NEW.created_at)
               IS DISTINCT FROM (OLD.amount_minor, OLD.currency, OLD.on_date, OLD.user_id, OLD.created_at) THEN
                PERFORM pool_private.forbid('a deal is voided, not edited');
            END IF;
            NEW.voided_by := a.id; NEW.voided_at := CASE WHEN NEW.void_reason IS NULL AND NEW.voided_at IS NULL THEN NULL ELSE now_ END;
        ELSE
            PERFORM pool_private.forbid('deals are voided, not deleted');
        END IF;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE FUNCTION pool_private.work_log() RETURNS trigger
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
        UPDATE customers SET last_contact_at = greatest(coalesce(last_contact_at, NEW.at), NEW.at) WHERE id = NEW.customer_id;
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

CREATE FUNCTION pool_private.tags_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND pg_trigger_depth() <= 1 THEN
        IF a.role = 'viewer' THEN
            PERFORM pool_private.forbid('a viewer only reads');
        END IF;
        PERFORM pool_private.require_work_on(a.id, a.team_id, a.role,
            CASE WHEN TG_OP = 'DELETE' THEN OLD.customer_id ELSE NEW.customer_id END);
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

-- ───────────────────────── settings: rules, pools, teams (admins) ─────────────────────────

CREATE FUNCTION pool_private.settings_log() RETURNS trigger
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
        CASE TG_TABLE_NAME WHEN 'teams' THEN 'team_' WHEN 'pools' THEN 'pool_' WHEN 'settings' THEN 'setting_'
                           ELSE 'rules_' END || lower(TG_OP),
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

-- ───────────────────────── users (login roles) ─────────────────────────

CREATE FUNCTION pool_private.group_of(p_role text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT 'pool_' || p_role $$;

-- `pool user add`: a LOGIN role in the role's group, allowed to connect to this database,
-- and its users row. An admin (or the owner, for the first admin) only.
CREATE FUNCTION pool_private.add_user(p_login text, p_team text, p_role text,
    p_display_name text DEFAULT NULL, p_password text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    t bigint;
    id_ bigint;
    now_ bigint := pool_private.clock();
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin adds users');
    END IF;
    IF p_role NOT IN ('admin', 'manager', 'member', 'viewer') THEN
        RAISE EXCEPTION 'invalid role %', p_role USING ERRCODE = 'PT422';
    END IF;
    IF p_login !~ '^[a-z_][a-z0-9_.-]{0,62}$' OR p_login LIKE 'pg\_%' OR p_login LIKE 'pool\_%'
       OR p_login IN ('public', 'none', 'current_user', 'session_user') OR p_login = pool_private.owner_name() THEN
        RAISE EXCEPTION 'invalid login ''%'': lower-case letters, digits, _ . -, not pg_* or pool_*', p_login
            USING ERRCODE = 'PT422';
    END IF;
    IF EXISTS (SELECT 1 FROM users WHERE login = p_login) THEN
        RAISE EXCEPTION 'user ''%'' already exists', p_login USING ERRCODE = 'PT409';
    END IF;
    SELECT id INTO t FROM teams WHERE name = p_team;
    IF NOT FOUND THEN
        INSERT INTO teams (name, created_at) VALUES (p_team, now_) RETURNING id INTO t;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_login) THEN
        -- A role of another database or a former user: it must not be privileged.
        IF (SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication
              FROM pg_roles WHERE rolname = p_login) THEN
            RAISE EXCEPTION 'role ''%'' exists with privileges: not a pool user', p_login USING ERRCODE = 'PT409';
        END IF;
        EXECUTE format('ALTER ROLE %I LOGIN', p_login);
    ELSE
        EXECUTE format('CREATE ROLE %I LOGIN', p_login);
    END IF;
    IF p_password IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', p_login, p_password);
    END IF;
    EXECUTE format('GRANT %I TO %I', pool_private.group_of(p_role), p_login);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), p_login);
    INSERT INTO users (login, display_name, team_id, role, created_at)
    VALUES (p_login, p_display_name, t, p_role, now_) RETURNING id INTO id_;
    PERFORM pool_private.append_audit(a.login, 'user_add', 'user', id_, NULL,
        pool_private.jobj('login', pool_private.js(p_login), 'team', pool_private.js(p_team),
                          'role', pool_private.js(p_role)), NULL);
    RETURN id_;
END $$;

-- `pool user set-role`: the users row and the group membership change together.
CREATE FUNCTION pool_private.set_user_role(p_login text, p_role text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    u record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin changes roles');
    END IF;
    IF p_role NOT IN ('admin', 'manager', 'member', 'viewer') THEN
        RAISE EXCEPTION 'invalid role %', p_role USING ERRCODE = 'PT422';
    END IF;
    SELECT * INTO u FROM users WHERE login = p_login FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user ''%'' not found', p_login USING ERRCODE = 'PT404';
    END IF;
    IF u.role = 'admin' AND p_role <> 'admin'
       AND (SELECT count(*) FROM users WHERE role = 'admin' AND active) <= 1 THEN
        RAISE EXCEPTION 'the last admin keeps the admin role' USING ERRCODE = 'PT409';
    END IF;
    EXECUTE format('REVOKE %I FROM %I', pool_private.group_of(u.role), p_login);
    IF u.active THEN
        EXECUTE format('GRANT %I TO %I', pool_private.group_of(p_role), p_login);
    END IF;
    UPDATE users SET role = p_role WHERE id = u.id;
    PERFORM pool_private.append_audit(a.login, 'user_set', 'user', u.id,
        pool_private.jobj('role', pool_private.js(u.role)), pool_private.jobj('role', pool_private.js(p_role)), NULL);
END $$;

-- `pool user deactivate`: in one transaction, the user's customers go back to their pools
-- (or to `p_heir`), the role loses its group (its open sessions lose every grant at their
-- next statement), may no longer log in or connect, and the row is marked inactive.
CREATE FUNCTION pool_private.deactivate_user(p_login text, p_heir text DEFAULT NULL) RETURNS bigint
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
    PERFORM pool_private.append_audit(a.login, 'user_deactivate', 'user', u.id,
        pool_private.jobj('active', 'true'), pool_private.jobj('active', 'false', 'heir', pool_private.js(p_heir)), NULL);
    RETURN n;
END $$;

-- ───────────────────────── triggers ─────────────────────────

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['teams', 'users', 'pools', 'pool_teams', 'pool_rules', 'pool_rule_overrides', 'customers',
                             'customer_tags', 'ownership_events', 'interactions', 'followups', 'deals', 'merges',
                             'audit_log', 'audit_head', 'settings'] LOOP
        EXECUTE format('CREATE TRIGGER a_same_identity BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON public.%I
                        FOR EACH STATEMENT EXECUTE FUNCTION pool_private.same_identity()', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['interactions', 'followups', 'deals'] LOOP
        EXECUTE format('CREATE TRIGGER b_guard BEFORE INSERT OR UPDATE OR DELETE ON public.%I
                        FOR EACH ROW EXECUTE FUNCTION pool_private.work_guard()', t);
        EXECUTE format('CREATE TRIGGER z_log AFTER INSERT OR UPDATE ON public.%I
                        FOR EACH ROW EXECUTE FUNCTION pool_private.work_log()', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['teams', 'pools', 'pool_teams', 'pool_rules', 'pool_rule_overrides', 'settings'] LOOP
        EXECUTE format('CREATE TRIGGER z_log AFTER INSERT OR UPDATE OR DELETE ON public.%I
                        FOR EACH ROW EXECUTE FUNCTION pool_private.settings_log()', t);
    END LOOP;
END $$;

CREATE TRIGGER b_guard BEFORE INSERT OR UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION pool_private.customers_guard();
CREATE TRIGGER z_log AFTER UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION pool_private.customers_log();
CREATE TRIGGER z_added AFTER INSERT ON customers
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION pool_private.customers_added();
CREATE TRIGGER b_guard BEFORE INSERT OR DELETE ON customer_tags
    FOR EACH ROW EXECUTE FUNCTION pool_private.tags_guard();

-- ───────────────────────── the masked view ─────────────────────────

-- Every column of customers; phone and e-mail masked as domain/mask.rs, and address,
-- notes, custom and the match keys hidden, where domain::roles::sees_contact says the
-- reader does not see this customer's contacts. Runs with the owner's privileges on the
-- base table (members have none on the contact columns) and under its policies, which
-- test current_user = the reader.
CREATE VIEW customers_v WITH (security_barrier) AS
SELECT c.id, c.name, c.company,
       CASE WHEN s.sees THEN c.phone ELSE pool_private.mask_phone(c.phone) END AS phone,
       CASE WHEN s.sees THEN c.email ELSE pool_private.mask_email(c.email) END AS email,
       c.city,
       CASE WHEN s.sees OR c.address IS NULL THEN c.address ELSE '***' END AS address,
       c.source, c.stage, c.tags,
       CASE WHEN s.sees THEN c.notes END AS notes,
       CASE WHEN s.sees THEN c.custom END AS custom,
       CASE WHEN s.sees THEN c.phone_key END AS phone_key,
       CASE WHEN s.sees THEN c.email_key END AS email_key,
       c.name_key, c.company_key, c.pool_id, c.owner_id, c.previous_owner_id, c.locked,
       c.created_at, c.updated_at, c.created_by, c.claimed_at, c.pooled_at, c.released_at,
       c.last_contact_at, c.won_at, c.deleted_at, c.merged_into, c.forgotten_at, c.recycle_due_at,
       s.sees AS contact_visible
  FROM customers c
  CROSS JOIN LATERAL (
      SELECT pool_private.may_work_on((SELECT pool_private.my_role()), (SELECT pool_private.my_id()),
                                      (SELECT pool_private.my_team()), c.owner_id,
                                      pool_private.team_of(c.owner_id)) AS sees) s;

-- ───────────────────────── privileges ─────────────────────────

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pool_private FROM PUBLIC;

GRANT SELECT ON teams, users, pools, pool_teams, pool_rules, pool_rule_overrides, customer_tags,
    ownership_events, interactions, followups, deals, settings, customers_v
    TO pool_admin, pool_manager, pool_member, pool_viewer;
-- The contact columns of the base table: admins only; everyone else reads customers_v.
GRANT SELECT (id, name, company, city, source, stage, tags, name_key, company_key, pool_id, owner_id,
              previous_owner_id, locked, created_at, updated_at, created_by, claimed_at, pooled_at,
              released_at, last_contact_at, won_at, deleted_at, merged_into, forgotten_at, recycle_due_at)
    ON customers TO pool_manager, pool_member, pool_viewer;
GRANT SELECT ON customers TO pool_admin;
GRANT INSERT, UPDATE ON customers, interactions, followups, deals TO pool_admin, pool_manager, pool_member;
GRANT INSERT, DELETE ON customer_tags TO pool_admin, pool_manager, pool_member;
GRANT SELECT, INSERT, UPDATE ON merges TO pool_admin, pool_manager;
GRANT SELECT ON audit_log, audit_head TO pool_admin, pool_manager;
GRANT INSERT, UPDATE, DELETE ON teams, pools, pool_teams, pool_rules, pool_rule_overrides, settings TO pool_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO pool_admin, pool_manager, pool_member;

-- Pure functions the view and the policies call as the reader, and the API.
GRANT EXECUTE ON FUNCTION pool_private.is_owner(), pool_private.my_id(), pool_private.my_role(),
    pool_private.my_team(), pool_private.team_of(bigint), pool_private.pool_visible(bigint, bigint),
    pool_private.my_pools(), pool_private.may_work_on(text, bigint, bigint, bigint, bigint),
    pool_private.owner_name(),
    pool_private.mask_digits(text), pool_private.ws(), pool_private.phone_without_extension(text),
    pool_private.mask_phone(text), pool_private.mask_email(text),
    pool_private.js(text), pool_private.jn(bigint), pool_private.canonical(bigint, bigint, text, text, text, bigint, text, text, text, bigint),
    pool_private.chain_hash(text, text),
    pool_private.audit_note(text, text, bigint, text, text), pool_private.intend(text, text)
    TO pool_admin, pool_manager, pool_member, pool_viewer;
GRANT EXECUTE ON FUNCTION pool_private.add_user(text, text, text, text, text),
    pool_private.set_user_role(text, text), pool_private.deactivate_user(text, text)
    TO pool_admin;

-- ───────────────────────── row level security ─────────────────────────

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['teams', 'users', 'pools', 'pool_teams', 'pool_rules', 'pool_rule_overrides', 'customers',
                             'customer_tags', 'ownership_events', 'interactions', 'followups', 'deals', 'merges',
                             'audit_log', 'audit_head', 'settings'] LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', t);
        -- pool's definer code (current_user = the owner) passes every policy.
        EXECUTE format('CREATE POLICY owner_all ON public.%I USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner())', t);
    END LOOP;
    -- Directory tables: every pool user reads them; admins write them.
    FOREACH t IN ARRAY ARRAY['teams', 'pools', 'pool_teams', 'pool_rules', 'pool_rule_overrides', 'settings'] LOOP
        EXECUTE format('CREATE POLICY read ON public.%I FOR SELECT USING ((SELECT pool_private.my_id()) IS NOT NULL)', t);
        EXECUTE format('CREATE POLICY admin_insert ON public.%I FOR INSERT WITH CHECK ((SELECT pool_private.my_role()) = ''admin'')', t);
        EXECUTE format('CREATE POLICY admin_update ON public.%I FOR UPDATE USING ((SELECT pool_private.my_role()) = ''admin'')
                        WITH CHECK ((SELECT pool_private.my_role()) = ''admin'')', t);
        EXECUTE format('CREATE POLICY admin_delete ON public.%I FOR DELETE USING ((SELECT pool_private.my_role()) = ''admin'')', t);
    END LOOP;
END $$;

-- users is read by the policies themselves: its own policy must not read it (recursion);
-- only pool's groups hold SELECT on it, and logins, teams and roles are no secret.
CREATE POLICY read ON users FOR SELECT USING (true);

CREATE POLICY read ON customers FOR SELECT USING (
    (SELECT pool_private.my_role()) = 'admin'
    OR ((SELECT pool_private.my_id()) IS NOT NULL
        AND (owner_id IS NOT NULL OR pool_id IN (SELECT unnest(pool_private.my_pools())))));
CREATE POLICY add ON customers FOR INSERT WITH CHECK (
    (SELECT pool_private.my_role()) IN ('admin', 'manager')
    OR ((SELECT pool_private.my_role()) = 'member' AND (owner_id IS NULL OR owner_id = (SELECT pool_private.my_id()))));
CREATE POLICY change ON customers FOR UPDATE USING (
    (SELECT pool_private.my_role()) = 'admin'
    OR ((SELECT pool_private.my_role()) = 'manager'
        AND ((owner_id IS NULL AND pool_id IN (SELECT unnest(pool_private.my_pools())))
             OR pool_private.team_of(owner_id) = (SELECT pool_private.my_team())))
    OR ((SELECT pool_private.my_role()) = 'member'
        AND (owner_id = (SELECT pool_private.my_id())
             OR (owner_id IS NULL AND pool_id IN (SELECT unnest(pool_private.my_pools()))))))
WITH CHECK (
    (SELECT pool_private.my_role()) = 'admin'
    OR ((SELECT pool_private.my_role()) = 'manager'
        AND (owner_id IS NULL OR pool_private.team_of(owner_id) = (SELECT pool_private.my_team())))
    OR ((SELECT pool_private.my_role()) = 'member'
        AND (owner_id IS NULL OR owner_id = (SELECT pool_private.my_id()))));

CREATE POLICY read ON customer_tags FOR SELECT USING ((SELECT pool_private.my_id()) IS NOT NULL);
CREATE POLICY write ON customer_tags FOR INSERT WITH CHECK ((SELECT pool_private.my_role()) IN ('admin', 'manager', 'member'));
CREATE POLICY remove ON customer_tags FOR DELETE USING ((SELECT pool_private.my_role()) IN ('admin', 'manager', 'member'));

CREATE POLICY read ON ownership_events FOR SELECT USING ((SELECT pool_private.my_id()) IS NOT NULL);

-- History of a customer: managers and admins read all of it; members and viewers that of
-- the customers they own and what they wrote themselves.
CREATE POLICY read ON interactions FOR SELECT USING (
    (SELECT pool_private.my_role()) IN ('admin', 'manager') OR user_id = (SELECT pool_private.my_id())
    OR customer_id IN (SELECT id FROM customers WHERE owner_id = (SELECT pool_private.my_id())));
CREATE POLICY read ON followups FOR SELECT USING (
    (SELECT pool_private.my_role()) IN ('admin', 'manager') OR assignee_id = (SELECT pool_private.my_id())
    OR customer_id IN (SELECT id FROM customers WHERE owner_id = (SELECT pool_private.my_id())));
CREATE POLICY read ON deals FOR SELECT USING (
    (SELECT pool_private.my_role()) IN ('admin', 'manager') OR user_id = (SELECT pool_private.my_id())
    OR customer_id IN (SELECT id FROM customers WHERE owner_id = (SELECT pool_private.my_id())));
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['interactions', 'followups', 'deals'] LOOP
        EXECUTE format('CREATE POLICY write ON public.%I FOR INSERT WITH CHECK ((SELECT pool_private.my_role()) IN (''admin'', ''manager'', ''member''))', t);
        EXECUTE format('CREATE POLICY change ON public.%I FOR UPDATE USING ((SELECT pool_private.my_role()) IN (''admin'', ''manager'', ''member''))
                        WITH CHECK ((SELECT pool_private.my_role()) IN (''admin'', ''manager'', ''member''))', t);
    END LOOP;
END $$;
CREATE POLICY write ON merges USING ((SELECT pool_private.my_role()) IN ('admin', 'manager'))
    WITH CHECK ((SELECT pool_private.my_role()) IN ('admin', 'manager'));

CREATE POLICY read ON audit_log FOR SELECT USING ((SELECT pool_private.my_role()) IN ('admin', 'manager'));
CREATE POLICY read ON audit_head FOR SELECT USING ((SELECT pool_private.my_role()) IN ('admin', 'manager'));

-- The schema version, for `pool doctor` and the Rust migrator.
INSERT INTO settings (key, value) VALUES ('schema_version', '2');
