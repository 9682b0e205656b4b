//! The errors `main` reports, and the exit status each one gives.

use crate::{hooks, reap, session, watch};

/// The session was ended (or left alone) as asked.
pub const EXIT_OK: u8 = 0;
/// The session was ended, but not all of it: processes survived, PROGRAM failed, or an error
/// came up while ending it.
pub const EXIT_FAILED: u8 = 1;
/// A usage or configuration error; nothing was run or signalled.
pub const EXIT_USAGE: u8 = 2;
/// The display could not be reached at start.
pub const EXIT_UNREACHABLE: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Session(#[from] session::Error),
    #[error(transparent)]
    Watch(#[from] watch::Error),
    #[error(transparent)]
    Reap(#[from] reap::Error),
    #[error(transparent)]
    Hooks(#[from] hooks::Error),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::Session(e) if e.is_usage() => EXIT_USAGE,
            Error::Reap(reap::Error::Session(e)) if e.is_usage() => EXIT_USAGE,
            Error::Watch(e) => e.exit_code(),
            _ => EXIT_FAILED,
        }
    }
}
