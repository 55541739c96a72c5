//! Server mode, migration 17: what a claim's cost cut must not loosen. The statement
//! trigger `same_identity` now runs only under its own refusing condition (a WHEN): a
//! role acting as another pool user is still refused on every table, and definer code
//! and plain writes still pass. Runs only with POOL_TEST_PG.
use crate::common::pg::Server;

#[test]
fn pg_same_identity_still_refuses_a_role_acting_as_another_user() {
    let Some(s) = Server::new("pcc", "ident") else {
        return;
    };
    s.init("east");
    s.add_user("li", "east", "member");
    s.add_user("wang", "east", "member");
    let id = s.sql(
        "admin",
        "INSERT INTO customers (name, city, pool_id) VALUES ('甲', '杭州', 1) RETURNING id",
    );
    // wang may become li (a grant the owner can make), but may not write as li.
    s.sql(
        "owner",
        &format!("GRANT {} TO {}", s.role("li"), s.role("wang")),
    );
    for sql in [
        format!("UPDATE customers SET city = '上海' WHERE id = {id}"),
        format!("INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at) VALUES ({id}, 1, 'call', 'x', 0, 0)"),
    ] {
        s.refused("wang", &format!("SET ROLE {}; {sql}", s.role("li")), "PT403");
    }
    // As themselves, through the claim function (definer code) and directly: allowed.
    s.ok("wang", &["claim", &id]);
    s.sql(
        "wang",
        &format!("UPDATE customers SET city = '上海' WHERE id = {id}"),
    );
    assert_eq!(
        s.sql(
            "admin",
            &format!("SELECT city FROM customers WHERE id = {id}")
        ),
        "上海"
    );
}

/// Migration 31: planning a statement on customers does not run my_pools() (the policies
/// take the member's pools as one array, evaluated when the statement runs), and the
/// policies still let a member claim in a pool of its team and not in another team's.
#[test]
fn pg_planning_a_customers_statement_does_not_run_my_pools() {
    let Some(s) = Server::new("pcc", "plan") else {
        return;
    };
    s.init("east");
    s.ok("admin", &["team", "add", "west"]);
    s.add_user("li", "east", "member");
    s.add_user("wu", "west", "member");
    s.sql(
        "admin",
        "INSERT INTO pools (name, created_at) VALUES ('east-only', 0);
         INSERT INTO pool_rules (pool_id) SELECT id FROM pools WHERE name = 'east-only';
         INSERT INTO pool_teams SELECT p.id, t.id FROM pools p, teams t WHERE p.name = 'east-only' AND t.name = 'east'",
    );
    let east = s.sql(
        "admin",
        "INSERT INTO customers (name, city, pool_id) SELECT '甲', '杭州', id FROM pools WHERE name = 'east-only' RETURNING id",
    );
    // Calls of my_pools in this transaction, after planning (EXPLAIN) a read and an
    // update as the member and running nothing. Counting needs track_functions, which
    // only a superuser sets: so the superuser becomes the member.
    let planned = |who: &str| {
        s.su(&format!(
            "SET track_functions = 'all'; SET ROLE {};
             EXPLAIN SELECT id FROM customers WHERE id = {east};
             EXPLAIN UPDATE customers SET city = 'x' WHERE id = {east};
             SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions
              WHERE schemaname = 'pool_private' AND funcname = 'my_pools'",
            s.role(who)
        ))
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
    };
    assert_eq!(planned("li"), "0");
    assert_eq!(planned("wu"), "0");
    // Same rows as before: west's member cannot claim east's pooled customer, east's can.
    let err = s.fails("wu", &["claim", &east], 5);
    assert!(err.contains("is not visible to team"), "{err}");
    assert_eq!(s.owner_of_customer_pcc(&east), "");
    s.ok("li", &["claim", &east]);
    assert_eq!(s.owner_of_customer_pcc(&east), s.role("li"));
}

/// Migration 33: the claim keeps generic plans for the session (a warm session, a
/// pooler's, plans its statements on customers once, not at every claim); check_claim,
/// which claim calls under a pool's limits, keeps the planner's usual choice (a
/// function's SET holds for what it calls). A later `CREATE OR REPLACE` of either
/// function drops its setting unless it says it again.
#[test]
fn pg_the_claim_keeps_its_plans_for_the_session() {
    let Some(s) = Server::new("pcc", "plans") else {
        return;
    };
    s.init("east");
    s.add_user("li", "east", "member");
    let configs = s.su(
        "SELECT string_agg(p.proname || ' ' || array_to_string(p.proconfig, ' '), '|' ORDER BY p.proname)
           FROM pg_proc p WHERE p.pronamespace = 'pool_private'::regnamespace
            AND p.proname IN ('claim', 'check_claim')",
    );
    let (check, claim) = configs.split_once('|').expect("both functions");
    assert!(check.contains("plan_cache_mode=auto"), "{check}");
    assert!(
        claim.contains("plan_cache_mode=force_generic_plan") && claim.contains("search_path="),
        "{claim}"
    );
    // Claims on one session, past PL/pgSQL's first five (custom) plans, still claim, with
    // the pool's limits checked (check_claim runs for each id).
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--max-owned",
            "100",
            "--daily-claims",
            "100",
            "--reclaim-cooldown-days",
            "7",
        ],
    );
    let ids: Vec<String> = (0..8)
        .map(|i| {
            s.sql(
                "admin",
                &format!("INSERT INTO customers (name, city, pool_id) VALUES ('客{i}', '杭州', 1) RETURNING id"),
            )
        })
        .collect();
    let calls: String = ids
        .iter()
        .map(|id| format!("SELECT claimed FROM pool_private.claim(ARRAY[{id}::bigint]);"))
        .collect();
    let out = s.sql("li", &calls);
    assert_eq!(out.lines().filter(|l| *l == "t").count(), 8, "{out}");
    for id in &ids {
        assert_eq!(s.owner_of_customer_pcc(id), s.role("li"));
    }
}

impl Server {
    /// The login of customer `id`'s owner ("" when pooled), read as the superuser.
    fn owner_of_customer_pcc(&self, id: &str) -> String {
        self.su(&format!(
            "SELECT coalesce((SELECT u.login FROM customers c JOIN users u ON u.id = c.owner_id WHERE c.id = {id}), '')"
        ))
    }
}
