//! `async_file_reader`: many files at once, one JSON result each, with
//! counts equal to GNU `wc`.
//!
//! The seed's `aiofiles` + `gather` script loaded whole files into memory
//! and counted the letter `n` as lines. Here items are expanded by
//! [`crate::walk`] (globs with `**` and `{a,b}`, no symlink loops), every
//! file streams once through a fixed buffer on a blocking thread (counts,
//! optional digest, optional capped text), and the shared runner bounds
//! concurrency, applies `--timeout` per file and `--deadline`, and prints.
//!
//! - [`args`]: the command line
//! - [`pool`]: the reader threads (few when reads are fast, more when slow)
//! - [`read`]: one file, on a reader thread
//! - [`count`]: `wc`-exact bytes, lines and characters
//! - [`content`]: `--content`, `--head`, `--tail` in bounded memory
//! - [`error`]: the error kinds

pub(crate) mod args;
pub(crate) mod content;
pub(crate) mod count;
pub(crate) mod error;
pub(crate) mod pool;
pub(crate) mod rank;
pub(crate) mod read;

pub(crate) use error::FileError;

use crate::app::{BoxedOutput, Expand, ExpandError, NotRun, Tool, off_runtime};
use crate::error::{FieldError, InputError};
use crate::input::{Feed, ParseItem, RawItem, reject_unknown_fields};
use crate::runner::Job;
use crate::stop::StopToken;
use crate::walk::{
    Expansion, Found, Target, WalkError, WalkOptions, check_target, expand_targets, path_bytes,
};
use crate::wire::{Finished, Status};
use args::{FilesCli, HashAlgorithm};
use content::Selection;
use pool::{ReaderPool, STALL};
use read::{FileFacts, READ_BUFFER, ReadPlan};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The tool's name, as `"tool"` in the JSON.
pub(crate) const NAME: &str = "async_file_reader";

/// The fields an `--input` object may have.
const FIELDS: &[&str] = &["path"];

/// One file's result fields (besides `index`, `status`, `elapsed_ms`, `error`).
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct FileReport {
    /// As matched or given, relative to `--root` (lossy when not UTF-8).
    pub(crate) path: String,
    /// The name's exact bytes, base64, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) path_bytes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) lines: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) chars: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) utf8_valid: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) binary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trailing_newline: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content: Option<String>,
    /// Present (true) when `content` was cut by `--max-content`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) truncated: Option<bool>,
}

impl crate::table::TableRow for FileReport {
    fn row(&self) -> crate::table::Row {
        let result = match (self.lines, self.bytes) {
            (Some(lines), _) => format!("{lines} lines"),
            (None, Some(bytes)) => format!("{bytes} bytes"),
            _ => String::new(),
        };
        crate::table::Row {
            result,
            item: self.path.clone(),
            below: Vec::new(),
        }
    }
}

/// The summary fields `async_file_reader` adds.
#[derive(Debug, Default, Serialize)]
pub(crate) struct FileTotals {
    /// Sums over the files read (status ok).
    pub(crate) bytes: u64,
    pub(crate) lines: u64,
    pub(crate) chars: u64,
    /// Directories that could not be walked, symlink loops skipped.
    pub(crate) walk_errors: Vec<WalkError>,
    /// The same sums per file extension (the part after the last dot; `""`
    /// for none), with the number of files.
    pub(crate) by_extension: BTreeMap<String, rank::ExtensionTotals>,
    /// With `--top`: files read ok that were not printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) left_out: Option<u64>,
    /// Files read ok.
    #[serde(skip)]
    pub(crate) ok_files: u64,
}

impl FileTotals {
    fn tally(&mut self, finished: &Finished<FileReport>) {
        if finished.status == Status::Ok {
            let report = &finished.report;
            self.bytes += report.bytes.unwrap_or(0);
            self.lines += report.lines.unwrap_or(0);
            self.chars += report.chars.unwrap_or(0);
            self.ok_files += 1;
            rank::tally_extension(&mut self.by_extension, report);
        }
    }
}

/// One result to come: a file to read, or a pattern that matched nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileItem {
    File(Found),
    /// A pattern (or a walked directory) that matched no file: kind `no_match`.
    NoMatch(String),
}

impl FileItem {
    /// What the result's `path` shows, and what the results are sorted by.
    fn shown(&self) -> &Path {
        match self {
            FileItem::File(found) => &found.path,
            FileItem::NoMatch(pattern) => Path::new(pattern),
        }
    }
}

/// Items: positional arguments and `--input` strings are paths or
/// patterns; `{"path": ...}` objects are literal paths.
impl ParseItem for FilesTool {
    type Item = Target;

    fn parse_item(&self, raw: RawItem) -> Result<Target, FieldError> {
        let target = match raw {
            RawItem::Arg(text) | RawItem::Json(Value::String(text)) => Target::Auto(text),
            RawItem::Json(Value::Object(object)) => {
                reject_unknown_fields(&object, FIELDS)?;
                match object.get("path") {
                    Some(Value::String(path)) if !path.is_empty() => {
                        Target::Literal(PathBuf::from(path))
                    }
                    Some(Value::String(_)) => {
                        return Err(FieldError::new("path", "an empty path"));
                    }
                    Some(_) => return Err(FieldError::new("path", "must be a string")),
                    None => return Err(FieldError::new("path", "missing `path`")),
                }
            }
            RawItem::Json(_) => {
                return Err(FieldError::whole_item(
                    "an item must be a path or pattern string, or an object with `path`",
                ));
            }
        };
        check_target(&target, &self.options).map_err(FieldError::whole_item)?;
        Ok(target)
    }
}

/// The `async_file_reader` tool: how to find and read files.
pub(crate) struct FilesTool {
    options: WalkOptions,
    timeout: Duration,
    pool: ReaderPool,
    sort_by: rank::SortKey,
    top: Option<usize>,
}

impl FilesTool {
    /// Builds the tool from its command line; errors are bad usage (exit 2).
    fn new(cli: &FilesCli) -> Result<Self, InputError> {
        let root = cli.root.clone().unwrap_or_else(|| PathBuf::from("."));
        if !root.is_dir() {
            return Err(
                InputError::new(format!("`{}` is not a directory", root.display()))
                    .with_field("--root"),
            );
        }
        let selection = match (cli.head, cli.tail, cli.content) {
            (Some(lines), _, _) => Some(Selection::Head(lines)),
            (None, Some(lines), _) => Some(Selection::Tail(lines)),
            (None, None, true) => Some(Selection::All),
            (None, None, false) => None,
        };
        let plan = ReadPlan {
            selection,
            max_content: usize::try_from(cli.max_content).unwrap_or(usize::MAX),
            sha256: cli.hash == Some(HashAlgorithm::Sha256),
            buffer_size: READ_BUFFER,
        };
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let concurrency = cli.common.concurrency as usize;
        Ok(FilesTool {
            options: WalkOptions {
                hidden: cli.hidden,
                follow_links: cli.follow,
                ..WalkOptions::new(root)
            },
            timeout: cli.timeout,
            pool: ReaderPool::new(plan, cores, concurrency),
            sort_by: cli.sort_by,
            top: cli
                .top
                .map(|top| usize::try_from(top).unwrap_or(usize::MAX)),
        })
    }

    fn report(&self, item: &FileItem, facts: FileFacts) -> FileReport {
        let counts = facts.counts;
        let (content, truncated) = match facts.captured {
            // Text only: not for binary files or files that are not UTF-8.
            Some(captured) if counts.utf8_valid && !counts.binary => match captured.into_text() {
                Some((text, truncated)) => (Some(text), truncated.then_some(true)),
                None => (None, None),
            },
            _ => (None, None),
        };
        FileReport {
            bytes: Some(counts.bytes),
            lines: Some(counts.lines),
            chars: Some(counts.chars),
            utf8_valid: Some(counts.utf8_valid),
            binary: Some(counts.binary),
            trailing_newline: Some(counts.trailing_newline),
            sha256: facts.sha256,
            content,
            truncated,
            ..self.identity(item)
        }
    }
}

impl Job for FilesTool {
    type Spec = FileItem;
    type Report = FileReport;

    fn identity(&self, spec: &FileItem) -> FileReport {
        FileReport {
            path: spec.shown().to_string_lossy().into_owned(),
            path_bytes: path_bytes(spec.shown()),
            ..FileReport::default()
        }
    }

    async fn run(self: Arc<Self>, spec: FileItem, stop: StopToken) -> Finished<FileReport> {
        let path = match &spec {
            FileItem::File(Found {
                special: Some(special),
                ..
            }) => {
                let error = FileError::Matched(special.name());
                return Finished::failed(self.identity(&spec), &error);
            }
            FileItem::File(found) => &found.path,
            FileItem::NoMatch(pattern) => {
                let error = FileError::NoMatch(pattern.clone());
                return Finished::failed(self.identity(&spec), &error);
            }
        };
        let pending = match self.pool.submit(self.options.resolve(path)) {
            Ok(pending) => pending,
            Err(error) => return Finished::failed(self.identity(&spec), &error),
        };
        let ticket = pending.ticket.clone();
        let deadline = Instant::now() + self.timeout;
        let waiting = async {
            let mut reply = pending.reply;
            loop {
                let check = (Instant::now() + STALL).min(deadline);
                match tokio::time::timeout_at(check, &mut reply).await {
                    Ok(reply) => return Some(reply),
                    Err(_) if Instant::now() >= deadline => return None,
                    // Every reader is busy (slow or stuck reads): add one.
                    Err(_) if ticket.is_queued() => self.pool.grow(),
                    Err(_) => {}
                }
            }
        };
        let error = match stop.race(waiting).await {
            Ok(Some(Ok(Ok(facts)))) => return Finished::ok(self.report(&spec, facts)),
            Ok(Some(Ok(Err(error)))) => error,
            Ok(Some(Err(_closed))) => {
                return Finished::internal(self.identity(&spec), "the reader thread went away");
            }
            Ok(None) => {
                // A read stuck in the kernel is abandoned, never waited for.
                self.pool.abandon(&pending.ticket);
                FileError::Timeout(self.timeout)
            }
            Err(reason) => {
                self.pool.abandon(&pending.ticket);
                return Finished::stopped(self.identity(&spec), reason, true);
            }
        };
        Finished::failed(self.identity(&spec), &error)
    }
}

crate::app::tool_cli!(FilesCli, patterns);

impl Tool for FilesTool {
    const NAME: &'static str = NAME;
    type Cli = FilesCli;
    type Totals = FileTotals;
    type Expand = Self;
    const RUN_ON_WORKER: bool = true;

    fn from_cli(cli: &FilesCli) -> Result<Self, NotRun> {
        Ok(FilesTool::new(cli)?)
    }

    fn tally(&self, totals: &mut FileTotals, finished: &Finished<FileReport>) {
        totals.tally(finished);
        totals.left_out = rank::left_out(totals, self.top);
    }

    /// `--sort-by` and `--top` hold and rank the results.
    fn arrange(&self, output: BoxedOutput<Self>) -> BoxedOutput<Self> {
        if self.sort_by == rank::SortKey::Path && self.top.is_none() {
            return output;
        }
        Box::new(rank::Ranked::new(output, self.sort_by, self.top))
    }

    /// Files a directory walk could not list make the run not ok.
    fn incomplete(&self, totals: &FileTotals) -> bool {
        totals.walk_errors.iter().any(WalkError::loses_files)
    }
}

impl Expand<FilesTool> for FilesTool {
    /// The walk: patterns and paths become the files they match, sorted
    /// and de-duplicated (so the whole list is held: about 100 bytes a
    /// file); a pattern that matches nothing becomes a `no_match` result,
    /// sorted in by its text. A stop during the walk lists nothing.
    async fn expand(
        tool: Arc<Self>,
        items: Feed<Target>,
        stop: StopToken,
        totals: &mut FileTotals,
    ) -> Result<Feed<FileItem>, ExpandError> {
        let targets = items.collect().await?;
        let options = tool.options.clone();
        let walk = move || expand_targets(&targets, &options);
        let Some(expansion) = off_runtime(NAME, "matching patterns", &stop, walk).await? else {
            return Ok(Feed::from_vec(Vec::new()));
        };
        let Expansion {
            files,
            unmatched,
            errors,
        } = expansion.map_err(|error| InputError::new(error.to_string()))?;
        for pattern in &unmatched {
            eprintln!("{NAME}: no file matches `{pattern}`");
        }
        for error in &errors {
            eprintln!("{NAME}: {error}");
        }
        totals.walk_errors = errors;
        let mut specs: Vec<FileItem> = files.into_iter().map(FileItem::File).collect();
        specs.extend(unmatched.into_iter().map(FileItem::NoMatch));
        specs.sort_by(|a, b| a.shown().cmp(b.shown()));
        specs.dedup();
        Ok(Feed::from_vec(specs))
    }
}
