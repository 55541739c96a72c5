//! `pool notify`: digests delivered to a webhook server and an SMTP sink that the test
//! starts on 127.0.0.1, with the exact payloads checked; never sent twice; dry runs;
//! who may configure channels.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::common::fixtures::sales_org;
use crate::common::TestEnv;

/// A webhook receiver: records each request's path and JSON body, answers with the next
/// status of `script` (then 200 for ever).
struct Hook {
    url: String,
    got: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Hook {
    fn start(script: &[u16]) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&got);
        let mut script = script.to_vec();
        script.reverse();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let Some((path, body)) = read_request(&mut conn) else {
                    continue;
                };
                let status = script.pop().unwrap_or(200);
                let answer = if status == 200 {
                    r#"{"errcode":0,"errmsg":"ok"}"#
                } else {
                    "busy"
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                rec.lock().unwrap().push((path, v));
            }
        });
        Hook { url, got }
    }

    fn bodies(&self, path: &str) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect()
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

fn read_request(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut r = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut len = 0;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        if h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((path, body))
}

/// An SMTP sink: speaks enough SMTP (220/250/354/221) and records each message's DATA.
struct Sink {
    url: String,
    mails: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let mails = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&mails);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let _ = smtp_session(conn, &rec);
            }
        });
        Sink { url, mails }
    }
}

fn smtp_session(conn: TcpStream, rec: &Mutex<Vec<String>>) -> std::io::Result<()> {
    smtp_dialog(&mut BufReader::new(conn), rec)
}

/// The SMTP side of a sink, over a plain or a TLS stream (lines read through the
/// BufReader, answers written to the stream under it).
fn smtp_dialog<S: Read + Write>(
    r: &mut BufReader<S>,
    rec: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let say = |r: &mut BufReader<S>, what: &[u8]| {
        r.get_mut().write_all(what)?;
        r.get_mut().flush()
    };
    say(r, b"220 sink ESMTP\r\n")?;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "DATA" => {
                say(r, b"354 go on\r\n")?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l)? == 0 || l == ".\r\n" {
                        break;
                    }
                    data.push_str(&l);
                }
                rec.lock().unwrap().push(data);
                say(r, b"250 queued\r\n")?;
            }
            "QUIT" => {
                say(r, b"221 bye\r\n")?;
                return Ok(());
            }
            _ => say(r, b"250 ok\r\n")?,
        }
    }
}

/// A customer named `name` claimed by `who`, with an open follow-up due on `due`.
fn owned_with_followup(env: &TestEnv, who: &str, name: &str, phone: &str, due: &str) -> String {
    let id = env.pooled(name, phone).to_string();
    env.ok_as(who, &["claim", &id]);
    env.ok_as(
        who,
        &[
            "followup",
            "add",
            &id,
            "--due",
            due,
            "--past",
            &format!("联系{name}"),
        ],
    );
    id
}

/// east (manager zhao; lihua, chen) and north (manager qian; wang): lihua 2 days
/// overdue, chen 7 days overdue, wang 3 days; a customer recycled from lihua.
fn org() -> (TestEnv, String, String, String, String) {
    let env = sales_org();
    let a = owned_with_followup(&env, "lihua", "李客户", "13800000001", "2026-11-20");
    let c = owned_with_followup(&env, "chen", "陈客户", "13800000002", "2026-11-15");
    let w = owned_with_followup(&env, "wang", "王客户", "13900000003", "2026-11-19");
    // One of lihua's customers was claimed 40 days ago and never contacted: recycled.
    let old = env.pooled("旧客户", "13800000004").to_string();
    env.ok_as("lihua", &["claim", &old]);
    env.exec(&format!(
        "UPDATE customers SET claimed_at = claimed_at - 40 * 86400 WHERE id = {old}"
    ));
    env.ok(&["rules", "set", "--recycle-no-contact-days", "30"]);
    env.ok(&["recycle"]);
    assert_eq!(env.owner_of(old.parse().unwrap()), None);
    (env, a, c, w, old)
}

fn add_hook(env: &TestEnv, team: &str, url: &str, preset: &str) {
    env.ok(&[
        "notify",
        "channel",
        "add",
        "--team",
        team,
        "--webhook",
        url,
        "--preset",
        preset,
    ]);
}

fn content(v: &Value) -> String {
    v["markdown"]["content"]
        .as_str()
        .expect("content")
        .to_string()
}

#[test]
fn digests_reach_wecom_and_dingtalk_robots_with_only_each_persons_items_and_never_twice() {
    let (env, a, c, w, old) = org();
    let hook = Hook::start(&[]);
    add_hook(&env, "sales-east", &format!("{}/east", hook.url), "wecom");
    add_hook(
        &env,
        "sales-north",
        &format!("{}/north", hook.url),
        "dingtalk",
    );
    let run = env.json(&["notify", "--backoff-ms", "1"]);
    let east = hook.bodies("/east");
    let north = hook.bodies("/north");
    // east: lihua, chen and their manager zhao; north: wang and qian.
    assert_eq!(east.len(), 3, "{run}");
    assert_eq!(north.len(), 2, "{run}");
    // The member's digest, exactly: the 企业微信 shape, only her own items, masked.
    let lihua = east
        .iter()
        .find(|b| content(b).contains("pool: lihua"))
        .expect("lihua's digest");
    let recycled_at = run["digests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["user"] == "lihua")
        .unwrap()["recycled"][0]["at"]
        .as_str()
        .unwrap()
        .to_string();
    let want = format!(
        "### pool: lihua, 2026-11-22\n\
         \n**Overdue follow-ups (1)**\n\
         - #{a} 李客户 (138****0001): 联系李客户 (due 2026-11-20, 2 day(s) overdue)\n\
         \n**Recycled from you (1)**\n\
         - #{old} 旧客户: no_contact {recycled_at}\n"
    );
    assert_eq!(
        *lihua,
        json!({"msgtype": "markdown", "markdown": {"content": want}})
    );
    // The manager: his team's overdue item, the escalation (7 ≥ 3 days), nothing of north.
    let zhao = content(
        east.iter()
            .find(|b| content(b).contains("pool: zhao"))
            .expect("zhao's digest"),
    );
    assert!(
        zhao.contains("**Team sales-east: overdue follow-ups (1)**")
            && zhao.contains(&format!(
                "#{a} 李客户 (138****0001): 联系李客户 (due 2026-11-20, 2 day(s) overdue) — lihua"
            )),
        "{zhao}"
    );
    assert!(
        zhao.contains("**Escalations: overdue 3+ days (1)**")
            && zhao.contains(&format!(
                "#{c} 陈客户 (138****0002): 联系陈客户 (due 2026-11-15, 7 day(s) overdue) — chen"
            )),
        "{zhao}"
    );
    for b in &east {
        let t = content(b);
        assert!(!t.contains("王客户") && !t.contains("13900000003"), "{t}");
        assert!(!t.contains("13800000001"), "contacts are masked: {t}");
    }
    // 钉钉: title and text; wang sees only his own.
    let wang = north
        .iter()
        .find(|b| b["markdown"]["title"] == "pool 提醒 wang 2026-11-22")
        .expect("wang's digest");
    assert_eq!(wang["msgtype"], "markdown");
    let text = wang["markdown"]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("#{w} 王客户 (139****0003)")),
        "{text}"
    );
    assert!(
        !text.contains("李客户") && !text.contains("陈客户"),
        "{text}"
    );
    let qian = north
        .iter()
        .find(|b| b["markdown"]["title"] == "pool 提醒 qian 2026-11-22")
        .expect("qian's digest");
    assert!(qian["markdown"]["text"]
        .as_str()
        .unwrap()
        .contains("Escalations: overdue 3+ days (1)"));

    // A second run with nothing new sends nothing.
    let again = env.json(&["notify", "--backoff-ms", "1"]);
    assert_eq!(again["deliveries"], json!([]), "{again}");
    assert_eq!(hook.count(), 5);
    // The next day the overdue items are reminded of again; the recycle is not.
    let next = env
        .cmd()
        .env("POOL_NOW", "2026-11-23T09:00:00Z")
        .args(["notify", "--backoff-ms", "1"])
        .output()
        .unwrap();
    assert!(next.status.success());
    let east = hook.bodies("/east");
    assert_eq!(east.len(), 6);
    let lihua2 = east
        .iter()
        .rev()
        .find(|b| content(b).contains("pool: lihua"))
        .unwrap();
    let t = content(lihua2);
    assert!(
        t.contains("3 day(s) overdue") && !t.contains("Recycled"),
        "{t}"
    );

    // One audit row per run, counts only.
    let rows = env.audit_rows("notify");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].after_json()["sent"], 5);
    assert_eq!(rows[1].after_json()["sent"], 0);
    let after = rows[0].after.clone().unwrap();
    assert!(!after.contains("客户") && !after.contains("138"), "{after}");
}

#[test]
fn a_robot_answering_500_twice_gets_the_digest_on_the_third_try_and_a_failed_one_next_run() {
    let env = sales_org();
    owned_with_followup(&env, "wang", "王客户", "13900000003", "2026-11-19");
    let hook = Hook::start(&[500, 500]);
    add_hook(&env, "sales-north", &format!("{}/n", hook.url), "generic");
    // qian (the manager) and wang: the first delivery is tried three times.
    let v = env.json(&["notify", "--team", "sales-north", "--backoff-ms", "5"]);
    let d = &v["deliveries"];
    assert_eq!(d.as_array().unwrap().len(), 2, "{v}");
    assert_eq!(d[0]["attempts"], 3, "{v}");
    assert_eq!(d[0]["status"], "sent");
    let bodies = hook.bodies("/n");
    assert_eq!(bodies.len(), 4);
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
    // generic: the digest as JSON.
    let wang = bodies.iter().find(|b| b["user"] == "wang").expect("wang's");
    assert_eq!(wang["overdue"][0]["phone"], "139****0003");
    assert_eq!(wang["overdue"][0]["days_overdue"], 3);

    // A robot that keeps failing: exit 1, nothing recorded, sent on the next run.
    let env = sales_org();
    owned_with_followup(&env, "wang", "王客户", "13900000003", "2026-11-19");
    let hook = Hook::start(&[500, 500, 503]);
    env.ok(&[
        "notify",
        "channel",
        "add",
        "--team",
        "sales-north",
        "--webhook",
        &format!("{}/n", hook.url),
    ]);
    let out = env.run_as(
        "admin",
        &[
            "notify",
            "--team",
            "sales-north",
            "--attempts",
            "2",
            "--backoff-ms",
            "1",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<&str> = v["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "sent"], "{v}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not be delivered"));
    let v = env.json(&["notify", "--team", "sales-north", "--backoff-ms", "1"]);
    assert_eq!(v["deliveries"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["deliveries"][0]["status"], "sent");
    assert_eq!(hook.count(), 5);
}

#[test]
fn digests_are_emailed_to_each_person_with_their_own_numbers_whole() {
    let (env, a, _, _, _) = org();
    let sink = Sink::start();
    env.ok(&[
        "notify",
        "channel",
        "add",
        "--team",
        "sales-east",
        "--smtp",
        &sink.url,
        "--from",
        "pool@example.com",
    ]);
    env.ok(&["user", "set", "lihua", "--email", "lihua@example.com"]);
    // A member sets only their own address.
    env.ok_as(
        "chen",
        &["user", "set", "chen", "--email", "chen@example.com"],
    );
    env.fails_as(
        "chen",
        &["user", "set", "lihua", "--email", "x@example.com"],
        4,
    );
    env.ok(&["user", "set", "chen", "--clear-email"]);
    let out = env.run_as(
        "admin",
        &[
            "notify",
            "--team",
            "sales-east",
            "--backoff-ms",
            "1",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{v}");
    let status = |u: &str| {
        v["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["user"] == u)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("lihua"), "sent", "{v}");
    assert_eq!(status("chen"), "no_email");
    assert_eq!(status("zhao"), "no_email");
    let mails = sink.mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    let (head, body) = m.split_once("\r\n\r\n").expect("headers and body");
    assert!(head.contains("Content-Transfer-Encoding: base64"), "{head}");
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD
        .decode(body.replace("\r\n", ""))
        .expect("base64 body");
    let text = String::from_utf8(text).expect("utf-8 text");
    assert!(head.contains("From: pool@example.com\r\n"), "{head}");
    assert!(head.contains("To: lihua@example.com\r\n"), "{head}");
    // Her own customer's number whole (as `pool show` shows it to her), nobody else's.
    assert!(
        text.contains(&format!(
            "- #{a} 李客户 (13800000001): 联系李客户 (due 2026-11-20, 2 day(s) overdue)"
        )),
        "{text}"
    );
    assert!(text.contains("**Recycled from you (1)**"), "{text}");
    assert!(
        !text.contains("陈客户") && !text.contains("王客户"),
        "{text}"
    );
    // The e-mail addresses are audited masked.
    let set = env.last_audit("user_set_email");
    assert!(!set.after.unwrap().contains("chen@example.com"));
}

#[test]
fn a_dry_run_shows_the_payloads_and_sends_and_records_nothing() {
    let (env, a, ..) = org();
    let hook = Hook::start(&[]);
    add_hook(&env, "sales-east", &format!("{}/east", hook.url), "wecom");
    let v = env.json(&["notify", "--dry-run", "--team", "sales-east"]);
    let d = v["deliveries"].as_array().unwrap();
    assert_eq!(d.len(), 3, "{v}");
    assert!(d.iter().all(|d| d["status"] == "would_send"));
    let lihua = d.iter().find(|d| d["user"] == "lihua").unwrap();
    assert!(content(&lihua["payload"]).contains(&format!("#{a} 李客户 (138****0001)")));
    assert_eq!(hook.count(), 0);
    assert_eq!(env.count("notify_runs"), 0);
    assert_eq!(env.count("notify_sent"), 0);
    assert_eq!(env.audit_count("notify"), 0);
    // The real run afterwards sends all three.
    env.ok(&["notify", "--team", "sales-east", "--backoff-ms", "1"]);
    assert_eq!(hook.count(), 3);
    assert_eq!(env.count("notify_runs"), 1);
}

#[test]
fn only_admins_configure_channels_and_only_they_see_the_urls() {
    let env = sales_org();
    let url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-KEY";
    for who in ["lihua", "lin", "zhao"] {
        env.fails_as(
            who,
            &[
                "notify",
                "channel",
                "add",
                "--team",
                "sales-east",
                "--webhook",
                url,
            ],
            4,
        );
    }
    env.ok(&[
        "notify",
        "channel",
        "add",
        "--team",
        "sales-east",
        "--webhook",
        url,
        "--preset",
        "wecom",
    ]);
    let admin = env.json(&["notify", "channel", "list"]);
    assert_eq!(admin[0]["target"], url);
    for who in ["zhao", "lihua"] {
        let v = env.json_as(who, &["notify", "channel", "list"]);
        assert_eq!(v[0]["target"], "https://qyapi.weixin.qq.com/****");
        assert!(!v.to_string().contains("SECRET"));
    }
    // Another team's channels are not theirs to list.
    assert!(env
        .json_as("wang", &["notify", "channel", "list"])
        .as_array()
        .unwrap()
        .is_empty());
    env.fails_as(
        "wang",
        &["notify", "channel", "list", "--team", "sales-east"],
        4,
    );
    // Members and viewers do not run notify; a manager only for their team.
    env.fails_as("lihua", &["notify"], 4);
    env.fails_as("lin", &["notify"], 4);
    env.fails_as("lihua", &["notify", "--team", "no-such-team"], 4);
    env.fails_as("zhao", &["notify", "--team", "sales-north", "--dry-run"], 4);
    env.fails_as("lihua", &["notify", "channel", "remove", "1"], 4);
    env.ok(&["notify", "channel", "remove", "1"]);
    assert!(env
        .json(&["notify", "channel", "list"])
        .as_array()
        .unwrap()
        .is_empty());
    // Add and remove are audited, the key never.
    assert_eq!(env.audit_count("notify_channel_add"), 1);
    assert_eq!(env.audit_count("notify_channel_remove"), 1);
    for r in env.audit_log() {
        for p in [r.before, r.after].into_iter().flatten() {
            assert!(!p.contains("SECRET"), "{p}");
        }
    }
    env.fails_as(
        "admin",
        &[
            "notify",
            "channel",
            "add",
            "--team",
            "sales-east",
            "--webhook",
            "ftp://x",
        ],
        6,
    );
}

/// Sets notify's lease below the app, as a run that holds it (or died holding it) left
/// it: a settings row in the file, a private row on a server.
fn set_lease(env: &TestEnv, until: &str) {
    env.exec(&if env.is_pg() {
        format!("UPDATE pool_private.notify_lease SET until = unixepoch('{until}') WHERE id = 1")
    } else {
        format!(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('notify_lease', unixepoch('{until}'))"
        )
    });
}

/// Whether a run holds the lease.
fn lease_held(env: &TestEnv) -> bool {
    let held = if env.is_pg() {
        "pool_private.notify_lease WHERE until IS NOT NULL"
    } else {
        "settings WHERE key = 'notify_lease'"
    };
    env.count(held) > 0
}

#[test]
fn one_run_at_a_time_a_dead_runs_lease_expires() {
    let (env, ..) = org();
    let hook = Hook::start(&[]);
    add_hook(&env, "sales-east", &format!("{}/east", hook.url), "wecom");
    // Another run holds the lease until 09:05 (the clock says 09:00): refused, nothing sent.
    set_lease(&env, "2026-11-22T09:05:00Z");
    let err = env.fails_as("admin", &["notify", "--team", "sales-east"], 5);
    assert!(err.contains("another pool notify is running"), "{err}");
    assert_eq!(hook.count(), 0);
    // A dry run needs no lease.
    env.ok(&["notify", "--dry-run", "--team", "sales-east"]);
    // A lease from a run that died an hour ago has expired.
    set_lease(&env, "2026-11-22T08:00:00Z");
    env.ok(&["notify", "--team", "sales-east", "--backoff-ms", "1"]);
    assert_eq!(hook.count(), 3);
    // The finished run gave the lease back.
    assert!(!lease_held(&env));
}

/// A throwaway CA and a certificate for `localhost` signed by it (openssl CLI, as
/// `.ci/pg-cluster` makes them), in `dir`: ca.crt, server.crt, server.key.
fn make_certs(dir: &std::path::Path) -> bool {
    let sh = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    std::fs::write(dir.join("ext"), "subjectAltName=DNS:localhost\n").unwrap();
    sh(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=pool test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]) && sh(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]) && sh(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext",
        "-out",
        "server.crt",
    ])
}

/// A rustls server config with the certificate in `dir`.
fn tls_server(dir: &std::path::Path) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    )
}

/// An https webhook receiver (rustls) with the certificate in `dir`: records each
/// request's path, answers 200.
fn https_hook(dir: &std::path::Path) -> (String, Arc<Mutex<Vec<String>>>) {
    let config = tls_server(dir);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let got = Arc::new(Mutex::new(Vec::new()));
    let rec = Arc::clone(&got);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(tcp) = conn else { continue };
            let tls = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut s = rustls::StreamOwned::new(tls, tcp);
            // A refused handshake (the client does not trust the CA) ends here.
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match s.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let Some(path) = head.split_whitespace().nth(1).map(String::from) else {
                continue;
            };
            let len: usize = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if s.read_exact(&mut body).is_err() {
                continue;
            }
            let answer = r#"{"errcode":0,"errmsg":"ok"}"#;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            s.conn.send_close_notify();
            let _ = s.flush();
            rec.lock().unwrap().push(path);
        }
    });
    (url, got)
}

#[test]
fn https_webhooks_trust_the_systems_cas_and_only_those() {
    let certs = tempfile::TempDir::new().unwrap();
    if !make_certs(certs.path()) {
        eprintln!("notify: https test skipped (no openssl command to make certificates)");
        return;
    }
    let env = sales_org();
    owned_with_followup(&env, "wang", "王客户", "13900000003", "2026-11-19");
    let (url, got) = https_hook(certs.path());
    add_hook(&env, "sales-north", &format!("{url}/n"), "generic");
    let notify = [
        "notify",
        "--team",
        "sales-north",
        "--attempts",
        "1",
        "--backoff-ms",
        "1",
        "--format",
        "json",
    ];
    // Our CA is in no system store: the certificate is refused and nothing is sent.
    let out = env.cmd().args(notify).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["deliveries"][0]["status"], "failed", "{v}");
    assert!(
        v["deliveries"][0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("certificate"),
        "{v}"
    );
    assert!(got.lock().unwrap().is_empty());
    // The system store is what SSL_CERT_FILE names (as with OpenSSL): trusted, sent.
    let out = env
        .cmd()
        .env("SSL_CERT_FILE", certs.path().join("ca.crt"))
        .args(notify)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert!(v["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["status"] == "sent"));
    assert_eq!(got.lock().unwrap().len(), 2, "qian and wang");
}

#[test]
fn smtps_mail_trusts_the_systems_cas_and_only_those() {
    let certs = tempfile::TempDir::new().unwrap();
    if !make_certs(certs.path()) {
        eprintln!("notify: smtps test skipped (no openssl command to make certificates)");
        return;
    }
    let config = tls_server(certs.path());
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let rec = Arc::clone(&mails);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(tcp) = conn else { continue };
            let tls = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let _ = smtp_dialog(
                &mut BufReader::new(rustls::StreamOwned::new(tls, tcp)),
                &rec,
            );
        }
    });
    let (env, _, _, _, _) = org();
    env.ok(&[
        "notify",
        "channel",
        "add",
        "--team",
        "sales-east",
        "--smtp",
        &format!("smtps://localhost:{port}"),
        "--from",
        "pool@example.com",
    ]);
    env.ok(&["user", "set", "lihua", "--email", "lihua@example.com"]);
    let notify = [
        "notify",
        "--team",
        "sales-east",
        "--attempts",
        "1",
        "--backoff-ms",
        "1",
        "--format",
        "json",
    ];
    // Our CA is in no system store: the server is refused before any mail is sent.
    let out = env.cmd().args(notify).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed: Vec<&Value> = v["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] != "no_email")
        .collect();
    // lihua is the only one with an address.
    assert_eq!(failed.len(), 1, "{v}");
    assert_eq!(failed[0]["user"], "lihua", "{v}");
    for d in failed {
        assert_eq!(d["status"], "failed", "{v}");
        assert!(
            d["error"].as_str().unwrap_or("").contains("certificate"),
            "{v}"
        );
    }
    assert!(mails.lock().unwrap().is_empty());
    // With SSL_CERT_FILE naming it (the system store, as with OpenSSL): sent over TLS.
    let out = env
        .cmd()
        .env("SSL_CERT_FILE", certs.path().join("ca.crt"))
        .args(notify)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v}");
    let got = mails.lock().unwrap();
    assert!(!got.is_empty(), "{v}");
    assert!(
        got.iter().any(|m| m.contains("lihua@example.com")),
        "{got:?}"
    );
}
