//! Why and when a run stops early, shared by the runner and every item.
//!
//! A run stops early for one of four reasons: the `--deadline` passed, an item
//! failed under `--fail-fast`, an item succeeded under `--first`, or the tool
//! got SIGINT, SIGTERM or SIGHUP. The first reason wins and is kept; a
//! [`CancellationToken`] tells every running item at once.
//!
//! A second signal hurries the stop along: what waits on a grace period
//! ([`StopToken::hurried`]) stops waiting, after the hooks registered with
//! [`on_second_signal`] ran (`async_timeout` sends SIGKILL to every task's
//! processes). It never cuts the output short: every item is still
//! reported, the JSON still closed.
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
    /// SIGINT (2), SIGTERM (15) or SIGHUP (1, a closed terminal).
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
            StopReason::Interrupted { signal } if *signal == libc::SIGHUP => "sighup",
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
            StopReason::Interrupted { signal } if *signal == libc::SIGHUP => {
                "interrupted by SIGHUP (the terminal closed)".to_string()
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
    /// Cancelled by the first signal, whatever stopped the run first.
    signalled: CancellationToken,
    /// Cancelled by the second signal.
    hurry: CancellationToken,
}

impl StopToken {
    /// A token whose deadline (if any) counts from now.
    pub(crate) fn new(deadline_after: Option<Duration>) -> Self {
        StopToken {
            token: CancellationToken::new(),
            reason: Arc::new(OnceLock::new()),
            deadline: deadline_after.map(|after| Instant::now() + after),
            signalled: CancellationToken::new(),
            hurry: CancellationToken::new(),
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

    /// Runs `work` until it finishes or a signal comes, whichever is first:
    /// for work that should end on Ctrl-C but not on the deadline (the
    /// checking pass, after which every item is still listed). A signal
    /// drops `work` and returns the stop's reason.
    pub(crate) async fn race_signals<F: std::future::Future>(
        &self,
        work: F,
    ) -> Result<F::Output, StopReason> {
        tokio::select! {
            biased;
            _ = self.signalled.cancelled() => Err(self.stopped().await),
            output = work => Ok(output),
        }
    }

    /// Whether a signal came (the first, whatever stopped the run first).
    pub(crate) fn is_signalled(&self) -> bool {
        self.signalled.is_cancelled()
    }

    /// Resolves when a second signal comes: stop waiting for any grace.
    pub(crate) async fn hurried(&self) {
        self.hurry.cancelled().await;
    }

    /// Whether a second signal came.
    pub(crate) fn is_hurried(&self) -> bool {
        self.hurry.is_cancelled()
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

/// What a second signal runs (see [`on_second_signal`]).
type Hook = Box<dyn Fn() + Send + Sync>;

static SECOND_SIGNAL: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// Registers `hook` to run when a second SIGINT/SIGTERM/SIGHUP comes, before
/// anything waiting on [`StopToken::hurried`] is woken: synchronous and
/// quick, in the signal's own task (`async_timeout` sends SIGKILL to every
/// process it started).
pub(crate) fn on_second_signal(hook: impl Fn() + Send + Sync + 'static) {
    SECOND_SIGNAL
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Box::new(hook));
}

/// Runs every registered [`on_second_signal`] hook, in registration order.
fn run_second_signal_hooks() {
    let hooks = SECOND_SIGNAL.lock().unwrap_or_else(PoisonError::into_inner);
    for hook in hooks.iter() {
        hook();
    }
}

/// Turns SIGINT, SIGTERM and SIGHUP into a stop of the run (exit 130, 143,
/// 129), so the results so far still get printed. A second signal means
/// "sooner": the [`on_second_signal`] hooks run and every grace period
/// ends ([`StopToken::hurried`]); the output is still printed whole. Later
/// signals change nothing. Installed once, at the start of a run.
pub(crate) fn watch_signals(tool: &'static str, stop: &StopToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let stop = stop.clone();
    tokio::spawn(async move {
        let mut next_signal = async || {
            tokio::select! {
                _ = interrupt.recv() => libc::SIGINT,
                _ = terminate.recv() => libc::SIGTERM,
                _ = hangup.recv() => libc::SIGHUP,
            }
        };
        let signal = next_signal().await;
        stop.stop(StopReason::Interrupted { signal });
        stop.signalled.cancel();
        next_signal().await;
        eprintln!("{tool}: second signal: ending what runs now, without a grace period");
        run_second_signal_hooks();
        stop.hurry.cancel();
        // The handlers stay installed: a third signal must not kill the
        // tool before it has printed.
        loop {
            next_signal().await;
        }
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
    fn second_signal_hooks_run_in_order() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SAID: AtomicUsize = AtomicUsize::new(0);
        on_second_signal(|| {
            let _ = SAID.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst);
        });
        on_second_signal(|| {
            let _ = SAID.compare_exchange(1, 2, Ordering::SeqCst, Ordering::SeqCst);
        });
        run_second_signal_hooks();
        assert_eq!(SAID.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn each_signal_has_its_word() {
        let word = |signal| StopReason::Interrupted { signal }.word();
        assert_eq!(word(libc::SIGINT), "sigint");
        assert_eq!(word(libc::SIGTERM), "sigterm");
        assert_eq!(word(libc::SIGHUP), "sighup");
    }

    #[tokio::test(start_paused = true)]
    async fn the_checking_race_ends_on_a_signal_not_on_the_deadline() {
        let after = Duration::from_secs(1);
        let stop = StopToken::new(None);
        stop.stop(StopReason::Deadline { after });
        let raced = stop
            .race_signals(tokio::time::sleep(Duration::from_secs(5)))
            .await;
        assert!(raced.is_ok(), "the deadline lets the check finish");
        assert!(!stop.is_signalled() && !stop.is_hurried());
        stop.signalled.cancel();
        let raced = stop.race_signals(std::future::pending::<()>()).await;
        assert_eq!(
            raced,
            Err(StopReason::Deadline { after }),
            "the first reason stays"
        );
    }
}
