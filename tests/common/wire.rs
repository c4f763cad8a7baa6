//! The wire format as the tests expect it, written independently of the
//! library's own types. `deny_unknown_fields` everywhere: a new or renamed
//! field fails here first.

use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub kind: String,
    pub message: String,
}

/// The exit-2 document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageError {
    pub tool: String,
    pub version: String,
    pub error: InputErrorBody,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputErrorBody {
    pub kind: String,
    pub message: String,
    pub line: Option<u64>,
    pub field: Option<String>,
}

/// A whole document: results in input order, then the summary.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document<R, S> {
    pub tool: String,
    pub version: String,
    pub results: Vec<R>,
    pub summary: S,
}

/// What stdout holds with `--output FILE`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputPointer<S> {
    pub tool: String,
    pub version: String,
    pub output: String,
    pub summary: S,
}

/// Declares a tool's summary: the fields every tool's summary carries (the
/// NDJSON `type`/`tool`/`version`, the counts per status, the timings,
/// `stopped_by`) followed by the tool's own totals. A macro, not
/// `#[serde(flatten)]`, because serde cannot combine `flatten` with
/// `deny_unknown_fields`, and the strictness is the point of these structs.
macro_rules! summary_struct {
    (
        $(#[$attr:meta])*
        pub struct $name:ident { $($(#[$field_attr:meta])* pub $field:ident: $ty:ty),* $(,)? }
    ) => {
        $(#[$attr])*
        #[derive(Debug, ::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
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
            pub p50_ms: Option<f64>,
            pub p90_ms: Option<f64>,
            pub p99_ms: Option<f64>,
            pub max_ms: Option<f64>,
            pub stopped_by: Option<String>,
            $($(#[$field_attr])* pub $field: $ty,)*
        }
    };
}
pub(crate) use summary_struct;

/// Declares a tool's result: the fields every result carries (the NDJSON
/// `type`, `index`, `status`, `elapsed_ms`, and `error` for a non-ok item)
/// around the tool's own. A macro for the same reason as `summary_struct`.
macro_rules! result_struct {
    (
        $(#[$attr:meta])*
        pub struct $name:ident { $($(#[$field_attr:meta])* pub $field:ident: $ty:ty),* $(,)? }
    ) => {
        $(#[$attr])*
        #[derive(Debug, ::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            #[serde(rename = "type")]
            pub line_type: Option<String>,
            pub index: usize,
            pub line: Option<u64>,
            pub status: String,
            pub elapsed_ms: u64,
            $($(#[$field_attr])* pub $field: $ty,)*
            pub error: Option<$crate::common::wire::ErrorBody>,
        }
    };
}
pub(crate) use result_struct;

/// One NDJSON line: a result or the summary (tried first: its required
/// counts never match a result line).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Line<R, S> {
    Summary(Box<S>),
    Result(Box<R>),
}

summary_struct! {
    /// `async_requests` summary.
    pub struct RequestsSummary {
        pub requests_sent: u64,
        pub retries: u64,
        pub bytes_received: u64,
        pub pages: Option<u64>,
        pub circuit_opened: Option<Vec<String>>,
    }
}

result_struct! {
    /// One `async_requests` result.
    #[derive(Clone)]
    pub struct RequestResult {
        pub id: Option<String>,
        pub method: String,
        pub url: String,
        pub page: Option<u32>,
        pub more_pages: Option<bool>,
        pub http_status: Option<u16>,
        pub final_url: Option<String>,
        pub redirects: Option<u32>,
        pub content_type: Option<String>,
        pub body_bytes: Option<u64>,
        pub truncated: Option<bool>,
        pub full_bytes: Option<u64>,
        pub json: Option<Value>,
        pub text: Option<String>,
        pub base64: Option<String>,
        pub picked: Option<Map<String, Value>>,
        pub note: Option<String>,
        pub saved_to: Option<String>,
        pub bytes: Option<u64>,
        pub sha256: Option<String>,
        pub headers: Option<Map<String, Value>>,
        pub attempts: Option<Vec<Attempt>>,
        pub request_headers: Option<Map<String, Value>>,
        pub request_body: Option<Value>,
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    pub http_status: Option<u16>,
    pub elapsed_ms: u64,
    pub error: Option<ErrorBody>,
    pub wait_ms: Option<u64>,
    pub retry_after: Option<bool>,
}

pub type RequestsDoc = Document<RequestResult, RequestsSummary>;

/// One NDJSON line of `async_requests`: a result or the summary.
pub type RequestsLine = Line<RequestResult, RequestsSummary>;
