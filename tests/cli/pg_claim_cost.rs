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
