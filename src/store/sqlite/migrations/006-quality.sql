-- Migration 6: the quality report from indexes.

-- Which fields a live customer misses, as a bit mask (store::reports::MISSING_MASK is
-- the same expression, and a test checks the report's queries use this index): the
-- report counts customers per mask instead of reading every row, and finds the worst
-- records by mask.
CREATE INDEX customers_missing ON customers(
    (name IS NULL) + 2 * (company IS NULL) + 4 * (phone IS NULL) + 8 * (phone_key IS NULL)
        + 16 * (email IS NULL) + 32 * (email_key IS NULL) + 64 * (city IS NULL)
        + 128 * (address IS NULL) + 256 * (source IS NULL),
    deleted_at);

-- The key indexes carry deleted_at (always NULL in them) so that queries naming it are
-- answered from the index alone, and the e-mail index the phone key, so that duplicate
-- counting never reads a row.
DROP INDEX customers_phone_key;
CREATE INDEX customers_phone_key ON customers(phone_key, deleted_at)
    WHERE phone_key IS NOT NULL AND deleted_at IS NULL;
DROP INDEX customers_email_key;
CREATE INDEX customers_email_key ON customers(email_key, phone_key, deleted_at)
    WHERE email_key IS NOT NULL AND deleted_at IS NULL;
