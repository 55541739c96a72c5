-- pool on PostgreSQL, migration 15: the customer counts the reports need, kept by the
-- server in the transaction of every change (issue 18 item 7: reports at 1,000,000
-- customers in ≤ 1 s). Under row level security a count over `customers` is a heap visit
-- per row with the policy evaluated; these groups make summary, funnel, the owners'
-- owned/locked and quality a sum over a few thousand rows. Design and trade-offs:
-- DESIGN.md, "Report counts".
--
-- One row per group of live customers that share what the reports count by and what
-- decides who may see them: pool, owner (0 = pooled), stage, missing-field mask, locked,
-- won, and whether the customer's phone or e-mail key is shared by another live customer
-- (the duplicate rate). Owner-only: no pool role has any privilege on it; members read
-- their scope's groups through `report_groups()`.
CREATE TABLE pool_private.customer_counts (
    pool_id       bigint   NOT NULL,
    owner_id      bigint   NOT NULL,
    stage         text     NOT NULL,
    quality_mask  smallint NOT NULL,
    locked        boolean  NOT NULL,
    won           boolean  NOT NULL,
    dup           boolean  NOT NULL,
    n             bigint   NOT NULL,
    PRIMARY KEY (pool_id, owner_id, stage, quality_mask, locked, won, dup)
);
REVOKE ALL ON pool_private.customer_counts FROM PUBLIC;
ALTER TABLE pool_private.customer_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE pool_private.customer_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON pool_private.customer_counts
    USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());

-- The groups of every live customer, counted from the table (migration time, `pool
-- doctor`'s comparison).
CREATE FUNCTION pool_private.customer_counts_recount()
RETURNS TABLE (pool_id bigint, owner_id bigint, stage text, quality_mask smallint,
               locked boolean, won boolean, dup boolean, n bigint)
LANGUAGE sql STABLE SET search_path = public, pool_private, pg_temp
AS $$
    WITH pk AS (SELECT c.phone_key AS k FROM customers c WHERE c.deleted_at IS NULL AND c.phone_key IS NOT NULL
                 GROUP BY 1 HAVING count(*) > 1),
         ek AS (SELECT c.email_key AS k FROM customers c WHERE c.deleted_at IS NULL AND c.email_key IS NOT NULL
                 GROUP BY 1 HAVING count(*) > 1)
    SELECT c.pool_id, coalesce(c.owner_id, 0), c.stage, c.quality_mask, c.locked, c.won_at IS NOT NULL,
           (pk.k IS NOT NULL OR ek.k IS NOT NULL), count(*)
      FROM customers c LEFT JOIN pk ON pk.k = c.phone_key LEFT JOIN ek ON ek.k = c.email_key
     WHERE c.deleted_at IS NULL
     GROUP BY 1, 2, 3, 4, 5, 6, 7
$$;
REVOKE ALL ON FUNCTION pool_private.customer_counts_recount() FROM PUBLIC;

INSERT INTO pool_private.customer_counts SELECT * FROM pool_private.customer_counts_recount();

-- The change of one statement, from its transition tables: every live row it touched
-- and every live row sharing a phone or e-mail key with one (their duplicate flag may
-- flip), counted as they are now (+1) and as they were before the statement (-1; a key
-- group's size before = now - the statement's new rows + its old rows). Writers are
-- serialised on the audit head (every audited change holds it to commit), so the
-- counts read here include every committed change before this one and none after:
-- taken first, before the groups are read, in every transaction that changes a count.
-- The three trigger functions differ only in which transition tables exist.
DO $do$
DECLARE
    body text := $body$
BEGIN
    %3$s
    PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE;
    WITH o AS MATERIALIZED (
             SELECT id, pool_id, owner_id, stage, quality_mask, locked, won_at, phone_key, email_key
               FROM %1$s WHERE deleted_at IS NULL),
         nw AS MATERIALIZED (SELECT id, deleted_at, phone_key, email_key FROM %2$s),
         kp AS (SELECT phone_key AS k FROM o WHERE phone_key IS NOT NULL
                UNION SELECT phone_key FROM nw WHERE phone_key IS NOT NULL AND deleted_at IS NULL),
         ke AS (SELECT email_key AS k FROM o WHERE email_key IS NOT NULL
                UNION SELECT email_key FROM nw WHERE email_key IS NOT NULL AND deleted_at IS NULL),
         ids AS (SELECT id FROM nw
                 UNION SELECT c.id FROM customers c JOIN kp ON c.phone_key = kp.k WHERE c.deleted_at IS NULL
                 UNION SELECT c.id FROM customers c JOIN ke ON c.email_key = ke.k WHERE c.deleted_at IS NULL),
         aft AS MATERIALIZED (
             SELECT c.id, c.pool_id, c.owner_id, c.stage, c.quality_mask, c.locked, c.won_at, c.phone_key, c.email_key
               FROM customers c JOIN ids ON ids.id = c.id WHERE c.deleted_at IS NULL),
         bef AS (SELECT a.* FROM aft a WHERE NOT EXISTS (SELECT 1 FROM nw WHERE nw.id = a.id)
                 UNION ALL SELECT * FROM o),
         pa AS (SELECT c.phone_key AS k, count(*) AS n FROM customers c
                 WHERE c.deleted_at IS NULL
                   AND c.phone_key IN (SELECT phone_key FROM aft UNION SELECT phone_key FROM o)
                 GROUP BY 1),
         ea AS (SELECT c.email_key AS k, count(*) AS n FROM customers c
                 WHERE c.deleted_at IS NULL
                   AND c.email_key IN (SELECT email_key FROM aft UNION SELECT email_key FROM o)
                 GROUP BY 1),
         pd AS (SELECT k, sum(d) AS d FROM (SELECT phone_key AS k, 1 AS d FROM o
                 UNION ALL SELECT phone_key, -1 FROM nw WHERE deleted_at IS NULL) x
                 WHERE k IS NOT NULL GROUP BY k),
         ed AS (SELECT k, sum(d) AS d FROM (SELECT email_key AS k, 1 AS d FROM o
                 UNION ALL SELECT email_key, -1 FROM nw WHERE deleted_at IS NULL) x
                 WHERE k IS NOT NULL GROUP BY k),
         delta AS (
             SELECT a.pool_id, coalesce(a.owner_id, 0) AS owner_id, a.stage, a.quality_mask, a.locked,
                    a.won_at IS NOT NULL AS won, (coalesce(pa.n, 0) > 1 OR coalesce(ea.n, 0) > 1) AS dup, 1 AS s
               FROM aft a LEFT JOIN pa ON pa.k = a.phone_key LEFT JOIN ea ON ea.k = a.email_key
             UNION ALL
             SELECT b.pool_id, coalesce(b.owner_id, 0), b.stage, b.quality_mask, b.locked, b.won_at IS NOT NULL,
                    (coalesce(pa.n, 0) + coalesce(pd.d, 0) > 1 OR coalesce(ea.n, 0) + coalesce(ed.d, 0) > 1), -1
               FROM bef b LEFT JOIN pa ON pa.k = b.phone_key LEFT JOIN pd ON pd.k = b.phone_key
                          LEFT JOIN ea ON ea.k = b.email_key LEFT JOIN ed ON ed.k = b.email_key)
    INSERT INTO pool_private.customer_counts AS t (pool_id, owner_id, stage, quality_mask, locked, won, dup, n)
    SELECT d.pool_id, d.owner_id, d.stage, d.quality_mask, d.locked, d.won, d.dup, sum(d.s)
      FROM delta d GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(d.s) <> 0
        ON CONFLICT (pool_id, owner_id, stage, quality_mask, locked, won, dup)
        DO UPDATE SET n = t.n + excluded.n;
    RETURN NULL;
END $body$;
    nothing text := '(SELECT * FROM %s WHERE false) AS none';
    -- An UPDATE that moves no customer between groups (a note, a contact date, a
    -- refused conditional claim) changes no count and takes no lock.
    unmoved text := $u$
    IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
                    WHERE (o.pool_id, o.owner_id, o.stage, o.quality_mask, o.locked, o.won_at IS NULL,
                           o.deleted_at IS NULL, o.phone_key, o.email_key)
                          IS DISTINCT FROM
                          (n.pool_id, n.owner_id, n.stage, n.quality_mask, n.locked, n.won_at IS NULL,
                           n.deleted_at IS NULL, n.phone_key, n.email_key)) THEN
        RETURN NULL;
    END IF;$u$;
    empty text := $e$
    IF NOT EXISTS (SELECT 1 FROM %s) THEN
        RETURN NULL;
    END IF;$e$;
BEGIN
    EXECUTE format($f$CREATE FUNCTION pool_private.customer_counts_ins() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp AS %L$f$,
        format(body, format(nothing, 'new_rows'), 'new_rows', format(empty, 'new_rows')));
    EXECUTE format($f$CREATE FUNCTION pool_private.customer_counts_upd() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp AS %L$f$,
        format(body, 'old_rows', 'new_rows', unmoved));
    EXECUTE format($f$CREATE FUNCTION pool_private.customer_counts_del() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp AS %L$f$,
        format(body, 'old_rows', format(nothing, 'old_rows'), format(empty, 'old_rows')));
END $do$;
REVOKE ALL ON FUNCTION pool_private.customer_counts_ins() FROM PUBLIC;
REVOKE ALL ON FUNCTION pool_private.customer_counts_upd() FROM PUBLIC;
REVOKE ALL ON FUNCTION pool_private.customer_counts_del() FROM PUBLIC;

CREATE TRIGGER zz_counts_ins AFTER INSERT ON customers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pool_private.customer_counts_ins();
CREATE TRIGGER zz_counts_upd AFTER UPDATE ON customers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pool_private.customer_counts_upd();
CREATE TRIGGER zz_counts_del AFTER DELETE ON customers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pool_private.customer_counts_del();

CREATE FUNCTION pool_private.customer_counts_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
BEGIN
    DELETE FROM pool_private.customer_counts;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.customer_counts_truncated() FROM PUBLIC;
CREATE TRIGGER zz_counts_truncate AFTER TRUNCATE ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION pool_private.customer_counts_truncated();

-- The groups the caller may see, by the customers read policy: admins (and the owner)
-- all; other active users the owned customers and the pooled ones in pools their team
-- sees; anyone else PT001. The caller is the session's login (definer code: see
-- DESIGN.md, Identity).
CREATE FUNCTION pool_private.report_groups()
RETURNS TABLE (pool_id bigint, owner_id bigint, stage text, quality_mask bigint,
               locked boolean, won boolean, dup boolean, n bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE vis bigint[] := pool_private.readable_pools();
BEGIN
    RETURN QUERY
    SELECT t.pool_id, nullif(t.owner_id, 0), t.stage, t.quality_mask::bigint, t.locked, t.won, t.dup, t.n
      FROM pool_private.customer_counts t
     WHERE t.n <> 0 AND (vis IS NULL OR t.owner_id <> 0 OR t.pool_id = ANY (vis));
END $$;
REVOKE ALL ON FUNCTION pool_private.report_groups() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.report_groups() TO pool_admin, pool_manager, pool_member, pool_viewer;

-- `pool doctor`: groups whose kept count differs from a recount (admins; none when the
-- triggers kept them).
CREATE FUNCTION pool_private.customer_counts_drift() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record; n bigint;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT a.trusted AND a.role <> 'admin' THEN
        RAISE EXCEPTION 'pool: only admins check the report counts' USING ERRCODE = 'PT403';
    END IF;
    SELECT count(*) INTO n FROM (
        SELECT t.pool_id, t.owner_id, t.stage, t.quality_mask, t.locked, t.won, t.dup, t.n
          FROM pool_private.customer_counts t WHERE t.n <> 0
        EXCEPT ALL SELECT * FROM pool_private.customer_counts_recount()
        UNION ALL
        (SELECT * FROM pool_private.customer_counts_recount()
         EXCEPT ALL SELECT t.pool_id, t.owner_id, t.stage, t.quality_mask, t.locked, t.won, t.dup, t.n
          FROM pool_private.customer_counts t WHERE t.n <> 0)) x;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION pool_private.customer_counts_drift() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.customer_counts_drift() TO pool_admin;

UPDATE settings SET value = '15' WHERE key = 'schema_version';
