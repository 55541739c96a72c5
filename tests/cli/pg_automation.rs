//! Automation in server mode (PostgreSQL migration 8): lead allocation, what counts as
//! contact, follow-ups planned by rules, and `pool demo` — the binary as each user, and
//! `psql` as a member or manager, who must get no further than with `pool`. Runs only
//! when POOL_TEST_PG holds a superuser's libpq connection info (`.ci/pg-cluster start`).
use serde_json::Value;

use crate::common::pg::Server;

/// Owner prepares; the admin adds team north with manager qian, and team east with
/// members li and wang and manager zhao.
fn org(s: &Server) {
    s.init("hq");
    s.ok("admin", &["team", "add", "east"]);
    s.ok("admin", &["team", "add", "north"]);
    s.add_user("qian", "north", "manager");
    for (who, role) in [("li", "member"), ("wang", "member"), ("zhao", "manager")] {
        s.add_user(who, "east", role);
    }
}

/// n pooled leads added by the admin through the binary; their ids.
fn leads(s: &Server, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let v = s.json("admin", &["add", "--name", &format!("线索{i}"), "--pool"]);
            v["id"].as_i64().expect("id").to_string()
        })
        .collect()
}

fn logins(s: &Server, v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let to = r["to"].as_str().unwrap();
            to.strip_prefix(&format!("{}_", s.db))
                .unwrap_or(to)
                .to_string()
        })
        .collect()
}

fn user_id(s: &Server, who: &str) -> String {
    s.sql(
        "admin",
        &format!("SELECT id FROM users WHERE login = '{}'", s.role(who)),
    )
}

#[test]
fn allocation_deals_fairly_and_only_those_who_may_run_it() {
    let Some(s) = Server::new("pa", "alloc") else {
        return;
    };
    org(&s);
    let ids = leads(&s, 7);
    let to = format!(
        "users:{},{},{}",
        s.role("li"),
        s.role("wang"),
        s.role("zhao")
    );
    // Members and other teams' managers may not run it; the rule itself is admins'.
    s.fails(
        "zhao",
        &[
            "rules",
            "set",
            "--allocate",
            "round_robin",
            "--allocate-to",
            &to,
        ],
        4,
    );
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--allocate",
            "round_robin",
            "--allocate-to",
            &to,
        ],
    );
    let shown = s.json("li", &["rules", "show"]);
    assert_eq!(shown["allocate"], "round_robin");
    assert_eq!(shown["allocate_to"], to.as_str());
    s.fails("li", &["allocate"], 4);
    s.fails("qian", &["allocate"], 4);
    // The dry run changes nothing.
    let dry = s.json("zhao", &["allocate", "--dry-run", "--limit", "2"]);
    assert_eq!(logins(&s, &dry), ["li", "wang"]);
    assert_eq!(
        s.sql(
            "admin",
            "SELECT count(*) FROM customers WHERE owner_id IS NOT NULL"
        ),
        "0"
    );
    // Users in id order (li, wang, zhao); each run goes on after the last one's user.
    let first = s.json("zhao", &["allocate", "--limit", "2"]);
    assert_eq!(logins(&s, &first), ["li", "wang"]);
    let second = s.json("zhao", &["allocate", "--limit", "4"]);
    assert_eq!(logins(&s, &second), ["zhao", "li", "wang", "zhao"]);
    let rest = s.json("admin", &["allocate"]);
    assert_eq!(logins(&s, &rest), ["li"]);
    assert_eq!(s.json("admin", &["allocate"]).as_array().unwrap().len(), 0);
    // One event and one audit row per lead, as on SQLite.
    assert_eq!(
        s.sql(
            "admin",
            "SELECT count(*) FROM ownership_events WHERE event = 'assign' AND reason = 'allocate: round_robin'"
        ),
        "7"
    );
    assert_eq!(
        s.sql(
            "admin",
            "SELECT count(*) FROM audit_log WHERE action = 'allocate'"
        ),
        "7"
    );
    let after = s.sql(
        "admin",
        &format!(
            "SELECT after FROM audit_log WHERE action = 'allocate' AND entity_id = {} ",
            ids[0]
        ),
    );
    assert_eq!(
        after,
        format!(r#"{{"owner":"{}","method":"round_robin"}}"#, s.role("li"))
    );
    assert_eq!(
        s.sql(
            "admin",
            "SELECT last_user_id FROM allocation_cursor WHERE pool_id = 1"
        ),
        user_id(&s, "li")
    );
    s.ok("admin", &["doctor"]);
}

#[test]
fn allocation_limits_hold_on_the_server() {
    let Some(s) = Server::new("pa", "alloclimits") else {
        return;
    };
    org(&s);
    leads(&s, 6);
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--max-owned",
            "2",
            "--daily-claims",
            "1",
            "--allocate",
            "least_loaded",
            "--allocate-to",
            "team:east",
        ],
    );
    // Daily cap 1 each: three leads for the three people of east, the rest stays.
    let got = s.json("zhao", &["allocate"]);
    assert_eq!(got.as_array().unwrap().len(), 3);
    assert_eq!(
        s.sql(
            "admin",
            "SELECT count(*) FROM customers WHERE owner_id IS NULL"
        ),
        "3"
    );
    let (li, wang) = (user_id(&s, "li"), user_id(&s, "wang"));
    let pooled = s.sql(
        "admin",
        "SELECT min(id) FROM customers WHERE owner_id IS NULL",
    );
    // psql as the manager: an allocation past the target's daily cap is refused.
    s.refused(
        "zhao",
        &format!(
            "SELECT pool_private.intend('assign', 'allocate'); UPDATE customers SET owner_id = {li} WHERE id = {pooled}"
        ),
        "PT411",
    );
    // A member may not deal (to anyone, themselves included, under the allocation label),
    // nor move the cursor, nor change the rules.
    s.refused(
        "li",
        &format!(
            "SELECT pool_private.intend('assign', 'allocate'); UPDATE customers SET owner_id = {wang} WHERE id = {pooled}"
        ),
        "PT403",
    );
    s.refused(
        "li",
        &format!(
            "SELECT pool_private.intend('assign', 'allocate'); UPDATE customers SET owner_id = {li} WHERE id = {pooled}"
        ),
        "PT403",
    );
    s.refused(
        "li",
        &format!("INSERT INTO allocation_cursor VALUES (1, {li})"),
        "42501",
    );
    s.refused(
        "li",
        &format!("SELECT pool_private.set_allocation_cursor(1, {li})"),
        "42501",
    );
    // Another team's manager may not move this pool's cursor; nobody points it at a stranger.
    s.refused(
        "qian",
        &format!("SELECT pool_private.set_allocation_cursor(1, {li})"),
        "PT403",
    );
    let qian = user_id(&s, "qian");
    s.refused(
        "zhao",
        &format!("SELECT pool_private.set_allocation_cursor(1, {qian})"),
        "PT422",
    );
    s.refused("li", "UPDATE pool_rules SET allocate = 'off'", "42501");
    s.refused(
        "li",
        "INSERT INTO followup_rules VALUES (1, 'claim', '', 'x', 1)",
        "42501",
    );
    s.refused(
        "zhao",
        "INSERT INTO followup_rules VALUES (1, 'claim', '', 'x', 1)",
        "42501",
    );
    // An allocation to someone the pool does not deal to is refused, even by a manager.
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--daily-claims",
            "0",
            "--allocate-to",
            &format!("users:{}", s.role("wang")),
        ],
    );
    s.refused(
        "zhao",
        &format!(
            "SELECT pool_private.intend('assign', 'allocate'); UPDATE customers SET owner_id = {li} WHERE id = {pooled}"
        ),
        "PT403",
    );
}

#[test]
fn import_allocate_on_the_server() {
    let Some(s) = Server::new("pa", "importalloc") else {
        return;
    };
    org(&s);
    leads(&s, 2);
    let to = format!("users:{},{}", s.role("li"), s.role("wang"));
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--allocate",
            "round_robin",
            "--allocate-to",
            &to,
        ],
    );
    let csv = s.dir.path().join("expo.csv");
    let mut text = String::from("name,phone\n");
    for i in 0..4 {
        text.push_str(&format!("展会客户{i},1390000000{i}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    s.fails("li", &["import", csv.to_str().unwrap(), "--allocate"], 4);
    let v = s.json("zhao", &["import", csv.to_str().unwrap(), "--allocate"]);
    assert_eq!(v["imported"], 4);
    assert_eq!(logins(&s, &v["allocated"]), ["li", "wang", "li", "wang"]);
    assert_eq!(
        s.sql(
            "admin",
            "SELECT count(*) FROM customers WHERE owner_id IS NULL"
        ),
        "2"
    );
}

fn last_contact(s: &Server, id: &str) -> String {
    s.sql(
        "admin",
        &format!("SELECT coalesce(last_contact_at::text, 'none') FROM customers WHERE id = {id}"),
    )
}

#[test]
fn only_real_contact_moves_the_recycle_clock_on_the_server() {
    let Some(s) = Server::new("pa", "contact") else {
        return;
    };
    org(&s);
    let id = leads(&s, 1).remove(0);
    s.ok("li", &["claim", &id]);
    // Through the binary: a note is not contact, a call of "." too short.
    let v = s.json("li", &["log", &id, "note", "内部备注：下周再说"]);
    assert_eq!(v["counts_as_contact"], false);
    let v = s.json("li", &["log", &id, "call", "."]);
    assert_eq!(v["counts_as_contact"], false);
    assert_eq!(last_contact(&s, &id), "none");
    // psql as the member: the server decides, not the client; white space (full-width
    // included) does not make a summary long enough.
    let now = "floor(extract(epoch FROM now()))::bigint";
    for (kind, summary) in [
        ("note", "很长很长的一条备注"),
        ("call", " . "),
        ("call", "\u{3000}好\u{3000}"),
    ] {
        s.sql(
            "li",
            &format!(
                "INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at)
                 VALUES ({id}, 0, '{kind}', '{summary}', {now}, {now})"
            ),
        );
        assert_eq!(last_contact(&s, &id), "none", "{kind} {summary:?}");
    }
    let v = s.json("li", &["log", &id, "call", "未接"]);
    assert_eq!(v["counts_as_contact"], true);
    assert_ne!(last_contact(&s, &id), "none");
    // The admin's rules: notes count, any length; visits do not.
    s.fails("zhao", &["rules", "set", "--min-contact-chars", "5"], 4);
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--contact-kinds",
            "call,note",
            "--min-contact-chars",
            "0",
        ],
    );
    let shown = s.json("li", &["rules", "show"]);
    assert_eq!(shown["contact_kinds"], serde_json::json!(["call", "note"]));
    assert_eq!(shown["min_contact_chars"], 0);
    let id2 = leads(&s, 1).remove(0);
    s.ok("li", &["claim", &id2]);
    let v = s.json("li", &["log", &id2, "visit", "上门拜访了"]);
    assert_eq!(v["counts_as_contact"], false);
    assert_eq!(last_contact(&s, &id2), "none");
    s.sql(
        "li",
        &format!(
            "INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at)
             VALUES ({id2}, 0, 'note', 'x', {now}, {now})"
        ),
    );
    assert_ne!(last_contact(&s, &id2), "none", "a note counts now");
    s.refused(
        "li",
        "UPDATE pool_rules SET min_contact_chars = 0, contact_kinds = 'note'",
        "42501",
    );
}

fn open_followups(s: &Server, id: &str) -> Vec<String> {
    let out = s.sql(
        "admin",
        &format!(
            "SELECT f.action || '|' || u.login || '|' || (f.due::date - (to_timestamp(f.created_at) AT TIME ZONE 'UTC')::date)
               FROM followups f JOIN users u ON u.id = f.assignee_id
              WHERE f.customer_id = {id} AND f.status = 'open' ORDER BY f.id"
        ),
    );
    out.lines()
        .map(|l| l.replace(&format!("{}_", s.db), ""))
        .collect()
}

#[test]
fn followup_rules_are_planned_by_the_server() {
    let Some(s) = Server::new("pa", "plans") else {
        return;
    };
    org(&s);
    // Days counted in UTC, so the test's expected due dates do not depend on the machine.
    s.ok("admin", &["settings", "set", "timezone", "UTC"]);
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--on",
            "claim",
            "--plan",
            "首次联系",
            "--due-in",
            "1",
        ],
    );
    s.ok(
        "admin",
        &[
            "rules", "set", "--on", "deal", "--plan", "回访", "--due-in", "30",
        ],
    );
    let shown = s.ok("li", &["rules", "show"]);
    assert!(shown.contains("首次联系 in 1 day(s)"), "{shown}");
    let ids = leads(&s, 4);
    // A claim through the binary: one follow-up (the server's, not a second from the app).
    s.ok("li", &["claim", &ids[0]]);
    assert_eq!(open_followups(&s, &ids[0]), ["首次联系|li|1"]);
    // A claim with psql, skipping the app: planned all the same.
    let li = user_id(&s, "li");
    s.sql(
        "li",
        &format!("UPDATE customers SET owner_id = {li} WHERE id = {}", ids[1]),
    );
    assert_eq!(open_followups(&s, &ids[1]), ["首次联系|li|1"]);
    // The manager assigns from the pool: planned for the new owner.
    s.ok("zhao", &["assign", &ids[2], "--to", &s.role("wang")]);
    assert_eq!(open_followups(&s, &ids[2]), ["首次联系|wang|1"]);
    // A deal plans the return visit, audited with its rule.
    s.ok("li", &["deal", "add", &ids[0], "--amount", "1000"]);
    assert_eq!(open_followups(&s, &ids[0]), ["首次联系|li|1", "回访|li|30"]);
    let after = s.sql(
        "admin",
        "SELECT after FROM audit_log WHERE action = 'followup_add' ORDER BY seq DESC LIMIT 1",
    );
    assert!(after.contains(r#""rule":"deal""#), "{after}");
    assert_eq!(
        s.sql(
            "admin",
            "SELECT count(*) FROM audit_log WHERE action = 'followup_add'"
        ),
        "4"
    );
    // Removed: nothing more is planned.
    s.ok("admin", &["rules", "set", "--on", "claim", "--remove"]);
    s.ok("li", &["claim", &ids[3]]);
    assert!(open_followups(&s, &ids[3]).is_empty());
}

#[test]
fn a_silent_customer_gets_a_followup_on_the_server() {
    let Some(s) = Server::new("pa", "silent") else {
        return;
    };
    org(&s);
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--recycle-no-contact-days",
            "3",
            "--warn-days",
            "5",
            "--on",
            "silent",
            "--plan",
            "再次联系",
            "--due-in",
            "2",
        ],
    );
    let ids = leads(&s, 1);
    s.ok("li", &["claim", &ids[0]]);
    s.ok("zhao", &["recycle"]);
    let open = open_followups(&s, &ids[0]);
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(open[0].starts_with("再次联系|li|"), "{open:?}");
    s.ok("zhao", &["recycle"]);
    assert_eq!(open_followups(&s, &ids[0]).len(), 1, "not twice");
}

#[test]
fn demo_on_the_server() {
    let Some(mut s) = Server::new("pa", "demo") else {
        return;
    };
    s.extra_roles = customer_pool::demo::PEOPLE
        .iter()
        .map(|p| p.0.to_string())
        .collect();
    org(&s);
    s.fails("li", &["demo", "--customers", "50"], 4);
    s.refused("li", "SELECT pool_private.load_demo('[]')", "42501");
    s.refused("zhao", "SELECT pool_private.load_demo('[]')", "42501");
    let v = s.json("admin", &["demo", "--customers", "2000"]);
    let n = v["customers"].as_i64().unwrap();
    assert!(n > 1500, "{v}");
    assert_eq!(
        s.sql("admin", "SELECT count(*) FROM customers")
            .parse::<i64>()
            .unwrap(),
        n
    );
    assert_eq!(
        s.sql(
            "admin",
            "SELECT count(*) FROM ownership_events WHERE event = 'claim'"
        ),
        v["owned"].to_string()
    );
    assert_eq!(
        s.sql("admin", "SELECT count(*) FROM interactions"),
        v["interactions"].to_string()
    );
    assert_eq!(
        s.sql("admin", "SELECT count(*) FROM deals"),
        v["deals"].to_string()
    );
    // Back-dated history, never after now; owned customers have recycle dates.
    assert_eq!(
        s.sql(
            "admin",
            "SELECT count(*) FROM customers WHERE created_at > floor(extract(epoch FROM now())) OR
                    (owner_id IS NOT NULL AND stage <> 'loyal' AND recycle_due_at IS NULL)"
        ),
        "0"
    );
    assert_eq!(
        s.sql(
            "admin",
            "SELECT count(*) FROM audit_log WHERE action = 'demo'"
        ),
        "1"
    );
    s.ok("admin", &["audit", "verify"]);
    s.ok("admin", &["doctor"]);
}

/// Migration 27 closed the base table's text columns to managers; recycling by per-tag
/// days reads the tags through the view, so a manager's recycle still spares the tagged
/// customers, and a tag holding a phone does not get in the way. A manager recycles
/// within the team (dry run and real run alike); the admin, everyone's.
#[test]
fn a_manager_recycles_by_tag_days_reading_tags_through_the_view() {
    let Some(s) = Server::new("pa", "recycletag") else {
        return;
    };
    org(&s);
    s.add_user("zhou", "north", "member");
    s.ok(
        "admin",
        &["rules", "set", "--recycle-no-contact-days", "30"],
    );
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--for",
            "tag=vip",
            "--recycle-no-contact-days",
            "90",
        ],
    );
    let add = |name: &str, tags: &str| {
        let mut args = vec!["add", "--name", name, "--pool"];
        if !tags.is_empty() {
            args.extend(["--tags", tags]);
        }
        s.json("admin", &args)["id"]
            .as_i64()
            .expect("id")
            .to_string()
    };
    let ids = [
        add("东区贵宾", "vip"),
        add("东区普通", ""),
        add("北区贵宾", "vip,13912345678"),
        add("北区普通", ""),
    ];
    s.ok("li", &["claim", &ids[0], &ids[1]]);
    s.ok("zhou", &["claim", &ids[2], &ids[3]]);
    s.refused("zhao", "SELECT tags FROM customers", "42501");
    // A rules change re-dates the owned customers once, at its commit (migration 29).
    let days = || {
        s.sql(
            "",
            &format!(
                "SELECT string_agg(((recycle_due_at - claimed_at) / 86400)::text, ',' ORDER BY id)
                   FROM customers WHERE id IN ({})",
                ids.join(",")
            ),
        )
    };
    assert_eq!(days(), "90,30,90,30");
    s.ok(
        "admin",
        &["rules", "set", "--recycle-no-contact-days", "20"],
    );
    assert_eq!(days(), "90,20,90,20");
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--for",
            "tag=vip",
            "--recycle-no-contact-days",
            "60",
        ],
    );
    assert_eq!(days(), "60,20,60,20");
    s.ok(
        "admin",
        &["rules", "set", "--recycle-no-contact-days", "30"],
    );
    let due = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap().to_string())
            .collect()
    };
    // 40 days on: the untagged ones are due, the vip ones (90 days) are not.
    let later = (chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        + chrono::Duration::days(40))
    .to_rfc3339();
    let dry_run = |who: &str| -> Vec<String> {
        let out = s
            .cmd(who)
            .env("POOL_NOW", &later)
            .args(["--format", "json", "recycle", "--dry-run"])
            .output()
            .expect("run pool");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        due(serde_json::from_slice(&out.stdout).expect("JSON"))
    };
    // A manager recycles within the team; the admin sees both.
    assert_eq!(dry_run("zhao"), [ids[1].clone()]);
    assert_eq!(dry_run("admin"), [ids[1].clone(), ids[3].clone()]);
    // And for real, the claims 40 days old (set by the database owner).
    s.sql(
        "",
        &format!(
            "UPDATE customers SET claimed_at = claimed_at - 40 * 86400 WHERE id IN ({})",
            ids.join(",")
        ),
    );
    assert_eq!(due(s.json("zhao", &["recycle"])), [ids[1].clone()]);
    assert_eq!(due(s.json("qian", &["recycle"])), [ids[3].clone()]);
    assert!(due(s.json("admin", &["recycle"])).is_empty());
}
