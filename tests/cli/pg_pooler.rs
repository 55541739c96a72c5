//! `pool` through a session-mode connection pooler (PgBouncer, `.ci/pg-pooler`), the
//! setup the README gives for many short `pool` commands: the server still proves each
//! rep's identity (one server session per role, reused only by that role), nothing one
//! client leaves in a session reaches the next, and deactivating a rep ends the sessions
//! their role holds, pooled or direct (server migration 32).
use crate::common::pg::Server;

/// A server prepared by `pool init --server` with members li and wang in hq, and four
/// pooled customers (ids 1–4).
fn server(name: &str) -> Option<Server> {
    let s = Server::new("pp", name)?;
    s.init("hq");
    s.add_user("li", "hq", "member");
    s.add_user("wang", "hq", "member");
    for (i, name) in ["甲", "乙", "丙", "丁"].iter().enumerate() {
        let phone = format!("1390000000{}", i + 1);
        s.ok(
            "admin",
            &["add", "--name", name, "--phone", &phone, "--pool"],
        );
    }
    Some(s)
}

/// The pids of `who`'s server sessions on the test database.
fn sessions(s: &Server, who: &str) -> Vec<String> {
    let pids = s.su(&format!(
        "SELECT pid FROM pg_stat_activity WHERE usename = '{}' AND datname = '{}' ORDER BY pid",
        s.role(who),
        s.db
    ));
    pids.lines().map(str::to_string).collect()
}

fn via_ok(s: &Server, p: &crate::common::pg::Pooler, who: &str, args: &[&str]) -> String {
    let out = s.cmd_via(p, who).args(args).output().expect("run pool");
    assert!(
        out.status.success(),
        "pool {args:?} as {who} through the pooler: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pg_through_a_pooler_each_rep_acts_as_their_own_role_on_a_reused_clean_session() {
    let Some(s) = server("identity") else {
        return;
    };
    let p = s.pooler();
    via_ok(&s, &p, "li", &["claim", "1"]);
    let li_session = sessions(&s, "li");
    assert_eq!(li_session.len(), 1, "one pooled session of li's role");
    via_ok(&s, &p, "wang", &["claim", "2"]);
    via_ok(&s, &p, "li", &["claim", "3"]);
    // The second `pool` process of li ran on the first one's server session.
    assert_eq!(sessions(&s, "li"), li_session, "li's session reused");
    assert_eq!(sessions(&s, "wang").len(), 1);

    // A hostile li leaves everything a session can hold: prepared statements with the
    // names the next `pool` process uses, settings (a fake clock, a search path), a group
    // role, a cursor, an advisory lock, a LISTEN. (A temp table shadowing customers is no
    // threat: members may not create temp tables.)
    let out = s
        .psql_cmd(&s.role("li"))
        .arg("-d")
        .arg(s.url_via(&p, "li"))
        .args([
            "-c",
            "PREPARE s0 AS SELECT 1; PREPARE s1 AS SELECT 2; PREPARE s2 AS SELECT 3",
            "-c",
            "SELECT set_config('pool.sim_now', '2030-01-01T00:00:00Z', false)",
            "-c",
            "SET search_path = pg_temp, public",
            "-c",
            "SELECT pg_advisory_lock(42)",
            "-c",
            "LISTEN pool",
            "-c",
            "BEGIN; DECLARE held CURSOR WITH HOLD FOR SELECT 1; COMMIT",
            "-c",
            "SET ROLE pool_member",
            "-c",
            "SELECT current_user",
        ])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql through the pooler: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("pool_member"),
        "the group role was set: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        sessions(&s, "li"),
        li_session,
        "psql got li's pooled session"
    );
    // li's next `pool` process works on that session as li, on the real table and clock.
    via_ok(&s, &p, "li", &["claim", "4"]);
    assert_eq!(sessions(&s, "li"), li_session, "still the same session");
    let owners = s.su(
        "SELECT string_agg(c.id || ':' || u.login, ',' ORDER BY c.id)
           FROM customers c JOIN users u ON u.id = c.owner_id",
    );
    assert_eq!(
        owners,
        format!(
            "1:{li},2:{wang},3:{li},4:{li}",
            li = s.role("li"),
            wang = s.role("wang")
        )
    );
    let claims = s.su(
        "SELECT string_agg(actor || ':' || entity_id || ':' || (at < extract(epoch FROM now())::bigint + 86400), ',' ORDER BY seq)
           FROM audit_log WHERE action = 'claim'",
    );
    assert_eq!(
        claims,
        format!(
            "{li}:1:true,{wang}:2:true,{li}:3:true,{li}:4:true",
            li = s.role("li"),
            wang = s.role("wang")
        ),
        "each claim audited as its rep, at the server's time"
    );
    let left = s.su(&format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE a.usename = '{}' AND l.locktype = 'advisory'",
        s.role("li")
    ));
    assert_eq!(left, "0", "the advisory lock was released with the client");
    // What li may not do directly, li may not do through the pooler either.
    let out = s
        .cmd_via(&p, "li")
        .args(["edit", "2", "--name", "改"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "li edited wang's customer");
    s.ok("admin", &["audit", "verify"]);
}

#[test]
fn pg_deactivating_a_rep_ends_their_pooled_and_direct_sessions() {
    let Some(s) = server("deactivate") else {
        return;
    };
    let p = s.pooler();
    via_ok(&s, &p, "li", &["claim", "1"]);
    assert_eq!(sessions(&s, "li").len(), 1, "li's pooled session is open");
    // li also keeps a session of their own open, as a psql window would.
    let mut direct = s.connect_as(&s.role("li"), &s.db).expect("li connects");
    direct.simple_query("SELECT 1").expect("li's session works");
    assert_eq!(sessions(&s, "li").len(), 2);
    let written = s.su("SELECT max(seq) FROM audit_log WHERE seq > 0");

    let li = s.role("li");
    s.ok("admin", &["user", "deactivate", &li, "-y"]);
    assert!(
        sessions(&s, "li").is_empty(),
        "every session of li's role ended"
    );
    assert!(
        direct.simple_query("SELECT 1").is_err(),
        "li's open session still answers"
    );
    // Neither path lets li back in; nothing was written in li's name.
    let out = s.cmd_via(&p, "li").args(["claim", "2"]).output().unwrap();
    assert!(!out.status.success(), "li claimed through the pooler");
    let out = s.run("li", &["claim", "2"]);
    assert!(!out.status.success(), "li claimed directly");
    let since = s.su(&format!(
        "SELECT string_agg(DISTINCT actor || ' ' || action, ',') FROM audit_log WHERE seq > {written}"
    ));
    assert!(
        !since.contains(&format!("{li} ")),
        "written in li's name after the deactivation: {since}"
    );
    assert!(since.contains("user_deactivate"), "{since}");
    assert!(sessions(&s, "li").is_empty());
    // Back: li works through the pooler again; wang was never touched.
    s.ok("admin", &["user", "set-role", &li, "--active"]);
    via_ok(&s, &p, "li", &["claim", "2"]);
    via_ok(&s, &p, "wang", &["claim", "3"]);
    s.ok("admin", &["audit", "verify"]);

    // The owner that cannot end other roles' sessions is named by `pool doctor`.
    s.doctor_passes();
    s.su(&format!(
        "REVOKE pg_signal_backend FROM {}",
        s.role("owner")
    ));
    s.doctor_catches("deactivation ends sessions", "pg_signal_backend");
}

/// The README's production setup: PgBouncer checks each rep's own SCRAM password against
/// the secret its lookup role reads through `pgbouncer.user_lookup` (pg_shadow: login
/// roles only). The server behind it trusts 127.0.0.1 here, like every test cluster.
#[test]
fn pg_through_a_scram_checking_pooler_only_the_reps_own_password_lets_them_in() {
    let Some(s) = server("scram") else {
        return;
    };
    let (li, wang, lookup) = (s.role("li"), s.role("wang"), s.role("pgb"));
    s.su(&format!(
        "CREATE ROLE {lookup} LOGIN;
         GRANT CONNECT ON DATABASE {db} TO {lookup};
         ALTER ROLE {li} PASSWORD 'li-secret';
         CREATE SCHEMA pgbouncer;
         CREATE FUNCTION pgbouncer.user_lookup(u text, OUT usename name, OUT passwd text)
             LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
             AS $q$SELECT usename, passwd FROM pg_shadow
                   WHERE usename = u AND NOT usesuper
                     AND (pg_has_role(usename, 'pool_admin', 'MEMBER') OR pg_has_role(usename, 'pool_manager', 'MEMBER')
                       OR pg_has_role(usename, 'pool_member', 'MEMBER') OR pg_has_role(usename, 'pool_viewer', 'MEMBER'))$q$;
         REVOKE ALL ON FUNCTION pgbouncer.user_lookup(text) FROM PUBLIC;
         GRANT USAGE ON SCHEMA pgbouncer TO {lookup};
         GRANT EXECUTE ON FUNCTION pgbouncer.user_lookup(text) TO {lookup};",
        db = s.db
    ));
    let p = s.pooler_checking(Some(&lookup));
    let as_ = |role: &str, pw: &str, args: &[&str]| {
        s.cmd_at(&format!(
            "postgresql://{role}:{pw}@127.0.0.1:{}/{}",
            p.port, s.db
        ))
        .args(args)
        .output()
        .expect("run pool")
    };
    let owner = |id: &str| {
        s.su(&format!(
            "SELECT coalesce((SELECT u.login FROM customers c JOIN users u ON u.id = c.owner_id WHERE c.id = {id}), '')"
        ))
    };
    let out = as_(&li, "li-secret", &["claim", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(owner("1"), li);
    // A wrong password, a rep without one, another rep's password: refused, nothing written.
    for (role, pw) in [(&li, "guess"), (&wang, "anything"), (&wang, "li-secret")] {
        let out = as_(role, pw, &["claim", "2"]);
        assert!(!out.status.success(), "{role} with {pw} got in");
    }
    assert_eq!(owner("2"), "");
    // The owner (no pool group) with its own password: the lookup does not answer.
    let owner_role = s.role("owner");
    s.su(&format!("ALTER ROLE {owner_role} PASSWORD 'owner-secret'"));
    let out = as_(&owner_role, "owner-secret", &["doctor"]);
    assert!(!out.status.success(), "the owner got in through the pooler");
    // Deactivated, li's own password no longer opens the pooler.
    s.ok("admin", &["user", "deactivate", &li, "-y"]);
    let out = as_(&li, "li-secret", &["claim", "2"]);
    assert!(!out.status.success(), "deactivated li got in");
    assert_eq!(owner("2"), "");
}

/// Hostile review of migration 32: a rep cannot put off their own deactivation by holding
/// their users row in an open transaction; only this database's sessions of the role are
/// ended; the sweep after the commit ends a session that got in during it.
#[test]
fn pg_a_rep_cannot_put_off_deactivation_and_other_databases_keep_their_sessions() {
    let Some(s) = server("putoff") else {
        return;
    };
    let li = s.role("li");
    // li's role also works in another database of the cluster (not pool's to end).
    let other = format!("{}_other", s.db);
    s.su(&format!("CREATE DATABASE {other}"));
    let mut elsewhere = s
        .connect_as(&li, &other)
        .expect("li connects to the other database");
    // li locks their own users row (a claim of nothing does) and keeps the transaction open.
    let mut holder = s
        .psql_cmd(&li)
        .args([
            "-c",
            "BEGIN",
            "-c",
            "SELECT count(*) FROM pool_private.claim('{}')",
            "-c",
            "SELECT pg_sleep(60)",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run psql");
    let waiting = |s: &Server| {
        s.su(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = '{li}' AND datname = '{}' AND query LIKE '%pg_sleep%'",
            s.db
        ))
    };
    let started = std::time::Instant::now();
    while waiting(&s) != "1" {
        assert!(
            started.elapsed().as_secs() < 20,
            "li's transaction never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let started = std::time::Instant::now();
    s.ok("admin", &["user", "deactivate", &li, "-y"]);
    assert!(
        started.elapsed().as_secs() < 15,
        "the deactivation waited {:?} for li's open transaction",
        started.elapsed()
    );
    let _ = holder.wait();
    assert!(sessions(&s, "li").is_empty());
    assert_eq!(
        s.su(&format!("SELECT active FROM users WHERE login = '{li}'")),
        "f"
    );
    elsewhere
        .simple_query("SELECT 1")
        .expect("li's session in another database was ended");
    drop(elsewhere);

    // The sweep after the commit: a session that got in while it committed (here: the
    // superuser lets li log in again for a moment) is ended by end_sessions_of, which
    // only admins run, and only for a deactivated user.
    s.su(&format!(
        "ALTER ROLE {li} LOGIN; GRANT CONNECT ON DATABASE {} TO {li}",
        s.db
    ));
    let mut late = s
        .connect_as(&li, &s.db)
        .expect("li logs in during the window");
    s.su(&format!(
        "ALTER ROLE {li} NOLOGIN; REVOKE CONNECT ON DATABASE {} FROM {li}",
        s.db
    ));
    s.refused(
        "wang",
        &format!("SELECT pool_private.end_sessions_of('{li}')"),
        "42501",
    );
    s.refused(
        "admin",
        &format!("SELECT pool_private.end_sessions_of('{}')", s.role("wang")),
        "PT409",
    );
    assert_eq!(
        s.sql(
            "admin",
            &format!("SELECT pool_private.end_sessions_of('{li}')")
        ),
        "1"
    );
    assert!(
        late.simple_query("SELECT 1").is_err(),
        "li's late session lived"
    );
    s.su(&format!("DROP DATABASE {other} WITH (FORCE)"));
}
