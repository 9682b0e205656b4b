//! xexit: a per-session watchdog that ends an X session's processes when its display is lost.
//!
//! The path a session takes, one module each:
//!
//! 1. `cli` turns the command line into the plain options of `commands`, which runs them.
//! 2. watch: `display` connects and pings, `daemon` detaches, `watchdog` decides (pure, with
//!    made-up time) when the display is lost.
//! 3. `hooks` runs the admin's exit hooks in /etc/Xexit.d.
//! 4. find: `find` resolves the session's scope (`--session`, `--user`) and decides per
//!    process, reading /proc through `proc`.
//! 5. end: `end` runs the signal rounds over processes held as `process::ProcessRef`s.
//!
//! `error` holds the exit-status table, `logging` the log targets, `duration` the DURATION
//! values, and `sys` every `unsafe` call.

mod cli;
mod commands;
mod daemon;
mod display;
mod display_name;
mod duration;
mod end;
mod error;
mod find;
#[cfg(test)]
mod fuzz;
mod hooks;
mod listing;
mod logging;
mod proc;
mod process;
mod summary;
mod sys;
mod watchdog;
mod xevents;

use std::ffi::OsString;

pub use crate::cli::command;

/// Runs xexit with `args` (argv[0] first) and returns the exit status, having reported any error.
pub fn main_with_args(args: Vec<OsString>) -> u8 {
    let result = cli::parse(args).and_then(|command| command.map_or(Ok(error::Exit::Ok), commands::run));
    match result {
        Ok(exit) => exit.code(),
        Err(error) => {
            if logging::stderr_is_seen() {
                eprintln!("xexit: error: {error:#}");
            } else {
                log::error!("{error:#}");
            }
            error.exit().code()
        }
    }
}
