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
//!
//! An item may also write lines before its last (the pages of a paginated
//! request, [`ItemContext::line`]): they reach the sink through a channel the
//! runner drains, always before the item's own (last) line, which alone
//! counts in the summary and decides the item's status. In document mode
//! the lines of an item that is not the oldest unwritten one wait in the
//! sink; an item that already has [`HELD_BACK_LINES`] of them waiting waits
//! for its turn before it writes more, so what the sink holds stays bounded
//! however many pages a chain has.

use crate::input::{Feed, Queued};
use crate::latency::{LatencyHistogram, Percentiles};
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
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The work of one tool on one item.
pub(crate) trait Job: Send + Sync + 'static {
    /// One item as the runner hands it to [`Job::run`].
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

    /// What the runner calls: [`Job::run`] with the item's place in the run
    /// ([`ItemContext`]). It is called on the runner's thread, one item after
    /// another in input order, so work done before its future is returned
    /// (a file name claimed) happens in input order too.
    fn run_item(
        self: Arc<Self>,
        item: ItemContext<Self::Report>,
        spec: Self::Spec,
        stop: StopToken,
    ) -> impl Future<Output = Finished<Self::Report>> + Send {
        drop(item);
        self.run(spec, stop)
    }
}

/// Lines of one item that a document-mode sink may hold back while an
/// earlier item runs; past that the item waits for its turn.
pub(crate) const HELD_BACK_LINES: usize = 16;

/// Lines waiting between the jobs and the runner.
const LINE_QUEUE: usize = 64;

/// A line of an item before its last, on its way to the sink.
struct EarlyLine<R> {
    index: usize,
    elapsed: Duration,
    finished: Finished<R>,
}

/// What the runner tells a job about the item it runs: its place in the
/// input, and a way to write lines before its last.
pub(crate) struct ItemContext<R> {
    /// The item's 0-based position in the input.
    pub(crate) index: usize,
    /// The `--input` line the item came from, given to each of its lines.
    input_line: Option<u64>,
    started: Instant,
    written: usize,
    lines: mpsc::Sender<EarlyLine<R>>,
    /// The oldest index the sink has not written (`None`: no order kept).
    oldest: watch::Receiver<Option<usize>>,
}

impl<R> ItemContext<R> {
    /// Writes one line of this item before its last (a page): it reaches
    /// the output before the item's own line, in the order written; its
    /// `elapsed_ms` counts from the item's start. Past [`HELD_BACK_LINES`]
    /// lines it waits until the output is at this item (document mode), or
    /// until the run stops; it never fails.
    pub(crate) async fn line(&mut self, mut finished: Finished<R>, stop: &StopToken) {
        finished.line = self.input_line;
        if self.written >= HELD_BACK_LINES {
            let index = self.index;
            let turn = self
                .oldest
                .wait_for(|oldest| oldest.is_none_or(|oldest| oldest >= index));
            // A stop ends the wait; the line is still written (the sink may
            // hold one more), and the job's next step sees the stop.
            let _ = stop.race(turn).await;
        }
        self.written += 1;
        let line = EarlyLine {
            index: self.index,
            elapsed: self.started.elapsed(),
            finished,
        };
        // The runner keeps the receiver until every item has ended.
        let _ = self.lines.send(line).await;
    }
}

/// Where the runner puts each finished item, as ripgrep's searcher pushes
/// matches into a `Sink`: the [`crate::printer::Printer`] in a run, a
/// recorder in a test.
pub(crate) trait Sink<R> {
    /// One finished item; `index` is its position in the input.
    fn record(&mut self, index: usize, elapsed_ms: u64, finished: &Finished<R>) -> io::Result<()>;

    /// A line of item `index` before its last (a page of a paginated
    /// request), in the order the item wrote them, always before its
    /// [`Sink::record`]. A sink that shows one line per item ignores it.
    fn record_page(
        &mut self,
        index: usize,
        elapsed_ms: u64,
        finished: &Finished<R>,
    ) -> io::Result<()> {
        let _ = (index, elapsed_ms, finished);
        Ok(())
    }

    /// The oldest index not yet written, for a sink that keeps input order:
    /// the runner starts no item a window or more past it, which bounds
    /// what the sink holds back. `None`: no order to keep.
    fn oldest_unwritten(&self) -> Option<usize> {
        None
    }

    /// Called whenever the runner has nothing else ready.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How the runner schedules and when it stops early.
#[derive(Debug, Clone)]
pub(crate) struct RunConfig {
    /// At most this many items in flight (`-c`).
    pub(crate) concurrency: usize,
    /// The first item not ok stops the run.
    pub(crate) fail_fast: bool,
    /// The first item ok stops the run.
    pub(crate) first: bool,
}

/// What the run did, for the summary and the exit code.
#[derive(Debug, Clone)]
pub(crate) struct RunTotals {
    pub(crate) counts: Counts,
    pub(crate) elapsed: Duration,
    pub(crate) sum_ms: u64,
    pub(crate) max_in_flight: usize,
    pub(crate) stop: Option<StopReason>,
    /// Percentiles of the ok items' times; `None` when no item was ok.
    pub(crate) latency: Option<Percentiles>,
}

/// Results beyond the oldest unwritten one that the document mode may hold
/// back, at the least; more with a high `-c`.
const MIN_REORDER_WINDOW: usize = 1024;

/// The longest a written result waits in the output buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// The reorder window for `concurrency`: how far past the oldest unwritten
/// item the runner may start new ones.
pub(crate) fn reorder_window(concurrency: usize) -> usize {
    concurrency.max(1).saturating_mul(4).max(MIN_REORDER_WINDOW)
}

/// Runs every item of `feed` with at most `config.concurrency` in flight,
/// each finished one pushed into `sink`. `on_finished` sees each result
/// before the sink does (the tool's totals).
pub(crate) async fn run_bounded<J: Job, S: Sink<J::Report> + ?Sized>(
    job: Arc<J>,
    mut feed: Feed<J::Spec>,
    config: &RunConfig,
    stop: &StopToken,
    sink: &mut S,
    progress: &Progress,
    mut on_finished: impl FnMut(&Finished<J::Report>),
) -> io::Result<RunTotals> {
    let started = Instant::now();
    let concurrency = config.concurrency.max(1);
    let window = reorder_window(concurrency);
    let mut running: JoinSet<TaskOutput<J::Report>> = JoinSet::new();
    let mut counts = Counts::default();
    let mut sum = Duration::ZERO;
    // Fixed memory whatever the count: "which are slow" for a million items.
    let mut latency = LatencyHistogram::default();
    let mut max_in_flight = 0;
    let mut next_index = 0usize;
    let mut feed_open = true;
    let mut dirty = false;
    let (line_sender, mut lines) = mpsc::channel::<EarlyLine<J::Report>>(LINE_QUEUE);
    let (oldest_sender, oldest) = watch::channel(sink.oldest_unwritten());
    // After every write: an item waiting for its turn may go on.
    let publish = |sink: &S| {
        let now = sink.oldest_unwritten();
        oldest_sender.send_if_modified(|seen| {
            let changed = *seen != now;
            *seen = now;
            changed
        });
    };
    let write_line = |line: EarlyLine<J::Report>, sink: &mut S| -> io::Result<()> {
        let elapsed_ms = crate::units::millis(line.elapsed);
        sink.record_page(line.index, elapsed_ms, &line.finished)?;
        publish(sink);
        Ok(())
    };

    let mut record = |index: usize,
                      elapsed: Duration,
                      finished: &Finished<J::Report>,
                      sink: &mut S|
     -> io::Result<()> {
        counts.add(finished.status);
        sum += elapsed;
        if finished.status == Status::Ok {
            latency.record(elapsed);
        }
        progress.finished(finished.status);
        on_finished(finished);
        match finished.status {
            Status::Ok if config.first => {
                stop.stop(StopReason::First { index });
            }
            Status::Error | Status::Timeout if config.fail_fast => {
                stop.stop(StopReason::FailFast { index });
            }
            _ => {}
        }
        sink.record(index, crate::units::millis(elapsed), finished)?;
        publish(sink);
        Ok(())
    };

    // Output is flushed at most every FLUSH_EVERY while results keep coming,
    // and right away once the runner goes idle, so NDJSON readers see lines
    // promptly without paying one system call per line.
    let mut flush_at = Instant::now();
    // One timer for the whole run, rather than a sleep made anew whenever
    // output turns unflushed: a timer set earlier than the runtime's next
    // wake-up makes tokio wake its I/O driver (an eventfd write and an
    // epoll round), which at thousands of results a second was a system
    // call every few results. It is only waited on while output is
    // unflushed, so a run of slow items does not wake every 20 ms; the
    // first result after such a wait is flushed at once (a missed tick).
    let mut flush_ticks = tokio::time::interval(FLUSH_EVERY);
    flush_ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        while let Some(joined) = running.try_join_next() {
            let (index, elapsed, finished) = joined.map_err(io::Error::other)?;
            // An item's earlier lines were queued before it ended: first.
            while let Ok(line) = lines.try_recv() {
                write_line(line, sink)?;
            }
            record(index, elapsed, &finished, sink)?;
            if !dirty {
                dirty = true;
                flush_at = Instant::now() + FLUSH_EVERY;
            }
        }
        progress.set_in_flight(running.len());
        if dirty && Instant::now() >= flush_at {
            sink.flush()?;
            dirty = false;
        }
        let stopped = stop.is_stopped();
        if running.is_empty() && (stopped || !feed_open) {
            break;
        }
        let window_open = sink
            .oldest_unwritten()
            .is_none_or(|oldest| next_index < oldest + window);
        let can_start = !stopped && feed_open && running.len() < concurrency && window_open;

        tokio::select! {
            biased;
            Some(line) = lines.recv() => {
                write_line(line, sink)?;
                if !dirty {
                    dirty = true;
                    flush_at = Instant::now() + FLUSH_EVERY;
                }
            }
            joined = running.join_next(), if !running.is_empty() => {
                let Some(joined) = joined else { continue };
                let (index, elapsed, finished) = joined.map_err(io::Error::other)?;
                while let Ok(line) = lines.try_recv() {
                    write_line(line, sink)?;
                }
                record(index, elapsed, &finished, sink)?;
                if !dirty {
                    dirty = true;
                    flush_at = Instant::now() + FLUSH_EVERY;
                }
            }
            _ = flush_ticks.tick(), if dirty => {
                sink.flush()?;
                dirty = false;
            }
            next = feed.next(), if can_start => {
                let Some(Queued { index, line, item: spec }) = next else {
                    feed_open = false;
                    continue;
                };
                next_index = index + 1;
                // Boxed, like the result below: a report is most of a
                // kilobyte, and kept whole it made the task's cell one too.
                let identity = Box::new(job.identity(&spec));
                // Boxed: a tool's future runs to kilobytes (reqwest's is
                // over 4 KiB), and the task would otherwise copy it whole
                // as it is spawned and moved into the runtime's task cell.
                // One clock for the item's lines and its result, so a
                // page's time never exceeds the whole item's.
                let item_started = Instant::now();
                let item = ItemContext {
                    index,
                    input_line: line,
                    started: item_started,
                    written: 0,
                    lines: line_sender.clone(),
                    oldest: oldest.clone(),
                };
                let work = Box::pin(job.clone().run_item(item, spec, stop.clone()));
                running.spawn(async move {
                    let mut finished = AssertUnwindSafe(work)
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|panic| Finished::internal(*identity, panic_text(&*panic)));
                    finished.line = line;
                    // Boxed: a result runs to most of a kilobyte, which in
                    // the task's cell made it an allocation glibc serves
                    // from its large bins (consolidating its fast bins
                    // first), and was copied at every hand-over.
                    (index, item_started.elapsed(), Box::new(finished))
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
                Some(Queued { index, line, item }) => {
                    let mut finished = Finished::stopped(job.identity(&item), reason, false);
                    finished.line = line;
                    record(index, Duration::ZERO, &finished, sink)?;
                }
                None => feed_open = false,
            }
        }
    }
    sink.flush()?;

    Ok(RunTotals {
        counts,
        elapsed: started.elapsed(),
        sum_ms: crate::units::millis(sum),
        max_in_flight,
        stop: stop.reason(),
        latency: latency.percentiles(),
    })
}

/// An item's task's output: its index, its time and its result.
type TaskOutput<R> = (usize, Duration, Box<Finished<R>>);

/// What a panic said, for the `internal` error's message.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Failure;
    use crate::printer::{Format, Printer};
    use crate::stop::watch_deadline;
    use std::sync::Mutex;

    /// What a fake item does.
    #[derive(Debug, Clone, Copy)]
    enum Act {
        /// Ok after this many milliseconds.
        Ok(u64),
        /// Not ok after this many milliseconds.
        Fail(u64),
        Panic,
        /// Runs until the run stops.
        Hang,
    }

    #[derive(Debug, Serialize)]
    struct Report {
        id: usize,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("it broke")]
    struct Broke;

    impl Failure for Broke {
        fn kind(&self) -> &'static str {
            "broke"
        }
    }

    /// A job that does what its spec says, and notes every start.
    #[derive(Default)]
    struct Fake {
        started: Mutex<Vec<usize>>,
    }

    impl Job for Fake {
        type Spec = (usize, Act);
        type Report = Report;

        fn identity(&self, spec: &(usize, Act)) -> Report {
            Report { id: spec.0 }
        }

        async fn run(self: Arc<Self>, spec: (usize, Act), stop: StopToken) -> Finished<Report> {
            self.started.lock().unwrap().push(spec.0);
            let report = self.identity(&spec);
            let work = async {
                match spec.1 {
                    Act::Ok(ms) | Act::Fail(ms) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await
                    }
                    Act::Panic => panic!("boom"),
                    Act::Hang => std::future::pending().await,
                }
            };
            match stop.race(work).await {
                Err(reason) => Finished::stopped(report, reason, true),
                Ok(()) if matches!(spec.1, Act::Fail(_)) => Finished::failed(report, &Broke),
                Ok(()) => Finished::ok(report),
            }
        }
    }

    /// Every result the runner pushed, in the order it pushed them.
    #[derive(Default)]
    struct Recorder {
        seen: Vec<(usize, Status, Option<&'static str>)>,
    }

    impl Sink<Report> for Recorder {
        fn record(&mut self, index: usize, _: u64, finished: &Finished<Report>) -> io::Result<()> {
            assert_eq!(index, finished.report.id, "the result belongs to its item");
            let kind = finished.error.as_ref().map(|error| error.kind);
            self.seen.push((index, finished.status, kind));
            Ok(())
        }
    }

    impl Recorder {
        /// Status and kind by index; panics unless every index is there once.
        fn by_index(&self, total: usize) -> Vec<(Status, Option<&'static str>)> {
            let mut indices: Vec<usize> = self.seen.iter().map(|seen| seen.0).collect();
            indices.sort_unstable();
            assert_eq!(indices, (0..total).collect::<Vec<_>>(), "every item once");
            let mut seen = self.seen.clone();
            seen.sort_by_key(|seen| seen.0);
            seen.into_iter()
                .map(|(_, status, kind)| (status, kind))
                .collect()
        }
    }

    fn config(concurrency: usize) -> RunConfig {
        RunConfig {
            concurrency,
            fail_fast: false,
            first: false,
        }
    }

    fn specs(acts: &[Act]) -> Feed<(usize, Act)> {
        Feed::from_vec(acts.iter().copied().enumerate().collect())
    }

    async fn run(acts: &[Act], config: RunConfig, stop: &StopToken) -> (RunTotals, Recorder) {
        let mut recorder = Recorder::default();
        let job = Arc::new(Fake::default());
        let totals = run_bounded(
            job,
            specs(acts),
            &config,
            stop,
            &mut recorder,
            &Progress::hidden(),
            |_| {},
        )
        .await
        .unwrap();
        (totals, recorder)
    }

    const OK: (Status, Option<&str>) = (Status::Ok, None);
    const CANCELLED: (Status, Option<&str>) = (Status::Cancelled, Some("cancelled"));

    #[tokio::test(start_paused = true)]
    async fn fail_fast_cancels_the_running_and_the_waiting_each_once() {
        let acts = [
            Act::Ok(10),
            Act::Fail(20),
            Act::Hang,
            Act::Ok(5),
            Act::Ok(50),
        ];
        let stop = StopToken::new(None);
        let config = RunConfig {
            fail_fast: true,
            ..config(3)
        };
        let (totals, recorder) = run(&acts, config, &stop).await;
        assert_eq!(
            recorder.by_index(acts.len()),
            [OK, (Status::Error, Some("broke")), CANCELLED, OK, CANCELLED]
        );
        assert_eq!(totals.stop, Some(StopReason::FailFast { index: 1 }));
        assert_eq!((totals.counts.total, totals.counts.cancelled), (5, 2));
        assert_eq!(totals.max_in_flight, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn first_success_cancels_the_rest_each_once() {
        let acts = [Act::Hang, Act::Fail(5), Act::Ok(10), Act::Hang, Act::Ok(50)];
        let stop = StopToken::new(None);
        let config = RunConfig {
            first: true,
            ..config(4)
        };
        let (totals, recorder) = run(&acts, config, &stop).await;
        assert_eq!(
            recorder.by_index(acts.len()),
            [
                CANCELLED,
                (Status::Error, Some("broke")),
                OK,
                CANCELLED,
                CANCELLED
            ]
        );
        assert_eq!(totals.stop, Some(StopReason::First { index: 2 }));
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_times_out_the_running_and_cancels_the_waiting() {
        let after = Duration::from_millis(100);
        let stop = StopToken::new(Some(after));
        watch_deadline(&stop, after);
        let acts = [Act::Ok(10), Act::Hang, Act::Hang, Act::Ok(1)];
        let (totals, recorder) = run(&acts, config(2), &stop).await;
        let timeout = (Status::Timeout, Some("deadline"));
        let not_started = (Status::Cancelled, Some("deadline"));
        assert_eq!(
            recorder.by_index(acts.len()),
            [OK, timeout, timeout, not_started]
        );
        assert_eq!(totals.stop, Some(StopReason::Deadline { after }));
        assert_eq!(totals.elapsed, after);
    }

    #[tokio::test(start_paused = true)]
    async fn a_signal_cancels_every_item_not_done_each_once() {
        let stop = StopToken::new(None);
        let signal = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            signal.stop(StopReason::Interrupted {
                signal: libc::SIGINT,
            });
        });
        let acts = [Act::Ok(10), Act::Hang, Act::Ok(100), Act::Ok(1), Act::Ok(1)];
        let (totals, recorder) = run(&acts, config(2), &stop).await;
        assert_eq!(
            recorder.by_index(acts.len()),
            [OK, CANCELLED, CANCELLED, CANCELLED, CANCELLED]
        );
        let order: Vec<_> = recorder.seen.iter().map(|seen| seen.0).collect();
        assert_eq!(order, [0, 1, 2, 3, 4], "running ones first, then the rest");
        assert_eq!(
            totals.stop,
            Some(StopReason::Interrupted {
                signal: libc::SIGINT
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_before_the_start_runs_nothing() {
        let stop = StopToken::new(None);
        stop.stop(StopReason::Interrupted {
            signal: libc::SIGTERM,
        });
        let acts = [Act::Ok(1), Act::Panic];
        let mut recorder = Recorder::default();
        let job = Arc::new(Fake::default());
        let totals = run_bounded(
            job.clone(),
            specs(&acts),
            &config(4),
            &stop,
            &mut recorder,
            &Progress::hidden(),
            |_| {},
        )
        .await
        .unwrap();
        assert!(job.started.lock().unwrap().is_empty());
        assert_eq!(recorder.by_index(2), [CANCELLED, CANCELLED]);
        assert_eq!(totals.max_in_flight, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_item_is_an_internal_error_and_the_rest_go_on() {
        let acts = [Act::Ok(1), Act::Panic, Act::Ok(1)];
        let stop = StopToken::new(None);
        let mut failures = Vec::new();
        let mut recorder = Recorder::default();
        let totals = run_bounded(
            Arc::new(Fake::default()),
            specs(&acts),
            &config(2),
            &stop,
            &mut recorder,
            &Progress::hidden(),
            |finished| failures.extend(finished.error.clone()),
        )
        .await
        .unwrap();
        assert_eq!(
            recorder.by_index(3),
            [OK, (Status::Error, Some("internal")), OK]
        );
        assert_eq!(failures.len(), 1, "on_finished sees every result");
        assert!(failures[0].message.ends_with("please report it): boom"));
        assert_eq!(totals.stop, None);
    }

    #[tokio::test(start_paused = true)]
    async fn percentiles_cover_the_ok_items_alone() {
        // Ten ok items of 10..100 ms, and failures far slower that must not count.
        let mut acts: Vec<Act> = (1..=10).map(|tenth| Act::Ok(tenth * 10)).collect();
        acts.push(Act::Fail(5_000));
        acts.push(Act::Fail(9_000));
        let stop = StopToken::new(None);
        let (totals, _) = run(&acts, config(12), &stop).await;
        let figures = totals.latency.expect("there were ok items");
        let close = |got: f64, want: f64| {
            assert!(
                (got - want).abs() <= want * crate::latency::RELATIVE_ERROR,
                "{got} vs {want}"
            );
        };
        // Nearest rank: the 5th, 9th and 10th of the ten sorted times.
        close(figures.p50_ms, 50.0);
        close(figures.p90_ms, 90.0);
        close(figures.p99_ms, 100.0);
        assert_eq!(figures.max_ms, 100.0, "the maximum is exact");

        let failing = [Act::Fail(1), Act::Fail(2)];
        let (totals, _) = run(&failing, config(2), &StopToken::new(None)).await;
        assert_eq!(totals.latency, None, "no ok item, no figures");
    }

    #[derive(Debug, Serialize)]
    struct PageReport {
        id: usize,
        page: usize,
    }

    /// A job whose items write `pages - 1` lines, one every `ms`, then end:
    /// a paginated request's shape.
    struct Pager;

    impl Job for Pager {
        /// (id, pages, ms per page; 0 pages: hang until the run stops)
        type Spec = (usize, usize, u64);
        type Report = PageReport;

        fn identity(&self, spec: &(usize, usize, u64)) -> PageReport {
            PageReport {
                id: spec.0,
                page: 0,
            }
        }

        async fn run(
            self: Arc<Self>,
            _: (usize, usize, u64),
            _: StopToken,
        ) -> Finished<PageReport> {
            unreachable!("the runner calls run_item")
        }

        async fn run_item(
            self: Arc<Self>,
            mut item: ItemContext<PageReport>,
            (id, pages, ms): (usize, usize, u64),
            stop: StopToken,
        ) -> Finished<PageReport> {
            {
                assert_eq!(item.index, id);
                if pages == 0 {
                    let _ = stop.race(std::future::pending::<()>()).await;
                }
                for page in 0..pages {
                    let fetched = stop
                        .race(tokio::time::sleep(Duration::from_millis(ms)))
                        .await;
                    let report = PageReport { id, page };
                    if let Err(reason) = fetched {
                        return Finished::stopped(report, reason, true);
                    }
                    if page + 1 == pages {
                        return Finished::ok(report);
                    }
                    item.line(Finished::ok(report), &stop).await;
                }
                Finished::stopped(
                    PageReport { id, page: 0 },
                    StopReason::Interrupted {
                        signal: libc::SIGINT,
                    },
                    true,
                )
            }
        }
    }

    /// The printer, watched for the most page lines it held back.
    struct PagesWatched {
        printer: Printer<Vec<u8>>,
        most_pages_held: usize,
    }

    impl Sink<PageReport> for PagesWatched {
        fn record(
            &mut self,
            index: usize,
            ms: u64,
            finished: &Finished<PageReport>,
        ) -> io::Result<()> {
            self.printer.record(index, ms, finished)
        }

        fn record_page(
            &mut self,
            index: usize,
            ms: u64,
            finished: &Finished<PageReport>,
        ) -> io::Result<()> {
            self.printer.record_page(index, ms, finished)?;
            self.most_pages_held = self.most_pages_held.max(self.printer.pending_pages());
            Ok(())
        }

        fn oldest_unwritten(&self) -> Option<usize> {
            Sink::<PageReport>::oldest_unwritten(&self.printer)
        }
    }

    async fn run_pages(
        specs: Vec<(usize, usize, u64)>,
        format: Format,
        stop: &StopToken,
    ) -> (RunTotals, PagesWatched) {
        let mut sink = PagesWatched {
            printer: Printer::start("t", format, Vec::new()).unwrap(),
            most_pages_held: 0,
        };
        let feed = Feed::from_vec(specs);
        let totals = run_bounded(
            Arc::new(Pager),
            feed,
            &config(3),
            stop,
            &mut sink,
            &Progress::hidden(),
            |_| {},
        )
        .await
        .unwrap();
        (totals, sink)
    }

    /// (index, page, status) of every line of a finished document.
    fn lines_of(printer: Printer<Vec<u8>>) -> Vec<(u64, u64, String)> {
        let (_, doc, _) = crate::printer::finish_in_memory(printer, &PageReport { id: 0, page: 0 });
        doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| {
                (
                    line["index"].as_u64().unwrap(),
                    line["page"].as_u64().unwrap(),
                    line["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn pages_keep_document_order_and_a_later_item_holds_back_a_bounded_few() {
        // Item 0 is slow; items 1 and 2 page quickly meanwhile.
        let specs = vec![(0, 3, 100), (1, 40, 1), (2, 5, 1)];
        let stop = StopToken::new(None);
        let (totals, sink) = run_pages(specs, Format::Document, &stop).await;
        assert_eq!(
            totals.counts.total, 3,
            "pages are lines of their item, counted once"
        );
        assert_eq!(totals.counts.ok, 3);
        assert!(
            sink.most_pages_held <= 2 * HELD_BACK_LINES,
            "held back {} pages",
            sink.most_pages_held
        );
        let mut want = Vec::new();
        for (index, pages) in [(0u64, 3u64), (1, 40), (2, 5)] {
            want.extend((0..pages).map(|page| (index, page, "ok".to_string())));
        }
        assert_eq!(lines_of(sink.printer), want);
    }

    #[tokio::test(start_paused = true)]
    async fn ndjson_pages_come_before_their_items_last_line() {
        let specs = vec![(0, 3, 100), (1, 40, 1), (2, 5, 1)];
        let stop = StopToken::new(None);
        let (totals, sink) = run_pages(specs, Format::Ndjson, &stop).await;
        assert_eq!(totals.counts.total, 3);
        assert_eq!(sink.most_pages_held, 0, "NDJSON holds nothing back");
        let out = sink
            .printer
            .finish(&crate::printer::zero_summary(&()))
            .unwrap();
        let mut seen: Vec<Vec<u64>> = vec![Vec::new(); 3];
        for line in out
            .split(|&byte| byte == b'\n')
            .filter(|line| !line.is_empty())
        {
            let value: serde_json::Value = serde_json::from_slice(line).unwrap();
            if value["type"] == "result" {
                seen[value["index"].as_u64().unwrap() as usize]
                    .push(value["page"].as_u64().unwrap());
            }
        }
        assert_eq!(seen[0], [0, 1, 2]);
        assert_eq!(seen[1], (0..40).collect::<Vec<_>>());
        assert_eq!(seen[2], [0, 1, 2, 3, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_frees_an_item_waiting_for_its_turn() {
        // Item 0 never ends; item 1 fills its hold-back and waits: a signal
        // must end both, each once, its pages written before it.
        let stop = StopToken::new(None);
        let signal = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            signal.stop(StopReason::Interrupted {
                signal: libc::SIGINT,
            });
        });
        let specs = vec![(0, 0, 0), (1, 1000, 1)];
        let (totals, sink) = run_pages(specs, Format::Document, &stop).await;
        assert_eq!(totals.counts.cancelled, 2);
        assert_eq!(totals.counts.total, 2);
        let lines = lines_of(sink.printer);
        assert_eq!(lines[0], (0, 0, "cancelled".to_string()));
        let pages: Vec<u64> = lines[1..].iter().map(|line| line.1).collect();
        assert_eq!(
            pages,
            (0..pages.len() as u64).collect::<Vec<_>>(),
            "in order"
        );
        assert!(
            pages.len() <= HELD_BACK_LINES + 2,
            "it waited for its turn: {} lines",
            pages.len()
        );
        assert_eq!(lines.last().unwrap().2, "cancelled");
    }

    /// The printer, watched: the most results it ever held back.
    struct Watched {
        printer: Printer<Vec<u8>>,
        most_pending: usize,
    }

    impl Sink<Report> for Watched {
        fn record(&mut self, index: usize, ms: u64, finished: &Finished<Report>) -> io::Result<()> {
            self.printer.record(index, ms, finished)?;
            self.most_pending = self.most_pending.max(self.printer.pending());
            Ok(())
        }

        fn oldest_unwritten(&self) -> Option<usize> {
            Sink::<Report>::oldest_unwritten(&self.printer)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_first_item_holds_back_at_most_a_window_and_order_is_kept() {
        let concurrency = 300;
        let window = reorder_window(concurrency);
        assert_eq!(window, 1200);
        let total = window + 100;
        let mut acts = vec![Act::Ok(0); total];
        acts[0] = Act::Ok(10_000);
        let job = Arc::new(Fake::default());
        let stop = StopToken::new(None);
        let running = {
            let job = job.clone();
            tokio::spawn(async move {
                let mut sink = Watched {
                    printer: Printer::start("t", Format::Document, Vec::new()).unwrap(),
                    most_pending: 0,
                };
                let feed = specs(&acts);
                let totals = run_bounded(
                    job,
                    feed,
                    &config(concurrency),
                    &stop,
                    &mut sink,
                    &Progress::hidden(),
                    |_| {},
                )
                .await
                .unwrap();
                (totals, sink)
            })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            job.started.lock().unwrap().len(),
            window,
            "no start a window or more past the oldest unwritten item"
        );
        let (totals, sink) = running.await.unwrap();
        assert_eq!(totals.counts.ok, total as u64);
        assert_eq!(sink.most_pending, window - 1);
        assert_eq!(totals.elapsed, Duration::from_secs(10));
        let (_, _, indices) = crate::printer::finish_in_memory(sink.printer, &Report { id: 0 });
        assert_eq!(
            indices,
            (0..total as u64).collect::<Vec<_>>(),
            "input order"
        );
    }
}
