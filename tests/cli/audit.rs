//! Step 6: a provable audit trail, the role matrix, erasure.
use customer_pool::domain::audit::{chain_hash, Entry, GENESIS};
use customer_pool::domain::roles::{allowed, Action, Role};
use rusqlite::Connection;

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

#[test]
fn intact_chain_verifies_and_prints_its_head() {
    let env = busy_env();
    let v = env.json(&["audit", "verify"]);
    assert_eq!(v["ok"], true);
    let n = env.query_i64("SELECT count(*) FROM audit_log");
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
    let env = busy_env();
    let c = tamper(&env);
    c.execute("UPDATE audit_log SET actor = 'lihuA' WHERE seq = 7", [])
        .unwrap();
    let err = env.fails_as("admin", &["audit", "verify"], 8);
    assert!(err.contains("row 7 was edited"), "{err}");
}

#[test]
fn a_deleted_row_is_missing() {
    let env = busy_env();
    tamper(&env)
        .execute("DELETE FROM audit_log WHERE seq = 5", [])
        .unwrap();
    let err = env.fails_as("admin", &["audit", "verify"], 8);
    assert!(err.contains("row 5 is missing"), "{err}");
}

#[test]
fn swapped_rows_are_caught() {
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
    let env = busy_env();
    let h = head(&env);
    let n = env.query_i64("SELECT max(seq) FROM audit_log");
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
    let env = busy_env();
    let h = head(&env);
    let c = tamper(&env);
    c.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", [])
        .unwrap();
    // Recompute every hash from row 1, as a careful attacker would.
    let mut rows = Vec::new();
    customer_pool::store::audit::for_each(&c, |row| {
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
fn eight_concurrent_writers_keep_one_chain() {
    let env = TestEnv::new();
    let children: Vec<_> = (0..8)
        .map(|k| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("pool"))
                .env_clear()
                .env("POOL_DB", env.db())
                .env("POOL_USER", "admin")
                .env("NO_COLOR", "1")
                .args(["team", "add", &format!("team{k}")])
                .output()
        })
        .collect();
    // Spawned one after another above; now run 8 writers truly at once.
    drop(children);
    let handles: Vec<_> = (0..8)
        .map(|k| {
            let db = env.db();
            std::thread::spawn(move || {
                for j in 0..10 {
                    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("pool"))
                        .env_clear()
                        .env("POOL_DB", &db)
                        .env("POOL_USER", "admin")
                        .args([
                            "add",
                            "--name",
                            &format!("w{k}-{j}"),
                            "--phone",
                            &format!("1380{k:03}{j:04}"),
                            "--pool",
                        ])
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let v = env.json(&["audit", "verify"]);
    assert_eq!(v["ok"], true);
    assert_eq!(
        env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'customer_add'"),
        80
    );
}

fn raw_files_contain(env: &TestEnv, needle: &str) -> bool {
    let mut found = false;
    for suffix in ["", "-wal"] {
        let p = format!("{}{suffix}", env.db().display());
        if let Ok(bytes) = std::fs::read(&p) {
            found |= bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        }
    }
    found
}

#[test]
fn forget_erases_the_bytes_and_keeps_the_chain() {
    let env = TestEnv::new();
    env.user("lihua", "sales", "member");
    let id = env.json_as(
        "lihua",
        &[
            "add",
            "--name",
            "待删除",
            "--phone",
            "13912345678",
            "--email",
            "gone@example.com",
            "--address",
            "浙江省杭州市西湖区秘密路1号",
        ],
    )["id"]
        .to_string();
    env.ok_as(
        "lihua",
        &["log", &id, "call", "客户手机 13912345678 已确认"],
    );
    env.ok_as(
        "lihua",
        &["followup", "add", &id, "--due", "+3d", "回电 13912345678"],
    );
    // Some other data so the file has more than one page of customers.
    env.ok(&["demo", "--customers", "300"]);
    assert!(raw_files_contain(&env, "13912345678"));
    env.fails_as("lihua", &["forget", &id, "--yes"], 4);
    env.ok(&["forget", &id, "--yes"]);
    env.sql("PRAGMA wal_checkpoint(TRUNCATE)");
    for needle in ["13912345678", "8613912345678", "gone@example.com", "秘密路"] {
        assert!(
            !raw_files_contain(&env, needle),
            "{needle} is still in the file"
        );
    }
    env.fails_as("admin", &["show", &id], 3);
    env.ok(&["audit", "verify"]);
    let after: String = env
        .sql("")
        .query_row(
            "SELECT after FROM audit_log WHERE action = 'forget'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        after.contains("erased_fields") && !after.contains("1391234"),
        "{after}"
    );
    env.fails_as("admin", &["forget", &id, "--yes"], 5);
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
        .sql("")
        .query_row("SELECT group_concat(after, ' ') FROM audit_log", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        !all.contains("13800001111"),
        "a full phone number is in the audit log: {all}"
    );
}

/// Every role × every command: allowed by the table, or exit 4.
#[test]
fn role_matrix() {
    let commands: Vec<(Vec<&str>, Action)> = vec![
        (vec!["list"], Action::ReadCustomers),
        (vec!["show", "1"], Action::ReadCustomers),
        (vec!["agenda"], Action::ReadCustomers),
        (vec!["followup", "list"], Action::ReadCustomers),
        (vec!["pools", "list"], Action::ReadCustomers),
        (vec!["rules", "show"], Action::ReadRules),
        (vec!["user", "list"], Action::ReadUsers),
        (vec!["team", "list"], Action::ReadUsers),
        (vec!["export"], Action::Export),
        (vec!["export", "--unmasked"], Action::ExportUnmasked),
        (
            vec!["add", "--name", "n", "--phone", "13700000000"],
            Action::AddCustomer,
        ),
        (vec!["edit", "1", "--city", "x"], Action::EditCustomer),
        (vec!["claim", "2"], Action::Claim),
        (vec!["log", "1", "note", "x"], Action::Log),
        (
            vec!["followup", "add", "1", "--due", "today", "x"],
            Action::FollowUp,
        ),
        (vec!["deal", "add", "1", "--amount", "1"], Action::Deal),
        (vec!["lock", "1"], Action::Lock),
        (vec!["import", "-"], Action::Import),
        (vec!["assign", "3", "--to", "other"], Action::Assign),
        (
            vec!["transfer", "--from", "other", "--to", "actor", "--all"],
            Action::Transfer,
        ),
        (vec!["recycle", "--dry-run"], Action::Recycle),
        (vec!["audit", "log"], Action::ReadAudit),
        (vec!["audit", "verify"], Action::ReadAudit),
        (
            vec!["pools", "add", "p", "--team", "t"],
            Action::ManagePools,
        ),
        (
            vec!["rules", "set", "--warn-days", "4"],
            Action::ManageRules,
        ),
        (vec!["team", "add", "t2"], Action::ManageTeams),
        (vec!["user", "add", "u2"], Action::ManageUsers),
        (vec!["demo", "--customers", "1"], Action::Demo),
        (
            vec!["release", "1", "--reason", "x", "--cancel-followups"],
            Action::Release,
        ),
        (vec!["delete", "4", "--yes"], Action::DeleteCustomer),
        (vec!["forget", "4", "--yes"], Action::ForgetCustomer),
    ];
    for role in [Role::Admin, Role::Manager, Role::Member, Role::Viewer] {
        let env = TestEnv::new();
        env.user("actor", "t", role.as_str());
        env.user("other", "t", "member");
        let owner = if role == Role::Viewer {
            "other"
        } else {
            "actor"
        };
        for i in 1..=4 {
            env.pooled(&format!("c{i}"), &format!("1380000000{i}"));
        }
        env.ok(&["rules", "set", "--max-locked", "5"]);
        env.ok(&["assign", "1", "--to", owner]);
        for (args, action) in &commands {
            let mut cmd = env.cmd_as("actor");
            let out = cmd
                .args(args)
                .write_stdin("name,phone\nx,13600000000\n")
                .output()
                .unwrap();
            let code = out.status.code();
            if allowed(role, *action) {
                assert_ne!(
                    code,
                    Some(4),
                    "{role:?} {args:?} should be allowed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            } else {
                assert_eq!(
                    code,
                    Some(4),
                    "{role:?} {args:?} should be refused: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}
