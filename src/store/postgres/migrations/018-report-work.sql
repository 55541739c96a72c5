-- pool on PostgreSQL, migration 18: the work counts of the owners, teams and activity
-- reports for readers who see only part of the history (issue 18 item 7: every report
-- ≤ 1 s at 1,000,000 customers, for a member too). Under the history policies a
-- member's count is a policy test per row of every interaction, follow-up and deal in
-- range (2.6 s at 1,000,000 customers). What such a reader may see is, by those
-- policies, exactly what they wrote or were given plus what was written on customers
-- they own: two index walks, counted here as the definer. Admins and managers see all
-- history, counted in one grouped pass as before. No kept state: nothing can drift and
-- no write (a claim) pays for it. Design: DESIGN.md, "Report work counts".

-- Customers a deleted row still names as owner are "owned" for the history policies
-- (their subquery reads customers by owner_id, deleted or not); the live ones have
-- `customers_owner`.
CREATE INDEX customers_owner_deleted ON customers(owner_id) WHERE owner_id IS NOT NULL AND deleted_at IS NOT NULL;

-- The history policies' "customers I own" part, skipped when the reader is no pool user
-- (the same rows: no customer has owner NULL = anything). Without it the definer
-- functions below (the owner, who passes by `owner_all`) paid a scan of every customer
-- per table for a subquery that can match nothing.
DO $$
DECLARE t text; who text;
BEGIN
    FOREACH t IN ARRAY ARRAY['interactions', 'followups', 'deals'] LOOP
        who := CASE t WHEN 'followups' THEN 'assignee_id' ELSE 'user_id' END;
        EXECUTE format($p$ALTER POLICY read ON public.%I USING (
            (SELECT pool_private.my_role()) IN ('admin', 'manager') OR %I = (SELECT pool_private.my_id())
            OR ((SELECT pool_private.my_id()) IS NOT NULL
                AND customer_id IN (SELECT id FROM customers WHERE owner_id = (SELECT pool_private.my_id()))))$p$, t, who);
    END LOOP;
END $$;

-- The history the caller reads in full (admins, managers, the owner), or NULL after
-- setting `me` to the caller's id (members, viewers); PT001 for anyone else.
CREATE FUNCTION pool_private.history_reader(OUT me bigint, OUT sees_all boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    me := a.id;
    sees_all := a.trusted OR a.role IN ('admin', 'manager');
END $$;
REVOKE ALL ON FUNCTION pool_private.history_reader() FROM PUBLIC;

-- Per person: interactions since p_since ('contacts'), open follow-ups due before
-- p_today ('overdue'), and live deals per currency ('deals': count and exact sum), as
-- the caller's history policies let them read (a member: rows they wrote or are
-- assigned, and rows on customers they own).
CREATE FUNCTION pool_private.report_work(p_since bigint, p_today text)
RETURNS TABLE (user_id bigint, kind text, currency text, n bigint, amount text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp SET jit = off
AS $$
DECLARE r record;
BEGIN
    SELECT * INTO r FROM pool_private.history_reader();
    IF r.sees_all THEN
        RETURN QUERY
        SELECT i.user_id, 'contacts'::text, NULL::text, count(*), NULL::text
          FROM interactions i WHERE i.at >= p_since GROUP BY i.user_id
        UNION ALL
        SELECT f.assignee_id, 'overdue', NULL, count(*), NULL
          FROM followups f WHERE f.status = 'open' AND f.due < p_today GROUP BY f.assignee_id
        UNION ALL
        SELECT d.user_id, 'deals', d.currency, count(*), sum(d.amount_minor)::text
          FROM deals d WHERE d.voided_at IS NULL AND d.user_id IS NOT NULL GROUP BY d.user_id, d.currency;
        RETURN;
    END IF;
    RETURN QUERY
    WITH mine AS MATERIALIZED (
             SELECT c.id FROM customers c WHERE c.owner_id = r.me AND c.deleted_at IS NULL
             UNION ALL
             SELECT c.id FROM customers c WHERE c.owner_id = r.me AND c.deleted_at IS NOT NULL),
         i AS (SELECT x.user_id FROM interactions x WHERE x.user_id = r.me AND x.at >= p_since
               UNION ALL
               SELECT x.user_id FROM mine JOIN interactions x ON x.customer_id = mine.id
                WHERE x.user_id <> r.me AND x.at >= p_since),
         f AS (SELECT x.assignee_id FROM followups x
                WHERE x.assignee_id = r.me AND x.status = 'open' AND x.due < p_today
               UNION ALL
               SELECT x.assignee_id FROM mine JOIN followups x ON x.customer_id = mine.id
                WHERE x.assignee_id <> r.me AND x.status = 'open' AND x.due < p_today),
         d AS (SELECT x.user_id, x.currency, x.amount_minor FROM deals x
                WHERE x.user_id = r.me AND x.voided_at IS NULL
               UNION ALL
               SELECT x.user_id, x.currency, x.amount_minor FROM mine JOIN deals x ON x.customer_id = mine.id
                WHERE x.user_id <> r.me AND x.voided_at IS NULL)
    SELECT i.user_id, 'contacts'::text, NULL::text, count(*), NULL::text FROM i GROUP BY i.user_id
    UNION ALL
    SELECT f.assignee_id, 'overdue', NULL, count(*), NULL FROM f GROUP BY f.assignee_id
    UNION ALL
    SELECT d.user_id, 'deals', d.currency, count(*), sum(d.amount_minor)::text FROM d GROUP BY d.user_id, d.currency;
END $$;
REVOKE ALL ON FUNCTION pool_private.report_work(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.report_work(bigint, text) TO pool_admin, pool_manager, pool_member, pool_viewer;

-- Per local day (p_offset: the configured zone's offset in seconds, decided by the
-- client at read time) in [p_from, p_to): interactions and live deals by the people of
-- team p_team (NULL: everyone), as the caller's history policies let them read.
CREATE FUNCTION pool_private.report_work_days(p_from bigint, p_to bigint, p_team bigint, p_offset bigint)
RETURNS TABLE (day bigint, interactions bigint, deals bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp SET jit = off
AS $$
DECLARE r record;
BEGIN
    SELECT * INTO r FROM pool_private.history_reader();
    IF r.sees_all THEN
        RETURN QUERY
        SELECT x.day, sum(x.i)::bigint, sum(x.d)::bigint FROM (
            SELECT (i.at + p_offset) / 86400 AS day, count(*) AS i, 0::bigint AS d FROM interactions i
             WHERE i.at >= p_from AND i.at < p_to
               AND (p_team IS NULL OR i.user_id IN (SELECT u.id FROM users u WHERE u.team_id = p_team))
             GROUP BY 1
            UNION ALL
            SELECT (d.created_at + p_offset) / 86400, 0, count(*) FROM deals d
             WHERE d.created_at >= p_from AND d.created_at < p_to AND d.voided_at IS NULL
               AND (p_team IS NULL OR d.user_id IN (SELECT u.id FROM users u WHERE u.team_id = p_team))
             GROUP BY 1) x
         GROUP BY x.day;
        RETURN;
    END IF;
    RETURN QUERY
    WITH mine AS MATERIALIZED (
             SELECT c.id FROM customers c WHERE c.owner_id = r.me AND c.deleted_at IS NULL
             UNION ALL
             SELECT c.id FROM customers c WHERE c.owner_id = r.me AND c.deleted_at IS NOT NULL),
         i AS (SELECT x.user_id, x.at FROM interactions x WHERE x.user_id = r.me AND x.at >= p_from AND x.at < p_to
               UNION ALL
               SELECT x.user_id, x.at FROM mine JOIN interactions x ON x.customer_id = mine.id
                WHERE x.user_id <> r.me AND x.at >= p_from AND x.at < p_to),
         d AS (SELECT x.user_id, x.created_at AS at FROM deals x
                WHERE x.user_id = r.me AND x.voided_at IS NULL AND x.created_at >= p_from AND x.created_at < p_to
               UNION ALL
               SELECT x.user_id, x.created_at FROM mine JOIN deals x ON x.customer_id = mine.id
                WHERE x.user_id IS DISTINCT FROM r.me AND x.voided_at IS NULL
                  AND x.created_at >= p_from AND x.created_at < p_to)
    SELECT y.day, sum(y.i)::bigint, sum(y.d)::bigint FROM (
        SELECT (i.at + p_offset) / 86400 AS day, 1 AS i, 0 AS d FROM i
         WHERE p_team IS NULL OR i.user_id IN (SELECT u.id FROM users u WHERE u.team_id = p_team)
        UNION ALL
        SELECT (d.at + p_offset) / 86400, 0, 1 FROM d
         WHERE p_team IS NULL OR d.user_id IN (SELECT u.id FROM users u WHERE u.team_id = p_team)) y
     GROUP BY y.day;
END $$;
REVOKE ALL ON FUNCTION pool_private.report_work_days(bigint, bigint, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.report_work_days(bigint, bigint, bigint, bigint)
    TO pool_admin, pool_manager, pool_member, pool_viewer;

UPDATE settings SET value = '18' WHERE key = 'schema_version';
