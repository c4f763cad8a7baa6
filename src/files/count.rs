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
pub(crate) const BINARY_PROBE: usize = 8 * 1024;

/// What [`Counter`] found in a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TextCounts {
    /// `wc -c`.
    pub(crate) bytes: u64,
    /// `wc -l`: newline bytes.
    pub(crate) lines: u64,
    /// `wc -m` in a UTF-8 locale.
    pub(crate) chars: u64,
    /// The whole file is strict UTF-8.
    pub(crate) utf8_valid: bool,
    /// A NUL byte in the first [`BINARY_PROBE`] bytes.
    pub(crate) binary: bool,
    /// The last byte is `\n` (false for an empty file).
    pub(crate) trailing_newline: bool,
}

impl TextCounts {
    /// The counts of a file made of `self`'s bytes followed by `next`'s,
    /// when the parts were split at a [`split_offset`].
    pub(crate) fn then(self, next: TextCounts) -> TextCounts {
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
pub(crate) fn split_offset(window: &[u8]) -> usize {
    const LONGEST: usize = 6;
    window
        .iter()
        .take(LONGEST)
        .position(|byte| byte & 0xC0 != 0x80)
        .unwrap_or(LONGEST.min(window.len()))
}

/// Counts a file fed to it one buffer at a time.
#[derive(Debug, Clone)]
pub(crate) struct Counter {
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
    pub(crate) fn new() -> Self {
        Counter {
            bytes: 0,
            lines: 0,
            decoder: Decoder::new(),
            binary: false,
            last_byte: None,
        }
    }

    /// Counts the next bytes of the file.
    pub(crate) fn feed(&mut self, buffer: &[u8]) {
        if let Ok(probed) = usize::try_from(self.bytes)
            && probed < BINARY_PROBE
            && !self.binary
        {
            let head = &buffer[..buffer.len().min(BINARY_PROBE - probed)];
            self.binary = memchr::memchr(0, head).is_some();
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
    pub(crate) fn finish(self) -> TextCounts {
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
    /// Where the automaton stands (see [`TRANSITIONS`]); `GROUND` between
    /// characters.
    state: u8,
}

impl Decoder {
    fn new() -> Self {
        Decoder {
            chars: 0,
            strict: true,
            state: GROUND,
        }
    }

    fn finish(self) -> (u64, bool) {
        // An incomplete sequence at the end is no character.
        (self.chars, self.strict && self.state == GROUND)
    }

    /// Counts one slice, SIMD first, exact decoding where needed.
    fn count(&mut self, slice: &[u8]) {
        // A sequence cut by the previous buffer's end.
        let mut at = 0;
        while self.state != GROUND && at < slice.len() {
            at += 1;
            self.slow(&slice[at - 1..at]);
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
            self.slow(&slice[at..slow_until]);
            at = slow_until;
            while self.state != GROUND && at < slice.len() {
                at += 1;
                self.slow(&slice[at - 1..at]);
            }
        }
        self.slow(slice.get(at..).unwrap_or_default());
    }

    /// The exact path: one table lookup per byte, no branches, so invalid
    /// and binary data cost no mispredictions.
    fn slow(&mut self, bytes: &[u8]) {
        let mut state = self.state;
        let mut chars = 0u64;
        let mut flags = 0u8;
        for &byte in bytes {
            let step = TRANSITIONS[usize::from(state)][usize::from(byte)];
            state = step & STATE_MASK;
            chars += u64::from((step & COUNTS) >> 4);
            flags |= step;
        }
        self.state = state;
        self.chars += chars;
        if flags & NOT_STRICT != 0 {
            self.strict = false;
        }
    }
}

/// The automaton's states: between characters, or inside a sequence.
const GROUND: u8 = 0;
/// Continuation bytes still needed, any value (80..BF).
const NEED_1: u8 = 1;
const NEED_2: u8 = 2;
const NEED_3: u8 = 3;
const NEED_4: u8 = 4;
const NEED_5: u8 = 5;
/// Second bytes that are restricted (the rest would be overlong, a
/// surrogate, or above U+10FFFF for strict UTF-8).
const AFTER_E0: u8 = 6;
const AFTER_ED: u8 = 7;
const AFTER_F0: u8 = 8;
const AFTER_F4: u8 = 9;
const AFTER_F8: u8 = 10;
const AFTER_FC: u8 = 11;
const STATES: usize = 12;

/// A step's byte: the next state, and two flags.
const STATE_MASK: u8 = 0x0F;
/// The byte completed a character.
const COUNTS: u8 = 0x10;
/// The input is not strict UTF-8 (an invalid byte, or a sequence only
/// glibc accepts: 5 or 6 bytes, or above U+10FFFF).
const NOT_STRICT: u8 = 0x20;

/// The step from `GROUND` on a byte that starts something (or is invalid
/// on its own).
const fn from_ground(byte: u8) -> u8 {
    match byte {
        0x00..=0x7F => GROUND | COUNTS,
        0xC2..=0xDF => NEED_1,
        0xE0 => AFTER_E0,
        0xED => AFTER_ED,
        0xE1..=0xEF => NEED_2,
        0xF0 => AFTER_F0,
        0xF1..=0xF3 => NEED_3,
        0xF4 => AFTER_F4,
        0xF5..=0xF7 => NEED_3 | NOT_STRICT,
        0xF8 => AFTER_F8 | NOT_STRICT,
        0xF9..=0xFB => NEED_4 | NOT_STRICT,
        0xFC => AFTER_FC | NOT_STRICT,
        0xFD => NEED_5 | NOT_STRICT,
        // Stray continuation bytes, C0 and C1 (always overlong), FE, FF.
        _ => GROUND | NOT_STRICT,
    }
}

/// `TRANSITIONS[state][byte]`. A byte that breaks a sequence off is looked
/// at again from `GROUND`: that is what `wc` does when it skips the
/// sequence's first byte and retries, since the bytes it then skips are
/// continuation bytes, which start nothing. A continuation byte out of a
/// restricted range is such a byte: it is dropped, and so are the ones
/// after it.
const TRANSITIONS: [[u8; 256]; STATES] = {
    let mut table = [[0u8; 256]; STATES];
    let mut state = 0;
    while state < STATES {
        let mut byte = 0usize;
        while byte < 256 {
            let b = byte as u8;
            let continuation = b & 0xC0 == 0x80;
            let broken = from_ground(b) | NOT_STRICT;
            table[state][byte] = match state as u8 {
                GROUND => from_ground(b),
                _ if !continuation => broken,
                NEED_1 => GROUND | COUNTS,
                NEED_2 => NEED_1,
                NEED_3 => NEED_2,
                NEED_4 => NEED_3,
                NEED_5 => NEED_4,
                AFTER_E0 if b >= 0xA0 => NEED_1,
                AFTER_ED if b <= 0x9F => NEED_1,
                AFTER_F0 if b >= 0x90 => NEED_2,
                AFTER_F4 if b <= 0x8F => NEED_2,
                AFTER_F4 => NEED_2 | NOT_STRICT,
                AFTER_F8 if b >= 0x88 => NEED_3,
                AFTER_FC if b >= 0x84 => NEED_4,
                _ => GROUND | NOT_STRICT,
            };
            byte += 1;
        }
        state += 1;
    }
    table
};

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

/// Counts `data` fed in buffers of `buffer_size` bytes (for tests).
#[cfg(test)]
pub(crate) fn count_bytes(data: &[u8], buffer_size: usize) -> TextCounts {
    let mut counter = Counter::new();
    for buffer in data.chunks(buffer_size.max(1)) {
        counter.feed(buffer);
    }
    counter.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent decoder that computes each code point and checks its
    /// range, as glibc does: the reference for the table-driven one.
    struct Reference {
        chars: u64,
        strict: bool,
        need: u8,
        length: u8,
        value: u32,
        min: u32,
    }

    impl Reference {
        fn count(data: &[u8]) -> (u64, bool) {
            let mut decoder = Reference {
                chars: 0,
                strict: true,
                need: 0,
                length: 0,
                value: 0,
                min: 0,
            };
            for &byte in data {
                decoder.step(byte);
            }
            (decoder.chars, decoder.strict && decoder.need == 0)
        }

        fn step(&mut self, byte: u8) {
            if self.need > 0 {
                if byte & 0xC0 == 0x80 {
                    self.value = (self.value << 6) | u32::from(byte & 0x3F);
                    self.need -= 1;
                    if self.need == 0 {
                        let value = self.value;
                        if value < self.min || (0xD800..=0xDFFF).contains(&value) {
                            self.strict = false;
                        } else {
                            self.chars += 1;
                            if self.length > 4 || value > 0x10_FFFF {
                                self.strict = false;
                            }
                        }
                    }
                    return;
                }
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
    }

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

    /// One byte of every class the decoders tell apart.
    const CLASSES: &[u8] = &[
        b'a', b'\n', 0, 0x80, 0x83, 0x84, 0x87, 0x88, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1,
        0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xF7, 0xF8, 0xF9, 0xFC, 0xFD,
        0xFE, 0xFF,
    ];

    fn check_against_reference(data: &[u8], buffer_sizes: &[usize]) {
        let expected = Reference::count(data);
        let mut table = Decoder::new();
        table.slow(data);
        assert_eq!(
            table.finish(),
            expected,
            "{data:x?} through the table alone"
        );
        for &buffer_size in buffer_sizes {
            let got = count_bytes(data, buffer_size);
            assert_eq!(
                (got.chars, got.utf8_valid),
                expected,
                "{data:x?} in buffers of {buffer_size}"
            );
        }
    }

    /// Every string of up to three bytes from every class, counted whole,
    /// split in every way, and through the table alone, against the
    /// reference decoder.
    #[test]
    fn every_short_string_agrees_with_the_reference() {
        let mut data = Vec::new();
        for length in 0..=3u32 {
            for mut code in 0..(CLASSES.len() as u32).pow(length) {
                data.clear();
                for _ in 0..length {
                    data.push(CLASSES[(code % CLASSES.len() as u32) as usize]);
                    code /= CLASSES.len() as u32;
                }
                check_against_reference(&data, &[1, 2, 64]);
            }
        }
    }

    /// Longer random strings of those classes (5- and 6-byte sequences,
    /// breaks at every position).
    #[test]
    fn random_strings_agree_with_the_reference() {
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..20_000 {
            let length = rng.usize(4..=9);
            let data: Vec<u8> = (0..length)
                .map(|_| CLASSES[rng.usize(..CLASSES.len())])
                .collect();
            check_against_reference(&data, &[1, 4, 64]);
        }
    }

    /// Long inputs cross the SIMD slices and the slow runs after errors.
    /// (Against the reference decoder.)
    #[test]
    fn long_mixed_input_agrees_with_the_reference() {
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
            let expected = Reference::count(&data);
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
