-- A hostile review of migrations 26 and 27 (session 12), on both backends where it
-- applies.
--
-- Masking (the same change as domain::mask in Rust):
-- * An address behind one or more '@' ("@lihua@qq.com", "cc:@lihua@qq.com") was never
--   an address, since a word starting with '@' was not one: shown whole. The leading
--   '@'s are now part of the word ("@***@qq.com").
-- * A run of digits ended only before an address starting with a digit; one starting
--   with '+', '-', '.' or '_' ("12 +1lihua@qq.com") was swallowed by the run and the
--   rest shown. A run now ends before any address starting inside it.
-- * Quadratic time: every array slice (ch[i:j]) walks the array from its start, and the
--   functions took one per address and per digit run, so a member could store an
--   18,000-character name with '@'s that cost every masked reader seconds per row. The
--   functions now read elements one by one (an expanded array's element is O(1)).
--
-- Managers:
-- * merges.before holds whole customer rows (phone, e-mail, notes) as they were before a
--   merge, of every team; managers could SELECT it. Only admins read it now; a manager's
--   `pool dedupe undo` asks merge_erased() whether a merge was erased instead.
-- * contacts.name and title (a phone typed into a contact person's name) were revoked
--   from members and viewers by migration 25; managers read contacts_v too now.
--
-- Everyone:
-- * A release reason is free text (`pool release 12 --reason "客户新手机 139…"`), and
--   every role could read ownership_events.reason, of any customer. It is read through
--   ownership_events_v now, masked (mask_in_text) where the reader does not see the
--   customer's contacts; only admins read the column itself.

CREATE OR REPLACE FUNCTION pool_private.mail_end(ch text[], i int) RETURNS int LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    m int := coalesce(array_length(ch, 1), 0);
    e int;
    s int;
    at_ int := 0;
    -- mask::email_char
    mail_ch constant text := '^([A-Za-z0-9._+%@-]|[^\x01-\xbf\u2000-\u206f\u3000-\u303f\ufe10-\ufe1f\ufe30-\ufe6f\uff00-\uffef])$';
BEGIN
    IF ch[i] !~ mail_ch OR (i > 1 AND ch[i - 1] ~ mail_ch) THEN
        RETURN 0;
    END IF;
    e := i;
    WHILE e <= m AND ch[e] ~ mail_ch LOOP
        e := e + 1;
    END LOOP;
    WHILE e > i AND ch[e - 1] = '.' LOOP
        e := e - 1;
    END LOOP;
    -- leading '@'s belong to the word; then the first '@' after them
    s := i;
    WHILE s < e AND ch[s] = '@' LOOP
        s := s + 1;
    END LOOP;
    FOR k IN s..e - 1 LOOP
        IF ch[k] = '@' THEN
            at_ := k;
            EXIT;
        END IF;
    END LOOP;
    IF at_ > s AND at_ < e - 1 THEN
        RETURN e;
    END IF;
    RETURN 0;
END $$;

-- The characters ch[a..b] as one text (no slice: see above).
CREATE FUNCTION pool_private.chars_text(ch text[], a int, b int) RETURNS text LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    out text := '';
BEGIN
    FOR k IN a..b LOOP
        out := out || ch[k];
    END LOOP;
    RETURN out;
END $$;

CREATE OR REPLACE FUNCTION pool_private.phone_run(ch text[], i int, OUT last_digit int, OUT digits int)
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    m int := coalesce(array_length(ch, 1), 0);
    j int := i;
BEGIN
    last_digit := i;
    digits := 0;
    WHILE j <= m AND (ch[j] ~ '^[0-9]$' OR pool_private.phone_sep(ch[j])
                      OR (ch[j] IN (',', '、') AND j > 1 AND ch[j - 1] ~ '^[0-9]$' AND j < m AND ch[j + 1] ~ '^[0-9]$')) LOOP
        -- an address starting inside the run ends it (only after a character that is not
        -- part of an address can one start)
        IF j > i AND ch[j - 1] !~ '^[A-Za-z0-9._+%@-]$' AND pool_private.mail_end(ch, j) > 0 THEN
            EXIT;
        END IF;
        IF ch[j] ~ '^[0-9]$' THEN
            digits := digits + 1;
            last_digit := j;
        END IF;
        j := j + 1;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION pool_private.mask_email_at(ch text[], i int, e int, OUT masked text, OUT stop int)
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    k int := i;
    at_ int;
    lst int;
    t int;
    run record;
    word text;
BEGIN
    WHILE k > 1 AND ch[k - 1] !~ '^[0-9]$' AND (pool_private.phone_sep(ch[k - 1]) OR ch[k - 1] IN (',', '、')) LOOP
        k := k - 1;
    END LOOP;
    -- the last '@'
    at_ := e - 1;
    WHILE ch[at_] <> '@' LOOP
        at_ := at_ - 1;
    END LOOP;
    -- the domain's last group of digits and separators, from its first digit
    lst := e;
    WHILE lst > at_ + 1 AND pool_private.phone_sep(ch[lst - 1]) LOOP
        lst := lst - 1;
    END LOOP;
    IF lst > at_ + 1 AND ch[lst - 1] ~ '^[0-9]$' THEN
        t := lst - 1;
        WHILE t > at_ + 1 AND (ch[t - 1] ~ '^[0-9]$' OR pool_private.phone_sep(ch[t - 1])) LOOP
            t := t - 1;
        END LOOP;
        WHILE ch[t] !~ '^[0-9]$' LOOP
            t := t + 1;
        END LOOP;
        run := pool_private.phone_run(ch, t);
        word := pool_private.chars_text(ch, t, run.last_digit);
        IF run.last_digit >= e AND pool_private.is_phone_run(word, run.digits) THEN
            masked := pool_private.mask_in_text(pool_private.mask_email(pool_private.chars_text(ch, i, t - 1)))
                      || pool_private.mask_phone(word);
            stop := run.last_digit + 1;
        END IF;
    END IF;
    IF masked IS NULL THEN
        masked := pool_private.mask_in_text(pool_private.mask_email(pool_private.chars_text(ch, i, e - 1)));
        stop := e;
    END IF;
    IF k > 1 AND ch[k - 1] ~ '^[0-9]$' AND ch[i] ~ '^[0-9]$' THEN
        masked := substr(masked, 2);
    END IF;
END $$;
CREATE OR REPLACE FUNCTION pool_private.mask_in_text(p text) RETURNS text LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    orig text[];
    ch text[] := '{}';
    src int[] := '{}';
    nf text;
    n int;
    m int;
    k int;
    res text := '';
    i int := 1;
    j int;
    e int;
    run record;
    word text;
    masked text;
    stop int;
    nxt int := 1;
    changed boolean := false;
BEGIN
    IF p IS NULL OR NOT pool_private.may_hold_contact(p) THEN
        RETURN p;
    END IF;
    nf := normalize(pool_private.nfkc_newer(p), NFKC);
    IF length(regexp_replace(nf, '[^0-9]', '', 'g')) < 7 AND position('@' IN nf) = 0 THEN
        RETURN p;
    END IF;
    orig := regexp_split_to_array(p, '');
    n := coalesce(array_length(orig, 1), 0);
    -- each character's NFKC form (Rust's), with the index of the character it came from
    FOR k IN 1..n LOOP
        IF orig[k] ~ '^[\x01-\x7f]$' THEN
            ch := ch || orig[k];
            src := src || k;
        ELSE
            nf := normalize(pool_private.nfkc_newer(orig[k]), NFKC);
            FOR j IN 1..length(nf) LOOP
                -- (the ideographic full stop a Chinese keyboard types in "qq。com")
                ch := ch || CASE WHEN substr(nf, j, 1) = '。' THEN '.' ELSE substr(nf, j, 1) END;
                src := src || k;
            END LOOP;
        END IF;
    END LOOP;
    m := coalesce(array_length(ch, 1), 0);
    WHILE i <= m LOOP
        masked := NULL;
        stop := i + 1;
        -- (only a character after a space or other non-address character may start one)
        e := CASE WHEN i = 1 OR ch[i - 1] !~ '^[A-Za-z0-9._+%@-]$' THEN pool_private.mail_end(ch, i) ELSE 0 END;
        IF e > 0 THEN
            SELECT a.masked, a.stop INTO masked, stop FROM pool_private.mask_email_at(ch, i, e) a;
        ELSIF ch[i] ~ '^[0-9]$' OR (ch[i] = '+' AND i < m AND ch[i + 1] ~ '^[0-9]$') THEN
            -- a phone number: digits and separators, ending on a digit, 7+ digits
            run := pool_private.phone_run(ch, i);
            word := pool_private.chars_text(ch, i, run.last_digit);
            IF pool_private.is_phone_run(word, run.digits) THEN
                masked := pool_private.mask_phone(word);
            END IF;
            stop := run.last_digit + 1;
        END IF;
        IF masked IS NOT NULL THEN
            res := res || masked;
            changed := true;
            nxt := greatest(nxt, src[stop - 1] + 1);
        ELSE
            FOR k IN i..stop - 1 LOOP
                IF src[k] >= nxt THEN
                    res := res || orig[src[k]];
                    nxt := src[k] + 1;
                END IF;
            END LOOP;
        END IF;
        i := stop;
    END LOOP;
    IF changed THEN
        RETURN res;
    END IF;
    RETURN p;
END $$;

REVOKE ALL ON FUNCTION pool_private.chars_text(text[], int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.chars_text(text[], int, int)
    TO pool_admin, pool_manager, pool_member, pool_viewer;

-- merges.before: admins only. Managers keep the other columns (`pool dedupe undo`
-- reads the merge's survivor, ids and state).
REVOKE SELECT ON merges FROM pool_manager;
GRANT SELECT (id, survivor_id, merged_ids, score, reasons, by_user, at, undone_at) ON merges TO pool_manager;

-- Whether a merge's before-image was erased by `pool forget` (so it cannot be undone),
-- for a manager who may not read the image itself.
CREATE FUNCTION pool_private.merge_erased(p_id bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
    SELECT m.before = '{"erased":true}' FROM merges m, pool_private.actor() a
     WHERE m.id = p_id AND (a.trusted OR a.role IN ('admin', 'manager'))
$$;
REVOKE ALL ON FUNCTION pool_private.merge_erased(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.merge_erased(bigint) TO pool_admin, pool_manager;

-- A contact person's name and title: through contacts_v, as for members and viewers.
REVOKE SELECT (name, title) ON contacts FROM pool_manager;

CREATE VIEW ownership_events_v WITH (security_barrier) AS
SELECT e.id, e.customer_id, e.event, e.from_user, e.to_user, e.by_user, e.pool_id,
       CASE WHEN e.reason IS NULL OR NOT pool_private.may_hold_contact(e.reason)
                 OR pool_private.may_work_on((SELECT pool_private.my_role()), (SELECT pool_private.my_id()),
                                             (SELECT pool_private.my_team()), c.owner_id,
                                             pool_private.team_of(c.owner_id))
            THEN e.reason ELSE pool_private.mask_in_text(e.reason) END AS reason,
       e.at
  FROM ownership_events e JOIN customers c ON c.id = e.customer_id;
GRANT SELECT ON ownership_events_v TO pool_admin, pool_manager, pool_member, pool_viewer;
-- Whether a hand-over was an allocation (the daily cap counts those), for readers of
-- the rows who may not read the reason it was told by.
ALTER TABLE ownership_events ADD COLUMN allocated boolean
    GENERATED ALWAYS AS (event = 'assign' AND coalesce(reason, '') LIKE 'allocate%') STORED;
-- (a column REVOKE does not narrow a table-wide grant: re-grant all but the reason)
REVOKE SELECT ON ownership_events FROM pool_manager, pool_member, pool_viewer;
GRANT SELECT (id, customer_id, event, from_user, to_user, by_user, pool_id, at, allocated) ON ownership_events
    TO pool_manager, pool_member, pool_viewer;

-- Migration 8's allocation guard (it runs as the writer), counting allocations by the
-- new column instead of the reason.
CREATE OR REPLACE FUNCTION pool_private.allocate_guard() RETURNS trigger
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
           AND (event = 'claim' OR allocated);
        IF n >= r.daily_claims THEN
            RAISE EXCEPTION 'daily claim limit reached: % received %/% today', v.login, n, r.daily_claims
                USING ERRCODE = 'PT411';
        END IF;
    END IF;
    RETURN NEW;
END $$;

UPDATE settings SET value = '28' WHERE key = 'schema_version';
