//! Why one HTTP request failed, as a typed error with a stable `kind`.
//!
//! | kind | meaning | retried |
//! | --- | --- | --- |
//! | `dns` | the host name did not resolve | no |
//! | `connect` | no connection could be made | yes |
//! | `connection_closed` | connected, but the connection was closed or reset before a complete response head | yes |
//! | `tls` | the TLS handshake or certificate check failed | no |
//! | `timeout` | no complete response (headers and body) within `--timeout` | yes |
//! | `max_time` | the item's `--max-time` budget ran out (attempts and waits together) | no |
//! | `http_status` | the status is not in `--accept-status` | 408, 425, 429, 500, 502, 503, 504 |
//! | `body_read` | the connection broke while reading the body | yes |
//! | `protocol` | the server's response was not valid HTTP | no |
//! | `too_many_redirects` | more than `--max-redirects` redirects | no |
//! | `redirect` | a redirect without a usable `Location` | no |
//! | `circuit_open` | `--circuit-breaker`: the host failed N times in a row; not sent | no |
//! | `pagination_loop` | a next-page link leads back to a page of the same chain | no |
//! | `exists` | `--save-dir`: a file of that name was there before the run: kept, not downloaded; status `skipped` | no |
//! | `too_large` | `--save-dir` with `--max-body`: the body is larger; nothing saved | no |
//! | `save` | `--save-dir`: the file could not be written (disk full, permissions) | no |
//! | `dry_run` | not sent (`--dry-run`); status `skipped` | - |
//!
//! Status `timeout` for `timeout` and `max_time`, `skipped` for `dry_run` and
//! `exists`, `error` for the rest.
//! The runner adds `deadline` and `cancelled` (see [`crate::stop`]); bad input
//! is `invalid_input` and stops the tool before anything is sent.

use crate::error::{Failure, Status};
use crate::units::format_duration;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RequestError {
    #[error("cannot resolve host `{host}`: {detail}")]
    Dns { host: String, detail: String },
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the connection was closed before a complete response: {0}")]
    ConnectionClosed(String),
    #[error("TLS failure: {0}")]
    Tls(String),
    /// The run's TLS client could not be built (no usable root
    /// certificates, say): nothing was sent. Shown as `tls` too.
    #[error("TLS cannot be set up on this machine, nothing was sent: {0}")]
    TlsSetup(String),
    #[error("no complete response within {}", format_duration(*.0))]
    Timeout(Duration),
    #[error("the item's --max-time of {} ran out", format_duration(*.0))]
    MaxTime(Duration),
    #[error("HTTP {code} {reason}")]
    HttpStatus { code: u16, reason: String },
    #[error("reading the body failed: {0}")]
    BodyRead(String),
    #[error("invalid HTTP response: {0}")]
    Protocol(String),
    #[error("more than {0} redirects (see --max-redirects)")]
    TooManyRedirects(u32),
    #[error("unusable redirect: {0}")]
    Redirect(String),
    #[error("not sent: the circuit of {host} is open after failures in a row (a probe may go in {})", format_duration(*retry_in))]
    CircuitOpen { host: String, retry_in: Duration },
    #[error("the next page leads back to a page already fetched: {0}")]
    PaginationLoop(String),
    #[error("{0} was there before the run: kept, not downloaded (--overwrite replaces it)")]
    Exists(String),
    #[error("the body is larger than --max-body ({0} bytes): not saved")]
    TooLarge(u64),
    #[error("cannot save the body: {0}")]
    Save(String),
    #[error("not sent (--dry-run)")]
    DryRun,
}

impl Failure for RequestError {
    fn kind(&self) -> &'static str {
        match self {
            RequestError::Dns { .. } => "dns",
            RequestError::Connect(_) => "connect",
            RequestError::ConnectionClosed(_) => "connection_closed",
            RequestError::Tls(_) | RequestError::TlsSetup(_) => "tls",
            RequestError::Timeout(_) => "timeout",
            RequestError::MaxTime(_) => "max_time",
            RequestError::HttpStatus { .. } => "http_status",
            RequestError::BodyRead(_) => "body_read",
            RequestError::Protocol(_) => "protocol",
            RequestError::TooManyRedirects(_) => "too_many_redirects",
            RequestError::Redirect(_) => "redirect",
            RequestError::CircuitOpen { .. } => "circuit_open",
            RequestError::PaginationLoop(_) => "pagination_loop",
            RequestError::Exists(_) => "exists",
            RequestError::TooLarge(_) => "too_large",
            RequestError::Save(_) => "save",
            RequestError::DryRun => "dry_run",
        }
    }

    fn status(&self) -> Status {
        match self {
            RequestError::Timeout(_) | RequestError::MaxTime(_) => Status::Timeout,
            RequestError::DryRun | RequestError::Exists(_) => Status::Skipped,
            _ => Status::Error,
        }
    }
}

impl RequestError {
    /// Whether this attempt counts against its host for `--circuit-breaker`:
    /// the host did not answer, or not in time (5xx answers count too; they
    /// are responses, judged where the status is known).
    pub(crate) fn counts_against_host(&self) -> bool {
        matches!(
            self,
            RequestError::Connect(_)
                | RequestError::ConnectionClosed(_)
                | RequestError::Timeout(_)
                | RequestError::BodyRead(_)
        )
    }

    /// Whether trying again might help (the method must also allow it).
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            RequestError::Connect(_)
            | RequestError::ConnectionClosed(_)
            | RequestError::Timeout(_)
            | RequestError::BodyRead(_) => true,
            RequestError::HttpStatus { code, .. } => {
                matches!(code, 408 | 425 | 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }
}
