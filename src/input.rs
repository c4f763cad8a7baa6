//! Reading the items a tool works on: positional arguments and `--input FILE`
//! (a JSON array or NDJSON, a file or `-` for stdin).
//!
//! Input is read twice, never held whole:
//!
//! 1. [`check_items`] parses and checks every item (through the tool's
//!    [`ParseItem`]) and drops it, so bad input is reported with its line and
//!    field before anything runs (exit 2), and a million items cost no memory.
//!    Stdin and other one-shot sources (pipes, `<(...)`) are spooled to a
//!    temporary file on the way, so they can be read a second time.
//! 2. [`feed`] reads them again on a producer thread and hands `(index, spec)`
//!    pairs to the runner through a bounded channel: a producer/consumer queue
//!    whose capacity, not the input size, bounds memory.
//!
//! A JSON array is split into its elements by a small byte scanner (strings,
//! escapes and nesting aware), so each element is parsed alone and errors can
//! name the line where the element starts.

use crate::error::{FieldError, InputError};
use crate::units::{duration_from_secs, parse_duration};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

mod unique_keys;

/// The largest single item accepted (one NDJSON line or array element).
pub const MAX_ITEM_BYTES: usize = 16 << 20;

/// One item as given, before the tool interprets it.
#[derive(Debug, Clone, PartialEq)]
pub enum RawItem {
    /// A positional command-line argument.
    Arg(String),
    /// One element of `--input`.
    Json(Value),
}

/// How a tool turns a raw item into the spec it runs. Called once per item in
/// the checking pass and once more in the running pass, so it must be pure.
pub trait ParseItem: Send + Sync + 'static {
    type Spec: Send + 'static;
    fn parse_item(&self, raw: RawItem) -> Result<Self::Spec, FieldError>;
}

/// Rejects an item object with a field not in `fields`, naming the first
/// such field and listing the expected ones.
pub fn reject_unknown_fields(
    object: &Map<String, Value>,
    fields: &[&str],
) -> Result<(), FieldError> {
    match object.keys().find(|key| !fields.contains(&key.as_str())) {
        Some(unknown) => Err(FieldError::new(
            unknown.clone(),
            format!(
                "unknown field `{unknown}` (expected one of: {})",
                fields.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// A scalar field value as text: a string as is, a number or boolean as
/// written (`8080`, `true`). Anything else is `must be {what}, not ...`.
pub fn scalar_text(value: &Value, field: &str, what: &str) -> Result<String, FieldError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        other => Err(FieldError::must_be(field, what, other)),
    }
}

/// Seconds as a number (`2.5`) or a duration string (`"2.5s"`, `"250ms"`).
pub fn parse_seconds(value: &Value, field: &str) -> Result<Duration, FieldError> {
    match value {
        Value::Number(seconds) => {
            let seconds = seconds.as_f64().unwrap_or(-1.0);
            duration_from_secs(seconds, &seconds.to_string())
                .map_err(|message| FieldError::new(field, message))
        }
        Value::String(text) => {
            parse_duration(text).map_err(|message| FieldError::new(field, message))
        }
        other => Err(FieldError::must_be(
            field,
            "seconds or a duration like \"5s\"",
            other,
        )),
    }
}

/// Where `--input` items come from in the running pass.
#[derive(Debug)]
enum Source {
    Path(PathBuf),
    /// Stdin or a pipe, copied to disk during the checking pass.
    Spooled(File),
}

/// The checked input, ready to be fed: the result of the first pass.
#[derive(Debug)]
pub struct CheckedInput {
    positional: Vec<String>,
    source: Option<Source>,
    /// How many items there are in all (positional plus `--input`).
    pub total: u64,
}

/// Pass 1: checks every item, keeps none. `input` is the `--input` argument.
pub fn check_items<P: ParseItem>(
    parser: &P,
    positional: &[String],
    input: Option<&Path>,
) -> Result<CheckedInput, InputError> {
    for (position, arg) in positional.iter().enumerate() {
        parser
            .parse_item(RawItem::Arg(arg.clone()))
            .map_err(|error| {
                let field = error.field.clone();
                let mut input_error = InputError::from_field(error, None);
                input_error.field = Some(match field {
                    Some(field) => format!("args[{position}].{field}"),
                    None => format!("args[{position}]"),
                });
                input_error
            })?;
    }
    let mut total = positional.len() as u64;
    let source = match input {
        None => None,
        Some(path) => {
            let (reader, source) = open_for_check(path)?;
            let mut items = JsonItems::new(reader);
            while let Some(item) = items.next_item() {
                let (line, value) = item?;
                parser
                    .parse_item(RawItem::Json(value))
                    .map_err(|error| InputError::from_field(error, Some(line)))?;
                total += 1;
            }
            drop(items);
            Some(match source {
                PendingSource::Path(path) => Source::Path(path),
                PendingSource::Spool(spool) => Source::Spooled(spool.finish()?),
            })
        }
    };
    Ok(CheckedInput {
        positional: positional.to_vec(),
        source,
        total,
    })
}

enum PendingSource {
    Path(PathBuf),
    Spool(SpoolHandle),
}

/// Shares the spool file between the tee reader (pass 1) and its owner.
#[derive(Clone)]
struct SpoolHandle(Arc<std::sync::Mutex<Option<File>>>);

impl SpoolHandle {
    fn finish(self) -> Result<File, InputError> {
        let mut guard = self
            .0
            .lock()
            .map_err(|_| InputError::new("input spool poisoned"))?;
        let mut file = guard
            .take()
            .ok_or_else(|| InputError::new("input spool already taken"))?;
        file.flush()
            .and_then(|_| file.rewind())
            .map_err(|error| InputError::new(format!("cannot rewind the stdin spool: {error}")))?;
        Ok(file)
    }
}

/// Copies everything read through it into the spool file.
struct TeeReader<R> {
    inner: R,
    spool: SpoolHandle,
}

impl<R: Read> Read for TeeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        let mut guard = self
            .spool
            .0
            .lock()
            .map_err(|_| io::Error::other("input spool poisoned"))?;
        if let Some(file) = guard.as_mut() {
            file.write_all(&buf[..read])?;
        }
        Ok(read)
    }
}

fn open_for_check(path: &Path) -> Result<(Box<dyn BufRead>, PendingSource), InputError> {
    let field = "--input";
    let reader: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        let file = File::open(path).map_err(|error| {
            InputError::new(format!("cannot open {}: {error}", path.display())).with_field(field)
        })?;
        let metadata = file.metadata().map_err(|error| {
            InputError::new(format!("cannot stat {}: {error}", path.display())).with_field(field)
        })?;
        if metadata.is_dir() {
            return Err(
                InputError::new(format!("{} is a directory", path.display())).with_field(field),
            );
        }
        if metadata.is_file() {
            return Ok((
                Box::new(BufReader::with_capacity(64 * 1024, file)),
                PendingSource::Path(path.to_path_buf()),
            ));
        }
        // A pipe or process substitution: readable once, so spool it.
        Box::new(file)
    };
    let spool_file = tempfile::tempfile().map_err(|error| {
        InputError::new(format!("cannot create a spool file for stdin: {error}"))
    })?;
    let spool = SpoolHandle(Arc::new(std::sync::Mutex::new(Some(spool_file))));
    let tee = TeeReader {
        inner: reader,
        spool: spool.clone(),
    };
    Ok((
        Box::new(BufReader::with_capacity(64 * 1024, tee)),
        PendingSource::Spool(spool),
    ))
}

/// The items of pass 2, in input order, from a producer thread.
pub struct Feed<S> {
    receiver: mpsc::Receiver<(usize, S)>,
    /// Set when the input changed between the two passes.
    pub late_error: Arc<OnceLock<InputError>>,
}

impl<S> Feed<S> {
    pub async fn next(&mut self) -> Option<(usize, S)> {
        self.receiver.recv().await
    }

    /// Builds a feed from specs already in memory (tools that expand their
    /// own items, such as glob matches).
    pub fn from_specs(specs: impl IntoIterator<Item = S> + Send + 'static) -> Self
    where
        S: Send + 'static,
    {
        let (sender, receiver) = mpsc::channel(256);
        std::thread::spawn(move || {
            for (index, spec) in specs.into_iter().enumerate() {
                if sender.blocking_send((index, spec)).is_err() {
                    return;
                }
            }
        });
        Feed {
            receiver,
            late_error: Arc::new(OnceLock::new()),
        }
    }
}

impl<S: Send + 'static> Feed<S> {
    /// Builds a feed from a list already in memory, queued all at once: no
    /// producer thread that sleeps and wakes for every item the runner
    /// takes (a cost that shows with ten thousand fast items), and no more
    /// memory than the list itself.
    pub fn from_vec(specs: Vec<S>) -> Self {
        let (sender, receiver) = mpsc::channel(specs.len().max(1));
        for (index, spec) in specs.into_iter().enumerate() {
            // Cannot fail: the channel has room for every item and the
            // receiver is alive.
            let _ = sender.try_send((index, spec));
        }
        Feed {
            receiver,
            late_error: Arc::new(OnceLock::new()),
        }
    }
}

/// Pass 2: streams the checked items to the runner.
pub fn feed<P: ParseItem>(checked: CheckedInput, parser: Arc<P>, capacity: usize) -> Feed<P::Spec> {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let late_error = Arc::new(OnceLock::new());
    let late = late_error.clone();
    std::thread::spawn(move || {
        let mut index = 0usize;
        for arg in checked.positional {
            let Ok(spec) = parser.parse_item(RawItem::Arg(arg)) else {
                let _ = late.set(InputError::new("argument changed between checks"));
                return;
            };
            if sender.blocking_send((index, spec)).is_err() {
                return;
            }
            index += 1;
        }
        let reader: Box<dyn BufRead> = match checked.source {
            None => return,
            Some(Source::Path(path)) => match File::open(&path) {
                Ok(file) => Box::new(BufReader::with_capacity(64 * 1024, file)),
                Err(error) => {
                    let _ = late.set(InputError::new(format!(
                        "cannot reopen {}: {error}",
                        path.display()
                    )));
                    return;
                }
            },
            Some(Source::Spooled(file)) => Box::new(BufReader::with_capacity(64 * 1024, file)),
        };
        let mut items = JsonItems::new(reader);
        while let Some(item) = items.next_item() {
            let spec = item.and_then(|(line, value)| {
                parser
                    .parse_item(RawItem::Json(value))
                    .map_err(|error| InputError::from_field(error, Some(line)))
            });
            match spec {
                Ok(spec) => {
                    if sender.blocking_send((index, spec)).is_err() {
                        return;
                    }
                    index += 1;
                }
                Err(error) => {
                    let _ = late.set(InputError {
                        message: format!("--input changed while running: {}", error.message),
                        ..error
                    });
                    return;
                }
            }
        }
        // Fewer items than the checking pass counted: the file shrank.
        if index as u64 != checked.total {
            let _ = late.set(InputError::new(format!(
                "--input changed while running: {} items were checked, {index} were read",
                checked.total
            )));
        }
    });
    Feed {
        receiver,
        late_error,
    }
}

/// Splits a byte stream into JSON items: either the elements of one top-level
/// array, or one value per non-blank line (NDJSON), decided by the first byte.
pub struct JsonItems<R> {
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
    pub fn new(reader: R) -> Self {
        JsonItems {
            reader,
            layout: Layout::Undecided,
            line: 1,
            item: Vec::new(),
        }
    }

    /// The next item and the line it starts on; `None` at the end.
    pub fn next_item(&mut self) -> Option<Result<(u64, Value), InputError>> {
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
    fn unknown_fields_are_named_with_the_expected_ones() {
        let object = |value: Value| value.as_object().cloned().unwrap_or_default();
        assert_eq!(
            reject_unknown_fields(&object(json!({"url": "u"})), &["url", "id"]),
            Ok(())
        );
        assert_eq!(
            reject_unknown_fields(&object(json!({"url": "u", "hedaers": {}})), &["url", "id"]),
            Err(FieldError::new(
                "hedaers",
                "unknown field `hedaers` (expected one of: url, id)"
            ))
        );
    }

    #[test]
    fn scalars_become_text_and_the_rest_names_its_kind() {
        let text = |value: Value| scalar_text(&value, "form.a", "a string or number");
        assert_eq!(text(json!("x")), Ok("x".to_string()));
        assert_eq!(text(json!(8080)), Ok("8080".to_string()));
        assert_eq!(text(json!(true)), Ok("true".to_string()));
        assert_eq!(
            text(json!({"secret": "s3cr3t"})),
            Err(FieldError::new(
                "form.a",
                "must be a string or number, not an object"
            ))
        );
        assert_eq!(
            text(Value::Null).unwrap_err().message,
            "must be a string or number, not null"
        );
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
