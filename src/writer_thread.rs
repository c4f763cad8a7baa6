//! Results written to a pipe by a thread of their own.
//!
//! The tools that wait on the network run on one thread (a current-thread
//! runtime: less CPU per request, BENCHMARKS.md). The printer writes from
//! that thread, so when stdout is a pipe whose reader is slower than the
//! tool, a blocking `write` there would pause every request in flight: their
//! `elapsed_ms` would include the reader's delay, and a server could time
//! them out. Measured before this module: 100 results of 20 kB each, with a
//! reader that waits 3 s before reading, got 9 requests sent in the first
//! 2 s and the rest only when the reader woke.
//!
//! So when stdout is a pipe or a socket, the printer's bytes go through a
//! queue of at most [`QUEUE_BYTES`] to a thread that does the writing: a slow
//! reader stalls that thread, and the run goes on until 2 MiB wait (memory
//! stays bounded: a result line larger than a chunk is queued in 64 KiB
//! pieces); only then does the runtime thread wait too. A flush (the runner
//! flushes whenever it has nothing ready, so that NDJSON lines reach the
//! reader promptly) never waits: when the queue is full, its bytes stay in
//! the writer's chunk for the next flush, since the reader is far behind
//! anyway. A regular file, a terminal or `/dev/null` is written directly:
//! none of them waits on a reader.
//!
//! The last bytes are written (and a write error reported) when
//! [`WriterDone::wait`] joins the thread: the pipeline calls it before the
//! process exits and before anything else is written to stdout.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Bytes gathered before they are handed to the thread (what `BufWriter`
/// held before).
const CHUNK: usize = 64 * 1024;

/// Bytes that may wait for the thread.
const QUEUE_BYTES: usize = 32 * CHUNK;

/// What the two threads share.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    /// Signalled when chunks arrive or the writing end closes.
    arrived: Condvar,
    /// Signalled when the thread has written some, or stopped.
    written: Condvar,
}

#[derive(Default)]
struct QueueState {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    /// The writing end is gone: write what is left, then end.
    closed: bool,
    /// The thread stopped on this write error.
    failed: Option<(io::ErrorKind, String)>,
    /// Written chunks, emptied, for reuse: a fresh 64 KiB buffer for each
    /// flush (freed on the other thread) cost about 2 % of a run's CPU.
    spares: Vec<Vec<u8>>,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The writing end: gathers a chunk, queues it.
pub(crate) struct ThreadedWriter {
    chunk: Vec<u8>,
    queue: Arc<Queue>,
}

/// The thread, to join when the output is complete.
pub(crate) struct WriterDone {
    thread: Option<JoinHandle<io::Result<()>>>,
    queue: Arc<Queue>,
}

/// Whether `file` is a pipe or a socket: a reader on the other end decides
/// how fast a write returns.
pub(crate) fn waits_on_a_reader(file: &File) -> bool {
    use std::os::unix::fs::FileTypeExt;
    file.metadata().is_ok_and(|meta| {
        let kind = meta.file_type();
        kind.is_fifo() || kind.is_socket()
    })
}

/// Starts the thread that writes to `out`; `Err` gives `out` back when no
/// thread can be started (a full process table), to be written directly.
pub(crate) fn spawn(out: File) -> Result<(ThreadedWriter, WriterDone), File> {
    let queue = Arc::new(Queue::default());
    let shared = Arc::clone(&queue);
    let watched = Arc::clone(&queue);
    // The File moves into the thread only once it exists; a clone of the
    // descriptor keeps `out` for the direct fallback.
    let Ok(descriptor) = out.try_clone() else {
        return Err(out);
    };
    let started = std::thread::Builder::new()
        .name("output".into())
        .spawn(move || write_queued(descriptor, &shared));
    match started {
        Ok(thread) => Ok((
            ThreadedWriter {
                chunk: Vec::with_capacity(CHUNK),
                queue,
            },
            WriterDone {
                thread: Some(thread),
                queue: watched,
            },
        )),
        Err(_) => Err(out),
    }
}

/// The thread: takes everything queued, writes it, until the writing end
/// closes (or a write fails: then it records the error and ends).
fn write_queued(mut out: File, queue: &Queue) -> io::Result<()> {
    let mut taken = Vec::new();
    loop {
        {
            let mut state = queue.lock();
            while state.chunks.is_empty() && !state.closed {
                state = queue
                    .arrived
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if state.chunks.is_empty() {
                return Ok(());
            }
            taken.extend(state.chunks.drain(..));
        }
        let result = taken.iter().try_for_each(|chunk| out.write_all(chunk));
        let mut state = queue.lock();
        state.bytes -= taken.iter().map(Vec::len).sum::<usize>();
        for mut chunk in taken.drain(..) {
            if state.spares.len() < 4 && chunk.capacity() == CHUNK {
                chunk.clear();
                state.spares.push(chunk);
            }
        }
        if let Err(error) = result {
            state.failed = Some((error.kind(), error.to_string()));
            state.chunks.clear();
            state.bytes = 0;
            queue.written.notify_all();
            return Err(error);
        }
        queue.written.notify_all();
    }
}

impl ThreadedWriter {
    /// Queues the gathered bytes. `wait`: while the queue is full, wait for
    /// room (a full chunk); otherwise leave them gathered (a flush).
    fn hand_over(&mut self, wait: bool) -> io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let mut state = self.queue.lock();
        loop {
            if let Some((kind, message)) = &state.failed {
                return Err(io::Error::new(*kind, message.clone()));
            }
            if state.bytes + self.chunk.len() <= QUEUE_BYTES {
                break;
            }
            if !wait {
                return Ok(());
            }
            state = self
                .queue
                .written
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let spare = state
            .spares
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.chunk, spare);
        state.bytes += full.len();
        state.chunks.push_back(full);
        self.queue.arrived.notify_one();
        Ok(())
    }
}

impl Write for ThreadedWriter {
    /// Gathers `buf` in chunks of at most [`CHUNK`], queuing each full one:
    /// a result line of megabytes is queued in pieces, within the bound.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            let room = CHUNK - self.chunk.len().min(CHUNK);
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.chunk.extend_from_slice(now);
            rest = later;
            if self.chunk.len() >= CHUNK {
                self.hand_over(true)?;
            }
        }
        Ok(buf.len())
    }

    /// Hands what is gathered to the thread without waiting for it to be
    /// written, nor for room in the queue.
    fn flush(&mut self) -> io::Result<()> {
        self.hand_over(false)
    }
}

impl Drop for ThreadedWriter {
    /// What is still gathered goes too; then the queue closes, which ends
    /// the thread once it has written everything.
    fn drop(&mut self) {
        let _ = self.hand_over(true);
        self.queue.lock().closed = true;
        self.queue.arrived.notify_one();
    }
}

impl Drop for WriterDone {
    /// Not waited on (a panic unwinding through the pipeline): still let
    /// the thread write what was queued before the process exits, as a
    /// `BufWriter` flushes when dropped. Only once the writing end is gone:
    /// waiting while it lives would never end.
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take()
            && self.queue.lock().closed
        {
            let _ = thread.join();
        }
    }
}

impl WriterDone {
    /// Waits until everything queued is written, or the write error that
    /// stopped it. Call it after the [`ThreadedWriter`] is dropped (else it
    /// waits for that).
    pub(crate) fn wait(mut self) -> io::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(written)) => written,
            Some(Err(_)) => Err(io::Error::other("the output thread panicked")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::OwnedFd;

    /// A pipe: (read end, write end).
    fn pipe() -> (File, File) {
        let (reader, writer) = std::io::pipe().unwrap();
        (
            File::from(OwnedFd::from(reader)),
            File::from(OwnedFd::from(writer)),
        )
    }

    #[test]
    fn a_pipe_waits_on_a_reader_and_a_file_does_not() {
        let (_reader, writer) = pipe();
        assert!(waits_on_a_reader(&writer));
        let file = tempfile::tempfile().unwrap();
        assert!(!waits_on_a_reader(&file));
    }

    #[test]
    fn writes_more_than_the_pipe_holds_while_nobody_reads() {
        let (mut reader, writer) = pipe();
        let (mut out, done) = spawn(writer).unwrap_or_else(|_| panic!("no thread"));
        // 1 MiB: far more than a pipe's 64 KiB, all accepted at once.
        let line = [b'x'; 1023];
        for _ in 0..1024 {
            out.write_all(&line).unwrap();
            out.write_all(b"\n").unwrap();
        }
        out.flush().unwrap();
        drop(out);
        let reading = std::thread::spawn(move || {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).unwrap();
            all
        });
        done.wait().unwrap();
        let all = reading.join().unwrap();
        assert_eq!(all.len(), 1024 * 1024);
        assert!(all.chunks(1024).all(|line| line[1023] == b'\n'));
    }

    #[test]
    fn a_reader_gone_is_the_writes_error() {
        let (reader, writer) = pipe();
        drop(reader);
        let (mut out, done) = spawn(writer).unwrap_or_else(|_| panic!("no thread"));
        // The thread meets EPIPE on the first chunk; a later write says so.
        let mut error = None;
        for _ in 0..(QUEUE_BYTES / CHUNK + 4) * 16 {
            if let Err(failed) = out.write_all(&[b'y'; CHUNK / 16]) {
                error = Some(failed);
                break;
            }
        }
        assert_eq!(
            error.expect("a write fails").kind(),
            io::ErrorKind::BrokenPipe
        );
        drop(out);
        assert_eq!(done.wait().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }

    /// A writer whose queue nobody takes from (no thread): what it queues
    /// stays there to look at.
    fn unattached() -> ThreadedWriter {
        ThreadedWriter {
            chunk: Vec::with_capacity(CHUNK),
            queue: Arc::new(Queue::default()),
        }
    }

    /// Empties the queue so that dropping `out` does not wait for room.
    fn discard(out: ThreadedWriter) {
        let mut state = out.queue.lock();
        state.chunks.clear();
        state.bytes = 0;
        drop(state);
        drop(out);
    }

    #[test]
    fn a_line_larger_than_a_chunk_is_queued_in_pieces() {
        let mut out = unattached();
        out.write_all(&vec![b'z'; 20 * CHUNK + 5]).unwrap();
        {
            let state = out.queue.lock();
            assert_eq!(state.chunks.len(), 20);
            assert!(state.chunks.iter().all(|chunk| chunk.len() == CHUNK));
            assert_eq!(state.bytes, 20 * CHUNK);
        }
        assert_eq!(out.chunk.len(), 5);
        discard(out);
    }

    #[test]
    fn a_flush_into_a_full_queue_keeps_its_bytes_and_returns() {
        let mut out = unattached();
        out.write_all(&vec![b'q'; QUEUE_BYTES]).unwrap();
        assert_eq!(out.queue.lock().bytes, QUEUE_BYTES);
        out.write_all(b"{\"index\":7}\n").unwrap();
        // The queue is full and nobody takes from it: a flush must not wait.
        out.flush().unwrap();
        assert_eq!(out.queue.lock().bytes, QUEUE_BYTES);
        assert_eq!(out.chunk, b"{\"index\":7}\n");
        discard(out);
    }
}
