//! The exit codes, one table for every tool.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | every item ok (with `--first`: some item was ok; with `--dry-run`: the plan is valid) |
//! | 1 | at least one item not ok: the output says which |
//! | 2 | bad usage or bad input: nothing was run; stdout holds a JSON `error` |
//! | 130 | interrupted by SIGINT: results so far are printed, the rest are `cancelled` |
//! | 143 | interrupted by SIGTERM: the same |
//! | 129 | interrupted by SIGHUP (the terminal closed): the same |
//!
//! Scripts and agents branch on these, so they never change meaning.

use crate::stop::StopReason;
use crate::wire::Counts;

/// How a tool run ended, as the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: every item ok.
    Success,
    /// 1: at least one item not ok.
    SomeFailed,
    /// 2: bad usage or bad input; nothing ran.
    Usage,
    /// 130 / 143 / 129: a signal stopped the run (128 + signal number).
    Interrupted(i32),
}

impl Exit {
    /// The numeric process exit status.
    pub(crate) fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::SomeFailed => 1,
            Exit::Usage => 2,
            Exit::Interrupted(signal) => 128 + signal,
        }
    }

    /// Decides the exit of a finished run from its counts.
    ///
    /// `skipped` items were set aside on purpose (`--dry-run`) and do not fail
    /// a run. With `--first`, the run succeeded when one item was ok: the
    /// others were cancelled because the race was won.
    pub(crate) fn for_run(counts: &Counts, stop: Option<StopReason>, first_mode: bool) -> Exit {
        if let Some(StopReason::Interrupted { signal }) = stop {
            return Exit::Interrupted(signal);
        }
        // Stopped before any item was even known (a deadline during a
        // directory walk): nothing was done, which is not a success.
        if counts.total == 0 && matches!(stop, Some(StopReason::Deadline { .. })) {
            return Exit::SomeFailed;
        }
        let failed = counts.not_ok();
        if first_mode {
            return if counts.ok > 0 {
                Exit::Success
            } else {
                Exit::SomeFailed
            };
        }
        if failed == 0 {
            Exit::Success
        } else {
            Exit::SomeFailed
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(u8::try_from(exit.code()).unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_contract() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::SomeFailed.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Interrupted(libc::SIGINT).code(), 130);
        assert_eq!(Exit::Interrupted(libc::SIGTERM).code(), 143);
        assert_eq!(Exit::Interrupted(libc::SIGHUP).code(), 129);
    }

    #[test]
    fn first_mode_succeeds_when_one_item_won() {
        let counts = Counts {
            total: 3,
            ok: 1,
            cancelled: 2,
            ..Counts::default()
        };
        assert_eq!(Exit::for_run(&counts, None, true), Exit::Success);
        assert_eq!(Exit::for_run(&counts, None, false), Exit::SomeFailed);
        let nothing = Counts::default();
        let deadline = Some(StopReason::Deadline {
            after: std::time::Duration::from_millis(1),
        });
        assert_eq!(Exit::for_run(&nothing, deadline, false), Exit::SomeFailed);
        assert_eq!(Exit::for_run(&nothing, None, false), Exit::Success);
        let skipped = Counts {
            total: 2,
            skipped: 2,
            ..Counts::default()
        };
        assert_eq!(Exit::for_run(&skipped, None, false), Exit::Success);
    }
}
