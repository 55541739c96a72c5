//! `pool team add|list`.
use clap::Subcommand;
use serde_json::json;

use super::Ctx;
use crate::domain::roles::Action;
use crate::error::Result;
use crate::store::{audit, teams};

#[derive(Debug, Subcommand)]
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
            let name = super::user::clean_name("team", &name)?;
            let me = ctx.require(Action::ManageTeams)?;
            let now = ctx.now()?;
            let out = ctx.out;
            let tx = ctx.store()?.begin()?;
            let id = teams::insert(&tx, &name, now)?;
            audit::append(
                &tx,
                audit::Record {
                    at: now,
                    actor: &me.login,
                    action: "team_add",
                    entity: "team",
                    entity_id: Some(id),
                    before: None,
                    after: Some(json!({ "name": name })),
                },
            )?;
            tx.commit()?;
            out.status(format!("added team '{name}'"));
            Ok(())
        }
        TeamCommand::List => {
            ctx.require(Action::ReadUsers)?;
            let out = ctx.out;
            let rows = teams::list(&ctx.store()?.conn)?;
            out.rows(&rows, "no teams")
        }
    }
}
