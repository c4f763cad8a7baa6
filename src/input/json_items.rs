//! Splits a byte stream into JSON items: the elements of one top-level
//! array, or one value per non-blank line (NDJSON).
//!
//! A JSON array is split into its elements by a small byte scanner (strings,
//! escapes and nesting aware), so each element is parsed alone, memory holds
//! one element at a time, and errors can name the line where the element
//! starts.

use super::{MAX_ITEM_BYTES, unique_keys};
use crate::error::InputError;
use serde_json::Value;
use std::io::{self, BufRead};

/// Splits a byte stream into JSON items: either the elements of one top-level
/// array, or one value per non-blank line (NDJSON), decided by the first byte.
pub(crate) struct JsonItems<R> {
    reader: R,
    layout: Layout,
    /// 1-based line of the next unread byte.
    line: u64,
    item: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Undecided,
    Lines,
    /// Inside the top-level array; `expect_value` is false right after an element.
    Array {
        expect_value: bool,
        seen_any: bool,
    },
    Done,
}

impl<R: BufRead> JsonItems<R> {
    pub(crate) fn new(reader: R) -> Self {
        JsonItems {
            reader,
            layout: Layout::Undecided,
            line: 1,
            item: Vec::new(),
        }
    }

    /// The next item and the line it starts on; `None` at the end.
    pub(crate) fn next_item(&mut self) -> Option<Result<(u64, Value), InputError>> {
        let result = self.next_inner();
        if matches!(result, Some(Err(_))) {
            self.layout = Layout::Done;
        }
        result
    }

    fn next_inner(&mut self) -> Option<Result<(u64, Value), InputError>> {
        loop {
            match self.layout {
                Layout::Done => return None,
                Layout::Undecided => {
                    let first = match self.skip_whitespace() {
                        Ok(first) => first,
                        Err(error) => return Some(Err(error)),
                    };
                    match first {
                        None => {
                            self.layout = Layout::Done;
                            return None;
                        }
                        Some(b'[') => {
                            self.reader.consume(1);
                            self.layout = Layout::Array {
                                expect_value: true,
                                seen_any: false,
                            };
                        }
                        Some(_) => self.layout = Layout::Lines,
                    }
                }
                Layout::Lines => return self.next_line(),
                Layout::Array { .. } => return self.next_element(),
            }
        }
    }

    /// Skips whitespace (and a UTF-8 byte-order mark) and peeks the next byte.
    fn skip_whitespace(&mut self) -> Result<Option<u8>, InputError> {
        loop {
            let line = self.line;
            let buf = self
                .reader
                .fill_buf()
                .map_err(|error| read_error(error, line))?;
            if buf.is_empty() {
                return Ok(None);
            }
            if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.reader.consume(3);
                continue;
            }
            let mut skipped = 0;
            let mut newlines = 0;
            for &byte in buf {
                match byte {
                    b'\n' => newlines += 1,
                    b' ' | b'\t' | b'\r' => {}
                    _ => break,
                }
                skipped += 1;
            }
            let next = buf.get(skipped).copied();
            self.reader.consume(skipped);
            self.line += newlines;
            if let Some(byte) = next {
                return Ok(Some(byte));
            }
        }
    }

    fn next_line(&mut self) -> Option<Result<(u64, Value), InputError>> {
        loop {
            self.item.clear();
            let start_line = self.line;
            loop {
                let buf = match self.reader.fill_buf() {
                    Ok(buf) => buf,
                    Err(error) => return Some(Err(read_error(error, start_line))),
                };
                if buf.is_empty() {
                    break;
                }
                let (chunk, found_newline) = match memchr::memchr(b'\n', buf) {
                    Some(at) => (&buf[..at], true),
                    None => (buf, false),
                };
                if self.item.len() + chunk.len() > MAX_ITEM_BYTES {
                    return Some(Err(too_large(start_line)));
                }
                self.item.extend_from_slice(chunk);
                let consumed = chunk.len() + usize::from(found_newline);
                self.reader.consume(consumed);
                if found_newline {
                    self.line += 1;
                    break;
                }
            }
            if self.item.iter().all(u8::is_ascii_whitespace) {
                if self.line == start_line {
                    // End of input: nothing was consumed.
                    self.layout = Layout::Done;
                    return None;
                }
                continue;
            }
            return Some(parse_value(&self.item, start_line, true));
        }
    }

    fn next_element(&mut self) -> Option<Result<(u64, Value), InputError>> {
        let Layout::Array {
            expect_value,
            seen_any,
        } = self.layout
        else {
            return None;
        };
        let next = match self.skip_whitespace() {
            Ok(next) => next,
            Err(error) => return Some(Err(error)),
        };
        let line = self.line;
        match (next, expect_value) {
            (None, _) => Some(Err(InputError::new(
                "the JSON array is not closed: expected `]` before the end of the input",
            )
            .at_line(line))),
            (Some(b']'), _) if !expect_value || !seen_any => {
                self.reader.consume(1);
                self.layout = Layout::Done;
                match self.skip_whitespace() {
                    Ok(None) => None,
                    Ok(Some(_)) => Some(Err(InputError::new(
                        "unexpected text after the closing `]` of the JSON array",
                    )
                    .at_line(self.line))),
                    Err(error) => Some(Err(error)),
                }
            }
            (Some(b','), false) => {
                self.reader.consume(1);
                self.layout = Layout::Array {
                    expect_value: true,
                    seen_any,
                };
                self.next_element()
            }
            (Some(_), false) => Some(Err(InputError::new(
                "expected `,` or `]` between array elements",
            )
            .at_line(line))),
            (Some(b']'), true) | (Some(b','), true) => Some(Err(InputError::new(
                "expected a value in the JSON array (trailing or doubled comma?)",
            )
            .at_line(line))),
            (Some(_), true) => {
                let result = self.scan_element();
                self.layout = Layout::Array {
                    expect_value: false,
                    seen_any: true,
                };
                Some(result.and_then(|()| parse_value(&self.item, line, false)))
            }
        }
    }

    /// Copies one array element into `self.item`, stopping before the `,` or
    /// `]` that ends it.
    fn scan_element(&mut self) -> Result<(), InputError> {
        self.item.clear();
        let start_line = self.line;
        let mut depth = 0u32;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let line = self.line;
            let buf = self
                .reader
                .fill_buf()
                .map_err(|error| read_error(error, line))?;
            if buf.is_empty() {
                return Ok(()); // parse_value reports the truncated element
            }
            let mut end = None;
            let mut newlines = 0;
            for (at, &byte) in buf.iter().enumerate() {
                if byte == b'\n' {
                    newlines += 1;
                }
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if byte == b'\\' {
                        escaped = true;
                    } else if byte == b'"' {
                        in_string = false;
                    }
                    continue;
                }
                match byte {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => depth -= 1,
                    b',' | b']' if depth == 0 => {
                        end = Some(at);
                        break;
                    }
                    _ => {}
                }
            }
            let taken = end.unwrap_or(buf.len());
            if self.item.len() + taken > MAX_ITEM_BYTES {
                return Err(too_large(start_line));
            }
            self.item.extend_from_slice(&buf[..taken]);
            self.reader.consume(taken);
            self.line += newlines;
            if end.is_some() {
                return Ok(());
            }
        }
    }
}

fn parse_value(bytes: &[u8], start_line: u64, ndjson: bool) -> Result<(u64, Value), InputError> {
    unique_keys::from_slice(bytes)
        .map(|value| (start_line, value))
        .map_err(|(error, duplicate)| {
            let line = start_line + error.line().saturating_sub(1) as u64;
            if let Some(field) = duplicate {
                return InputError::new(format!(
                    "`{field}` is given twice in one object; give each field once"
                ))
                .at_line(line)
                .with_field(field);
            }
            let mut message = format!("invalid JSON: {error}");
            if ndjson && error.is_eof() {
                message.push_str(
                    " (NDJSON needs one complete value per line; for multi-line items use a JSON array)",
                );
            }
            InputError::new(message).at_line(line)
        })
}

fn read_error(error: io::Error, line: u64) -> InputError {
    InputError::new(format!("cannot read the input: {error}")).at_line(line)
}

fn too_large(line: u64) -> InputError {
    InputError::new(format!("item is larger than {} MiB", MAX_ITEM_BYTES >> 20)).at_line(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(text: &str) -> Vec<Result<(u64, Value), InputError>> {
        let mut reader = JsonItems::new(text.as_bytes());
        std::iter::from_fn(|| reader.next_item()).collect()
    }

    fn values(text: &str) -> Vec<(u64, Value)> {
        items(text).into_iter().map(|item| item.unwrap()).collect()
    }

    #[test]
    fn ndjson_skips_blank_lines_and_keeps_line_numbers() {
        let got = values("{\"a\":1}\n\n  \n{\"a\":2}\r\n\"x\"\n");
        assert_eq!(
            got,
            vec![(1, json!({"a":1})), (4, json!({"a":2})), (5, json!("x"))]
        );
    }

    #[test]
    fn array_elements_carry_their_start_line() {
        let text =
            "\u{feff}[\n  {\"url\": \"a,]\\\"\"},\n  \"b\",\n  {\"n\": [1, {\"x\": 2}]}\n]\n";
        let got = values(text);
        assert_eq!(
            got,
            vec![
                (2, json!({"url": "a,]\""})),
                (3, json!("b")),
                (4, json!({"n": [1, {"x": 2}]})),
            ]
        );
        assert!(values("[]").is_empty());
        assert!(values("   ").is_empty());
    }

    #[test]
    fn broken_input_names_the_line() {
        let error = items("{\"a\":1}\n{\"a\":\n").pop().unwrap().unwrap_err();
        assert_eq!(error.line, Some(2));
        assert!(error.message.contains("NDJSON"), "{}", error.message);

        let error = items("[\n{\"a\":1},\n{\"a\" 2}\n]")
            .pop()
            .unwrap()
            .unwrap_err();
        assert_eq!(error.line, Some(3));

        for bad in ["[1,]", "[1 2]", "[1", "[1] x", "[,1]"] {
            let last = items(bad).pop().unwrap();
            assert!(last.is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn an_error_ends_the_stream() {
        let got = items("nope\n{\"a\":1}\n");
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
    }
}
