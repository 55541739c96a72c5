//! `--help` and `completions`: complete, and never touching the database.
use predicates::prelude::*;

use crate::common::TestEnv;

#[test]
fn help_and_completions_never_touch_the_database() {
    sqlite_only!("checks that no SQLite file is created");
    let env = TestEnv::new();
    std::fs::remove_file(env.db()).unwrap();
    env.cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"));
    env.cmd()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_pool"));
    env.cmd()
        .args(["list", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--in-pool"));
    assert!(!env.db().exists());
}

/// The subcommands listed under "Commands:" in a help text (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect()
}

/// `--help` of `pool` and of every command and subcommand, found by walking the
/// "Commands:" lists: one snapshot each.
#[test]
fn snap_help_of_every_command() {
    sqlite_only!("--help prints the POOL_DB/POOL_USER values the test set: a file path and a user");
    let env = TestEnv::new();
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = env.run_as("admin", &args);
        assert_eq!(out.status.code(), Some(0), "pool {args:?}");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
        let name = if path.is_empty() {
            "help".to_string()
        } else {
            format!("help_{}", path.join("_").replace('-', "_"))
        };
        insta::assert_snapshot!(name, env.snap_output(&out));
        seen += 1;
    }
    assert!(seen > 40, "only {seen} help texts");
}
