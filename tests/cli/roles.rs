//! The role matrix: every role × every command, allowed by the table or exit 4.
use customer_pool::domain::roles::{allowed, Action, Role};

use crate::common::TestEnv;

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

/// Permission denied, one example per role that lacks the right.
#[test]
fn snap_permission_denied() {
    let env = TestEnv::new();
    env.user("mgr", "east", "manager");
    env.user("mem", "east", "member");
    env.user("view", "east", "viewer");
    let id = env.pooled("c1", "13800000001").to_string();
    for (name, user, args) in [
        ("viewer_add", "view", vec!["add", "--name", "x"]),
        (
            "viewer_export_unmasked",
            "view",
            vec!["export", "--unmasked"],
        ),
        ("member_delete", "mem", vec!["delete", id.as_str(), "--yes"]),
        (
            "member_assign",
            "mem",
            vec!["assign", id.as_str(), "--to", "mem"],
        ),
        ("member_recycle", "mem", vec!["recycle"]),
        ("member_audit_log", "mem", vec!["audit", "log"]),
        ("member_doctor", "mem", vec!["doctor"]),
        ("manager_backup", "mgr", vec!["backup", "b.db"]),
        (
            "manager_rules_set",
            "mgr",
            vec!["rules", "set", "--max-owned", "1"],
        ),
        ("manager_user_add", "mgr", vec!["user", "add", "x"]),
        ("manager_team_add", "mgr", vec!["team", "add", "x"]),
        (
            "manager_forget",
            "mgr",
            vec!["forget", id.as_str(), "--yes"],
        ),
    ] {
        insta::assert_snapshot!(name, env.snap_as(user, &args));
    }
}
