-- pool on PostgreSQL, migration 11: four answers the server gave differently from SQLite.
--
-- 1. A whole phone number or e-mail address finds a customer whose contacts the reader
--    sees masked (PRODUCT: "otherwise only a whole phone number or e-mail address
--    matches"). customers_v and contacts_v hide a masked row's keys, so the client's
--    `phone_key = $1` never matched such a row. `whole_key_match` compares the keys for
--    the reader, by equality only: no pattern, no prefix, nothing of the row but its id,
--    and only customers the reader may read at all (the customers read policy).
-- 2. `pool deal void` / `pool followup done|cancel` on a row the reader's history
--    policies hide answered "not found" (exit 3) where SQLite says "forbidden" (exit 4)
--    with the owner's or assignee's login. `hidden_work` gives SQLite's message for a
--    deal or follow-up that exists on a customer the reader may read (masked), and NULL
--    otherwise: a customer the reader cannot read at all stays "not found".
-- 3. `pool forget` erases the customer's contact people too and says how many in its
--    audit row (`contacts`), as the SQLite app does; the client no longer deletes them
--    first (which wrote a `contact_remove` row with masked values per contact).
-- Definer code finds the actor by session_user (pool_private.actor), as in migration 2.

CREATE FUNCTION pool_private.whole_key_match(p_phone_key text, p_email_key text)
RETURNS SETOF bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    pk text := nullif(p_phone_key, '');
    ek text := nullif(p_email_key, '');
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF pk IS NULL AND ek IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT c.id FROM customers c
     WHERE c.deleted_at IS NULL
       AND (c.phone_key = pk OR c.email_key = ek
            OR c.id IN (SELECT k.customer_id FROM contacts k WHERE k.phone_key = pk OR k.email_key = ek))
       AND (a.trusted OR a.role = 'admin' OR c.owner_id IS NOT NULL
            OR pool_private.pool_visible(c.pool_id, a.team_id));
END $$;

CREATE FUNCTION pool_private.hidden_work(p_kind text, p_id bigint) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    cid bigint;
    who bigint;
    c public.customers;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF p_kind = 'deal' THEN
        SELECT d.customer_id, d.user_id INTO cid, who FROM deals d WHERE d.id = p_id;
    ELSIF p_kind = 'followup' THEN
        SELECT f.customer_id, f.assignee_id INTO cid, who FROM followups f WHERE f.id = p_id;
    END IF;
    IF cid IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT * INTO c FROM customers WHERE id = cid AND deleted_at IS NULL;
    IF NOT FOUND OR NOT (a.trusted OR a.role = 'admin' OR c.owner_id IS NOT NULL
                         OR pool_private.pool_visible(c.pool_id, a.team_id)) THEN
        RETURN NULL;
    END IF;
    -- The messages of domain::work::check_close and app::scope::check.
    IF p_kind = 'followup' THEN
        RETURN format('follow-up %s is %s''s', p_id, pool_private.login_of(who));
    END IF;
    IF c.owner_id IS NULL THEN
        RETURN format('customer %s is in the pool ''%s''; claim it first (pool claim %s)',
                      c.id, (SELECT p.name FROM pools p WHERE p.id = c.pool_id), c.id);
    END IF;
    RETURN format('customer %s belongs to %s', c.id, pool_private.login_of(c.owner_id));
END $$;

REVOKE ALL ON FUNCTION pool_private.whole_key_match(text, text), pool_private.hidden_work(text, bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.whole_key_match(text, text), pool_private.hidden_work(text, bigint)
    TO pool_admin, pool_manager, pool_member, pool_viewer;

-- Migration 4's forget_customer, plus the contact people (deleted, counted, audited).
CREATE OR REPLACE FUNCTION pool_private.forget_customer(p_id bigint) RETURNS text
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
    n_ct bigint;
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
    -- Contact people are personal data through and through: their rows go.
    DELETE FROM contacts WHERE customer_id = p_id;
    GET DIAGNOSTICS n_ct = ROW_COUNT;
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
                          'counts', counts, 'contacts', n_ct::text),
        pool_private.sim_now(a.role));
    RETURN counts;
END $$;

-- 4. A voided deal: migration 8's work_log wrote `deal_void` with no before-image, and
--    the client put a customer left without a live deal back to `lead` in a second
--    UPDATE that a manager with psql could skip. Here the trigger does that itself and
--    writes SQLite's shapes: before {deal, amount_minor, currency, on, stage}, after
--    {deal, voided, reason, stage}. The rest is migration 8's text. (A later migration
--    that replaces work_log must keep this branch.)
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
        PERFORM pool_private.append_audit(a.login, CASE WHEN TG_OP = 'INSERT' THEN 'deal' ELSE 'deal_void' END,
            'customer', NEW.customer_id, NULL,
            pool_private.jobj('deal', pool_private.jn(NEW.id), 'amount_minor', pool_private.jn(NEW.amount_minor),
                              'currency', pool_private.js(NEW.currency), 'void_reason', pool_private.js(NEW.void_reason)), sim);
    END IF;
    RETURN NULL;
END $$;

UPDATE settings SET value = '11' WHERE key = 'schema_version';
