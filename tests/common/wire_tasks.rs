//! `async_timeout`'s wire format as the tests expect it, written
//! independently of the library's types (`deny_unknown_fields` everywhere).

use super::wire::{Document, ErrorBody};
use serde::Deserialize;

/// `async_timeout` summary (document, NDJSON line or `--output` pointer).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksSummary {
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
    pub killed: u64,
    pub leftovers: u64,
}

/// One `async_timeout` result.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TaskResult {
    #[serde(rename = "type")]
    pub line_type: Option<String>,
    pub index: usize,
    pub status: String,
    pub elapsed_ms: u64,
    pub name: String,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub killed_with: Option<String>,
    pub leftovers: Option<u32>,
    pub stdout_bytes: Option<u64>,
    pub stderr_bytes: Option<u64>,
    pub truncated: Option<bool>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub error: Option<ErrorBody>,
}

impl TaskResult {
    /// `error.kind`, or "" for an ok result.
    pub fn kind(&self) -> &str {
        self.error.as_ref().map_or("", |error| error.kind.as_str())
    }
}

pub type TasksDoc = Document<TaskResult, TasksSummary>;

/// One NDJSON line of `async_timeout`: a result or the summary.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TasksLine {
    Summary(Box<TasksSummary>),
    Result(Box<TaskResult>),
}
