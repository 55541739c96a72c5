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

fn write(env: &TestEnv, name: &str, body: &str) -> String {
    let p = env.dir.path().join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn import_merges_only_into_customers_the_importer_may_edit() {
    let (env, north, pooled) = two_teams();
    let mine = env.json_as(
        "lihua",
        &["add", "--name", "我的", "--phone", "13600000001"],
    )["id"]
        .as_i64()
        .unwrap();
    let csv = write(
        &env,
        "m.csv",
        "name,phone,city,email,notes,tags\n\
         北方客户,13912345678,,,改了,stolen\n\
         公海客户,13787654321,杭州,hijack2@evil.cn,改了,stolen\n\
         我的,13600000001,,me@mine.cn,补充,ok\n",
    );
    let v = env.json_as("lihua", &["import", &csv, "--on-duplicate", "merge"]);
    assert_eq!(v["merged"], 1, "{v}");
    assert_eq!(v["merge_refused"], 2, "{v}");
    for id in [&north, &pooled] {
        let after: String = Connection::open(env.db())
            .unwrap()
            .query_row(
                "SELECT coalesce(email, '') || coalesce(notes, '') || tags FROM customers WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            !after.contains("evil") && !after.contains("stolen"),
            "{id}: {after}"
        );
    }
    // One audit row per merged customer, findable by its id, with before and after.
    let rows = env.json(&["audit", "log", "--customer", &mine.to_string()]);
    let merge = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "import_merge")
        .unwrap_or_else(|| panic!("{rows}"));
    assert!(
        merge["after"].as_str().unwrap().contains("m***@mine.cn"),
        "{merge}"
    );
}

#[test]
fn duplicate_headers_are_refused_and_contacts_in_text_are_masked() {
    let (env, _, _) = two_teams();
    let csv = write(
        &env,
        "d.csv",
        "name,phone,Phone\nx,13800000001,13900000002\n",
    );
    let err = env.fails_as("lihua", &["import", &csv], 6);
    assert!(err.contains("'Phone' twice"), "{err}");
    assert_eq!(
        count(&env, "SELECT count(*) FROM customers WHERE name = 'x'"),
        0
    );
    // A phone typed into the notes, an e-mail in a custom column.
    let csv = write(
        &env,
        "n.csv",
        "name,phone,备注,微信邮箱\n有备注,13500000003,老板手机 13912340000 晚上打,boss@corp.cn\n",
    );
    env.ok(&["import", &csv, "--map", "微信邮箱=custom"]);
    let id = count(&env, "SELECT id FROM customers WHERE name = '有备注'").to_string();
    for who in ["lin", "lihua"] {
        let shown = env.json_as(who, &["show", &id]);
        let text = shown.to_string();
        assert!(!text.contains("13912340000"), "{who}: {text}");
        assert!(!text.contains("boss@corp.cn"), "{who}: {text}");
        assert!(text.contains("139****0000"), "{who}: {text}");
    }
    let exported = env.ok_as("lin", &["export"]);
    assert!(!exported.contains("13912340000") && !exported.contains("boss@corp.cn"));
    // Whoever sees the contacts sees the notes as written.
    assert!(env
        .json_as("zhao", &["show", &id])
        .to_string()
        .contains("13912340000"));
}

#[test]
fn members_get_customers_only_within_the_rules() {
    let (env, _, pooled) = two_teams();
    env.ok(&[
        "rules",
        "set",
        "--max-owned",
        "2",
        "--reclaim-cooldown-days",
        "7",
    ]);
    env.ok(&["pools", "add", "east-only", "--team", "east"]);
    // max_owned on add: two are fine, the third is refused.
    let a1 = env.json_as("lihua", &["add", "--name", "a1", "--phone", "13600000011"])["id"]
        .as_i64()
        .unwrap()
        .to_string();
    env.ok_as("lihua", &["add", "--name", "a2", "--phone", "13600000012"]);
    env.fails_as(
        "lihua",
        &["add", "--name", "a3", "--phone", "13600000013"],
        5,
    );
    // …and on import for oneself (all or nothing): 1 owned + 2 rows > 2.
    env.ok_as("lihua", &["release", &a1, "--reason", "x"]);
    let csv = write(
        &env,
        "own.csv",
        "name,phone\nb1,13600000021\nb2,13600000022\n",
    );
    env.fails_as("lihua", &["import", &csv, "--owner", "lihua"], 5);
    assert_eq!(
        count(&env, "SELECT count(*) FROM customers WHERE name LIKE 'b%'"),
        0
    );
    // A lost customer cannot come back as a copy during its cooldown.
    env.ok_as("wang", &["claim", &pooled]);
    env.ok_as("wang", &["release", &pooled, "--reason", "不要了"]);
    let err = env.fails_as(
        "wang",
        &["add", "--name", "公海客户", "--phone", "13787654321"],
        5,
    );
    assert!(err.contains("cooldown"), "{err}");
    // Stages: a member cannot make a lead loyal (exempt from recycling) without a deal.
    let lead = env.json_as("wang", &["add", "--name", "w1", "--phone", "13600000031"])["id"]
        .as_i64()
        .unwrap()
        .to_string();
    env.fails_as("wang", &["edit", &lead, "--stage", "loyal"], 4);
    env.fails_as("wang", &["add", "--name", "w2", "--stage", "loyal"], 4);
    env.ok_as("wang", &["deal", "add", &lead, "--amount", "100"]);
    env.ok_as("wang", &["edit", &lead, "--stage", "loyal"]);
    // A pool the member's team cannot see is not theirs to add to.
    env.fails_as("wang", &["add", "--name", "w3", "--pool", "east-only"], 5);
    env.fails_as("wang", &["import", &csv, "--pool", "east-only"], 5);
}

/// The names of the checks `pool doctor --format json` failed.
fn doctor_failures(env: &TestEnv) -> Vec<String> {
    crate::common::failed_checks(&env.run_as("admin", &["doctor", "--format", "json"]))
}

#[test]
fn doctor_sees_changes_made_behind_pools_back() {
    let (env, north, pooled) = two_teams();
    assert!(doctor_failures(&env).is_empty());
    let c = Connection::open(env.db()).unwrap();
    // An owner changed with sqlite3: the ownership events say otherwise.
    c.execute(
        "UPDATE customers SET owner_id = (SELECT id FROM users WHERE login = 'lihua'), claimed_at = 1 WHERE id = ?1",
        [&pooled],
    )
    .unwrap();
    assert_eq!(
        doctor_failures(&env),
        ["owners that differ from the last ownership event"]
    );
    // A raw phone that no longer matches its key.
    c.execute(
        "UPDATE customers SET phone = '13000000000' WHERE id = ?1",
        [&north],
    )
    .unwrap();
    assert!(doctor_failures(&env).contains(&"match keys".to_string()));
    // The append-only triggers dropped.
    c.execute_batch("DROP TRIGGER audit_no_delete;").unwrap();
    assert!(doctor_failures(&env).contains(&"schema".to_string()));
}

#[test]
fn verify_remembers_the_head_and_catches_a_truncated_chain() {
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
fn team_pools_stay_closed_to_other_teams_managers_and_to_merges() {
    let (env, _, _) = two_teams();
    env.user("mgr_n", "north", "manager");
    env.ok(&["pools", "add", "eastpool", "--team", "east"]);
    let decoy = env.json(&["add", "--name", "Decoy", "--pool", "public"])["id"].to_string();
    let secret = env.json(&[
        "add",
        "--name",
        "Secret",
        "--phone",
        "13988889999",
        "--pool",
        "eastpool",
    ])["id"]
        .to_string();
    env.fails_as("mgr_n", &["merge", &decoy, &secret], 4);
    env.fails_as("mgr_n", &["edit", &secret, "--notes", "x"], 4);
    env.fails_as("mgr_n", &["-y", "delete", &secret], 4);
    let csv = write(
        &env,
        "m.csv",
        "name,phone,email\nSecret,13988889999,pwn@x.cn\n",
    );
    let v = env.json_as("mgr_n", &["import", &csv, "--on-duplicate", "merge"]);
    assert_eq!(v["merge_refused"], 1, "{v}");
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM customers WHERE email = 'pwn@x.cn'"
        ),
        0
    );
    // A member's copy of a pooled customer in a pool their team does not see is not
    // theirs after a nightly dedupe.
    env.ok(&["pools", "add", "northpool", "--team", "north"]);
    let hidden = env.json(&[
        "add",
        "--name",
        "西池",
        "--company",
        "西池公司",
        "--phone",
        "13955550000",
        "--pool",
        "northpool",
    ])["id"]
        .to_string();
    env.ok_as(
        "lihua",
        &[
            "add",
            "--name",
            "西池",
            "--company",
            "西池公司",
            "--phone",
            "13955550000",
        ],
    );
    // (Other clusters of this data need a manager; only the outcome matters here.)
    env.run_as("admin", &["dedupe", "--apply", "-y", "--format", "json"]);
    let owner: Option<i64> = Connection::open(env.db())
        .unwrap()
        .query_row(
            "SELECT owner_id FROM customers WHERE id = ?1",
            [&hidden],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(owner, None, "the hidden pool's customer went to lihua");
}

#[test]
fn members_cannot_step_around_the_rules_of_their_pool() {
    let (env, _, pooled) = two_teams();
    env.ok(&["pools", "add", "eastpool", "--team", "east"]);
    // Won stages straight into the pool, by add or by import.
    env.fails_as(
        "lihua",
        &[
            "add", "--name", "L1", "--stage", "loyal", "--pool", "public",
        ],
        4,
    );
    let csv = write(&env, "l.csv", "name,phone,stage\nL2,13822220011,loyal\n");
    env.fails_as("lihua", &["import", &csv], 4);
    assert_eq!(
        count(&env, "SELECT count(*) FROM customers WHERE name = 'L2'"),
        0
    );
    // Releasing into one's own team pool to dodge the public pool's rules.
    env.ok_as("lihua", &["claim", &pooled]);
    env.fails_as(
        "lihua",
        &["release", &pooled, "--reason", "x", "--to-pool", "eastpool"],
        4,
    );
    // Other people's follow-ups are not a member's to list.
    env.fails_as("lin", &["followup", "list", "--assignee", "wang"], 4);
    env.fails_as("lihua", &["followup", "list", "--team", "north"], 4);
}

#[test]
fn copies_of_a_customer_in_cooldown_are_in_cooldown_too() {
    let (env, _, pooled) = two_teams();
    env.ok(&["rules", "set", "--reclaim-cooldown-days", "30"]);
    env.ok_as("lihua", &["claim", &pooled]);
    env.ok_as("lihua", &["release", &pooled, "--reason", "x"]);
    // A copy in the pool (imported with create), then claimed.
    let csv = write(&env, "dup.csv", "name,phone\n公海客户副本,13787654321\n");
    env.ok_as("lihua", &["import", &csv, "--on-duplicate", "create"]);
    let copy = count(&env, "SELECT max(id) FROM customers").to_string();
    let err = env.fails_as("lihua", &["claim", &copy], 5);
    assert!(err.contains("cooldown"), "{err}");
    // A lead of her own edited into the same phone.
    let mine =
        env.json_as("lihua", &["add", "--name", "新客户", "--company", "星河"])["id"].to_string();
    let err = env.fails_as("lihua", &["edit", &mine, "--phone", "13787654321"], 5);
    assert!(err.contains("cooldown"), "{err}");
    // Someone else may claim the copy.
    env.ok_as("wang", &["claim", &copy]);
}

#[test]
fn a_dry_run_import_is_audited() {
    let (env, _, _) = two_teams();
    let csv = write(
        &env,
        "probe.csv",
        "name,phone\n北方客户,13912345678\ny,13900000000\n",
    );
    let v = env.json_as("lihua", &["import", &csv, "--dry-run"]);
    assert_eq!(v["duplicates_in_database"], 1);
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM audit_log WHERE action = 'import_dry_run' AND actor = 'lihua'"
        ),
        1
    );
}

#[test]
fn a_closed_stderr_never_turns_an_error_into_a_panic() {
    let (env, north, _) = two_teams();
    let out = env
        .spawn_cmd_as("lihua")
        .args(["lock", &north])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    // stderr closed outright (2>&-): the child gets no descriptor 2 at all.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' lock {} 2>&-; echo \"exit=$?\"",
            assert_cmd::cargo::cargo_bin("pool").display(),
            north
        ))
        .envs(env.envs("lihua"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("exit=4"), "{said}");
}
