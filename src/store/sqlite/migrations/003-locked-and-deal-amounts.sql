-- 3: reports at a million customers: locked customers per owner without
-- reading rows, deal amounts per user from the index alone.
CREATE INDEX customers_locked ON customers(owner_id) WHERE locked = 1 AND deleted_at IS NULL;
     CREATE INDEX deals_user_amount ON deals(user_id, amount_minor);
