//! What a run's results are written as (`--format`): the JSON of the
//! contract (the default, whatever stdout is: an agent never gets anything
//! else by surprise), an aligned table for a person at a terminal, or a
//! tool's own format (find_blocking_calls' SARIF and GitHub annotations).
//!
//! Every format is an [`Output`]: the runner pushes each finished item into
//! it (it is a [`Sink`]), and the pipeline ends it with the summary. The JSON
//! one is [`crate::printer::Printer`]; the table is [`crate::table::Table`].

use crate::progress::Progress;
use crate::runner::Sink;
use crate::wire::{Finished, Summary};
use clap::ValueEnum;
use std::io;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// The JSON document (or NDJSON with --ndjson): the contract.
    Json,
    /// An aligned table and a one-line summary, for people.
    Table,
    /// SARIF 2.1.0 (find_blocking_calls).
    Sarif,
    /// GitHub workflow annotation lines (find_blocking_calls).
    Github,
}

impl OutputFormat {
    /// The word on the command line.
    pub(crate) fn word(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Table => "table",
            OutputFormat::Sarif => "sarif",
            OutputFormat::Github => "github",
        }
    }
}

/// A run's results in one format: fed item by item, ended with the summary.
pub(crate) trait Output<R, T: serde::Serialize>: Sink<R> + Send {
    /// Writes what comes after the last item and flushes.
    fn finish(self: Box<Self>, summary: &Summary<'_, T>) -> io::Result<()>;
}

/// An output that shares the terminal with the progress line: every write
/// happens with the line erased (see [`Progress::pause`]).
pub(crate) struct Paused<R, T> {
    inner: Box<dyn Output<R, T>>,
    progress: Progress,
}

impl<R, T: serde::Serialize> Paused<R, T> {
    pub(crate) fn new(inner: Box<dyn Output<R, T>>, progress: Progress) -> Self {
        Paused { inner, progress }
    }
}

impl<R, T: serde::Serialize> Sink<R> for Paused<R, T> {
    fn record(&mut self, index: usize, elapsed_ms: u64, finished: &Finished<R>) -> io::Result<()> {
        let inner = &mut self.inner;
        self.progress
            .pause(|| inner.record(index, elapsed_ms, finished))
    }

    fn record_page(
        &mut self,
        index: usize,
        elapsed_ms: u64,
        finished: &Finished<R>,
    ) -> io::Result<()> {
        let inner = &mut self.inner;
        self.progress
            .pause(|| inner.record_page(index, elapsed_ms, finished))
    }

    fn oldest_unwritten(&self) -> Option<usize> {
        self.inner.oldest_unwritten()
    }

    fn flush(&mut self) -> io::Result<()> {
        let inner = &mut self.inner;
        self.progress.pause(|| inner.flush())
    }
}

impl<R: Send, T: serde::Serialize> Output<R, T> for Paused<R, T> {
    fn finish(self: Box<Self>, summary: &Summary<'_, T>) -> io::Result<()> {
        let Paused { inner, progress } = *self;
        progress.pause(|| inner.finish(summary))
    }
}
