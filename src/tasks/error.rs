//! Why one task was not ok, as a typed error with a stable `kind`.
//!
//! | kind | status | meaning |
//! | --- | --- | --- |
//! | `exit_status` | `error` | the command exited with a non-zero status (`exit_code`) |
//! | `signal` | `error` | the command died of a signal the tool did not send (`signal`) |
//! | `spawn_failed` | `error` | the command could not be started (no such program, not executable, `cwd` gone, or no process to be had: a full process table or process limit, `EAGAIN`) |
//! | `timeout` | `timeout` | not done within its `timeout`; a process was then stopped (`killed_with`) |
//!
//! The runner adds `deadline` (status `timeout`) and `cancelled` (status
//! `cancelled`) for `--deadline`, `--fail-fast`, `--first` and SIGINT/SIGTERM
//! (see [`crate::stop`]); bad input is `invalid_input` and nothing runs.

use crate::error::{Failure, Status};
use crate::units::format_duration;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// The signal the tool used to end a task's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum KillSignal {
    /// SIGTERM, sent first.
    #[serde(rename = "TERM")]
    Term,
    /// SIGKILL, sent when the group was still there `--grace` after SIGTERM.
    #[serde(rename = "KILL")]
    Kill,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TaskError {
    #[error("exited with status {0}")]
    ExitStatus(i32),
    #[error("killed by {0} (not sent by async_timeout)")]
    Signal(String),
    #[error("cannot start `{program}`: {detail}")]
    SpawnFailed { program: String, detail: String },
    #[error("{}", describe_timeout(*after, *ending, *grace))]
    Timeout {
        after: Duration,
        /// How the process ended; `None` for a `sleep` task (no process).
        ending: Option<KillSignal>,
        grace: Duration,
    },
}

fn describe_timeout(after: Duration, ending: Option<KillSignal>, grace: Duration) -> String {
    let after = format_duration(after);
    match ending {
        None => format!("not done within {after}"),
        Some(KillSignal::Term) => {
            format!("still running after {after}: stopped with SIGTERM to its process group")
        }
        Some(KillSignal::Kill) => format!(
            "still running after {after}: it outlived SIGTERM by {}, so its process group got SIGKILL",
            format_duration(grace)
        ),
    }
}

impl Failure for TaskError {
    fn kind(&self) -> &'static str {
        match self {
            TaskError::ExitStatus(_) => "exit_status",
            TaskError::Signal(_) => "signal",
            TaskError::SpawnFailed { .. } => "spawn_failed",
            TaskError::Timeout { .. } => "timeout",
        }
    }

    fn status(&self) -> Status {
        match self {
            TaskError::Timeout { .. } => Status::Timeout,
            _ => Status::Error,
        }
    }
}

/// A signal's name as the JSON shows it (`"SIGKILL"`); real-time signals as
/// `"SIGRTMIN+3"`, anything else as `"SIG<number>"`.
pub(crate) fn signal_name(signal: i32) -> SignalName {
    SignalName(signal)
}

/// Displays a signal number by name (see [`signal_name`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignalName(i32);

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGILL => "SIGILL",
            libc::SIGTRAP => "SIGTRAP",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGALRM => "SIGALRM",
            libc::SIGTERM => "SIGTERM",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGCONT => "SIGCONT",
            libc::SIGSTOP => "SIGSTOP",
            libc::SIGTSTP => "SIGTSTP",
            libc::SIGTTIN => "SIGTTIN",
            libc::SIGTTOU => "SIGTTOU",
            libc::SIGURG => "SIGURG",
            libc::SIGXCPU => "SIGXCPU",
            libc::SIGXFSZ => "SIGXFSZ",
            libc::SIGVTALRM => "SIGVTALRM",
            libc::SIGPROF => "SIGPROF",
            libc::SIGWINCH => "SIGWINCH",
            libc::SIGIO => "SIGIO",
            libc::SIGSYS => "SIGSYS",
            #[cfg(target_os = "linux")]
            libc::SIGSTKFLT => "SIGSTKFLT",
            #[cfg(target_os = "linux")]
            libc::SIGPWR => "SIGPWR",
            #[cfg(target_os = "linux")]
            other if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&other) => {
                return write!(f, "SIGRTMIN+{}", other - libc::SIGRTMIN());
            }
            other => return write!(f, "SIG{other}"),
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_show_by_name() {
        assert_eq!(signal_name(libc::SIGKILL).to_string(), "SIGKILL");
        assert_eq!(signal_name(libc::SIGSEGV).to_string(), "SIGSEGV");
        #[cfg(target_os = "linux")]
        assert_eq!(signal_name(libc::SIGRTMIN() + 2).to_string(), "SIGRTMIN+2");
        assert_eq!(signal_name(99).to_string(), "SIG99");
    }

    #[test]
    fn kinds_are_stable_words() {
        assert_eq!(TaskError::ExitStatus(3).kind(), "exit_status");
        assert_eq!(TaskError::Signal("SIGSEGV".into()).kind(), "signal");
        let timeout = TaskError::Timeout {
            after: Duration::from_secs(2),
            ending: Some(KillSignal::Kill),
            grace: Duration::from_millis(500),
        };
        assert_eq!(timeout.kind(), "timeout");
        assert!(timeout.to_string().contains("SIGKILL"), "{timeout}");
        assert_eq!(TaskError::ExitStatus(3).to_string(), "exited with status 3");
    }
}
