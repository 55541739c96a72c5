//! SIGKILL at random moments: a `pool` process to kill and the checks after it.
use std::process::{Command, Stdio};
use std::time::Duration;

use super::TestEnv;

pub const ITERATIONS: usize = 50;

pub fn pool(env: &TestEnv, user: &str, args: &[&str]) -> Command {
    let mut c = env.spawn_cmd_as(user);
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Runs the command and kills it after `ms` milliseconds (if it is still running).
pub fn kill_after(mut cmd: Command, ms: u64) -> bool {
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    killed
}

pub fn intact(env: &TestEnv) {
    // The file's own checks; on a server a killed client's transaction is rolled back.
    if !env.is_pg() {
        assert_eq!(env.integrity_check(), "ok");
        assert_eq!(env.count("pragma_foreign_key_check"), 0);
    }
    let out = pool(env, "admin", &["audit", "verify"]).output().unwrap();
    assert!(out.status.success(), "audit chain broken");
}

/// 20,000 leads with phones unique to iteration `i`; `extra` is appended to each row
/// (with a leading comma: tag and notes columns, which the header then names).
pub fn write_leads(path: &std::path::Path, i: usize, extra: &str) {
    let mut text = String::from(if extra.is_empty() {
        "姓名,手机,城市\n"
    } else {
        "姓名,手机,城市,标签,备注\n"
    });
    for j in 0..20_000u64 {
        text.push_str(&format!(
            "客户{i}-{j},1{:010},杭州{extra}\n",
            3_000_000_000u64 + i as u64 * 100_000 + j
        ));
    }
    std::fs::write(path, text).unwrap();
}
