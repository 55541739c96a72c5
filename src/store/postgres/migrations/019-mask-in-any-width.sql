-- Contacts inside free text and custom values, masked in any width (the hostile review
-- of migration 14): domain::mask::mask_in_text reads each character in its NFKC form
-- (full-width digits, '＠', ideographic spaces), joins digit runs over '/', tabs and line
-- breaks too, and shows what it does not mask as written. A custom value that is a JSON
-- number, list or object is masked through its JSON text (a phone stored as a number).

-- Whether masking could change p: a quick, conservative test (one regular expression,
-- ~1.5 µs a row) before the exact one. True when p has 7 ASCII digits, an '@', a JSON
-- escape (`\u0040` is an '@' once decoded: the view tests the raw JSON text), or any
-- character outside ASCII, CJK ideographs and the common CJK and full-width punctuation
-- (full-width digits and '＠' are outside it, and so is every other character whose NFKC
-- form holds a digit: ①, ¹, ㏠ …).
CREATE FUNCTION pool_private.may_hold_contact(p text) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$
    SELECT p ~ '[^\x01-\x7f\u3000-\u303f\u4e00-\u9fff\uff01-\uff0f\uff1a-\uff1f\uff21-\uff5e]|[0-9](.*[0-9]){6}|@|\\u'
$$;
GRANT EXECUTE ON FUNCTION pool_private.may_hold_contact(text) TO pool_admin, pool_manager, pool_member, pool_viewer;

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
    at_ int;
    last_digit int;
    digits int;
    word text;
    masked text;
    stop int;
    mailish boolean;
    nxt int := 1;
    changed boolean := false;
BEGIN
    IF p IS NULL OR NOT pool_private.may_hold_contact(p) THEN
        RETURN p;
    END IF;
    nf := normalize(p, NFKC);
    IF length(regexp_replace(nf, '[^0-9]', '', 'g')) < 7 AND position('@' IN nf) = 0 THEN
        RETURN p;
    END IF;
    orig := regexp_split_to_array(p, '');
    n := coalesce(array_length(orig, 1), 0);
    -- each character's NFKC form, with the index of the character it came from
    FOR k IN 1..n LOOP
        IF orig[k] ~ '^[\x01-\x7f]$' THEN
            ch := ch || orig[k];
            src := src || k;
        ELSE
            nf := normalize(orig[k], NFKC);
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
        mailish := false;
        -- an e-mail address: a word starting here (not inside one) with an '@' after
        -- its first character and a dot after the '@'; a trailing dot is not part of it
        IF ch[i] ~ '^[A-Za-z0-9._+%-]$' AND NOT (i > 1 AND ch[i - 1] ~ '^[A-Za-z0-9._+%@-]$') THEN
            e := i;
            WHILE e <= m AND ch[e] ~ '^[A-Za-z0-9._+%@-]$' LOOP
                e := e + 1;
            END LOOP;
            WHILE e > i AND ch[e - 1] = '.' LOOP
                e := e - 1;
            END LOOP;
            word := array_to_string(ch[i:e - 1], '');
            at_ := position('@' IN word);
            IF at_ > 1 AND position('.' IN substr(word, at_ + 1)) > 0 THEN
                -- (and a phone run on into its domain, "qq.com-13800138000", masked too)
                masked := pool_private.mask_in_text(pool_private.mask_email(word));
                stop := e;
                mailish := true;
            END IF;
        END IF;
        IF NOT mailish AND (ch[i] ~ '^[0-9]$' OR (ch[i] = '+' AND i < m AND ch[i + 1] ~ '^[0-9]$')) THEN
            j := i;
            last_digit := i;
            digits := 0;
            WHILE j <= m AND (ch[j] ~ '^[0-9]$' OR ch[j] IN ('+', ' ', E'\t', E'\n', E'\r', '-', '.', '/', '(', ')', '_', '~', '*', '·', '–', '—')) LOOP
                IF ch[j] ~ '^[0-9]$' THEN
                    digits := digits + 1;
                    last_digit := j;
                END IF;
                j := j + 1;
            END LOOP;
            word := array_to_string(ch[i:last_digit], '');
            -- (a date, 2026-12-01 or 2027/1/5 or 2027.01.15, is not a phone number)
            IF digits >= 7 AND word !~ '^[0-9]{4}(-[0-9]{1,2}-|\.[0-9]{1,2}\.|/[0-9]{1,2}/)[0-9]{1,2}$' THEN
                masked := pool_private.mask_phone(word);
            END IF;
            stop := last_digit + 1;
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

-- app's shown_value: a string through mask_in_text; a number, list or object whose JSON
-- text masking changes, as that masked text.
CREATE FUNCTION pool_private.mask_json_value(v jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    t text;
    masked text;
BEGIN
    IF jsonb_typeof(v) = 'string' THEN
        RETURN to_jsonb(pool_private.mask_in_text(v #>> '{}'));
    ELSIF jsonb_typeof(v) IN ('number', 'array', 'object') THEN
        t := v::text;
        masked := pool_private.mask_in_text(t);
        IF masked IS DISTINCT FROM t THEN
            RETURN to_jsonb(masked);
        END IF;
    END IF;
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION pool_private.mask_custom(p text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$
    SELECT jsonb_object_agg(k, pool_private.mask_json_value(v))::text
      FROM jsonb_each(pool_private.custom_obj(p)) AS e(k, v)
$$;
GRANT EXECUTE ON FUNCTION pool_private.mask_json_value(jsonb) TO pool_admin, pool_manager, pool_member, pool_viewer;

-- Migration 14's view, with the quick test above for "nothing to mask" (14's counted
-- ASCII digits only, so full-width ones passed unmasked, and took ~16 µs a row).
CREATE OR REPLACE VIEW customers_v WITH (security_barrier) AS
SELECT c.id, c.name, c.company,
       CASE WHEN s.sees THEN c.phone ELSE pool_private.mask_phone(c.phone) END AS phone,
       CASE WHEN s.sees THEN c.email ELSE pool_private.mask_email(c.email) END AS email,
       c.city,
       CASE WHEN s.sees OR c.address IS NULL THEN c.address ELSE '***' END AS address,
       c.source, c.stage, c.tags,
       CASE WHEN s.sees THEN c.notes END AS notes,
       CASE WHEN s.sees THEN c.custom
            WHEN NOT pool_private.may_hold_contact(c.custom) THEN c.custom
            ELSE pool_private.mask_custom(c.custom) END AS custom,
       CASE WHEN s.sees THEN c.phone_key END AS phone_key,
       CASE WHEN s.sees THEN c.email_key END AS email_key,
       c.name_key, c.company_key, c.pool_id, c.owner_id, c.previous_owner_id, c.locked,
       c.created_at, c.updated_at, c.created_by, c.claimed_at, c.pooled_at, c.released_at,
       c.last_contact_at, c.won_at, c.deleted_at, c.merged_into, c.forgotten_at, c.recycle_due_at,
       s.sees AS contact_visible,
       c.level, c.industry
  FROM customers c
  CROSS JOIN LATERAL (
      SELECT pool_private.may_work_on((SELECT pool_private.my_role()), (SELECT pool_private.my_id()),
                                      (SELECT pool_private.my_team()), c.owner_id,
                                      pool_private.team_of(c.owner_id)) AS sees) s;

UPDATE settings SET value = '19' WHERE key = 'schema_version';
