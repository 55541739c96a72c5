//! Output conventions every command shares: a closed pipe or stderr is no error and no panic.
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::common::fixtures::two_teams;
use crate::common::TestEnv;

#[test]
fn broken_pipe_exits_quietly_with_0() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "3000"]);
    let mut child = env
        .spawn_cmd_as("admin")
        .args(["list", "--limit", "0", "--format", "csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    // The reader is gone now: the next writes hit EPIPE.
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("id,name"), "{first}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
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

#[test]
fn completions_into_a_closed_pipe_do_not_panic() {
    let env = TestEnv::new();
    let mut child = env
        .spawn_cmd_as("admin")
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("_pool()"), "{first}");
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// Display width of a line (CJK characters take two cells).
fn cells(line: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(line)
}

#[test]
fn tables_fit_the_width_and_never_split_a_number() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "300"]);
    for width in ["100", "72"] {
        let out = env
            .cmd()
            .env("COLUMNS", width)
            .args(["list", "--limit", "20"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let w: usize = width.parse().unwrap();
        for line in text.lines() {
            assert!(cells(line) <= w, "{} > {w}: {line}", cells(line));
        }
        // One line per customer: rows do not wrap at 100.
        if width == "100" {
            assert_eq!(text.lines().count(), 20 + 4, "{text}");
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("hidden to fit the width"), "{err}");
    }
    // Report owners at 60 columns: every number whole on its line.
    let json = env.json(&["report", "owners"]);
    let out = env
        .cmd()
        .env("COLUMNS", "60")
        .args(["report", "owners"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for row in json.as_array().unwrap() {
        let owned = row["owned"].to_string();
        assert!(
            text.lines()
                .any(|l| l.contains(row["user"].as_str().unwrap()) && l.contains(&owned)),
            "{owned} split: {text}"
        );
    }
    // --columns chooses and orders; an unknown one lists those there are.
    let out = env
        .cmd()
        .args(["list", "--limit", "2", "--columns", "phone,id"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().nth(1).unwrap();
    assert!(
        header.find("phone").unwrap() < header.find("id").unwrap(),
        "{header}"
    );
    assert!(!header.contains("company"), "{header}");
    let err = env.fails_as("admin", &["list", "--columns", "phone,colour"], 6);
    assert!(err.contains("columns: id,name"), "{err}");
    // JSON and CSV carry every field whatever the width.
    let v = env.json(&["list", "--limit", "1"]);
    assert!(v[0].get("email").is_some() && v[0].get("tags").is_some());
}

#[test]
fn json_and_csv_carry_data_only() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "200"]);
    for report in [
        "summary",
        "owners",
        "funnel",
        "quality",
        "followups",
        "stale",
    ] {
        let json = env.ok(&["report", report, "--format", "json"]);
        assert!(
            !json.contains('█') && !json.contains('▏'),
            "{report}: {json}"
        );
        let csv = env.ok(&["report", report, "--format", "csv"]);
        assert!(!csv.contains('█'), "{report}: {csv}");
    }
    let id = env.pooled("客户", "13800000041").to_string();
    env.ok(&["claim", &id]);
    env.ok(&["followup", "add", &id, "--due", "today", "回电, 说\"价格\""]);
    let csv = env.ok(&["agenda", "--format", "csv"]);
    assert!(csv.starts_with("section,id,customer,who,due,what"), "{csv}");
    assert!(csv.lines().count() > 1, "{csv}");
    assert!(
        !csv.contains('{') && !csv.contains('['),
        "JSON inside CSV: {csv}"
    );
}

#[test]
fn snap_tables_at_80_and_100_columns() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "60", "--seed", "7"]);
    let snap = |args: &[&str]| {
        for width in ["80", "100"] {
            let out = env.cmd().env("COLUMNS", width).args(args).output().unwrap();
            insta::assert_snapshot!(
                format!("table_{}_{width}", args[..2].join("_")),
                env.snap_output(&out)
            );
        }
    };
    snap(&["list", "--limit", "5"]);
    sqlite_only!("report owners lists the OS account, a pool user only in a SQLite file");
    snap(&["report", "owners"]);
}
