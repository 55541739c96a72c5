//! Server mode through the Rust backend: `store::postgres::{init_server, open}` and the
//! app's use cases driven as different login roles against a real PostgreSQL server (no
//! mock). Each test gets its own database, owned by a fresh non-superuser CREATEROLE
//! role, prepared by `init_server`; users are added through `app::people`.
//!
//! Runs only when POOL_TEST_PG holds libpq connection info for a superuser, e.g.
//! `eval "$(.ci/pg-cluster start)"` sets it; otherwise every test says it was skipped.
use std::process::{Command, Stdio};

use customer_pool::app::customer::{self, Edit, ListRequest, NewCustomer, Place, Query};
use customer_pool::app::import::{self as import_app, Duplicate, OnDuplicate, Options};
use customer_pool::app::pool::{self, Claimed, HandedOver, LockChange, Release};
use customer_pool::app::{audit, people, recycle, report, rules};
use customer_pool::domain::customer::{CustomerInput, Stage};
use customer_pool::domain::roles::{Role, User};
use customer_pool::domain::rules::RuleChanges;
use customer_pool::error::Error;
use customer_pool::import::decode::Charset;
use customer_pool::import::{Defaults, LeadReader, Reject};
use customer_pool::store::postgres::{self, PgStore};
use customer_pool::store::Backend;

/// One test's database and roles; dropped (database and roles) at the end.
struct Pg {
    conninfo: String,
    db: String,
    owner: String,
    /// Logins added (as suffixes), to drop their roles.
    users: Vec<String>,
}

impl Pg {
    fn new(name: &str) -> Option<Pg> {
        let Some(conninfo) = std::env::var("POOL_TEST_PG")
            .ok()
            .filter(|s| !s.trim().is_empty())
        else {
            eprintln!("pg_backend::{name}: skipped (set POOL_TEST_PG to a superuser's connection info, e.g. eval \"$(.ci/pg-cluster start)\")");
            return None;
        };
        let db = format!("pb_{name}_{}", std::process::id());
        let owner = format!("{db}_owner");
        let pg = Pg {
            conninfo,
            db,
            owner,
            users: vec!["admin".into()],
        };
        pg.drop_all();
        pg.superuser(&format!("CREATE ROLE {} LOGIN CREATEROLE", pg.owner));
        pg.superuser(&format!(
            "CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8'",
            pg.db, pg.owner
        ));
        let init = postgres::init_server(&pg.url_of(&pg.owner), &pg.login("admin"), "hq")
            .expect("init_server as the owner");
        let every: Vec<&str> = postgres::migrate::MIGRATIONS
            .iter()
            .map(|(_, name, _)| *name)
            .collect();
        assert_eq!(init.applied, every);
        assert_eq!(init.admin.as_deref(), Some(pg.login("admin").as_str()));
        // Idempotent: nothing more to do the second time.
        let again = postgres::init_server(&pg.url_of(&pg.owner), &pg.login("admin"), "hq")
            .expect("init_server again");
        assert!(
            again.applied.is_empty() && again.admin.is_none(),
            "{again:?}"
        );
        Some(pg)
    }

    fn login(&self, who: &str) -> String {
        format!("{}_{who}", self.db)
    }

    fn url_of(&self, role: &str) -> String {
        format!("{} user={role} dbname={}", self.conninfo, self.db)
    }

    /// A connection as test user `who`.
    fn store(&self, who: &str) -> PgStore {
        postgres::open(&self.url_of(&self.login(who)))
            .unwrap_or_else(|e| panic!("open as {who}: {e}"))
    }

    /// `who`'s pool user, found the way the CLI finds it: by the login role.
    fn me(&self, store: &mut PgStore) -> User {
        let login = store.login().to_string();
        people::identify(store, &login, None, now())
            .expect("identify")
            .user
    }

    fn add_user(&mut self, admin: &mut PgStore, who: &str, team: &str, role: Role) {
        let me = self.me(admin);
        people::add_user(
            admin,
            &me,
            &people::NewUser {
                login: self.login(who),
                team: team.into(),
                role,
                display_name: None,
            },
            now(),
        )
        .unwrap_or_else(|e| panic!("add {who}: {e}"));
        self.users.push(who.into());
    }

    fn superuser(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.conninfo,
            ])
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A query in this test's database as the superuser (for checks only).
    fn check(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(format!("{} dbname={}", self.conninfo, self.db))
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn drop_all(&self) {
        let roles = self
            .users
            .iter()
            .map(|w| self.login(w))
            .chain([self.owner.clone()])
            .map(|r| format!("DROP ROLE IF EXISTS {r};"))
            .collect::<String>();
        let _ = Command::new("psql")
            .args(["-X", "-q", "-d", &self.conninfo, "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db))
            .args(["-c", &roles])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.drop_all();
    }
}

fn now() -> i64 {
    customer_pool::clock::real_now()
}

fn input(name: &str, phone: &str, city: &str) -> CustomerInput {
    CustomerInput {
        name: Some(name.into()),
        company: Some(format!("{name} 有限公司")),
        phone: Some(phone.into()),
        email: Some(format!("{}@example.com", phone.replace(' ', ""))),
        city: Some(city.into()),
        ..Default::default()
    }
}

/// `n` customers added to `pool` by `me`; their ids.
fn pooled(store: &mut dyn Backend, me: &User, pool: &str, n: usize, tag: &str) -> Vec<i64> {
    (0..n)
        .map(|i| {
            let new = NewCustomer {
                input: input(
                    &format!("客户{tag}{i}"),
                    &format!("1390000{:04}", i + 1000 * tag.len()),
                    "杭州",
                ),
                stage: Stage::Lead,
                place: Place::Pool(pool.into()),
                extras: Default::default(),
            };
            customer::add(store, me, &new, now())
                .unwrap_or_else(|e| panic!("add customer {i}: {e}"))
                .id
        })
        .collect()
}

fn set_rules(store: &mut dyn Backend, me: &User, pool: &str, ch: RuleChanges) {
    rules::set(store, me, pool, &ch, now()).expect("rules set");
}

/// The variant name and exit code of an error, to compare backends.
fn kind(e: &Error) -> (String, u8) {
    let dbg = format!("{e:?}");
    let name = dbg
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_string();
    (name, e.exit_code())
}

#[test]
fn pg_backend_use_cases_as_each_role() {
    let Some(mut pg) = Pg::new("cases") else {
        return;
    };
    let mut admin = pg.store("admin");
    let root = pg.me(&mut admin);
    assert_eq!(root.role, Role::Admin);
    pg.add_user(&mut admin, "boss", "east", Role::Manager);
    pg.add_user(&mut admin, "m1", "east", Role::Member);
    pg.add_user(&mut admin, "m3", "east", Role::Member);
    pg.add_user(&mut admin, "m2", "west", Role::Member);
    pg.add_user(&mut admin, "viewer", "east", Role::Viewer);
    // The server made each one a login role in its group.
    assert_eq!(
        pg.check(&format!(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
              JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '{}'",
            pg.login("m1")
        )),
        "pool_member"
    );
    let ids = pooled(&mut admin, &root, "public", 4, "a");

    let (mut m1s, mut m2s, mut bosss, mut vs) = (
        pg.store("m1"),
        pg.store("m2"),
        pg.store("boss"),
        pg.store("viewer"),
    );
    let (m1, m2, boss, viewer) = (
        pg.me(&mut m1s),
        pg.me(&mut m2s),
        pg.me(&mut bosss),
        pg.me(&mut vs),
    );
    let m3 = people::list_users(&mut admin, &root, None, false)
        .unwrap()
        .into_iter()
        .find(|u| u.login == pg.login("m3"))
        .expect("m3 listed");

    // claim: the server's trigger wrote the owner history and the audit row.
    assert_eq!(
        pool::claim(&mut m1s, &m1, ids[0], now()).unwrap(),
        Claimed::Claimed
    );
    assert_eq!(
        pool::claim(&mut m1s, &m1, ids[0], now()).unwrap(),
        Claimed::AlreadyYours
    );
    let e = pool::claim(&mut m2s, &m2, ids[0], now()).unwrap_err();
    assert_eq!(kind(&e), ("AlreadyOwned".into(), 5), "{e}");
    assert_eq!(
        pg.check(&format!(
            "SELECT event || ':' || to_user FROM ownership_events WHERE customer_id = {}",
            ids[0]
        )),
        format!("claim:{}", m1.id)
    );

    // list and show: the member sees their own contacts; the viewer sees them masked.
    let mine = customer::list(
        &mut m1s,
        &m1,
        &ListRequest {
            query: Query {
                mine: true,
                ..Default::default()
            },
            ..Default::default()
        },
        now(),
    )
    .unwrap();
    assert_eq!(mine.iter().map(|c| c.id).collect::<Vec<_>>(), [ids[0]]);
    assert_eq!(mine[0].phone.as_deref(), Some("13900001000"));
    let seen = customer::show(&mut vs, &viewer, ids[0], now()).unwrap();
    assert_eq!(seen.customer.phone.as_deref(), Some("139****1000"));
    assert!(!seen.full);
    let pooled_list = customer::list(
        &mut m2s,
        &m2,
        &ListRequest {
            query: Query {
                in_pool: Some(String::new()),
                ..Default::default()
            },
            ..Default::default()
        },
        now(),
    )
    .unwrap();
    assert_eq!(pooled_list.len(), 3);
    assert!(
        pooled_list
            .iter()
            .all(|c| c.phone.as_deref().is_some_and(|p| p.contains('*'))),
        "{pooled_list:?}"
    );

    // edit by the owner; by another member: refused (not theirs).
    let ed = Edit {
        id: ids[0],
        given: CustomerInput {
            city: Some("上海".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    customer::edit(&mut m1s, &m1, &ed, false, now()).unwrap();
    assert_eq!(
        pg.check(&format!("SELECT city FROM customers WHERE id = {}", ids[0])),
        "上海"
    );
    let e = customer::edit(&mut m2s, &m2, &ed, false, now()).unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e}");

    // lock: off by default; on with max_locked 1.
    let e = pool::set_lock(&mut m1s, &m1, ids[0], true, now()).unwrap_err();
    assert_eq!(kind(&e), ("LockingOff".into(), 5), "{e}");
    set_rules(
        &mut admin,
        &root,
        "public",
        RuleChanges {
            max_locked: Some(1),
            ..Default::default()
        },
    );
    assert_eq!(
        pool::set_lock(&mut m1s, &m1, ids[0], true, now()).unwrap(),
        LockChange::Changed
    );
    let release = Release {
        reason: "不感兴趣".into(),
        to_pool: None,
        cancel_followups: false,
    };
    let e = pool::release(&mut m1s, &m1, ids[0], &release, now()).unwrap_err();
    assert_eq!(kind(&e), ("Locked".into(), 5), "{e}");
    pool::set_lock(&mut m1s, &m1, ids[0], false, now()).unwrap();

    // release: back to its pool, with the reason in the server-written history.
    let r = pool::release(&mut m1s, &m1, ids[0], &release, now()).unwrap();
    assert_eq!(r.pool, "public");
    assert_eq!(
        pg.check(&format!(
            "SELECT event || ':' || reason FROM ownership_events WHERE customer_id = {} ORDER BY id DESC LIMIT 1",
            ids[0]
        )),
        "release:不感兴趣"
    );

    // assign (manager, own team), transfer one, then all.
    assert_eq!(
        pool::assign(&mut bosss, &boss, &m1, ids[1], now()).unwrap(),
        HandedOver::Moved
    );
    let e = pool::assign(&mut bosss, &boss, &m2, ids[2], now()).unwrap_err();
    assert_eq!(e.exit_code(), 4, "a manager assigns within the team: {e}");
    assert_eq!(
        pool::transfer(&mut bosss, &boss, &m1, &m3, ids[1], now()).unwrap(),
        HandedOver::Moved
    );
    pool::assign(&mut bosss, &boss, &m1, ids[2], now()).unwrap();
    let all = pool::transfer_all(&mut bosss, &boss, &m1, &m3, now()).unwrap();
    assert_eq!(all.transferred, 1);
    assert_eq!(
        pg.check(&format!(
            "SELECT string_agg(event, ',' ORDER BY id) FROM ownership_events WHERE customer_id IN ({}, {})",
            ids[1], ids[2]
        )),
        "assign,transfer,assign,transfer"
    );

    // show as the new owner: full history.
    let shown = customer::show(&mut bosss, &boss, ids[1], now()).unwrap();
    assert!(shown.timeline.iter().any(|e| e.kind == "transfer"));

    // import a small CSV as the admin.
    let csv = "姓名,电话,城市\n王五,13800138000,深圳\n赵六,13800138001,广州\n坏行,notaphone,\n";
    let reader = LeadReader::new(
        csv.as_bytes(),
        Charset::Auto,
        None,
        &[],
        Defaults::default(),
    )
    .unwrap();
    let s = import_app::run(
        &mut admin,
        &root,
        reader,
        &Options {
            file: "leads.csv".into(),
            size: Some(csv.len() as u64),
            on_duplicate: OnDuplicate::Skip,
            pool: None,
            owner: None,
            dry_run: false,
            rows_hint: None,
        },
        &mut NoSink,
        now(),
    )
    .unwrap();
    assert_eq!((s.imported, s.rejected), (2, 1), "{s:?}");
    assert_eq!(
        pg.check(
            "SELECT count(*) FROM customers WHERE city IN ('深圳', '广州') AND owner_id IS NULL"
        ),
        "2"
    );

    // recycle: a member's customer with no contact for 30 days goes back (decided at a
    // `now` 40 days ahead; the server stamps real times).
    set_rules(
        &mut admin,
        &root,
        "public",
        RuleChanges {
            recycle_no_contact_days: Some(30),
            ..Default::default()
        },
    );
    pool::claim(&mut m2s, &m2, ids[3], now()).unwrap();
    assert!(recycle::run(&mut admin, &root, false, now())
        .unwrap()
        .is_empty());
    let done = recycle::run(&mut admin, &root, false, now() + 40 * 86_400).unwrap();
    let mut recycled: Vec<i64> = done.iter().map(|r| r.id).collect();
    recycled.sort();
    // m3's two (claimed today, never contacted) and m2's one.
    assert_eq!(recycled, ids[1..4], "{done:?}");
    assert_eq!(
        pg.check(&format!(
            "SELECT event || ':' || coalesce(reason, '') FROM ownership_events WHERE customer_id = {} ORDER BY id DESC LIMIT 1",
            ids[3]
        )),
        "recycle:no_contact"
    );
    // The viewer cannot run it; a member cannot either.
    assert_eq!(
        recycle::run(&mut vs, &viewer, false, now())
            .unwrap_err()
            .exit_code(),
        4
    );

    // audit verify: the server-written chain checks out in Rust.
    let v = audit::verify(&mut admin, &root, None, true).unwrap();
    assert!(v.ok && v.rows > 10, "{:?}", (v.ok, v.rows));
    let log = audit::log(
        &mut admin,
        &root,
        customer_pool::store::LogFilter {
            customer: Some(ids[0]),
            ..Default::default()
        },
    )
    .unwrap();
    let actions: Vec<&str> = log.iter().map(|r| r.action.as_str()).collect();
    for a in [
        "claim",
        "customer_edit",
        "lock",
        "unlock",
        "release",
        "customer_add",
    ] {
        assert!(actions.contains(&a), "{a} missing in {actions:?}");
    }
    // A member may not read the audit trail (the role check, and the server's grant).
    assert_eq!(
        audit::verify(&mut m1s, &m1, None, true)
            .unwrap_err()
            .exit_code(),
        4
    );

    // report summary numbers.
    let mut tx = report::read(&mut admin, &root).unwrap();
    let pooled_now = tx.pooled_per_pool().unwrap();
    assert_eq!(pooled_now[0].key, "public");
    assert_eq!(pooled_now[0].count, 6, "{pooled_now:?}");
    assert_eq!(tx.owned_total().unwrap(), 0);
    let stages = tx.by_stage().unwrap();
    assert_eq!((stages[0].key.as_str(), stages[0].count), ("lead", 6));
    let events = tx.events_between(0, i64::MAX).unwrap();
    let claims = events.iter().find(|c| c.key == "claim").map(|c| c.count);
    assert_eq!(claims, Some(2));
    drop(tx);

    // deactivate: m3's customer goes back, the role may no longer log in.
    let mut m3s = pg.store("m3");
    pool::claim(&mut m3s, &m3, ids[1], now()).unwrap();
    drop(m3s);
    let d = people::deactivate_user(&mut admin, &root, &pg.login("m3"), None, now()).unwrap();
    assert_eq!(d.customers_returned, 1);
    assert_eq!(
        pg.check(&format!(
            "SELECT owner_id IS NULL FROM customers WHERE id = {}",
            ids[1]
        )),
        "t"
    );
    assert!(postgres::open(&pg.url_of(&pg.login("m3"))).is_err());
    assert_eq!(
        pg.check(&format!(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = '{}'",
            pg.login("m3")
        )),
        "f"
    );
}

struct NoSink;

impl import_app::Sink for NoSink {
    fn reject(&mut self, _r: &Reject) -> customer_pool::error::Result<()> {
        Ok(())
    }
    fn duplicate(
        &mut self,
        _line: u64,
        _action: &str,
        _d: &Duplicate,
        _matched_line: Option<u64>,
    ) -> customer_pool::error::Result<()> {
        Ok(())
    }
    fn progress(&mut self, _bytes: u64, _rows: u64) {}
    fn building_indexes(&mut self) {}
    fn finish(&mut self) -> customer_pool::error::Result<(Option<String>, Option<String>)> {
        Ok((None, None))
    }
}

/// A member's refused claims, on whichever backend `open` opens stores of: (what,
/// variant, exit code) for max_owned, cooldown and a pool the team does not see.
fn refusals(
    open: &mut dyn FnMut(&str) -> Box<dyn Backend>,
    login: &dyn Fn(&str) -> String,
) -> Vec<(&'static str, String, u8)> {
    let mut admin = open("admin");
    let root = admin.read().unwrap().user(&login("admin")).unwrap();
    let me_of = |s: &mut Box<dyn Backend>, who: &str| s.read().unwrap().user(&login(who)).unwrap();
    for (who, team) in [("m1", "east"), ("m2", "west")] {
        people::add_user(
            &mut *admin,
            &root,
            &people::NewUser {
                login: login(who),
                team: team.into(),
                role: Role::Member,
                display_name: None,
            },
            now(),
        )
        .unwrap();
    }
    rules::add_pool(&mut *admin, &root, "westpool", &["west".into()], now()).unwrap();
    let ids = pooled(&mut *admin, &root, "public", 3, "r");
    let west = pooled(&mut *admin, &root, "westpool", 1, "w");
    set_rules(
        &mut *admin,
        &root,
        "public",
        RuleChanges {
            max_owned: Some(1),
            reclaim_cooldown_days: Some(7),
            ..Default::default()
        },
    );
    let mut m1s = open("m1");
    let m1 = me_of(&mut m1s, "m1");
    let mut out = Vec::new();
    pool::claim(&mut *m1s, &m1, ids[0], now()).unwrap();
    let e = pool::claim(&mut *m1s, &m1, ids[1], now()).unwrap_err();
    let (k, c) = kind(&e);
    out.push(("max_owned", k, c));
    let release = Release {
        reason: "later".into(),
        to_pool: None,
        cancel_followups: false,
    };
    pool::release(&mut *m1s, &m1, ids[0], &release, now()).unwrap();
    let e = pool::claim(&mut *m1s, &m1, ids[0], now()).unwrap_err();
    let (k, c) = kind(&e);
    out.push(("cooldown", k, c));
    let e = pool::claim(&mut *m1s, &m1, west[0], now()).unwrap_err();
    let (k, c) = kind(&e);
    out.push(("pool not visible", k, c));
    // The west member may claim from westpool.
    let mut m2s = open("m2");
    let m2 = me_of(&mut m2s, "m2");
    pool::claim(&mut *m2s, &m2, west[0], now()).unwrap();
    out
}

#[test]
fn pg_backend_refused_claims_match_sqlite() {
    let Some(mut pg) = Pg::new("refusals") else {
        return;
    };
    pg.users.extend(["m1".into(), "m2".into()]);
    // SQLite: one file; its first command's OS account is the admin.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.db");
    let mut first = customer_pool::store::Store::open(&path).unwrap();
    people::identify(&mut first, "admin", None, now()).unwrap();
    drop(first);
    let on_sqlite = refusals(
        &mut |_who| Box::new(customer_pool::store::Store::open(&path).unwrap()),
        &|who| who.to_string(),
    );
    let on_pg = refusals(
        &mut |who| Box::new(pg.store(who)) as Box<dyn Backend>,
        &|who| pg.login(who),
    );
    assert_eq!(on_pg, on_sqlite);
    assert_eq!(
        on_pg.iter().map(|(_, k, _)| k.as_str()).collect::<Vec<_>>(),
        ["LimitReached", "Cooldown", "PoolNotVisible"]
    );
}

#[test]
fn pg_backend_actor_is_the_login_role() {
    let Some(mut pg) = Pg::new("actor") else {
        return;
    };
    let mut admin = pg.store("admin");
    pg.add_user(&mut admin, "m1", "east", Role::Member);
    let mut m1s = pg.store("m1");
    assert_eq!(m1s.login(), pg.login("m1"));
    // A member cannot become someone else.
    let e =
        people::identify(&mut m1s, &pg.login("m1"), Some(&pg.login("admin")), now()).unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e}");
    // Not even an admin: on a server --as is refused at the first transaction.
    let login = admin.login().to_string();
    let who = people::identify(&mut admin, &login, Some(&pg.login("m1")), now()).unwrap();
    assert_eq!(who.user.login, pg.login("m1"));
    let e = admin.write().err().expect("--as refused");
    assert!(
        matches!(e, Error::Forbidden(ref m) if m.contains("--as")),
        "{e:?}"
    );
    // A role without CONNECT on the database (not a pool user) cannot even connect.
    pg.superuser(&format!("CREATE ROLE {}_stranger LOGIN", pg.db));
    pg.users.push("stranger".into());
    assert!(postgres::open(&pg.url_of(&pg.login("stranger"))).is_err());
    // The owner is no pool user: it has no users row, so identify finds nobody.
    let mut owner = postgres::open(&pg.url_of(&pg.owner)).unwrap();
    let owner_login = owner.login().to_string();
    let e = people::identify(&mut owner, &owner_login, None, now()).unwrap_err();
    assert_eq!(kind(&e), ("UnknownActor".into(), 4), "{e}");
    // Backups are pg_dump's job.
    let e = admin_backup_refused(&pg);
    assert!(e.contains("pg_dump"), "{e}");
}

fn admin_backup_refused(pg: &Pg) -> String {
    use customer_pool::store::ops::maintenance::Maintenance;
    let mut s = pg.store("admin");
    match s.backup_copy(std::path::Path::new("/tmp/never"), false) {
        Ok(_) => panic!("a backup on PostgreSQL"),
        Err(e) => format!("{e} {}", e.hint().unwrap_or_default()),
    }
}

/// 8 workers (4 members, two connections each) race to claim the same 50 customers
/// under max_owned = 5: every member ends with exactly 5, nobody's claim is lost or
/// doubled, and the history has exactly one claim per owned customer.
#[test]
fn pg_backend_concurrent_claims_keep_limits() {
    let Some(mut pg) = Pg::new("race") else {
        return;
    };
    let mut admin = pg.store("admin");
    let root = pg.me(&mut admin);
    let members = ["w1", "w2", "w3", "w4"];
    for m in members {
        pg.add_user(&mut admin, m, "east", Role::Member);
    }
    let ids = pooled(&mut admin, &root, "public", 50, "c");
    set_rules(
        &mut admin,
        &root,
        "public",
        RuleChanges {
            max_owned: Some(5),
            ..Default::default()
        },
    );
    let urls: Vec<(String, String)> = members
        .iter()
        .flat_map(|m| [m, m])
        .map(|m| (m.to_string(), pg.url_of(&pg.login(m))))
        .collect();
    let start = std::sync::Arc::new(std::sync::Barrier::new(urls.len()));
    let workers: Vec<_> = urls
        .into_iter()
        .enumerate()
        .map(|(w, (member, url))| {
            let ids = ids.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                let mut store = postgres::open(&url).expect("open");
                let login = store.login().to_string();
                let me = people::identify(&mut store, &login, None, now())
                    .unwrap()
                    .user;
                start.wait();
                let mut won = Vec::new();
                // Each worker walks the ids from its own offset, so they collide.
                for k in 0..ids.len() {
                    let id = ids[(k + w * 7) % ids.len()];
                    match pool::claim(&mut store, &me, id, now()) {
                        Ok(Claimed::Claimed) => won.push(id),
                        Ok(Claimed::AlreadyYours) => {}
                        Err(
                            Error::AlreadyOwned { .. }
                            | Error::LimitReached { .. }
                            | Error::ChangedMeanwhile { .. },
                        ) => {}
                        Err(e) => panic!("worker {w} ({member}) claiming {id}: {e:?}"),
                    }
                }
                (member, won)
            })
        })
        .collect();
    let mut per_member = std::collections::BTreeMap::<String, Vec<i64>>::new();
    for w in workers {
        let (m, won) = w.join().expect("worker");
        per_member.entry(m).or_default().extend(won);
    }
    let mut all: Vec<i64> = per_member.values().flatten().copied().collect();
    for (m, won) in &per_member {
        assert_eq!(won.len(), 5, "{m} won {won:?}");
    }
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n, "a customer was claimed twice");
    assert_eq!(n, 20);
    assert_eq!(
        pg.check("SELECT count(*) FROM customers WHERE owner_id IS NOT NULL"),
        "20"
    );
    assert_eq!(
        pg.check("SELECT count(*), count(DISTINCT customer_id) FROM ownership_events WHERE event = 'claim'"),
        "20|20"
    );
    assert_eq!(
        pg.check("SELECT max(n) FROM (SELECT count(*) AS n FROM customers WHERE owner_id IS NOT NULL GROUP BY owner_id) x"),
        "5"
    );
    let v = audit::verify(&mut admin, &root, None, true).unwrap();
    assert!(v.ok);
}
