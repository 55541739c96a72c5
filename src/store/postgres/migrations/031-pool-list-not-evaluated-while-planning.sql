-- Server mode, migration 31: customers' read and change policies take a member's pools as
-- one array, not as a set the planner must size.
-- Run as the database owner, in one transaction, after the earlier migrations.
--
-- `pool_id IN (SELECT unnest(pool_private.my_pools()))` made the planner, for every
-- statement on customers (pool's definer functions too: the policies are on PUBLIC and
-- FORCE applies them to the owner), run my_pools() to estimate how many rows unnest
-- returns: an SQL function the planner cannot inline, whose body (pool_teams under its
-- own policies, my_team() on users) was parsed and planned again each time. A claim plans
-- four statements on customers. `pool_id = ANY ((SELECT my_pools())::bigint[])` is the
-- same test (an id in the array; no row when the array is NULL or the id is not in it)
-- with my_pools() evaluated once per statement at run time, as an init plan, and never
-- while planning. Measured on a claim of one id (pgbench, 200 new connections / 400 on
-- one, member role, load 4-5): 22.2 / 20.1 -> 18.7 / 19.1 ms server CPU per claim on a
-- new connection, 3.5 / 3.2 -> 2.6 ms on one connection. Same rows for every role.
ALTER POLICY read ON customers USING (
    (SELECT pool_private.my_role()) = 'admin'
    OR ((SELECT pool_private.my_id()) IS NOT NULL
        AND (owner_id IS NOT NULL OR pool_id = ANY ((SELECT pool_private.my_pools())::bigint[]))));
ALTER POLICY change ON customers USING (
    (SELECT pool_private.my_role()) = 'admin'
    OR ((SELECT pool_private.my_role()) = 'manager'
        AND ((owner_id IS NULL AND pool_id = ANY ((SELECT pool_private.my_pools())::bigint[]))
             OR pool_private.team_of(owner_id) = (SELECT pool_private.my_team())))
    OR ((SELECT pool_private.my_role()) = 'member'
        AND (owner_id = (SELECT pool_private.my_id())
             OR (owner_id IS NULL AND pool_id = ANY ((SELECT pool_private.my_pools())::bigint[])))));

UPDATE settings SET value = '31' WHERE key = 'schema_version';
