-- pool on PostgreSQL, migration 10: a bulk import through COPY and set-based checks, and
-- reports at a million customers. (Migration 8 is added by another branch; the lead
-- chains the two.)
--
-- Import. The client COPYs its validated rows into a staging table the server made for
-- it, then asks the server to move them into `customers` (+ `customer_tags`) in one
-- statement each. The per-row guard (`customers_guard` on INSERT) is replaced for those
-- rows by the same checks made once over the whole set, inside a definer function:
--  * the staging table is created by `import_stage()` as the owner, in the caller's
--    session (pg_temp, dropped at commit): the caller may INSERT (COPY) and SELECT it,
--    not alter it, and it has no column the server maintains (no owner, pool, dates,
--    lock): those are stamped by `import_staged()`, the owner and pool are its arguments
--    and checked there, exactly as the row guard checks an INSERT;
--  * pool roles have no TEMP privilege, so no caller can put a table or view of their
--    own in place of the staging table (and the function checks its owner);
--  * `z_added` (statement level) writes the one `import` audit row, as for any
--    multi-row INSERT; the row guards and `c_added` step aside for the moved rows
--    through the server-operation marker of migration 4.

CREATE FUNCTION pool_private.import_stage() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.role = 'viewer' THEN
        PERFORM pool_private.forbid('a viewer only reads');
    END IF;
    IF to_regclass('pg_temp.pool_import') IS NULL THEN
        CREATE TEMP TABLE pool_import (
            id bigint PRIMARY KEY,
            name text, company text, phone text, email text, city text, address text,
            source text, notes text, custom text,
            phone_key text, email_key text, name_key text, company_key text,
            stage text NOT NULL,
            tags text NOT NULL DEFAULT '',
            tag_keys text NOT NULL DEFAULT '',
            level text, industry text
        ) ON COMMIT DROP;
        EXECUTE format('GRANT INSERT, SELECT ON TABLE pg_temp.pool_import TO %I', session_user);
    END IF;
    PERFORM pool_private.import_table_check();
END $$;

-- The staging table must be the one import_stage made (owned by the owner).
CREATE FUNCTION pool_private.import_table_check() RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class c
                    WHERE c.oid = to_regclass('pg_temp.pool_import') AND c.relkind = 'r'
                      AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = pool_private.owner_name())) THEN
        RAISE EXCEPTION 'pool: the import staging table is not the server''s' USING ERRCODE = 'PT800';
    END IF;
END $$;

-- The last customer id given (or taken by the identity sequence): an import's ids
-- follow it. Every row counts, not only those the caller may read.
CREATE FUNCTION pool_private.last_customer_id() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
    SELECT greatest((SELECT coalesce(max(id), 0) FROM public.customers),
                    coalesce(pg_sequence_last_value(pg_get_serial_sequence('public.customers', 'id')::regclass), 0))
$$;

-- Moves the staged rows into customers (pool `p_pool`, owner `p_owner` or the pool),
-- with the INSERT checks of customers_guard made once for the set. Returns the count.
CREATE FUNCTION pool_private.import_staged(p_pool bigint, p_owner bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    v record;
    r public.pool_rules;
    now_ bigint;
    n bigint;
    lo bigint;
    hi bigint;
    k bigint;
    owned bigint;
    twin bigint;
    lost bigint;
    seq text;
    top bigint;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.role = 'viewer' THEN
        PERFORM pool_private.forbid('a viewer only reads');
    END IF;
    IF to_regclass('pg_temp.pool_import') IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pool_private.import_table_check();
    SELECT count(*), min(id), max(id) INTO n, lo, hi FROM pg_temp.pool_import;
    IF n = 0 THEN
        RETURN 0;
    END IF;
    now_ := pool_private.rule_now(a.role);
    -- New ids only, one after another past every customer (a client cannot push the
    -- id sequence to its end).
    top := pool_private.last_customer_id();
    IF hi - lo + 1 <> n OR lo <> top + 1 THEN
        RAISE EXCEPTION 'import ids must follow the last customer id % without gaps (staged %..%, % rows)', top, lo, hi, n
            USING HINT = 'customers were added meanwhile: run the import again', ERRCODE = 'PT422';
    END IF;
    IF NOT a.trusted THEN
        IF a.role = 'member' AND EXISTS (SELECT 1 FROM pg_temp.pool_import WHERE stage IN ('customer', 'loyal')) THEN
            RAISE EXCEPTION 'permission denied: a member may set stage ''%'' only on a customer with a deal',
                (SELECT stage FROM pg_temp.pool_import WHERE stage IN ('customer', 'loyal') LIMIT 1)
                USING ERRCODE = 'PT416';
        END IF;
        IF p_owner IS NULL THEN
            IF a.role <> 'admin' AND NOT pool_private.pool_visible(p_pool, a.team_id) THEN
                RAISE EXCEPTION 'pool % is not visible to your team', p_pool USING ERRCODE = 'PT414';
            END IF;
        ELSE
            SELECT * INTO v FROM users WHERE id = p_owner;
            IF NOT FOUND OR NOT v.active OR v.role = 'viewer' THEN
                RAISE EXCEPTION '''%'' cannot own customers', coalesce(v.login, p_owner::text) USING ERRCODE = 'PT422';
            END IF;
            IF a.role = 'member' AND p_owner <> a.id THEN
                PERFORM pool_private.forbid('a member adds customers for themselves or the pool');
            END IF;
            IF a.role = 'manager' AND v.team_id <> a.team_id THEN
                PERFORM pool_private.forbid(format('''%s'' is not in your team', v.login));
            END IF;
            PERFORM pool_private.lock_user(v.id);
            r := pool_private.rules_of(p_pool);
            -- max_owned: the row guard lets row i in while the owner holds fewer than
            -- max_owned; for the set, what they hold plus the counted new rows.
            IF r.max_owned > 0 THEN
                SELECT count(*) INTO k FROM pg_temp.pool_import
                 WHERE r.count_won OR stage NOT IN ('customer', 'loyal');
                IF k > 0 THEN
                    SELECT count(*) INTO owned FROM customers
                     WHERE owner_id = v.id AND deleted_at IS NULL AND pool_id = p_pool
                       AND (r.count_won OR stage NOT IN ('customer', 'loyal'));
                    IF owned + k > r.max_owned THEN
                        RAISE EXCEPTION 'limit reached: % owns %/% customers in pool ''%'' (and % more in this import)',
                            v.login, owned, r.max_owned, (SELECT name FROM pools WHERE id = p_pool), k
                            USING ERRCODE = 'PT410';
                    END IF;
                END IF;
            END IF;
            -- check_lost_twin for every row: a copy (phone or e-mail key) of a customer the
            -- owner gave up within the re-claim cooldown.
            IF r.reclaim_cooldown_days > 0 THEN
                WITH gone AS (
                    SELECT c.id, c.phone_key, c.email_key, max(e.at) AS at
                      FROM ownership_events e JOIN customers c ON c.id = e.customer_id
                     WHERE e.from_user = v.id AND e.event IN ('release', 'recycle')
                       AND e.at >= now_ - r.reclaim_cooldown_days * 86400
                     GROUP BY c.id)
                SELECT g.id, g.at INTO twin, lost FROM (
                    SELECT g.id, g.at FROM gone g JOIN pg_temp.pool_import s ON s.phone_key = g.phone_key
                    UNION ALL
                    SELECT g.id, g.at FROM gone g JOIN pg_temp.pool_import s ON s.email_key = g.email_key) g
                 WHERE g.at + r.reclaim_cooldown_days * 86400 > now_
                 ORDER BY g.id LIMIT 1;
                IF twin IS NOT NULL THEN
                    RAISE EXCEPTION 'customer % is in its re-claim cooldown until % (same phone or e-mail as customer %, which you gave up)',
                        twin, to_char(to_timestamp(lost + r.reclaim_cooldown_days * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                        twin USING ERRCODE = 'PT412';
                END IF;
            END IF;
        END IF;
    ELSIF p_owner IS NOT NULL THEN
        -- Even the owner's imports go to someone who can own customers.
        SELECT * INTO v FROM users WHERE id = p_owner;
        IF NOT FOUND OR NOT v.active OR v.role = 'viewer' THEN
            RAISE EXCEPTION '''%'' cannot own customers', coalesce(v.login, p_owner::text) USING ERRCODE = 'PT422';
        END IF;
    END IF;

    PERFORM pool_private.begin_op('import');
    INSERT INTO customers (id, name, company, phone, email, city, address, source, notes, custom,
        phone_key, email_key, name_key, company_key, stage, tags, level, industry, pool_id, owner_id,
        locked, created_at, updated_at, created_by, claimed_at, pooled_at)
    SELECT s.id, s.name, s.company, s.phone, s.email, s.city, s.address, s.source, s.notes, s.custom,
           s.phone_key, s.email_key, s.name_key, s.company_key, s.stage, s.tags, s.level, s.industry,
           p_pool, p_owner, false, now_, now_, a.id,
           CASE WHEN p_owner IS NOT NULL THEN now_ END, CASE WHEN p_owner IS NULL THEN now_ END
      FROM pg_temp.pool_import s;
    INSERT INTO customer_tags (tag, customer_id)
    SELECT DISTINCT t.tag, s.id
      FROM pg_temp.pool_import s CROSS JOIN LATERAL unnest(string_to_array(s.tag_keys, ',')) AS t(tag)
     WHERE s.tag_keys <> '' AND t.tag <> ''
    ON CONFLICT DO NOTHING;
    IF p_owner IS NOT NULL THEN
        UPDATE customers c SET recycle_due_at = pool_private.recycle_due(c) WHERE c.id BETWEEN lo AND hi;
    END IF;
    -- The identity sequence past the new ids (never back).
    seq := pg_get_serial_sequence('public.customers', 'id');
    IF hi > coalesce(pg_sequence_last_value(seq::regclass), 0) THEN
        PERFORM setval(seq, hi);
    END IF;
    TRUNCATE pg_temp.pool_import;
    PERFORM pool_private.end_op();
    RETURN n;
END $$;

REVOKE ALL ON FUNCTION pool_private.import_stage(), pool_private.import_table_check(),
    pool_private.import_staged(bigint, bigint), pool_private.last_customer_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.import_stage(), pool_private.import_staged(bigint, bigint),
    pool_private.last_customer_id() TO pool_admin, pool_manager, pool_member;

UPDATE settings SET value = '10' WHERE key = 'schema_version';

-- ───────────────────────── reports at a million customers ─────────────────────────
--
-- `pool report quality` (migration 4's functions, same signatures and grants, same
-- answers): the pools the caller sees are looked up once, not per row through
-- `readable_by`/`pool_visible`; the masks are counted in one scan of plain column tests;
-- duplicated keys are found once per key (grouped over the key indexes) instead of two
-- index probes per customer; the worst records of a mask come from an index on the mask.

-- What the caller may read of live customers: everything (admins, the owner), or owned
-- customers and pooled ones in these pools. NULL = everything.
CREATE FUNCTION pool_private.readable_pools() RETURNS bigint[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.trusted OR a.role = 'admin' THEN
        RETURN NULL;
    END IF;
    RETURN array_append(array(SELECT pool_id FROM pool_teams WHERE team_id = a.team_id), 1::bigint);
END $$;

CREATE INDEX customers_missing ON customers (pool_private.missing_mask(customers), id) WHERE deleted_at IS NULL;
-- Every write of a customer computes the index expression as the writer: a pure
-- function of the row they write.
GRANT EXECUTE ON FUNCTION pool_private.missing_mask(public.customers) TO pool_admin, pool_manager, pool_member, pool_viewer;

CREATE OR REPLACE FUNCTION pool_private.quality_masks() RETURNS TABLE (mask bigint, n bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE vis bigint[] := pool_private.readable_pools();
BEGIN
    RETURN QUERY
    SELECT ((c.name IS NULL)::int + 2 * (c.company IS NULL)::int + 4 * (c.phone IS NULL)::int
          + 8 * (c.phone_key IS NULL)::int + 16 * (c.email IS NULL)::int + 32 * (c.email_key IS NULL)::int
          + 64 * (c.city IS NULL)::int + 128 * (c.address IS NULL)::int + 256 * (c.source IS NULL)::int)::bigint AS m,
           count(*)
      FROM customers c
     WHERE c.deleted_at IS NULL AND (vis IS NULL OR c.owner_id IS NOT NULL OR c.pool_id = ANY (vis))
     GROUP BY 1 ORDER BY 1;
END $$;

-- Readable rows with a duplicated phone or e-mail key: the duplicated keys once each
-- (grouped along the key indexes), then one scan testing each row against the two sets.
CREATE OR REPLACE FUNCTION pool_private.quality_duplicated() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    vis bigint[] := pool_private.readable_pools();
    n bigint;
BEGIN
    WITH dp AS (SELECT phone_key FROM customers WHERE phone_key IS NOT NULL AND deleted_at IS NULL
                 GROUP BY phone_key HAVING count(*) > 1),
         de AS (SELECT email_key FROM customers WHERE email_key IS NOT NULL AND deleted_at IS NULL
                 GROUP BY email_key HAVING count(*) > 1)
    SELECT count(*) INTO n FROM customers c
     WHERE c.deleted_at IS NULL AND (vis IS NULL OR c.owner_id IS NOT NULL OR c.pool_id = ANY (vis))
       AND (c.phone_key IN (SELECT phone_key FROM dp) OR c.email_key IN (SELECT email_key FROM de));
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION pool_private.quality_records(p_mask bigint, p_limit bigint)
RETURNS TABLE (id bigint, name text, company text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE vis bigint[] := pool_private.readable_pools();
BEGIN
    RETURN QUERY SELECT c.id, c.name, c.company FROM customers c
                  WHERE pool_private.missing_mask(c) = p_mask AND c.deleted_at IS NULL
                    AND (vis IS NULL OR c.owner_id IS NOT NULL OR c.pool_id = ANY (vis))
                  ORDER BY c.id LIMIT greatest(p_limit, 0);
END $$;

REVOKE ALL ON FUNCTION pool_private.readable_pools() FROM PUBLIC;
