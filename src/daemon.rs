//! Going into the background, and what must be true after the fork: a new session, no
//! terminal, no working directory held, stdio on /dev/null, xexit's own signals caught.

use std::io;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::error::Exit;
use crate::sys::{Forked, fork_single_threaded};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot detach into the background: {0}")]
    Detach(io::Error),
    #[error("cannot install signal handlers: {0}")]
    Signals(io::Error),
}

impl From<Error> for crate::error::Error {
    fn from(error: Error) -> Self {
        crate::error::Error::new(Exit::Failed, error)
    }
}

/// xexit's own signals, caught from the start so a hangup while starting does no harm.
pub fn catch_signals() -> Result<Signals, Error> {
    Signals::new([SIGHUP, SIGTERM, SIGINT]).map_err(Error::Signals)
}

/// Forks into the background: the parent exits 0 to the X session at once, the child leaves
/// the session's terminal, the working directory and stdio behind (stderr stays where it was
/// with `keep_stderr`, for `--log stderr`: ~/.xsession-errors under Xsession).
///
/// No thread may be running: the connect thread must have been joined.
pub fn detach(keep_stderr: bool) -> Result<(), Error> {
    match fork_single_threaded().map_err(Error::Detach)? {
        Forked::Parent => std::process::exit(0),
        Forked::Child => {}
    }
    let failed = |e: nix::Error| Error::Detach(e.into());
    nix::unistd::setsid().map_err(failed)?;
    // Holding no directory keeps home directories unmountable after logout.
    nix::unistd::chdir("/").map_err(failed)?;
    let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").map_err(Error::Detach)?;
    nix::unistd::dup2_stdin(&null).map_err(failed)?;
    nix::unistd::dup2_stdout(&null).map_err(failed)?;
    if !keep_stderr {
        nix::unistd::dup2_stderr(&null).map_err(failed)?;
    }
    Ok(())
}
