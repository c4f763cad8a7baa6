//! Why one file could not be read, as a typed error with a stable `kind`.
//!
//! | kind | meaning |
//! | --- | --- |
//! | `not_found` | no such file (or a symlink to nothing) |
//! | `permission_denied` | the file or a directory on its path is not readable |
//! | `is_directory` | the item is a directory (give a pattern such as `dir/**` for its files) |
//! | `not_regular` | a socket or device: not read (FIFOs and pipes given as items are read, under `--timeout`); a FIFO, socket or device a pattern matched: listed, not opened |
//! | `timeout` | not read to the end within `--timeout` (a hung network mount, a silent pipe) |
//! | `io` | any other read error (the message says which) |
//! | `no_match` | a pattern (its text is the `path`) matched no file |
//! | `internal` | a bug in the tool (please report it) |
//!
//! Status `timeout` for `timeout`, `error` for the rest. The runner adds
//! `deadline` and `cancelled` (see [`crate::error::RunKind`]); bad input (an
//! invalid pattern) is `invalid_input` and stops the tool before anything is
//! read.

use crate::error::{Failure, RunKind, Status};
use crate::units::format_duration;
use std::io;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FileError {
    #[error("no such file")]
    NotFound,
    #[error("a symbolic link to a missing file")]
    DanglingSymlink,
    #[error("permission denied")]
    PermissionDenied,
    #[error("is a directory (use a pattern such as `dir/**` for the files in it)")]
    IsDirectory,
    #[error("is a {0}, not a regular file: not read")]
    NotRegular(&'static str),
    /// A pattern matched it: a FIFO would wait for a writer, a device may
    /// do anything, so it is listed without being opened.
    #[error("is a {0} matched by a pattern: not opened (give its path as an item to read a FIFO)")]
    Matched(&'static str),
    #[error("not read within {}", format_duration(*.0))]
    Timeout(Duration),
    #[error("{0}")]
    Io(String),
    #[error("no file matches `{0}`")]
    NoMatch(String),
    #[error("internal error (a bug, please report it): {0}")]
    Internal(String),
}

impl Failure for FileError {
    fn kind(&self) -> &'static str {
        match self {
            FileError::NotFound | FileError::DanglingSymlink => "not_found",
            FileError::PermissionDenied => "permission_denied",
            FileError::IsDirectory => "is_directory",
            FileError::NotRegular(_) | FileError::Matched(_) => "not_regular",
            FileError::Timeout(_) => "timeout",
            FileError::Io(_) => "io",
            FileError::NoMatch(_) => "no_match",
            FileError::Internal(_) => RunKind::Internal.word(),
        }
    }

    fn status(&self) -> Status {
        match self {
            FileError::Timeout(_) => Status::Timeout,
            _ => Status::Error,
        }
    }
}

impl FileError {
    /// Classifies an error from opening, inspecting or reading a file.
    pub(crate) fn from_io(error: &io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::NotFound => FileError::NotFound,
            io::ErrorKind::PermissionDenied => FileError::PermissionDenied,
            io::ErrorKind::IsADirectory => FileError::IsDirectory,
            _ => FileError::Io(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_the_documented_words() {
        let cases = [
            (
                FileError::from_io(&io::Error::from(io::ErrorKind::NotFound)),
                "not_found",
            ),
            (FileError::DanglingSymlink, "not_found"),
            (
                FileError::from_io(&io::Error::from(io::ErrorKind::PermissionDenied)),
                "permission_denied",
            ),
            (
                FileError::from_io(&io::Error::from_raw_os_error(libc::EISDIR)),
                "is_directory",
            ),
            (FileError::NotRegular("socket"), "not_regular"),
            (FileError::Matched("FIFO (named pipe)"), "not_regular"),
            (FileError::Timeout(Duration::from_secs(2)), "timeout"),
            (FileError::NoMatch("*.x".into()), "no_match"),
            (FileError::Internal("x".into()), "internal"),
            (
                FileError::from_io(&io::Error::from_raw_os_error(libc::EIO)),
                "io",
            ),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
        assert_eq!(
            FileError::Timeout(Duration::from_millis(1500)).to_string(),
            "not read within 1.5s"
        );
    }
}
