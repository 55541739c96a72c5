-- Managers read the text columns a contact may be typed into through the view only, like
-- members and viewers since migration 24.
--
-- Migration 24 left managers SELECT on customers' name, company, city, source, tags and
-- the name/company keys, because recycling read an owned row's tags and label from the
-- base table. A manager with psql could so read a phone typed into the name, tags or city
-- of another team's customer, which `customers_v` masks for them. `pool recycle` now
-- reads the candidates' tags through `customers_v` (one index lookup per candidate, and
-- only when a pool has per-tag days), and no longer reads the name at all (the label it
-- read was never shown), so nobody but the owner and admins reads these columns around
-- the view.
REVOKE SELECT (name, company, city, source, tags, name_key, company_key)
    ON customers FROM pool_manager;

UPDATE settings SET value = '27' WHERE key = 'schema_version';
