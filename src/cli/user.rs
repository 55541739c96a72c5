//! `pool user add|list|set-role|deactivate`.
use clap::{Args, Subcommand};
use serde::Serialize;

use super::Ctx;
use crate::app::people::{self, NewUser, UserChange};
use crate::domain::roles::{Action, Role};
use crate::error::Result;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
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
        role: Option<RoleArg>,
        /// Move the user to this team
        #[arg(long)]
        team: Option<String>,
        /// Re-activate a deactivated user
        #[arg(long)]
        active: bool,
    },
    /// Set where a user's reminders (pool notify) are e-mailed (admin; anyone for themselves)
    Set {
        /// Login name
        login: String,
        /// E-mail address for `pool notify` digests
        #[arg(
            long,
            value_name = "ADDR",
            conflicts_with = "clear_email",
            required_unless_present = "clear_email"
        )]
        email: Option<String>,
        /// Remove the e-mail address
        #[arg(long)]
        clear_email: bool,
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

/// A role as the command line spells it (the domain's `Role` knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Admin,
    Manager,
    Member,
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Manager => Role::Manager,
            RoleArg::Member => Role::Member,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

#[derive(Debug, Args)]
pub struct AddUser {
    /// Login name (what --as and POOL_USER take)
    pub login: String,
    /// Team (created if it does not exist)
    #[arg(long, default_value = "default")]
    pub team: String,
    /// Role
    #[arg(long, value_enum, default_value_t = RoleArg::Member)]
    pub role: RoleArg,
    /// Display name, e.g. 李华
    #[arg(long)]
    pub name: Option<String>,
}

/// Kept where other commands look for it.
pub use crate::domain::roles::clean_name;

#[derive(Serialize)]
struct UserRow {
    login: String,
    name: Option<String>,
    team: String,
    role: Role,
    active: bool,
}

pub fn run(ctx: &mut Ctx, cmd: UserCommand) -> Result<()> {
    let now = ctx.now()?;
    let out = ctx.out;
    match cmd {
        UserCommand::Add(a) => {
            // The use case checks the names before the role, as a user expects.
            let me = ctx.actor()?;
            let new = NewUser {
                login: a.login.trim().to_string(),
                team: a.team.trim().to_string(),
                role: a.role.into(),
                display_name: a.name,
            };
            people::add_user(ctx.store()?, &me, &new, now)?;
            out.status(format!(
                "added {} '{}' to team '{}'",
                new.role.as_str(),
                new.login,
                new.team
            ));
            Ok(())
        }
        UserCommand::List { team, all } => {
            let me = ctx.require(Action::ReadUsers)?;
            let rows: Vec<UserRow> = people::list_users(ctx.store()?, &me, team.as_deref(), all)?
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
            let change = UserChange {
                role: role.map(Role::from),
                team,
                reactivate: active,
            };
            people::change_user(ctx.store()?, &me, &login, &change, now)?;
            out.status(format!("updated user '{login}'"));
            Ok(())
        }
        UserCommand::Set {
            login,
            email,
            clear_email: _,
        } => {
            let me = ctx.actor()?;
            crate::app::notify::set_email(ctx.store()?, &me, &login, email.as_deref(), now)?;
            out.status(format!("updated user '{login}'"));
            Ok(())
        }
        UserCommand::Deactivate { login, transfer_to } => {
            let me = ctx.require(Action::ManageUsers)?;
            let done =
                people::deactivate_user(ctx.store()?, &me, &login, transfer_to.as_deref(), now)?;
            out.record(&done)
        }
    }
}
