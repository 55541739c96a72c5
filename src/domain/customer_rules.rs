//! Who may add, read, change and erase a customer, and what each sees: every refusal of
//! the customer commands, decided from facts read inside the use case's transaction.
//! Pure: no store, no clock, no printing.
use super::customer::{Customer, CustomerInput};
use super::ownership::check_lost_twin;
use super::roles::{allowed, contact_scope, sees_contact, Action, ContactScope, Role, User};
use super::rules::{check_claim, counts_towards_limit, ClaimFacts, Rules};
use crate::error::{Error, Result};

/// Whether `viewer` sees `c`'s contacts unmasked (pool privacy: `sees_contact`).
pub fn sees(viewer: &User, c: &Customer) -> bool {
    sees_contact(
        viewer.role,
        viewer.id,
        viewer.team_id,
        c.owner_id,
        c.owner_team_id,
    )
}

/// Whether showing `c` to `viewer` reveals someone else's personal data unmasked (an
/// access the audit log records).
pub fn reveals(c: &Customer, viewer: &User) -> bool {
    c.owner_id != Some(viewer.id)
        && sees(viewer, c)
        && (c.phone.is_some() || c.email.is_some() || c.address.is_some())
}

/// A pool `me` reads from or adds into must be one their team sees (admins see all).
pub fn check_pool_visible(me: &User, pool: &str, visible: bool) -> Result<()> {
    if me.role != Role::Admin && !visible {
        return Err(Error::PoolNotVisible {
            pool: pool.to_string(),
            team: me.team.clone(),
        });
    }
    Ok(())
}

/// Owner history a reader sees: all of it where they see the contacts (`full`), else
/// only the ownership changes — the rest is what a claim unlocks.
pub fn history_visible(full: bool, kind: &str) -> bool {
    full || OWNER_EVENTS.contains(&kind)
}

const OWNER_EVENTS: [&str; 8] = [
    "claim",
    "release",
    "recycle",
    "assign",
    "transfer",
    "deactivate",
    "merge",
    "import",
];

/// What a list or export is limited to for `me`: pooled customers only from pools this
/// team sees (None: every pool), and where a search may match contacts by substring.
pub fn list_scope(me: &User) -> (Option<i64>, ContactScope) {
    let team = (me.role != Role::Admin).then_some(me.team_id);
    (team, contact_scope(me.role, me.id, me.team_id))
}

/// Adding for another owner is assigning: managers and admins only.
pub fn check_add_for_other(me: &User) -> Result<()> {
    if !allowed(me.role, Action::Assign) {
        return Err(Error::PermissionDenied {
            role: me.role.as_str().into(),
            action: "add customers for another owner".into(),
        });
    }
    Ok(())
}

/// The owner of a new customer (`login` as given): active, and in a manager's team.
pub fn check_owner_for_add(me: &User, login: &str, owner: &User) -> Result<()> {
    if !owner.active {
        return Err(Error::invalid(
            "--owner",
            format!("'{login}' is deactivated"),
        ));
    }
    if me.role == Role::Manager && owner.team_id != me.team_id {
        return Err(Error::Forbidden(format!("'{login}' is not in your team")));
    }
    Ok(())
}

/// Adding a customer for oneself is taking one: a copy of a customer the actor gave up
/// (`lost_twin`) waits out its cooldown, and the claim rules apply (max_owned for stages
/// that count, the daily cap) as for a claim from the public pool.
pub fn decide_add_for_self(
    me: &User,
    stage: &str,
    rules: &Rules,
    facts: &ClaimFacts,
    lost_twin: Option<(i64, i64)>,
    now: i64,
) -> Result<()> {
    check_lost_twin(0, rules, lost_twin, now)?;
    let mut facts = facts.clone();
    if !counts_towards_limit(rules, stage) {
        facts.owned = 0;
    }
    check_claim(rules, &facts, &me.login, "public", now)
}

/// The fields `--clear` may empty.
pub const CLEARABLE: [&str; 10] = [
    "company", "phone", "email", "city", "address", "source", "tags", "notes", "level", "industry",
];

/// An edit must change something, and clear only clearable fields.
pub fn check_edit_request(nothing_given: bool, clear: &[String]) -> Result<()> {
    if nothing_given && clear.is_empty() {
        return Err(Error::Usage(
            "nothing to change: pass a field such as --phone or --stage".into(),
        ));
    }
    for c in clear {
        if !CLEARABLE.contains(&c.as_str()) {
            return Err(Error::invalid(
                "--clear",
                format!("'{c}' is not one of {}", CLEARABLE.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The stored values with the given ones applied and the cleared ones emptied.
pub fn apply_edit(
    current: &CustomerInput,
    given: &CustomerInput,
    clear: &[String],
) -> CustomerInput {
    let mut next = current.clone();
    macro_rules! apply {
        ($($f:ident),*) => {$(
            if given.$f.is_some() { next.$f = given.$f.clone(); }
            if clear.iter().any(|c| c == stringify!($f)) { next.$f = None; }
        )*};
    }
    apply!(name, company, phone, email, city, address, source, tags, notes);
    next
}

/// Whether editing a customer into a copy of one the actor gave up (same phone or
/// e-mail) is held to its re-claim cooldown: members' edits are; managers and admins
/// hand customers out anyway.
pub fn edit_keeps_cooldown(role: Role) -> bool {
    !matches!(role, Role::Admin | Role::Manager)
}

/// A customer whose personal data is already gone cannot be erased again.
pub fn check_not_erased(c: &Customer) -> Result<()> {
    if c.merged_into.is_none()
        && c.name.is_none()
        && c.phone.is_none()
        && c.email.is_none()
        && c.deleted_at.is_some()
    {
        return Err(Error::AlreadyErased { id: c.id });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::roles::test_user as user;

    #[test]
    fn an_owner_sees_without_revealing_and_others_reveal_only_what_exists() {
        let me = user(1, Role::Member, 10);
        let mut c = Customer {
            id: 5,
            owner_id: Some(1),
            owner_team_id: Some(10),
            phone: Some("13800138000".into()),
            ..Customer::default()
        };
        assert!(sees(&me, &c) && !reveals(&c, &me));
        let boss = user(2, Role::Manager, 10);
        assert!(reveals(&c, &boss));
        c.phone = None;
        assert!(!reveals(&c, &boss));
        assert!(!sees(&user(3, Role::Member, 10), &c));
    }

    #[test]
    fn history_beyond_ownership_needs_the_contacts() {
        assert!(history_visible(false, "claim"));
        assert!(!history_visible(false, "call"));
        assert!(history_visible(true, "call"));
    }

    #[test]
    fn members_add_only_for_themselves_and_managers_within_their_team() {
        assert!(matches!(
            check_add_for_other(&user(1, Role::Member, 10)),
            Err(Error::PermissionDenied { .. })
        ));
        let boss = user(2, Role::Manager, 10);
        check_add_for_other(&boss).unwrap();
        check_owner_for_add(&boss, "u3", &user(3, Role::Member, 10)).unwrap();
        assert!(matches!(
            check_owner_for_add(&boss, "u4", &user(4, Role::Member, 11)),
            Err(Error::Forbidden(_))
        ));
        let mut gone = user(5, Role::Member, 10);
        gone.active = false;
        assert!(matches!(
            check_owner_for_add(&boss, "u5", &gone),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[test]
    fn a_won_stage_added_for_oneself_does_not_count_towards_max_owned() {
        let me = user(1, Role::Member, 10);
        let rules = Rules {
            max_owned: 1,
            ..Rules::default()
        };
        let facts = ClaimFacts {
            owned: 1,
            ..ClaimFacts::default()
        };
        assert!(matches!(
            decide_add_for_self(&me, "lead", &rules, &facts, None, 0),
            Err(Error::LimitReached { .. })
        ));
        decide_add_for_self(&me, "loyal", &rules, &facts, None, 0).unwrap();
    }

    #[test]
    fn edits_apply_given_and_cleared_fields_and_refuse_empty_requests() {
        assert!(matches!(
            check_edit_request(true, &[]),
            Err(Error::Usage(_))
        ));
        assert!(check_edit_request(true, &["name".into()]).is_err());
        check_edit_request(true, &["phone".into()]).unwrap();
        let current = CustomerInput {
            name: Some("a".into()),
            phone: Some("1".into()),
            ..CustomerInput::default()
        };
        let given = CustomerInput {
            city: Some("杭州".into()),
            ..CustomerInput::default()
        };
        let next = apply_edit(&current, &given, &["phone".into()]);
        assert_eq!(next.name.as_deref(), Some("a"));
        assert_eq!(next.city.as_deref(), Some("杭州"));
        assert!(next.phone.is_none());
    }

    #[test]
    fn an_erased_customer_is_not_erased_twice() {
        let mut c = Customer {
            id: 7,
            deleted_at: Some(1),
            ..Customer::default()
        };
        assert!(matches!(
            check_not_erased(&c),
            Err(Error::AlreadyErased { id: 7 })
        ));
        c.name = Some("x".into());
        check_not_erased(&c).unwrap();
    }
}
