//! `--sort-by` and `--top N`: "which 3 files have the most lines?" in one
//! call, and totals per extension ("how many lines do the .md files have?").
//!
//! Ranking needs every file's count before the first result is printed, so
//! [`Ranked`] holds results instead of streaming them: with `--top N` only
//! the N best files so far (a bounded heap), without it all of them (about
//! the size of their JSON). Results that are not `ok` are always printed,
//! after the ranked files: a ranking never hides an error. A result's
//! `index` is then its position in the printed order.

use super::{FileReport, FileTotals};
use crate::output::Output;
use crate::runner::Sink;
use crate::wire::{Finished, Status, Summary};
use clap::ValueEnum;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::io;

/// `--sort-by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SortKey {
    /// Most lines first.
    Lines,
    /// Most bytes first.
    Bytes,
    /// Most characters first.
    Chars,
    /// By path (the default order).
    Path,
}

/// Extensions counted apart in `by_extension`; the rest go under `*`.
const MAX_EXTENSIONS: usize = 256;

/// Totals of one extension's files (status ok).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct ExtensionTotals {
    pub(crate) files: u64,
    pub(crate) bytes: u64,
    pub(crate) lines: u64,
    pub(crate) chars: u64,
}

/// Adds a file read ok to its extension's totals: the part of the name
/// after its last dot (`tar.gz` counts as `gz`), `""` for none.
pub(crate) fn tally_extension(
    by_extension: &mut BTreeMap<String, ExtensionTotals>,
    report: &FileReport,
) {
    let name = report.path.rsplit('/').next().unwrap_or(&report.path);
    let extension = match name.rfind('.') {
        Some(0) | None => "",
        Some(dot) => &name[dot + 1..],
    };
    let key = if by_extension.contains_key(extension) || by_extension.len() < MAX_EXTENSIONS {
        extension
    } else {
        "*"
    };
    let totals = by_extension.entry(key.to_string()).or_default();
    totals.files += 1;
    totals.bytes += report.bytes.unwrap_or(0);
    totals.lines += report.lines.unwrap_or(0);
    totals.chars += report.chars.unwrap_or(0);
}

/// One held result, ordered so that the heap's top is the one to drop
/// first (the worst of the kept ones).
struct Held {
    key: SortKey,
    elapsed_ms: u64,
    finished: Finished<FileReport>,
}

impl Held {
    fn count(&self) -> u64 {
        let report = &self.finished.report;
        match self.key {
            SortKey::Lines => report.lines.unwrap_or(0),
            SortKey::Bytes => report.bytes.unwrap_or(0),
            SortKey::Chars => report.chars.unwrap_or(0),
            SortKey::Path => 0,
        }
    }

    /// Printing order: bigger counts first, then by path.
    fn order(&self, other: &Held) -> Ordering {
        other
            .count()
            .cmp(&self.count())
            .then_with(|| self.finished.report.path.cmp(&other.finished.report.path))
    }
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.order(other) == Ordering::Equal
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    /// Max-heap by printing order: the top is the last to print.
    fn cmp(&self, other: &Self) -> Ordering {
        self.order(other)
    }
}

/// Holds results, then prints the ranked ones and every other one.
pub(crate) struct Ranked<'a> {
    inner: Box<dyn Output<FileReport, FileTotals> + 'a>,
    key: SortKey,
    top: Option<usize>,
    kept: BinaryHeap<Held>,
    /// Results not ok: printed after the ranking, in the order they came.
    others: Vec<(u64, Finished<FileReport>)>,
}

impl<'a> Ranked<'a> {
    pub(crate) fn new(
        inner: Box<dyn Output<FileReport, FileTotals> + 'a>,
        key: SortKey,
        top: Option<usize>,
    ) -> Self {
        Ranked {
            inner,
            key,
            top,
            kept: BinaryHeap::new(),
            others: Vec::new(),
        }
    }
}

impl Sink<FileReport> for Ranked<'_> {
    fn record(
        &mut self,
        _index: usize,
        elapsed_ms: u64,
        finished: &Finished<FileReport>,
    ) -> io::Result<()> {
        let copy = Finished {
            status: finished.status,
            error: finished.error.clone(),
            report: finished.report.clone(),
            line: finished.line,
        };
        if finished.status != Status::Ok {
            self.others.push((elapsed_ms, copy));
            return Ok(());
        }
        self.kept.push(Held {
            key: self.key,
            elapsed_ms,
            finished: copy,
        });
        if self.top.is_some_and(|top| self.kept.len() > top) {
            self.kept.pop();
        }
        Ok(())
    }
}

impl Output<FileReport, FileTotals> for Ranked<'_> {
    fn finish(self: Box<Self>, summary: &Summary<'_, FileTotals>) -> io::Result<()> {
        let Ranked {
            mut inner,
            kept,
            others,
            ..
        } = *self;
        let ranked = kept.into_sorted_vec();
        let printed = ranked
            .into_iter()
            .map(|held| (held.elapsed_ms, held.finished))
            .chain(others);
        for (index, (elapsed_ms, finished)) in printed.enumerate() {
            inner.record(index, elapsed_ms, &finished)?;
        }
        inner.finish(summary)
    }
}

/// `left_out` in the summary: files read ok that `--top` did not print.
pub(crate) fn left_out(totals: &FileTotals, top: Option<usize>) -> Option<u64> {
    top.map(|top| totals.ok_files.saturating_sub(top as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::{Format, Printer};

    fn file(path: &str, lines: u64) -> Finished<FileReport> {
        Finished::ok(FileReport {
            path: path.into(),
            lines: Some(lines),
            bytes: Some(lines * 10),
            ..FileReport::default()
        })
    }

    fn printed(
        key: SortKey,
        top: Option<usize>,
        results: Vec<Finished<FileReport>>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        {
            let printer = Printer::start("async_file_reader", Format::Ndjson, &mut out).unwrap();
            let mut ranked = Box::new(Ranked::new(Box::new(printer), key, top));
            for (index, finished) in results.iter().enumerate() {
                ranked.record(index, 1, finished).unwrap();
            }
            let totals = FileTotals::default();
            ranked
                .finish(&crate::printer::zero_summary(&totals))
                .unwrap();
        }
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                format!(
                    "{}:{}",
                    value["index"],
                    value["path"].as_str().unwrap_or("summary")
                )
            })
            .collect()
    }

    #[test]
    fn top_keeps_the_biggest_and_every_failure() {
        let missing = Finished {
            status: Status::Error,
            error: Some(crate::error::ErrorBody::new("not_found", "no such file")),
            report: FileReport {
                path: "gone.txt".into(),
                ..FileReport::default()
            },
            line: None,
        };
        let results = vec![
            file("a.md", 5),
            file("b.md", 50),
            missing,
            file("c.md", 500),
            file("d.md", 50),
        ];
        assert_eq!(
            printed(SortKey::Lines, Some(2), results),
            ["0:c.md", "1:b.md", "2:gone.txt", "null:summary"]
        );
    }

    #[test]
    fn sorting_without_top_prints_every_file() {
        let results = vec![file("b", 1), file("a", 1), file("c", 3)];
        assert_eq!(
            printed(SortKey::Lines, None, results),
            ["0:c", "1:a", "2:b", "null:summary"]
        );
        let results = vec![file("b", 1), file("a", 9)];
        assert_eq!(
            printed(SortKey::Path, Some(1), results),
            ["0:a", "null:summary"]
        );
    }

    #[test]
    fn extensions_are_the_part_after_the_last_dot() {
        let mut by_extension = BTreeMap::new();
        for path in ["a.md", "dir.v2/b", ".hidden", "c.tar.gz", "d.MD", "e.md"] {
            tally_extension(
                &mut by_extension,
                &FileReport {
                    path: path.into(),
                    lines: Some(2),
                    ..FileReport::default()
                },
            );
        }
        let keys: Vec<&str> = by_extension.keys().map(String::as_str).collect();
        assert_eq!(keys, ["", "MD", "gz", "md"]);
        assert_eq!(by_extension["md"].files, 2);
        assert_eq!(by_extension["md"].lines, 4);
        assert_eq!(by_extension[""].files, 2);
    }
}
