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
//! So when stdout is a pipe or a socket, the printer's bytes go in chunks
//! through a bounded queue to a thread that does the writing: a slow reader
//! stalls that thread, and the run goes on until [`QUEUED_CHUNKS`] chunks
//! wait (2 MiB: memory stays bounded); only then does the runtime thread wait
//! too. A regular file, a terminal or `/dev/null` is written directly: none
//! of them waits on a reader.
//!
//! The last bytes are written (and a write error reported) when
//! [`WriterDone::wait`] joins the thread: the pipeline calls it before the
//! process exits and before anything else is written to stdout.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Bytes handed to the thread at a time (what `BufWriter` held before).
const CHUNK: usize = 64 * 1024;

/// Chunks that may wait for the thread: 2 MiB with [`CHUNK`].
const QUEUED_CHUNKS: usize = 32;

/// The writing end: buffers one chunk, queues full ones.
pub(crate) struct ThreadedWriter {
    chunk: Vec<u8>,
    queue: Option<SyncSender<Vec<u8>>>,
    /// Chunks the thread has written, back for reuse: the runner flushes
    /// whenever it has nothing else ready, and a fresh 64 KiB buffer for
    /// each flush (freed on the other thread) cost about 2 % of a run's CPU.
    written: Receiver<Vec<u8>>,
    /// The thread's write error, once it has stopped on one.
    failed: Arc<Mutex<Option<(io::ErrorKind, String)>>>,
}

/// The thread, to join when the output is complete.
pub(crate) struct WriterDone {
    thread: Option<JoinHandle<io::Result<()>>>,
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
    let (queue, chunks) = sync_channel::<Vec<u8>>(QUEUED_CHUNKS);
    let (give_back, written) = sync_channel::<Vec<u8>>(4);
    let failed = Arc::new(Mutex::new(None));
    let noted = Arc::clone(&failed);
    // The File moves into the thread only once it exists; a clone of the
    // descriptor keeps `out` for the direct fallback.
    let Ok(descriptor) = out.try_clone() else {
        return Err(out);
    };
    let started = std::thread::Builder::new()
        .name("output".into())
        .spawn(move || {
            let mut descriptor = descriptor;
            for mut chunk in chunks {
                if let Err(error) = descriptor.write_all(&chunk) {
                    if let Ok(mut slot) = noted.lock() {
                        *slot = Some((error.kind(), error.to_string()));
                    }
                    return Err(error);
                }
                chunk.clear();
                // Full of spares already: this one is freed.
                let _ = give_back.try_send(chunk);
            }
            Ok(())
        });
    match started {
        Ok(thread) => Ok((
            ThreadedWriter {
                chunk: Vec::with_capacity(CHUNK),
                queue: Some(queue),
                written,
                failed,
            },
            WriterDone {
                thread: Some(thread),
            },
        )),
        Err(_) => Err(out),
    }
}

impl ThreadedWriter {
    /// Queues the buffered bytes (waiting only while the queue is full).
    fn send(&mut self) -> io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let spare = self
            .written
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.chunk, spare);
        let sent = match &self.queue {
            Some(queue) => queue.send(full).is_ok(),
            None => false,
        };
        if sent { Ok(()) } else { Err(self.failure()) }
    }

    /// The error the thread stopped on, as the next write's error.
    fn failure(&self) -> io::Error {
        match self.failed.lock().ok().and_then(|slot| slot.clone()) {
            Some((kind, message)) => io::Error::new(kind, message),
            None => io::Error::new(io::ErrorKind::BrokenPipe, "the output thread stopped"),
        }
    }
}

impl Write for ThreadedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.chunk.extend_from_slice(buf);
        if self.chunk.len() >= CHUNK {
            self.send()?;
        }
        Ok(buf.len())
    }

    /// Hands what is buffered to the thread (NDJSON lines reach the reader
    /// promptly) without waiting for it to be written.
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for ThreadedWriter {
    /// What is still buffered goes too; then the queue closes, which ends
    /// the thread once it has written everything.
    fn drop(&mut self) {
        let _ = self.send();
        self.queue = None;
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
        // The thread meets EPIPE on the first chunk; a later send says so.
        let mut error = None;
        for _ in 0..(QUEUED_CHUNKS + 4) * 16 {
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
}
