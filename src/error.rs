//! Typed errors and their stable `kind` strings.
//!
//! Every failure a tool reports is a typed enum (for example
//! [`crate::http::RequestError`]) that implements [`Failure`]: its `kind()` is
//! the snake_case word an agent branches on (`error.kind` in the JSON), its
//! `Display` the one human line shown as `error.message`.
//!
//! Bad usage and bad input are different: they stop the tool before anything
//! runs (exit 2) and are reported once, as an [`InputError`] naming the line
//! and field at fault.

use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// A per-item failure with a stable machine-readable kind.
pub trait Failure: fmt::Display {
    /// The snake_case word shown as `error.kind`; part of the wire format.
    fn kind(&self) -> &'static str;
}

/// The `error` object of a result: `{"kind": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub kind: &'static str,
    pub message: String,
}

impl ErrorBody {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        ErrorBody {
            kind,
            message: message.into(),
        }
    }

    pub fn from_failure(failure: &(impl Failure + ?Sized)) -> Self {
        ErrorBody::new(failure.kind(), failure.to_string())
    }
}

/// A problem with one field of one input item, before the input reader knows
/// which line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field at fault, as a dotted path (`headers.Authorization`), where known.
    pub field: Option<String>,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn whole_item(message: impl Into<String>) -> Self {
        FieldError {
            field: None,
            message: message.into(),
        }
    }

    /// `field` holds the wrong kind of value: "must be {what}, not {kind}"
    /// (`must be a string, not an array`). Names the kind, never the value,
    /// which may be a secret.
    pub fn must_be(field: impl Into<String>, what: &str, value: &Value) -> Self {
        FieldError::new(field, format!("must be {what}, not {}", json_type(value)))
    }

    /// Prefixes the field path, for errors found inside a nested value.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = Some(match self.field {
            Some(child) => format!("{parent}.{child}"),
            None => parent.to_string(),
        });
        self
    }
}

/// The kind of a JSON value as a message says it: `a string`, `an object`, `null`.
pub fn json_type(value: &Value) -> &'static str {
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
pub struct InputError {
    pub kind: &'static str,
    pub message: String,
    /// 1-based line in the `--input` file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The field (or command-line argument) at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl InputError {
    pub fn new(message: impl Into<String>) -> Self {
        InputError {
            kind: "invalid_input",
            message: message.into(),
            line: None,
            field: None,
        }
    }

    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn from_field(error: FieldError, line: Option<u64>) -> Self {
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
