//! `async_timeout`'s wire format as the tests expect it, written
//! independently of the library's types (`deny_unknown_fields` everywhere).

use super::wire::{Document, Line, result_struct, summary_struct};

summary_struct! {
    /// `async_timeout` summary (document, NDJSON line or `--output` pointer).
    pub struct TasksSummary {
        pub killed: u64,
        pub leftovers: u64,
    }
}

result_struct! {
    /// One `async_timeout` result.
    #[derive(Clone)]
    pub struct TaskResult {
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
    }
}

impl TaskResult {
    /// `error.kind`, or "" for an ok result.
    pub fn kind(&self) -> &str {
        self.error.as_ref().map_or("", |error| error.kind.as_str())
    }
}

pub type TasksDoc = Document<TaskResult, TasksSummary>;

/// One NDJSON line of `async_timeout`: a result or the summary.
pub type TasksLine = Line<TaskResult, TasksSummary>;
