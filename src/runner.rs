//! The bounded concurrent runner: at most N items in flight, results streamed
//! to the printer as they finish, and one place that decides when to stop.
//!
//! This is the seed's `Semaphore(n)` + `gather(return_exceptions=True)` made
//! into a loop over a [`tokio::task::JoinSet`] (tokio's TaskGroup): items are
//! pulled from the input feed only when a slot is free, so neither the input
//! nor the tasks pile up in memory, and a failing item is just a result.
//!
//! Stopping (see [`crate::stop`]): the deadline, `--fail-fast`, `--first` and
//! signals all cancel one [`StopToken`]. Running items see it and finish with
//! their own report; items never started are recorded as `cancelled` after
//! the running ones are done, so every input item appears exactly once.

use crate::error::ErrorBody;
use crate::input::Feed;
use crate::printer::Printer;
use crate::progress::Progress;
use crate::stop::{StopReason, StopToken};
use crate::wire::{Counts, Finished, Status};
use futures_util::FutureExt;
use serde::Serialize;
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The work of one tool on one item.
pub trait Job: Send + Sync + 'static {
    type Spec: Send + 'static;
    /// The tool's own result fields, flattened into each result line.
    type Report: Serialize + Send + 'static;

    /// The fields of an item that never ran (cancelled before it started):
    /// enough to tell which item it was (its id, URL, path or name).
    fn identity(&self, spec: &Self::Spec) -> Self::Report;

    /// Runs one item to its end. It must return promptly once `stop` fires,
    /// reporting itself with [`Finished::stopped`] (after any cleanup).
    fn run(
        self: Arc<Self>,
        spec: Self::Spec,
        stop: StopToken,
    ) -> impl Future<Output = Finished<Self::Report>> + Send;
}

/// How the runner schedules and when it stops early.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub concurrency: usize,
    pub fail_fast: bool,
    pub first: bool,
}

/// What the run did, for the summary and the exit code.
#[derive(Debug, Clone)]
pub struct RunTotals {
    pub counts: Counts,
    pub elapsed: Duration,
    pub sum_ms: u64,
    pub max_in_flight: usize,
    pub stop: Option<StopReason>,
}

/// Results beyond the oldest unwritten one that the document mode may hold
/// back, at the least; more with a high `-c`.
const MIN_REORDER_WINDOW: usize = 1024;

/// The longest a written result waits in the output buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// Runs every item of `feed` with at most `config.concurrency` in flight.
/// `on_finished` sees each result before it is printed (the tool's totals).
pub async fn run_bounded<J: Job>(
    job: Arc<J>,
    mut feed: Feed<J::Spec>,
    config: &RunConfig,
    stop: &StopToken,
    printer: &mut Printer,
    progress: &Progress,
    mut on_finished: impl FnMut(&Finished<J::Report>),
) -> io::Result<RunTotals> {
    let started = Instant::now();
    let concurrency = config.concurrency.max(1);
    let window = concurrency.saturating_mul(4).max(MIN_REORDER_WINDOW);
    let mut running: JoinSet<(usize, Duration, Finished<J::Report>)> = JoinSet::new();
    let mut counts = Counts::default();
    let mut sum = Duration::ZERO;
    let mut max_in_flight = 0;
    let mut next_index = 0usize;
    let mut feed_open = true;
    let mut dirty = false;

    let mut record = |index: usize,
                      elapsed: Duration,
                      finished: Finished<J::Report>,
                      printer: &mut Printer|
     -> io::Result<()> {
        counts.add(finished.status);
        sum += elapsed;
        progress.finished(finished.status);
        on_finished(&finished);
        match finished.status {
            Status::Ok if config.first => {
                stop.stop(StopReason::First { index });
            }
            Status::Error | Status::Timeout if config.fail_fast => {
                stop.stop(StopReason::FailFast { index });
            }
            _ => {}
        }
        printer.record(
            index,
            finished.status,
            crate::units::millis(elapsed),
            &finished.report,
            finished.error.as_ref(),
        )
    };

    // Output is flushed at most every FLUSH_EVERY while results keep coming,
    // and right away once the runner goes idle, so NDJSON readers see lines
    // promptly without paying one system call per line.
    let mut flush_at = Instant::now();
    loop {
        while let Some(joined) = running.try_join_next() {
            let (index, elapsed, finished) = joined.map_err(io::Error::other)?;
            record(index, elapsed, finished, printer)?;
            if !dirty {
                dirty = true;
                flush_at = Instant::now() + FLUSH_EVERY;
            }
        }
        progress.set_in_flight(running.len());
        if dirty && Instant::now() >= flush_at {
            printer.flush()?;
            dirty = false;
        }
        let stopped = stop.is_stopped();
        if running.is_empty() && (stopped || !feed_open) {
            break;
        }
        let window_open = printer
            .oldest_unwritten()
            .is_none_or(|oldest| next_index < oldest + window);
        let can_start = !stopped && feed_open && running.len() < concurrency && window_open;

        tokio::select! {
            biased;
            joined = running.join_next(), if !running.is_empty() => {
                let Some(joined) = joined else { continue };
                let (index, elapsed, finished) = joined.map_err(io::Error::other)?;
                record(index, elapsed, finished, printer)?;
                if !dirty {
                    dirty = true;
                    flush_at = Instant::now() + FLUSH_EVERY;
                }
            }
            _ = tokio::time::sleep_until(flush_at), if dirty => {
                printer.flush()?;
                dirty = false;
            }
            next = feed.next(), if can_start => {
                let Some((index, spec)) = next else {
                    feed_open = false;
                    continue;
                };
                next_index = index + 1;
                let identity = job.identity(&spec);
                // Boxed: a tool's future runs to kilobytes (reqwest's is
                // over 4 KiB), and the task would otherwise copy it whole
                // as it is spawned and moved into the runtime's task cell.
                let work = Box::pin(job.clone().run(spec, stop.clone()));
                running.spawn(async move {
                    let item_started = Instant::now();
                    let finished = AssertUnwindSafe(work).catch_unwind().await.unwrap_or_else(|panic| {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|text| text.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".to_string());
                        Finished::failed(identity, Status::Error, ErrorBody::new("internal", format!("internal error (a bug, please report it): {what}")))
                    });
                    (index, item_started.elapsed(), finished)
                });
                max_in_flight = max_in_flight.max(running.len());
                progress.set_in_flight(running.len());
            }
            _ = stop.stopped(), if !stopped => {}
        }
    }

    // Items never started: each still appears once, as cancelled.
    if let Some(reason) = stop.reason() {
        while feed_open {
            match feed.next().await {
                Some((index, spec)) => {
                    let finished = Finished::stopped(job.identity(&spec), reason, false);
                    record(index, Duration::ZERO, finished, printer)?;
                }
                None => feed_open = false,
            }
        }
    }
    printer.flush()?;

    Ok(RunTotals {
        counts,
        elapsed: started.elapsed(),
        sum_ms: crate::units::millis(sum),
        max_in_flight,
        stop: stop.reason(),
    })
}
