//! `pool init` and `pool completions`.
use clap::Args;
use serde::Serialize;

use super::Ctx;
use crate::error::Result;

#[derive(Serialize)]
struct InitReport {
    database: String,
    schema_version: i64,
    admin: String,
    role: String,
}

pub fn init(ctx: &mut Ctx) -> Result<()> {
    ctx.init = true;
    let user = ctx.actor()?;
    let out = ctx.out;
    let store = ctx.store()?;
    let report = InitReport {
        database: store.location(),
        schema_version: store.schema_version()?,
        admin: user.login,
        role: user.role.as_str().into(),
    };
    out.record(&report)
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn completions(cmd: &mut clap::Command, args: &CompletionsArgs) -> Result<()> {
    // Into memory first: clap_complete panics on a write error, and `| head` closes the
    // pipe early (a broken pipe is then a quiet exit 0, as for every other output).
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, cmd, "pool", &mut buf);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &buf)?;
    Ok(())
}
