-- 4: cross-team shares (report teams) from the few customers that changed hands.
CREATE INDEX customers_previous_owner ON customers(previous_owner_id, owner_id)
     WHERE previous_owner_id IS NOT NULL AND owner_id IS NOT NULL AND deleted_at IS NULL;
