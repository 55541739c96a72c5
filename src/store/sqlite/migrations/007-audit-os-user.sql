-- 7: who really ran a command that acted as someone else, and the simulated time of
-- a change made under POOL_NOW (the row's own time is always the real one).
ALTER TABLE audit_log ADD COLUMN os_user TEXT;
     ALTER TABLE audit_log ADD COLUMN sim_at INTEGER;
