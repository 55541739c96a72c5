//! Server mode: the work counts of the owners, teams and activity reports (migration 18,
//! counted as the definer) equal the same counts made row by row under the reader's
//! history policies, for a member, a viewer, a manager and the admin, after ownership
//! moves, deletions and voids. Runs only with POOL_TEST_PG.
use crate::common::pg::Server;

fn server(name: &str) -> Option<Server> {
    let s = Server::new("prw", name)?;
    s.init("east");
    s.ok("admin", &["team", "add", "west"]);
    for (who, team, role) in [
        ("li", "east", "member"),
        ("wang", "west", "member"),
        ("viewer", "east", "viewer"),
        ("boss", "east", "manager"),
    ] {
        s.add_user(who, team, role);
    }
    Some(s)
}

/// `report_work` against the row-by-row counts under the caller's policies: the
/// differing lines, empty when equal. `users`: SQL for the people compared (a manager
/// reads the rows of their team's people and of the customers they may work on, so the
/// counts per person of their team are the policy's; the other people's are aggregates
/// the teams report shows on both backends, compared with the admin's).
fn work_diff(since: &str, today: &str, users: &str) -> String {
    format!(
        "WITH f AS (SELECT user_id, kind, coalesce(currency, '') AS cur, n, coalesce(amount, '') AS amount
                      FROM pool_private.report_work({since}, '{today}') WHERE {users}),
              r0 AS (SELECT user_id, 'contacts' AS kind, '' AS cur, count(*) AS n, '' AS amount
                      FROM interactions WHERE at >= {since} GROUP BY user_id
                    UNION ALL
                    SELECT assignee_id, 'overdue', '', count(*), '' FROM followups
                     WHERE status = 'open' AND due < '{today}' GROUP BY assignee_id
                    UNION ALL
                    SELECT user_id, 'deals', currency, count(*), sum(amount_minor)::text FROM deals
                     WHERE voided_at IS NULL AND user_id IS NOT NULL GROUP BY user_id, currency),
              r AS (SELECT * FROM r0 WHERE {users})
         SELECT coalesce(string_agg(side || ' ' || user_id || ' ' || kind || ' ' || cur || ' ' || n || ' ' || amount,
                                    ', ' ORDER BY user_id, kind, cur, side), '') FROM (
             (SELECT 'fn' AS side, * FROM f EXCEPT ALL SELECT 'fn', * FROM r)
             UNION ALL
             (SELECT 'rows', * FROM r EXCEPT ALL SELECT 'rows', * FROM f)) d"
    )
}

/// `report_work_days` against the row-by-row per-day counts (team: SQL or NULL).
fn days_diff(from: &str, to: &str, team: &str, offset: i64) -> String {
    let in_team = |col: &str| {
        format!(
            "({team}::bigint IS NULL OR {col} IN (SELECT id FROM users WHERE team_id = {team}))"
        )
    };
    format!(
        "WITH f AS (SELECT day, interactions, deals FROM pool_private.report_work_days({from}, {to}, {team}, {offset})
                     WHERE interactions + deals > 0),
              r AS (SELECT day, sum(i)::bigint AS interactions, sum(d)::bigint AS deals FROM (
                      SELECT (at + {offset}) / 86400 AS day, 1 AS i, 0 AS d FROM interactions
                       WHERE at >= {from} AND at < {to} AND {ti}
                      UNION ALL
                      SELECT (created_at + {offset}) / 86400, 0, 1 FROM deals
                       WHERE created_at >= {from} AND created_at < {to} AND voided_at IS NULL AND {td}) x
                    GROUP BY day)
         SELECT coalesce(string_agg(side || ' ' || day || ' ' || interactions || ' ' || deals, ', '
                                    ORDER BY day, side), '') FROM (
             (SELECT 'fn' AS side, * FROM f EXCEPT ALL SELECT 'fn', * FROM r)
             UNION ALL
             (SELECT 'rows', * FROM r EXCEPT ALL SELECT 'rows', * FROM f)) d",
        ti = in_team("user_id"),
        td = in_team("user_id"),
    )
}

impl Server {
    fn work_exact(&self, when: &str) {
        let since = "extract(epoch FROM now())::bigint - 30 * 86400";
        let today = self.sql("owner", "SELECT to_char(now(), 'YYYY-MM-DD')");
        let from = "extract(epoch FROM now())::bigint - 60 * 86400";
        let to = "extract(epoch FROM now())::bigint + 86400";
        let east = "(SELECT id FROM teams WHERE name = 'east')";
        let all_work = |who: &str| {
            self.sql(
                who,
                &format!(
                    "SELECT string_agg(concat_ws(' ', user_id, kind, currency, n, amount), ', ' ORDER BY user_id, kind, currency)
                       FROM pool_private.report_work({since}, '{today}')"
                ),
            )
        };
        for who in ["li", "wang", "viewer", "boss", "admin", "owner"] {
            let manager = who == "boss";
            let users = if manager {
                format!("user_id IN (SELECT id FROM users WHERE team_id = {east})")
            } else {
                "true".to_string()
            };
            assert_eq!(
                self.sql(who, &work_diff(since, &today, &users)),
                "",
                "{when}: work as {who}"
            );
            if manager {
                assert_eq!(all_work(who), all_work("admin"), "{when}: work as {who}");
            }
            if manager {
                // A manager's days are their team's, whatever team they ask for.
                let days = |team: &str| {
                    self.sql(
                        who,
                        &format!(
                            "SELECT string_agg(concat_ws(' ', day, interactions, deals), ', ' ORDER BY day)
                               FROM pool_private.report_work_days({from}, {to}, {team}, 0)"
                        ),
                    )
                };
                let west = "(SELECT id FROM teams WHERE name = 'west')";
                assert_eq!(days("NULL"), days(east), "{when}: days as {who}");
                assert_eq!(days(west), days(east), "{when}: days as {who}");
            }
            for (team, offset) in [("NULL", 28_800), (east, 0), ("NULL", -34_200)] {
                // (A manager's activity report is their team's.)
                if manager && team == "NULL" {
                    continue;
                }
                assert_eq!(
                    self.sql(who, &days_diff(from, to, team, offset)),
                    "",
                    "{when}: days as {who}, team {team}, offset {offset}"
                );
            }
        }
    }
}

#[test]
fn pg_report_work_equals_the_policy_counts_for_every_role() {
    let Some(s) = server("mixed") else { return };
    s.work_exact("empty");
    let ids: Vec<String> = s
        .sql(
            "admin",
            "INSERT INTO customers (name, phone, phone_key, pool_id)
             SELECT '客户' || g, '138' || lpad(g::text, 8, '0'), '86138' || lpad(g::text, 8, '0'), 1
               FROM generate_series(1, 12) g RETURNING id",
        )
        .lines()
        .map(str::to_string)
        .collect();
    s.ok(
        "li",
        &["claim", &ids[0], &ids[1], &ids[2], &ids[3], &ids[4]],
    );
    s.ok("wang", &["claim", &ids[5], &ids[6], &ids[7]]);
    let (li, wang, admin, boss) = (
        s.id("li").to_string(),
        s.id("wang").to_string(),
        s.id("admin").to_string(),
        s.id("boss").to_string(),
    );
    // History by everyone on every customer, at 40, 10, 1 and 0 days ago; follow-ups
    // overdue, due today and ahead, open and done; deals in two currencies, one voided,
    // one with no user.
    s.sql(
        "owner",
        &format!(
            "INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at)
             SELECT c, u, 'call', 'x', extract(epoch FROM now())::bigint - d * 86400 - 60, 0
               FROM unnest(ARRAY[{ids}]) c, unnest(ARRAY[{li}, {wang}, {admin}, {boss}]) u,
                    unnest(ARRAY[40, 10, 1, 0]) d
              WHERE (c + u + d) % 3 <> 0;
             INSERT INTO followups (customer_id, assignee_id, created_by, due, action, status, created_at)
             SELECT c, u, u, to_char(now() + d * interval '1 day', 'YYYY-MM-DD'), 'call',
                    CASE WHEN (c + d) % 4 = 0 THEN 'done' ELSE 'open' END, 0
               FROM unnest(ARRAY[{ids}]) c, unnest(ARRAY[{li}, {wang}, {boss}]) u, unnest(ARRAY[-5, -1, 0, 3]) d;
             INSERT INTO deals (customer_id, user_id, amount_minor, currency, on_date, created_at, voided_at)
             SELECT c, CASE WHEN k = 3 THEN NULL ELSE (ARRAY[{li}, {wang}, {admin}])[k] END, 100 * c + k,
                    CASE WHEN c % 2 = 0 THEN 'CNY' ELSE 'USD' END, '2026-01-01',
                    extract(epoch FROM now())::bigint - (c % 50) * 86400,
                    CASE WHEN (c + k) % 5 = 0 THEN 1 END
               FROM unnest(ARRAY[{ids}]) c, generate_series(1, 3) k",
            ids = ids.join(", ")
        ),
    );
    s.work_exact("after history");
    // The counts are not vacuous: a member reads part of the history, the manager more
    // (not west's own rows on west's customers, migration 30), the admin all.
    let seen = |who: &str| -> i64 {
        s.sql(who, "SELECT count(*) FROM interactions")
            .parse()
            .expect("count")
    };
    assert_ne!(seen("li"), 0);
    assert!(seen("li") < seen("boss"));
    assert!(seen("boss") < seen("admin"));

    // Ownership moves (the history of a customer follows its owner), a deletion that
    // keeps the owner, a void.
    s.ok(
        "li",
        &["release", &ids[0], "--reason", "test", "--cancel-followups"],
    );
    s.ok("wang", &["claim", &ids[0]]);
    s.ok("admin", &["assign", &ids[1], "--to", &s.role("wang")]);
    s.sql(
        "admin",
        &format!("UPDATE customers SET deleted_at = 1 WHERE id = {}", ids[2]),
    );
    s.sql(
        "owner",
        &format!(
            "UPDATE deals SET voided_at = 2 WHERE customer_id = {} AND voided_at IS NULL",
            ids[3]
        ),
    );
    s.work_exact("after moves");

    // What `report owners` prints for a member is the count under their policies.
    let owners = s.json("li", &["report", "owners"]);
    let rows = owners["stats"]
        .as_array()
        .or_else(|| owners.as_array())
        .cloned()
        .unwrap_or_else(|| panic!("owners rows in {owners}"));
    let row = |who: &str| {
        rows.iter()
            .find(|r| r["user"] == s.role(who))
            .cloned()
            .unwrap_or_else(|| panic!("{who} in {owners}"))
    };
    let since = "extract(epoch FROM now())::bigint - 30 * 86400";
    for who in ["li", "boss"] {
        let n: i64 = s
            .sql(
                "li",
                &format!(
                    "SELECT count(*) FROM interactions WHERE at >= {since} AND user_id = {}",
                    s.id(who)
                ),
            )
            .parse()
            .unwrap();
        assert_eq!(row(who)["contacts_30d"], n, "{who}: {owners}");
    }
    let deals: i64 = s
        .sql(
            "li",
            &format!("SELECT count(*) FROM deals WHERE voided_at IS NULL AND user_id = {wang}"),
        )
        .parse()
        .unwrap();
    assert!(deals > 0);
    assert_eq!(row("wang")["deals"], deals, "{owners}");
}

#[test]
fn pg_report_work_is_for_pool_users_only() {
    let Some(s) = server("scope") else { return };
    for who in ["li", "viewer", "boss", "admin"] {
        s.refused(who, "SELECT * FROM pool_private.history_reader()", "42501");
    }
    let stranger = s.role("stranger");
    s.superuser(&format!(
        "CREATE ROLE {stranger} LOGIN; GRANT CONNECT ON DATABASE {} TO {stranger}; GRANT pool_member TO {stranger}",
        s.db
    ));
    for sql in [
        "SELECT * FROM pool_private.report_work(0, '2026-01-01')",
        "SELECT * FROM pool_private.report_work_days(0, 1, NULL, 0)",
    ] {
        let out = s.psql_login(&stranger, sql);
        assert!(!out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("PT001"),
            "{out:?}"
        );
    }
    s.superuser(&format!(
        "REVOKE CONNECT ON DATABASE {} FROM {stranger}; DROP ROLE {stranger}",
        s.db
    ));
}
