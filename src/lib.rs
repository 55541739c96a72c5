//! `pool`: a shared customer pool over one SQLite file. The binary is a thin shell
//! over this library: cli (parse, print) → domain (decide) → store (persist).
pub mod app;
pub mod cli;
pub mod clock;
pub mod deliver;
pub mod demo;
pub mod domain;
pub mod encode;
pub mod error;
pub mod identity;
pub mod import;
pub mod outfile;
pub mod store;
pub mod tls;

use std::process::ExitCode;

pub use error::{Error, Result};

/// `eprintln!` that never panics: with stderr closed (`2>&-`, `2>&1 | true`) a message
/// is lost, not the command's exit code.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// Prints an error as `error:` / `caused by:` / `hint:` on stderr and gives its exit code.
/// A closed stdout (`pool list | head`) is not an error.
pub fn report(e: &Error) -> ExitCode {
    if let Error::Io(io) = e {
        if io.kind() == std::io::ErrorKind::BrokenPipe {
            return ExitCode::SUCCESS;
        }
    }
    if let Error::Json(j) = e {
        if j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) {
            return ExitCode::SUCCESS;
        }
    }
    if let Error::Csv(c) = e {
        if let csv::ErrorKind::Io(io) = c.kind() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return ExitCode::SUCCESS;
            }
        }
    }
    if let Error::Silent(code) = e {
        return ExitCode::from(*code);
    }
    say!("error: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        say!("caused by: {s}");
        source = s.source();
    }
    if let Some(h) = e.hint() {
        say!("hint: {h}");
    }
    ExitCode::from(e.exit_code())
}
