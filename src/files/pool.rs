//! The reader threads: a small pool that reads files back to back, and
//! grows when reads are slow.
//!
//! One `spawn_blocking` per file costs two thread wake-ups per file (the
//! blocking thread, then the async worker), which for 10,000 small cached
//! files is most of the run. Here a few reader threads (one per core) take
//! requests from a queue and go straight on to the next one, so a busy
//! reader never sleeps; the async side just awaits a oneshot reply.
//!
//! Slow or hung reads (a cold disk, a dead network mount) must neither
//! serialise the run nor hang it:
//! - a request still queued after [`STALL`] means every reader is busy: the
//!   waiting item adds a reader, up to the run's concurrency;
//! - a request abandoned while it runs (its `--timeout`, or the run
//!   stopping) counts its reader as lost: a replacement may start, and the
//!   lost one retires when (if ever) its read returns. It is never waited
//!   for, at the end of the run either.

use super::error::FileError;
use super::read::{FileFacts, ReadPlan, read_file};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a request may wait for a free reader before it adds one.
pub(crate) const STALL: Duration = Duration::from_millis(5);

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const ABANDONED: u8 = 3;

/// Where one request stands, shared by the waiting item and its reader.
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    phase: AtomicU8,
    /// Tells a running read to stop at its next buffer.
    cancel: AtomicBool,
}

/// What abandoning a request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abandoned {
    /// It had not started: no reader is involved.
    WhileQueued,
    /// A reader was on it (and may be stuck in the kernel).
    WhileRunning,
    /// It had just finished.
    AfterDone,
}

impl Ticket {
    pub(crate) fn is_queued(&self) -> bool {
        self.phase.load(Ordering::Acquire) == QUEUED
    }

    fn start(&self) -> bool {
        self.phase
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn finish(&self) -> bool {
        self.phase
            .compare_exchange(RUNNING, DONE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn abandon(&self) -> Abandoned {
        self.cancel.store(true, Ordering::Relaxed);
        match self.phase.swap(ABANDONED, Ordering::AcqRel) {
            QUEUED => Abandoned::WhileQueued,
            RUNNING => Abandoned::WhileRunning,
            _ => Abandoned::AfterDone,
        }
    }
}

struct Request {
    path: PathBuf,
    ticket: Arc<Ticket>,
    reply: oneshot::Sender<Result<FileFacts, FileError>>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Request>,
    /// Readers not known to be lost (idle, or reading a live request).
    readers: usize,
    idle: usize,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    plan: ReadPlan,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A reader never panics while holding the lock (reads run outside
        // it and are caught), so a poisoned lock still holds a sound state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The reader threads of one run.
pub(crate) struct ReaderPool {
    shared: Arc<Shared>,
    /// Readers started right away when there is work.
    base: usize,
    /// The most readers (not counting lost ones).
    max: usize,
}

/// A request handed to the pool: await `reply`; on giving up, call
/// [`ReaderPool::abandon`] with the ticket.
pub(crate) struct Pending {
    pub(crate) ticket: Arc<Ticket>,
    pub(crate) reply: oneshot::Receiver<Result<FileFacts, FileError>>,
}

impl ReaderPool {
    /// `base` readers start with the first requests; up to `max` as reads stall.
    pub(crate) fn new(plan: ReadPlan, base: usize, max: usize) -> Self {
        let max = max.max(1);
        ReaderPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                plan,
            }),
            base: base.clamp(1, max),
            max,
        }
    }

    /// Queues a read of `path`.
    pub(crate) fn submit(&self, path: PathBuf) -> Result<Pending, FileError> {
        let ticket = Arc::new(Ticket::default());
        let (reply, receiver) = oneshot::channel();
        let mut state = self.shared.lock();
        state.queue.push_back(Request {
            path,
            ticket: ticket.clone(),
            reply,
        });
        if state.idle > 0 {
            self.shared.work.notify_one();
        } else if state.readers < self.base
            && let Err(error) = self.spawn_reader(&mut state)
        {
            // No thread to be had (a full process table): the readers
            // there are will get to it; with none, this file fails.
            if state.readers == 0 {
                state.queue.pop_back();
                return Err(error);
            }
        }
        Ok(Pending {
            ticket,
            reply: receiver,
        })
    }

    /// Adds a reader (a request waited [`STALL`] in the queue), within `max`.
    pub(crate) fn grow(&self) {
        let mut state = self.shared.lock();
        if state.readers < self.max && !state.queue.is_empty() {
            // Failing to start one more is not fatal: the others go on.
            let _ = self.spawn_reader(&mut state);
        }
    }

    /// Gives up on a request (timeout or stop). A reader stuck on it no
    /// longer counts, so that a replacement can start.
    pub(crate) fn abandon(&self, ticket: &Ticket) {
        if ticket.abandon() == Abandoned::WhileRunning {
            let mut state = self.shared.lock();
            state.readers = state.readers.saturating_sub(1);
        }
    }

    fn spawn_reader(&self, state: &mut State) -> Result<(), FileError> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name("file-reader".to_string())
            .spawn(move || reader_loop(&shared))
            .map_err(|error| FileError::Io(format!("cannot start a reader thread: {error}")))?;
        state.readers += 1;
        Ok(())
    }

    /// Readers currently counted (for tests).
    #[cfg(test)]
    pub(crate) fn readers(&self) -> usize {
        self.shared.lock().readers
    }
}

impl Drop for ReaderPool {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
    }
}

fn reader_loop(shared: &Shared) {
    loop {
        let request = {
            let mut state = shared.lock();
            loop {
                if let Some(request) = state.queue.pop_front() {
                    break request;
                }
                if state.shutdown {
                    state.readers = state.readers.saturating_sub(1);
                    return;
                }
                state.idle += 1;
                state = shared
                    .work
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.idle -= 1;
            }
        };
        if !request.ticket.start() {
            // Abandoned while it waited.
            continue;
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_file(&request.path, &shared.plan, &request.ticket.cancel)
        }))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(FileError::Internal(what))
        });
        if !request.ticket.finish() {
            // Abandoned while it ran: this reader was written off and
            // replaced, so it retires.
            return;
        }
        let _ = request.reply.send(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::read::READ_BUFFER;

    fn plan() -> ReadPlan {
        ReadPlan {
            selection: None,
            max_content: 0,
            sha256: false,
            buffer_size: READ_BUFFER,
        }
    }

    #[tokio::test]
    async fn reads_many_files_with_few_readers() {
        let dir = tempfile::tempdir().unwrap();
        let pool = ReaderPool::new(plan(), 2, 8);
        let mut pending = Vec::new();
        for index in 0..50 {
            let path = dir.path().join(format!("{index}.txt"));
            std::fs::write(&path, "x\n".repeat(index)).unwrap();
            pending.push(pool.submit(path).unwrap());
        }
        for (index, request) in pending.into_iter().enumerate() {
            let facts = request.reply.await.unwrap().unwrap();
            assert_eq!(facts.counts.lines, index as u64);
        }
        assert!(
            pool.readers() <= 2,
            "no read stalled, so no reader was added"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_stuck_reader_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        // A FIFO with no writer: opening it blocks forever.
        let fifo = dir.path().join("stuck");
        let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
        let file = dir.path().join("ok.txt");
        std::fs::write(&file, "fine\n").unwrap();

        let pool = ReaderPool::new(plan(), 1, 4);
        let stuck = pool.submit(fifo.clone()).unwrap();
        while stuck.ticket.is_queued() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The only reader is stuck: a new request stalls, and grows the pool.
        let next = pool.submit(file).unwrap();
        tokio::time::sleep(STALL).await;
        assert!(next.ticket.is_queued());
        pool.grow();
        let facts = next.reply.await.unwrap().unwrap();
        assert_eq!(facts.counts.lines, 1);

        pool.abandon(&stuck.ticket);
        assert_eq!(pool.readers(), 1, "the stuck reader no longer counts");
        // Let the stuck reader go (open the FIFO's other end) so it retires.
        let _writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    }
}
