//! The JSON wire format: the one thing every agent parses. Changing a name
//! here is a breaking change (see `docs/CONTRACT.md` and the schemas in
//! `assets/schemas/`).
//!
//! ## Document (default)
//! ```text
//! {"tool":"async_requests","version":"0.1.0","results":[
//! {"index":0,"status":"ok","elapsed_ms":1201,...tool fields...},
//! {"index":1,"status":"error","elapsed_ms":903,...,"error":{"kind":"http_status","message":"HTTP 503 Service Unavailable"}}
//! ],
//! "summary":{"total":2,"ok":1,"error":1,"timeout":0,"cancelled":0,"skipped":0,
//!            "elapsed_ms":1210,"sum_ms":2104,"speedup":1.74,"concurrency":16,"max_in_flight":2,
//!            "p50_ms":1201.0,"p90_ms":1201.0,"p99_ms":1201.0,"max_ms":1201.3,...}}
//! ```
//! One result per line, in input order, so the document streams: memory does
//! not grow with the number of items, and `head` shows the first results.
//! The summary comes last because it is only known at the end.
//!
//! ## NDJSON (`--ndjson`)
//! `{"type":"result","index":4,...}` lines in completion order, then one
//! `{"type":"summary","tool":...,"version":...,...summary fields}` line.
//!
//! ## `--output FILE`
//! FILE gets the document (or the NDJSON lines); stdout gets
//! `{"tool":..,"version":..,"output":"FILE","summary":{...}}`.
//!
//! ## Bad usage or input (exit 2)
//! `{"tool":..,"version":..,"error":{"kind":"invalid_input","message":..,"line":N,"field":".."}}`
//!
//! ## Rules
//! - `status` is one of `ok`, `error`, `timeout`, `cancelled`, `skipped`.
//! - every item that is not `ok` carries `error.kind` and `error.message`.
//! - fields that do not apply are left out, never `null`.

pub(crate) use crate::error::Status;
use crate::error::{ErrorBody, Failure, InputError, RunFailure};
use crate::latency::Percentiles;
use crate::stop::StopReason;
use serde::Serialize;

/// What a tool hands back for one item: its status, the error when not ok,
/// and the tool's own fields (`report`), flattened into the result line.
#[derive(Debug)]
pub(crate) struct Finished<R> {
    pub(crate) status: Status,
    pub(crate) error: Option<ErrorBody>,
    pub(crate) report: R,
    /// The 1-based line of `--input` the item was read from: set by the
    /// runner, not the tool (absent for arguments and expanded files).
    pub(crate) line: Option<u64>,
}

impl<R> Finished<R> {
    pub(crate) fn ok(report: R) -> Self {
        Finished {
            status: Status::Ok,
            error: None,
            report,
            line: None,
        }
    }

    /// An item `failure` ended; its status is the failure's own.
    pub(crate) fn failed(report: R, failure: &(impl Failure + ?Sized)) -> Self {
        Finished {
            status: failure.status(),
            error: Some(ErrorBody::from_failure(failure)),
            report,
            line: None,
        }
    }

    /// [`Finished::failed`] with the message already scrubbed of secrets.
    pub(crate) fn failed_with_message(
        report: R,
        failure: &(impl Failure + ?Sized),
        message: String,
    ) -> Self {
        Finished {
            status: failure.status(),
            error: Some(ErrorBody::new(failure.kind(), message)),
            report,
            line: None,
        }
    }

    /// An item the run stopped: `timeout` (kind `deadline`) when the deadline
    /// caught it running, `cancelled` otherwise.
    pub(crate) fn stopped(report: R, reason: StopReason, was_running: bool) -> Self {
        Finished::failed(report, &RunFailure::stopped(reason, was_running))
    }

    /// An item whose work panicked or lost its thread: kind `internal`.
    pub(crate) fn internal(report: R, what: impl std::fmt::Display) -> Self {
        Finished::failed(report, &RunFailure::internal(what))
    }
}

/// One line of `results` (or one NDJSON `result` line).
#[derive(Serialize)]
pub(crate) struct ItemRecord<'a, R: Serialize> {
    /// `"result"` in NDJSON, absent in the document.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) line_type: Option<&'static str>,
    pub(crate) index: usize,
    /// The `--input` line the item came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<u64>,
    pub(crate) status: Status,
    pub(crate) elapsed_ms: u64,
    #[serde(flatten)]
    pub(crate) report: &'a R,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<&'a ErrorBody>,
}

/// Items per status. `total` is every item read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    pub(crate) total: u64,
    pub(crate) ok: u64,
    pub(crate) error: u64,
    pub(crate) timeout: u64,
    pub(crate) cancelled: u64,
    pub(crate) skipped: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, status: Status) {
        self.total += 1;
        match status {
            Status::Ok => self.ok += 1,
            Status::Error => self.error += 1,
            Status::Timeout => self.timeout += 1,
            Status::Cancelled => self.cancelled += 1,
            Status::Skipped => self.skipped += 1,
        }
    }

    pub(crate) fn not_ok(&self) -> u64 {
        self.error + self.timeout + self.cancelled
    }
}

/// The run's summary. `extra` holds the tool's own totals (for
/// `async_requests`: `requests_sent`, `retries`, `bytes_received`).
#[derive(Serialize)]
pub(crate) struct Summary<'a, T: Serialize> {
    #[serde(flatten)]
    pub(crate) counts: Counts,
    /// Wall time of the whole run.
    pub(crate) elapsed_ms: u64,
    /// Sum of the items' own times: what running them one by one would cost.
    pub(crate) sum_ms: u64,
    /// `sum_ms / elapsed_ms`, two decimals; absent when the run took 0 ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) speedup: Option<f64>,
    /// The concurrency limit (`-c`).
    pub(crate) concurrency: usize,
    /// The most items that were actually in flight at once.
    pub(crate) max_in_flight: usize,
    /// `p50_ms`, `p90_ms`, `p99_ms`, `max_ms` of the ok items' times (the
    /// runner measures every item, whatever the tool); absent with no ok item.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(crate) latency: Option<Percentiles>,
    /// Why the run stopped early: `deadline`, `fail_fast`, `first`,
    /// `sigint` or `sigterm`; absent when every item ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stopped_by: Option<&'static str>,
    #[serde(flatten)]
    pub(crate) extra: &'a T,
}

/// The NDJSON summary line.
#[derive(Serialize)]
pub(crate) struct SummaryLine<'a, T: Serialize> {
    #[serde(rename = "type")]
    pub(crate) line_type: &'static str,
    pub(crate) tool: &'a str,
    pub(crate) version: &'a str,
    #[serde(flatten)]
    pub(crate) summary: &'a Summary<'a, T>,
}

/// What stdout gets with `--output FILE`.
#[derive(Serialize)]
pub(crate) struct OutputPointer<'a, T: Serialize> {
    pub(crate) tool: &'a str,
    pub(crate) version: &'a str,
    pub(crate) output: &'a str,
    pub(crate) summary: &'a Summary<'a, T>,
}

/// The exit-2 document.
#[derive(Serialize)]
pub(crate) struct UsageErrorDoc<'a> {
    pub(crate) tool: &'a str,
    pub(crate) version: &'a str,
    pub(crate) error: &'a InputError,
}

/// Rounds the speedup to two decimals; `None` for a zero-length run.
pub(crate) fn speedup(sum_ms: u64, elapsed_ms: u64) -> Option<f64> {
    (elapsed_ms > 0).then(|| (sum_ms as f64 / elapsed_ms as f64 * 100.0).round() / 100.0)
}
