//! `--format table`: the results as an aligned table and a one-line summary,
//! for people at a terminal (agents keep the JSON, the default).
//!
//! ```text
//!   #  status     result          time  item
//!   0  ok         200            12 ms  http://127.0.0.1:8080/json/3
//!   1  error      503           903 ms  http://127.0.0.1:8080/flaky  http_status: HTTP 503 ...
//!
//! 2 items: 1 ok, 1 error in 0.91 s (one after another: 0.92 s)
//! ```
//!
//! Columns have fixed widths so rows stream out as items finish (in input
//! order, through the same bounded reorder buffer as the JSON document),
//! and the last column is cut to the terminal's width. Each tool says what
//! its `result` and `item` columns hold ([`TableRow`]).

use crate::output::Output;
use crate::runner::Sink;
use crate::wire::{Counts, Finished, Status, Summary};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::marker::PhantomData;

/// What one item shows in the table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// The short result: an HTTP status, `12 lines`, `exit 0`, `3 findings`.
    pub(crate) result: String,
    /// What the item was: the URL, the path, the task's name.
    pub(crate) item: String,
    /// Lines shown under the row, indented (a scan's findings).
    pub(crate) below: Vec<String>,
}

/// A tool's result as a table row.
pub(crate) trait TableRow {
    fn row(&self) -> Row;
}

/// Width of the `result` column.
const RESULT_WIDTH: usize = 14;
/// Rows shown under one item at most; the rest are counted.
const MAX_BELOW: usize = 20;

/// The table writer.
pub(crate) struct Table<W, R> {
    out: W,
    /// Rows finished out of order, waiting for an earlier index.
    pending: BTreeMap<usize, String>,
    /// Rows of an item before its last (pages), waiting for an earlier index.
    early: BTreeMap<usize, String>,
    next_index: usize,
    index_width: usize,
    /// The terminal's columns, when the table goes to one.
    columns: Option<usize>,
    _report: PhantomData<fn(&R)>,
}

impl<W: Write, R: TableRow> Table<W, R> {
    /// Writes the header. `total` sizes the index column (0 when unknown);
    /// `columns` is the terminal's width, if the output is one.
    pub(crate) fn start(mut out: W, total: u64, columns: Option<usize>) -> io::Result<Self> {
        let index_width = total.saturating_sub(1).max(1).to_string().len().max(1);
        let header = format!(
            "{:>index_width$}  {:<9}  {:<RESULT_WIDTH$}  {:>8}  item",
            "#", "status", "result", "time"
        );
        writeln!(out, "{}", cut(&header, columns))?;
        Ok(Table {
            out,
            pending: BTreeMap::new(),
            early: BTreeMap::new(),
            next_index: 0,
            index_width,
            columns,
            _report: PhantomData,
        })
    }

    fn render(&self, index: usize, elapsed_ms: u64, finished: &Finished<R>) -> String {
        let row = finished.report.row();
        let mut line = format!(
            "{:>width$}  {:<9}  {:<RESULT_WIDTH$}  {:>8}  {}",
            index,
            status_word(finished.status),
            cut(&row.result, Some(RESULT_WIDTH)),
            duration(elapsed_ms),
            row.item,
            width = self.index_width,
        );
        if let Some(error) = &finished.error {
            line.push_str(&format!("  {}: {}", error.kind, error.message));
        }
        let mut text = cut(&line, self.columns);
        text.push('\n');
        let indent = " ".repeat(self.index_width + 2);
        for below in row.below.iter().take(MAX_BELOW) {
            text.push_str(&cut(&format!("{indent}{below}"), self.columns));
            text.push('\n');
        }
        if row.below.len() > MAX_BELOW {
            text.push_str(&format!(
                "{indent}... and {} more\n",
                row.below.len() - MAX_BELOW
            ));
        }
        text
    }
}

impl<W: Write + Send, R: TableRow> Sink<R> for Table<W, R> {
    fn record(&mut self, index: usize, elapsed_ms: u64, finished: &Finished<R>) -> io::Result<()> {
        let text = self.render(index, elapsed_ms, finished);
        if index != self.next_index {
            self.pending.insert(index, text);
            return Ok(());
        }
        if let Some(early) = self.early.remove(&index) {
            self.out.write_all(early.as_bytes())?;
        }
        self.out.write_all(text.as_bytes())?;
        self.next_index += 1;
        while let Some(text) = self.pending.remove(&self.next_index) {
            if let Some(early) = self.early.remove(&self.next_index) {
                self.out.write_all(early.as_bytes())?;
            }
            self.out.write_all(text.as_bytes())?;
            self.next_index += 1;
        }
        if let Some(early) = self.early.remove(&self.next_index) {
            self.out.write_all(early.as_bytes())?;
        }
        Ok(())
    }

    fn record_page(
        &mut self,
        index: usize,
        elapsed_ms: u64,
        finished: &Finished<R>,
    ) -> io::Result<()> {
        let text = self.render(index, elapsed_ms, finished);
        if index == self.next_index {
            return self.out.write_all(text.as_bytes());
        }
        self.early.entry(index).or_default().push_str(&text);
        Ok(())
    }

    fn oldest_unwritten(&self) -> Option<usize> {
        Some(self.next_index)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write + Send, R: TableRow, T: serde::Serialize> Output<R, T> for Table<W, R> {
    fn finish(mut self: Box<Self>, summary: &Summary<'_, T>) -> io::Result<()> {
        // Rows a stop left unwritten are all recorded by now.
        let pending = std::mem::take(&mut self.pending);
        for (index, text) in pending {
            if let Some(early) = self.early.remove(&index) {
                self.out.write_all(early.as_bytes())?;
            }
            self.out.write_all(text.as_bytes())?;
        }
        writeln!(self.out)?;
        writeln!(self.out, "{}", summary_line(summary))?;
        self.out.flush()
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Error => "error",
        Status::Timeout => "timeout",
        Status::Cancelled => "cancelled",
        Status::Skipped => "skipped",
    }
}

/// `12 ms`, `1.21 s`, `2m03s`.
pub(crate) fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1000..=59_999 => format!("{:.2} s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
    }
}

/// Cuts `text` to `columns` characters, ending with `…` when cut.
fn cut(text: &str, columns: Option<usize>) -> String {
    let Some(columns) = columns else {
        return text.to_string();
    };
    if text.chars().count() <= columns {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(columns.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `13 items: 12 ok, 1 error in 1.21 s (one after another: 3.20 s)`.
fn summary_line<T: serde::Serialize>(summary: &Summary<'_, T>) -> String {
    let Counts {
        total,
        ok,
        error,
        timeout,
        cancelled,
        skipped,
    } = summary.counts;
    let mut parts = vec![format!("{ok} ok")];
    for (count, word) in [
        (error, "error"),
        (timeout, "timeout"),
        (cancelled, "cancelled"),
        (skipped, "skipped"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {word}"));
        }
    }
    let items = if total == 1 { "item" } else { "items" };
    let mut line = format!(
        "{total} {items}: {} in {} (one after another: {})",
        parts.join(", "),
        duration(summary.elapsed_ms),
        duration(summary.sum_ms)
    );
    if let Some(latency) = &summary.latency {
        line.push_str(&format!(
            "; ok items p50 {}, p90 {}, max {}",
            duration(latency.p50_ms.round() as u64),
            duration(latency.p90_ms.round() as u64),
            duration(latency.max_ms.round() as u64)
        ));
    }
    if let Some(reason) = summary.stopped_by {
        line.push_str(&format!("; stopped by {reason}"));
    }
    line
}

/// The width of the terminal on file descriptor `fd`, if it is one.
pub(crate) fn terminal_columns(fd: std::os::fd::RawFd) -> Option<usize> {
    // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct we pass,
    // which lives on this stack frame for the whole call; a bad or
    // non-terminal fd makes it fail with -1, which we check.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0 {
            Some(size.ws_col as usize)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorBody;

    struct Fake(&'static str);

    impl TableRow for Fake {
        fn row(&self) -> Row {
            Row {
                result: "200".into(),
                item: self.0.into(),
                below: if self.0 == "scan" {
                    vec!["3:5 time.sleep".into()]
                } else {
                    Vec::new()
                },
            }
        }
    }

    fn summary(counts: Counts) -> Summary<'static, ()> {
        Summary {
            counts,
            elapsed_ms: 1210,
            sum_ms: 3200,
            speedup: None,
            concurrency: 16,
            max_in_flight: 2,
            latency: None,
            stopped_by: None,
            extra: &(),
        }
    }

    #[test]
    fn the_text_is_what_a_person_reads() {
        let mut out = Vec::new();
        {
            let mut table = Table::<&mut Vec<u8>, Fake>::start(&mut out, 12, Some(60)).unwrap();
            let failed = Finished {
                status: Status::Error,
                error: Some(ErrorBody::new(
                    "http_status",
                    "HTTP 503 Service Unavailable",
                )),
                report: Fake("http://127.0.0.1:8080/flaky?id=doc&fail=1"),
                line: None,
            };
            table.record(1, 903, &failed).unwrap();
            table.record(0, 12, &Finished::ok(Fake("scan"))).unwrap();
            let counts = Counts {
                total: 2,
                ok: 1,
                error: 1,
                ..Counts::default()
            };
            Box::new(table).finish(&summary(counts)).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], " #  status     result              time  item");
        assert_eq!(lines[1], " 0  ok         200                12 ms  scan");
        assert_eq!(lines[2], "    3:5 time.sleep");
        assert_eq!(
            lines[3].chars().count(),
            60,
            "cut to the terminal: {}",
            lines[3]
        );
        assert!(lines[3].starts_with(" 1  error      200               903 ms  http://127.0.0.1"));
        assert!(lines[3].ends_with('…'));
        assert_eq!(lines[4], "");
        assert_eq!(
            lines[5],
            "2 items: 1 ok, 1 error in 1.21 s (one after another: 3.20 s)"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0), "0 ms");
        assert_eq!(duration(999), "999 ms");
        assert_eq!(duration(1210), "1.21 s");
        assert_eq!(duration(123_000), "2m03s");
    }
}
