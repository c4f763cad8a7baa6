//! Reading the items a tool works on: positional arguments and `--input FILE`
//! (a JSON array, NDJSON, or plain lines; a file or `-` for stdin).
//!
//! Input is read twice, never held whole:
//!
//! 1. [`check_items`] parses and checks every item (through the tool's
//!    [`ParseItem`]) and drops it, so bad input is reported with its line and
//!    field before anything runs (exit 2), and a million items cost no memory.
//!    What it reads is copied privately ([`spool`]): the running pass reads
//!    exactly what was checked, whatever happens to the file meanwhile.
//! 2. [`feed`] reads them again on a producer thread and hands `(index, item)`
//!    pairs to the next stage through a bounded channel: a producer/consumer
//!    queue whose capacity, not the input size, bounds memory. Items cross
//!    in batches ([`BATCH`]) whenever the consumer has some left to take, so
//!    the two threads wake each other once a batch, not once an item.
//!
//! - [`json_items`]: the byte stream split into items (JSON or lines)
//! - [`spool`]: opening `--input`, and the private copy the second pass reads
//! - `unique_keys`: JSON objects that name a field twice are refused

use crate::error::{FieldError, InputError};
use crate::units::{duration_from_secs, parse_duration};
use json_items::JsonItems;
use serde_json::{Map, Value};
use spool::Source;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

mod json_items;
mod spool;
mod unique_keys;

/// `--input-format`: how `--input` is split into items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum InputFormat {
    /// JSON when the first non-blank byte is `[`, `{` or `"`, else lines.
    #[default]
    Auto,
    /// A JSON array, or NDJSON.
    Json,
    /// One JSON value per line.
    Ndjson,
    /// One item per non-empty line, as text; `#` starts a comment line.
    Lines,
}

/// The largest single item accepted (one NDJSON line or array element).
pub(crate) const MAX_ITEM_BYTES: usize = 16 << 20;

/// One item as given, before the tool interprets it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawItem {
    /// A positional command-line argument.
    Arg(String),
    /// One element of `--input`.
    Json(Value),
}

/// How a tool turns a raw item into its own item type. Called once per item
/// in the checking pass and once more in the running pass, so it must be
/// pure.
pub(crate) trait ParseItem: Send + Sync + 'static {
    /// An item as the tool understands it (a request, a path or pattern, a
    /// command).
    type Item: Send + 'static;
    fn parse_item(&self, raw: RawItem) -> Result<Self::Item, FieldError>;

    /// The checking pass's question: whether `raw` parses, and if not, the
    /// same error [`ParseItem::parse_item`] gives. A tool may answer it
    /// faster than by parsing, never differently.
    fn check_item(&self, raw: RawItem) -> Result<(), FieldError> {
        self.parse_item(raw).map(drop)
    }
}

/// Rejects an item object with a field not in `fields`, naming the first
/// such field and listing the expected ones.
pub(crate) fn reject_unknown_fields(
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
pub(crate) fn scalar_text(value: &Value, field: &str, what: &str) -> Result<String, FieldError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        other => Err(FieldError::must_be(field, what, other)),
    }
}

/// Seconds as a number (`2.5`) or a duration string (`"2.5s"`, `"250ms"`).
pub(crate) fn parse_seconds(value: &Value, field: &str) -> Result<Duration, FieldError> {
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

/// The checked input, ready to be fed: the result of the first pass.
#[derive(Debug)]
pub(crate) struct CheckedInput {
    positional: Vec<String>,
    source: Option<Source>,
    format: InputFormat,
    /// How many items there are in all (positional plus `--input`).
    total: u64,
}

/// Pass 1: checks every item, keeps none. `input` is the `--input`
/// argument. `Ok(None)` when `keep_going` said no before the end.
pub(crate) fn check_items<P: ParseItem + ?Sized>(
    parser: &P,
    positional: &[String],
    input: Option<&Path>,
    format: InputFormat,
    keep_going: &dyn Fn() -> bool,
) -> Result<Option<CheckedInput>, InputError> {
    for (position, arg) in positional.iter().enumerate() {
        if !keep_going() {
            return Ok(None);
        }
        parser
            .check_item(RawItem::Arg(arg.clone()))
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
            let (reader, spool) = spool::open(path)?;
            let mut items = JsonItems::new(reader, format);
            while let Some(item) = items.next_item() {
                if !keep_going() {
                    return Ok(None);
                }
                let (line, value) = item?;
                parser
                    .check_item(RawItem::Json(value))
                    .map_err(|error| InputError::from_field(error, Some(line)))?;
                total += 1;
            }
            drop(items);
            Some(spool.finish()?)
        }
    };
    Ok(Some(CheckedInput {
        positional: positional.to_vec(),
        source,
        format,
        total,
    }))
}

/// One item on its way to the runner: its place in the input, and the
/// `--input` line it came from (none for arguments and expanded files).
#[derive(Debug)]
pub(crate) struct Queued<S> {
    pub(crate) index: usize,
    pub(crate) line: Option<u64>,
    pub(crate) item: S,
}

/// The most items the producer hands over at once. A batch is sent before
/// it is full whenever the channel is empty (the consumer may be waiting),
/// so batching never delays an item a consumer could take.
const BATCH: usize = 32;

/// Items in input order, from a producer thread or a list.
pub(crate) struct Feed<S> {
    receiver: mpsc::Receiver<Vec<Queued<S>>>,
    /// The items of the batch received last, not yet taken.
    ready: std::vec::IntoIter<Queued<S>>,
    /// How many items the feed will give.
    total: u64,
    /// Set when the running pass did not read what the checking pass did
    /// (it reads the same bytes, so only a parse that looks outside the item
    /// can differ: a pattern naming a file that appeared meanwhile).
    late_error: Arc<OnceLock<InputError>>,
}

impl<S> Feed<S> {
    /// The next item; `None` once every item was given. Cancel-safe: the
    /// only await is the channel's, and a batch received is kept whole.
    pub(crate) async fn next(&mut self) -> Option<Queued<S>> {
        loop {
            if let Some(queued) = self.ready.next() {
                return Some(queued);
            }
            self.ready = self.receiver.recv().await?.into_iter();
        }
    }

    /// How many items the feed gives in all.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// What went wrong reading the items the second time, once the feed
    /// has ended early: the run is then exit 2.
    pub(crate) fn late_error(&self) -> Arc<OnceLock<InputError>> {
        self.late_error.clone()
    }

    /// Every item, in order, for a step that needs them all at once (a
    /// walk that sorts what it finds).
    pub(crate) async fn collect(mut self) -> Result<Vec<S>, InputError> {
        let mut items = Vec::new();
        while let Some(queued) = self.next().await {
            items.push(queued.item);
        }
        match self.late_error.get() {
            Some(error) => Err(error.clone()),
            None => Ok(items),
        }
    }
}

impl<S: Send + 'static> Feed<S> {
    /// Builds a feed from a list already in memory: no producer thread
    /// that sleeps and wakes for the items the runner takes (a cost that
    /// shows with ten thousand fast items), and no more memory than the
    /// list itself.
    pub(crate) fn from_vec(items: Vec<S>) -> Self {
        let total = items.len() as u64;
        let ready: Vec<Queued<S>> = items
            .into_iter()
            .enumerate()
            .map(|(index, item)| Queued {
                index,
                line: None,
                item,
            })
            .collect();
        // No sender: once `ready` is taken, the feed ends.
        let (_, receiver) = mpsc::channel(1);
        Feed {
            receiver,
            ready: ready.into_iter(),
            total,
            late_error: Arc::new(OnceLock::new()),
        }
    }
}

/// Where the producer puts items: in batches of at most [`BATCH`], each
/// sent when full or when the channel is empty, so the consumer waits for
/// no more than one item's parse.
struct Batcher<S> {
    sender: mpsc::Sender<Vec<Queued<S>>>,
    batch: Vec<Queued<S>>,
}

impl<S> Batcher<S> {
    /// Queues one item; false once the consumer is gone.
    fn push(&mut self, queued: Queued<S>) -> bool {
        self.batch.push(queued);
        let starving = self.sender.capacity() == self.sender.max_capacity();
        if self.batch.len() >= BATCH || starving {
            return self.send();
        }
        true
    }

    /// Sends what is batched (nothing if empty); false once the consumer
    /// is gone.
    fn send(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.sender.blocking_send(batch).is_ok()
    }
}

/// How many batches the channel holds to bound it at about `capacity` items.
fn batches_for(capacity: usize) -> usize {
    capacity.div_ceil(BATCH).max(1)
}

/// Pass 2: streams the checked items, parsed again by `parser`, through a
/// channel of about `capacity` items.
pub(crate) fn feed<P: ParseItem + ?Sized>(
    checked: CheckedInput,
    parser: Arc<P>,
    capacity: usize,
) -> Feed<P::Item> {
    let (sender, receiver) = mpsc::channel(batches_for(capacity));
    let late_error = Arc::new(OnceLock::new());
    let late = late_error.clone();
    let total = checked.total;
    let spawn_failed = late_error.clone();
    let producer = std::thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            let mut out = Batcher {
                sender,
                batch: Vec::with_capacity(BATCH),
            };
            let read = produce(checked, &*parser, &mut out);
            // The items read before a late error still run, as before it.
            out.send();
            let count = match read {
                Ok(count) => count,
                Err(error) => {
                    let _ = late.set(error);
                    return;
                }
            };
            // Fewer items than the checking pass counted: the copy is short.
            if let Some(count) = count
                && count as u64 != total
            {
                let _ = late.set(InputError::new(format!(
                    "{total} items were checked, {count} were read in the running pass"
                )));
            }
        });
    // A full process table (a fork bomb elsewhere) refuses the thread: the
    // run then reads nothing and says why, rather than panicking.
    if let Err(error) = producer {
        let _ = spawn_failed.set(InputError::new(format!(
            "cannot start the thread that reads the items: {error}"
        )));
    }
    Feed {
        receiver,
        ready: Vec::new().into_iter(),
        total,
        late_error,
    }
}

/// The producer's work: every checked item parsed again, in order, into
/// `out`. `Ok(Some(n))`: `n` items were read; `Ok(None)`: the consumer went
/// away first; `Err`: an item read differently than when it was checked.
fn produce<P: ParseItem + ?Sized>(
    checked: CheckedInput,
    parser: &P,
    out: &mut Batcher<P::Item>,
) -> Result<Option<usize>, InputError> {
    let mut index = 0usize;
    for arg in checked.positional {
        let Ok(item) = parser.parse_item(RawItem::Arg(arg)) else {
            return Err(InputError::new(
                "an argument read differently in the running pass than when it was checked",
            ));
        };
        let queued = Queued {
            index,
            line: None,
            item,
        };
        if !out.push(queued) {
            return Ok(None);
        }
        index += 1;
    }
    let Some(reader) = checked.source.map(Source::reader) else {
        return Ok(Some(index));
    };
    let mut items = JsonItems::new(reader, checked.format);
    while let Some(item) = items.next_item() {
        let parsed = item.and_then(|(line, value)| {
            parser
                .parse_item(RawItem::Json(value))
                .map(|item| (line, item))
                .map_err(|error| InputError::from_field(error, Some(line)))
        });
        let (line, item) = parsed.map_err(|error| InputError {
            message: format!(
                "an item read differently in the running pass: {}",
                error.message
            ),
            ..error
        })?;
        let queued = Queued {
            index,
            line: Some(line),
            item,
        };
        if !out.push(queued) {
            return Ok(None);
        }
        index += 1;
    }
    Ok(Some(index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    /// Items as they are: the JSON value, or the argument as a string.
    struct AsIs;

    impl ParseItem for AsIs {
        type Item = Value;

        fn parse_item(&self, raw: RawItem) -> Result<Value, FieldError> {
            match raw {
                RawItem::Arg(text) => Ok(Value::String(text)),
                RawItem::Json(Value::Bool(false)) => Err(FieldError::whole_item("false")),
                RawItem::Json(value) => Ok(value),
            }
        }
    }

    #[tokio::test]
    async fn the_running_pass_reads_what_was_checked_whatever_the_file_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("items.ndjson");
        std::fs::write(&path, "1\n2\n").unwrap();
        let checked = check_items(
            &AsIs,
            &["a".to_string()],
            Some(&path),
            InputFormat::Json,
            &|| true,
        )
        .unwrap()
        .unwrap();
        // Changed after the check: an item appended, a bad one at that.
        std::fs::write(&path, "1\n2\nfalse\n").unwrap();
        let items = feed(checked, Arc::new(AsIs), 1);
        assert_eq!(items.total(), 3);
        let late = items.late_error();
        let got = items.collect().await.unwrap();
        assert_eq!(got, [json!("a"), json!(1), json!(2)]);
        assert!(late.get().is_none());
    }

    #[test]
    fn the_channel_holds_about_capacity_items_in_batches() {
        assert_eq!(batches_for(0), 1);
        assert_eq!(batches_for(1), 1);
        assert_eq!(batches_for(BATCH), 1);
        assert_eq!(batches_for(BATCH + 1), 2);
        assert_eq!(batches_for(128), 128 / BATCH);
    }

    #[tokio::test]
    async fn batched_items_come_in_order_with_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("items.ndjson");
        let count = 3 * BATCH + 5;
        let text: String = (0..count).map(|n| format!("{n}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let args = ["a".to_string(), "b".to_string()];
        let checked = check_items(&AsIs, &args, Some(&path), InputFormat::Json, &|| true)
            .unwrap()
            .unwrap();
        let mut items = feed(checked, Arc::new(AsIs), 1);
        let mut seen = Vec::new();
        while let Some(queued) = items.next().await {
            // A slow consumer: the producer fills whole batches meanwhile.
            tokio::task::yield_now().await;
            seen.push((queued.index, queued.line, queued.item));
        }
        assert_eq!(seen.len(), count + 2);
        assert_eq!(seen[0], (0, None, json!("a")));
        assert_eq!(seen[1], (1, None, json!("b")));
        for (at, (index, line, item)) in seen.iter().enumerate().skip(2) {
            let n = at - 2;
            assert_eq!((*index, *line, item), (at, Some(n as u64 + 1), &json!(n)));
        }
        assert!(items.late_error().get().is_none());
    }

    #[test]
    fn a_check_asked_to_stop_gives_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("items.ndjson");
        std::fs::write(&path, "1\n2\n").unwrap();
        let stopped = check_items(&AsIs, &[], Some(&path), InputFormat::Auto, &|| false).unwrap();
        assert!(stopped.is_none());
        let bad = check_items(
            &AsIs,
            &[],
            Some(&dir.path().join("none")),
            InputFormat::Auto,
            &|| true,
        );
        assert_eq!(bad.unwrap_err().field.as_deref(), Some("--input"));
    }
}
