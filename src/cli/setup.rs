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

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Prepare the PostgreSQL database of --db postgres://… for server mode: schema,
    /// roles, grants, row level security, triggers and the first admin. Run it as the
    /// database's owner (a role with CREATEROLE, neither superuser nor BYPASSRLS); again
    /// later, it applies only what is missing
    #[arg(long)]
    pub server: bool,
    /// With --server: the first admin's login role (created; give it a password with
    /// ALTER ROLE … PASSWORD or use peer/cert authentication)
    #[arg(
        long,
        value_name = "LOGIN",
        requires = "server",
        default_value = "pool_admin1"
    )]
    pub admin: String,
    /// With --server: the first admin's team
    #[arg(long, requires = "server", default_value = "default")]
    pub team: String,
}

pub fn init(ctx: &mut Ctx, a: &InitArgs) -> Result<()> {
    if a.server {
        let db = ctx.db_path()?.to_string_lossy().to_string();
        if !crate::store::postgres::is_server_url(&db) {
            return Err(crate::error::Error::invalid_hint(
                "--server",
                "needs a PostgreSQL database",
                "pool --db postgres://pool_owner@HOST/pool init --server --admin LOGIN",
            ));
        }
        crate::identity::check_login(&a.admin)?;
        let done = crate::store::postgres::init_server(&db, &a.admin, &a.team)?;
        ctx.out.status(format!(
            "server database ready: {} migration(s) applied",
            done.applied.len()
        ));
        return ctx.out.record(&done);
    }
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
