//! The text a result may carry (`--content`, `--head N`, `--tail N`),
//! captured while the file streams past, in memory bounded by
//! `--max-content` whatever the size of the file or of its lines.
//!
//! - all: the first `max` bytes.
//! - head: the first N lines, at most `max` bytes.
//! - tail: the last N lines, at most `max` bytes (the end is kept). Only a
//!   window of the last `max` bytes is ever held (compacted when it reaches
//!   twice that); the lines are found in it at the end.
//!
//! A cut never splits a character: the text is shortened to the nearest
//! character boundary and marked `truncated`.

/// Which part of the file to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    All,
    Head(u64),
    Tail(u64),
}

/// The captured text, before it is known whether the file is text at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Captured {
    pub(crate) bytes: Vec<u8>,
    pub(crate) truncated: bool,
}

impl Captured {
    /// The text, when the captured bytes are UTF-8 (a cut at the end may
    /// have split the last character: it is dropped).
    pub(crate) fn into_text(self) -> Option<(String, bool)> {
        let Captured {
            mut bytes,
            truncated,
        } = self;
        if let Err(error) = std::str::from_utf8(&bytes) {
            if error.error_len().is_some() || !truncated {
                return None;
            }
            bytes.truncate(error.valid_up_to());
        }
        String::from_utf8(bytes).ok().map(|text| (text, truncated))
    }
}

/// Keeps the selected part of a stream fed to it in buffers.
#[derive(Debug)]
pub(crate) struct Capture {
    selection: Selection,
    max: usize,
    kept: Vec<u8>,
    /// Lines still wanted (head).
    lines_left: u64,
    /// Nothing more will be kept (head and all).
    done: bool,
    truncated: bool,
    /// Bytes seen in all (tail: whether the window holds the whole file).
    seen: u64,
}

impl Capture {
    pub(crate) fn new(selection: Selection, max: usize) -> Self {
        let lines_left = match selection {
            Selection::Head(lines) => lines,
            _ => 0,
        };
        Capture {
            selection,
            max,
            kept: Vec::new(),
            lines_left,
            done: matches!(selection, Selection::Head(0)),
            truncated: false,
            seen: 0,
        }
    }

    pub(crate) fn feed(&mut self, buffer: &[u8]) {
        self.seen += buffer.len() as u64;
        if self.done || buffer.is_empty() {
            return;
        }
        match self.selection {
            Selection::All => self.keep_prefix(buffer),
            Selection::Head(_) => {
                let mut end = buffer.len();
                for (found, at) in memchr::memchr_iter(b'\n', buffer).enumerate() {
                    if found as u64 + 1 == self.lines_left {
                        end = at + 1;
                        break;
                    }
                }
                let newlines = memchr::memchr_iter(b'\n', &buffer[..end]).count() as u64;
                self.lines_left -= newlines.min(self.lines_left);
                self.keep_prefix(&buffer[..end]);
                if self.lines_left == 0 {
                    self.done = true;
                }
            }
            Selection::Tail(_) => {
                let tail = &buffer[buffer.len().saturating_sub(self.max)..];
                self.kept.extend_from_slice(tail);
                if self.kept.len() >= self.max.saturating_mul(2).max(1) {
                    let excess = self.kept.len() - self.max;
                    self.kept.drain(..excess);
                }
            }
        }
    }

    /// Appends up to the cap; past it, marks the capture truncated.
    fn keep_prefix(&mut self, bytes: &[u8]) {
        let room = self.max - self.kept.len();
        if bytes.len() > room {
            self.kept.extend_from_slice(&bytes[..room]);
            self.truncated = true;
            self.done = true;
        } else {
            self.kept.extend_from_slice(bytes);
        }
    }

    pub(crate) fn finish(self) -> Captured {
        if let Selection::Tail(lines) = self.selection {
            let window_start = self.kept.len().saturating_sub(self.max);
            let window = &self.kept[window_start..];
            let whole_file = window.len() as u64 == self.seen;
            let (start, cut) = tail_start(window, lines, whole_file);
            let mut start = start;
            if cut {
                // Do not begin inside a character.
                while window.get(start).is_some_and(|byte| byte & 0xC0 == 0x80) {
                    start += 1;
                }
            }
            return Captured {
                bytes: window[start..].to_vec(),
                truncated: cut,
            };
        }
        Captured {
            bytes: self.kept,
            truncated: self.truncated,
        }
    }
}

/// Where the last `lines` lines begin in `window`, and whether the window
/// had to cut them (it does not reach back far enough).
fn tail_start(window: &[u8], lines: u64, whole_file: bool) -> (usize, bool) {
    if lines == 0 {
        return (window.len(), false);
    }
    // A final newline ends the last line; it does not start another one.
    let mut end = match window.last() {
        Some(b'\n') => window.len() - 1,
        _ => window.len(),
    };
    let mut found = 0;
    while let Some(at) = memchr::memrchr(b'\n', &window[..end]) {
        found += 1;
        if found == lines {
            return (at + 1, false);
        }
        end = at;
    }
    (0, !whole_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(data: &[u8], selection: Selection, max: usize, buffer: usize) -> Captured {
        let mut capture = Capture::new(selection, max);
        for chunk in data.chunks(buffer.max(1)) {
            capture.feed(chunk);
        }
        capture.finish()
    }

    fn text(data: &str, selection: Selection, max: usize) -> (String, bool) {
        let mut seen = None;
        for buffer in [1, 2, 5, 1 << 16] {
            let got = capture(data.as_bytes(), selection, max, buffer)
                .into_text()
                .unwrap();
            if let Some(previous) = &seen {
                assert_eq!(previous, &got, "buffer size {buffer} disagrees");
            }
            seen = Some(got);
        }
        seen.unwrap()
    }

    #[test]
    fn all_is_capped_at_a_character_boundary() {
        assert_eq!(text("hello", Selection::All, 100), ("hello".into(), false));
        assert_eq!(text("hello", Selection::All, 5), ("hello".into(), false));
        assert_eq!(text("hello", Selection::All, 3), ("hel".into(), true));
        // "é" is two bytes: a cap of 2 after "a" would split it.
        assert_eq!(text("aé", Selection::All, 2), ("a".into(), true));
        assert_eq!(text("", Selection::All, 0), (String::new(), false));
        assert_eq!(text("x", Selection::All, 0), (String::new(), true));
    }

    #[test]
    fn head_takes_the_first_lines() {
        let data = "one\ntwo\nthree\nfour";
        assert_eq!(
            text(data, Selection::Head(2), 100),
            ("one\ntwo\n".into(), false)
        );
        assert_eq!(text(data, Selection::Head(4), 100), (data.into(), false));
        assert_eq!(text(data, Selection::Head(9), 100), (data.into(), false));
        assert_eq!(text(data, Selection::Head(0), 100), (String::new(), false));
        assert_eq!(text(data, Selection::Head(2), 6), ("one\ntw".into(), true));
    }

    #[test]
    fn tail_takes_the_last_lines() {
        let data = "one\ntwo\nthree\nfour\n";
        assert_eq!(
            text(data, Selection::Tail(2), 100),
            ("three\nfour\n".into(), false)
        );
        assert_eq!(text(data, Selection::Tail(4), 100), (data.into(), false));
        assert_eq!(text(data, Selection::Tail(9), 100), (data.into(), false));
        assert_eq!(text(data, Selection::Tail(0), 100), (String::new(), false));
        assert_eq!(text("a\nb", Selection::Tail(1), 100), ("b".into(), false));
        assert_eq!(
            text("a\nb", Selection::Tail(2), 100),
            ("a\nb".into(), false)
        );
        // Capped: the end is kept, the start of the first line cut.
        assert_eq!(
            text(data, Selection::Tail(2), 8),
            ("ee\nfour\n".into(), true)
        );
        assert_eq!(text(data, Selection::Tail(9), 5), ("four\n".into(), true));
        assert_eq!(
            text("\u{e9}\u{e9}\u{e9}", Selection::Tail(1), 3),
            ("\u{e9}".into(), true)
        );
    }

    #[test]
    fn tail_memory_stays_bounded_on_a_long_stream() {
        let mut capture = Capture::new(Selection::Tail(3), 100);
        let line = b"0123456789\n";
        for _ in 0..100_000 {
            capture.feed(line);
            assert!(capture.kept.len() < 200 + line.len());
        }
        let got = capture.finish().into_text().unwrap();
        assert_eq!(got.0, "0123456789\n".repeat(3));
        assert!(!got.1);
    }

    #[test]
    fn invalid_utf8_has_no_text() {
        let got = capture(b"ab\xffcd", Selection::All, 100, 3);
        assert_eq!(got.into_text(), None);
    }
}
