//! Step 12: a hostile member, viewer or manager stays where they belong: team scope,
//! masking, search, and audit rows written before data leaves.
use std::io::Read;
use std::process::Stdio;

use rusqlite::Connection;

use crate::common::TestEnv;

/// Two teams: east (manager zhao, member lihua) and north (member wang, who owns a
/// customer), a viewer, and a pooled customer.
fn two_teams() -> (TestEnv, String, String) {
    let env = TestEnv::new();
    env.user("zhao", "east", "manager");
    env.user("lihua", "east", "member");
    env.user("wang", "north", "member");
    env.user("lin", "east", "viewer");
    let north = env.json_as(
        "wang",
        &[
            "add",
            "--name",
            "北方客户",
            "--phone",
            "13912345678",
            "--email",
            "secret@north.cn",
        ],
    )["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let pooled = env.pooled("公海客户", "13787654321").to_string();
    (env, north, pooled)
}

fn count(env: &TestEnv, sql: &str) -> i64 {
    Connection::open(env.db())
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_manager_sees_other_teams_customers_masked_everywhere() {
    let (env, north, pooled) = two_teams();
    let shown = env.json_as("zhao", &["show", &north]);
    assert_eq!(shown["phone"], "139****5678", "{shown}");
    let listed = env.ok_as("zhao", &["list", "--format", "csv"]);
    assert!(!listed.contains("13912345678"), "{listed}");
    let exported = env.ok_as("zhao", &["export", "--unmasked"]);
    assert!(!exported.contains("13912345678"), "{exported}");
    assert!(!exported.contains("secret@north.cn"), "{exported}");
    // Pooled customers are the manager's to see (and to assign).
    assert!(exported.contains("13787654321"), "{exported}");
    assert_eq!(
        env.json_as("zhao", &["show", &pooled])["phone"],
        "13787654321"
    );
    // A full copy of everything is an admin's.
    let b = env.dir.path().join("b.db");
    env.fails_as("zhao", &["backup", b.to_str().unwrap()], 4);
    assert!(!b.exists());
}

#[test]
fn search_is_not_an_oracle_for_masked_contacts() {
    let (env, north, pooled) = two_teams();
    let found = |user: &str, q: &str| -> Vec<String> {
        env.json_as(user, &["list", "--search", q])
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].to_string())
            .collect()
    };
    // Digit by digit, a prefix or suffix never confirms a masked phone…
    for (user, id, phone) in [
        ("lihua", &pooled, "13787654321"),
        ("lin", &pooled, "13787654321"),
        ("zhao", &north, "13912345678"),
        ("lihua", &north, "13912345678"),
    ] {
        for n in 4..phone.len() {
            assert!(
                !found(user, &phone[..n]).contains(id),
                "{user} found {id} by prefix {}",
                &phone[..n]
            );
            assert!(!found(user, &phone[n..]).contains(id), "{user}: suffix");
        }
        // …only the whole number does.
        assert!(found(user, phone).contains(id), "{user}: whole number");
    }
    assert!(!found("zhao", "secret@").contains(&north));
    assert!(found("zhao", "secret@north.cn").contains(&north));
    // Where the contact is visible, substrings work as before.
    assert!(found("wang", "2345").contains(&north));
    assert!(found("zhao", "8765").contains(&pooled));
}

#[test]
fn an_unmasked_export_is_audited_before_its_first_byte() {
    let (env, _, _) = two_teams();
    env.ok(&["demo", "--customers", "3000"]);
    // The reader goes away after a few bytes (`| head -c 100`).
    let mut child = env
        .spawn_cmd_as("zhao")
        .args(["export", "--unmasked"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    let _ = child.wait();
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM audit_log WHERE action = 'export' AND actor = 'zhao'"
        ),
        1
    );
    // If the audit row cannot be written, nothing leaves.
    let holder = Connection::open(env.db()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let out = env
        .cmd_as("zhao")
        .env("POOL_BUSY_TIMEOUT", "1")
        .args(["export", "--unmasked"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(out.stdout.is_empty(), "data left without an audit row");
    let out = env
        .cmd_as("zhao")
        .env("POOL_BUSY_TIMEOUT", "1")
        .args(["list", "--limit", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(out.stdout.is_empty(), "unmasked list without an audit row");
    holder.execute_batch("ROLLBACK").unwrap();
}
