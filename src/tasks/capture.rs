//! Bounded capture of one output stream (a task's stdout or stderr).
//!
//! A command can print without end (`yes`), so a stream keeps at most
//! `--max-output` bytes: the first half as it came (the head: usually the
//! command line echo, the first error) and a ring of the most recent half (the
//! tail: the summary line, the last error). Every byte is counted, kept or
//! not, and when bytes were dropped the rendered text says how many, between
//! head and tail. Memory per stream is the cap, whatever the command prints.
//!
//! The pipe is read until end of file or until the task's owner closes it
//! (see [`read_stream`]): a descendant that escaped the task's process group
//! may hold the pipe open forever, and must not hang the tool.

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

/// Bytes read from a pipe at once.
const READ_CHUNK: usize = 16 * 1024;

/// The head and the tail of one stream, and its full length.
#[derive(Debug, Clone)]
pub struct Capture {
    head_cap: usize,
    tail_cap: usize,
    head: Vec<u8>,
    /// A ring of the latest bytes; while not full, `start` is 0 and it is in order.
    tail: Vec<u8>,
    /// Where the oldest byte of a full ring is.
    start: usize,
    total: u64,
}

impl Capture {
    /// A capture keeping at most `cap` bytes (the head gets the odd byte).
    pub fn new(cap: u64) -> Self {
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        let tail_cap = cap / 2;
        Capture {
            head_cap: cap - tail_cap,
            tail_cap,
            head: Vec::new(),
            tail: Vec::new(),
            start: 0,
            total: 0,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.head.len() < self.head_cap {
            let take = (self.head_cap - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        self.push_tail(bytes);
    }

    fn push_tail(&mut self, bytes: &[u8]) {
        let cap = self.tail_cap;
        if cap == 0 || bytes.is_empty() {
            return;
        }
        let mut bytes = &bytes[bytes.len().saturating_sub(cap)..];
        if self.tail.len() < cap {
            let take = (cap - self.tail.len()).min(bytes.len());
            self.tail.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        while !bytes.is_empty() {
            let take = (cap - self.start).min(bytes.len());
            self.tail[self.start..self.start + take].copy_from_slice(&bytes[..take]);
            self.start = (self.start + take) % cap;
            bytes = &bytes[take..];
        }
    }

    /// Every byte the stream carried, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn kept(&self) -> u64 {
        (self.head.len() + self.tail.len()) as u64
    }

    /// Whether bytes were dropped between head and tail.
    pub fn truncated(&self) -> bool {
        self.total > self.kept()
    }

    /// The text as the JSON shows it: decoded as UTF-8 (invalid bytes become
    /// U+FFFD), with `[... N bytes omitted ...]` where bytes were dropped.
    pub fn render(&self) -> String {
        let mut tail = Vec::with_capacity(self.tail.len());
        tail.extend_from_slice(&self.tail[self.start..]);
        tail.extend_from_slice(&self.tail[..self.start]);
        if !self.truncated() {
            let mut all = self.head.clone();
            all.extend_from_slice(&tail);
            return String::from_utf8_lossy(&all).into_owned();
        }
        let omitted = self.total - self.kept();
        format!(
            "{}\n[... {omitted} bytes omitted ...]\n{}",
            String::from_utf8_lossy(without_cut_end(&self.head)),
            String::from_utf8_lossy(without_cut_start(&tail)),
        )
    }
}

/// Drops a character the cut split at the end (at most 3 bytes).
fn without_cut_end(bytes: &[u8]) -> &[u8] {
    match std::str::from_utf8(bytes) {
        Err(error) if error.error_len().is_none() => &bytes[..error.valid_up_to()],
        _ => bytes,
    }
}

/// Drops the continuation bytes of a character the cut split at the start.
fn without_cut_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|&&byte| byte & 0b1100_0000 == 0b1000_0000)
        .count();
    &bytes[skip..]
}

/// Reads `pipe` into a capture until end of file or until `close` is
/// cancelled, whichever comes first. A read error ends the stream like EOF.
pub async fn read_stream<R: AsyncRead + Unpin>(
    mut pipe: R,
    cap: u64,
    close: CancellationToken,
) -> Capture {
    let mut capture = Capture::new(cap);
    let mut buffer = vec![0u8; READ_CHUNK];
    loop {
        tokio::select! {
            biased;
            read = pipe.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(read) => capture.push(&buffer[..read]),
            },
            _ = close.cancelled() => break,
        }
    }
    capture
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(cap: u64, chunks: &[&[u8]]) -> Capture {
        let mut capture = Capture::new(cap);
        for chunk in chunks {
            capture.push(chunk);
        }
        capture
    }

    #[test]
    fn small_output_is_kept_whole() {
        let capture = captured(10, &[b"abc", b"defg", b"hij"]);
        assert!(!capture.truncated());
        assert_eq!(capture.total(), 10);
        assert_eq!(capture.render(), "abcdefghij");
    }

    #[test]
    fn large_output_keeps_head_and_tail_and_counts_everything() {
        let capture = captured(10, &[b"0123456789", b"abcdefghij", b"KLMNO"]);
        assert!(capture.truncated());
        assert_eq!(capture.total(), 25);
        assert_eq!(capture.render(), "01234\n[... 15 bytes omitted ...]\nKLMNO");
        // The ring wraps correctly across many small writes.
        let mut capture = Capture::new(7);
        for byte in b"abcdefghijklmnopqrstuvwxyz" {
            capture.push(&[*byte]);
        }
        assert_eq!(capture.render(), "abcd\n[... 19 bytes omitted ...]\nxyz");
    }

    #[test]
    fn memory_stays_at_the_cap() {
        let mut capture = Capture::new(64);
        let chunk = [b'y'; 4096];
        for _ in 0..1000 {
            capture.push(&chunk);
        }
        assert_eq!(capture.total(), 4_096_000);
        assert_eq!(capture.head.len() + capture.tail.len(), 64);
        assert!(capture.head.capacity() <= 64 && capture.tail.capacity() <= 64);
    }

    #[test]
    fn zero_cap_counts_but_keeps_nothing() {
        let capture = captured(0, &[b"hello"]);
        assert_eq!(capture.total(), 5);
        assert!(capture.truncated());
        assert_eq!(capture.render(), "\n[... 5 bytes omitted ...]\n");
    }

    #[test]
    fn cuts_never_leave_half_characters() {
        // "é" is two bytes; the head cut and the tail cut both split one.
        let text = "aé".repeat(10);
        // A cap of 9: a head of 5 bytes ends inside an "é", a tail of 4
        // starts inside one.
        let capture = captured(9, &[text.as_bytes()]);
        let rendered = capture.render();
        assert!(!rendered.contains('\u{fffd}'), "{rendered}");
        assert!(rendered.starts_with("aéa\n[..."), "{rendered}");
        assert!(rendered.ends_with("...]\naé"), "{rendered}");
    }

    #[tokio::test]
    async fn reads_until_end_of_file() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let close = CancellationToken::new();
        let reading = tokio::spawn(read_stream(reader, 1024, close));
        tokio::io::AsyncWriteExt::write_all(&mut writer, b"hello\n")
            .await
            .unwrap();
        drop(writer);
        let capture = reading.await.unwrap();
        assert_eq!(capture.render(), "hello\n");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pipe_held_open_is_closed_on_request() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let close = CancellationToken::new();
        let reading = tokio::spawn(read_stream(reader, 1024, close.clone()));
        tokio::io::AsyncWriteExt::write_all(&mut writer, b"partial")
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        close.cancel();
        let capture = reading.await.unwrap();
        assert_eq!(capture.render(), "partial");
        drop(writer);
    }
}
