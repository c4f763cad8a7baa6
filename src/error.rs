//! Typed errors, their stable `kind` strings, and the status each one gives
//! its item.
//!
//! Every failure a tool reports is a typed enum (for example
//! [`crate::http::RequestError`]) that implements [`Failure`]: its `kind()` is
//! the snake_case word an agent branches on (`error.kind` in the JSON), its
//! `status()` the outcome class of the item (`error`, `timeout`, `skipped`,
//! ...), its `Display` the one human line shown as `error.message`. The
//! runner's own kinds (`internal`, `deadline`, `cancelled`) are
//! [`RunFailure`]. So the status of a failed item is decided in one place per
//! kind, never at the call site.
//!
//! Bad usage and bad input are different: they stop the tool before anything
//! runs (exit 2) and are reported once, as an [`InputError`] naming the line
//! and field at fault.

use crate::stop::StopReason;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// The outcome class of one item: `status` in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Ok,
    Error,
    Timeout,
    Cancelled,
    Skipped,
}

/// A per-item failure with a stable machine-readable kind.
pub(crate) trait Failure: fmt::Display {
    /// The snake_case word shown as `error.kind`; part of the wire format.
    fn kind(&self) -> &'static str;

    /// The item's status when this failure ends it: `error` unless the
    /// kind says otherwise (a timeout is `timeout`, a file set aside on
    /// purpose `skipped`).
    fn status(&self) -> Status {
        Status::Error
    }
}

/// The kinds the runner gives an item itself, whatever the tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunKind {
    /// A bug: the item's work panicked or lost its thread.
    Internal,
    /// `--deadline` passed.
    Deadline,
    /// `--fail-fast`, `--first` or a signal ended the run first.
    Cancelled,
}

impl RunKind {
    /// The `error.kind` word.
    pub(crate) fn word(self) -> &'static str {
        match self {
            RunKind::Internal => "internal",
            RunKind::Deadline => "deadline",
            RunKind::Cancelled => "cancelled",
        }
    }
}

/// An item the run ended rather than its own work: a stop, or a bug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunFailure {
    kind: RunKind,
    /// Whether the item had started.
    running: bool,
    message: String,
}

impl RunFailure {
    /// A bug in the tool, shown as kind `internal`.
    pub(crate) fn internal(what: impl fmt::Display) -> Self {
        RunFailure {
            kind: RunKind::Internal,
            running: true,
            message: format!("internal error (a bug, please report it): {what}"),
        }
    }

    /// An item `reason` caught, running or not yet started.
    pub(crate) fn stopped(reason: StopReason, running: bool) -> Self {
        let what = reason.describe();
        let deadline = matches!(reason, StopReason::Deadline { .. });
        let message = match (deadline, running) {
            (true, true) => format!("{what} while this item was running"),
            (false, true) => what,
            (_, false) => format!("not started: {what}"),
        };
        RunFailure {
            kind: if deadline {
                RunKind::Deadline
            } else {
                RunKind::Cancelled
            },
            running,
            message,
        }
    }
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Failure for RunFailure {
    fn kind(&self) -> &'static str {
        self.kind.word()
    }

    /// The deadline turns a running item into `timeout`; every other stop,
    /// and every item that never started, is `cancelled`.
    fn status(&self) -> Status {
        match (self.kind, self.running) {
            (RunKind::Internal, _) => Status::Error,
            (RunKind::Deadline, true) => Status::Timeout,
            (RunKind::Deadline, false) | (RunKind::Cancelled, _) => Status::Cancelled,
        }
    }
}

/// The `error` object of a result: `{"kind": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl ErrorBody {
    pub(crate) fn new(kind: &'static str, message: impl Into<String>) -> Self {
        ErrorBody {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn from_failure(failure: &(impl Failure + ?Sized)) -> Self {
        ErrorBody::new(failure.kind(), failure.to_string())
    }
}

/// A problem with one field of one input item, before the input reader knows
/// which line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// The field at fault, as a dotted path (`headers.Authorization`), where known.
    pub(crate) field: Option<String>,
    pub(crate) message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub(crate) fn whole_item(message: impl Into<String>) -> Self {
        FieldError {
            field: None,
            message: message.into(),
        }
    }

    /// `field` holds the wrong kind of value: "must be {what}, not {kind}"
    /// (`must be a string, not an array`). Names the kind, never the value,
    /// which may be a secret.
    pub(crate) fn must_be(field: impl Into<String>, what: &str, value: &Value) -> Self {
        FieldError::new(field, format!("must be {what}, not {}", json_type(value)))
    }
}

/// The kind of a JSON value as a message says it: `a string`, `an object`, `null`.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Bad usage or bad input: reported as `{"error": {"kind": "invalid_input",
/// ...}}` with exit code 2, and nothing is run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub(crate) struct InputError {
    pub(crate) kind: &'static str,
    pub(crate) message: String,
    /// 1-based line in the `--input` file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<u64>,
    /// The field (or command-line argument) at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
}

impl InputError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        InputError {
            kind: "invalid_input",
            message: message.into(),
            line: None,
            field: None,
        }
    }

    pub(crate) fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn from_field(error: FieldError, line: Option<u64>) -> Self {
        InputError {
            kind: "invalid_input",
            message: error.message,
            line,
            field: error.field,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.line, &self.field) {
            (Some(line), Some(field)) => {
                write!(f, "line {line}, field `{field}`: {}", self.message)
            }
            (Some(line), None) => write!(f, "line {line}: {}", self.message),
            (None, Some(field)) => write!(f, "`{field}`: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_deadline_times_out_running_items_and_cancels_the_rest() {
        let deadline = StopReason::Deadline {
            after: Duration::from_secs(1),
        };
        let running = RunFailure::stopped(deadline, true);
        assert_eq!(
            (running.kind(), running.status()),
            ("deadline", Status::Timeout)
        );
        assert!(running.to_string().contains("while this item was running"));
        let waiting = RunFailure::stopped(deadline, false);
        assert_eq!(
            (waiting.kind(), waiting.status()),
            ("deadline", Status::Cancelled)
        );
        assert!(waiting.to_string().starts_with("not started: "));
        for reason in [
            StopReason::FailFast { index: 0 },
            StopReason::First { index: 0 },
            StopReason::Interrupted {
                signal: libc::SIGINT,
            },
        ] {
            for running in [true, false] {
                let stopped = RunFailure::stopped(reason, running);
                assert_eq!(
                    (stopped.kind(), stopped.status()),
                    ("cancelled", Status::Cancelled)
                );
            }
        }
        let bug = RunFailure::internal("boom");
        assert_eq!((bug.kind(), bug.status()), ("internal", Status::Error));
        assert!(bug.to_string().ends_with("please report it): boom"));
    }
}
