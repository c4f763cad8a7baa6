//! The `async_file_reader` wire format as the tests expect it, written
//! independently of the library's types (`deny_unknown_fields`: a new or
//! renamed field fails here first).

use super::wire::{Document, Line, result_struct, summary_struct};
use serde::Deserialize;

result_struct! {
    /// One `async_file_reader` result.
    #[derive(Clone, PartialEq)]
    pub struct FileResult {
        pub path: String,
        pub path_bytes: Option<String>,
        pub bytes: Option<u64>,
        pub lines: Option<u64>,
        pub chars: Option<u64>,
        pub utf8_valid: Option<bool>,
        pub binary: Option<bool>,
        pub trailing_newline: Option<bool>,
        pub sha256: Option<String>,
        pub content: Option<String>,
        pub truncated: Option<bool>,
    }
}

/// A problem met while walking directories.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WalkError {
    pub path: String,
    pub path_bytes: Option<String>,
    pub kind: String,
    pub message: String,
}

summary_struct! {
    /// `async_file_reader` summary.
    pub struct FilesSummary {
        pub bytes: u64,
        pub lines: u64,
        pub chars: u64,
        pub walk_errors: Vec<WalkError>,
        pub by_extension: std::collections::BTreeMap<String, ExtensionTotals>,
        pub left_out: Option<u64>,
    }
}

/// `summary.by_extension` values.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExtensionTotals {
    pub files: u64,
    pub bytes: u64,
    pub lines: u64,
    pub chars: u64,
}

pub type FilesDoc = Document<FileResult, FilesSummary>;

/// One NDJSON line of `async_file_reader`: a result or the summary.
pub type FilesLine = Line<FileResult, FilesSummary>;
