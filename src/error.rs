//! The one exit-status table, and the error `main` reports. A leaf: every module converts its
//! own error into this one, choosing the row; this module uses none of them.

use std::fmt;

/// xexit's exit statuses (the man page's EXIT STATUS section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The session was ended (seen empty), or left alone as asked.
    Ok = 0,
    /// The session was ended, but not all of it: processes survived, PROGRAM failed, or an
    /// error came up while ending it.
    Failed = 1,
    /// A usage or configuration error; nothing was run or signalled.
    Usage = 2,
    /// The display could not be reached at start, or no thread to watch it could be started.
    Unreachable = 3,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error that ends xexit, with the exit status it gives.
#[derive(Debug)]
pub struct Error {
    exit: Exit,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl Error {
    pub fn new(exit: Exit, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        Error { exit, source: source.into() }
    }

    pub fn exit(&self) -> Exit {
        self.exit
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.source()
    }
}
