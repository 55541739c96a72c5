//! `pool audit verify` / `pool audit log`: a provable trail, and what each change writes to it.
use customer_pool::domain::audit::{chain_hash, Entry, GENESIS};
use rusqlite::Connection;
use serde_json::Value;

use crate::common::fixtures::{admin_owned, sales_teams, two_teams};
use crate::common::TestEnv;

/// A database with a few dozen audit rows.
fn busy_env() -> TestEnv {
    let env = TestEnv::new();
    env.user("lihua", "sales", "member");
    for i in 0..10 {
        let id = env
            .pooled(&format!("c{i}"), &format!("1380000{i:04}"))
            .to_string();
        env.ok_as("lihua", &["claim", &id]);
    }
    env
}

fn head(env: &TestEnv) -> String {
    let v = env.json(&["audit", "verify"]);
    format!("{}:{}", v["head_seq"], v["head_hash"].as_str().unwrap())
}

/// Opens the file the way an attacker would: triggers dropped.
fn tamper(env: &TestEnv) -> Connection {
    let c = Connection::open(env.db()).unwrap();
    c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    c
}

// ------------------------------------------------------------------ item 16

/// The actions of `pool audit log --customer ID`, oldest first.
fn customer_log(env: &TestEnv, id: &str) -> Vec<String> {
    let v = env.json(&["audit", "log", "--customer", id, "--limit", "0"]);
    let mut actions: Vec<String> = v
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["action"].as_str().unwrap_or("").to_string())
        .collect();
    actions.reverse();
    actions
}

#[test]
fn intact_chain_verifies_and_prints_its_head() {
    let env = busy_env();
    let v = env.json(&["audit", "verify"]);
    assert_eq!(v["ok"], true);
    let n = env.count("audit_log");
    assert_eq!(v["rows"], n);
    assert_eq!(v["head_seq"], n);
    let h = head(&env);
    env.ok(&["audit", "verify", "--expect", &h]);
    // The head stays valid as the chain grows.
    env.pooled("later", "13900000000");
    env.ok(&["audit", "verify", "--expect", &h]);
}

#[test]
fn an_edited_byte_names_its_row() {
    sqlite_only!("tampers with the audit rows in the SQLite file (a server's audit log is append-only: pg_server)");
    let env = busy_env();
    let c = tamper(&env);
    c.execute("UPDATE audit_log SET actor = 'lihuA' WHERE seq = 7", [])
        .unwrap();
    let err = env.fails_as("admin", &["audit", "verify"], 8);
    assert!(err.contains("row 7 was edited"), "{err}");
}

#[test]
fn a_deleted_row_is_missing() {
    sqlite_only!("tampers with the audit rows in the SQLite file (a server's audit log is append-only: pg_server)");
    let env = busy_env();
    tamper(&env)
        .execute("DELETE FROM audit_log WHERE seq = 5", [])
        .unwrap();
    let err = env.fails_as("admin", &["audit", "verify"], 8);
    assert!(err.contains("row 5 is missing"), "{err}");
}

#[test]
fn swapped_rows_are_caught() {
    sqlite_only!("tampers with the audit rows in the SQLite file (a server's audit log is append-only: pg_server)");
    let env = busy_env();
    let c = tamper(&env);
    c.execute_batch(
        "UPDATE audit_log SET seq = -4 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = 5;
         UPDATE audit_log SET seq = 5 WHERE seq = -4;",
    )
    .unwrap();
    let err = env.fails_as("admin", &["audit", "verify"], 8);
    assert!(err.contains("row 4"), "{err}");
}

#[test]
fn a_truncated_tail_is_caught_with_expect() {
    sqlite_only!("tampers with the audit rows in the SQLite file (a server's audit log is append-only: pg_server)");
    let env = busy_env();
    let h = head(&env);
    let n = env.audit_head_seq();
    tamper(&env)
        .execute("DELETE FROM audit_log WHERE seq > ?1", [n - 3])
        .unwrap();
    // The head remembered from the last verify (by `head`) catches it…
    let err = env.fails_as("admin", &["audit", "verify"], 8);
    assert!(
        err.contains("no longer contains the head verified"),
        "{err}"
    );
    // …a chain accepted as it is looks fine on its own…
    env.ok(&["audit", "verify", "--forget-head"]);
    // …and the head kept elsewhere still shows the truncation.
    let err = env.fails_as("admin", &["audit", "verify", "--expect", &h], 8);
    assert!(err.contains("truncated or rewritten"), "{err}");
}

#[test]
fn a_rewritten_chain_is_caught_with_expect() {
    sqlite_only!("tampers with the audit rows in the SQLite file (a server's audit log is append-only: pg_server)");
    let env = busy_env();
    let h = head(&env);
    let c = tamper(&env);
    c.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", [])
        .unwrap();
    // Recompute every hash from row 1, as a careful attacker would.
    let mut rows = Vec::new();
    customer_pool::store::sqlite::audit::for_each(&c, |row| {
        rows.push(row);
        Ok(true)
    })
    .unwrap();
    let mut prev = GENESIS.to_string();
    for r in &rows {
        let e = Entry {
            seq: r.seq,
            at: r.at,
            actor: &r.actor,
            action: &r.action,
            entity: &r.entity,
            entity_id: r.entity_id,
            before: r.before.as_deref(),
            after: r.after.as_deref(),
            os_user: r.os_user.as_deref(),
            sim_at: r.sim_at,
        };
        let h = chain_hash(&prev, &e);
        c.execute(
            "UPDATE audit_log SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![prev, h, r.seq],
        )
        .unwrap();
        prev = h;
    }
    let err = env.fails_as("admin", &["audit", "verify"], 8);
    assert!(
        err.contains("no longer contains the head verified"),
        "{err}"
    );
    env.ok(&["audit", "verify", "--forget-head"]);
    let err = env.fails_as("admin", &["audit", "verify", "--expect", &h], 8);
    assert!(err.contains("truncated or rewritten"), "{err}");
}

#[test]
fn verify_remembers_the_head_and_catches_a_truncated_chain() {
    sqlite_only!("tampers with the audit rows in the SQLite file (a server's audit log is append-only: pg_server)");
    let (env, _, _) = two_teams();
    env.ok(&["audit", "verify"]);
    // A rewrite that keeps a valid, shorter chain: drop the triggers, cut the tail.
    let c = Connection::open(env.db()).unwrap();
    c.execute_batch(
        "DROP TRIGGER audit_no_delete;
         DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 2 FROM audit_log);
         CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log
         BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;",
    )
    .unwrap();
    let err = env.fails_as("admin", &["audit", "verify"], 8);
    assert!(
        err.contains("no longer contains the head verified"),
        "{err}"
    );
    // Accepting it is a deliberate act.
    env.ok(&["audit", "verify", "--forget-head"]);
    env.ok(&["audit", "verify"]);
}

#[test]
fn verify_flags_a_back_dated_row() {
    sqlite_only!("tampers with the audit rows in the SQLite file (a server's audit log is append-only: pg_server)");
    use customer_pool::domain::audit::{chain_hash, Entry};
    let env = TestEnv::new();
    env.pooled("c1", "13800000001");
    env.ok(&["audit", "verify"]);
    // A row appended with a valid hash but dated before its predecessor, as a process
    // with a forged clock (or an old binary under POOL_NOW) would write it.
    let c = Connection::open(env.db()).unwrap();
    let (seq, prev_hash, at): (i64, String, i64) = c
        .query_row(
            "SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let e = Entry {
        seq: seq + 1,
        at: at - 86_400,
        actor: "admin",
        action: "customer_edit",
        entity: "customer",
        entity_id: Some(1),
        before: None,
        after: None,
        os_user: None,
        sim_at: None,
    };
    let hash = chain_hash(&prev_hash, &e);
    c.execute(
        "INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, prev_hash, hash) VALUES (?1, ?2, 'admin', 'customer_edit', 'customer', 1, ?3, ?4)",
        rusqlite::params![e.seq, e.at, prev_hash, hash],
    )
    .unwrap();
    let err = env.fails_as("admin", &["audit", "verify"], 8);
    assert!(err.contains("back-dated"), "{err}");
}

#[test]
fn a_malformed_expected_head_is_invalid_input_not_a_broken_chain() {
    let env = TestEnv::new();
    for bad in ["zzz", "3:zzz", "x:0000", &"g".repeat(64)] {
        let err = env.fails_as("admin", &["audit", "verify", "--expect", bad], 6);
        assert!(err.contains("invalid --expect"), "{err}");
        assert!(!err.contains("truncated or rewritten"), "{err}");
    }
    // A well-formed head that is not in the chain is still an integrity failure.
    let absent = "ab".repeat(32);
    env.fails_as("admin", &["audit", "verify", "--expect", &absent], 8);
}

#[test]
fn audit_log_filters_and_managers_see_their_team() {
    let env = busy_env();
    env.user("zhao", "sales", "manager");
    env.user("wang", "north", "member");
    let id = env.pooled("north-c", "13912340000").to_string();
    env.ok_as("wang", &["claim", &id]);
    let rows = env.json(&["audit", "log", "--customer", &id]);
    let actions: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["claim", "customer_add"]);
    let claims = env.json(&["audit", "log", "--action", "claim", "--limit", "0"]);
    assert_eq!(claims.as_array().unwrap().len(), 11);
    let mine = env.json(&["audit", "log", "--user", "wang"]);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let team = env.json_as(
        "zhao",
        &["audit", "log", "--action", "claim", "--limit", "0"],
    );
    assert_eq!(
        team.as_array().unwrap().len(),
        10,
        "the manager sees sales, not north"
    );
    // Audit rows carry the real time (not POOL_NOW): nothing is dated in the future.
    assert!(env
        .json(&["audit", "log", "--since", "2999-01-01"])
        .as_array()
        .unwrap()
        .is_empty());
    assert!(!env
        .json(&["audit", "log", "--since", "2026-01-01"])
        .as_array()
        .unwrap()
        .is_empty());
    env.fails_as("lihua", &["audit", "log"], 4);
    env.fails_as("admin", &["audit", "log", "--user", "nobody"], 3);
}

#[test]
fn unmasked_reads_are_logged() {
    let env = TestEnv::new();
    env.user("zhao", "sales", "manager");
    env.user("lihua", "sales", "member");
    let id = env.pooled("客户", "13800001111").to_string();
    env.ok_as("zhao", &["show", &id]);
    env.ok_as("zhao", &["list", "--city", "杭州"]);
    env.ok_as("lihua", &["show", &id]); // masked: not logged
    let rows = env.json(&["audit", "log", "--action", "view_unmasked"]);
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["actor"] == "zhao"));
    let all: String = env
        .audit_log()
        .into_iter()
        .filter_map(|r| r.after)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        !all.contains("13800001111"),
        "a full phone number is in the audit log: {all}"
    );
}

#[test]
fn every_mutation_writes_an_audit_row() {
    let env = TestEnv::new();
    let before = env.count("audit_log");
    env.user("lihua", "sales", "member");
    let id = env.json_as(
        "lihua",
        &["add", "--name", "王五", "--phone", "13900139000"],
    )["id"]
        .as_i64()
        .unwrap();
    env.ok_as("lihua", &["edit", &id.to_string(), "--city", "上海"]);
    env.ok(&["delete", &id.to_string(), "--yes"]);
    let actions: Vec<String> = env
        .audit_log()
        .into_iter()
        .filter(|r| r.seq > before)
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            "team_add",
            "user_add",
            "customer_add",
            "customer_edit",
            "customer_delete"
        ]
    );
    // Personal data in audit payloads is masked.
    let leaked = env.count("audit_log WHERE after LIKE '%13900139000%'");
    assert_eq!(leaked, 0);
    // The chain links.
    let broken =
        env.count("audit_log a JOIN audit_log b ON b.seq = a.seq + 1 WHERE b.prev_hash <> a.hash");
    assert_eq!(broken, 0);
}

#[test]
fn every_change_to_a_customer_is_found_by_its_id_and_payloads_are_json() {
    let env = sales_teams();
    // Imported: found through its import.
    std::fs::write(
        env.dir.path().join("leads.csv"),
        "name,phone,city\n甲,13800000001,杭州\n乙,13800000002,杭州\n丙,13800000003,上海\n",
    )
    .expect("write");
    let s = env.json(&["import", "leads.csv", "--rejects", "rejects.csv"]);
    let first = s["first_id"].as_i64().expect("first id");
    let (a, b, c) = (
        first.to_string(),
        (first + 1).to_string(),
        (first + 2).to_string(),
    );
    assert_eq!(customer_log(&env, &b), ["import"]);
    let other = admin_owned(&env, "丁", "13800000009");
    assert!(!customer_log(&env, &other).contains(&"import".to_string()));

    // Claimed, then moved in bulk by transfer --all and by a deactivation.
    env.ok_as("lihua", &["claim", &a, &b]);
    env.ok_as(
        "lihua",
        &["followup", "add", &a, "--due", "2026-12-01", "call"],
    );
    env.ok_as(
        "zhao",
        &["transfer", "--from", "lihua", "--to", "chen", "--all"],
    );
    env.ok(&["user", "deactivate", "chen"]);
    // Merged: the merged-away customer finds the merge and its undo.
    let m = env.json(&["merge", &b, &c]);
    let merge_id = m["merge_id"].as_i64().expect("merge id").to_string();
    env.ok(&["dedupe", "undo", &merge_id]);
    assert_eq!(
        customer_log(&env, &a),
        [
            "import",
            "claim",
            "followup_add",
            "transfer",
            "user_deactivate"
        ]
    );
    assert_eq!(
        customer_log(&env, &c),
        ["import", "merged_into", "merge_restored"],
        "the customer merged into {b}"
    );
    let log = env.json(&["audit", "log", "--customer", &a, "--action", "transfer"]);
    let before: Value =
        serde_json::from_str(log[0]["before"].as_str().expect("before")).expect("JSON");
    assert_eq!(before["owner"], "lihua");

    // Every payload is JSON; filters are objects, not Rust debug text.
    env.ok(&["export", "--city", "杭州", "--stage", "lead"]);
    env.ok(&["list", "--city", "杭州"]);
    let all = env.json(&["audit", "log", "--limit", "0"]);
    for row in all.as_array().expect("rows") {
        for side in ["before", "after"] {
            if let Some(text) = row[side].as_str() {
                let parsed: Result<Value, _> = serde_json::from_str(text);
                assert!(parsed.is_ok(), "{side} of {row}");
                assert!(!text.contains("FilterArgs"), "{row}");
            }
        }
    }
    let export = env.json(&["audit", "log", "--action", "export"]);
    let after: Value =
        serde_json::from_str(export[0]["after"].as_str().expect("after")).expect("JSON");
    assert_eq!(
        after["filter"],
        serde_json::json!({"city": "杭州", "stage": "lead"})
    );
    assert_eq!(after["format"], "csv");
    let view = env.json(&["audit", "log", "--action", "view_unmasked"]);
    let after: Value =
        serde_json::from_str(view[0]["after"].as_str().expect("after")).expect("JSON");
    assert_eq!(after["filter"], serde_json::json!({"city": "杭州"}));
}

/// A malformed `--expect` and a chain that no longer holds the expected head.
#[test]
fn snap_verify_refusals() {
    let env = TestEnv::new();
    insta::assert_snapshot!(
        "malformed_expect",
        env.snap(&["audit", "verify", "--expect", "zzz"])
    );
    // The head's hash covers the real time of each row: it differs on every run.
    let out = env.snap(&["audit", "verify", "--expect", &"ab".repeat(32)]);
    let (before, after) = out.split_once("(head now ").expect("the head now");
    let rest = after.split_once(')').map_or("", |(_, r)| r);
    insta::assert_snapshot!("absent_head", format!("{before}(head now [HEAD]){rest}"));
}
