//! Why a file's result is not `ok`, as a typed error with a stable `kind`.
//!
//! | kind | status | meaning |
//! | --- | --- | --- |
//! | `blocking_calls` | error | the file has findings (listed in `findings`), at least one of category `blocking` |
//! | `async_misuse` | error | the file's findings are all of category `misuse` (a coroutine never awaited, a loop started in a loop) |
//! | `parse` | error | no finding, but parts of the file do not parse: the rest was scanned, those regions (listed in `unscanned`) were not |
//! | `too_deep` | error | no finding, but parts are nested deeper than the analyzer follows (listed in `unscanned`) |
//! | `io` | error | the file or directory could not be read |
//! | `permission_denied` | error | the file (or a directory) may not be read |
//! | `not_found` | error | a path given as an item does not exist |
//! | `permission_denied`, `io` | error | a directory could not be walked (from [`crate::walk`]) |
//! | `no_match` | error | a glob pattern (or directory) holds no Python or Rust file |
//! | `unsupported` | error | a file given by name is neither `.py` nor `.rs` |
//! | `not_regular` | error | a FIFO, socket, device or directory: refused before it is opened |
//! | `timeout` | timeout | not read and parsed within `--timeout` (a hung mount, a huge file) |
//! | `too_large` | skipped | the file is larger than `--max-file-size` (not read) |
//!
//! The runner adds `deadline` and `cancelled` (see [`crate::stop`]).

use crate::error::Failure;
use crate::units::format_duration;
use crate::wire::Status;
use std::io;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScanError {
    #[error("{}", findings_message(*.blocking, *.misuse))]
    Findings { blocking: u64, misuse: u64 },
    #[error(
        "{regions} region{} that {} not parse as {language}, the first at line {line}, column {column}: \
         not scanned there (see `unscanned`); the rest of the file was",
        if *.regions == 1 { "" } else { "s" },
        if *.regions == 1 { "does" } else { "do" }
    )]
    Parse {
        regions: u64,
        line: u64,
        column: u64,
        language: &'static str,
    },
    #[error(
        "{regions} region{} nested too deep to follow, the first at line {line}: not scanned \
         there (see `unscanned`); the rest of the file was",
        if *.regions == 1 { "" } else { "s" }
    )]
    TooDeep { regions: u64, line: u64 },
    #[error("cannot read {path}: {detail}")]
    Io { path: String, detail: String },
    #[error("cannot read {path}: permission denied")]
    PermissionDenied { path: String },
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("`{0}` matched no .py or .rs file")]
    NoMatch(String),
    #[error("{0} is not a Python (.py) or Rust (.rs) file")]
    Unsupported(String),
    #[error("{path} is a {what}, not a regular file: not read")]
    NotRegular { path: String, what: &'static str },
    #[error(transparent)]
    Walk(crate::walk::WalkError),
    #[error("not read and parsed within --timeout {}", format_duration(*.0))]
    Timeout(Duration),
    #[error("{size} bytes is more than --max-file-size {limit}: not scanned")]
    TooLarge { size: u64, limit: u64 },
}

impl Failure for ScanError {
    fn kind(&self) -> &'static str {
        match self {
            ScanError::Findings { blocking, .. } if *blocking > 0 => "blocking_calls",
            ScanError::Findings { .. } => "async_misuse",
            ScanError::Parse { .. } => "parse",
            ScanError::TooDeep { .. } => "too_deep",
            ScanError::Io { .. } => "io",
            ScanError::PermissionDenied { .. } => "permission_denied",
            ScanError::NotFound(_) => "not_found",
            ScanError::NoMatch(_) => "no_match",
            ScanError::Unsupported(_) => "unsupported",
            ScanError::NotRegular { .. } => "not_regular",
            ScanError::Walk(error) => error.kind(),
            ScanError::Timeout(_) => "timeout",
            ScanError::TooLarge { .. } => "too_large",
        }
    }

    /// A file too large to read is set aside (`skipped`, not a failure of
    /// the run); one that ran out of `--timeout` is `timeout`.
    fn status(&self) -> Status {
        match self {
            ScanError::TooLarge { .. } => Status::Skipped,
            ScanError::Timeout(_) => Status::Timeout,
            _ => Status::Error,
        }
    }
}

fn findings_message(blocking: u64, misuse: u64) -> String {
    let plural = |count: u64, one: &str, many: &str| {
        format!("{count} {}", if count == 1 { one } else { many })
    };
    let blocking_text = plural(blocking, "blocking call", "blocking calls");
    let misuse_text = plural(misuse, "async misuse", "async misuses");
    match (blocking, misuse) {
        (_, 0) => format!("{blocking_text} inside async code"),
        (0, _) => format!(
            "{misuse_text} (not blocking: a coroutine never awaited, a loop started in a loop)"
        ),
        _ => format!("{blocking_text} and {misuse_text} inside async code"),
    }
}

impl ScanError {
    /// What a failed open or read of the file `path` is, by the OS's reason.
    pub(crate) fn reading(path: &str, error: &io::Error) -> ScanError {
        match error.kind() {
            io::ErrorKind::PermissionDenied => ScanError::PermissionDenied {
                path: path.to_string(),
            },
            io::ErrorKind::NotFound => ScanError::NotFound(path.to_string()),
            _ => ScanError::Io {
                path: path.to_string(),
                detail: error.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_map_to_the_documented_kinds() {
        let kind = |error: io::Error| ScanError::reading("a.py", &error).kind();
        // Root reads a chmod-000 file anyway, so the mapping is tested here.
        assert_eq!(
            kind(io::Error::from(io::ErrorKind::PermissionDenied)),
            "permission_denied"
        );
        assert_eq!(
            kind(io::Error::from_raw_os_error(libc::EACCES)),
            "permission_denied"
        );
        assert_eq!(kind(io::Error::from(io::ErrorKind::NotFound)), "not_found");
        assert_eq!(kind(io::Error::from_raw_os_error(libc::EIO)), "io");
        let findings = |blocking, misuse| {
            let error = ScanError::Findings { blocking, misuse };
            (error.kind(), error.to_string())
        };
        assert_eq!(
            findings(2, 0),
            (
                "blocking_calls",
                "2 blocking calls inside async code".to_string()
            )
        );
        assert_eq!(
            findings(1, 1).1,
            "1 blocking call and 1 async misuse inside async code"
        );
        assert_eq!(findings(0, 3).0, "async_misuse");
        let message = ScanError::reading("a.py", &io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(message.to_string(), "cannot read a.py: permission denied");
    }
}
