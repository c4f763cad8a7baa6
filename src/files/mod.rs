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

pub mod args;
pub mod content;
pub mod count;
pub mod error;
pub mod pool;
pub mod read;

pub use error::FileError;

use crate::app::{block_on, check_or_exit, execute, watch_stop};
use crate::error::{ErrorBody, FieldError, InputError};
use crate::exit::Exit;
use crate::input::{Feed, ParseItem, RawItem, feed, reject_unknown_fields};
use crate::printer::print_input_error;
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
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The binary's name, as `"tool"` in the JSON.
pub const NAME: &str = "async_file_reader";

/// The fields an `--input` object may have.
pub const FIELDS: &[&str] = &["path"];

/// One file's result fields (besides `index`, `status`, `elapsed_ms`, `error`).
#[derive(Debug, Default, Serialize)]
pub struct FileReport {
    /// As matched or given, relative to `--root` (lossy when not UTF-8).
    pub path: String,
    /// The name's exact bytes, base64, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chars: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utf8_valid: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trailing_newline: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Present (true) when `content` was cut by `--max-content`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

/// The summary fields `async_file_reader` adds.
#[derive(Debug, Default, Serialize)]
pub struct FileTotals {
    /// Sums over the files read (status ok).
    pub bytes: u64,
    pub lines: u64,
    pub chars: u64,
    /// Patterns that matched no file, in input order.
    pub unmatched: Vec<String>,
    /// Directories that could not be walked, symlink loops skipped.
    pub walk_errors: Vec<WalkError>,
}

impl FileTotals {
    fn tally(&mut self, finished: &Finished<FileReport>) {
        if finished.status == Status::Ok {
            let report = &finished.report;
            self.bytes += report.bytes.unwrap_or(0);
            self.lines += report.lines.unwrap_or(0);
            self.chars += report.chars.unwrap_or(0);
        }
    }
}

/// Checks and parses items: positional arguments and `--input` strings
/// are paths or patterns; `{"path": ...}` objects are literal paths.
pub struct ItemParser {
    options: WalkOptions,
}

impl ParseItem for ItemParser {
    type Spec = Target;

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
pub struct FilesTool {
    options: WalkOptions,
    timeout: Duration,
    pool: ReaderPool,
}

impl FilesTool {
    /// Builds the tool from its command line; errors are bad usage (exit 2).
    pub fn from_cli(cli: &FilesCli) -> Result<Self, InputError> {
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
        })
    }

    fn report(&self, found: &Found, facts: FileFacts) -> FileReport {
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
            ..self.identity(found)
        }
    }
}

impl Job for FilesTool {
    type Spec = Found;
    type Report = FileReport;

    fn identity(&self, spec: &Found) -> FileReport {
        FileReport {
            path: spec.path.to_string_lossy().into_owned(),
            path_bytes: path_bytes(&spec.path),
            ..FileReport::default()
        }
    }

    async fn run(self: Arc<Self>, spec: Found, stop: StopToken) -> Finished<FileReport> {
        if let Some(special) = spec.special {
            let error = FileError::Matched(special.name());
            let body = ErrorBody::from_failure(&error);
            return Finished::failed(self.identity(&spec), Status::Error, body);
        }
        let pending = match self.pool.submit(self.options.resolve(&spec.path)) {
            Ok(pending) => pending,
            Err(error) => {
                return Finished::failed(
                    self.identity(&spec),
                    Status::Error,
                    ErrorBody::from_failure(&error),
                );
            }
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
            Ok(Some(Err(_closed))) => FileError::Internal("the reader thread went away".into()),
            Ok(None) => {
                // A read stuck in the kernel is abandoned, never waited for.
                self.pool.abandon(&pending.ticket);
                let error = FileError::Timeout(self.timeout);
                return Finished::failed(
                    self.identity(&spec),
                    Status::Timeout,
                    ErrorBody::from_failure(&error),
                );
            }
            Err(reason) => {
                self.pool.abandon(&pending.ticket);
                return Finished::stopped(self.identity(&spec), reason, true);
            }
        };
        Finished::failed(
            self.identity(&spec),
            Status::Error,
            ErrorBody::from_failure(&error),
        )
    }
}

/// The whole life of `async_file_reader`; `args` starts with the program name.
pub fn main(args: Vec<std::ffi::OsString>) -> Exit {
    match crate::cli::parse_args::<FilesCli, _, _>(NAME, args) {
        Ok(cli) => run(&cli),
        Err(exit) => exit,
    }
}

/// Check, expand, read, print; the exit code.
fn run(cli: &FilesCli) -> Exit {
    let tool = match FilesTool::from_cli(cli) {
        Ok(tool) => tool,
        Err(error) => {
            print_input_error(NAME, &error);
            return Exit::Usage;
        }
    };
    let parser = ItemParser {
        options: tool.options.clone(),
    };
    let checked = match check_or_exit(NAME, &parser, &cli.common, &cli.patterns) {
        Ok(checked) => checked,
        Err(exit) => return exit,
    };
    let common = cli.common.clone();
    let tool = Arc::new(tool);
    // The run goes on a worker thread rather than on this one (where
    // `block_on` would poll it): finished items then wake the runner on
    // the thread they finished on, not across threads, which is most of
    // the cost of ten thousand small files.
    let run = async move {
        let common = &common;
        // Taken before the walk: Ctrl-C or `--deadline` during a long walk
        // still ends the run with JSON printed.
        let stop = watch_stop(NAME, common);
        let capacity = (common.concurrency as usize).saturating_mul(2).max(64);
        let mut items = feed(checked, Arc::new(parser), capacity);
        let mut targets = Vec::new();
        while let Some((_, target)) = items.next().await {
            targets.push(target);
        }
        if let Some(error) = items.late_error.get() {
            print_input_error(NAME, error);
            return Exit::Usage;
        }
        let options = tool.options.clone();
        let walk = tokio::task::spawn_blocking(move || expand_targets(&targets, &options));
        let expansion = match stop.race(walk).await {
            Ok(Ok(Ok(expansion))) => expansion,
            Ok(Ok(Err(error))) => {
                print_input_error(NAME, &InputError::new(error.to_string()));
                return Exit::Usage;
            }
            Ok(Err(panic)) => {
                eprintln!("{NAME}: internal error while expanding patterns: {panic}");
                return Exit::SomeFailed;
            }
            // Stopped mid-walk: no file is known yet, so none is listed;
            // the summary says why (`stopped_by`), and the exit is not 0.
            Err(reason) => {
                eprintln!(
                    "{NAME}: stopped while matching patterns ({})",
                    reason.word()
                );
                Expansion::default()
            }
        };
        let Expansion {
            files,
            unmatched,
            errors,
        } = expansion;
        for pattern in &unmatched {
            eprintln!("{NAME}: no file matches `{pattern}`");
        }
        for error in &errors {
            eprintln!("{NAME}: {error}");
        }
        let incomplete = !unmatched.is_empty() || errors.iter().any(WalkError::loses_files);
        let total = files.len() as u64;
        let mut totals = FileTotals {
            unmatched,
            walk_errors: errors,
            ..FileTotals::default()
        };
        let exit = execute(
            stop,
            NAME,
            tool,
            Feed::from_vec(files),
            total,
            common,
            &mut totals,
            FileTotals::tally,
        )
        .await;
        match exit {
            Exit::Success if incomplete => Exit::SomeFailed,
            other => other,
        }
    };
    block_on(async move {
        tokio::spawn(run).await.unwrap_or_else(|panic| {
            eprintln!("{NAME}: internal error (a bug, please report it): {panic}");
            Exit::SomeFailed
        })
    })
}
