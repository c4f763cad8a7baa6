//! Bounded capture of one output stream (a task's stdout or stderr).
//!
//! A command can print without end (`yes`), so a stream keeps at most
//! `--max-output` bytes: the first half as it came (the head: usually the
//! command line echo, the first error) and a ring of the most recent half (the
//! tail: the summary line, the last error). Every byte is counted, kept or
//! not, and when bytes were dropped the rendered text says how many, between
//! head and tail. Memory per stream is the cap, whatever the command prints,
//! plus a look-around for the task's secrets (below).
//!
//! A secret the cut splits must not show in part. So the head keeps `look`
//! bytes past its cut and the ring `look` bytes before the tail it shows
//! (`look` is the longest secret form minus one, 0 without secrets): a
//! secret that straddles a cut is whole in what was kept, and is scrubbed
//! before the text is cut to the cap (see [`Redactor::scrub_head`] and
//! [`Redactor::scrub_tail`]).
//!
//! The pipe is read until end of file or until the task's owner closes it
//! (see [`read_stream`]): a descendant that escaped the task's process group
//! may hold the pipe open forever, and must not hang the tool.

use crate::redact::{MIN_SCRUB_LEN, Redactor};
use std::borrow::Cow;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

/// Bytes read from a pipe at once.
const READ_CHUNK: usize = 16 * 1024;

/// The head and the tail of one stream, and its full length.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    /// Bytes of the head and of the tail that are shown.
    head_cap: usize,
    tail_cap: usize,
    /// Bytes kept past the head's cut and before the tail's start.
    look: usize,
    /// The first `head_cap + look` bytes.
    head: Vec<u8>,
    /// A ring of the latest `tail_cap + look` bytes after the head; while
    /// not full, `start` is 0 and it is in order.
    tail: Vec<u8>,
    /// Where the oldest byte of a full ring is.
    start: usize,
    total: u64,
}

impl Capture {
    /// A capture showing at most `cap` bytes (the head gets the odd byte),
    /// keeping `look` more on each side of the cut for secrets that straddle it.
    pub(crate) fn new(cap: u64, look: usize) -> Self {
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        let tail_cap = cap / 2;
        Capture {
            head_cap: cap - tail_cap,
            tail_cap,
            look,
            head: Vec::new(),
            tail: Vec::new(),
            start: 0,
            total: 0,
        }
    }

    /// What the head keeps: nothing when it shows nothing.
    fn head_keep(&self) -> usize {
        match self.head_cap {
            0 => 0,
            shown => shown.saturating_add(self.look),
        }
    }

    /// What the ring keeps: nothing when the tail shows nothing.
    fn tail_keep(&self) -> usize {
        match self.tail_cap {
            0 => 0,
            shown => shown.saturating_add(self.look),
        }
    }

    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let head_keep = self.head_keep();
        if self.head.len() < head_keep {
            let take = (head_keep - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        self.push_tail(bytes);
    }

    fn push_tail(&mut self, bytes: &[u8]) {
        let cap = self.tail_keep();
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
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Whether bytes were dropped between head and tail: more came than
    /// the cap shows.
    pub(crate) fn truncated(&self) -> bool {
        self.total > self.head_cap.saturating_add(self.tail_cap) as u64
    }

    /// The ring's bytes in stream order.
    fn ring_in_order(&self) -> Vec<u8> {
        let mut tail = Vec::with_capacity(self.tail.len());
        tail.extend_from_slice(&self.tail[self.start..]);
        tail.extend_from_slice(&self.tail[..self.start]);
        tail
    }

    /// The text as the JSON shows it, with the task's secrets scrubbed:
    /// decoded as UTF-8 (invalid bytes become U+FFFD), with
    /// `[... N bytes omitted ...]` where bytes were dropped.
    pub(crate) fn render(&self, redactor: &Redactor) -> String {
        let ring = self.ring_in_order();
        // Nothing was dropped between head and ring: the whole stream is here.
        let whole = self.total == (self.head.len() + ring.len()) as u64;
        if !self.truncated() {
            let mut all = self.head.clone();
            all.extend_from_slice(&ring);
            return String::from_utf8_lossy(&redactor.scrub_bytes(&all)).into_owned();
        }
        let head = self.shown_head(redactor);
        // The tail shown and the `look` bytes before it; when nothing was
        // dropped, these may reach back into the head's bytes.
        let tail_source = if whole {
            let mut all = self.head.clone();
            all.extend_from_slice(&ring);
            let from = all.len().saturating_sub(self.tail_keep());
            all.split_off(from)
        } else {
            ring
        };
        let tail = self.shown_tail(redactor, &tail_source);
        let omitted = self.total - (self.head_cap + self.tail_cap) as u64;
        format!(
            "{}\n[... {omitted} bytes omitted ...]\n{}",
            String::from_utf8_lossy(without_cut_end(&head)),
            String::from_utf8_lossy(without_cut_start(&tail)),
        )
    }

    /// The first `head_cap` bytes of the scrubbed head. A secret that
    /// straddles the cut is whole in the head's `look` bytes past it, so it
    /// is scrubbed whole.
    fn shown_head(&self, redactor: &Redactor) -> Vec<u8> {
        redactor.scrub_head(&self.head, self.head_cap)
    }

    /// The last `tail_cap` bytes of the scrubbed `source` (the tail and the
    /// bytes before it). A secret that straddles the tail's start is whole
    /// in `source`, so it is scrubbed whole; the tail shown may then begin
    /// inside its `<redacted>`.
    fn shown_tail<'a>(&self, redactor: &Redactor, source: &'a [u8]) -> Cow<'a, [u8]> {
        if self.tail_cap == 0 {
            return Cow::Borrowed(&[]);
        }
        if redactor.is_empty() {
            let from = source.len().saturating_sub(self.tail_cap);
            return Cow::Borrowed(&source[from..]);
        }
        let mut clean = redactor.scrub_tail(source);
        let mut from = clean.len().saturating_sub(self.tail_cap);
        // Scrubbing may shrink the text so much that the window reaches the
        // very start of `source`, whose first bytes may end a secret that
        // began before it, too short to recognise: never show those.
        from = from.max((MIN_SCRUB_LEN - 1).min(clean.len()));
        clean.drain(..from);
        Cow::Owned(clean)
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

/// Reads `pipe` into `capture` (a new one) until end of file or until
/// `close` is cancelled, whichever comes first. A read error ends the
/// stream like EOF.
pub(crate) async fn read_stream<R: AsyncRead + Unpin>(
    mut pipe: R,
    mut capture: Capture,
    close: CancellationToken,
) -> Capture {
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
        let mut capture = Capture::new(cap, 0);
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
        assert_eq!(capture.render(&Redactor::default()), "abcdefghij");
    }

    #[test]
    fn large_output_keeps_head_and_tail_and_counts_everything() {
        let capture = captured(10, &[b"0123456789", b"abcdefghij", b"KLMNO"]);
        assert!(capture.truncated());
        assert_eq!(capture.total(), 25);
        assert_eq!(
            capture.render(&Redactor::default()),
            "01234\n[... 15 bytes omitted ...]\nKLMNO"
        );
        // The ring wraps correctly across many small writes.
        let mut capture = Capture::new(7, 0);
        for byte in b"abcdefghijklmnopqrstuvwxyz" {
            capture.push(&[*byte]);
        }
        assert_eq!(
            capture.render(&Redactor::default()),
            "abcd\n[... 19 bytes omitted ...]\nxyz"
        );
    }

    #[test]
    fn memory_stays_at_the_cap() {
        let mut capture = Capture::new(64, 0);
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
        assert_eq!(
            capture.render(&Redactor::default()),
            "\n[... 5 bytes omitted ...]\n"
        );
    }

    /// A secret longer than `<redacted>`, and a shorter one.
    const LONG_SECRET: &str = "SUPERSECRETVALUE";
    const SHORT_SECRET: &str = "SECRETXYZ";

    /// The redactor for `secrets` and the look-around a capture needs for them.
    fn redactor_for(secrets: &[&str]) -> (Redactor, usize) {
        let mut set = crate::redact::SecretSet::default();
        for secret in secrets {
            set.add(secret);
        }
        let redactor = set.redactor();
        let look = redactor.longest() - 1;
        (redactor, look)
    }

    /// A capture of `stream`, pushed in chunks of `chunk` bytes.
    fn capture_of(stream: &str, cap: u64, look: usize, chunk: usize) -> Capture {
        let mut capture = Capture::new(cap, look);
        for piece in stream.as_bytes().chunks(chunk) {
            capture.push(piece);
        }
        capture
    }

    fn zeros(count: usize) -> String {
        "0".repeat(count)
    }

    #[test]
    fn a_secret_cut_by_the_cap_never_shows_in_part() {
        let (redactor, look) = redactor_for(&[LONG_SECRET, SHORT_SECRET]);
        // Uppercase letters can only come from a secret: the filler is
        // zeros, and `<redacted>` and the omission line are lowercase.
        let check = |stream: &str, cap: u64, chunk: usize| {
            let capture = capture_of(stream, cap, look, chunk);
            let rendered = capture.render(&redactor);
            assert!(
                !rendered.bytes().any(|byte| byte.is_ascii_uppercase()),
                "cap {cap}, chunks of {chunk}, {stream:?}: {rendered:?}"
            );
            // Memory: the cap and the look-around, nothing more.
            assert!(capture.head.len() + capture.tail.len() <= cap as usize + 2 * look);
        };
        // Secrets back to back shrink the tail's text so much that it would
        // reach the first bytes kept before it (the end of a secret cut off).
        for count in 2..6 {
            for after in 0..40 {
                let stream = format!(
                    "{}{}{}",
                    zeros(200),
                    LONG_SECRET.repeat(count),
                    zeros(after)
                );
                check(&stream, 128, 4096);
            }
        }
        for cap in [16, 32, 64] {
            for before in 0..(cap as usize + 40) {
                for after in [0, 3, 20, 40, 200] {
                    for secret in [LONG_SECRET, SHORT_SECRET] {
                        let stream = format!("{}{secret}{}", zeros(before), zeros(after));
                        for chunk in [1, 7, 4096] {
                            check(&stream, cap, chunk);
                        }
                    }
                    // Two secrets: the first one's `<redacted>` is shorter
                    // than it, which pulls later bytes into the cut.
                    for gap in [0, 3, 9, 25] {
                        let stream = format!(
                            "{}{LONG_SECRET}{}{LONG_SECRET}{}",
                            zeros(before),
                            zeros(gap),
                            zeros(after)
                        );
                        check(&stream, cap, 4096);
                    }
                }
            }
        }
    }

    #[test]
    fn the_look_around_changes_nothing_but_the_secrets() {
        let (redactor, look) = redactor_for(&[SHORT_SECRET]);
        // The secret right across the head's cut (at 28 of a 32-byte head).
        let stream = format!("{}{SHORT_SECRET}{}", zeros(28), zeros(100));
        let capture = capture_of(&stream, 64, look, 4096);
        assert_eq!(capture.total(), 28 + 9 + 100);
        assert!(capture.truncated());
        assert_eq!(
            capture.render(&redactor),
            format!(
                "{}<redacted>\n[... 73 bytes omitted ...]\n{}",
                zeros(28),
                zeros(32)
            )
        );
        // The same across the tail's start (4 bytes before the tail's 32).
        let stream = format!("{}{SHORT_SECRET}{}", zeros(100), zeros(28));
        let capture = capture_of(&stream, 64, look, 4096);
        assert_eq!(
            capture.render(&redactor),
            format!(
                "{}\n[... 73 bytes omitted ...]\nted>{}",
                zeros(32),
                zeros(28)
            )
        );
        // A secret longer than `<redacted>` across the cut: the head shows
        // the bytes before it and one whole `<redacted>`, nothing past the cut.
        let (redactor, look) = redactor_for(&[LONG_SECRET]);
        let stream = format!("{}{LONG_SECRET}{}", zeros(28), zeros(100));
        let capture = capture_of(&stream, 64, look, 4096);
        assert_eq!(
            capture.render(&redactor),
            format!(
                "{}<redacted>\n[... 80 bytes omitted ...]\n{}",
                zeros(28),
                zeros(32)
            )
        );
        // Without secrets, the look-around is never shown.
        let capture = capture_of(&zeros(200), 64, look, 4096);
        assert_eq!(
            capture.render(&Redactor::default()),
            format!("{}\n[... 136 bytes omitted ...]\n{}", zeros(32), zeros(32))
        );
        // Short enough to show whole: scrubbed whole.
        let stream = format!("{}{LONG_SECRET}{}", zeros(10), zeros(10));
        let capture = capture_of(&stream, 64, look, 3);
        assert!(!capture.truncated());
        assert_eq!(
            capture.render(&redactor),
            format!("{}<redacted>{}", zeros(10), zeros(10))
        );
    }

    #[test]
    fn cuts_never_leave_half_characters() {
        // "é" is two bytes; the head cut and the tail cut both split one.
        let text = "aé".repeat(10);
        // A cap of 9: a head of 5 bytes ends inside an "é", a tail of 4
        // starts inside one.
        let capture = captured(9, &[text.as_bytes()]);
        let rendered = capture.render(&Redactor::default());
        assert!(!rendered.contains('\u{fffd}'), "{rendered}");
        assert!(rendered.starts_with("aéa\n[..."), "{rendered}");
        assert!(rendered.ends_with("...]\naé"), "{rendered}");
    }

    #[tokio::test]
    async fn reads_until_end_of_file() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let close = CancellationToken::new();
        let reading = tokio::spawn(read_stream(reader, Capture::new(1024, 0), close));
        tokio::io::AsyncWriteExt::write_all(&mut writer, b"hello\n")
            .await
            .unwrap();
        drop(writer);
        let capture = reading.await.unwrap();
        assert_eq!(capture.render(&Redactor::default()), "hello\n");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pipe_held_open_is_closed_on_request() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let close = CancellationToken::new();
        let reading = tokio::spawn(read_stream(reader, Capture::new(1024, 0), close.clone()));
        tokio::io::AsyncWriteExt::write_all(&mut writer, b"partial")
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        close.cancel();
        let capture = reading.await.unwrap();
        assert_eq!(capture.render(&Redactor::default()), "partial");
        drop(writer);
    }
}
