//! The `async_file_reader` wire format as the tests expect it, written
//! independently of the library's types (`deny_unknown_fields`: a new or
//! renamed field fails here first).

use super::wire::{Document, ErrorBody};
use serde::Deserialize;

/// One `async_file_reader` result.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileResult {
    #[serde(rename = "type")]
    pub line_type: Option<String>,
    pub index: usize,
    pub status: String,
    pub elapsed_ms: u64,
    pub path: String,
    pub bytes: Option<u64>,
    pub lines: Option<u64>,
    pub chars: Option<u64>,
    pub utf8_valid: Option<bool>,
    pub binary: Option<bool>,
    pub trailing_newline: Option<bool>,
    pub sha256: Option<String>,
    pub content: Option<String>,
    pub truncated: Option<bool>,
    pub error: Option<ErrorBody>,
}

/// A problem met while walking directories.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WalkError {
    pub path: String,
    pub kind: String,
    pub message: String,
}

/// `async_file_reader` summary.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSummary {
    #[serde(rename = "type")]
    pub line_type: Option<String>,
    pub tool: Option<String>,
    pub version: Option<String>,
    pub total: u64,
    pub ok: u64,
    pub error: u64,
    pub timeout: u64,
    pub cancelled: u64,
    pub skipped: u64,
    pub elapsed_ms: u64,
    pub sum_ms: u64,
    pub speedup: Option<f64>,
    pub concurrency: u64,
    pub max_in_flight: u64,
    pub stopped_by: Option<String>,
    pub bytes: u64,
    pub lines: u64,
    pub chars: u64,
    pub unmatched: Vec<String>,
    pub walk_errors: Vec<WalkError>,
}

pub type FilesDoc = Document<FileResult, FilesSummary>;

/// One NDJSON line of `async_file_reader`: a result or the summary.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FilesLine {
    Summary(Box<FilesSummary>),
    Result(Box<FileResult>),
}
