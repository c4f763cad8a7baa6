//! Why a file's result is not `ok`, as a typed error with a stable `kind`.
//!
//! | kind | status | meaning |
//! | --- | --- | --- |
//! | `blocking_calls` | error | the file has findings (listed in `findings`) |
//! | `parse` | error | the file is not valid Python / Rust (the message says where) |
//! | `io` | error | the file or directory could not be read |
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
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("{count} blocking call{} inside async code", if *.count == 1 { "" } else { "s" })]
    BlockingCalls { count: usize },
    #[error("syntax error at line {line}, column {column}: the file does not parse as {language}")]
    Parse {
        line: u64,
        column: u64,
        language: &'static str,
    },
    #[error("cannot read {path}: {detail}")]
    Io { path: String, detail: String },
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
            ScanError::BlockingCalls { .. } => "blocking_calls",
            ScanError::Parse { .. } => "parse",
            ScanError::Io { .. } => "io",
            ScanError::NotFound(_) => "not_found",
            ScanError::NoMatch(_) => "no_match",
            ScanError::Unsupported(_) => "unsupported",
            ScanError::NotRegular { .. } => "not_regular",
            ScanError::Walk(error) => error.kind(),
            ScanError::Timeout(_) => "timeout",
            ScanError::TooLarge { .. } => "too_large",
        }
    }
}
