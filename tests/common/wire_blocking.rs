//! `find_blocking_calls` output as the tests expect it, written
//! independently of the library's types (`deny_unknown_fields` everywhere).

use super::wire::{Document, Line, result_struct, summary_struct};
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
    pub category: String,
    pub message: String,
    pub suggestion: String,
}

#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Suppressed {
    pub line: u64,
    pub rule: String,
}

#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub line: u64,
    pub column: u64,
    pub end_line: u64,
    pub end_column: u64,
    pub reason: String,
}

result_struct! {
    /// One file's result.
    #[derive(Clone)]
    pub struct FileResult {
        pub path: String,
        pub path_bytes: Option<String>,
        pub language: Option<String>,
        pub lines: Option<u64>,
        pub findings: Option<Vec<Finding>>,
        pub findings_omitted: Option<u64>,
        pub suppressed: Option<u64>,
        pub suppressed_calls: Option<Vec<Suppressed>>,
        pub unscanned: Option<Vec<Region>>,
        pub unscanned_total: Option<u64>,
    }
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

summary_struct! {
    /// `find_blocking_calls` summary.
    pub struct BlockingSummary {
        pub findings: u64,
        pub findings_omitted: u64,
        pub blocking: u64,
        pub misuse: u64,
        pub suppressed: u64,
        pub files_incomplete: u64,
        pub lines: u64,
        pub files: FileCounts,
    }
}

pub type BlockingDoc = Document<FileResult, BlockingSummary>;

/// One NDJSON line: a result or the summary.
pub type BlockingLine = Line<FileResult, BlockingSummary>;

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
    pub category: String,
    pub calls: Vec<String>,
    #[serde(default)]
    pub unless_args: Vec<String>,
    #[serde(default)]
    pub receiver_names: Vec<String>,
    pub why: String,
    pub replacement: String,
    pub method_replacement: Option<String>,
    #[serde(default)]
    pub ruff: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    pub language: String,
    pub call: String,
    pub gives: String,
}
