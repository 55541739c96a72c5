-- Server mode, migration 33: a claim keeps its own statements' plans for the session.
-- Run as the database owner, in one transaction, after the earlier migrations.
--
-- PL/pgSQL caches a plan per statement and session, but for a statement with parameters
-- it plans again at every call (a custom plan) as long as the generic plan's estimate is
-- worse than the custom plans'. The claim's three statements on customers (lock and read
-- the listed rows, the copies-by-key cooldown, the batch UPDATE) carry the row level
-- security policies, and were planned again at each claim: on a warm session (one
-- connection, or a pooler's) 0.95 ms of a 2.4 ms claim (pg_stat_statements with
-- track_planning, 400 claims on one session). Their generic plans use the same indexes
-- (auto_explain: index scans on customers; sequential scans only of users and
-- audit_head, a row or ten). On a new connection nothing changes: each statement is
-- planned once either way.
--
-- A function's SET holds for everything it calls. check_claim (the rules of a pool with
-- limits, called by claim per id) and what it calls keep the planner's usual choice: its
-- lost-twin query's generic plan read every customer where few people had released many
-- customers (hostile review: 2.3 s against 0.37 s for a 16-id claim at 400,000
-- customers), and it would run holding the audit head.
ALTER FUNCTION pool_private.claim(bigint[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION pool_private.check_claim(bigint, text, bigint, text, public.customers, bigint)
    SET plan_cache_mode = auto;

UPDATE settings SET value = '33' WHERE key = 'schema_version';
