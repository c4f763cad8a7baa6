//! Writes the wire format (see [`crate::wire`]) to any [`io::Write`]: stdout,
//! `--output FILE`, or a buffer in a test.
//!
//! Stdout is written through one buffered writer on a duplicate of fd 1
//! ([`stdout_writer`]), not through `std::io::Stdout`, whose line buffering
//! would cost one `write` system call per result line. The runner calls
//! [`Sink::flush`] whenever it has nothing else ready, so NDJSON lines still
//! reach a reader promptly.
//!
//! In document mode results must appear in input order while they finish in
//! any order: finished results wait, already serialised, in a small reorder
//! buffer until every earlier index is written. The runner bounds that buffer
//! by not starting items too far ahead of [`Sink::oldest_unwritten`]. An
//! item's lines before its last (pages, [`Sink::record_page`]) come right
//! before it: those of the oldest unwritten item are written as they come,
//! the others wait with it (the runner bounds how many, see
//! [`crate::runner::HELD_BACK_LINES`]).

use crate::error::InputError;
use crate::runner::Sink;
use crate::wire::{Finished, ItemRecord, OutputPointer, Summary, SummaryLine, UsageErrorDoc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;

/// Document (one JSON value) or NDJSON (one line per result, then a summary line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Document,
    Ndjson,
}

/// A duplicate of fd 1, to write to without `Stdout`'s line buffering.
pub(crate) fn stdout_file() -> io::Result<File> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

/// `file` behind the buffer every result destination uses (64 KiB: one
/// write a few hundred small results).
pub(crate) fn buffered(file: File) -> BufWriter<File> {
    BufWriter::with_capacity(64 * 1024, file)
}

/// A buffered writer on stdout that bypasses `Stdout`'s line buffering.
pub(crate) fn stdout_writer() -> io::Result<BufWriter<File>> {
    Ok(buffered(stdout_file()?))
}

/// The JSON of one run, written as results come.
pub(crate) struct Printer<W: Write> {
    tool: &'static str,
    format: Format,
    out: W,
    /// Serialised results waiting for an earlier index (document mode).
    pending: BTreeMap<usize, Vec<u8>>,
    /// Serialised lines before their item's last (pages), waiting for an
    /// earlier index (document mode).
    early: BTreeMap<usize, Vec<Vec<u8>>>,
    /// The next index the document must write.
    next_index: usize,
    wrote_any: bool,
    scratch: Vec<u8>,
}

impl<W: Write> Printer<W> {
    /// Writes the document's opening to `out`.
    pub(crate) fn start(tool: &'static str, format: Format, mut out: W) -> io::Result<Self> {
        if format == Format::Document {
            write!(
                out,
                "{{\"tool\":{},\"version\":{},\"results\":[",
                serde_json::to_string(tool)?,
                serde_json::to_string(crate::VERSION)?
            )?;
        }
        Ok(Printer {
            tool,
            format,
            out,
            pending: BTreeMap::new(),
            early: BTreeMap::new(),
            next_index: 0,
            wrote_any: false,
            scratch: Vec::with_capacity(1024),
        })
    }

    /// One result line as the wire format has it.
    fn record_of<'a, R: Serialize>(
        &self,
        index: usize,
        elapsed_ms: u64,
        finished: &'a Finished<R>,
    ) -> ItemRecord<'a, R> {
        ItemRecord {
            line_type: (self.format == Format::Ndjson).then_some("result"),
            index,
            line: finished.line,
            status: finished.status,
            elapsed_ms,
            report: &finished.report,
            error: finished.error.as_ref(),
        }
    }

    fn write_ndjson<R: Serialize>(&mut self, record: &ItemRecord<'_, R>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")
    }

    /// Writes a document line now, serialised through the reused buffer.
    fn write_now<R: Serialize>(&mut self, record: &ItemRecord<'_, R>) -> io::Result<()> {
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, record)?;
        let line = std::mem::take(&mut self.scratch);
        let written = self.write_document_line(&line);
        self.scratch = line;
        written
    }

    fn write_document_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out
            .write_all(if self.wrote_any { b",\n" } else { b"\n" })?;
        self.out.write_all(line)?;
        self.wrote_any = true;
        Ok(())
    }

    /// Writes the waiting lines of item `index` (its pages), if any.
    fn write_early(&mut self, index: usize) -> io::Result<()> {
        if let Some(lines) = self.early.remove(&index) {
            for line in lines {
                self.write_document_line(&line)?;
            }
        }
        Ok(())
    }

    /// Writes every waiting result (and its pages) from `next_index` on
    /// while there is no gap, then the pages of the item now oldest.
    fn advance(&mut self) -> io::Result<()> {
        while let Some(line) = self.pending.remove(&self.next_index) {
            self.write_early(self.next_index)?;
            self.write_document_line(&line)?;
            self.next_index += 1;
        }
        self.write_early(self.next_index)
    }

    /// Writes the summary and closes the document; returns the writer.
    pub(crate) fn finish<T: Serialize>(mut self, summary: &Summary<'_, T>) -> io::Result<W> {
        // Results a stop left unwritten are all recorded by now, in any order.
        let pending = std::mem::take(&mut self.pending);
        for (index, line) in pending {
            self.write_early(index)?;
            self.write_document_line(&line)?;
        }
        match self.format {
            Format::Document => {
                self.out.write_all(if self.wrote_any {
                    b"\n],\n\"summary\":"
                } else {
                    b"],\n\"summary\":"
                })?;
                serde_json::to_writer(&mut self.out, summary)?;
                self.out.write_all(b"}\n")?;
            }
            Format::Ndjson => {
                let line = SummaryLine {
                    line_type: "summary",
                    tool: self.tool,
                    version: crate::VERSION,
                    summary,
                };
                serde_json::to_writer(&mut self.out, &line)?;
                self.out.write_all(b"\n")?;
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// Results written or queued but not yet in the document (a test's view
    /// of the reorder buffer).
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Lines before their item's last that wait for an earlier item.
    #[cfg(test)]
    pub(crate) fn pending_pages(&self) -> usize {
        self.early.values().map(Vec::len).sum()
    }
}

impl<R: Serialize, W: Write> Sink<R> for Printer<W> {
    /// Writes (or, in document mode, queues) one finished item.
    fn record(&mut self, index: usize, elapsed_ms: u64, finished: &Finished<R>) -> io::Result<()> {
        let record = self.record_of(index, elapsed_ms, finished);
        match self.format {
            Format::Ndjson => self.write_ndjson(&record),
            Format::Document if index == self.next_index => {
                self.write_early(index)?;
                self.write_now(&record)?;
                self.next_index += 1;
                self.advance()
            }
            Format::Document => {
                let line = serde_json::to_vec(&record)?;
                self.pending.insert(index, line);
                Ok(())
            }
        }
    }

    fn record_page(
        &mut self,
        index: usize,
        elapsed_ms: u64,
        finished: &Finished<R>,
    ) -> io::Result<()> {
        let record = self.record_of(index, elapsed_ms, finished);
        match self.format {
            Format::Ndjson => self.write_ndjson(&record),
            Format::Document if index == self.next_index => self.write_now(&record),
            Format::Document => {
                let line = serde_json::to_vec(&record)?;
                self.early.entry(index).or_default().push(line);
                Ok(())
            }
        }
    }

    fn oldest_unwritten(&self) -> Option<usize> {
        match self.format {
            Format::Document => Some(self.next_index),
            Format::Ndjson => None,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<R: Serialize, T: Serialize, W: Write + Send> crate::output::Output<R, T> for Printer<W> {
    fn finish(self: Box<Self>, summary: &Summary<'_, T>) -> io::Result<()> {
        Printer::finish(*self, summary).map(|_| ())
    }
}

/// With `--output FILE`: the pointer document on stdout.
pub(crate) fn print_pointer<T: Serialize>(
    tool: &'static str,
    output: &str,
    summary: &Summary<'_, T>,
) -> io::Result<()> {
    let pointer = OutputPointer {
        tool,
        version: crate::VERSION,
        output,
        summary,
    };
    let mut stdout = stdout_writer()?;
    serde_json::to_writer(&mut stdout, &pointer)?;
    stdout.write_all(b"\n")?;
    stdout.flush()
}

/// Prints an exit-2 error: the JSON document on stdout, the words on stderr.
pub(crate) fn print_input_error(tool: &str, error: &InputError) {
    let doc = UsageErrorDoc {
        tool,
        version: crate::VERSION,
        error,
    };
    if let Ok(mut stdout) = stdout_writer() {
        let _ = serde_json::to_writer(&mut stdout, &doc);
        let _ = stdout.write_all(b"\n");
        let _ = stdout.flush();
    }
    eprintln!("{tool}: invalid input: {error}");
}

/// For tests: a summary of zeros plus `extra`.
#[cfg(test)]
pub(crate) fn zero_summary<T: Serialize>(extra: &T) -> Summary<'_, T> {
    Summary {
        counts: crate::wire::Counts::default(),
        elapsed_ms: 0,
        sum_ms: 0,
        speedup: None,
        concurrency: 1,
        max_in_flight: 0,
        latency: None,
        stopped_by: None,
        extra,
    }
}

/// For tests: closes a document printed into memory (a summary of zeros
/// plus `extra`) and reads it back: the bytes, the JSON, and the results'
/// indices in document order.
#[cfg(test)]
pub(crate) fn finish_in_memory<T: Serialize>(
    printer: Printer<Vec<u8>>,
    extra: &T,
) -> (Vec<u8>, serde_json::Value, Vec<u64>) {
    let out = printer.finish(&zero_summary(extra)).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let indices = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["index"].as_u64().unwrap())
        .collect();
    (out, doc, indices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Counts;
    use serde_json::Value;

    #[derive(Serialize)]
    struct Named {
        name: &'static str,
    }

    fn summary(extra: &Named) -> Summary<'_, Named> {
        Summary {
            counts: Counts::default(),
            elapsed_ms: 0,
            sum_ms: 0,
            speedup: None,
            concurrency: 1,
            max_in_flight: 0,
            latency: None,
            stopped_by: None,
            extra,
        }
    }

    #[test]
    fn the_document_is_in_input_order_whatever_the_finishing_order() {
        let mut printer = Printer::start("t", Format::Document, Vec::new()).unwrap();
        for index in [2, 0, 3, 1] {
            let finished = Finished::ok(Named { name: "x" });
            printer.record(index, 1, &finished).unwrap();
        }
        assert_eq!(printer.pending(), 0);
        let (out, doc, indices) = finish_in_memory(printer, &Named { name: "s" });
        assert_eq!(indices, [0, 1, 2, 3]);
        assert_eq!(doc["summary"]["name"], "s");
        // One result per line, so the document streams.
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 7);
    }

    #[test]
    fn ndjson_is_in_finishing_order_and_ends_with_the_summary() {
        let mut printer = Printer::start("t", Format::Ndjson, Vec::new()).unwrap();
        for index in [1, 0] {
            let finished: Finished<Named> = Finished::failed(
                Named { name: "x" },
                &crate::error::RunFailure::internal("x"),
            );
            printer.record(index, 1, &finished).unwrap();
        }
        assert_eq!(Sink::<Named>::oldest_unwritten(&printer), None);
        let out = printer.finish(&summary(&Named { name: "s" })).unwrap();
        let lines: Vec<Value> = out
            .split(|&byte| byte == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        assert_eq!(lines[0]["index"], 1);
        assert_eq!(lines[1]["status"], "error");
        assert_eq!(lines[1]["error"]["kind"], "internal");
        assert_eq!(lines[2]["type"], "summary");
        assert_eq!(lines[2]["tool"], "t");
    }
}
