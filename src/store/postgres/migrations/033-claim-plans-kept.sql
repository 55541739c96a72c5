-- Server mode, migration 33: a claim keeps its statements' plans for the session.
-- Run as the database owner, in one transaction, after the earlier migrations.
--
-- PL/pgSQL caches a plan per statement and session, but for a statement with parameters
-- it plans again at every call (a custom plan) as long as the generic plan's estimate is
-- worse than the custom plans'. The claim's three statements on customers (lock and read
-- the listed rows, the copies-by-key cooldown, the batch UPDATE) carry the row level
-- security policies, and were planned again at each claim: on a warm session (one
-- connection, or a pooler's) 0.95 ms of a 2.4 ms claim (pg_stat_statements with
-- track_planning, 400 claims). Their generic plans use the same indexes (auto_explain of
-- the claims: index scans on customers; sequential scans only of users and audit_head,
-- a row or ten). On a new connection nothing changes: each statement is planned once
-- either way (15.4 / 16.6 ms server CPU per claim with generic plans, 16.4 / 16.1 ms
-- without, 200 new connections each).
ALTER FUNCTION pool_private.claim(bigint[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION pool_private.check_claim(bigint, text, bigint, text, public.customers, bigint)
    SET plan_cache_mode = force_generic_plan;

UPDATE settings SET value = '33' WHERE key = 'schema_version';
