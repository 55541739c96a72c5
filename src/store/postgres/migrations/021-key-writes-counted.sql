-- A whole phone or e-mail key a member writes is a lookup too (hostile review F3).
--
-- The server keeps, per group of customers, whether their phone or e-mail key is shared
-- by another live customer (migration 15's `dup` flag: `report_groups()`, the duplicate
-- rate of `pool report quality`; migration 12's `quality_duplicated()` the same). So a
-- member could write a customer with a chosen whole phone — a probe, in a transaction
-- rolled back afterwards, or committed and edited again — and read from the duplicate
-- count whether that phone is anyone's: migration 20's daily quota on asking was beaten
-- by writing instead of asking, with no trace.
--
-- Now every phone or e-mail key a counted user (anyone but admins and the database
-- owner) writes to a customer — in a new row, or changed by an UPDATE — counts against
-- the same daily quota (`key_lookups_per_day`), in the same counters that do not roll
-- back, before the statement ends; past the quota the write is refused (PT409, exit 5).
-- Whether the write came through `pool`, a server function or psql makes no difference:
-- the triggers sit on the table. A key the same transaction already asked
-- `whole_key_matches`/`whole_key_match` about is not counted twice: `pool add` and
-- `pool import` ask first (to find duplicates), then write; `keys_asked` remembers, for
-- the asking transaction only, what it paid for.

CREATE TABLE pool_private.keys_asked (
    tx      bigint NOT NULL,
    k       text   NOT NULL,
    user_id bigint NOT NULL,
    PRIMARY KEY (tx, k)
);
CREATE INDEX keys_asked_user ON pool_private.keys_asked (user_id, tx);
REVOKE ALL ON pool_private.keys_asked FROM PUBLIC;
ALTER TABLE pool_private.keys_asked ENABLE ROW LEVEL SECURITY;
ALTER TABLE pool_private.keys_asked FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON pool_private.keys_asked USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());

-- Counts the keys asked (as before) and remembers them for this transaction. Rows of
-- the user's finished transactions go (locked ones are skipped, so two sessions of one
-- user never wait on each other here).
CREATE FUNCTION pool_private.ask_keys(a_trusted boolean, a_role text, a_user bigint, a_team bigint, p_keys text[])
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM pool_private.count_key_lookups(a_trusted, a_role, a_user, a_team, cardinality(p_keys));
    IF a_trusted OR a_role = 'admin' OR cardinality(p_keys) = 0 THEN
        RETURN;
    END IF;
    DELETE FROM pool_private.keys_asked q
     WHERE q.ctid = ANY (ARRAY(SELECT o.ctid FROM pool_private.keys_asked o
                                WHERE o.user_id = a_user AND o.tx < txid_snapshot_xmin(txid_current_snapshot())
                                FOR UPDATE SKIP LOCKED));
    INSERT INTO pool_private.keys_asked (tx, k, user_id)
    SELECT txid_current(), x, a_user FROM unnest(p_keys) x
        ON CONFLICT DO NOTHING;
END $$;
REVOKE ALL ON FUNCTION pool_private.ask_keys(boolean, text, bigint, bigint, text[]) FROM PUBLIC;

-- Migration 20's two lookups, the same answers, now remembering what they counted
-- (phone keys as 'p…', e-mail keys as 'e…').
CREATE OR REPLACE FUNCTION pool_private.whole_key_matches(p_phones text[], p_emails text[])
RETURNS TABLE (id bigint, phone_key text, email_key text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    phones text[] := ARRAY(SELECT DISTINCT x FROM unnest(p_phones) x WHERE x <> '');
    emails text[] := ARRAY(SELECT DISTINCT x FROM unnest(p_emails) x WHERE x <> '');
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    PERFORM pool_private.ask_keys(a.trusted, a.role, a.id, a.team_id,
        ARRAY(SELECT 'p' || x FROM unnest(phones) x) || ARRAY(SELECT 'e' || x FROM unnest(emails) x));
    RETURN QUERY
    SELECT c.id,
           CASE WHEN c.phone_key = ANY (phones) THEN c.phone_key END,
           CASE WHEN c.email_key = ANY (emails) THEN c.email_key END
      FROM customers c
     WHERE c.deleted_at IS NULL
       AND (c.phone_key = ANY (phones) OR c.email_key = ANY (emails))
       AND (a.trusted OR a.role = 'admin' OR c.owner_id IS NOT NULL
            OR pool_private.pool_visible(c.pool_id, a.team_id));
END $$;

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
    -- one lookup (as in migration 20), remembered for both keys it answers for
    PERFORM pool_private.count_key_lookups(a.trusted, a.role, a.id, a.team_id, 1);
    IF NOT (a.trusted OR a.role = 'admin') THEN
        INSERT INTO pool_private.keys_asked (tx, k, user_id)
        SELECT txid_current(), x, a.id FROM unnest(ARRAY['p' || pk, 'e' || ek]) x WHERE x IS NOT NULL
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN QUERY
    SELECT c.id FROM customers c
     WHERE c.deleted_at IS NULL
       AND (c.phone_key = pk OR c.email_key = ek
            OR c.id IN (SELECT k.customer_id FROM contacts k WHERE k.phone_key = pk OR k.email_key = ek))
       AND (a.trusted OR a.role = 'admin' OR c.owner_id IS NOT NULL
            OR pool_private.pool_visible(c.pool_id, a.team_id));
END $$;

-- The keys a statement wrote that this transaction has not asked about, counted.
CREATE FUNCTION pool_private.count_written_keys(p_keys text[])
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.trusted OR a.role = 'admin' THEN
        RETURN;
    END IF;
    PERFORM pool_private.count_key_lookups(a.trusted, a.role, a.id, a.team_id, (
        SELECT count(DISTINCT x) FROM unnest(p_keys) x
         WHERE x IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM pool_private.keys_asked q WHERE q.tx = txid_current() AND q.k = x)));
END $$;
REVOKE ALL ON FUNCTION pool_private.count_written_keys(text[]) FROM PUBLIC;

-- New rows: one count per statement (a bulk import's batch is one statement). Every
-- key counts, deleted or not (a row inserted as deleted could be brought back later).
CREATE FUNCTION pool_private.keys_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
BEGIN
    PERFORM pool_private.count_written_keys(ARRAY(
        SELECT 'p' || n.phone_key FROM keys_new n WHERE n.phone_key IS NOT NULL
        UNION ALL SELECT 'e' || n.email_key FROM keys_new n WHERE n.email_key IS NOT NULL));
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.keys_added() FROM PUBLIC;

-- Changed keys: a row trigger that only UPDATEs naming the key columns fire (a claim,
-- release or recycle does not), counting a key only when it changed to a new value.
CREATE FUNCTION pool_private.keys_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
BEGIN
    IF NEW.phone_key IS DISTINCT FROM OLD.phone_key OR NEW.email_key IS DISTINCT FROM OLD.email_key THEN
        PERFORM pool_private.count_written_keys(ARRAY[
            CASE WHEN NEW.phone_key IS DISTINCT FROM OLD.phone_key THEN 'p' || NEW.phone_key END,
            CASE WHEN NEW.email_key IS DISTINCT FROM OLD.email_key THEN 'e' || NEW.email_key END]);
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.keys_changed() FROM PUBLIC;

CREATE TRIGGER zz_keys_added AFTER INSERT ON customers
    REFERENCING NEW TABLE AS keys_new FOR EACH STATEMENT EXECUTE FUNCTION pool_private.keys_added();
CREATE TRIGGER zz_keys_changed AFTER UPDATE OF phone_key, email_key ON customers
    FOR EACH ROW EXECUTE FUNCTION pool_private.keys_changed();

-- What the caller has left of today's quota (NULL: not counted), so that `pool import`
-- can refuse a file that needs more before it asks or writes anything (review F5).
CREATE FUNCTION pool_private.key_lookups_left() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    quota bigint := coalesce((SELECT value FROM settings WHERE key = 'key_lookups_per_day' AND value ~ '^[0-9]{1,12}$')::bigint, 20000);
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.trusted OR a.role = 'admin' THEN
        RETURN NULL;
    END IF;
    RETURN greatest(quota - pool_private.key_lookups_today(a.id,
        floor(pool_private.day_start(a.team_id, pool_private.clock()) / 86400.0)::bigint), 0);
END $$;
REVOKE ALL ON FUNCTION pool_private.key_lookups_left() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.key_lookups_left() TO pool_admin, pool_manager, pool_member, pool_viewer;

UPDATE settings SET value = '21' WHERE key = 'schema_version';
