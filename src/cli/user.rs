//! `pool user add|list|set-role|deactivate`.
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;

use super::Ctx;
use crate::domain::roles::{Action, Role};
use crate::error::{Error, Result};
use crate::store::{audit, pool, teams, users};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (admin)
    Add(AddUser),
    /// List users
    #[command(alias = "ls")]
    List {
        /// Only this team
        #[arg(long)]
        team: Option<String>,
        /// Include deactivated users
        #[arg(long)]
        all: bool,
    },
    /// Change a user's role, team or active flag (admin)
    SetRole {
        /// Login name
        login: String,
        /// New role
        #[arg(value_enum)]
        role: Option<Role>,
        /// Move the user to this team
        #[arg(long)]
        team: Option<String>,
        /// Re-activate a deactivated user
        #[arg(long)]
        active: bool,
    },
    /// End a user's access; their customers go back to their pools (or to --transfer-to)
    Deactivate {
        /// Login name
        login: String,
        /// Give the user's customers to this user instead of the pool
        #[arg(long, value_name = "USER")]
        transfer_to: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AddUser {
    /// Login name (what --as and POOL_USER take)
    pub login: String,
    /// Team (created if it does not exist)
    #[arg(long, default_value = "default")]
    pub team: String,
    /// Role
    #[arg(long, value_enum, default_value_t = Role::Member)]
    pub role: Role,
    /// Display name, e.g. 李华
    #[arg(long)]
    pub name: Option<String>,
}

/// Logins and team names: trimmed, no spaces or control characters, at most 64 chars.
pub fn clean_name(field: &str, s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty()
        || s.chars().count() > 64
        || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(
            field,
            format!("'{s}' must be 1-64 characters without spaces"),
        ));
    }
    Ok(s.to_string())
}

#[derive(Serialize)]
struct UserRow {
    login: String,
    name: Option<String>,
    team: String,
    role: Role,
    active: bool,
}

#[derive(Serialize)]
struct DeactivateReport {
    login: String,
    customers_returned: usize,
    customers_transferred: usize,
    transfer_to: Option<String>,
}

pub fn run(ctx: &mut Ctx, cmd: UserCommand) -> Result<()> {
    let now = ctx.now()?;
    let out = ctx.out;
    match cmd {
        UserCommand::Add(a) => {
            let login = a.login.trim().to_string();
            crate::identity::check_login(&login)?;
            let team = clean_name("team", &a.team)?;
            let me = ctx.require(Action::ManageUsers)?;
            let tx = ctx.store()?.begin()?;
            let team_id = teams::ensure(&tx, &team, now)?;
            let id = users::insert(&tx, &login, a.name.as_deref(), team_id, a.role, now)?;
            audit::append(
                &tx,
                audit::Record {
                    at: now,
                    actor: &me.login,
                    action: "user_add",
                    entity: "user",
                    entity_id: Some(id),
                    before: None,
                    after: Some(json!({"login": login, "team": team, "role": a.role.as_str()})),
                },
            )?;
            tx.commit()?;
            out.status(format!(
                "added {} '{login}' to team '{team}'",
                a.role.as_str()
            ));
            Ok(())
        }
        UserCommand::List { team, all } => {
            ctx.require(Action::ReadUsers)?;
            let rows: Vec<UserRow> = users::list(&ctx.store()?.conn, team.as_deref(), all)?
                .into_iter()
                .map(|u| UserRow {
                    login: u.login,
                    name: u.display_name,
                    team: u.team,
                    role: u.role,
                    active: u.active,
                })
                .collect();
            out.rows(&rows, "no users")
        }
        UserCommand::SetRole {
            login,
            role,
            team,
            active,
        } => {
            let me = ctx.require(Action::ManageUsers)?;
            if role.is_none() && team.is_none() && !active {
                return Err(Error::Usage(
                    "say what to change: a ROLE, --team or --active".into(),
                ));
            }
            let tx = ctx.store()?.begin()?;
            let u = users::get(&tx, &login)?;
            if let Some(r) = role {
                if u.login == me.login && r != Role::Admin {
                    let admins = users::active_admins(&tx)?;
                    if admins <= 1 {
                        return Err(Error::Conflict(
                            "you are the last admin; make someone else admin first".into(),
                        ));
                    }
                }
                users::set_role(&tx, u.id, r)?;
            }
            let mut new_team = u.team.clone();
            if let Some(t) = &team {
                let tid = teams::get(&tx, t)?;
                users::set_team(&tx, u.id, tid)?;
                new_team = t.clone();
            }
            if active {
                users::set_active(&tx, u.id, true, now)?;
            }
            audit::append(
                &tx,
                audit::Record {
                    at: now,
                    actor: &me.login,
                    action: "user_set",
                    entity: "user",
                    entity_id: Some(u.id),
                    before: Some(
                        json!({"role": u.role.as_str(), "team": u.team, "active": u.active}),
                    ),
                    after: Some(json!({
                        "role": role.unwrap_or(u.role).as_str(),
                        "team": new_team,
                        "active": u.active || active
                    })),
                },
            )?;
            tx.commit()?;
            out.status(format!("updated user '{login}'"));
            Ok(())
        }
        UserCommand::Deactivate { login, transfer_to } => {
            let me = ctx.require(Action::ManageUsers)?;
            if login == me.login {
                return Err(Error::Conflict("you cannot deactivate yourself".into()));
            }
            let tx = ctx.store()?.begin()?;
            let u = users::get(&tx, &login)?;
            if !u.active {
                return Err(Error::Conflict(format!(
                    "user '{login}' is already deactivated"
                )));
            }
            let target = match &transfer_to {
                Some(t) => {
                    let v = users::get(&tx, t)?;
                    if !v.active || v.id == u.id {
                        return Err(Error::invalid(
                            "--transfer-to",
                            format!("'{t}' is not an active other user"),
                        ));
                    }
                    Some(v)
                }
                None => None,
            };
            // Customers leave in the same transaction that ends the access, so no
            // customer is ever owned by someone who can no longer work on it.
            let moved = match &target {
                Some(v) => pool::transfer_all(&tx, u.id, v.id, me.id, "deactivate", now)?,
                None => pool::return_all(&tx, u.id, me.id, "deactivate", "user deactivated", now)?,
            };
            users::set_active(&tx, u.id, false, now)?;
            // One row per customer too, so `pool audit log --customer N` finds the move.
            for id in &moved {
                audit::append(
                    &tx,
                    audit::Record {
                        at: now,
                        actor: &me.login,
                        action: "user_deactivate",
                        entity: "customer",
                        entity_id: Some(*id),
                        before: Some(json!({"owner": u.login})),
                        after: Some(match &target {
                            Some(v) => json!({"owner": v.login}),
                            None => json!({"owner": null, "reason": "user deactivated"}),
                        }),
                    },
                )?;
            }
            audit::append(
                &tx,
                audit::Record {
                    at: now,
                    actor: &me.login,
                    action: "user_deactivate",
                    entity: "user",
                    entity_id: Some(u.id),
                    before: Some(json!({"active": true})),
                    after: Some(json!({
                        "active": false,
                        "customers": moved,
                        "transfer_to": transfer_to,
                    })),
                },
            )?;
            tx.commit()?;
            let report = DeactivateReport {
                login,
                customers_returned: if target.is_none() { moved.len() } else { 0 },
                customers_transferred: if target.is_some() { moved.len() } else { 0 },
                transfer_to,
            };
            out.record(&report)
        }
    }
}
