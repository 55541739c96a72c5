-- domain::mask::mask_in_text's session-12 rules, in SQL (a property test found them):
-- an e-mail address's shown parts must not complete a phone number with the digits
-- around it.
-- 1. A run of digits ends before an address that starts inside it ("room 12 3li@qq.com"
--    is an address after "12 ", not a number "12 3" leaving "li@qq.com" unmasked).
-- 2. An address's first character, when it is a digit right after other digits (only
--    separators between), is hidden too ("12 ***@qq.com", not "12 3***@qq.com").
-- 3. A domain ending in digits that run on into more digits after the address is
--    masked with them as one phone when they make one ("a@123\n4567" → "a***@12****7").
-- A hostile review of this migration before it landed added (the same in Rust):
-- 4. An address behind one or more '@' ("cc:@lihua@qq.com") is an address: the leading
--    '@'s are part of the word ("cc:@***@qq.com"); a word starting with '@' was never one.
-- 5. Rule 1 for any address, also one starting with '+', '-', '.' or '_'
--    ("12 +1lihua@qq.com" was swallowed by the run and the rest shown).
-- 6. Linear time: an array slice (ch[i:j]) walks the array from its start, and taking
--    one per address and digit run let a member store an 18,000-character name with
--    '@'s that cost every masked reader seconds per row; the functions read elements
--    one by one (chars_text), an expanded array's element being O(1).

-- mask::email_at: where the address starting at ch[i] ends (exclusive), or 0 when none
-- starts there: a word (not begun before i) with an '@' after its leading '@'s that has
-- something on both sides; a trailing dot is not part of it.
CREATE FUNCTION pool_private.mail_end(ch text[], i int) RETURNS int LANGUAGE plpgsql IMMUTABLE
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

-- mask::phone_separator
CREATE FUNCTION pool_private.phone_sep(c text) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$ SELECT c IN ('+', ' ', E'\t', E'\n', E'\r', '-', '.', '/', '(', ')', '_', '~', '*', '·', '–', '—') $$;

-- mask::phone_run: the run of digits and separators from the digit (or '+') at ch[i]
-- (a comma or 、 only between two digits), ending before an address that starts inside
-- it; the index of its last digit and how many digits it holds.
CREATE FUNCTION pool_private.phone_run(ch text[], i int, OUT last_digit int, OUT digits int)
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

-- mask::mask_email_at: the address ch[i .. e-1] masked, and where the masked part ends.
CREATE FUNCTION pool_private.mask_email_at(ch text[], i int, e int, OUT masked text, OUT stop int)
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

REVOKE ALL ON FUNCTION pool_private.mail_end(text[], int), pool_private.phone_sep(text),
    pool_private.chars_text(text[], int, int), pool_private.phone_run(text[], int),
    pool_private.mask_email_at(text[], int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.mail_end(text[], int), pool_private.phone_sep(text),
    pool_private.chars_text(text[], int, int), pool_private.phone_run(text[], int),
    pool_private.mask_email_at(text[], int, int)
    TO pool_admin, pool_manager, pool_member, pool_viewer;

UPDATE settings SET value = '26' WHERE key = 'schema_version';
