//! Splits a byte stream into items: the elements of one top-level JSON
//! array, one JSON value per non-blank line (NDJSON), or one plain text per
//! line (a list of URLs, commands or paths, as `wget -i`, `xargs` and GNU
//! parallel read them; `#` starts a comment line). `--input-format auto`
//! decides by the first byte that is not blank: `[`, `{` or `"` is JSON.
//!
//! A JSON array is split into its elements by a small byte scanner (strings,
//! escapes and nesting aware), so each element is parsed alone, memory holds
//! one element at a time, and errors can name the line where the element
//! starts.

use super::{InputFormat, MAX_ITEM_BYTES, unique_keys};
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
    Undecided(InputFormat),
    /// NDJSON: one JSON value per non-blank line.
    Lines,
    /// One plain text item per non-blank, non-comment line.
    Plain,
    /// Inside the top-level array; `expect_value` is false right after an element.
    Array {
        expect_value: bool,
        seen_any: bool,
    },
    Done,
}

impl<R: BufRead> JsonItems<R> {
    pub(crate) fn new(reader: R, format: InputFormat) -> Self {
        JsonItems {
            reader,
            layout: match format {
                InputFormat::Ndjson => Layout::Lines,
                InputFormat::Lines => Layout::Plain,
                auto_or_json => Layout::Undecided(auto_or_json),
            },
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
                Layout::Undecided(format) => {
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
                        Some(b'{' | b'"') => self.layout = Layout::Lines,
                        Some(_) if format == InputFormat::Json => self.layout = Layout::Lines,
                        Some(_) => self.layout = Layout::Plain,
                    }
                }
                Layout::Lines => return self.next_line(),
                Layout::Plain => return self.next_plain(),
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
            let line = match self.read_line()? {
                Ok(line) => line,
                Err(error) => return Some(Err(error)),
            };
            if self.item.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(parse_value(&self.item, line, true));
        }
    }

    /// Reads one line into `self.item` (without its `\n`) and returns the
    /// line's number; `None` at the end of the input.
    fn read_line(&mut self) -> Option<Result<u64, InputError>> {
        self.item.clear();
        let start_line = self.line;
        let mut consumed_any = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(error) => return Some(Err(read_error(error, start_line))),
            };
            if buf.is_empty() {
                break;
            }
            consumed_any = true;
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
        consumed_any.then_some(Ok(start_line))
    }

    fn next_plain(&mut self) -> Option<Result<(u64, Value), InputError>> {
        loop {
            let line = match self.read_line()? {
                Ok(line) => line,
                Err(error) => return Some(Err(error)),
            };
            let mut text: &[u8] = &self.item;
            if line == 1 {
                text = text.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(text);
            }
            let text = text.trim_ascii();
            if text.is_empty() || text.starts_with(b"#") {
                continue;
            }
            return Some(match std::str::from_utf8(text) {
                Ok(text) => Ok((line, Value::String(text.to_string()))),
                Err(_) => Err(InputError::new("the line is not UTF-8 text").at_line(line)),
            });
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
        let mut reader = JsonItems::new(text.as_bytes(), InputFormat::Auto);
        std::iter::from_fn(|| reader.next_item()).collect()
    }

    fn values(text: &str) -> Vec<(u64, Value)> {
        items(text).into_iter().map(|item| item.unwrap()).collect()
    }

    fn read_as(text: &[u8], format: InputFormat) -> Vec<Result<(u64, Value), InputError>> {
        let mut reader = JsonItems::new(text, format);
        std::iter::from_fn(|| reader.next_item()).collect()
    }

    #[test]
    fn plain_lines_are_items_with_comments_and_blanks_skipped() {
        let text = "\u{feff}# urls to check\nhttps://a.example/x\r\n\n   \n  echo 'hi there'  \n#https://skipped\nlast-without-newline";
        let got: Vec<_> = values(text);
        assert_eq!(
            got,
            vec![
                (2, json!("https://a.example/x")),
                (5, json!("echo 'hi there'")),
                (7, json!("last-without-newline")),
            ]
        );
        let only_comments = values("# nothing\n\n#\n");
        assert!(only_comments.is_empty());
    }

    #[test]
    fn auto_reads_json_by_its_first_byte_and_the_rest_as_lines() {
        for json_first in ["[\"a\"]", "{\"url\":\"a\"}", "\"a\""] {
            let got = values(json_first);
            assert_eq!(got.len(), 1, "{json_first}");
            assert_ne!(got[0].1, json!(json_first), "parsed as JSON: {json_first}");
        }
        // A list whose first line is a URL is lines, even if a later line
        // looks like JSON.
        assert_eq!(
            values("a.txt\n{\"x\":1}\n"),
            vec![(1, json!("a.txt")), (2, json!("{\"x\":1}"))]
        );
    }

    #[test]
    fn a_format_given_is_kept_whatever_the_first_byte() {
        let lines = read_as(b"[not json]\n", InputFormat::Lines);
        assert_eq!(lines[0].as_ref().unwrap().1, json!("[not json]"));
        let ndjson = read_as(b"[1, 2]\n[3]\n", InputFormat::Ndjson);
        assert_eq!(ndjson.len(), 2);
        assert_eq!(ndjson[1].as_ref().unwrap(), &(2, json!([3])));
        let json = read_as(b"https://a\n", InputFormat::Json);
        assert!(json[0].is_err(), "json means JSON");
        let not_utf8 = read_as(b"ok\n\xff\xfe\n", InputFormat::Lines);
        assert_eq!(not_utf8[1].as_ref().unwrap_err().line, Some(2));
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
        let got = read_as(b"nope\n{\"a\":1}\n", InputFormat::Json);
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
    }
}
