//! Server mode: the report counts the server keeps (migration 15) equal a recount after
//! mixed operations and after racing processes, for the admin and for members (each
//! seeing only their scope), and no member reads them directly. Runs only with
//! POOL_TEST_PG (`eval "$(.ci/pg-cluster start)"`); otherwise each test says it is skipped.
use std::fmt::Write as _;
use std::process::{Child, Stdio};

use crate::common::pg::Server;

/// Admin in east, members li (east) and wang (west), a viewer in east, and a pool only
/// west sees.
fn server(name: &str) -> Option<Server> {
    let s = Server::new("prc", name)?;
    s.init("east");
    s.ok("admin", &["team", "add", "west"]);
    for (who, team, role) in [
        ("li", "east", "member"),
        ("wang", "west", "member"),
        ("viewer", "east", "viewer"),
    ] {
        s.add_user(who, team, role);
    }
    s.sql(
        "owner",
        "INSERT INTO pools (name, created_at) VALUES ('westonly', 0);
         INSERT INTO pool_rules (pool_id) SELECT id FROM pools WHERE name = 'westonly';
         INSERT INTO pool_teams (pool_id, team_id)
             SELECT p.id, t.id FROM pools p, teams t WHERE p.name = 'westonly' AND t.name = 'west';
         UPDATE pool_rules SET max_locked = 5",
    );
    Some(s)
}

/// The kept groups, summed each way a report sums them, against the same counts made
/// the old way (under the reader's row level security, and migration 12's quality
/// functions): the differing lines, empty when equal.
const DIFF: &str = "
WITH g AS (SELECT * FROM pool_private.report_groups()),
mine AS (
    SELECT 'pooled:' || pool_id AS k, sum(n)::bigint AS n FROM g WHERE owner_id IS NULL GROUP BY pool_id
    UNION ALL SELECT 'owned:' || owner_id, sum(n) FROM g WHERE owner_id IS NOT NULL GROUP BY owner_id
    UNION ALL SELECT 'locked:' || owner_id, sum(n) FROM g WHERE locked GROUP BY owner_id
    UNION ALL SELECT 'stage:' || stage, sum(n) FROM g GROUP BY stage
    UNION ALL SELECT 'mask:' || quality_mask, sum(n) FROM g GROUP BY quality_mask
    UNION ALL SELECT 'won', coalesce(sum(n), 0) FROM g WHERE won
    UNION ALL SELECT 'dup', coalesce(sum(n), 0) FROM g WHERE dup
    UNION ALL SELECT 'total', coalesce(sum(n), 0) FROM g),
theirs AS (
    SELECT 'pooled:' || pool_id AS k, count(*) AS n FROM customers
     WHERE owner_id IS NULL AND deleted_at IS NULL GROUP BY pool_id
    UNION ALL SELECT 'owned:' || owner_id, count(*) FROM customers
     WHERE owner_id IS NOT NULL AND deleted_at IS NULL GROUP BY owner_id
    UNION ALL SELECT 'locked:' || owner_id, count(*) FROM customers
     WHERE locked AND deleted_at IS NULL GROUP BY owner_id
    UNION ALL SELECT 'stage:' || stage, count(*) FROM customers WHERE deleted_at IS NULL GROUP BY stage
    UNION ALL SELECT 'mask:' || mask, n FROM pool_private.quality_masks()
    UNION ALL SELECT 'won', count(*) FROM customers WHERE deleted_at IS NULL AND won_at IS NOT NULL
    UNION ALL SELECT 'dup', pool_private.quality_duplicated()
    UNION ALL SELECT 'total', count(*) FROM customers WHERE deleted_at IS NULL)
SELECT string_agg(side || ' ' || k || '=' || n, ', ' ORDER BY k, side) FROM (
    (SELECT 'kept' AS side, * FROM mine EXCEPT SELECT 'kept', * FROM theirs)
    UNION ALL
    (SELECT 'recount', * FROM theirs EXCEPT SELECT 'recount', * FROM mine)) d";

impl Server {
    fn n(&self, who: &str, sql: &str) -> i64 {
        self.sql(who, sql).parse().expect("a number")
    }

    /// Every reader's kept counts equal the recount, and the owner's drift check finds
    /// no group off.
    fn counts_exact(&self, when: &str) {
        for who in ["admin", "li", "wang", "viewer", "owner"] {
            assert_eq!(self.sql(who, DIFF), "", "{when}: as {who}");
        }
        assert_eq!(
            self.sql("owner", "SELECT pool_private.customer_counts_drift()"),
            "0",
            "{when}"
        );
    }

    /// `n` pooled customers in `pool`, as the admin; every third shares its phone key
    /// with an earlier customer (a duplicate), every fifth has no e-mail.
    fn add_pooled(&self, n: usize, pool: &str) -> Vec<i64> {
        self.sql(
            "admin",
            &format!(
                "INSERT INTO customers (name, phone, email, phone_key, email_key, city, pool_id)
                 SELECT '客户' || g, '1380013' || lpad((g % 40)::text, 4, '0'),
                        CASE WHEN g % 5 <> 0 THEN 'c' || g || '@qq.com' END,
                        CASE WHEN g % 3 = 0 THEN '861380013' || lpad((g % 40)::text, 4, '0')
                             ELSE '86139' || lpad(g::text, 8, '0') END,
                        CASE WHEN g % 5 <> 0 THEN 'c' || g || '@qq.com' END,
                        CASE WHEN g % 2 = 0 THEN '杭州' END,
                        (SELECT id FROM pools WHERE name = '{pool}')
                   FROM generate_series((SELECT coalesce(max(id), 0) + 1 FROM customers),
                                        (SELECT coalesce(max(id), 0) + {n} FROM customers)) g
                 RETURNING id"
            ),
        )
        .lines()
        .map(|l| l.parse().expect("id"))
        .collect()
    }
}

fn ids(v: &[i64]) -> Vec<String> {
    v.iter().map(|i| i.to_string()).collect()
}

#[test]
fn pg_report_counts_equal_a_recount_after_mixed_operations_for_every_reader() {
    let Some(s) = server("mixed") else { return };
    s.counts_exact("empty");
    let public = s.add_pooled(60, "public");
    let west = s.add_pooled(20, "westonly");
    s.counts_exact("after adds");

    // A bulk import (COPY and one move) whose phones collide with existing customers.
    let mut csv = String::from("姓名,公司,手机,邮箱,城市\n");
    for i in 0..3000 {
        let phone = if i % 100 == 0 {
            format!("1380013{:04}", i % 40)
        } else {
            format!("137{i:08}")
        };
        writeln!(csv, "导入{i},公司{i},{phone},i{i}@example.com,深圳").unwrap();
    }
    let file = s.dir.path().join("leads.csv");
    std::fs::write(&file, csv).unwrap();
    s.ok("li", &["import", file.to_str().unwrap(), "--force"]);
    s.counts_exact("after the import");

    // Claims, one by one and many at once, by members of both teams.
    let mut args = vec!["claim"];
    let li_ids = ids(&public[..12]);
    args.extend(li_ids.iter().map(String::as_str));
    s.ok("li", &args);
    s.ok("wang", &["claim", &public[12].to_string()]);
    let wang_west = ids(&west[..5]);
    let mut args = vec!["claim"];
    args.extend(wang_west.iter().map(String::as_str));
    s.ok("wang", &args);
    s.counts_exact("after claims");

    // A release, a lock, a deal (won), an edited phone that makes and breaks
    // duplicates, a deleted customer, a stage change, an assignment.
    s.ok(
        "li",
        &["release", &public[0].to_string(), "--reason", "test"],
    );
    s.ok("li", &["lock", &public[1].to_string()]);
    s.ok(
        "li",
        &["deal", "add", &public[2].to_string(), "--amount", "100"],
    );
    s.sql(
        "admin",
        &format!(
            "UPDATE customers SET phone_key = (SELECT phone_key FROM customers WHERE id = {}) WHERE id = {};
             UPDATE customers SET phone_key = NULL, phone = NULL WHERE id = {};
             UPDATE customers SET email_key = NULL, email = NULL, city = '上海' WHERE id % 7 = 0;
             UPDATE customers SET deleted_at = 1 WHERE id = {};
             UPDATE customers SET stage = 'churned' WHERE id = {}",
            public[4], public[5], public[3], public[6], public[7]
        ),
    );
    s.ok(
        "admin",
        &["assign", &public[20].to_string(), "--to", &s.role("wang")],
    );
    s.counts_exact("after mixed changes");

    // What the reports print is the recount (as a member and as the admin).
    for who in ["li", "wang", "admin"] {
        let sum = s.json(who, &["report", "summary"]);
        let owned = s.n(
            who,
            "SELECT count(*) FROM customers WHERE owner_id IS NOT NULL AND deleted_at IS NULL",
        );
        let pooled = s.n(
            who,
            "SELECT count(*) FROM customers WHERE owner_id IS NULL AND deleted_at IS NULL",
        );
        assert_eq!(sum["owned"], owned, "{who}: {sum}");
        assert_eq!(sum["pooled"], pooled, "{who}: {sum}");
        let funnel = s.json(who, &["report", "funnel"]);
        let won = s.n(
            who,
            "SELECT count(*) FROM customers WHERE won_at IS NOT NULL AND deleted_at IS NULL",
        );
        assert_eq!(funnel["won"], won, "{who}: {funnel}");
        assert_eq!(funnel["total"], owned + pooled, "{who}: {funnel}");
        let q = s.json(who, &["report", "quality"]);
        assert_eq!(q["customers"], owned + pooled, "{who}: {q}");
    }
    // Members see different scopes: wang sees the west pool, li does not.
    let pooled_of = |who: &str| s.json(who, &["report", "summary"])["pooled"].clone();
    assert_ne!(pooled_of("li"), pooled_of("wang"));
    let owners = s.json("admin", &["report", "owners"]);
    let wang = owners["stats"]
        .as_array()
        .or_else(|| owners.as_array())
        .expect("owners rows")
        .iter()
        .find(|r| r["user"] == s.role("wang"))
        .cloned()
        .unwrap_or_else(|| panic!("wang in {owners}"));
    assert_eq!(wang["owned"], 7, "{owners}");
}

#[test]
fn pg_report_counts_are_owner_only_and_members_get_their_scope() {
    let Some(s) = server("scope") else { return };
    s.add_pooled(10, "public");
    s.add_pooled(4, "westonly");
    for who in ["li", "wang", "viewer", "admin"] {
        s.refused(who, "SELECT * FROM pool_private.customer_counts", "42501");
        s.refused(
            who,
            "UPDATE pool_private.customer_counts SET n = n + 1",
            "42501",
        );
        s.refused(
            who,
            "SELECT * FROM pool_private.customer_counts_recount()",
            "42501",
        );
    }
    s.refused("li", "SELECT pool_private.customer_counts_drift()", "42501");
    // The groups a member gets are those of the customers they may read.
    assert_eq!(
        s.sql("li", "SELECT sum(n) FROM pool_private.report_groups()"),
        "10"
    );
    assert_eq!(
        s.sql("wang", "SELECT sum(n) FROM pool_private.report_groups()"),
        "14"
    );
    // SET ROLE to the group gets nothing more (no users row: not a pool user).
    let out = s.psql(
        "li",
        "SET ROLE pool_member; SELECT sum(n) FROM pool_private.report_groups()",
    );
    let got = String::from_utf8_lossy(&out.stdout);
    assert!(got.trim() == "10" || !out.status.success(), "{got}");
    // A login role that is not a pool user gets an error, not counts.
    let stranger = s.role("stranger");
    s.superuser(&format!(
        "CREATE ROLE {stranger} LOGIN; GRANT CONNECT ON DATABASE {} TO {stranger}; GRANT pool_member TO {stranger}",
        s.db
    ));
    let out = s.psql_login(&stranger, "SELECT sum(n) FROM pool_private.report_groups()");
    assert!(!out.status.success(), "{:?}", out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("PT001"));
    s.superuser(&format!(
        "REVOKE CONNECT ON DATABASE {} FROM {stranger}; DROP ROLE {stranger}",
        s.db
    ));
}

/// psql as `who`, each statement its own transaction, not stopping at refusals.
fn spawn_psql(s: &Server, who: &str, statements: &[String]) -> Child {
    let mut c = s.psql_cmd(&s.role(who));
    c.args(["-v", "ON_ERROR_STOP=0"]);
    for st in statements {
        c.arg("-c").arg(st);
    }
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn psql")
}

#[test]
fn pg_report_counts_stay_exact_under_racing_processes() {
    let Some(s) = server("race") else { return };
    let public = s.add_pooled(80, "public");
    let west = s.add_pooled(20, "westonly");
    let claim = |id: i64| {
        format!("UPDATE customers SET owner_id = (SELECT pool_private.my_id()) WHERE id = {id} AND owner_id IS NULL AND deleted_at IS NULL")
    };
    let release = |id: i64| format!("UPDATE customers SET owner_id = NULL WHERE id = {id}");
    let mut children = Vec::new();
    // Members claiming the same customers in different orders, releasing some.
    for p in 0..6 {
        let who = if p % 2 == 0 { "li" } else { "wang" };
        let mut order: Vec<i64> = public.clone();
        if p % 2 == 1 {
            order.extend(&west);
        }
        order.rotate_left(p * 7);
        let mut st = Vec::new();
        for (k, id) in order.iter().enumerate() {
            st.push(claim(*id));
            if k % 3 == 0 {
                st.push(release(*id));
            }
        }
        children.push(spawn_psql(&s, who, &st));
    }
    // Many-id claims through the claim function, at the same time.
    let many: Vec<String> = public.iter().map(|i| i.to_string()).collect();
    children.push(spawn_psql(
        &s,
        "li",
        &[format!(
            "SELECT count(*) FROM pool_private.claim(ARRAY[{}]::bigint[])",
            many.join(",")
        )],
    ));
    // The admin adds copies of racing customers' keys and edits keys meanwhile.
    let mut st = Vec::new();
    for k in 0..20 {
        st.push(format!(
            "INSERT INTO customers (name, phone_key, email_key, pool_id) VALUES ('copy{k}', '861380013' || lpad('{}', 4, '0'), 'c{}@qq.com', 1)",
            k % 40,
            k * 5 + 1
        ));
        st.push(format!(
            "UPDATE customers SET phone_key = NULL WHERE id = {}",
            public[k * 3]
        ));
    }
    children.push(spawn_psql(&s, "admin", &st));
    // And a bulk import.
    let mut csv = String::from("姓名,手机\n");
    for i in 0..2000 {
        writeln!(csv, "race{i},1380013{:04}", i % 60).unwrap();
    }
    let file = s.dir.path().join("race.csv");
    std::fs::write(&file, csv).unwrap();
    let import = s
        .cmd("wang")
        .args(["import", file.to_str().unwrap(), "--force"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pool import");
    for c in children {
        c.wait_with_output().expect("psql");
    }
    import.wait_with_output().expect("pool import");
    assert!(
        s.n(
            "admin",
            "SELECT count(*) FROM customers WHERE owner_id IS NOT NULL"
        ) > 0,
        "some claims passed"
    );
    s.counts_exact("after the race");
}

/// The rows of `pool doctor --format json` as the admin, by check name: (status, detail).
fn doctor(s: &Server) -> (Option<i32>, Vec<(String, String, String)>) {
    let out = s.run("admin", &["doctor", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor JSON");
    (
        out.status.code(),
        rows.as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["check"].as_str().unwrap_or("").to_string(),
                    r["status"].as_str().unwrap_or("").to_string(),
                    r["detail"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect(),
    )
}

#[test]
fn pg_doctor_finds_report_counts_changed_behind_the_triggers_and_the_recount_mends_them() {
    let Some(s) = server("doctor") else { return };
    let ids = s.add_pooled(12, "public");
    let (code, rows) = doctor(&s);
    assert_eq!(code, Some(0), "{rows:?}");
    assert!(
        rows.iter()
            .any(|(c, st, _)| c == "report counts" && st == "ok"),
        "{rows:?}"
    );
    // A superuser's load with triggers off (as a restore would) leaves the counts behind.
    s.su(&format!(
        "SET session_replication_role = replica; UPDATE customers SET stage = 'churned' WHERE id IN ({}, {})",
        ids[0], ids[1]
    ));
    let (code, rows) = doctor(&s);
    assert_eq!(code, Some(8), "{rows:?}");
    assert!(
        rows.iter().any(|(c, st, d)| c == "report counts"
            && st == "FAIL"
            && d.contains("differ from a recount")),
        "{rows:?}"
    );
    // A dropped counts trigger is named.
    s.su("ALTER TABLE customers DISABLE TRIGGER zz_counts_upd");
    let (_, rows) = doctor(&s);
    assert!(
        rows.iter().any(
            |(c, _, d)| c == "triggers" && d.contains("zz_counts_upd on customers is disabled")
        ),
        "{rows:?}"
    );
    s.su("ALTER TABLE customers ENABLE TRIGGER zz_counts_upd");
    // The hint's recount, as the owner, mends them.
    s.sql(
        "owner",
        "DELETE FROM pool_private.customer_counts;
         INSERT INTO pool_private.customer_counts SELECT * FROM pool_private.customer_counts_recount()",
    );
    let (code, rows) = doctor(&s);
    assert_eq!(code, Some(0), "{rows:?}");
    s.counts_exact("after the recount");
}

/// Migration 17: a claim writes its own count delta (zz_counts_upd steps aside for it):
/// a locked pooled customer leaves the locked group, an edit after the claim in the same
/// transaction is counted again, and the setting alone makes no update uncounted.
#[test]
fn pg_a_claim_counts_itself_and_only_a_claim_in_progress_skips_the_trigger() {
    let Some(s) = server("claimself") else { return };
    let public = s.add_pooled(10, "public");
    s.sql(
        "owner",
        &format!(
            "UPDATE customers SET locked = true WHERE id = {}",
            public[0]
        ),
    );
    s.counts_exact("a locked pooled customer");
    let toggle_city = |id: i64| {
        format!(
            "UPDATE customers SET city = CASE WHEN (SELECT v.city FROM customers_v v WHERE v.id = {id}) IS NULL
                                              THEN '上海' END WHERE id = {id}"
        )
    };
    s.sql(
        "li",
        &format!(
            "BEGIN; SELECT count(*) FROM pool_private.claim(ARRAY[{}, {}, {}]::bigint[]); {}; COMMIT",
            public[0],
            public[1],
            public[3],
            toggle_city(public[1])
        ),
    );
    assert_eq!(
        s.n(
            "admin",
            &format!(
                "SELECT count(*) FROM customers WHERE owner_id IS NOT NULL AND id IN ({}, {}, {})",
                public[0], public[1], public[3]
            )
        ),
        3
    );
    s.counts_exact("a claim, then an edit in its transaction");
    s.sql(
        "li",
        &format!("SET pool.server_op = 'on'; {}", toggle_city(public[3])),
    );
    s.counts_exact("an edit under the claim's setting alone");
    s.ok("wang", &["claim", &public[5].to_string()]);
    s.counts_exact("a claim by another team's member");
}
