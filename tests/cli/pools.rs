//! `pool pools`: team pools, who sees them and who may move customers in and out.
use crate::common::fixtures::{sales_org, two_teams, write};

#[test]
fn team_pools_are_visible_only_to_their_teams() {
    let env = sales_org();
    env.ok(&["pools", "add", "east", "--team", "sales-east"]);
    let id = env.json(&[
        "add",
        "--name",
        "东区客户",
        "--phone",
        "13800000001",
        "--pool",
        "east",
    ])["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let err = env.fails_as("wang", &["claim", &id], 5);
    assert!(
        err.contains("pool 'east' is not visible to team 'sales-north'"),
        "{err}"
    );
    assert!(env
        .json_as("wang", &["list", "--in-pool"])
        .as_array()
        .unwrap()
        .is_empty());
    env.ok_as("lihua", &["claim", &id]);
    let pools = env.json(&["pools", "list"]);
    assert_eq!(pools[1]["name"], "east");
    assert_eq!(pools[1]["teams"], "sales-east");
    env.fails_as("zhao", &["pools", "add", "x", "--team", "sales-east"], 4);
    env.fails_as(
        "admin",
        &["pools", "add", "east", "--team", "sales-east"],
        5,
    );
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
    let secret_email = || {
        env.customer_text(secret.parse().expect("id"), "coalesce(email, '')")
            .expect("the secret customer")
    };
    assert_eq!(secret_email(), "");
    if env.pg.is_some() {
        // On a server the hidden customer is not there for the other team's manager at
        // all (row level security): the row is a new lead, nothing is merged into it.
        assert_eq!(v["merge_refused"], 0, "{v}");
        assert_eq!(v["imported"], 1, "{v}");
    } else {
        assert_eq!(v["merge_refused"], 1, "{v}");
        assert_eq!(env.count("customers WHERE email = 'pwn@x.cn'"), 0);
    }
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
    let owner = env.owner_of(hidden.parse().expect("id"));
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
    assert_eq!(env.count("customers WHERE name = 'L2'"), 0);
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
