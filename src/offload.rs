//! Blocking work on a run's own threads, kept for the whole run: the
//! reaper's (`crate::tasks::reaper`: starting a task's process, scanning
//! `/proc`) and `find_blocking_calls`' (reading and parsing a file).
//!
//! Tokio's `spawn_blocking` costs two thread wake-ups a piece of work (an
//! idle blocking thread, then the async side), and the thread that finished
//! goes to sleep; here a thread that finishes takes the next piece at once,
//! and the caller awaits a oneshot reply. On 6,000 files of real projects
//! `find_blocking_calls` went from 0.47 s to 0.39 s of wall time, 38 to 22
//! MB of peak memory (bench/blocking_realworld.md).
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
//! - if even the first thread was refused (the table was full before the
//!   run), the work runs on the calling thread: slower, never a panic.
//!
//! Work that panics is caught on its thread, which lives on; the caller
//! gets `None`.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

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
    /// ...and past it, up to this many, only for work that waited
    /// [`STALL`] without a thread taking it (every thread stuck).
    max: usize,
}

/// How long work may wait, with the eager threads all busy, before a spare
/// thread starts for it.
pub(crate) const STALL: Duration = Duration::from_millis(250);

impl Offload {
    /// A pool of at most `max` threads named `name` (none until there is
    /// work), started while work waits.
    pub(crate) fn new(name: &'static str, max: usize) -> Self {
        Self::with_spares(name, max, 0)
    }

    /// A pool of `eager` threads started while work waits (CPU work: one a
    /// core keeps the cores busy, and more only take turns on them), and
    /// up to `spares` more for work that waited [`STALL`] (threads stuck in
    /// the kernel, a read on a hung mount, are never joined: spares replace
    /// them).
    pub(crate) fn with_spares(name: &'static str, eager: usize, spares: usize) -> Self {
        let eager = eager.max(1);
        Offload {
            shared: Arc::default(),
            name,
            eager,
            max: eager + spares,
        }
    }

    /// Runs `work` on one of the pool's threads (or, with none, on this
    /// one); `None` if it panicked.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, mut result) = oneshot::channel();
        let started = Arc::new(AtomicBool::new(false));
        let taken = started.clone();
        let work: Work = Box::new(move || {
            taken.store(true, Ordering::Release);
            let _ = reply.send(work());
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
            let _ = std::panic::catch_unwind(AssertUnwindSafe(work));
        }
        if self.max > self.eager {
            loop {
                match tokio::time::timeout(STALL, &mut result).await {
                    Ok(done) => return done.ok(),
                    // A thread has it: no spare would help.
                    Err(_waited) if started.load(Ordering::Acquire) => break,
                    Err(_waited) => {
                        let mut state = self.shared.lock();
                        if state.threads < self.max {
                            let _ = self.add_thread(&mut state);
                        }
                    }
                }
            }
        }
        result.await.ok()
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

/// One thread's life: the queue's work, one at a time, until the pool closes.
fn serve(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if let Some(work) = state.queue.pop_front() {
            drop(state);
            // The reply's sender is dropped with the work: the caller sees None.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(work));
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
    async fn spares_start_only_for_work_stuck_in_the_queue() {
        let offload = Arc::new(Offload::with_spares("test", 1, 2));
        // Quick work queued behind quick work: the one eager thread does it all.
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
        assert_eq!(offload.threads(), 1, "no spare for work that moved");
        // A thread that never comes back: the next work gets a spare after STALL.
        let (release, stuck) = std::sync::mpsc::channel::<()>();
        let blocked = offload.clone();
        let stuck_work = tokio::spawn(async move { blocked.run(move || stuck.recv()).await });
        // Until the one thread has taken it (and is stuck).
        loop {
            let waiting = {
                let state = offload.shared.lock();
                state.queue.len() + state.idle
            };
            if waiting == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let started = std::time::Instant::now();
        assert_eq!(offload.run(|| "done").await, Some("done"));
        assert!(started.elapsed() >= STALL, "it waited for the stall first");
        assert_eq!(offload.threads(), 2);
        drop(release);
        assert!(stuck_work.await.unwrap().is_some());
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
