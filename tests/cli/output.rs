//! Output conventions every command shares: a closed pipe or stderr is no error and no panic.
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::common::fixtures::two_teams;
use crate::common::TestEnv;

#[test]
fn broken_pipe_exits_quietly_with_0() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "3000"]);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pool"))
        .env_clear()
        .env("HOME", env.dir.path())
        .env("POOL_DB", env.db())
        .env("POOL_USER", "admin")
        .env("NO_COLOR", "1")
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
