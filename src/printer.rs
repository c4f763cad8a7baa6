//! Writes the wire format (see [`crate::wire`]) to stdout or `--output FILE`.
//!
//! Stdout is written through one buffered writer on a duplicate of fd 1, not
//! through `std::io::Stdout`, whose line buffering would cost one `write`
//! system call per result line. The runner calls [`Printer::flush`] whenever it
//! has nothing else ready, so NDJSON lines still reach a reader promptly.
//!
//! In document mode results must appear in input order while they finish in
//! any order: finished results wait, already serialised, in a small reorder
//! buffer until every earlier index is written. The runner bounds that buffer
//! by not starting items too far ahead of the oldest unwritten one.

use crate::error::{ErrorBody, InputError};
use crate::wire::{ItemRecord, OutputPointer, Status, Summary, SummaryLine, UsageErrorDoc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Document (one JSON value) or NDJSON (one line per result, then a summary line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Document,
    Ndjson,
}

/// Opens a buffered writer on stdout that bypasses `Stdout`'s line buffering.
pub fn stdout_writer() -> io::Result<BufWriter<File>> {
    let fd = io::stdout().as_fd().try_clone_to_owned()?;
    Ok(BufWriter::with_capacity(64 * 1024, File::from(fd)))
}

pub struct Printer {
    tool: &'static str,
    format: Format,
    out: BufWriter<File>,
    output_path: Option<PathBuf>,
    /// Serialised results waiting for an earlier index (document mode).
    pending: BTreeMap<usize, Vec<u8>>,
    /// The next index the document must write.
    next_index: usize,
    wrote_any: bool,
    scratch: Vec<u8>,
}

impl Printer {
    /// Opens the destination and writes the document's opening.
    pub fn start(tool: &'static str, format: Format, output: Option<&Path>) -> io::Result<Self> {
        let out = match output {
            Some(path) => BufWriter::with_capacity(64 * 1024, File::create(path)?),
            None => stdout_writer()?,
        };
        let mut printer = Printer {
            tool,
            format,
            out,
            output_path: output.map(Path::to_path_buf),
            pending: BTreeMap::new(),
            next_index: 0,
            wrote_any: false,
            scratch: Vec::with_capacity(1024),
        };
        if format == Format::Document {
            write!(
                printer.out,
                "{{\"tool\":{},\"version\":{},\"results\":[",
                serde_json::to_string(tool)?,
                serde_json::to_string(crate::VERSION)?
            )?;
        }
        Ok(printer)
    }

    /// Writes (or, in document mode, queues) one finished item.
    pub fn record<R: Serialize>(
        &mut self,
        index: usize,
        status: Status,
        elapsed_ms: u64,
        report: &R,
        error: Option<&ErrorBody>,
    ) -> io::Result<()> {
        let record = ItemRecord {
            line_type: (self.format == Format::Ndjson).then_some("result"),
            index,
            status,
            elapsed_ms,
            report,
            error,
        };
        match self.format {
            Format::Ndjson => {
                serde_json::to_writer(&mut self.out, &record)?;
                self.out.write_all(b"\n")
            }
            Format::Document if index == self.next_index => {
                self.scratch.clear();
                serde_json::to_writer(&mut self.scratch, &record)?;
                let line = std::mem::take(&mut self.scratch);
                self.write_document_line(&line)?;
                self.scratch = line;
                self.next_index += 1;
                while let Some(line) = self.pending.remove(&self.next_index) {
                    self.write_document_line(&line)?;
                    self.next_index += 1;
                }
                Ok(())
            }
            Format::Document => {
                let line = serde_json::to_vec(&record)?;
                self.pending.insert(index, line);
                Ok(())
            }
        }
    }

    fn write_document_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out
            .write_all(if self.wrote_any { b",\n" } else { b"\n" })?;
        self.out.write_all(line)?;
        self.wrote_any = true;
        Ok(())
    }

    /// The oldest index not yet written: the runner keeps new starts within a
    /// window of it, which bounds the reorder buffer.
    pub fn oldest_unwritten(&self) -> Option<usize> {
        match self.format {
            Format::Document => Some(self.next_index),
            Format::Ndjson => None,
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes the summary and closes the document; with `--output`, prints
    /// the pointer document on stdout.
    pub fn finish<T: Serialize>(mut self, summary: &Summary<'_, T>) -> io::Result<()> {
        // Results a stop left unwritten are all recorded by now, in any order.
        let pending = std::mem::take(&mut self.pending);
        for (_, line) in pending {
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
        if let Some(path) = &self.output_path {
            let shown = path.display().to_string();
            let pointer = OutputPointer {
                tool: self.tool,
                version: crate::VERSION,
                output: &shown,
                summary,
            };
            let mut stdout = stdout_writer()?;
            serde_json::to_writer(&mut stdout, &pointer)?;
            stdout.write_all(b"\n")?;
            stdout.flush()?;
        }
        Ok(())
    }
}

/// Prints an exit-2 error: the JSON document on stdout, the words on stderr.
pub fn print_input_error(tool: &str, error: &InputError) {
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
