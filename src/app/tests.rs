//! Use cases against a temporary SQLite store, without the binary: the same door every
//! command goes through.
use super::people::{self, NewUser};
use super::pool::{self, Claimed, LockChange, Release};
use crate::domain::customer::{validate, CustomerInput};
use crate::domain::roles::{Role, User};
use crate::domain::rules::DAY;
use crate::error::Error;
use crate::store::{Backend, Store};

const NOW: i64 = 1_780_000_000;

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    admin: User,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("pool.db")).unwrap();
        let admin = people::identify(&mut store, "boss", None, NOW)
            .unwrap()
            .user;
        World {
            _dir: dir,
            store,
            admin,
        }
    }

    fn user(&mut self, login: &str, team: &str, role: Role) -> User {
        let new = NewUser {
            login: login.into(),
            team: team.into(),
            role,
            display_name: None,
        };
        people::add_user(&mut self.store, &self.admin, &new, NOW).unwrap();
        self.store.read().unwrap().user(login).unwrap()
    }

    /// A pooled customer in `public`, put there `age` seconds before NOW.
    fn pooled(&mut self, phone: &str, age: i64) -> i64 {
        let f = validate(
            &CustomerInput {
                name: Some(format!("客户{phone}")),
                phone: Some(phone.into()),
                ..CustomerInput::default()
            },
            true,
        )
        .unwrap();
        let place = crate::store::Placement {
            pool_id: 1,
            owner_id: None,
        };
        crate::store::sqlite::customers::insert(
            &self.store.conn,
            &f,
            "lead",
            None,
            &place,
            None,
            NOW - age,
        )
        .unwrap()
    }

    fn set_rules(&mut self, sql: &str) {
        self.store.conn.execute_batch(sql).unwrap();
    }

    fn owner(&mut self, id: i64) -> Option<String> {
        self.store.read().unwrap().customer(id).unwrap().owner
    }
}

#[test]
fn claim_takes_a_pooled_customer_once_and_audits_it() {
    let mut w = World::new();
    let li = w.user("li", "east", Role::Member);
    let wang = w.user("wang", "east", Role::Member);
    let id = w.pooled("13800000001", DAY);
    assert_eq!(
        pool::claim(&mut w.store, &li, id, NOW).unwrap(),
        Claimed::Claimed
    );
    assert_eq!(
        pool::claim(&mut w.store, &li, id, NOW).unwrap(),
        Claimed::AlreadyYours
    );
    let e = pool::claim(&mut w.store, &wang, id, NOW).unwrap_err();
    assert!(matches!(e, Error::AlreadyOwned { .. }), "{e:?}");
    assert_eq!(w.owner(id).as_deref(), Some("li"));
    let rows = w
        .store
        .read()
        .unwrap()
        .audit_log(&crate::store::LogFilter {
            customer: Some(id),
            action: Some("claim".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor, "li");
}

#[test]
fn a_viewer_may_not_claim_and_nothing_is_written() {
    let mut w = World::new();
    let v = w.user("kan", "east", Role::Viewer);
    let id = w.pooled("13800000002", DAY);
    let e = pool::claim(&mut w.store, &v, id, NOW).unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e:?}");
    assert_eq!(w.owner(id), None);
}

#[test]
fn max_owned_and_the_daily_cap_are_decided_in_the_claims_transaction() {
    let mut w = World::new();
    let li = w.user("li", "east", Role::Member);
    w.set_rules("UPDATE pool_rules SET max_owned = 2, daily_claims = 0 WHERE pool_id = 1");
    let ids: Vec<i64> = (0..3)
        .map(|i| w.pooled(&format!("1380000010{i}"), DAY))
        .collect();
    pool::claim(&mut w.store, &li, ids[0], NOW).unwrap();
    pool::claim(&mut w.store, &li, ids[1], NOW).unwrap();
    let e = pool::claim(&mut w.store, &li, ids[2], NOW).unwrap_err();
    assert!(
        matches!(e, Error::LimitReached { n: 2, max: 2, .. }),
        "{e:?}"
    );
}

#[test]
fn release_needs_a_reason_and_cancels_follow_ups_only_when_told() {
    let mut w = World::new();
    let li = w.user("li", "east", Role::Member);
    let id = w.pooled("13800000003", DAY);
    pool::claim(&mut w.store, &li, id, NOW).unwrap();
    let r = Release {
        reason: "  ".into(),
        to_pool: None,
        cancel_followups: false,
    };
    assert_eq!(
        pool::release(&mut w.store, &li, id, &r, NOW)
            .unwrap_err()
            .exit_code(),
        6
    );
    let r = Release {
        reason: "不感兴趣".into(),
        ..r
    };
    let done = pool::release(&mut w.store, &li, id, &r, NOW).unwrap();
    assert_eq!(done.pool, "public");
    assert_eq!(w.owner(id), None);
    // Within the cooldown, the same member cannot take it back.
    w.set_rules("UPDATE pool_rules SET reclaim_cooldown_days = 7 WHERE pool_id = 1");
    let e = pool::claim(&mut w.store, &li, id, NOW + DAY).unwrap_err();
    assert!(matches!(e, Error::Cooldown { .. }), "{e:?}");
}

#[test]
fn a_manager_assigns_within_the_team_and_locks_within_the_pools_limit() {
    let mut w = World::new();
    let boss = w.user("zhao", "east", Role::Manager);
    let li = w.user("li", "east", Role::Member);
    let far = w.user("qian", "west", Role::Member);
    let id = w.pooled("13800000004", DAY);
    let e = pool::new_owner(&mut w.store, &boss, "qian").unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e:?}");
    let _ = far;
    let to = pool::new_owner(&mut w.store, &boss, "li").unwrap();
    pool::assign(&mut w.store, &boss, &to, id, NOW).unwrap();
    assert_eq!(w.owner(id).as_deref(), Some("li"));
    w.set_rules("UPDATE pool_rules SET max_locked = 0 WHERE pool_id = 1");
    let e = pool::set_lock(&mut w.store, &li, id, true, NOW).unwrap_err();
    assert!(matches!(e, Error::LockingOff { .. }), "{e:?}");
    w.set_rules("UPDATE pool_rules SET max_locked = 1 WHERE pool_id = 1");
    assert_eq!(
        pool::set_lock(&mut w.store, &li, id, true, NOW).unwrap(),
        LockChange::Changed
    );
    assert_eq!(
        pool::set_lock(&mut w.store, &li, id, true, NOW).unwrap(),
        LockChange::AlreadySo
    );
}

#[test]
fn the_first_identity_is_the_admin_and_an_unknown_account_is_refused() {
    let mut w = World::new();
    assert_eq!(w.admin.role, Role::Admin);
    let e = people::identify(&mut w.store, "stranger", None, NOW).unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e:?}");
    // Only an admin's account may act as someone else.
    w.user("li", "east", Role::Member);
    let e = people::identify(&mut w.store, "li", Some("boss"), NOW).unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e:?}");
    // (Acting as another user marks the process for good — a global — so that path is
    // tested with the binary: tests/cli/identity.rs.)
}

#[test]
fn dedupe_cards_mask_contacts_per_role_and_audit_what_they_reveal() {
    let mut w = World::new();
    let li = w.user("li", "east", Role::Member);
    let boss = w.user("zhao", "east", Role::Manager);
    let kan = w.user("kan", "east", Role::Viewer);
    let mine = w.pooled("13800000011", DAY);
    let pooled = w.pooled("13800000012", DAY);
    pool::claim(&mut w.store, &li, mine, NOW).unwrap();
    let phones = |cards: &[super::dedupe::Card]| -> Vec<String> {
        cards
            .iter()
            .map(|c| c.phone.clone().unwrap_or_default())
            .collect()
    };
    let views = |w: &mut World| {
        w.store
            .read()
            .unwrap()
            .audit_log(&crate::store::LogFilter {
                action: Some("view_unmasked".into()),
                ..Default::default()
            })
            .unwrap()
            .len()
    };
    // Dedupe is for managers and admins.
    let cards = super::dedupe::cards(&mut w.store, &li, &[mine, pooled], NOW).unwrap_err();
    assert_eq!(
        cards.exit_code(),
        4,
        "members may not run dedupe: {cards:?}"
    );
    // A manager sees both unmasked (their team's and the pool), and that is audited.
    let cards = super::dedupe::cards(&mut w.store, &boss, &[mine, pooled], NOW).unwrap();
    assert_eq!(phones(&cards), ["13800000011", "13800000012"]);
    assert_eq!(views(&mut w), 1);
    // Another team's manager sees the pooled one, and li's customer masked.
    let far = w.user("qian", "west", Role::Manager);
    let cards = super::dedupe::cards(&mut w.store, &far, &[mine, pooled], NOW).unwrap();
    assert_eq!(phones(&cards), ["138****0011", "13800000012"]);
    assert_eq!(views(&mut w), 2);
    // A viewer (who may not dedupe either) is refused too.
    assert!(super::dedupe::cards(&mut w.store, &kan, &[mine], NOW).is_err());
}
