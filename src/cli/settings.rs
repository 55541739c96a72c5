//! `pool settings show|set|unset`: the time zone, for the database or one team.
use clap::Subcommand;

use super::Ctx;
use crate::app::settings as app;
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SettingsCommand {
    /// Show the settings and what applies (a team's own, else the database's, else the
    /// system's)
    Show {
        /// Show what applies to this team
        #[arg(long)]
        team: Option<String>,
    },
    /// Set a setting (admin), e.g. `pool settings set timezone Asia/Shanghai`
    Set {
        /// The setting: timezone, key_lookups_per_day (server mode)
        name: String,
        /// Its value, e.g. Asia/Shanghai (an IANA time zone)
        value: String,
        /// Only for this team (teams in other zones)
        #[arg(long)]
        team: Option<String>,
    },
    /// Remove a setting (admin): the team follows the database's, the database the
    /// system's
    Unset {
        /// The setting: timezone, key_lookups_per_day (server mode)
        name: String,
        /// Only this team's
        #[arg(long)]
        team: Option<String>,
    },
}

pub fn run(ctx: &mut Ctx, cmd: SettingsCommand) -> Result<()> {
    let now = ctx.now()?;
    let out = ctx.out;
    match cmd {
        SettingsCommand::Show { team } => {
            let me = ctx.require(Action::ReadRules)?;
            let rows = app::show(ctx.store()?, &me, team.as_deref())?;
            out.rows(&rows, "")
        }
        SettingsCommand::Set { name, value, team } => {
            let me = ctx.require(Action::ManageRules)?;
            app::set(ctx.store()?, &me, &name, Some(&value), team.as_deref(), now)?;
            out.status(format!("{name} set to {value}"));
            Ok(())
        }
        SettingsCommand::Unset { name, team } => {
            let me = ctx.require(Action::ManageRules)?;
            app::set(ctx.store()?, &me, &name, None, team.as_deref(), now)?;
            out.status(format!("{name} unset"));
            Ok(())
        }
    }
}
