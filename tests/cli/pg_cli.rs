//! Server mode through the real binary: `pool --db postgres://…` as the owner, the
//! first admin and a member, each connecting as their own login role. Runs only when
//! POOL_TEST_PG holds a superuser's libpq connection info (`.ci/pg-cluster start`
//! prints it); otherwise it says it is skipped.
use crate::common::pg::Server;

#[test]
fn server_mode_through_the_binary() {
    let Some(s) = Server::new("pc", "tour") else {
        return;
    };
    // Only the owner prepares the database; a second run applies nothing.
    let admin = s.role("admin");
    let v = s.json(
        "owner",
        &["init", "--server", "--admin", &admin, "--team", "hq"],
    );
    assert_eq!(
        v["applied"].as_array().unwrap().len(),
        customer_pool::store::postgres::migrate::MIGRATIONS.len(),
        "{v}"
    );
    let v = s.json("owner", &["init", "--server", "--admin", &admin]);
    assert!(v["applied"].as_array().unwrap().is_empty(), "{v}");
    // The admin adds people: each is a login role.
    s.ok("admin", &["team", "add", "east"]);
    s.ok(
        "admin",
        &[
            "user",
            "add",
            &s.role("li"),
            "--team",
            "east",
            "--role",
            "member",
        ],
    );
    s.ok(
        "admin",
        &[
            "user",
            "add",
            &s.role("wang"),
            "--team",
            "east",
            "--role",
            "member",
        ],
    );
    s.ok(
        "admin",
        &[
            "add",
            "--name",
            "服务器客户",
            "--phone",
            "13912345678",
            "--pool",
        ],
    );
    let pooled = s.json("li", &["list", "--in-pool"]);
    assert_eq!(
        pooled[0]["phone"], "139****5678",
        "masked before a claim: {pooled}"
    );
    s.ok("li", &["claim", "1"]);
    s.fails("wang", &["claim", "1"], 5);
    // The actor is the login role: --as is refused, even naming the admin.
    s.fails("li", &["--as", &admin, "list"], 4);
    // Work on the customer: log, follow-up, agenda.
    s.ok("li", &["log", "1", "call", "聊了报价"]);
    // The owners report counts per person under the server's row security.
    let owners = s.json("admin", &["report", "owners"]);
    let row = |login: &str| {
        owners
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["user"] == login)
            .cloned()
            .unwrap_or_else(|| panic!("{login} in {owners}"))
    };
    assert_eq!(row(&s.role("li"))["owned"], 1, "{owners}");
    assert_eq!(row(&s.role("li"))["contacts_30d"], 1, "{owners}");
    assert_eq!(row(&s.role("wang"))["owned"], 0, "{owners}");
    let teams = s.json("admin", &["report", "teams"]);
    assert!(teams.to_string().contains("\"owned\":1"), "{teams}");
    let f = s.json(
        "li",
        &["followup", "add", "1", "--due", "tomorrow", "发合同"],
    );
    assert_eq!(f["assignee"], s.role("li"));
    let a = s.json("li", &["agenda"]);
    assert_eq!(a["next_7_days"].as_array().unwrap().len(), 1, "{a}");
    // wang cannot touch li's customer; the server would refuse it too.
    s.fails("wang", &["log", "1", "call", "我来"], 4);
    // Release with the reason; the server's history carries it.
    s.ok(
        "li",
        &["release", "1", "--reason", "不合适", "--cancel-followups"],
    );
    let log = s.json("admin", &["audit", "log", "--customer", "1"]);
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"claim") && actions.contains(&"release"),
        "{actions:?}"
    );
    s.ok("admin", &["audit", "verify"]);
    // Backups are pg_dump's job.
    let err = s.fails("admin", &["backup", "x.db"], 6);
    assert!(err.contains("pg_dump"), "{err}");
}

/// `pool claim` of many ids on a server: one statement claims what the rules allow, the
/// rest take the one-by-one path and say why each is refused, as on a file.
#[test]
fn a_claim_of_many_ids_takes_what_the_rules_allow_and_explains_the_rest() {
    let Some(s) = Server::new("pc", "many") else {
        return;
    };
    let admin = s.role("admin");
    s.ok(
        "owner",
        &["init", "--server", "--admin", &admin, "--team", "hq"],
    );
    s.ok("admin", &["team", "add", "east"]);
    for who in ["li", "wang"] {
        s.ok(
            "admin",
            &[
                "user",
                "add",
                &s.role(who),
                "--team",
                "east",
                "--role",
                "member",
            ],
        );
    }
    for k in 1..=4 {
        s.ok(
            "admin",
            &[
                "add",
                "--name",
                &format!("客户{k}"),
                "--phone",
                &format!("1391234560{k}"),
                "--pool",
            ],
        );
    }
    s.ok("admin", &["rules", "set", "--max-owned", "2"]);
    s.ok("wang", &["claim", "4"]);
    let out = s.run(
        "li",
        &["claim", "1", "4", "2", "3", "99", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let got: Vec<(i64, bool, String)> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().expect("id"),
                r["ok"].as_bool().expect("ok"),
                r["result"].as_str().expect("result").to_string(),
            )
        })
        .collect();
    assert_eq!(got[0], (1, true, "claimed".into()));
    assert!(
        !got[1].1 && got[1].2.contains("already owned by") && got[1].2.contains(&s.role("wang")),
        "{got:?}"
    );
    assert_eq!(got[2], (2, true, "claimed".into()));
    assert!(!got[3].1 && got[3].2.contains("limit reached"), "{got:?}");
    assert!(!got[4].1 && got[4].2.contains("not found"), "{got:?}");
    // Again: already hers, said by the one-by-one path.
    let again = s.json("li", &["claim", "1"]);
    assert_eq!(again[0]["result"], "already yours", "{again}");
    // The owner history and the audit trail have each claim once, and the chain holds.
    let audit = s.json("admin", &["audit", "log", "--action", "claim"]);
    let claims: Vec<i64> = audit
        .as_array()
        .expect("audit rows")
        .iter()
        .filter(|r| r["actor"] == s.role("li").as_str())
        .map(|r| r["entity_id"].as_i64().expect("entity"))
        .collect();
    let mut sorted = claims.clone();
    sorted.sort();
    assert_eq!(sorted, [1, 2], "{audit}");
    s.ok("admin", &["audit", "verify"]);
}

#[test]
fn init_refuses_a_database_that_is_not_utf8() {
    let Some(s) = Server::new("pc", "ascii") else {
        return;
    };
    s.superuser(&format!("DROP DATABASE {}", s.db));
    s.superuser(&format!(
        "CREATE DATABASE {0} OWNER {1} TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'",
        s.db,
        s.role("owner")
    ));
    let admin = s.role("admin");
    let err = s.fails("owner", &["init", "--server", "--admin", &admin], 6);
    assert!(
        err.contains("SQL_ASCII") && err.contains("ENCODING 'UTF8'"),
        "{err}"
    );
    // Nothing was made.
    assert_eq!(
        s.su("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        "0"
    );
}
