//! `pool delete` (a tombstone) and `pool forget` (erasure).
use serde_json::Value;

use crate::common::fixtures::{claimed, sales_teams, sales_with_viewer};
use crate::common::TestEnv;

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

/// Whether the database still holds `needle`: the SQLite file's bytes, or on a server
/// any row of any table (its storage is PostgreSQL's).
fn db_holds(env: &TestEnv, needle: &str) -> bool {
    if !env.is_pg() {
        return raw_files_contain(env, needle);
    }
    let tables = env.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    tables.iter().flatten().flatten().any(|t| {
        env.query_i64(&format!(
            "SELECT count(*) FROM {t} x WHERE x::text LIKE '%{needle}%'"
        )) > 0
    })
}

#[test]
fn viewers_read_only_and_managers_delete() {
    let env = sales_with_viewer();
    env.fails_as("lin", &["add", "--name", "x"], 4);
    let id = env.pooled("李四", "13900139000").to_string();
    env.fails_as("lihua", &["delete", &id, "--yes"], 4);
    // Without a terminal and without --yes, delete refuses (usage error).
    let err = env.fails_as("zhao", &["delete", &id], 2);
    assert!(err.contains("--yes"), "{err}");
    env.ok_as("zhao", &["delete", &id, "--yes"]);
    env.fails_as("zhao", &["show", &id], 3);
    assert!(env.json(&["list"]).as_array().unwrap().is_empty());
    // Tombstone: the row is still there.
    assert_eq!(env.count("customers WHERE deleted_at IS NOT NULL"), 1);
}

#[test]
fn deleting_a_customer_never_orphans_its_history() {
    let env = sales_teams();
    let id = claimed(&env, "lihua", "13800000001");
    env.ok_as(
        "lihua",
        &["log", &id, "call", "x", "--next", "y", "--due", "+1d"],
    );
    env.ok_as("lihua", &["deal", "add", &id, "--amount", "1"]);
    env.ok(&["delete", &id, "--yes"]);
    for t in ["interactions", "followups", "deals"] {
        let n = env.count(&format!("{t} WHERE customer_id = {id}"));
        assert_eq!(n, 1, "{t}");
    }
    // Its open follow-up was cancelled with it.
    assert_eq!(
        env.count(&format!(
            "followups WHERE customer_id = {id} AND status = 'cancelled'"
        )),
        1
    );
    // A hard delete is refused by the foreign keys (on a server even for a superuser).
    let delete = format!("DELETE FROM customers WHERE id = {id}");
    match &env.pg {
        Some(db) => assert!(db.client().batch_execute(&delete).is_err()),
        None => {
            let conn = env.sql("");
            assert_eq!(env.count("pragma_foreign_key_check"), 0);
            conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
            assert!(conn.execute(&delete, []).is_err());
        }
    }
    let _: Value = env.json(&["list"]);
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
    assert!(db_holds(&env, "13912345678"));
    env.fails_as("lihua", &["forget", &id, "--yes"], 4);
    env.ok(&["forget", &id, "--yes"]);
    if !env.is_pg() {
        env.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    for needle in ["13912345678", "8613912345678", "gone@example.com", "秘密路"] {
        assert!(!db_holds(&env, needle), "{needle} is still in the database");
    }
    env.fails_as("admin", &["show", &id], 3);
    env.ok(&["audit", "verify"]);
    let after = env.last_audit("forget").after.expect("an after payload");
    assert!(
        after.contains("erased_fields") && !after.contains("1391234"),
        "{after}"
    );
    env.fails_as("admin", &["forget", &id, "--yes"], 5);
}
