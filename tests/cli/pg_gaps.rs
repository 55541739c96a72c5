//! Server mode, the commands that need server functions (PostgreSQL migration 4):
//! `pool doctor`, `pool forget`, `pool merge` / `dedupe --apply` / `dedupe undo`, moving
//! and re-activating users, and the reports activity, quality and access — each through
//! the real binary, and each attacked with `psql` as a role that may not do it.
//!
//! Runs only when POOL_TEST_PG is set (`eval "$(.ci/pg-cluster start)"`);
//! otherwise every test says it is skipped.
use std::process::Output;

use customer_pool::domain::audit::head_digest;
use serde_json::Value;

use crate::common::pg::Server;

/// The test users: (name, team, role).
const PEOPLE: [(&str, &str, &str); 5] = [
    ("boss", "east", "manager"),
    ("m1", "east", "member"),
    ("m2", "west", "member"),
    ("wboss", "west", "manager"),
    ("viewer", "east", "viewer"),
];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// A fresh database prepared by `pool init --server`, with an admin and PEOPLE.
fn server(name: &str) -> Option<Server> {
    server_in(name, None)
}

/// The same, `pool init --server` run on a machine whose zone is `tz`.
fn server_in(name: &str, tz: Option<&str>) -> Option<Server> {
    let s = Server::new("gp", name)?;
    let admin = s.role("admin");
    let out = s.run_tz(
        "owner",
        &["init", "--server", "--admin", &admin, "--team", "hq"],
        tz,
    );
    assert!(out.status.success(), "init: {}", text(&out.stderr));
    for t in ["east", "west"] {
        s.ok("admin", &["team", "add", t]);
    }
    for (who, team, role) in PEOPLE {
        s.add_user(who, team, role);
    }
    Some(s)
}

impl Server {
    /// `pool` as `who`, with TZ set to `tz` if given (else the machine's zone).
    fn run_tz(&self, who: &str, args: &[&str], tz: Option<&str>) -> Output {
        let mut c = self.cmd(who);
        if let Some(tz) = tz {
            c.env("TZ", tz);
        }
        c.args(args).output().expect("run pool")
    }

    /// `pool doctor` must fail (exit 8) naming `check` with `detail` in it.
    pub(crate) fn doctor_catches(&self, check: &str, detail: &str) {
        let out = self.run("admin", &["doctor", "--format", "json"]);
        assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
        let rows: Value = serde_json::from_slice(&out.stdout).expect("doctor JSON");
        let failed: Vec<&Value> = rows
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["status"] == "FAIL")
            .collect();
        assert!(
            failed
                .iter()
                .any(|r| r["check"] == check && r["detail"].as_str().unwrap_or("").contains(detail)),
            "expected {check} to fail with '{detail}': {failed:?}"
        );
    }

    pub(crate) fn doctor_passes(&self) {
        let rows = self.json("admin", &["doctor"]);
        for r in rows.as_array().expect("rows") {
            assert_eq!(r["status"], "ok", "{r}");
        }
    }
}

#[test]
fn doctor_checks_the_servers_security_setup() {
    let Some(s) = server("doctor") else {
        return;
    };
    s.ok(
        "admin",
        &["add", "--name", "甲", "--phone", "13900000001", "--pool"],
    );
    let rows = s.json("admin", &["doctor"]);
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["check"].as_str().unwrap())
        .collect();
    for want in [
        "row level security",
        "grants",
        "triggers",
        "policies",
        "definer functions",
        "audit chain",
        "audit head",
        "schema version",
        "database owner",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    s.doctor_passes();
    // Managers may run it; members may not.
    s.ok("boss", &["doctor"]);
    s.fails("m1", &["doctor"], 4);

    // A superuser turns row level security off, or stops forcing it on the owner.
    s.su("ALTER TABLE customers DISABLE ROW LEVEL SECURITY");
    s.doctor_catches(
        "row level security",
        "public.customers: row level security disabled",
    );
    s.su("ALTER TABLE customers ENABLE ROW LEVEL SECURITY; ALTER TABLE interactions NO FORCE ROW LEVEL SECURITY");
    s.doctor_catches(
        "row level security",
        "public.interactions: row level security not forced",
    );
    s.su("ALTER TABLE interactions FORCE ROW LEVEL SECURITY");
    s.doctor_passes();

    // A guard disabled, a log trigger dropped.
    s.su("ALTER TABLE deals DISABLE TRIGGER b_guard");
    s.doctor_catches("triggers", "b_guard on deals is disabled");
    s.su("ALTER TABLE deals ENABLE TRIGGER b_guard; DROP TRIGGER z_log ON customers");
    s.doctor_catches("triggers", "z_log on customers is missing");
    s.su("CREATE TRIGGER z_log AFTER UPDATE ON customers FOR EACH ROW WHEN (NOT pool_private.server_op())
          EXECUTE FUNCTION pool_private.customers_log()");
    s.doctor_passes();
    // The commit-time audit of owner changes (and their follow-ups) switched off.
    s.su("ALTER TABLE pool_private.defer_flush DISABLE TRIGGER z_flush");
    s.doctor_catches(
        "triggers",
        "z_flush on pool_private.defer_flush is disabled",
    );
    s.su("ALTER TABLE pool_private.defer_flush ENABLE TRIGGER z_flush");
    s.doctor_passes();
    // A guard put back on fewer events, or with a condition that switches it off.
    s.su(
        "DROP TRIGGER b_guard ON interactions; CREATE TRIGGER b_guard BEFORE INSERT ON interactions
          FOR EACH ROW EXECUTE FUNCTION pool_private.work_guard()",
    );
    s.doctor_catches("triggers", "b_guard on interactions fires on other events");
    s.su("DROP TRIGGER b_guard ON interactions; CREATE TRIGGER b_guard BEFORE INSERT OR UPDATE OR DELETE ON interactions
          FOR EACH ROW WHEN (current_user = 'nobody') EXECUTE FUNCTION pool_private.work_guard()");
    s.doctor_catches("triggers", "b_guard on interactions has a condition");
    s.su("DROP TRIGGER b_guard ON interactions; CREATE TRIGGER b_guard BEFORE INSERT OR UPDATE OR DELETE ON interactions
          FOR EACH ROW WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.work_guard()");
    s.doctor_passes();
    // The per-statement tag check dropped: tags added by anyone would go unchecked.
    s.su("DROP TRIGGER c_added ON customer_tags");
    s.doctor_catches("triggers", "c_added on customer_tags is missing");
    s.su("CREATE TRIGGER c_added AFTER INSERT ON customer_tags REFERENCING NEW TABLE AS added
          FOR EACH STATEMENT WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.tags_added()");
    s.doctor_passes();
    // The deferred audit rows' diverter, the lookup counters and the written-key count
    // (server migrations 16, 20, 21): each switched off is found.
    for (table, trigger) in [
        ("audit_log", "a_divert"),
        ("audit_head", "a_hold"),
        ("users", "key_lookup_counters"),
        ("customers", "zz_keys_added"),
        ("customers", "zz_keys_changed"),
    ] {
        s.su(&format!("ALTER TABLE {table} DISABLE TRIGGER {trigger}"));
        s.doctor_catches("triggers", &format!("{trigger} on {table} is disabled"));
        s.su(&format!("ALTER TABLE {table} ENABLE TRIGGER {trigger}"));
    }
    s.su(
        "DROP TRIGGER a_divert ON audit_log; CREATE TRIGGER a_divert BEFORE INSERT ON audit_log
          FOR EACH ROW WHEN (NEW.seq > 0) EXECUTE FUNCTION pool_private.audit_divert()",
    );
    s.doctor_catches("triggers", "a_divert on audit_log has a condition");
    s.su("DROP TRIGGER a_divert ON audit_log; CREATE TRIGGER a_divert BEFORE INSERT ON audit_log
          FOR EACH ROW WHEN (NEW.seq >= 4611686018427387904) EXECUTE FUNCTION pool_private.audit_divert()");
    s.doctor_passes();

    // Grants beyond the design: members writing audit rows, rules or erasing data.
    s.su("GRANT UPDATE ON audit_log TO pool_member");
    s.doctor_catches("grants", "pool_member may UPDATE audit_log");
    s.su("REVOKE UPDATE ON audit_log FROM pool_member; GRANT INSERT ON pool_rules TO pool_member");
    s.doctor_catches("grants", "pool_member may INSERT pool_rules");
    s.su("REVOKE INSERT ON pool_rules FROM pool_member; GRANT SELECT (phone) ON customers TO pool_viewer");
    s.doctor_catches("grants", "pool_viewer may read customers.phone");
    s.su("REVOKE SELECT (phone) ON customers FROM pool_viewer; GRANT SELECT (name) ON customers TO pool_member");
    s.doctor_catches("grants", "pool_member may read customers.name");
    s.su("REVOKE SELECT (name) ON customers FROM pool_member; GRANT SELECT (tags) ON customers TO pool_manager");
    s.doctor_catches("grants", "pool_manager may read customers.tags");
    s.su("REVOKE SELECT (tags) ON customers FROM pool_manager; GRANT SELECT (before) ON merges TO pool_manager");
    s.doctor_catches("grants", "pool_manager may read merges.before");
    s.su("REVOKE SELECT (before) ON merges FROM pool_manager; GRANT SELECT (title) ON contacts TO pool_manager");
    s.doctor_catches("grants", "pool_manager may read contacts.title");
    s.su("REVOKE SELECT (title) ON contacts FROM pool_manager; GRANT SELECT ON ownership_events TO pool_viewer");
    s.doctor_catches("grants", "pool_viewer may read ownership_events.reason");
    s.su("REVOKE SELECT ON ownership_events FROM pool_viewer;
          GRANT SELECT (id, customer_id, event, from_user, to_user, by_user, pool_id, at, allocated) ON ownership_events TO pool_viewer;
          GRANT EXECUTE ON FUNCTION pool_private.forget_customer(bigint) TO pool_member");
    s.doctor_catches("grants", "pool_member may run forget_customer(bigint)");
    s.su(
        "REVOKE EXECUTE ON FUNCTION pool_private.forget_customer(bigint) FROM pool_member;
          GRANT EXECUTE ON FUNCTION pool_private.audit_chain() TO pool_viewer",
    );
    s.doctor_catches("grants", "pool_viewer may run audit_chain()");
    s.su(
        "REVOKE EXECUTE ON FUNCTION pool_private.audit_chain() FROM pool_viewer;
          GRANT SELECT (hash) ON audit_head TO pool_manager",
    );
    s.doctor_catches("grants", "pool_manager may read audit_head.hash");
    s.su("REVOKE SELECT (hash) ON audit_head FROM pool_manager");
    s.doctor_passes();

    // A policy that trusts a setting anyone can set.
    s.su("CREATE POLICY backdoor ON customers FOR SELECT USING (current_setting('pool.me', true) = 'boss')");
    s.doctor_catches(
        "policies",
        "policy backdoor reads a client-settable setting",
    );
    s.su("DROP POLICY backdoor ON customers");

    // A definer function that lost its fixed search_path.
    s.su("ALTER FUNCTION pool_private.undo_merge(bigint) RESET search_path");
    s.doctor_catches("definer functions", "undo_merge");
    s.su("ALTER FUNCTION pool_private.undo_merge(bigint) SET search_path = public, pool_private, pg_temp");
    s.doctor_passes();

    // An audit row edited behind the append-only trigger's back.
    s.su("ALTER TABLE audit_log DISABLE TRIGGER audit_no_update;
          UPDATE audit_log SET after = replace(after, '甲', '乙') WHERE action = 'customer_add';
          ALTER TABLE audit_log ENABLE TRIGGER audit_no_update");
    s.doctor_catches("audit chain", "broken");
    // The error names the failing check in the table too.
    let out = s.fails_out("admin", &["doctor"], 8);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("audit chain") && stdout.contains("FAIL"),
        "{stdout}"
    );
    assert!(
        stderr.contains("doctor found 1 problem(s) (audit chain)"),
        "{stderr}"
    );
    // --fix is a SQLite repair.
    s.fails("admin", &["doctor", "--fix"], 6);
}

#[test]
fn forget_on_the_server_erases_history_reasons_and_only_admins_may() {
    let Some(s) = server("forget") else {
        return;
    };
    for (n, p) in [("张伟", "13900000001"), ("李娜", "13900000002")] {
        s.ok("admin", &["add", "--name", n, "--phone", p, "--pool"]);
    }
    s.ok("m1", &["claim", "1"]);
    s.ok("m1", &["log", "1", "call", "聊了报价 手机 13900000001"]);
    s.ok(
        "m1",
        &["followup", "add", "1", "--due", "tomorrow", "回电话"],
    );
    s.ok(
        "m1",
        &[
            "release",
            "1",
            "--reason",
            "客户要求删除 张伟",
            "--cancel-followups",
        ],
    );
    // Who may: admins only, in the binary and on the server.
    s.fails("boss", &["forget", "1", "-y"], 4);
    s.fails("m1", &["forget", "1", "-y"], 4);
    s.refused("boss", "SELECT pool_private.forget_customer(1)", "42501");
    s.refused("m1", "SELECT pool_private.forget_customer(1)", "42501");
    // A member cannot switch the guards off by setting the marker's setting.
    s.ok("m1", &["claim", "2"]);
    s.ok("m1", &["log", "2", "call", "第一次"]);
    s.refused(
        "m1",
        "SET pool.server_op = 'on'; UPDATE interactions SET summary = 'rewritten' WHERE customer_id = 2",
        "PT403",
    );

    let done = s.json("admin", &["forget", "1", "-y"]);
    assert_eq!(done["interactions"], 1, "{done}");
    assert_eq!(done["followups"], 1, "{done}");
    // Nothing personal is left: fields, history text, the release reason.
    assert_eq!(
        s.su(
            "SELECT coalesce(name, '-') || coalesce(phone, '-') || (forgotten_at IS NOT NULL)::text
              || (deleted_at IS NOT NULL)::text FROM customers WHERE id = 1"
        ),
        "--truetrue"
    );
    assert_eq!(
        s.su("SELECT string_agg(summary, ',') FROM interactions WHERE customer_id = 1"),
        "(erased)"
    );
    assert_eq!(
        s.su("SELECT count(*) FROM ownership_events WHERE customer_id = 1 AND reason IS NOT NULL"),
        "0"
    );
    assert_eq!(
        s.su("SELECT action || ' ' || status FROM followups WHERE customer_id = 1"),
        "(erased) cancelled"
    );
    // One audit row, written by the server, with the counts; the chain holds.
    let log = s.json(
        "admin",
        &["audit", "log", "--customer", "1", "--action", "forget"],
    );
    let rows = log.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{log}");
    assert_eq!(rows[0]["actor"], s.role("admin"));
    assert!(
        rows[0]["after"].to_string().contains("owner_events"),
        "{log}"
    );
    s.fails("admin", &["forget", "1", "-y"], 5);
    s.ok("admin", &["audit", "verify"]);
    s.doctor_passes();
}

/// Customers 1..=n added by the admin into the public pool, with phones.
fn pooled(s: &Server, names: &[&str]) {
    for (i, n) in names.iter().enumerate() {
        let phone = format!("1390000{:04}", i + 1);
        s.ok("admin", &["add", "--name", n, "--phone", &phone, "--pool"]);
    }
}

#[test]
fn merge_and_undo_on_the_server_follow_the_owner_rules() {
    let Some(s) = server("merge") else {
        return;
    };
    pooled(&s, &["王芳", "王芳", "赵磊", "钱敏", "孙丽"]);
    // m1 (east) owns 2 with history; 1 is pooled: the merge gives 1 to m1.
    s.ok("m1", &["claim", "2"]);
    s.ok("m1", &["log", "2", "call", "约了见面"]);
    s.ok("m1", &["followup", "add", "2", "--due", "tomorrow", "拜访"]);
    // m1 owns 3, m2 (west) owns 4.
    s.ok("m1", &["claim", "3"]);
    s.ok("m2", &["claim", "4"]);

    // A member may not merge, in the binary or on the server.
    s.fails("m1", &["merge", "1", "2"], 4);
    s.refused(
        "m1",
        "SELECT pool_private.merge_customers(1, ARRAY[2]::bigint[], '{}')",
        "42501",
    );
    // A manager may not merge another team's customer; nor write merges directly.
    s.fails("boss", &["merge", "3", "4"], 4);
    s.refused(
        "boss",
        "SELECT pool_private.merge_customers(3, ARRAY[4]::bigint[], '{}')",
        "PT403",
    );
    s.refused(
        "boss",
        "INSERT INTO merges (survivor_id, merged_ids, before, at) VALUES (3, '[4]', '{}', 0)",
        "42501",
    );
    // Two owners: not even an admin merges them silently.
    s.fails("admin", &["merge", "3", "4"], 5);
    s.refused(
        "admin",
        "SELECT pool_private.merge_customers(3, ARRAY[4]::bigint[], '{}')",
        "PT409",
    );

    // The manager merges 1 and 2: 1 (oldest) survives, owned by m1, with 2's history.
    let m = s.json("boss", &["merge", "1", "2"]);
    assert_eq!(m["survivor"], 1, "{m}");
    let merge_id = m["merge_id"].as_i64().expect("merge id");
    let c = s.json("boss", &["show", "1"]);
    assert_eq!(c["owner"], s.role("m1"), "{c}");
    assert_eq!(
        s.su("SELECT count(*) FROM interactions WHERE customer_id = 1"),
        "1"
    );
    assert_eq!(
        s.su("SELECT count(*) FROM followups WHERE customer_id = 1 AND status = 'open'"),
        "1"
    );
    assert_eq!(
        s.su("SELECT merged_into || ' ' || (owner_id IS NULL)::text FROM customers WHERE id = 2"),
        "1 true"
    );
    s.fails("boss", &["show", "2"], 3);
    // The server wrote the audit rows, once each, in the chain.
    let log = s.json("admin", &["audit", "log", "--customer", "2"]);
    let merged_into: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "merged_into")
        .collect();
    assert_eq!(merged_into.len(), 1, "{log}");
    assert_eq!(merged_into[0]["actor"], s.role("boss"));

    // A member cannot undo it; the west manager cannot either (m1's customers).
    let id = merge_id.to_string();
    s.fails("m1", &["dedupe", "undo", &id], 4);
    s.refused(
        "m1",
        &format!("SELECT pool_private.undo_merge({id})"),
        "42501",
    );
    s.refused(
        "wboss",
        &format!("SELECT pool_private.undo_merge({id})"),
        "PT403",
    );
    s.refused(
        "boss",
        &format!("UPDATE merges SET before = '{{}}' WHERE id = {id}"),
        "42501",
    );
    // The before-image holds whole rows (contacts as written) of any team's merge:
    // managers cannot read it (migration 28), only whether it was erased.
    for who in ["boss", "wboss"] {
        s.refused(who, "SELECT before FROM merges", "42501");
        s.refused(who, "SELECT * FROM merges", "42501");
        assert_eq!(
            s.sql(who, &format!("SELECT pool_private.merge_erased({id})")),
            "f"
        );
    }
    s.refused(
        "m1",
        &format!("SELECT pool_private.merge_erased({id})"),
        "42501",
    );
    // The manager undoes it: both customers and the history as before.
    s.ok("boss", &["dedupe", "undo", &id]);
    assert_eq!(
        s.su("SELECT string_agg(customer_id::text, ',') FROM interactions"),
        "2"
    );
    assert_eq!(
        s.su(
            "SELECT (owner_id IS NULL)::text || ' ' || coalesce(merged_into::text, '-') || ' '
                  || (deleted_at IS NULL)::text FROM customers WHERE id = 1"
        ),
        "true - true"
    );
    assert_eq!(
        s.su(
            "SELECT owner_id = (SELECT id FROM users WHERE login = current_database() || '_m1')
              FROM customers WHERE id = 2"
        ),
        "t"
    );
    s.fails("boss", &["dedupe", "undo", &id], 5);

    // Pooled joins an owner only where the owner could claim it: 5 sits in a pool
    // west does not see, so m2's 4 and 5 are not merged.
    s.ok("admin", &["pools", "add", "eastonly", "--team", "east"]);
    s.su("UPDATE customers SET pool_id = (SELECT id FROM pools WHERE name = 'eastonly') WHERE id = 5");
    s.refused(
        "admin",
        "SELECT pool_private.merge_customers(4, ARRAY[5]::bigint[], '{}')",
        "PT414",
    );
    // Nor does a merge give an owner back early what they gave up (re-claim cooldown).
    s.ok("admin", &["rules", "set", "--reclaim-cooldown-days", "7"]);
    s.ok(
        "admin",
        &["add", "--name", "冷却", "--phone", "13900000066", "--pool"],
    );
    s.ok("m1", &["claim", "6"]);
    s.ok("m1", &["release", "6", "--reason", "不要了"]);
    s.refused(
        "boss",
        "SELECT pool_private.merge_customers(3, ARRAY[6]::bigint[], '{}')",
        "PT412",
    );
    s.fails("boss", &["merge", "3", "6"], 5);
    s.ok("admin", &["audit", "verify"]);
    s.doctor_passes();
}

#[test]
fn dedupe_apply_merges_on_the_server() {
    let Some(s) = server("dedupe") else {
        return;
    };
    for (n, c, p, e) in [
        ("周杰", "杭州云帆科技有限公司", "13911112222", "zj@yf.cn"),
        ("周杰", "杭州云帆科技", "13911112222", "zj@yf.cn"),
        ("吴刚", "深圳海川贸易", "13833334444", "wg@hc.cn"),
    ] {
        s.ok(
            "admin",
            &[
                "add",
                "--name",
                n,
                "--company",
                c,
                "--phone",
                p,
                "--email",
                e,
                "--pool",
            ],
        );
    }
    let out = s.json("admin", &["dedupe", "--apply", "--threshold", "0.5"]);
    let merged = out["merged"].as_array().expect("merged");
    assert_eq!(merged.len(), 1, "{out}");
    assert_eq!(merged[0]["survivor"], 1, "{out}");
    // The survivor took the fuller company name; 2 is a tombstone.
    let c = s.json("admin", &["show", "1"]);
    assert_eq!(c["company"], "杭州云帆科技有限公司", "{c}");
    s.fails("admin", &["show", "2"], 3);
    let id = merged[0]["merge_id"].as_i64().unwrap().to_string();
    s.ok("admin", &["dedupe", "undo", &id]);
    s.ok("admin", &["show", "2"]);
    s.ok("admin", &["audit", "verify"]);
}

#[test]
fn users_move_teams_and_come_back_only_by_an_admin() {
    let Some(s) = server("users") else {
        return;
    };
    let m2 = s.role("m2");
    let m1 = s.role("m1");
    // Moving a member: admins only.
    s.fails("boss", &["user", "set-role", &m2, "--team", "east"], 4);
    s.refused(
        "boss",
        &format!("SELECT pool_private.set_user_team('{m2}', 'east')"),
        "42501",
    );
    s.refused(
        "m2",
        &format!("SELECT pool_private.set_user_team('{m2}', 'east')"),
        "42501",
    );
    s.ok("admin", &["user", "set-role", &m2, "--team", "east"]);
    let users = s.json("admin", &["user", "list"]);
    let row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == m2.as_str())
        .expect("m2 listed")
        .clone();
    assert_eq!(row["team"], "east", "{row}");
    // The east manager now works on m2's customers.
    s.ok(
        "admin",
        &["add", "--name", "客户", "--phone", "13900000009", "--pool"],
    );
    s.ok("m2", &["claim", "1"]);
    s.ok("boss", &["log", "1", "note", "经理看过"]);
    s.fails("admin", &["user", "set-role", &m2, "--team", "nowhere"], 3);

    // Deactivated: m2 cannot connect; m1 cannot bring them back, nor a manager.
    s.ok("admin", &["user", "deactivate", &m2, "-y"]);
    s.fails("m2", &["list"], 1);
    s.refused(
        "m1",
        &format!("SELECT pool_private.reactivate_user('{m2}')"),
        "42501",
    );
    s.refused(
        "boss",
        &format!("SELECT pool_private.reactivate_user('{m2}')"),
        "42501",
    );
    s.fails("boss", &["user", "set-role", &m2, "--active"], 4);
    // A member cannot give themselves a group or LOGIN either.
    let out = s.psql_login(&m1, &format!("GRANT pool_admin TO {m1}"));
    assert!(!out.status.success(), "a member granted themselves admin");
    // The admin re-activates m2: LOGIN, CONNECT and the group are back.
    s.ok("admin", &["user", "set-role", &m2, "--active"]);
    s.ok("m2", &["list"]);
    s.ok("m2", &["claim", "1"]);
    let log = s.json("admin", &["audit", "log", "--action", "user_set"]);
    assert!(
        log.as_array().unwrap().len() >= 2,
        "team move and re-activation audited: {log}"
    );
    s.ok("admin", &["audit", "verify"]);
}

#[test]
fn reports_activity_quality_and_access_on_the_server() {
    let Some(s) = server("reports") else {
        return;
    };
    // 1, 2: complete and the same phone (a duplicate pair); 3: a name only.
    s.ok(
        "admin",
        &[
            "add",
            "--name",
            "陈一",
            "--company",
            "云帆",
            "--phone",
            "13900000001",
            "--email",
            "c1@yf.cn",
            "--city",
            "杭州",
            "--address",
            "文一路 1 号",
            "--source",
            "展会",
            "--pool",
        ],
    );
    s.ok(
        "admin",
        &[
            "add",
            "--name",
            "陈一",
            "--company",
            "云帆",
            "--phone",
            "13900000001",
            "--email",
            "c2@yf.cn",
            "--city",
            "杭州",
            "--address",
            "文一路 2 号",
            "--source",
            "展会",
            "--pool",
        ],
    );
    s.ok("admin", &["add", "--name", "无联系", "--pool"]);
    // m1 (east) and m2 (west) each claim one and log a call; m1 makes a deal.
    s.ok("m1", &["claim", "1"]);
    s.ok("m1", &["log", "1", "call", "聊了"]);
    s.ok(
        "m1",
        &["deal", "add", "1", "--amount", "100", "--product", "A"],
    );
    s.ok("m2", &["claim", "2"]);
    s.ok("m2", &["log", "2", "call", "聊了"]);

    let total = |v: &Value, k: &str| -> i64 {
        v.as_array()
            .expect("periods")
            .iter()
            .map(|p| p[k].as_i64().unwrap_or(0))
            .sum()
    };
    // Activity: the admin sees both teams; the east manager east only.
    let all = s.json("admin", &["report", "activity", "--by", "day"]);
    assert_eq!(total(&all, "claims"), 2, "{all}");
    assert_eq!(total(&all, "interactions"), 2, "{all}");
    assert_eq!(total(&all, "deals"), 1, "{all}");
    assert!(
        all[0]["period"].as_str().unwrap_or("").len() == 10,
        "a day period is YYYY-MM-DD: {all}"
    );
    let east = s.json("boss", &["report", "activity", "--by", "day"]);
    assert_eq!(total(&east, "claims"), 1, "{east}");
    assert_eq!(total(&east, "interactions"), 1, "{east}");
    s.fails("boss", &["report", "activity", "--team", "west"], 4);
    let weeks = s.json("admin", &["report", "activity"]);
    assert!(
        weeks[0]["period"].as_str().unwrap_or("").contains("-W"),
        "{weeks}"
    );

    // Quality: counted on the real keys by the server, even for a member who sees
    // customer 2's phone masked (it is m2's): both phones valid, and a duplicate pair.
    let q = s.json("m1", &["report", "quality"]);
    assert_eq!(q["customers"], 3, "{q}");
    let phone = q["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "phone")
        .expect("phone row")
        .clone();
    assert_eq!(phone["valid_pct"], 100.0, "{q}");
    assert!(q["duplicate_rate_pct"].as_f64().unwrap() > 60.0, "{q}");
    assert_eq!(q["worst"][0]["id"], 3, "{q}");
    let admin_q = s.json("admin", &["report", "quality"]);
    assert_eq!(admin_q["score"], q["score"], "{admin_q} vs {q}");
    // A pooled customer in a pool west does not see is not west's to count.
    s.ok("admin", &["pools", "add", "eastonly", "--team", "east"]);
    s.ok("admin", &["add", "--name", "东区", "--pool", "eastonly"]);
    assert_eq!(s.json("m2", &["report", "quality"])["customers"], 3);
    assert_eq!(s.json("m1", &["report", "quality"])["customers"], 4);

    // Access: unmasked reads (a list and a show) and an unmasked export are audited and
    // counted; members may not read the report.
    s.ok("boss", &["list", "--owner", &s.role("m1")]);
    s.ok("boss", &["show", "1"]);
    s.ok("admin", &["export", "--unmasked", "-o", "all.csv"]);
    // A member's own note that is not JSON does not break the report.
    let out = s.psql_login(
        &s.role("m1"),
        "SELECT pool_private.audit_note('export', 'customers', NULL, NULL, 'not json')",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let acc = s.json("boss", &["report", "access"]);
    let row = |acc: &Value, who: &str| -> Value {
        acc["users"]
            .as_array()
            .or_else(|| acc.as_array())
            .expect("access rows")
            .iter()
            .find(|r| r["user"] == s.role(who).as_str())
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(row(&acc, "boss")["unmasked_views"], 2, "{acc}");
    // A manager's report covers their team; the admin's export is the admin's to see.
    assert_eq!(row(&acc, "admin"), Value::Null, "{acc}");
    let acc = s.json("admin", &["report", "access"]);
    assert_eq!(row(&acc, "admin")["exports"], 1, "{acc}");
    assert_eq!(row(&acc, "admin")["exported_rows"], 4, "{acc}");
    assert_eq!(row(&acc, "boss")["unmasked_views"], 2, "{acc}");
    s.fails("m1", &["report", "access"], 4);
    s.ok("admin", &["audit", "verify"]);
}

/// A webhook on 127.0.0.1 that answers 200 and keeps every request body.
struct Webhook {
    url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Webhook {
    fn start() -> Webhook {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = std::sync::Arc::clone(&bodies);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                keep.lock().expect("lock").push(text(&body));
                let answer = r#"{"errcode":0,"errmsg":"ok"}"#;
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        Webhook { url, bodies }
    }

    fn got(&self) -> Vec<String> {
        self.bodies.lock().expect("lock").clone()
    }
}

#[test]
fn notify_runs_on_the_server_within_each_roles_rights() {
    let Some(s) = server("notify") else {
        return;
    };
    let hook = Webhook::start();
    let (m1, m2) = (s.role("m1"), s.role("m2"));
    // Channels: admins only; the target is a secret for the team's managers.
    s.fails(
        "boss",
        &[
            "notify",
            "channel",
            "add",
            "--team",
            "east",
            "--webhook",
            &hook.url,
        ],
        4,
    );
    s.ok(
        "admin",
        &[
            "notify",
            "channel",
            "add",
            "--team",
            "east",
            "--webhook",
            &hook.url,
            "--preset",
            "generic",
        ],
    );
    s.refused("m1", "SELECT target FROM notify_channels", "42501");
    // Their team's channels through the view (migration 14), the target masked; no
    // write through it.
    let seen = s.sql("m1", "SELECT target FROM notify_channels_v");
    assert!(seen.trim().ends_with("/****"), "{seen}");
    assert!(!seen.contains(&hook.url), "{seen}");
    s.refused("m1", "UPDATE notify_channels_v SET removed_at = 1", "42501");
    assert_eq!(
        s.sql("wboss", "SELECT count(*) FROM notify_channels_v"),
        "0",
        "west's manager sees no east channel through the view either"
    );
    assert_eq!(
        text(
            &s.psql_login(&s.role("wboss"), "SELECT count(*) FROM notify_channels")
                .stdout
        )
        .trim(),
        "0",
        "west's manager sees no east channel"
    );
    s.refused(
        "boss",
        "INSERT INTO notify_channels (team_id, kind, target, created_at) VALUES (1, 'webhook', 'http://x', 0)",
        "42501",
    );
    // E-mail addresses: a user their own, an admin anyone's.
    s.ok("m1", &["user", "set", &m1, "--email", "m1@yf.cn"]);
    s.fails("m2", &["user", "set", &m1, "--email", "evil@x.cn"], 4);
    s.refused(
        "m2",
        &format!("SELECT pool_private.set_user_email('{m1}', 'evil@x.cn')"),
        "PT403",
    );
    assert_eq!(
        text(
            &s.psql_login(&m2, "SELECT count(*) FROM notify_emails")
                .stdout
        )
        .trim(),
        "0",
        "m2 reads no one else's address"
    );

    // m1 has an overdue follow-up: the east manager's run sends it once.
    s.ok(
        "admin",
        &[
            "add",
            "--name",
            "催办客户",
            "--phone",
            "13900000001",
            "--pool",
        ],
    );
    s.ok("m1", &["claim", "1"]);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let week_ago = chrono::DateTime::from_timestamp(secs - 7 * 86_400, 0)
        .expect("date")
        .date_naive()
        .to_string();
    s.ok(
        "m1",
        &[
            "followup",
            "add",
            "1",
            "--due",
            &week_ago,
            "--past",
            "回电话催款",
        ],
    );
    s.fails("m1", &["notify"], 4);
    s.refused("m1", "SELECT pool_private.notify_lease_set(NULL)", "42501");
    s.refused(
        "boss",
        &format!(
            "INSERT INTO notify_runs (at, by_user, team_id, last_event, digests, sent, failed)
             VALUES (0, (SELECT id FROM users WHERE login = '{}'), NULL, 0, 0, 0, 0)",
            s.role("admin")
        ),
        "42501",
    );
    s.ok("boss", &["notify"]);
    let got = hook.got();
    assert!(
        got.iter().any(|b| b.contains("回电话催款")),
        "the digest names m1's follow-up: {got:?}"
    );
    let sent = got.len();
    s.ok("boss", &["notify"]);
    assert_eq!(hook.got().len(), sent, "a second run sends nothing new");
    // The server audited the channel and each run.
    let log = s.json("admin", &["audit", "log", "--action", "notify"]);
    assert_eq!(log.as_array().map(Vec::len), Some(2), "{log}");
    let log = s.json("admin", &["audit", "log", "--action", "notify_channel_add"]);
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");
    s.ok("admin", &["audit", "verify"]);
    s.doctor_passes();
}

/// Issue #18: the server counts the daily claim cap in the claimer's local day (the
/// team's zone, else the database's, else UTC), whatever the session's TimeZone, as the
/// client does. Members cannot move the clock (`pool.sim_now` is for admins), so this
/// throwaway database gets a fixed server clock from its owner; each claim is a member's
/// own `psql` UPDATE, decided by the server alone.
#[test]
fn daily_cap_counts_local_days_on_the_server() {
    let Some(s) = server_in("days", Some("Asia/Shanghai")) else {
        return;
    };
    // `init --server` stored the initializing machine's zone, and keeps a chosen one.
    let zone = "SELECT value FROM settings WHERE key = 'timezone'";
    assert_eq!(s.su(zone), "Asia/Shanghai");
    let admin = s.role("admin");
    let again = s.run_tz(
        "owner",
        &["init", "--server", "--admin", &admin, "--team", "hq"],
        Some("Europe/Berlin"),
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(s.su(zone), "Asia/Shanghai");

    pooled(&s, &["甲", "乙", "丙", "丁", "戊"]);
    s.su("UPDATE pool_rules SET daily_claims = 1, fresh_hold_hours = 0, reclaim_cooldown_days = 0");
    let owner = s.role("owner");
    let at = |t: i64| {
        let out = s.psql_login(
            &owner,
            &format!(
                "CREATE OR REPLACE FUNCTION pool_private.clock() RETURNS bigint LANGUAGE sql VOLATILE AS $$ SELECT {t}::bigint $$"
            ),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    // A member's claim, in a session whose TimeZone is far from Beijing's.
    let claim = |name: &str| {
        format!(
            "SET TimeZone = 'Pacific/Kiritimati';
             WITH c AS (UPDATE customers SET owner_id = (SELECT pool_private.my_id())
                         WHERE id = (SELECT id FROM customers_v WHERE name = '{name}')
                           AND owner_id IS NULL RETURNING 1)
             SELECT count(*) FROM c"
        )
    };
    let claimed = |name: &str| {
        let out = s.psql_login(&s.role("m1"), &claim(name));
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "1", "{name} not claimed");
    };

    // 2027-03-10 15:00 UTC = 23:00 in Beijing, 10 March.
    at(1_804_690_800);
    claimed("甲");
    // 23:30 UTC the same UTC day = 07:30 on 11 March in Beijing: a new local day.
    at(1_804_721_400);
    claimed("乙");
    // 11 March 01:00 UTC = 09:00 in Beijing: the local day of 乙's claim (a new UTC day).
    at(1_804_726_800);
    s.refused("m1", &claim("丙"), "PT411");

    // The team's own zone comes first: east counting UTC days, 丙 is the day's first.
    let east = s.su("SELECT id FROM teams WHERE name = 'east'");
    s.su(&format!(
        "INSERT INTO settings (key, value) VALUES ('timezone:team:{east}', 'UTC')"
    ));
    claimed("丙");

    // A zone PostgreSQL does not know, or a POSIX string the client would not take:
    // UTC days, never a broken claim. 11 March 23:30 UTC is 丙's UTC day (07:30 on
    // 12 March in Beijing, where it would be allowed).
    at(1_804_807_800);
    for bad in ["Mars/Olympus", "UTC-8"] {
        s.su(&format!(
            "UPDATE settings SET value = '{bad}' WHERE key = 'timezone:team:{east}'"
        ));
        s.refused("m1", &claim("丁"), "PT411");
    }
    // 12 March 00:30 UTC: a new UTC day, so the claim goes through.
    at(1_804_811_400);
    claimed("丁");
    assert_eq!(
        s.su("SELECT count(*) FROM ownership_events WHERE event = 'claim'"),
        "4"
    );
}

/// Migration 30: with psql a manager reads only what the app shows them: the history
/// (calls, follow-ups, deals) of customers they may work on or that their team wrote, and
/// the audit rows of their team's users; and they still verify the whole chain, the
/// server hashing the rows they may not read.
#[test]
fn a_manager_reads_only_their_scopes_history_and_audit_rows_yet_verifies_the_whole_chain() {
    let Some(s) = server("mgrscope") else {
        return;
    };
    for (n, p) in [("西客户", "13900000001"), ("东客户", "13900000002")] {
        s.ok("admin", &["add", "--name", n, "--phone", p, "--pool"]);
    }
    for (who, id) in [("m2", "1"), ("m1", "2")] {
        s.ok(who, &["claim", id]);
        s.ok(who, &["log", id, "call", "新手机 13911112222"]);
        s.ok(who, &["followup", "add", id, "--due", "tomorrow", "回访"]);
        s.ok(who, &["deal", "add", id, "--amount", "100"]);
    }
    s.ok("m2", &["edit", "1", "--name", "西客户王总"]);
    let count = |who: &str, sql: &str| -> i64 { s.sql(who, sql).parse().expect("count") };
    let history = |who: &str, id: i64| -> Vec<i64> {
        ["interactions", "followups", "deals"]
            .iter()
            .map(|t| {
                count(
                    who,
                    &format!("SELECT count(*) FROM {t} WHERE customer_id = {id}"),
                )
            })
            .collect()
    };
    // West's customer: its team's manager and the admin read its history; east's manager
    // reads none of it, nor west's audit rows (the old and new name of an edit).
    assert_eq!(history("admin", 1), [1, 1, 1]);
    assert_eq!(history("wboss", 1), [1, 1, 1]);
    assert_eq!(history("boss", 1), [0, 0, 0]);
    assert_eq!(history("boss", 2), [1, 1, 1]);
    let (m1, m2) = (s.role("m1"), s.role("m2"));
    let west_rows = format!("SELECT count(*) FROM audit_log WHERE actor = '{m2}'");
    let name_rows = "SELECT count(*) FROM audit_log WHERE after LIKE '%西客户王总%'";
    assert!(count("admin", &west_rows) >= 4);
    assert!(count("admin", name_rows) >= 1);
    assert!(count("wboss", name_rows) >= 1);
    assert_eq!(count("boss", &west_rows), 0);
    assert_eq!(count("boss", name_rows), 0);
    assert!(
        count(
            "boss",
            &format!(
                "SELECT count(*) FROM audit_log WHERE actor = '{}'",
                s.role("m1")
            )
        ) >= 4
    );
    // The team's own work stays in the team's view after the customer leaves it.
    s.ok("admin", &["transfer", "--from", &m1, "--to", &m2, "2"]);
    s.ok("m2", &["log", "2", "call", "西边的记录"]);
    // (m1's open follow-up went with the customer to m2.)
    assert_eq!(history("boss", 2), [1, 0, 1]);
    assert_eq!(history("wboss", 2), [2, 1, 1]);
    // Members still read only their own customers' history and what they wrote.
    assert_eq!(history("m1", 1), [0, 0, 0]);
    assert_eq!(history("m1", 2), [1, 0, 1]);

    // The whole chain verifies for the manager too; the links come from the server.
    let v = s.json("boss", &["audit", "verify"]);
    let all = count("admin", "SELECT count(*) FROM audit_log");
    assert_eq!(v["rows"], all, "{v}");
    assert_eq!(s.json("admin", &["audit", "verify"])["rows"], v["rows"]);
    // The manager reads no hash (one known hash lets a guess of the next row's content
    // be tested against the next); the server gives the head as a one-way digest.
    for sql in [
        "SELECT hash FROM audit_log",
        "SELECT prev_hash FROM audit_log",
        "SELECT seq FROM audit_log WHERE hash LIKE 'a%'",
        "SELECT hash FROM audit_head",
    ] {
        s.refused("boss", sql, "42501");
    }
    let head = s.sql("admin", "SELECT hash FROM audit_head");
    assert_eq!(v["head_hash"], head_digest(&head), "{v}");
    assert_eq!(
        s.sql(
            "boss",
            "SELECT count(*) || ' ' || count(head) || ' ' || bool_and(intact AND linked AND ordered) FROM pool_private.audit_chain()"
        ),
        format!("{all} 1 true")
    );
    // A second verify checks the remembered head (a digest) is still in the chain.
    s.ok("boss", &["audit", "verify"]);
    // Members may not ask the server to check the chain.
    for who in ["m1", "viewer"] {
        for f in [
            "SELECT count(*) FROM pool_private.audit_chain()",
            "SELECT pool_private.audit_seq_of_hash('x')",
            "SELECT pool_private.audit_head_problem()",
        ] {
            s.refused(who, f, "42501");
        }
    }
    // A west row edited behind the trigger's back breaks the east manager's verify too.
    s.su(&format!(
        "ALTER TABLE audit_log DISABLE TRIGGER audit_no_update;
         UPDATE audit_log SET after = replace(after, '王总', '李总') WHERE actor = '{m2}';
         ALTER TABLE audit_log ENABLE TRIGGER audit_no_update"
    ));
    for who in ["boss", "admin"] {
        let err = s.fails(who, &["audit", "verify", "--forget-head"], 8);
        assert!(err.contains("was edited"), "{who}: {err}");
    }
}
