//! Counting bytes, lines and characters exactly as GNU `wc -c`, `wc -l` and
//! `wc -m` (in a UTF-8 locale) do, on a stream of buffers of any size.
//!
//! `wc -l` counts `\n` bytes, `wc -c` bytes. `wc -m` decodes with glibc's
//! `mbrtowc`, which counts a character for every complete, well-formed
//! sequence and skips bytes that are not one, one at a time. glibc's UTF-8
//! is the original ISO 10646 one: sequences of up to six bytes and code
//! points up to U+7FFFFFFF (so `F4 90 80 80`, above U+10FFFF, is one
//! character), but no overlong forms and no surrogates (`ED A0 80`). NUL is
//! a character; an incomplete sequence at the end of the file is not.
//!
//! Speed: each buffer is validated with `simdutf8` and, when it is valid
//! (nearly always), its characters are the bytes that are not continuation
//! bytes (a SIMD count by `bytecount`); newlines are a SIMD count too. Only
//! around invalid bytes, and for sequences cut by a buffer boundary, does
//! an exact byte-at-a-time decoder run; it carries its state from one
//! buffer to the next, so a character split across reads counts once.
//!
//! `utf8_valid` is strict UTF-8 (RFC 3629, what Rust, Python and JSON
//! accept), which is narrower than what glibc counts.

/// Buffers are counted in slices of this size, so that validation and the
/// two counts read the same bytes from the L1 cache.
const SLICE: usize = 32 * 1024;

/// After an invalid byte, decode at least this many bytes the slow way
/// before trying the SIMD path again: binary data is full of invalid
/// bytes, and restarting the validator after each one would cost more.
const SLOW_RUN: usize = 256;

/// `binary` looks for a NUL byte in this many leading bytes.
pub const BINARY_PROBE: usize = 8 * 1024;

/// What [`Counter`] found in a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextCounts {
    /// `wc -c`.
    pub bytes: u64,
    /// `wc -l`: newline bytes.
    pub lines: u64,
    /// `wc -m` in a UTF-8 locale.
    pub chars: u64,
    /// The whole file is strict UTF-8.
    pub utf8_valid: bool,
    /// A NUL byte in the first [`BINARY_PROBE`] bytes.
    pub binary: bool,
    /// The last byte is `\n` (false for an empty file).
    pub trailing_newline: bool,
}

impl TextCounts {
    /// The counts of a file made of `self`'s bytes followed by `next`'s,
    /// when the parts were split at a [`split_offset`].
    pub fn then(self, next: TextCounts) -> TextCounts {
        let probed_first = self.bytes >= BINARY_PROBE as u64;
        TextCounts {
            bytes: self.bytes + next.bytes,
            lines: self.lines + next.lines,
            chars: self.chars + next.chars,
            utf8_valid: self.utf8_valid && next.utf8_valid,
            binary: self.binary || (!probed_first && next.binary),
            trailing_newline: if next.bytes > 0 {
                next.trailing_newline
            } else {
                self.trailing_newline
            },
        }
    }
}

/// Where to split a file near a position so that its two parts, counted
/// apart and joined with [`TextCounts::then`], count exactly as the whole:
/// `window` holds the bytes from that position on (8 are enough), and the
/// answer is how far into them the second part starts.
///
/// A byte that is not a continuation byte starts afresh whatever came
/// before it (an unfinished sequence before it is dropped in both
/// countings), and so does any byte six or more bytes past the last such
/// byte (no sequence is longer than six bytes).
pub fn split_offset(window: &[u8]) -> usize {
    const LONGEST: usize = 6;
    window
        .iter()
        .take(LONGEST)
        .position(|byte| byte & 0xC0 != 0x80)
        .unwrap_or(LONGEST.min(window.len()))
}

/// Counts a file fed to it one buffer at a time.
#[derive(Debug, Clone)]
pub struct Counter {
    bytes: u64,
    lines: u64,
    decoder: Decoder,
    binary: bool,
    last_byte: Option<u8>,
}

impl Default for Counter {
    fn default() -> Self {
        Counter::new()
    }
}

impl Counter {
    pub fn new() -> Self {
        Counter {
            bytes: 0,
            lines: 0,
            decoder: Decoder::new(),
            binary: false,
            last_byte: None,
        }
    }

    /// Counts the next bytes of the file.
    pub fn feed(&mut self, buffer: &[u8]) {
        if let Ok(probed) = usize::try_from(self.bytes) {
            if probed < BINARY_PROBE && !self.binary {
                let head = &buffer[..buffer.len().min(BINARY_PROBE - probed)];
                self.binary = memchr::memchr(0, head).is_some();
            }
        }
        if let Some(&last) = buffer.last() {
            self.last_byte = Some(last);
        }
        self.bytes += buffer.len() as u64;
        for slice in buffer.chunks(SLICE) {
            self.lines += bytecount::count(slice, b'\n') as u64;
            self.decoder.count(slice);
        }
    }

    /// The counts of everything fed.
    pub fn finish(self) -> TextCounts {
        let (chars, utf8_valid) = self.decoder.finish();
        TextCounts {
            bytes: self.bytes,
            lines: self.lines,
            chars,
            utf8_valid,
            binary: self.binary,
            trailing_newline: self.last_byte == Some(b'\n'),
        }
    }
}

/// Counts characters the way glibc's UTF-8 `mbrtowc` does, and checks
/// strict UTF-8 on the way.
#[derive(Debug, Clone)]
struct Decoder {
    chars: u64,
    strict: bool,
    /// Continuation bytes still expected by the sequence in progress.
    need: u8,
    /// Bytes of the sequence in progress, lead included.
    length: u8,
    value: u32,
    /// The smallest code point the sequence's length may encode (smaller is
    /// an overlong form).
    min: u32,
}

impl Decoder {
    fn new() -> Self {
        Decoder {
            chars: 0,
            strict: true,
            need: 0,
            length: 0,
            value: 0,
            min: 0,
        }
    }

    fn finish(self) -> (u64, bool) {
        // An incomplete sequence at the end is no character.
        (self.chars, self.strict && self.need == 0)
    }

    /// Counts one slice, SIMD first, exact decoding where needed.
    fn count(&mut self, slice: &[u8]) {
        let mut at = 0;
        // A sequence cut by the previous buffer's end.
        while self.need > 0 && at < slice.len() {
            self.step(slice[at]);
            at += 1;
        }
        // A character cut by this slice's end goes to the exact decoder, so
        // that the fast check sees whole characters only.
        let end = slice.len() - cut_character(&slice[at..]);
        // The fastest check first; once a slice is known to hold invalid
        // bytes, the check that stops at the first error (the fast one
        // reads to the end before it answers).
        let mut clean_so_far = true;
        while at < end {
            let rest = &slice[at..end];
            if clean_so_far && simdutf8::basic::from_utf8(rest).is_ok() {
                self.chars += bytecount::num_chars(rest) as u64;
                at = end;
                break;
            }
            clean_so_far = false;
            let valid = match simdutf8::compat::from_utf8(rest) {
                Ok(_) => rest.len(),
                Err(error) => error.valid_up_to(),
            };
            self.chars += bytecount::num_chars(&rest[..valid]) as u64;
            at += valid;
            let slow_until = (at + SLOW_RUN).min(end);
            while at < slice.len() && (at < slow_until || self.need > 0) {
                self.step(slice[at]);
                at += 1;
            }
        }
        for &byte in slice.get(at..).unwrap_or_default() {
            self.step(byte);
        }
    }

    #[cfg(test)]
    fn slow(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.step(byte);
        }
    }

    /// Decodes one byte.
    #[inline]
    fn step(&mut self, byte: u8) {
        if self.need > 0 {
            if byte & 0xC0 == 0x80 {
                self.value = (self.value << 6) | u32::from(byte & 0x3F);
                self.need -= 1;
                if self.need == 0 {
                    self.complete();
                }
                return;
            }
            // The sequence broke off: its bytes are no character, and this
            // byte starts afresh (what `wc` does by skipping one byte and
            // retrying: the skipped ones are continuation bytes).
            self.need = 0;
            self.strict = false;
        }
        let (need, value, min) = match byte {
            0x00..=0x7F => {
                self.chars += 1;
                return;
            }
            0xC0..=0xDF => (1, u32::from(byte & 0x1F), 0x80),
            0xE0..=0xEF => (2, u32::from(byte & 0x0F), 0x800),
            0xF0..=0xF7 => (3, u32::from(byte & 0x07), 0x1_0000),
            0xF8..=0xFB => (4, u32::from(byte & 0x03), 0x20_0000),
            0xFC..=0xFD => (5, u32::from(byte & 0x01), 0x400_0000),
            // A stray continuation byte, 0xFE or 0xFF.
            _ => {
                self.strict = false;
                return;
            }
        };
        self.need = need;
        self.length = need + 1;
        self.value = value;
        self.min = min;
    }

    fn complete(&mut self) {
        let value = self.value;
        if value < self.min || (0xD800..=0xDFFF).contains(&value) {
            self.strict = false;
            return;
        }
        self.chars += 1;
        if self.length > 4 || value > 0x10_FFFF {
            self.strict = false;
        }
    }
}

/// How many bytes at the end of `bytes` are the start of a (strict UTF-8)
/// character that continues past it.
fn cut_character(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(4) {
        let byte = bytes[bytes.len() - back];
        if byte & 0xC0 != 0x80 {
            let length = match byte {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            return if length > back { back } else { 0 };
        }
    }
    0
}

/// Counts `data` fed in buffers of `buffer_size` bytes (tests and callers
/// that hold the bytes already).
pub fn count_bytes(data: &[u8], buffer_size: usize) -> TextCounts {
    let mut counter = Counter::new();
    for buffer in data.chunks(buffer_size.max(1)) {
        counter.feed(buffer);
    }
    counter.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers `LC_ALL=C.UTF-8 wc -lmc` prints (checked on GNU
    /// coreutils 9.1 with glibc 2.36), with strict validity.
    const CASES: &[(&[u8], u64, u64, bool)] = &[
        // (bytes, lines, chars, utf8_valid)
        (b"", 0, 0, true),
        (b"no newline", 0, 10, true),
        (b"a\r\nb\r\n", 2, 6, true),
        (b"a\nb", 1, 3, true),
        (b"a\xffb", 0, 2, false),
        (b"\xe2\x82", 0, 0, false),
        (b"a\xe2\x82", 0, 1, false),
        (b"\xe2\x82a", 0, 1, false),
        (b"\xc0\x80", 0, 0, false),
        (b"\xc1\xbf", 0, 0, false),
        (b"\xc2\x80", 0, 1, true),
        (b"\xe0\x80\x80", 0, 0, false),
        (b"\xe0\x9f\xbf", 0, 0, false),
        (b"\xe0\xa0\x80", 0, 1, true),
        (b"\xed\x9f\xbf", 0, 1, true),
        (b"\xed\xa0\x80", 0, 0, false),
        (b"\xed\xbf\xbf", 0, 0, false),
        (b"\xef\xbf\xbe", 0, 1, true),
        (b"\xef\xbb\xbf", 0, 1, true),
        (b"\xf0\x8f\xbf\xbf", 0, 0, false),
        (b"\xf0\x90\x80\x80", 0, 1, true),
        (b"\xf0\x9f\x98\x80", 0, 1, true),
        (b"\xf0\x9f\x98", 0, 0, false),
        (b"\xf0\x9f\x98\n", 1, 1, false),
        (b"\xf4\x8f\xbf\xbf", 0, 1, true),
        (b"\xf4\x90\x80\x80", 0, 1, false),
        (b"\xf7\xbf\xbf\xbf", 0, 1, false),
        (b"\xf8\x80\x80\x80\x80", 0, 0, false),
        (b"\xf8\x87\xbf\xbf\xbf", 0, 0, false),
        (b"\xf8\x88\x80\x80\x80", 0, 1, false),
        (b"\xf8\x88\x80\x80", 0, 0, false),
        (b"\xf8\x88\x80\x80A", 0, 1, false),
        (b"\xfc\x80\x80\x80\x80\x80", 0, 0, false),
        (b"\xfc\x83\xbf\xbf\xbf\xbf", 0, 0, false),
        (b"\xfc\x84\x80\x80\x80\x80", 0, 1, false),
        (b"\xfd\xbf\xbf\xbf\xbf\xbf", 0, 1, false),
        (b"\xfe", 0, 0, false),
        (b"\xff", 0, 0, false),
        (b"\xfe\xbf\xbf\xbf\xbf\xbf\xbf", 0, 0, false),
        (b"\x80\x80", 0, 0, false),
        (b"\xc3", 0, 0, false),
        (b"\xe2\x82\xe2\x82\xac", 0, 1, false),
        (b"a\0b", 0, 3, true),
        (b"h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac\n", 1, 14, true),
    ];

    #[test]
    fn matches_gnu_wc_on_every_awkward_case_at_every_buffer_size() {
        for &(data, lines, chars, valid) in CASES {
            for buffer_size in [1, 2, 3, 4, 5, 7, 64 * 1024] {
                let got = count_bytes(data, buffer_size);
                let shown = format!("{data:x?} in buffers of {buffer_size}");
                assert_eq!(got.bytes, data.len() as u64, "bytes of {shown}");
                assert_eq!(got.lines, lines, "lines of {shown}");
                assert_eq!(got.chars, chars, "chars of {shown}");
                assert_eq!(got.utf8_valid, valid, "utf8_valid of {shown}");
                assert_eq!(got.trailing_newline, data.last() == Some(&b'\n'), "{shown}");
            }
        }
    }

    #[test]
    fn utf8_validity_agrees_with_the_standard_library() {
        for &(data, ..) in CASES {
            assert_eq!(
                count_bytes(data, 3).utf8_valid,
                std::str::from_utf8(data).is_ok(),
                "{data:x?}"
            );
        }
    }

    /// Every byte string made of interesting bytes, up to length 4, counted
    /// in one buffer and byte by byte, against the plain decoder.
    #[test]
    fn fast_path_and_buffer_splits_agree_with_the_plain_decoder() {
        let alphabet: &[u8] = &[
            b'a', b'\n', 0, 0x80, 0xBF, 0xC2, 0xC0, 0xE0, 0xED, 0xA0, 0xF0, 0xF4, 0x90, 0xF8, 0xFC,
            0xFE,
        ];
        let mut data = Vec::new();
        for length in 0..=4u32 {
            for mut code in 0..(alphabet.len() as u32).pow(length) {
                data.clear();
                for _ in 0..length {
                    data.push(alphabet[(code % alphabet.len() as u32) as usize]);
                    code /= alphabet.len() as u32;
                }
                let mut plain = Decoder::new();
                plain.slow(&data);
                let expected = plain.finish();
                for buffer_size in [1, 2, 3, 64] {
                    let got = count_bytes(&data, buffer_size);
                    assert_eq!(
                        (got.chars, got.utf8_valid),
                        expected,
                        "{data:x?} in buffers of {buffer_size}"
                    );
                }
            }
        }
    }

    /// Long inputs cross the SIMD slices and the slow runs after errors.
    #[test]
    fn long_mixed_input_agrees_with_the_plain_decoder() {
        let mut rng = fastrand::Rng::with_seed(7);
        let pieces: &[&[u8]] = &[
            b"plain ascii text ",
            "h\u{e9}llo \u{20ac} \u{1f600}\n".as_bytes(),
            b"\xff",
            b"\xe2\x82",
            b"\xf4\x90\x80\x80",
            b"\0",
            b"\r\n",
        ];
        for round in 0..8 {
            let mut data = Vec::new();
            while data.len() < 40_000 {
                let weight = if round % 2 == 0 { 40 } else { 4 };
                let piece = if rng.usize(..weight) < pieces.len() {
                    pieces[rng.usize(..pieces.len())]
                } else {
                    pieces[1]
                };
                data.extend_from_slice(piece);
            }
            let mut plain = Decoder::new();
            plain.slow(&data);
            let expected = plain.finish();
            for buffer_size in [7, 4096, SLICE + 1, 1 << 20] {
                let got = count_bytes(&data, buffer_size);
                assert_eq!((got.chars, got.utf8_valid), expected, "round {round}");
                assert_eq!(
                    got.lines,
                    data.iter().filter(|&&b| b == b'\n').count() as u64
                );
            }
        }
    }

    /// Counting in two parts split at `split_offset` equals counting whole,
    /// for every awkward case, every nominal split and every buffer size.
    #[test]
    fn parts_split_safely_join_to_the_whole() {
        let mut inputs: Vec<Vec<u8>> = CASES.iter().map(|case| case.0.to_vec()).collect();
        inputs.push(b"ab\x80\x80\x80\x80\x80\x80\x80\x80cd".to_vec());
        inputs.push(b"\xfc\x84\x80\x80\x80\x80\xfc\x84\x80\x80\x80\x80x".to_vec());
        let mut rng = fastrand::Rng::with_seed(11);
        let alphabet: &[u8] = &[
            b'a', b'\n', 0x80, 0xBF, 0xC3, 0xE2, 0xF0, 0xF4, 0x90, 0xFC, 0xED,
        ];
        for _ in 0..300 {
            let length = rng.usize(0..40);
            inputs.push(
                (0..length)
                    .map(|_| alphabet[rng.usize(..alphabet.len())])
                    .collect(),
            );
        }
        for data in &inputs {
            let whole = count_bytes(data, 1 << 16);
            for nominal in 0..=data.len() {
                let split = nominal + split_offset(&data[nominal..]);
                let (first, second) = data.split_at(split);
                for buffer_size in [1, 3, 1 << 16] {
                    let joined =
                        count_bytes(first, buffer_size).then(count_bytes(second, buffer_size));
                    assert_eq!(joined, whole, "{data:x?} split at {split}");
                }
            }
        }
    }

    #[test]
    fn binary_means_a_nul_in_the_first_8_kib() {
        let mut data = vec![b'a'; BINARY_PROBE];
        assert!(!count_bytes(&data, 1000).binary);
        data.push(0);
        assert!(!count_bytes(&data, 1000).binary, "a NUL past 8 KiB");
        data[BINARY_PROBE - 1] = 0;
        assert!(count_bytes(&data, 1000).binary);
        assert!(count_bytes(&data, 3).binary);
    }
}
