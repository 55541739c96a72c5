-- A hostile review of migrations 21–24 (read-only, this session) found:
-- 1. `quality_records(mask, limit)` (the quality report's worst records; migration 12) is
--    definer code granted to members and viewers that returned name and company from
--    the base table as written: `张三 13900000100` of any owned or visible pooled
--    customer, around migration 22's masking and 24's REVOKE. Now masked as the view
--    masks them.
-- 2. A contact person's name and title (`contacts_v`, migration 6) were never masked,
--    and members and viewers could read them from the base table. Now masked in the
--    view like a customer's name, and closed on the base table to members and viewers.
-- 3. The shape buckets (migration 23) fitted only 11-digit mobiles: an 8-digit landline
--    shows 2 digits at each end, so its hidden digits spread over every bucket. A shape
--    is now what the mask shows of the number (`mask_digits`' geometry: the national
--    number without a leading 86 of a mobile key, its shown head and tail, its length).
-- 4. `whole_key_match(phone, email)` counted one lookup but remembered both keys as
--    paid for: it counts each key it is given now.
-- 5. A key looked up twice in one transaction (an import with the same phone in two
--    batches) was counted twice: `ask_keys` counts only keys this transaction has not
--    paid for yet.
-- 6. The memo's cleanup runs only under READ COMMITTED (as migration 20's history
--    cleanup): under REPEATABLE READ a row another session removed meanwhile would make
--    `FOR UPDATE SKIP LOCKED` fail the caller's transaction.

-- 1
CREATE OR REPLACE FUNCTION pool_private.quality_records(p_mask bigint, p_limit bigint)
RETURNS TABLE (id bigint, name text, company text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    vis bigint[] := pool_private.readable_pools();
    a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    RETURN QUERY
    SELECT c.id,
           CASE WHEN s.sees OR NOT pool_private.may_hold_contact(c.name) THEN c.name
                ELSE pool_private.mask_in_text(c.name) END,
           CASE WHEN s.sees OR NOT pool_private.may_hold_contact(c.company) THEN c.company
                ELSE pool_private.mask_in_text(c.company) END
      FROM customers c
      CROSS JOIN LATERAL (
          SELECT a.trusted OR a.role = 'admin'
                 OR pool_private.may_work_on(a.role, a.id, a.team_id, c.owner_id,
                                             pool_private.team_of(c.owner_id)) AS sees) s
     WHERE c.quality_mask = p_mask AND c.deleted_at IS NULL
       AND (vis IS NULL OR c.owner_id IS NOT NULL OR c.pool_id = ANY (vis))
     ORDER BY c.id LIMIT greatest(p_limit, 0);
END $$;

-- 2
CREATE OR REPLACE VIEW contacts_v WITH (security_barrier) AS
SELECT k.id, k.customer_id,
       CASE WHEN s.sees OR NOT pool_private.may_hold_contact(k.name) THEN k.name
            ELSE pool_private.mask_in_text(k.name) END AS name,
       CASE WHEN s.sees OR NOT pool_private.may_hold_contact(k.title) THEN k.title
            ELSE pool_private.mask_in_text(k.title) END AS title,
       CASE WHEN s.sees THEN k.phone ELSE pool_private.mask_phone(k.phone) END AS phone,
       CASE WHEN s.sees THEN k.email ELSE pool_private.mask_email(k.email) END AS email,
       CASE WHEN s.sees THEN k.phone_key END AS phone_key,
       CASE WHEN s.sees THEN k.email_key END AS email_key,
       k.created_by, k.created_at, k.updated_at,
       s.sees AS contact_visible
  FROM contacts k
  JOIN customers c ON c.id = k.customer_id
  CROSS JOIN LATERAL (
      SELECT pool_private.may_work_on((SELECT pool_private.my_role()), (SELECT pool_private.my_id()),
                                      (SELECT pool_private.my_team()), c.owner_id,
                                      pool_private.team_of(c.owner_id)) AS sees) s;
REVOKE SELECT (name, title) ON contacts FROM pool_member, pool_viewer;

-- 3
CREATE OR REPLACE FUNCTION pool_private.shape_bucket(p_key text) RETURNS int
LANGUAGE sql IMMUTABLE
AS $$
    SELECT hashtext(CASE WHEN n <= 4 THEN n::text
                         WHEN n = 11 THEN left(d, 3) || '|' || right(d, 4)
                         ELSE left(d, least(4, (n + 3) / 4)) || '|' || right(d, least(3, n / 4)) || '|' || n
                    END) & 63
      FROM (SELECT d, length(d) AS n
              FROM (SELECT CASE WHEN length(p_key) = 13 AND left(p_key, 2) = '86' THEN substr(p_key, 3)
                                ELSE p_key END AS d) x) y
$$;

-- 4
CREATE OR REPLACE FUNCTION pool_private.whole_key_match(p_phone_key text, p_email_key text)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
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
    -- each key given is a lookup, remembered as paid for
    PERFORM pool_private.ask_keys(a.trusted, a.role, a.id, a.team_id,
        ARRAY(SELECT x FROM unnest(ARRAY['p' || pk, 'e' || ek]) x WHERE x IS NOT NULL));
    RETURN QUERY
    SELECT c.id FROM customers c
     WHERE c.deleted_at IS NULL
       AND (c.phone_key = pk OR c.email_key = ek
            OR c.id IN (SELECT k.customer_id FROM contacts k WHERE k.phone_key = pk OR k.email_key = ek))
       AND (a.trusted OR a.role = 'admin' OR c.owner_id IS NOT NULL
            OR pool_private.pool_visible(c.pool_id, a.team_id));
END $$;

-- 5, 6
CREATE OR REPLACE FUNCTION pool_private.ask_keys(a_trusted boolean, a_role text, a_user bigint, a_team bigint, p_keys text[])
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
DECLARE fresh text[];
BEGIN
    IF a_trusted OR a_role = 'admin' THEN
        RETURN;
    END IF;
    fresh := ARRAY(SELECT DISTINCT x FROM unnest(p_keys) x
                    WHERE x IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM pool_private.keys_asked q WHERE q.tx = txid_current() AND q.k = x));
    IF cardinality(fresh) = 0 THEN
        RETURN;
    END IF;
    PERFORM pool_private.count_key_lookups(a_trusted, a_role, a_user, a_team, cardinality(fresh));
    PERFORM pool_private.count_key_shapes(a_trusted, a_role, a_user, a_team,
        ARRAY(SELECT substr(x, 2) FROM unnest(fresh) x WHERE x LIKE 'p%'));
    IF current_setting('transaction_isolation') = 'read committed' THEN
        DELETE FROM pool_private.keys_asked q
         WHERE q.ctid = ANY (ARRAY(SELECT o.ctid FROM pool_private.keys_asked o
                                    WHERE o.user_id = a_user AND o.tx < txid_snapshot_xmin(txid_current_snapshot())
                                    FOR UPDATE SKIP LOCKED));
    END IF;
    INSERT INTO pool_private.keys_asked (tx, k, user_id)
    SELECT txid_current(), x, a_user FROM unnest(fresh) x
        ON CONFLICT DO NOTHING;
END $$;

UPDATE settings SET value = '25' WHERE key = 'schema_version';
