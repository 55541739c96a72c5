-- pool on PostgreSQL, migration 12: imports that nothing committed meanwhile can fail,
-- set-based owner imports, and reports at a million customers.
--
-- Import ids. Migration 10 required an import's ids to follow the last customer id
-- without gaps, so a `pool add` committed during a long import failed it (PT422) at its
-- end. Now the client reserves its ids from the identity sequence
-- (`reserve_customer_ids(n)`, recorded in an owner-made temp table for this transaction
-- that the caller cannot write), and `import_staged` accepts only reserved ids: gaps are
-- allowed, collisions impossible, no lock held against other writers, no advisory lock.
-- The sequence is no longer moved by `setval` (the ids come from it).
--
-- Owner imports (`--owner X`) go through the same staging and set checks (they already
-- did server-side: max_owned for the set, lost twins, team, active owner) and now also
-- get their `import` owner-history rows, as on SQLite.

-- The reserved-ids table must be the one reserve_customer_ids made (owned by the
-- database's owner, which no client role is): a member who made their own
-- pg_temp.pool_import_ids first could otherwise list any ids, e.g. ids the sequence has
-- yet to give, and make everyone else's next add fail.
CREATE FUNCTION pool_private.import_ids_check() RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class c
                    WHERE c.oid = to_regclass('pg_temp.pool_import_ids') AND c.relkind = 'r'
                      AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = pool_private.owner_name())) THEN
        RAISE EXCEPTION 'pool: the reserved import ids table is not the server''s' USING ERRCODE = 'PT800';
    END IF;
END $$;
REVOKE ALL ON FUNCTION pool_private.import_ids_check() FROM PUBLIC;

CREATE FUNCTION pool_private.reserve_customer_ids(p_n integer) RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    ids bigint[];
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.role = 'viewer' THEN
        PERFORM pool_private.forbid('a viewer only reads');
    END IF;
    IF p_n IS NULL OR p_n < 1 OR p_n > 100000 THEN
        RAISE EXCEPTION 'reserve between 1 and 100000 ids at a time (asked %)', p_n USING ERRCODE = 'PT422';
    END IF;
    IF to_regclass('pg_temp.pool_import_ids') IS NULL THEN
        CREATE TEMP TABLE pool_import_ids (id bigint PRIMARY KEY) ON COMMIT DROP;
    END IF;
    PERFORM pool_private.import_ids_check();
    ids := array(SELECT nextval(pg_get_serial_sequence('public.customers', 'id')::regclass)
                   FROM generate_series(1, p_n) ORDER BY 1);
    INSERT INTO pg_temp.pool_import_ids SELECT unnest(ids);
    RETURN ids;
END $$;

REVOKE ALL ON FUNCTION pool_private.reserve_customer_ids(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.reserve_customer_ids(integer) TO pool_admin, pool_manager, pool_member;

CREATE OR REPLACE FUNCTION pool_private.import_staged(p_pool bigint, p_owner bigint) RETURNS bigint
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
    -- Only ids reserve_customer_ids gave this transaction: taken from the identity
    -- sequence, so nobody else's customer has or will get one, whatever commits meanwhile.
    IF to_regclass('pg_temp.pool_import_ids') IS NULL THEN
        RAISE EXCEPTION 'import ids must be reserved by this transaction (staged %..%, % rows)', lo, hi, n
            USING HINT = 'ids come from pool_private.reserve_customer_ids(n)', ERRCODE = 'PT422';
    END IF;
    PERFORM pool_private.import_ids_check();
    IF (SELECT count(*) FROM pg_temp.pool_import s JOIN pg_temp.pool_import_ids ri ON ri.id = s.id) <> n THEN
        RAISE EXCEPTION 'import ids must be reserved by this transaction (staged %..%, % rows)', lo, hi, n
            USING HINT = 'ids come from pool_private.reserve_customer_ids(n)', ERRCODE = 'PT422';
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
        -- Only this import's rows: other ids in lo..hi may be customers added meanwhile.
        UPDATE customers c SET recycle_due_at = pool_private.recycle_due(c)
          FROM pg_temp.pool_import s WHERE c.id = s.id;
        -- The owner history of an import to an owner, as SQLite's loader writes it.
        INSERT INTO ownership_events (customer_id, event, from_user, to_user, by_user, pool_id, reason, at)
        SELECT s.id, 'import', NULL, p_owner, a.id, p_pool, NULL, now_ FROM pg_temp.pool_import s;
    END IF;
    TRUNCATE pg_temp.pool_import;
    PERFORM pool_private.end_op();
    RETURN n;
END $$;


-- ───────────────────────── `pool report quality` at a million customers ─────────────────────────
--
-- Migration 10's quality functions still read every live customer's heap row (the mask
-- from seven columns, the duplicate keys along the key indexes, then the row for the
-- policy's owner/pool): 5 s + 15 s at 1,000,000 on this machine. Now the mask is a stored
-- generated column (`missing_mask` of the row: written by the server on every INSERT and
-- UPDATE, no trigger, no client can write it) and the scans are index-only over indexes
-- that carry what the reader's scope and the customers policies test (pool, owner):
--  * `customers_quality (quality_mask, id, pool_id, owner_id)` replaces migration 10's
--    expression index `customers_missing`: masks counted and the worst records of a mask
--    found without the heap;
--  * the phone and e-mail key indexes also carry pool and owner, so duplicated keys are
--    grouped index-only.
-- `quality_masks()`, `quality_duplicated()`, `quality_records(mask, limit)` are replaced
-- with the same signatures, grants and answers. Members, managers and viewers get no
-- privilege on the new column (their column grants are listed): psql shows them nothing
-- new; admins read it as every column.

ALTER TABLE customers ADD COLUMN quality_mask smallint GENERATED ALWAYS AS (
    ((name IS NULL)::int + 2 * (company IS NULL)::int + 4 * (phone IS NULL)::int
     + 8 * (phone_key IS NULL)::int + 16 * (email IS NULL)::int + 32 * (email_key IS NULL)::int
     + 64 * (city IS NULL)::int + 128 * (address IS NULL)::int + 256 * (source IS NULL)::int)::smallint) STORED;

DROP INDEX customers_missing;
CREATE INDEX customers_quality ON customers (quality_mask, id, pool_id, owner_id) WHERE deleted_at IS NULL;
DROP INDEX customers_phone_key;
CREATE INDEX customers_phone_key ON customers (phone_key, pool_id, owner_id) WHERE phone_key IS NOT NULL AND deleted_at IS NULL;
DROP INDEX customers_email_key;
CREATE INDEX customers_email_key ON customers (email_key, phone_key, pool_id, owner_id) WHERE email_key IS NOT NULL AND deleted_at IS NULL;

CREATE OR REPLACE FUNCTION pool_private.quality_masks() RETURNS TABLE (mask bigint, n bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE vis bigint[] := pool_private.readable_pools();
BEGIN
    RETURN QUERY
    SELECT c.quality_mask::bigint, count(*)
      FROM customers c
     WHERE c.deleted_at IS NULL AND (vis IS NULL OR c.owner_id IS NOT NULL OR c.pool_id = ANY (vis))
     GROUP BY 1 ORDER BY 1;
END $$;

-- Rows with a duplicated phone key: summed per key group (every live row counts towards
-- the duplicate, the readable ones are counted); plus rows with a duplicated e-mail key
-- whose phone key is not duplicated (so no row counts twice).
CREATE OR REPLACE FUNCTION pool_private.quality_duplicated() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    vis bigint[] := pool_private.readable_pools();
    n bigint;
BEGIN
    WITH ph AS MATERIALIZED (
             SELECT c.phone_key, count(*) AS n,
                    count(*) FILTER (WHERE vis IS NULL OR c.owner_id IS NOT NULL OR c.pool_id = ANY (vis)) AS r
               FROM customers c WHERE c.phone_key IS NOT NULL AND c.deleted_at IS NULL
              GROUP BY c.phone_key HAVING count(*) > 1),
         em AS MATERIALIZED (
             SELECT c.email_key FROM customers c WHERE c.email_key IS NOT NULL AND c.deleted_at IS NULL
              GROUP BY c.email_key HAVING count(*) > 1)
    SELECT coalesce((SELECT sum(ph.r) FROM ph), 0)::bigint
         + (SELECT count(*) FROM customers c JOIN em ON em.email_key = c.email_key
             WHERE c.deleted_at IS NULL AND (vis IS NULL OR c.owner_id IS NOT NULL OR c.pool_id = ANY (vis))
               AND NOT EXISTS (SELECT 1 FROM ph WHERE ph.phone_key = c.phone_key))
      INTO n;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION pool_private.quality_records(p_mask bigint, p_limit bigint)
RETURNS TABLE (id bigint, name text, company text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE vis bigint[] := pool_private.readable_pools();
BEGIN
    RETURN QUERY SELECT c.id, c.name, c.company FROM customers c
                  WHERE c.quality_mask = p_mask AND c.deleted_at IS NULL
                    AND (vis IS NULL OR c.owner_id IS NOT NULL OR c.pool_id = ANY (vis))
                  ORDER BY c.id LIMIT greatest(p_limit, 0);
END $$;

UPDATE settings SET value = '12' WHERE key = 'schema_version';
