-- The text columns a contact may be typed into are read through the view only.
--
-- Migration 22 masks a phone or e-mail typed into name, company, city, source or tags in
-- `customers_v`, but migration 2 still let managers, members and viewers SELECT those
-- columns (and the name/company keys) from the base table, so `SELECT name FROM
-- customers` in psql showed `张三 13900000100` as written. Now, like phone and e-mail
-- since migration 2, members and viewers no longer read them from `customers`; they read
-- `customers_v`, where they are masked unless the reader sees the customer's contacts.
-- (The server's definer code and the view read as the owner; the client's own queries
-- that named these columns on the base table now read the view.)
-- Managers keep them: they recycle within their team (the owned rows' tags and names,
-- read from the base table), and see the contacts of their team's and pooled customers
-- anyway; what they could read around the view is a contact typed into the name, tags
-- or city of another team's customer.
REVOKE SELECT (name, company, city, source, tags, name_key, company_key)
    ON customers FROM pool_member, pool_viewer;

UPDATE settings SET value = '24' WHERE key = 'schema_version';
