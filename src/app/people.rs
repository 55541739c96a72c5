//! Who acts, and the admin's use cases on users and teams.
use serde::Serialize;
use serde_json::json;

use super::scope;
use crate::domain::roles::{self, Action, Role, User};
use crate::error::{Error, Result};
use crate::store::ops::audit::Record;
use crate::store::ops::people::TeamRow;
use crate::store::{Backend, Tx};

/// The acting user of a process, and how they were found.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    /// This command made the OS account the first admin of a new database.
    pub bootstrapped: bool,
}

/// The acting user.
///
/// Who runs the process is the OS account of its effective uid (`os`, never an
/// environment variable). That account's pool user acts, unless `wanted` (`--as` /
/// `POOL_USER`) names another user and the OS account is an active pool admin (like
/// sudo); then every audit row names both. On a database without users, the OS account
/// becomes the admin of team `default`. `POOL_NOW` may date changes only when the OS
/// account is an admin.
pub fn identify(
    store: &mut dyn Backend,
    os: &str,
    wanted: Option<&str>,
    now: i64,
) -> Result<Identity> {
    let wanted = wanted.map(str::trim).filter(|a| !a.is_empty() && *a != os);
    let mut bootstrapped = false;
    let found = store.read()?.find_user(os)?;
    let os_user = match found {
        Some(u) => Some(u),
        None => {
            let made = bootstrap(store, os, now)?;
            bootstrapped = made.is_some();
            match made {
                Some(u) => Some(u),
                // A concurrent first command of the same account made it the admin.
                None => store.read()?.find_user(os)?,
            }
        }
    };
    let os_admin = os_user
        .as_ref()
        .is_some_and(|u| u.active && u.role == Role::Admin);
    store.allow_simulated_clock(os_admin);
    let user = match wanted {
        None => os_user.ok_or_else(|| Error::UnknownActor(os.to_string()))?,
        Some(name) => {
            if !os_admin {
                return Err(Error::Forbidden(format!(
                    "only a pool admin's OS account may act as another user (--as / POOL_USER '{name}'); you are '{os}'"
                )));
            }
            let user = store
                .read()?
                .find_user(name)?
                .ok_or_else(|| Error::UnknownActor(name.to_string()))?;
            store.act_for(os);
            user
        }
    };
    if !user.active {
        return Err(Error::InactiveActor(user.login));
    }
    Ok(Identity { user, bootstrapped })
}

/// Makes `os` the admin of a database that has no users yet, in one write transaction
/// (so two first commands cannot both do it). None if the database has users.
fn bootstrap(store: &mut dyn Backend, os: &str, now: i64) -> Result<Option<User>> {
    let mut tx = store.write_unchecked()?;
    // Looked up again under the write lock: a concurrent first command may have won.
    if tx.find_user(os)?.is_some() || tx.user_count()? > 0 {
        return Ok(None);
    }
    let team = tx.ensure_team("default", now)?;
    let id = tx.insert_user(os, None, team, Role::Admin, now)?;
    tx.audit(Record {
        at: now,
        actor: os,
        action: "bootstrap",
        entity: "user",
        entity_id: Some(id),
        before: None,
        after: Some(json!({"login": os, "role": "admin", "team": "default"})),
    })?;
    let user = tx.user(os)?;
    tx.commit()?;
    Ok(Some(user))
}

/// A new user (admin).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub team: String,
    pub role: Role,
    pub display_name: Option<String>,
}

pub fn add_user(store: &mut dyn Backend, me: &User, u: &NewUser, now: i64) -> Result<()> {
    let login = u.login.trim().to_string();
    crate::identity::check_login(&login)?;
    let team = roles::clean_name("team", &u.team)?;
    scope::require(me, Action::ManageUsers)?;
    let mut tx = store.write()?;
    // A team the user brings into being is audited as `pool team add` would.
    let team_id = match tx.team_id(&team) {
        Ok(id) => id,
        Err(Error::NotFound { .. }) => {
            let id = tx.insert_team(&team, now)?;
            tx.audit(Record {
                at: now,
                actor: &me.login,
                action: "team_add",
                entity: "team",
                entity_id: Some(id),
                before: None,
                after: Some(json!({ "name": team })),
            })?;
            id
        }
        Err(e) => return Err(e),
    };
    let id = tx.insert_user(&login, u.display_name.as_deref(), team_id, u.role, now)?;
    audit_user(
        &mut *tx,
        me,
        "user_add",
        id,
        None,
        json!({"login": login, "team": team, "role": u.role.as_str()}),
        now,
    )?;
    tx.commit()
}

pub fn list_users(
    store: &mut dyn Backend,
    me: &User,
    team: Option<&str>,
    include_inactive: bool,
) -> Result<Vec<User>> {
    scope::require(me, Action::ReadUsers)?;
    store.read()?.users(team, include_inactive)
}

/// A change of role, team or active flag.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub team: Option<String>,
    pub reactivate: bool,
}

pub fn change_user(
    store: &mut dyn Backend,
    me: &User,
    login: &str,
    ch: &UserChange,
    now: i64,
) -> Result<()> {
    scope::require(me, Action::ManageUsers)?;
    if ch.role.is_none() && ch.team.is_none() && !ch.reactivate {
        return Err(Error::Usage(
            "say what to change: a ROLE, --team or --active".into(),
        ));
    }
    let mut tx = store.write()?;
    let u = tx.user(login)?;
    if let Some(r) = ch.role {
        let admins = tx.active_admins()?;
        roles::check_role_change(me, &u, r, admins)?;
        tx.set_role(u.id, r)?;
    }
    let mut new_team = u.team.clone();
    if let Some(t) = &ch.team {
        let tid = tx.team_id(t)?;
        tx.set_team(u.id, tid)?;
        new_team = t.clone();
    }
    if ch.reactivate {
        tx.set_active(u.id, true, now)?;
    }
    audit_user(
        &mut *tx,
        me,
        "user_set",
        u.id,
        Some(json!({"role": u.role.as_str(), "team": u.team, "active": u.active})),
        json!({
            "role": ch.role.unwrap_or(u.role).as_str(),
            "team": new_team,
            "active": u.active || ch.reactivate
        }),
        now,
    )?;
    tx.commit()
}

/// What a deactivation did.
#[derive(Debug, Clone, Serialize)]
pub struct Deactivated {
    pub login: String,
    pub customers_returned: usize,
    pub customers_transferred: usize,
    pub transfer_to: Option<String>,
}

/// Ends a user's access; their customers go back to their pools or to `transfer_to`, in
/// the same transaction, so no customer is ever owned by someone who cannot work on it.
pub fn deactivate_user(
    store: &mut dyn Backend,
    me: &User,
    login: &str,
    transfer_to: Option<&str>,
    now: i64,
) -> Result<Deactivated> {
    scope::require(me, Action::ManageUsers)?;
    if login == me.login {
        return Err(Error::DeactivateSelf);
    }
    let mut tx = store.write()?;
    let u = tx.user(login)?;
    if !u.active {
        return Err(Error::AlreadyDeactivated(u.login));
    }
    let heir = match transfer_to {
        Some(t) => Some(tx.user(t)?),
        None => None,
    };
    roles::check_deactivate(me, &u, heir.as_ref())?;
    let moved = match &heir {
        Some(v) => tx.transfer_all(u.id, v.id, me.id, "deactivate", now)?,
        None => tx.return_all(u.id, me.id, "deactivate", "user deactivated", now)?,
    };
    tx.set_active(u.id, false, now)?;
    // One row per customer too, so `pool audit log --customer N` finds the move. Work
    // follows the customer: open follow-ups go to the heir, or are cancelled.
    for id in &moved {
        let mut after = match &heir {
            Some(v) => json!({"owner": v.login}),
            None => json!({"owner": null, "reason": "user deactivated"}),
        };
        match &heir {
            Some(v) => {
                let f = tx.move_open_followups(*id, Some(u.id), v.id)?;
                if !f.is_empty() {
                    after["followups_moved"] = json!(f);
                }
            }
            None => {
                let n =
                    tx.cancel_open_followups(*id, "cancelled: the owner was deactivated", now)?;
                if n > 0 {
                    after["followups_cancelled"] = json!(n);
                }
            }
        }
        tx.audit(Record {
            at: now,
            actor: &me.login,
            action: "user_deactivate",
            entity: "customer",
            entity_id: Some(*id),
            before: Some(json!({"owner": u.login})),
            after: Some(after),
        })?;
    }
    // What they had planned on other people's customers goes to those customers' owners.
    let gone = u.id;
    super::work::settle_strays(
        &mut *tx,
        me,
        &|assignee, _| assignee == gone,
        "the assignee was deactivated",
        now,
    )?;
    audit_user(
        &mut *tx,
        me,
        "user_deactivate",
        u.id,
        Some(json!({"active": true})),
        json!({"active": false, "customers": moved, "transfer_to": transfer_to}),
        now,
    )?;
    tx.commit()?;
    // A server ended the role's sessions as this committed; a session that logged in
    // while it was committing still saw LOGIN: end it too. The deactivation stands if
    // this fails (the role has lost every grant and may not log in again).
    let _ = store.end_sessions_of(&u.login);
    Ok(Deactivated {
        login: login.to_string(),
        customers_returned: if heir.is_none() { moved.len() } else { 0 },
        customers_transferred: if heir.is_some() { moved.len() } else { 0 },
        transfer_to: transfer_to.map(str::to_string),
    })
}

/// A new team (admin); its name.
pub fn add_team(store: &mut dyn Backend, me: &User, name: &str, now: i64) -> Result<String> {
    let name = roles::clean_name("team", name)?;
    scope::require(me, Action::ManageTeams)?;
    let mut tx = store.write()?;
    let id = tx.insert_team(&name, now)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "team_add",
        entity: "team",
        entity_id: Some(id),
        before: None,
        after: Some(json!({ "name": name })),
    })?;
    tx.commit()?;
    Ok(name)
}

pub fn list_teams(store: &mut dyn Backend, me: &User) -> Result<Vec<TeamRow>> {
    scope::require(me, Action::ReadUsers)?;
    store.read()?.teams()
}

fn audit_user(
    tx: &mut dyn Tx,
    me: &User,
    action: &str,
    id: i64,
    before: Option<serde_json::Value>,
    after: serde_json::Value,
    now: i64,
) -> Result<()> {
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action,
        entity: "user",
        entity_id: Some(id),
        before,
        after: Some(after),
    })?;
    Ok(())
}
