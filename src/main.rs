use std::process::ExitCode;

use clap::Parser;
use customer_pool::cli::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => customer_pool::report(&e),
    }
}
