//! The one error the parser yields: an event too large to keep.

use core::fmt;

/// An error yielded by [`Parser::feed`](crate::Parser::feed) in place of an event.
///
/// Errors are not fatal: the parser skips the offending event and carries on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// An event grew past the parser's maximum event size: its data buffer plus the line being
    /// read held more than `limit` bytes. The event was discarded (everything up to and
    /// including its blank line is skipped without being buffered).
    EventTooLarge {
        /// The maximum event size in force, in bytes.
        limit: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EventTooLarge { limit } => {
                write!(
                    f,
                    "server-sent event larger than the maximum of {limit} bytes"
                )
            }
        }
    }
}

impl core::error::Error for Error {}
