-- 2: pool forget and merge undo look merges up by survivor.
CREATE INDEX merges_survivor ON merges(survivor_id);
