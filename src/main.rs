use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use customer_pool::cli::{run, Cli};

fn main() -> ExitCode {
    // `Cli::parse()`, except that the command tree is not freed: the process ends soon
    // and dropping it cost about a fifth of clap's part of a `pool claim` process.
    let mut cmd = Cli::command();
    let cli = match cmd
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut m| Cli::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut cmd)))
    {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    std::mem::forget(cmd);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => customer_pool::report(&e),
    }
}
