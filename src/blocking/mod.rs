//! `find_blocking_calls`: blocking calls inside async Python and Rust code,
//! one JSON result per file.
//!
//! The seeds' warning ("`time.sleep` or `requests.get` inside `async def`
//! freezes every other task") made checkable: files are parsed (Python with
//! ruff's parser, Rust with tree-sitter; never matched with regexes),
//! imports and aliases are resolved,
//! and only calls lexically inside a coroutine count; a `def` nested in an
//! `async def`, or a closure handed to a thread, does not.
//!
//! - [`rules`]: the rule table (one entry per rule) and the known object types
//! - [`python`], [`rust`]: the analyzers (scopes, name resolution, what is "inside")
//! - [`tree`]: the walk and the tree-sitter lookups of the Rust analyzer
//! - [`scan`]: parse one file, analyze, apply `blocking: ok` suppressions
//! - [`nesting`]: Python files nested too deep to parse in bounded memory
//! - [`finding`]: what a finding holds and prints, its suggestion filled in
//! - [`sarif`]: `--format sarif` (SARIF 2.1.0) and `--format github` writers
//! - [`items`]: paths, directories and globs → files
//! - [`error`]: the error kinds

pub(crate) mod args;
pub(crate) mod error;
pub(crate) mod finding;
pub(crate) mod items;
pub(crate) mod nesting;
pub(crate) mod python;
pub(crate) mod rules;
pub(crate) mod rust;
pub(crate) mod sarif;
pub(crate) mod scan;
pub(crate) mod tree;

pub(crate) use error::ScanError;

use crate::app::{
    BoxedOutput, Destination, Expand, ExpandError, NotRun, Scheduler, Tool, off_runtime,
    table_output,
};
use crate::error::{FieldError, InputError};
use crate::exit::Exit;
use crate::input::{Feed, ParseItem, RawItem, reject_unknown_fields};
use crate::offload::{Offload, Overran};
use crate::output::{Output, OutputFormat};
use crate::runner::Job;
use crate::runner::Sink;
use crate::stop::StopToken;
use crate::walk::WalkOptions;
use crate::wire::Summary;
use crate::wire::{Finished, Status};
use args::BlockingCli;
use finding::Finding;
use items::FileSpec;
use rules::Language;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The binary's name, shown as `"tool"`.
pub(crate) const NAME: &str = "find_blocking_calls";

/// The fields an `--input` object may have.
pub(crate) const FIELDS: &[&str] = &["path"];

/// One file's result fields (besides `index`, `status`, `elapsed_ms`, `error`).
#[derive(Debug, Default, Serialize)]
pub(crate) struct FileReport {
    pub(crate) path: String,
    /// The name's exact bytes, base64, when it is not UTF-8 (`path` is then lossy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) path_bytes: Option<String>,
    /// `python` or `rust`; absent when the item is not a file of either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) language: Option<Language>,
    /// Lines in the file (when it was read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) lines: Option<u64>,
    /// The findings, in line order (when the file was scanned; empty when clean).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) findings: Option<Vec<Finding>>,
    /// Findings past `--max-findings`: counted, not listed (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) findings_omitted: Option<u64>,
    /// Findings silenced by a `blocking: ok` comment (when the file was scanned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) suppressed: Option<u64>,
    /// Where: line and rule of each (the first `--max-findings`; absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) suppressed_calls: Option<Vec<scan::Suppressed>>,
    /// Regions not looked into: syntax errors, nesting too deep (the first
    /// [`scan::MAX_REGIONS`]; absent when the whole file was scanned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) unscanned: Option<Vec<scan::Region>>,
    /// How many regions were not looked into (with `unscanned`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) unscanned_total: Option<u64>,
    /// All findings (listed or not) of category blocking and misuse, for the summary.
    #[serde(skip)]
    pub(crate) by_category: (u64, u64),
}

impl crate::table::TableRow for FileReport {
    fn row(&self) -> crate::table::Row {
        let listed = self.findings.as_deref().unwrap_or(&[]);
        let count = listed.len() as u64 + self.findings_omitted.unwrap_or(0);
        let result = match (&self.findings, count) {
            (None, _) => String::new(),
            (Some(_), 0) => "clean".to_string(),
            (Some(_), 1) => "1 finding".to_string(),
            (Some(_), count) => format!("{count} findings"),
        };
        let below = listed
            .iter()
            .map(|finding| {
                format!(
                    "{}:{}  {}  {}  ->  {}",
                    finding.line, finding.column, finding.rule, finding.call, finding.suggestion
                )
            })
            .collect();
        crate::table::Row {
            result,
            item: self.path.clone(),
            below,
        }
    }
}

/// The summary fields `find_blocking_calls` adds.
#[derive(Debug, Default, Serialize)]
pub(crate) struct ScanTotals {
    /// Findings over all files (listed or not).
    pub(crate) findings: u64,
    /// Of those, past `--max-findings` (counted, not listed).
    pub(crate) findings_omitted: u64,
    /// Findings of category `blocking`: calls that block the event loop.
    pub(crate) blocking: u64,
    /// Findings of category `misuse`: coroutines never awaited, loops started in a loop.
    pub(crate) misuse: u64,
    /// Findings silenced by `blocking: ok` comments.
    pub(crate) suppressed: u64,
    /// Files scanned only in part (regions listed in their `unscanned`).
    pub(crate) files_incomplete: u64,
    /// Lines scanned.
    pub(crate) lines: u64,
    /// Files scanned, per language.
    pub(crate) files: FileCounts,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct FileCounts {
    pub(crate) python: u64,
    pub(crate) rust: u64,
}

/// Settings that shape every file's scan.
#[derive(Debug, Clone)]
pub(crate) struct ScanSettings {
    pub(crate) timeout: Duration,
    pub(crate) max_file_size: u64,
    /// Only findings of these rules (all when empty).
    pub(crate) only_rules: HashSet<String>,
    /// Findings listed per file.
    pub(crate) max_findings: usize,
}

/// Scanning threads that may start beyond one a core, each only for a scan
/// that waited [`crate::offload::STALL`] with every thread busy: to replace
/// threads stuck in a read (tokio's blocking pool, used before, allowed 512).
const STUCK_REPLACEMENTS: usize = 64;

/// The `find_blocking_calls` tool.
pub(crate) struct BlockingTool {
    settings: ScanSettings,
    walk: WalkOptions,
    /// Scans in flight: two per core, one on each scanning thread and one
    /// waiting in its queue (taken the moment the thread is free). Parsing
    /// is CPU work: more at once would only add syntax trees in memory,
    /// not speed.
    parses: Arc<tokio::sync::Semaphore>,
    /// The threads that read and parse: one a core (the other parse slots
    /// wait in its queue, so a thread that finishes a file starts the next
    /// at once: 0.37 -> 0.32 s on 6,000 files against four threads), plus
    /// replacements for threads stuck in the kernel (a read on a hung
    /// network mount is abandoned at `--timeout`, its thread never joined).
    scanners: Arc<Offload>,
}

impl BlockingTool {
    fn new(settings: ScanSettings, walk: WalkOptions) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        BlockingTool {
            settings,
            walk,
            parses: Arc::new(tokio::sync::Semaphore::new(2 * cores)),
            scanners: Arc::new(Offload::with_spares(
                "find_blocking_calls-scan",
                cores,
                STUCK_REPLACEMENTS,
                crate::offload::STALL,
            )),
        }
    }
}

/// An item as given: a path, a directory or a glob pattern.
impl ParseItem for BlockingTool {
    type Item = String;

    fn parse_item(&self, raw: RawItem) -> Result<String, FieldError> {
        let text = match raw {
            RawItem::Arg(text) | RawItem::Json(Value::String(text)) => text,
            RawItem::Json(Value::Object(object)) => {
                reject_unknown_fields(&object, FIELDS)?;
                match object.get("path") {
                    Some(Value::String(path)) => path.clone(),
                    Some(_) => return Err(FieldError::new("path", "must be a string")),
                    None => {
                        return Err(FieldError::whole_item(
                            "an item is a path string or an object with a \"path\" string",
                        ));
                    }
                }
            }
            RawItem::Json(_) => {
                return Err(FieldError::whole_item(
                    "an item is a path string or an object with a \"path\" string",
                ));
            }
        };
        if text.is_empty() {
            return Err(FieldError::whole_item("empty path"));
        }
        items::check_item(&text, &self.walk).map_err(FieldError::whole_item)?;
        Ok(text)
    }
}

impl Job for BlockingTool {
    type Spec = FileSpec;
    type Report = FileReport;

    fn identity(&self, spec: &FileSpec) -> FileReport {
        FileReport {
            path: spec.shown.clone(),
            path_bytes: spec.path_bytes.clone(),
            language: spec.language,
            ..FileReport::default()
        }
    }

    async fn run(self: Arc<Self>, spec: FileSpec, stop: StopToken) -> Finished<FileReport> {
        let report = self.identity(&spec);
        if let Some(problem) = spec.problem.clone() {
            return Finished::failed(report, &problem);
        }
        // Waiting for a core is not part of the file's --timeout; a stop
        // while waiting cancels it (it never started).
        let _slot = match stop.race(self.parses.clone().acquire_owned()).await {
            Ok(slot) => slot.ok(),
            Err(reason) => return Finished::stopped(report, reason, false),
        };
        let settings = self.settings.clone();
        let timeout = settings.timeout;
        let watcher = stop.clone();
        // The file's --timeout starts when a scanning thread takes it, not
        // while it waits in the queue behind other files.
        let scan = move || {
            let deadline = Instant::now() + settings.timeout;
            scan_file(&spec, &settings, deadline, &watcher)
        };
        let unfinished = match on_scanner(&self.scanners, scan, timeout, &stop).await {
            Ok(FileOutcome::Done(finished)) => return finished,
            Ok(FileOutcome::Stopped) => match stop.reason() {
                Some(reason) => Unfinished::Stopped(reason),
                None => Unfinished::TimedOut,
            },
            Err(unfinished) => unfinished,
        };
        match unfinished {
            Unfinished::TimedOut => {
                let error = ScanError::Timeout(self.settings.timeout);
                Finished::failed(report, &error)
            }
            Unfinished::Stopped(reason) => Finished::stopped(report, reason, true),
            Unfinished::Panicked(detail) => Finished::internal(report, detail),
        }
    }
}

#[derive(Debug)]
// One per file, moved once: boxing it would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
enum FileOutcome {
    Done(Finished<FileReport>),
    /// The parse was abandoned: the run stopped, or `--timeout` passed.
    Stopped,
}

/// Why [`on_scanner`] returned without the scan's outcome.
#[derive(Debug)]
enum Unfinished {
    /// `--timeout` passed first.
    TimedOut,
    /// The run stopped first.
    Stopped(crate::stop::StopReason),
    /// The scan panicked (a bug).
    Panicked(String),
}

/// Runs `scan` on a scanning thread until it ends, `timeout` after a
/// thread took it passes, or the run stops, whichever is first. A thread
/// stuck in the kernel (a read on a hung network mount) cannot be
/// interrupted: it is abandoned, never waited for (neither is it at the
/// end of the run), and the next scan that finds every thread busy starts
/// another.
async fn on_scanner(
    scanners: &Offload,
    scan: impl FnOnce() -> FileOutcome + Send + 'static,
    timeout: Duration,
    stop: &StopToken,
) -> Result<FileOutcome, Unfinished> {
    match stop.race(scanners.run_for(scan, timeout)).await {
        Ok(Ok(Ok(outcome))) => Ok(outcome),
        Ok(Ok(Err(panic))) => Err(Unfinished::Panicked(panic)),
        Ok(Err(Overran)) => Err(Unfinished::TimedOut),
        Err(reason) => Err(Unfinished::Stopped(reason)),
    }
}

/// Reads, parses and analyzes one file (on a scanning thread), giving up
/// the parse at `deadline`.
fn scan_file(
    spec: &FileSpec,
    settings: &ScanSettings,
    deadline: Instant,
    stop: &StopToken,
) -> FileOutcome {
    let mut report = FileReport {
        path: spec.shown.clone(),
        path_bytes: spec.path_bytes.clone(),
        language: spec.language,
        ..FileReport::default()
    };
    let Some(language) = spec.language else {
        let error = ScanError::Unsupported(spec.shown.clone());
        return failed(report, &error);
    };
    let (file, size) = match open_regular(&spec.path, &spec.shown, spec.walked) {
        Ok(opened) => opened,
        Err(error) => return failed(report, &error),
    };
    if size > settings.max_file_size {
        let error = ScanError::TooLarge {
            size,
            limit: settings.max_file_size,
        };
        return failed(report, &error);
    }
    let mut source = match read_capped(file, size, settings.max_file_size) {
        Ok(source) => source,
        Err(error) => {
            let error = ScanError::reading(&spec.shown, &error);
            return failed(report, &error);
        }
    };
    if language == Language::Python {
        scan::python_line_endings(&mut source);
    }
    let mut keep_going = || !stop.is_stopped() && Instant::now() < deadline;
    let options = scan::ScanOptions {
        only_rules: &settings.only_rules,
        max_findings: settings.max_findings,
    };
    let scanned = match scan::scan_source(&spec.shown, &source, language, options, &mut keep_going)
    {
        Ok(scanned) => scanned,
        Err(scan::Abandoned::Stopped) => return FileOutcome::Stopped,
    };
    // The scan counted them; a file it refused is counted here.
    report.lines = Some(match &scanned {
        Ok(scanned) => scanned.lines,
        Err(_) => scan::count_lines(&source),
    });
    let scanned = match scanned {
        Ok(scanned) => scanned,
        Err(error) => return failed(report, &error),
    };
    let verdict = verdict(&scanned, language);
    report.by_category = (scanned.blocking, scanned.misuse);
    report.suppressed = Some(scanned.suppressed);
    report.suppressed_calls =
        (!scanned.suppressed_calls.is_empty()).then_some(scanned.suppressed_calls);
    report.findings_omitted = (scanned.findings_omitted > 0).then_some(scanned.findings_omitted);
    report.findings = Some(scanned.findings);
    if scanned.unscanned_total > 0 {
        report.unscanned = Some(scanned.unscanned);
        report.unscanned_total = Some(scanned.unscanned_total);
    }
    match verdict {
        None => FileOutcome::Done(Finished::ok(report)),
        Some(error) => failed(report, &error),
    }
}

/// Why a scanned file is not `ok`: findings first; else regions that were
/// not looked into (a file is never clean for code the tool did not read).
fn verdict(scanned: &scan::Scan, language: Language) -> Option<ScanError> {
    if scanned.blocking + scanned.misuse > 0 {
        return Some(ScanError::Findings {
            blocking: scanned.blocking,
            misuse: scanned.misuse,
        });
    }
    let regions = scanned.unscanned_total;
    let syntax = scanned
        .unscanned
        .iter()
        .find(|region| region.reason == scan::RegionReason::SyntaxError);
    if let Some(first) = syntax {
        return Some(ScanError::Parse {
            regions,
            line: first.line,
            column: first.column,
            language: match language {
                Language::Python => "Python",
                Language::Rust => "Rust",
            },
        });
    }
    let first = scanned.unscanned.first()?;
    Some(ScanError::TooDeep {
        regions,
        line: first.line,
    })
}

/// A file that ended with `error`.
fn failed(report: FileReport, error: &ScanError) -> FileOutcome {
    FileOutcome::Done(Finished::failed(report, error))
}

/// Opens a regular file for reading, with its size. Anything else (a
/// FIFO, socket, device, directory) is refused before it is opened: opening
/// or reading a FIFO waits for a writer that may never come, and opening a
/// device may do something. A file a walk met (`walked`) was seen to be a
/// regular file already: it is not asked again before it is opened (one
/// system call less a file), only after.
fn open_regular(path: &Path, shown: &str, walked: bool) -> Result<(File, u64), ScanError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io_error = |error: std::io::Error| ScanError::reading(shown, &error);
    let not_regular = |file_type: std::fs::FileType| ScanError::NotRegular {
        path: shown.to_string(),
        what: file_type_name(file_type),
    };
    if !walked {
        let metadata = std::fs::metadata(path).map_err(io_error)?;
        if !metadata.is_file() {
            return Err(not_regular(metadata.file_type()));
        }
    }
    // Non-blocking: should a FIFO take the file's place after the check,
    // opening it still returns at once, and it is refused below.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(not_regular(metadata.file_type()));
    }
    Ok((file, metadata.len()))
}

/// What a file that is not a regular file is, for the message.
fn file_type_name(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "directory"
    } else if file_type.is_fifo() {
        "FIFO (named pipe)"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_char_device() {
        "character device"
    } else if file_type.is_block_device() {
        "block device"
    } else {
        "special file"
    }
}

/// Reads at most `limit` bytes (the file may have grown since it was measured).
fn read_capped(file: File, size: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    // Sized from the file's length: one read and one at the end, where an
    // empty buffer grows from 32 bytes, a read each doubling (8 a file).
    let expected = usize::try_from(size.min(limit)).unwrap_or(0);
    let mut source = Vec::with_capacity(expected.saturating_add(1));
    file.take(limit).read_to_end(&mut source)?;
    Ok(source)
}

fn tally(totals: &mut ScanTotals, finished: &Finished<FileReport>) {
    let report = &finished.report;
    if let Some(findings) = &report.findings {
        let omitted = report.findings_omitted.unwrap_or(0);
        totals.findings += findings.len() as u64 + omitted;
        totals.findings_omitted += omitted;
        totals.blocking += report.by_category.0;
        totals.misuse += report.by_category.1;
        totals.suppressed += report.suppressed.unwrap_or(0);
        totals.files_incomplete += u64::from(report.unscanned.is_some());
        totals.lines += report.lines.unwrap_or(0);
        match report.language {
            Some(Language::Python) => totals.files.python += 1,
            Some(Language::Rust) => totals.files.rust += 1,
            None => {}
        }
    }
}

/// Prints the rule table (`--rules`).
fn print_rules() -> Exit {
    #[derive(Serialize)]
    struct RulesDoc {
        tool: &'static str,
        version: &'static str,
        #[serde(flatten)]
        table: rules::RuleTable,
    }
    let doc = RulesDoc {
        tool: NAME,
        version: crate::VERSION,
        table: rules::table(),
    };
    let mut stdout = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut stdout, &doc)
        .map_err(std::io::Error::other)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => Exit::Success,
        Err(error) => {
            eprintln!("{NAME}: cannot write the output: {error}");
            Exit::SomeFailed
        }
    }
}

crate::app::tool_cli!(BlockingCli, paths);

impl Tool for BlockingTool {
    const NAME: &'static str = NAME;
    type Cli = BlockingCli;
    type Totals = ScanTotals;
    type Expand = Self;
    const SCHEDULER: Scheduler = Scheduler::CurrentThread;

    fn from_cli(cli: &BlockingCli) -> Result<Self, NotRun> {
        if cli.rules {
            return Err(NotRun::Done(print_rules()));
        }
        let known: HashSet<&str> = rules::RULES.iter().map(|rule| rule.id).collect();
        if let Some(id) = cli
            .only_rules
            .iter()
            .find(|id| !known.contains(id.as_str()))
        {
            let error = InputError::new(format!("unknown rule `{id}` (see --rules for the list)"));
            return Err(error.with_field("--rule").into());
        }
        Ok(BlockingTool::new(
            ScanSettings {
                timeout: cli.timeout,
                max_file_size: cli.max_file_size,
                only_rules: cli.only_rules.iter().cloned().collect(),
                max_findings: cli.max_findings as usize,
            },
            items::walk_options(cli.hidden, !cli.no_ignore),
        ))
    }

    fn tally(&self, totals: &mut ScanTotals, finished: &Finished<FileReport>) {
        tally(totals, finished);
    }

    /// `table` as every tool; `sarif` and `github` for code scanning.
    fn output(
        &self,
        format: OutputFormat,
        out: Destination,
        total: u64,
    ) -> Option<std::io::Result<BoxedOutput<Self>>> {
        let writer: Box<dyn sarif::FindingsWriter + Send> = match format {
            OutputFormat::Sarif => match sarif::SarifWriter::start(out, rules::RULES) {
                Ok(writer) => Box::new(writer),
                Err(error) => return Some(Err(error)),
            },
            OutputFormat::Github => Box::new(sarif::GithubWriter::new(out)),
            OutputFormat::Table => return Some(table_output(out, total)),
            OutputFormat::Json => return None,
        };
        Some(Ok(Box::new(FindingsOutput { writer })))
    }
}

impl Expand<BlockingTool> for BlockingTool {
    /// The walk: items in input order become the files they stand for
    /// (see [`items`]); a stop during the walk lists nothing.
    async fn expand(
        tool: Arc<Self>,
        items: Feed<String>,
        stop: StopToken,
        _totals: &mut ScanTotals,
    ) -> Result<Feed<FileSpec>, ExpandError> {
        let patterns = items.collect().await?;
        let options = tool.walk.clone();
        let walk = move || items::expand(&patterns, &options);
        let files = off_runtime(NAME, "listing files", &stop, walk).await?;
        Ok(Feed::from_vec(files.unwrap_or_default()))
    }
}

/// What a SARIF or GitHub writer sees of one file.
fn file_view(finished: &Finished<FileReport>) -> sarif::FileView<'_> {
    let report = &finished.report;
    let problem = finished
        .error
        .as_ref()
        .filter(|error| !matches!(error.kind, "blocking_calls" | "async_misuse"))
        .filter(|_| finished.status != Status::Skipped)
        .map(|error| (error.kind, error.message.as_str()));
    sarif::FileView {
        path: &report.path,
        findings: report.findings.as_deref().unwrap_or(&[]),
        unscanned: report.unscanned.as_deref().unwrap_or(&[]),
        problem,
    }
}

/// `--format sarif|github`: a writer of [`sarif`] fed by the runner.
struct FindingsOutput {
    writer: Box<dyn sarif::FindingsWriter + Send>,
}

impl Sink<FileReport> for FindingsOutput {
    fn record(
        &mut self,
        _index: usize,
        _elapsed_ms: u64,
        finished: &Finished<FileReport>,
    ) -> std::io::Result<()> {
        self.writer.file(file_view(finished))
    }
}

impl Output<FileReport, ScanTotals> for FindingsOutput {
    fn finish(self: Box<Self>, _summary: &Summary<'_, ScanTotals>) -> std::io::Result<()> {
        self.writer.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stop::StopReason;
    use std::sync::mpsc;

    /// A scan that never ends on its own, like a read on a hung mount:
    /// it waits until the test drops the returned sender.
    fn stuck_scan() -> (
        mpsc::Sender<()>,
        mpsc::Receiver<()>,
        impl FnOnce() -> FileOutcome + Send + 'static,
    ) {
        let (release, stuck) = mpsc::channel::<()>();
        let (running, is_running) = mpsc::channel::<()>();
        (release, is_running, move || {
            let _ = running.send(());
            let _ = stuck.recv();
            FileOutcome::Stopped
        })
    }

    /// Yields (keeping the paused runtime busy, so its clock stays put)
    /// until the stuck scan runs on its thread.
    async fn until_running(is_running: &mpsc::Receiver<()>) {
        while is_running.try_recv().is_err() {
            tokio::task::yield_now().await;
        }
    }

    /// Whether `task` ends within a few turns of the (paused) runtime;
    /// never waits for it, so a test that should fail fails, not hangs.
    async fn ends_soon<T>(task: &tokio::task::JoinHandle<T>) -> bool {
        for _ in 0..20 {
            if task.is_finished() {
                return true;
            }
            tokio::task::yield_now().await;
        }
        task.is_finished()
    }

    #[tokio::test(start_paused = true)]
    async fn a_scan_stuck_on_its_thread_is_abandoned_at_the_deadline() {
        let (release, is_running, scan) = stuck_scan();
        let stop = StopToken::new(None);
        let scanners = Arc::new(Offload::with_spares("test", 1, 1, crate::offload::STALL));
        let pool = scanners.clone();
        let timeout = Duration::from_secs(10);
        let waiting = tokio::spawn(async move { on_scanner(&pool, scan, timeout, &stop).await });
        until_running(&is_running).await;
        assert!(
            !ends_soon(&waiting).await,
            "nothing ends it before the deadline"
        );
        // The yields keep the paused runtime busy: its clock moves only
        // here. The limit counts from the first look that finds the scan
        // running (every offload::STALL), not from the queue.
        tokio::time::advance(crate::offload::STALL).await;
        assert!(!ends_soon(&waiting).await, "the limit has just started");
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!ends_soon(&waiting).await, "9 s into a limit of 10");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(
            ends_soon(&waiting).await,
            "still waiting for the stuck thread"
        );
        let outcome = waiting.await.expect("the waiting task ends");
        assert!(matches!(outcome, Err(Unfinished::TimedOut)), "{outcome:?}");
        // The stuck thread is still busy: the next scan, having waited
        // offload::STALL in the queue, gets a spare thread (an hour of the
        // paused clock fails the test rather than hanging it).
        let next = tokio::time::timeout(Duration::from_secs(3600), scanners.run(|| 42));
        assert_eq!(next.await, Ok(Some(42)));
        drop(release);
    }

    #[tokio::test(start_paused = true)]
    async fn a_scan_stuck_on_its_thread_is_abandoned_when_the_run_stops() {
        let (release, is_running, scan) = stuck_scan();
        let stop = StopToken::new(None);
        let stopper = stop.clone();
        let scanners = Offload::new("test", 1);
        let timeout = Duration::from_secs(10);
        let waiting =
            tokio::spawn(async move { on_scanner(&scanners, scan, timeout, &stop).await });
        until_running(&is_running).await;
        assert!(!ends_soon(&waiting).await);
        stopper.stop(StopReason::Interrupted { signal: 2 });
        assert!(
            ends_soon(&waiting).await,
            "still waiting for the stuck thread"
        );
        let outcome = waiting.await.expect("the waiting task ends");
        assert!(
            matches!(
                outcome,
                Err(Unfinished::Stopped(StopReason::Interrupted { signal: 2 }))
            ),
            "{outcome:?}"
        );
        drop(release);
    }

    #[tokio::test]
    async fn a_scan_that_panics_is_one_internal_item_with_the_message() {
        let stop = StopToken::new(None);
        let scanners = Offload::with_spares("test", 1, 0, crate::offload::STALL);
        let scan = || -> FileOutcome { panic!("a bug in the analyzer") };
        let outcome = on_scanner(&scanners, scan, Duration::from_secs(10), &stop).await;
        match outcome {
            Err(Unfinished::Panicked(message)) => {
                assert!(message.contains("a bug in the analyzer"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // The thread lives on for the next file.
        let next = on_scanner(
            &scanners,
            || FileOutcome::Stopped,
            Duration::from_secs(10),
            &stop,
        );
        assert!(matches!(next.await, Ok(FileOutcome::Stopped)));
    }

    #[test]
    fn parses_at_once_depend_on_the_cores_not_on_concurrency() {
        let settings = ScanSettings {
            timeout: Duration::from_secs(1),
            max_file_size: 1 << 20,
            only_rules: HashSet::new(),
            max_findings: 10,
        };
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let tool = BlockingTool::new(settings, items::walk_options(false, true));
        assert_eq!(tool.parses.available_permits(), 2 * cores);
    }

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("hang.py");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // A literal path is asked what it is before it is opened; one a
        // walk met as a regular file (`walked`) is opened, and refused
        // after: a FIFO put in its place since opens at once, non-blocking.
        for walked in [false, true] {
            let refused = |path: &Path| match open_regular(path, "x", walked) {
                Err(ScanError::NotRegular { what, .. }) => what,
                other => panic!("expected not_regular, got {other:?}"),
            };
            // Would wait for a writer forever if it were opened for reading.
            assert_eq!(refused(&fifo), "FIFO (named pipe)");
            assert_eq!(refused(dir.path()), "directory");
            assert_eq!(refused(Path::new("/dev/null")), "character device");
            let file = dir.path().join("a.py");
            std::fs::write(&file, "x = 1\n").unwrap();
            let (_, size) = open_regular(&file, "a.py", walked).unwrap();
            assert_eq!(size, 6);
        }
    }
}
