//! Why and when a run stops early, shared by the runner and every item.
//!
//! A run stops early for one of four reasons: the `--deadline` passed, an item
//! failed under `--fail-fast`, an item succeeded under `--first`, or the tool
//! got SIGINT/SIGTERM. The first reason wins and is kept; a
//! [`CancellationToken`] tells every running item at once.
//!
//! Items stop cooperatively: each tool races its work against
//! [`StopToken::stopped`] so it can clean up (kill a process group, keep the
//! output captured so far) and still report itself. Python's equivalent is
//! catching `CancelledError`, cleaning up, and re-raising; in tokio, dropping a
//! future is the cancellation, so work that needs cleanup must watch a token.

use crate::units::format_duration;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why a run stopped before every item finished on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// `--deadline` passed.
    Deadline { after: Duration },
    /// `--fail-fast`: the item at `index` was not ok.
    FailFast { index: usize },
    /// `--first`: the item at `index` was ok.
    First { index: usize },
    /// SIGINT (2) or SIGTERM (15).
    Interrupted { signal: i32 },
}

impl StopReason {
    /// The `summary.stopped_by` word.
    pub(crate) fn word(&self) -> &'static str {
        match self {
            StopReason::Deadline { .. } => "deadline",
            StopReason::FailFast { .. } => "fail_fast",
            StopReason::First { .. } => "first",
            StopReason::Interrupted { signal } if *signal == libc::SIGTERM => "sigterm",
            StopReason::Interrupted { .. } => "sigint",
        }
    }

    /// Why the run stopped, in words (an item's `error.message`).
    pub(crate) fn describe(&self) -> String {
        match self {
            StopReason::Deadline { after } => {
                format!("the run's --deadline of {} passed", format_duration(*after))
            }
            StopReason::FailFast { index } => format!("--fail-fast: item {index} was not ok"),
            StopReason::First { index } => format!("--first: item {index} was ok first"),
            StopReason::Interrupted { signal } if *signal == libc::SIGTERM => {
                "interrupted by SIGTERM".to_string()
            }
            StopReason::Interrupted { .. } => "interrupted by SIGINT".to_string(),
        }
    }
}

/// The run-wide stop signal: cheap to clone, one per item.
#[derive(Clone, Debug)]
pub(crate) struct StopToken {
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
    deadline: Option<Instant>,
}

impl StopToken {
    /// A token whose deadline (if any) counts from now.
    pub(crate) fn new(deadline_after: Option<Duration>) -> Self {
        StopToken {
            token: CancellationToken::new(),
            reason: Arc::new(OnceLock::new()),
            deadline: deadline_after.map(|after| Instant::now() + after),
        }
    }

    /// Stops the run. The first reason is kept; later calls return false.
    pub(crate) fn stop(&self, reason: StopReason) -> bool {
        let first = self.reason.set(reason).is_ok();
        self.token.cancel();
        first
    }

    pub(crate) fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the run stops, with the reason.
    pub(crate) async fn stopped(&self) -> StopReason {
        self.token.cancelled().await;
        // `stop` sets the reason before it cancels the token.
        self.reason().unwrap_or(StopReason::Interrupted {
            signal: libc::SIGINT,
        })
    }

    /// Runs `work` until it finishes or the run stops, whichever is first.
    /// A stop drops `work` (cancelling it) and returns the reason.
    pub(crate) async fn race<F: std::future::Future>(
        &self,
        work: F,
    ) -> Result<F::Output, StopReason> {
        tokio::select! {
            biased;
            reason = self.stopped() => Err(reason),
            output = work => Ok(output),
        }
    }

    /// When the whole run must end (`--deadline`), if set.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left before the deadline; `None` without a deadline.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }
}

/// What runs just before a forced exit (see [`on_forced_exit`]).
type LastWords = Box<dyn Fn() + Send + Sync>;

static LAST_WORDS: Mutex<Vec<LastWords>> = Mutex::new(Vec::new());

/// Registers `last_words` to run when a second SIGINT/SIGTERM makes the
/// tool exit at once. `process::exit` runs no destructors and waits for no
/// task, so whatever must not outlive the tool (a child's process group)
/// has to be ended here, synchronously and quickly.
pub(crate) fn on_forced_exit(last_words: impl Fn() + Send + Sync + 'static) {
    LAST_WORDS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Box::new(last_words));
}

/// Runs every registered [`on_forced_exit`] hook, in registration order.
fn say_last_words() {
    let hooks = LAST_WORDS.lock().unwrap_or_else(PoisonError::into_inner);
    for last_words in hooks.iter() {
        last_words();
    }
}

/// Turns SIGINT and SIGTERM into a stop of the run (exit 130 / 143), so the
/// results so far still get printed. A second signal means "now": the tool
/// runs its [`on_forced_exit`] hooks and exits at once, printing nothing
/// more. Installed once, at the start of a run.
pub(crate) fn watch_signals(stop: &StopToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let stop = stop.clone();
    tokio::spawn(async move {
        let mut next_signal = async || {
            tokio::select! {
                _ = interrupt.recv() => libc::SIGINT,
                _ = terminate.recv() => libc::SIGTERM,
            }
        };
        let signal = next_signal().await;
        stop.stop(StopReason::Interrupted { signal });
        let again = next_signal().await;
        eprintln!("second signal: exiting without waiting for running items");
        say_last_words();
        std::process::exit(128 + again);
    });
    Ok(())
}

/// Stops the run with [`StopReason::Deadline`] when its deadline passes.
pub(crate) fn watch_deadline(stop: &StopToken, after: Duration) {
    let Some(deadline) = stop.deadline() else {
        return;
    };
    let stop = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => { stop.stop(StopReason::Deadline { after }); }
            _ = stop.token.cancelled() => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_reason_wins() {
        let stop = StopToken::new(None);
        assert!(stop.stop(StopReason::FailFast { index: 3 }));
        assert!(!stop.stop(StopReason::First { index: 1 }));
        assert_eq!(stop.stopped().await, StopReason::FailFast { index: 3 });
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_fires_on_time() {
        let after = Duration::from_secs(5);
        let stop = StopToken::new(Some(after));
        watch_deadline(&stop, after);
        tokio::time::sleep(Duration::from_millis(4999)).await;
        assert!(!stop.is_stopped());
        tokio::time::sleep(Duration::from_millis(2)).await;
        tokio::task::yield_now().await;
        assert_eq!(stop.reason(), Some(StopReason::Deadline { after }));
    }

    #[test]
    fn last_words_run_in_order() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SAID: AtomicUsize = AtomicUsize::new(0);
        on_forced_exit(|| {
            let _ = SAID.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst);
        });
        on_forced_exit(|| {
            let _ = SAID.compare_exchange(1, 2, Ordering::SeqCst, Ordering::SeqCst);
        });
        say_last_words();
        assert_eq!(SAID.load(Ordering::SeqCst), 2);
    }
}
