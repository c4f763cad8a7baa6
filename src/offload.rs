//! Blocking work on a run's own threads, kept for the whole run: the
//! reaper's (`crate::tasks::reaper`: starting a task's process, scanning
//! `/proc`) and `find_blocking_calls`' (reading and parsing a file).
//!
//! Tokio's `spawn_blocking` costs two thread wake-ups a piece of work (an
//! idle blocking thread, then the async side), and the thread that finished
//! goes to sleep; here a thread that finishes takes the next piece at once,
//! and the caller awaits a oneshot reply. On 6,054 files of real projects
//! `find_blocking_calls` went from 0.50 s to 0.32 s of wall time with one
//! thread a core (bench/blocking_realworld.md).
//!
//! Tokio's `spawn_blocking` also starts a thread when none is idle, and panics
//! ("OS can't spawn worker thread") when the OS refuses one while its pool
//! is empty (idle threads exit after 10 s). A task's fork bomb that filled
//! the process table made exactly that happen at the next spawn or cleanup.
//! Here:
//! - the first thread starts with the first piece of work, the first task's
//!   spawn: before any task's process exists, so before any task can fill
//!   the table; threads are kept for the whole run, so from then on there
//!   is always one to do the work;
//! - more start while work waits (spawns overlap their `exec` waits), up to
//!   a cap, and a refused thread is no error: the work waits for a thread
//!   that exists;
//! - past the cap, a pool may have spares ([`Offload::with_spares`]): one
//!   starts for work that waited a stall in the queue, every thread being
//!   busy, as when threads are stuck in a read on a hung mount (never
//!   joined, so the run goes on without them);
//! - if even the first thread was refused (the table was full before the
//!   run), the work runs on the calling thread: slower, never a panic (on a
//!   current-thread runtime that thread is the runtime's: a read stuck
//!   there would stall the run).
//!
//! Work that panics is caught on its thread, which lives on; the caller
//! gets `None` ([`Offload::run`]) or the panic's message
//! ([`Offload::run_for`]).

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

type Work = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    queue: VecDeque<Work>,
    threads: usize,
    idle: usize,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    work: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Work runs outside the lock and is caught: a poisoned lock still
        // holds a sound state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The threads of one run's blocking work.
pub(crate) struct Offload {
    shared: Arc<Shared>,
    /// The threads' name (what `top -H` and a debugger show).
    name: &'static str,
    /// Threads start while work waits, up to this many...
    eager: usize,
    /// ...and past it, up to this many, only for work that waited `stall`
    /// without a thread taking it (every thread stuck).
    max: usize,
    stall: Duration,
}

/// How long work may wait, with the eager threads all busy, before a spare
/// thread starts for it (`find_blocking_calls`' scans).
pub(crate) const STALL: Duration = Duration::from_millis(250);

/// [`Offload::run_for`]'s work ran past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overran;

impl Offload {
    /// A pool of at most `max` threads named `name` (none until there is
    /// work), started while work waits.
    pub(crate) fn new(name: &'static str, max: usize) -> Self {
        Self::with_spares(name, max, 0, STALL)
    }

    /// A pool of `eager` threads started while work waits (CPU work: one a
    /// core keeps the cores busy, and more only take turns on them), and
    /// up to `spares` more for work that waited `stall` in the queue
    /// (threads stuck in the kernel, a read on a hung mount, are never
    /// joined: spares replace them).
    pub(crate) fn with_spares(
        name: &'static str,
        eager: usize,
        spares: usize,
        stall: Duration,
    ) -> Self {
        let eager = eager.max(1);
        Offload {
            shared: Arc::default(),
            name,
            eager,
            max: eager + spares,
            stall,
        }
    }

    /// Runs `work` on one of the pool's threads (or, with none, on this
    /// one); `None` if it panicked.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        self.run_within(work, None).await.ok()?.ok()
    }

    /// [`Offload::run`], giving up `limit` after a thread took the work:
    /// time spent waiting in the queue for a thread does not count. A
    /// panic comes back as its message.
    pub(crate) async fn run_for<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
        limit: Duration,
    ) -> Result<Result<T, String>, Overran> {
        self.run_within(work, Some(limit)).await
    }

    /// Queues `work` and waits for its result, at most `limit` (if any)
    /// after a thread took it; every `stall` it waits in the queue starts
    /// a spare thread, while there are spares to start.
    ///
    /// A thread taking the work only sets a flag: waking this task for it
    /// (a oneshot, before) cost a second wake-up of the runtime a piece of
    /// work, 5 % of a scan of 20,000 files. The flag is read when a timer
    /// fires instead, so the limit counts from the first check that finds
    /// the work running: never less than `limit` after it started, at most
    /// a check's interval more (the work rarely waits at all: a thread
    /// that finishes takes the next piece at once).
    async fn run_within<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
        limit: Option<Duration>,
    ) -> Result<Result<T, String>, Overran> {
        let (started, mut result) = self.submit(work);
        let spares = self.max > self.eager;
        // How often a queued piece of work is looked at: for a spare every
        // stall, for the limit to start counting every `limit`.
        let every = match (spares, limit) {
            (true, Some(limit)) => self.stall.min(limit),
            (true, None) => self.stall,
            (false, Some(limit)) => limit,
            (false, None) => return Ok(delivered(result.await)),
        };
        let mut waiting_since = Instant::now();
        let mut running_since = None;
        loop {
            let check = match (running_since, limit) {
                (Some(since), Some(limit)) => since + limit,
                (Some(_), None) => return Ok(delivered(result.await)),
                (None, _) => Instant::now() + every,
            };
            match tokio::time::timeout_at(check, &mut result).await {
                Ok(done) => return Ok(delivered(done)),
                Err(_elapsed) if running_since.is_some() => return Err(Overran),
                Err(_elapsed) => {}
            }
            let now = Instant::now();
            if started.load(Ordering::Acquire) {
                running_since = Some(now);
            } else if spares && now - waiting_since >= self.stall {
                waiting_since = now;
                let mut state = self.shared.lock();
                if state.threads < self.max {
                    let _ = self.add_thread(&mut state);
                }
            }
        }
    }

    /// Queues `work` (or, with no thread to be had, runs it here): a flag
    /// a thread sets when it takes it, and a receiver for its result.
    /// Work whose caller is gone by then (a timeout, the run stopping) is
    /// skipped, not started.
    fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> (Arc<AtomicBool>, oneshot::Receiver<Result<T, String>>) {
        let started = Arc::new(AtomicBool::new(false));
        let taken = started.clone();
        let (reply, result) = oneshot::channel();
        let work: Work = Box::new(move || {
            if reply.is_closed() {
                return;
            }
            taken.store(true, Ordering::Release);
            let done = std::panic::catch_unwind(AssertUnwindSafe(work));
            let _ = reply.send(done.map_err(|panic| panic_message(panic.as_ref())));
        });
        let inline = {
            let mut state = self.shared.lock();
            let first = state.threads == 0;
            if first && self.add_thread(&mut state).is_err() {
                Some(work)
            } else {
                state.queue.push_back(work);
                if state.idle > 0 {
                    self.shared.work.notify_one();
                }
                if !first && state.queue.len() > state.idle && state.threads < self.eager {
                    // Refused: a thread that exists will get to it.
                    let _ = self.add_thread(&mut state);
                }
                None
            }
        };
        if let Some(work) = inline {
            work();
        }
        (started, result)
    }

    fn add_thread(&self, state: &mut State) -> std::io::Result<()> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name(self.name.to_string())
            .spawn(move || serve(&shared))?;
        state.threads += 1;
        Ok(())
    }

    /// Threads started and still serving.
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.shared.lock().threads
    }
}

impl std::fmt::Debug for Offload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Offload")
            .field("threads", &state.threads)
            .field("idle", &state.idle)
            .field("queued", &state.queue.len())
            .field("eager", &self.eager)
            .field("max", &self.max)
            .finish()
    }
}

impl Drop for Offload {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
    }
}

/// A piece of work's result, or what a piece dropped unrun says (the pool
/// closed under it).
fn delivered<T>(
    received: Result<Result<T, String>, oneshot::error::RecvError>,
) -> Result<T, String> {
    received.unwrap_or_else(|_gone| Err("the work was dropped unrun".to_string()))
}

/// What a panic said (its payload is a `&str` or a `String` when it came
/// from `panic!` or a failed `expect`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    format!("panicked: {text}")
}

/// One thread's life: the queue's work, one at a time, until the pool closes.
fn serve(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if let Some(work) = state.queue.pop_front() {
            drop(state);
            // Never unwinds: `submit`'s wrapper catches a panic of the work.
            work();
            state = shared.lock();
            continue;
        }
        if state.closed {
            state.threads -= 1;
            return;
        }
        state.idle += 1;
        state = shared
            .work
            .wait(state)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.idle -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_and_a_panic_is_none_and_the_thread_lives_on() {
        let offload = Offload::new("test", 2);
        assert_eq!(offload.threads(), 0, "none before there is work");
        assert_eq!(offload.run(|| 6 * 7).await, Some(42));
        assert_eq!(offload.threads(), 1);
        let panicked: Option<()> = offload.run(|| panic!("in the work")).await;
        assert_eq!(panicked, None);
        assert_eq!(offload.run(|| "still here").await, Some("still here"));
        assert!(offload.threads() >= 1);
    }

    #[tokio::test]
    async fn many_at_once_stay_within_the_cap_and_all_finish() {
        let offload = Arc::new(Offload::new("test", 3));
        let mut joins = Vec::new();
        for n in 0..50u64 {
            let offload = offload.clone();
            joins.push(tokio::spawn(async move {
                offload
                    .run(move || {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        n
                    })
                    .await
            }));
        }
        let mut sum = 0;
        for join in joins {
            sum += join.await.unwrap().unwrap();
        }
        assert_eq!(sum, (0..50).sum::<u64>());
        assert!(offload.threads() <= 3, "{}", offload.threads());
    }

    #[tokio::test]
    async fn no_spare_starts_for_work_that_moves() {
        // A stall of an hour: quick work queued behind quick work never
        // waits that long, whatever the machine's load.
        let offload = Arc::new(Offload::with_spares(
            "test",
            1,
            2,
            Duration::from_secs(3600),
        ));
        let mut joins = Vec::new();
        for n in 0..5u64 {
            let offload = offload.clone();
            joins.push(tokio::spawn(async move {
                offload
                    .run(move || {
                        std::thread::sleep(Duration::from_millis(1));
                        n
                    })
                    .await
            }));
        }
        for join in joins {
            assert!(join.await.unwrap().is_some());
        }
        assert_eq!(offload.threads(), 1);
    }

    /// A task that keeps the paused runtime busy: its clock then moves only
    /// when the test advances it (an idle one jumps to the next timer while
    /// a pool thread works).
    fn keep_busy() -> tokio::task::JoinHandle<()> {
        tokio::spawn(async {
            loop {
                tokio::task::yield_now().await;
            }
        })
    }

    /// The task awaiting [`holding`]'s work.
    type Held = tokio::task::JoinHandle<Option<Result<(), std::sync::mpsc::RecvError>>>;

    /// Work that says when it runs, then holds its thread until released.
    fn holding(
        offload: &Arc<Offload>,
    ) -> (
        std::sync::mpsc::Receiver<()>,
        std::sync::mpsc::Sender<()>,
        Held,
    ) {
        let (running, is_running) = std::sync::mpsc::channel::<()>();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let pool = offload.clone();
        let task = tokio::spawn(async move {
            pool.run(move || {
                let _ = running.send(());
                held.recv()
            })
            .await
        });
        (is_running, release, task)
    }

    async fn until_running(is_running: &std::sync::mpsc::Receiver<()>) {
        while is_running.try_recv().is_err() {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_spare_starts_for_work_stuck_behind_a_stuck_thread() {
        let stall = Duration::from_millis(250);
        let offload = Arc::new(Offload::with_spares("test", 1, 2, stall));
        let busy = keep_busy();
        let (is_running, release, stuck) = holding(&offload);
        until_running(&is_running).await;
        let pool = offload.clone();
        let queued = tokio::spawn(async move { pool.run(|| "done").await });
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert!(!queued.is_finished(), "no spare before the stall");
        assert_eq!(offload.threads(), 1);
        tokio::time::advance(stall).await;
        assert_eq!(queued.await.unwrap(), Some("done"), "a spare took it");
        assert_eq!(offload.threads(), 2, "one spare");
        busy.abort();
        drop(release);
        assert!(stuck.await.unwrap().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn run_for_counts_from_the_start_not_from_the_queue() {
        let offload = Arc::new(Offload::with_spares("test", 1, 0, STALL));
        let busy = keep_busy();
        let (is_running, release, first) = holding(&offload);
        until_running(&is_running).await;
        let pool = offload.clone();
        let second =
            tokio::spawn(async move { pool.run_for(|| 42, Duration::from_millis(100)).await });
        // Queued behind the held thread far longer than its limit.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!second.is_finished());
        drop(release);
        assert_eq!(second.await.unwrap(), Ok(Ok(42)));
        assert!(first.await.unwrap().is_some());
        busy.abort();
        // Past its limit once running: Overran (the idle runtime's clock
        // jumps to the limit while the thread sleeps).
        let slow = offload.run_for(
            || std::thread::sleep(Duration::from_millis(50)),
            Duration::from_millis(10),
        );
        assert_eq!(slow.await, Err(Overran));
    }

    #[tokio::test]
    async fn dropping_the_pool_ends_its_threads() {
        let offload = Offload::new("test", 1);
        assert_eq!(offload.run(|| 1).await, Some(1));
        assert_eq!(offload.threads(), 1);
        let shared = offload.shared.clone();
        drop(offload);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while shared.lock().threads > 0 {
            assert!(std::time::Instant::now() < deadline, "threads still there");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
