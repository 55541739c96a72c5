-- Migration 12: several contact people per customer (联系人), and revenue per period.
-- Phone and e-mail are stored raw beside their match keys, as on customers, so search
-- by a whole number or address finds the customer through an index.
CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    name         TEXT    NOT NULL,
    title        TEXT,
    phone        TEXT,
    email        TEXT,
    phone_key    TEXT,
    email_key    TEXT,
    created_by   INTEGER REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX contacts_customer ON contacts(customer_id, id);

CREATE INDEX contacts_phone_key ON contacts(phone_key, customer_id) WHERE phone_key IS NOT NULL;

CREATE INDEX contacts_email_key ON contacts(email_key, customer_id) WHERE email_key IS NOT NULL;

-- `pool report revenue`: live deals by date, covering what the report sums, so a range
-- of dates is read from the index alone.
CREATE INDEX deals_revenue ON deals(on_date, currency, amount_minor, user_id)
    WHERE voided_at IS NULL;
