//! `pool team add|list`.
use clap::Subcommand;

use super::Ctx;
use crate::app::people;
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum TeamCommand {
    /// Add a team (admin)
    Add {
        /// Team name, e.g. sales-east
        name: String,
    },
    /// List teams and how many users they have
    #[command(alias = "ls")]
    List,
}

pub fn run(ctx: &mut Ctx, cmd: TeamCommand) -> Result<()> {
    match cmd {
        TeamCommand::Add { name } => {
            let me = ctx.actor()?;
            let now = ctx.now()?;
            let out = ctx.out;
            let name = people::add_team(ctx.store()?, &me, &name, now)?;
            out.status(format!("added team '{name}'"));
            Ok(())
        }
        TeamCommand::List => {
            let me = ctx.require(Action::ReadUsers)?;
            let out = ctx.out;
            let rows = people::list_teams(ctx.store()?, &me)?;
            out.rows(&rows, "no teams")
        }
    }
}
