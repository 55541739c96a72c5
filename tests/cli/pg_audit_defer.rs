//! Server mode: the audit rows that wait for the commit (owner changes and the follow-ups
//! that move with them, migrations 14 and 16) land in statement order, fold only what
//! belongs to them, lock the audit head when queued, and the client's notes and labels
//! cannot forge them. Attacks run as real `psql` processes of the users' login roles.
use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::pg::Server;

/// A fresh database with the migrations loaded by its owner, an admin, a manager and
/// two members in team east, a member in team west; None (skipped) without a cluster.
fn server(name: &str) -> Option<Server> {
    Server::migrated(
        "pd",
        name,
        &[
            ("admin", "hq", "admin"),
            ("boss", "east", "manager"),
            ("m1", "east", "member"),
            ("m3", "east", "member"),
            ("m2", "west", "member"),
        ],
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Server {
    /// A pooled customer added by the admin; its id.
    fn pooled_one(&self, name: &str) -> i64 {
        self.sql(
            "admin",
            &format!("INSERT INTO customers (name, pool_id) VALUES ('{name}', 1) RETURNING id"),
        )
        .parse()
        .expect("id")
    }

    /// A customer claimed by `who` with `n` open follow-ups of theirs; (customer, ids).
    fn owned_with_followups(&self, who: &str, n: usize) -> (i64, Vec<i64>) {
        let c = self.pooled_one("客户");
        self.sql(
            who,
            &format!("UPDATE customers SET owner_id = pool_private.my_id() WHERE id = {c}"),
        );
        let ids = (0..n)
            .map(|k| {
                self.sql(
                    who,
                    &format!(
                        "INSERT INTO followups (customer_id, due, action, assignee_id, created_at, created_by)
                         VALUES ({c}, '2030-01-0{}', '回访{k}', pool_private.my_id(), 0, pool_private.my_id())
                         RETURNING id",
                        k + 1
                    ),
                )
                .parse()
                .expect("followup id")
            })
            .collect();
        (c, ids)
    }

    /// The audit rows after `seq` as "action entity_id after", oldest first.
    fn rows_after(&self, seq: i64) -> Vec<String> {
        self.sql(
            "",
            &format!(
                "SELECT action || ' ' || coalesce(entity_id::text, '-') || ' ' || coalesce(after, '-')
                   FROM audit_log WHERE seq > {seq} ORDER BY seq"
            ),
        )
        .lines()
        .map(String::from)
        .collect()
    }

    fn head(&self) -> i64 {
        self.sql("", "SELECT max(seq) FROM audit_log")
            .parse()
            .expect("seq")
    }

    /// The chain checks out with the app's own verifier.
    fn verified(&self) {
        let v = self.json("admin", &["audit", "verify"]);
        assert_eq!(v["ok"], true, "{v}");
    }
}

#[test]
fn pg_audit_defer_a_release_then_a_claim_in_one_transaction_keeps_that_order() {
    let Some(s) = server("order") else { return };
    let (c, _) = s.owned_with_followups("m1", 0);
    let other = s.pooled_one("别的");
    let start = s.head();
    // The manager releases m1's customer and takes it in one transaction.
    s.sql(
        "boss",
        &format!(
            "UPDATE customers SET owner_id = NULL WHERE id = {c};
             UPDATE customers SET owner_id = pool_private.my_id() WHERE id = {c} AND owner_id IS NULL"
        ),
    );
    let rows = s.rows_after(start);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[0].starts_with(&format!("release {c} ")), "{rows:?}");
    assert!(rows[1].starts_with(&format!("claim {c} ")), "{rows:?}");
    // The same through the claim function, which writes its rows itself.
    let start = s.head();
    s.sql(
        "boss",
        &format!(
            "UPDATE customers SET owner_id = NULL WHERE id = {c};
             SELECT count(*) FROM pool_private.claim(ARRAY[{c}, {other}]::bigint[])"
        ),
    );
    let rows = s.rows_after(start);
    let actions: Vec<&str> = rows
        .iter()
        .map(|r| r.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["release", "claim", "claim"], "{rows:?}");
    // The head is unmarked after the commit and nothing waits.
    assert_eq!(
        s.sql("", "SELECT seq FROM audit_head"),
        s.head().to_string()
    );
    assert_eq!(
        s.sql(
            "",
            "SELECT (SELECT count(*) FROM pool_private.audit_defer) + (SELECT count(*) FROM pool_private.work_moves)"
        ),
        "0"
    );
    s.verified();
}

#[test]
fn pg_audit_defer_folds_only_what_moved_with_each_owner_change() {
    let Some(s) = server("fold") else { return };
    let (c, f) = s.owned_with_followups("m1", 4);
    let (m1, m3) = (s.id("m1"), s.id("m3"));
    let boss = s.id("boss");
    let start = s.head();
    // Two hand-overs of one customer in one transaction; between them one follow-up to
    // the new owner, one to someone else, one cancelled; after the second, the first
    // again (named once in each row).
    s.sql(
        "boss",
        &format!(
            "UPDATE customers SET owner_id = {m3} WHERE id = {c};
             UPDATE followups SET assignee_id = {m3} WHERE id = {f0};
             UPDATE followups SET assignee_id = {boss} WHERE id = {f1};
             UPDATE followups SET status = 'cancelled' WHERE id = {f2};
             UPDATE customers SET owner_id = {m1} WHERE id = {c};
             UPDATE followups SET assignee_id = {m1} WHERE id = {f0}",
            f0 = f[0],
            f1 = f[1],
            f2 = f[2],
        ),
    );
    let rows = s.rows_after(start);
    let (l1, l3) = (s.role("m1"), s.role("m3"));
    assert_eq!(
        rows,
        [
            format!("assign {c} {{\"owner\":\"{l3}\",\"followups_moved\":[{}]}}", f[0]),
            format!(
                "followup_move {} {{\"customer\":{c},\"due\":\"2030-01-02\",\"assignee\":\"{}\",\"status\":\"open\"}}",
                f[1],
                s.role("boss")
            ),
            format!(
                "followup_cancel {} {{\"customer\":{c},\"due\":\"2030-01-03\",\"assignee\":\"{l1}\",\"status\":\"cancelled\"}}",
                f[2]
            ),
            format!(
                "assign {c} {{\"owner\":\"{l1}\",\"followups_moved\":[{}]}}",
                f[0]
            ),
        ]
    );
    // The follow-up moved to someone else keeps its assignee before.
    assert_eq!(
        s.sql(
            "",
            &format!(
                "SELECT before FROM audit_log WHERE action = 'followup_move' AND entity_id = {}",
                f[1]
            )
        ),
        format!("{{\"assignee\":\"{l1}\",\"status\":\"open\"}}")
    );
    // A release names the follow-ups it cancelled.
    let start = s.head();
    s.sql(
        "boss",
        &format!(
            "SELECT pool_private.intend('release', '没兴趣');
             UPDATE followups SET status = 'cancelled' WHERE customer_id = {c} AND status = 'open';
             UPDATE customers SET owner_id = NULL WHERE id = {c}"
        ),
    );
    assert_eq!(
        s.rows_after(start),
        [format!(
            "release {c} {{\"owner\":null,\"pool\":\"public\",\"reason\":\"没兴趣\",\"followups_cancelled\":3,\"followups_cancelled_ids\":[{},{},{}]}}",
            f[0], f[1], f[3]
        )]
    );
    s.verified();
}

/// psql as `who` reading its statements from a pipe, named `app` in pg_stat_activity.
fn session(s: &Server, who: &str, app: &str) -> Child {
    let mut c = s.psql_cmd(&s.role(who));
    c.env("PGAPPNAME", app)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn psql")
}

fn send(child: &mut Child, sql: &str) {
    let stdin = child.stdin.as_mut().expect("psql stdin");
    stdin.write_all(sql.as_bytes()).expect("write to psql");
    stdin.write_all(b"\n").expect("write to psql");
    stdin.flush().expect("flush psql stdin");
}

/// Waits until session `app` is in `state` (e.g. "idle in transaction", or "Lock" for
/// waiting on a lock); panics after 20 s.
fn wait_for(s: &Server, app: &str, state: &str) {
    let t = Instant::now();
    loop {
        let now = s.su(&format!(
            "SELECT coalesce(wait_event_type, '') || '|' || coalesce(state, '') FROM pg_stat_activity
              WHERE application_name = '{app}' AND datname = '{}'",
            s.db
        ));
        if now.split('|').any(|p| p == state) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{app} never got to {state}: {now}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn finish(child: Child, limit: Duration) -> Option<std::process::Output> {
    let mut child = child;
    let t = Instant::now();
    loop {
        if child.try_wait().expect("psql status").is_some() {
            return Some(child.wait_with_output().expect("psql output"));
        }
        if t.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn pg_audit_defer_a_moved_followup_and_a_members_work_do_not_deadlock_at_commit() {
    let Some(s) = server("deadlock") else { return };
    let (_, f) = s.owned_with_followups("m1", 1);
    let b = s.pooled_one("池中");
    let m3 = s.id("m3");
    // The manager moves m1's follow-up and stays in the transaction.
    let mut boss = session(&s, "boss", "pd_boss");
    send(&mut boss, "BEGIN;");
    send(
        &mut boss,
        &format!(
            "UPDATE followups SET assignee_id = {m3} WHERE id = {};",
            f[0]
        ),
    );
    wait_for(&s, "pd_boss", "idle in transaction");
    // m1 claims (the audit head) and then closes that follow-up (its row).
    let mut m1 = session(&s, "m1", "pd_m1");
    send(&mut m1, "BEGIN;");
    send(
        &mut m1,
        &format!("UPDATE customers SET owner_id = pool_private.my_id() WHERE id = {b} AND owner_id IS NULL;"),
    );
    send(
        &mut m1,
        &format!("UPDATE followups SET status = 'done' WHERE id = {};", f[0]),
    );
    send(&mut m1, "COMMIT;");
    drop(m1.stdin.take());
    wait_for(&s, "pd_m1", "Lock");
    // The manager commits: nothing to wait for, no deadlock; then m1 goes on.
    send(&mut boss, "COMMIT;");
    drop(boss.stdin.take());
    let boss = finish(boss, Duration::from_secs(20)).expect("the manager's commit returns");
    assert!(boss.status.success(), "manager: {}", text(&boss.stderr));
    let m1 = finish(m1, Duration::from_secs(20)).expect("m1 finishes");
    assert!(m1.status.success(), "m1: {}", text(&m1.stderr));
    assert_eq!(
        s.sql(
            "",
            &format!("SELECT owner_id FROM customers WHERE id = {b}")
        ),
        s.id("m1").to_string()
    );
    assert_eq!(
        s.sql(
            "",
            &format!(
                "SELECT count(*) FROM audit_log WHERE action = 'followup_move' AND entity_id = {}",
                f[0]
            )
        ),
        "1"
    );
    s.verified();
}

#[test]
fn pg_audit_defer_statement_timeout_bounds_a_queued_followup_waiting_for_the_head() {
    let Some(s) = server("timeout") else { return };
    let (_, f) = s.owned_with_followups("m1", 1);
    let b = s.pooled_one("池中");
    let m3 = s.id("m3");
    // m3 holds the audit head (a claim, not committed).
    let mut holder = session(&s, "m3", "pd_holder");
    send(&mut holder, "BEGIN;");
    send(
        &mut holder,
        &format!("UPDATE customers SET owner_id = pool_private.my_id() WHERE id = {b} AND owner_id IS NULL;"),
    );
    wait_for(&s, "pd_holder", "idle in transaction");
    // The manager's move under a 1 s statement_timeout gives up instead of waiting at
    // its commit for as long as the head is held.
    let mut boss = session(&s, "boss", "pd_boss");
    send(&mut boss, "SET statement_timeout = '1s';");
    send(&mut boss, "BEGIN;");
    send(
        &mut boss,
        &format!(
            "UPDATE followups SET assignee_id = {m3} WHERE id = {};",
            f[0]
        ),
    );
    send(&mut boss, "COMMIT;");
    drop(boss.stdin.take());
    let out = finish(boss, Duration::from_secs(15));
    send(&mut holder, "ROLLBACK;");
    drop(holder.stdin.take());
    let _ = finish(holder, Duration::from_secs(20));
    let out = out.expect("the manager's transaction ends within its statement_timeout");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("57014"), "{}", text(&out.stderr));
    assert_eq!(
        s.sql(
            "",
            &format!("SELECT assignee_id FROM followups WHERE id = {}", f[0])
        ),
        s.id("m1").to_string()
    );
}

#[test]
fn pg_audit_defer_members_note_only_what_the_app_notes() {
    let Some(s) = server("note") else { return };
    let (mine, _) = s.owned_with_followups("m1", 0);
    let (west, _) = s.owned_with_followups("m2", 0);
    let w = west.to_string();
    for (action, entity, id) in [
        ("demo_load", "customer", "NULL"),
        ("Release", "customer", w.as_str()),
        ("followup_reopen", "followup", "1"),
        ("release ", "customer", w.as_str()),
        ("import", "customer", "NULL"),
        ("backup", "database", "NULL"),
    ] {
        let e = s.refused(
            "m1",
            &format!("SELECT pool_private.audit_note('{action}', '{entity}', {id}, NULL, '{{}}')"),
            "PT403",
        );
        assert!(e.contains("writes the audit row"), "{action}: {e}");
    }
    // An unmasked read of a customer of another team is not a member's to note.
    let e = s.refused(
        "m1",
        &format!(
            "SELECT pool_private.audit_note('view_unmasked', 'customer', {west}, NULL, '{{}}')"
        ),
        "PT403",
    );
    assert!(e.contains("contacts"), "{e}");
    s.refused(
        "m1",
        "SELECT pool_private.audit_note('view_unmasked', 'customer', 999999, NULL, '{}')",
        "PT404",
    );
    // Demo notes are an admin's.
    s.refused(
        "m1",
        "SELECT pool_private.audit_note('demo', 'database', NULL, NULL, '{}')",
        "PT403",
    );
    let start = s.head();
    // What the app writes still goes in.
    s.sql(
        "m1",
        &format!("SELECT pool_private.audit_note('view_unmasked', 'customer', {mine}, NULL, '{{\"rows\":1}}')"),
    );
    s.sql(
        "m1",
        "SELECT pool_private.audit_note('export', 'customers', NULL, NULL, '{\"rows\":1}')",
    );
    s.sql(
        "boss",
        &format!("SELECT pool_private.audit_note('view_unmasked', 'customer', {mine}, NULL, '{{\"rows\":1}}')"),
    );
    s.sql(
        "admin",
        "SELECT pool_private.audit_note('demo', 'database', NULL, NULL, '{}')",
    );
    let actions: Vec<String> = s
        .rows_after(start)
        .iter()
        .map(|r| r.split(' ').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        actions,
        ["view_unmasked", "export", "view_unmasked", "demo"]
    );
}

#[test]
fn pg_audit_defer_only_a_deactivation_is_labelled_one() {
    let Some(s) = server("intend") else { return };
    let (c, _) = s.owned_with_followups("m1", 0);
    let (d, _) = s.owned_with_followups("m1", 0);
    let e = s.refused(
        "boss",
        &format!("SELECT pool_private.intend('deactivate', 'user deactivated'); UPDATE customers SET owner_id = NULL WHERE id = {c}"),
        "PT403",
    );
    assert!(e.contains("deactivate"), "{e}");
    // Setting the label by hand is a plain release.
    let start = s.head();
    s.sql(
        "boss",
        &format!("SELECT set_config('pool.event', 'deactivate', true); UPDATE customers SET owner_id = NULL WHERE id = {c}"),
    );
    let rows = s.rows_after(start);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].starts_with(&format!("release {c} ")), "{rows:?}");
    assert_eq!(
        s.sql("", &format!("SELECT event FROM ownership_events WHERE customer_id = {c} ORDER BY id DESC LIMIT 1")),
        "release"
    );
    // A real deactivation still is one.
    let start = s.head();
    s.sql(
        "admin",
        &format!("SELECT pool_private.deactivate_user('{}')", s.role("m1")),
    );
    let actions: Vec<String> = s
        .rows_after(start)
        .iter()
        .map(|r| r.splitn(3, ' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        actions,
        [
            format!("user_deactivate {d}"),
            format!("user_deactivate {}", s.id("m1"))
        ]
    );
    s.verified();
}

/// The after of the assign of a customer whose two follow-ups move with it, as the
/// SQLite app writes it (`chen` is the new owner there).
fn sqlite_assign_after() -> Option<String> {
    if crate::common::pg::enabled() {
        return None;
    }
    let env = crate::common::fixtures::sales_org();
    let id = crate::common::fixtures::claimed(&env, "lihua", "13800000001");
    env.ok_as("lihua", &["followup", "add", &id, "--due", "+2d", "发合同"]);
    env.ok_as("lihua", &["followup", "add", &id, "--due", "+3d", "报价"]);
    env.ok_as("zhao", &["assign", &id, "--to", "chen"]);
    let log = env.json(&["audit", "log", "--action", "assign"]);
    let row = log
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .or_else(|| log["rows"].as_array().and_then(|a| a.first()).cloned())
        .expect("an assign row");
    Some(
        row["after"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| row["after"].to_string()),
    )
}

#[test]
fn pg_audit_defer_a_folded_row_is_written_as_the_app_writes_it() {
    let Some(s) = server("json") else { return };
    let c = s.pooled_one("客户");
    s.ok("m1", &["claim", &c.to_string()]);
    s.ok(
        "m1",
        &[
            "followup",
            "add",
            &c.to_string(),
            "--due",
            "2030-01-01",
            "发合同",
        ],
    );
    s.ok(
        "m1",
        &[
            "followup",
            "add",
            &c.to_string(),
            "--due",
            "2030-01-02",
            "报价",
        ],
    );
    s.ok("boss", &["assign", &c.to_string(), "--to", &s.role("m3")]);
    let after = s.sql(
        "",
        "SELECT after FROM audit_log WHERE action = 'assign' ORDER BY seq DESC LIMIT 1",
    );
    assert_eq!(
        after,
        format!(
            "{{\"owner\":\"{}\",\"followups_moved\":[1,2]}}",
            s.role("m3")
        )
    );
    if let Some(sqlite) = sqlite_assign_after() {
        assert_eq!(after.replace(&s.role("m3"), "chen"), sqlite);
    }
    s.verified();
}
