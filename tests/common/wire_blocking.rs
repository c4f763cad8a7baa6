//! `find_blocking_calls` output as the tests expect it, written
//! independently of the library's types (`deny_unknown_fields` everywhere).

use super::wire::{Document, ErrorBody};
use serde::Deserialize;

#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub path: String,
    pub line: u64,
    pub column: u64,
    pub function: String,
    pub call: String,
    pub resolved: String,
    pub rule: String,
    pub message: String,
    pub suggestion: String,
}

/// One file's result.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct FileResult {
    #[serde(rename = "type")]
    pub line_type: Option<String>,
    pub index: usize,
    pub status: String,
    pub elapsed_ms: u64,
    pub path: String,
    pub language: Option<String>,
    pub lines: Option<u64>,
    pub findings: Option<Vec<Finding>>,
    pub suppressed: Option<u64>,
    pub error: Option<ErrorBody>,
}

impl FileResult {
    pub fn kind(&self) -> Option<&str> {
        self.error.as_ref().map(|error| error.kind.as_str())
    }

    pub fn rules(&self) -> Vec<&str> {
        self.findings
            .iter()
            .flatten()
            .map(|finding| finding.rule.as_str())
            .collect()
    }
}

#[derive(Debug, Deserialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileCounts {
    pub python: u64,
    pub rust: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingSummary {
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
    pub findings: u64,
    pub suppressed: u64,
    pub lines: u64,
    pub files: FileCounts,
}

pub type BlockingDoc = Document<FileResult, BlockingSummary>;

/// One NDJSON line: a result or the summary.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum BlockingLine {
    Summary(Box<BlockingSummary>),
    Result(Box<FileResult>),
}

/// `--rules`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesDoc {
    pub tool: String,
    pub version: String,
    pub rules: Vec<Rule>,
    pub types: Vec<Producer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub language: String,
    pub check: String,
    pub calls: Vec<String>,
    pub why: String,
    pub replacement: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    pub language: String,
    pub call: String,
    pub gives: String,
}
