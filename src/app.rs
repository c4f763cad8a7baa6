//! The one pipeline every tool runs through: parse the command line, check
//! the items, expand them, run them, print, pick the exit code.
//!
//! ```text
//!  argv ─► Tool::Cli ─► Tool::from_cli ─► check (pass 1) ─► feed (pass 2)
//!            ─► Tool::Expand (items → specs) ─► runner ─► printer ─► Exit
//! ```
//!
//! A tool is a [`Tool`]: its [`Job`] (one spec run to its end), its
//! [`ParseItem`] (one raw item checked), and the expansion step between
//! them ([`Expand`]). For `async_requests` and `async_timeout` an item is
//! what runs, and the expansion is [`Identity`]: the items stream through;
//! the file tools expand patterns and directories into the files they
//! match, which needs the whole list (it is sorted and de-duplicated).
//! Every tool's whole life is `app::main::<ItsTool>` (the table in
//! [`crate::multicall`]).

use crate::cli::{CommonArgs, parse_args};
use crate::error::InputError;
use crate::exit::Exit;
use crate::input::{CheckedInput, Feed, ParseItem, check_items, feed};
use crate::output::{Output, OutputFormat, Paused};
use crate::printer::{Format, Printer, buffered, print_input_error, print_pointer, stdout_file};
use crate::progress::Progress;
use crate::runner::{Job, RunConfig, run_bounded};
use crate::stop::{StopToken, watch_deadline, watch_signals};
use crate::table::{Table, TableRow};
use crate::wire::{Finished, Summary, speedup};
use serde::Serialize;
use std::ffi::OsString;
use std::fs::File;
use std::future::Future;
use std::io::{self, BufWriter};
use std::sync::Arc;
use std::time::Duration;

/// A tool's command line: its own flags plus the shared ones.
pub(crate) trait ToolCli: clap::Parser {
    /// The flags every tool shares.
    fn common(&self) -> &CommonArgs;
    /// The items given as arguments.
    fn items(&self) -> &[String];
}

/// Implements [`ToolCli`] for a command line whose shared flags are in its
/// field `common` and whose items are in the field named.
macro_rules! tool_cli {
    ($cli:ty, $items:ident) => {
        impl $crate::app::ToolCli for $cli {
            fn common(&self) -> &$crate::cli::CommonArgs {
                &self.common
            }

            fn items(&self) -> &[String] {
                &self.$items
            }
        }
    };
}
pub(crate) use tool_cli;

/// Why a tool ends before any item is read.
#[derive(Debug)]
pub(crate) enum NotRun {
    /// Bad usage: exit 2 with the JSON error.
    Usage(InputError),
    /// The tool did what was asked without a run (`--rules`).
    Done(Exit),
}

impl From<InputError> for NotRun {
    fn from(error: InputError) -> Self {
        NotRun::Usage(error)
    }
}

/// Why the expansion step failed.
#[derive(Debug)]
pub(crate) enum ExpandError {
    /// The items turned out to be bad input (a pattern that does not
    /// compile, `--input` changed between the passes): exit 2.
    Input(InputError),
    /// A bug (the walk panicked): exit 1.
    Internal(String),
}

impl From<InputError> for ExpandError {
    fn from(error: InputError) -> Self {
        ExpandError::Input(error)
    }
}

/// A tool's writer of results, whatever its format.
pub(crate) type BoxedOutput<T> = Box<dyn Output<<T as Job>::Report, <T as Tool>::Totals>>;

/// A tool: what an item is ([`ParseItem`]), how items become specs (the
/// expansion step), and what a spec does ([`Job`]).
pub(crate) trait Tool: Job<Report: TableRow> + ParseItem + Sized {
    /// The tool's name, shown as `"tool"` in the JSON.
    const NAME: &'static str;
    /// The command line.
    type Cli: ToolCli;
    /// The tool's own summary fields (flattened into `summary`).
    type Totals: Serialize + Default + Send + 'static;

    /// The expansion step: [`Identity`] when the items are the specs.
    type Expand: Expand<Self>;

    /// The runtime's scheduler: multi-threaded by default (see [`Scheduler`]).
    const SCHEDULER: Scheduler = Scheduler::MultiThread;

    /// With the multi-threaded scheduler, where the run is polled: on a
    /// runtime worker thread, or on the thread that started the runtime (the
    /// default). On a worker, items
    /// that finish wake the runner on the thread they finished on, not
    /// across threads: most of the cost of ten thousand small files. With
    /// a producer thread feeding the runner (items streamed from
    /// `--input`), the starting thread was measured faster (about 10 % on
    /// 100,000 requests).
    const RUN_ON_WORKER: bool = false;

    /// Builds the tool from its command line, before any item is read.
    fn from_cli(cli: &Self::Cli) -> Result<Self, NotRun>;

    /// Adds one finished item to the tool's totals.
    fn tally(&self, totals: &mut Self::Totals, finished: &Finished<Self::Report>);

    /// Whether the totals make a run whose items were all ok a failure
    /// anyway (files a walk could not list). No by default.
    fn incomplete(&self, _totals: &Self::Totals) -> bool {
        false
    }

    /// The writer of a `--format` other than `json`: `table` for every tool
    /// (rows from [`TableRow`]); a tool with formats of its own (SARIF)
    /// adds them. `None`: the tool has no such format (bad usage, exit 2).
    fn output(
        &self,
        format: OutputFormat,
        out: Destination,
        total: u64,
    ) -> Option<io::Result<BoxedOutput<Self>>> {
        match format {
            OutputFormat::Table => Some(table_output(out, total)),
            _ => None,
        }
    }

    /// Wraps the output chosen by `--format`, for a tool that reorders or
    /// filters results before they are written (`--sort-by`, `--top`).
    /// As it is by default.
    fn arrange(&self, output: BoxedOutput<Self>) -> BoxedOutput<Self> {
        output
    }

    /// Runs once every item has ended and the summary is written, before
    /// the exit code is returned: a last cleanup for what outlives the items
    /// (the `async_timeout` orphan sweep). Nothing by default.
    fn after_run(&self, _stop: &StopToken) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// How a tool's async runtime schedules its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheduler {
    /// tokio's multi-threaded scheduler: a worker per core, tasks stolen
    /// between them.
    MultiThread,
    /// Every task on the thread that started the run (tokio's current-thread
    /// scheduler); blocking work still goes to the blocking pool. No task
    /// ever wakes another thread: for many small items whose work is mostly
    /// waiting, the wake-ups between threads cost more than the second core
    /// gives.
    CurrentThread,
}

/// The expansion step: how the checked items, in input order, become the
/// specs the runner runs.
pub(crate) trait Expand<T: Tool> {
    /// Runs with the stop already watched: a walk should end when `stop`
    /// fires, with no spec at all. It may record what it met in `totals`.
    fn expand(
        tool: Arc<T>,
        items: Feed<T::Item>,
        stop: StopToken,
        totals: &mut T::Totals,
    ) -> impl Future<Output = Result<Feed<T::Spec>, ExpandError>> + Send;
}

/// The expansion of a tool whose items are its specs (a request, a
/// command): they stream through as they are read.
pub(crate) struct Identity;

impl<T: Tool + ParseItem<Item = <T as Job>::Spec>> Expand<T> for Identity {
    async fn expand(
        _tool: Arc<T>,
        items: Feed<T::Spec>,
        _stop: StopToken,
        _totals: &mut T::Totals,
    ) -> Result<Feed<T::Spec>, ExpandError> {
        Ok(items)
    }
}

/// The whole life of a tool; `args` is its command line, the program first.
pub(crate) fn main<T: Tool>(args: Vec<OsString>) -> Exit {
    let cli: T::Cli = match parse_args(T::NAME, args) {
        Ok(cli) => cli,
        Err(exit) => return exit,
    };
    let tool = match T::from_cli(&cli) {
        Ok(tool) => tool,
        Err(NotRun::Usage(error)) => {
            print_input_error(T::NAME, &error);
            return Exit::Usage;
        }
        Err(NotRun::Done(exit)) => return exit,
    };
    run_tool(tool, cli.common().clone(), cli.items())
}

/// Check, expand, run, print, [`Tool::after_run`]; the exit code.
fn run_tool<T: Tool>(tool: T, common: CommonArgs, positional: &[String]) -> Exit {
    if let Err(error) = usable(&common, positional) {
        print_input_error(T::NAME, &error);
        return Exit::Usage;
    }
    let tool = Arc::new(tool);
    let positional = positional.to_vec();
    block_on(T::SCHEDULER, async move {
        let run = async move {
            // Watched before the checking pass: a signal while a long
            // `--input` is checked still ends the run with JSON printed.
            let stop = watch_stop(T::NAME, &common);
            let checked = match check(tool.clone(), positional, &common, &stop).await {
                Ok(checked) => checked,
                Err(exit) => return exit,
            };
            let mut totals = T::Totals::default();
            let specs = match checked {
                None => Feed::from_vec(Vec::new()),
                Some(checked) => {
                    let capacity = (common.concurrency as usize).saturating_mul(2).max(64);
                    let items = feed(checked, tool.clone(), capacity);
                    let expanded =
                        T::Expand::expand(tool.clone(), items, stop.clone(), &mut totals);
                    match expanded.await {
                        Ok(specs) => specs,
                        Err(ExpandError::Input(error)) => {
                            print_input_error(T::NAME, &error);
                            return Exit::Usage;
                        }
                        Err(ExpandError::Internal(what)) => {
                            eprintln!(
                                "{}: internal error (a bug, please report it): {what}",
                                T::NAME
                            );
                            return Exit::SomeFailed;
                        }
                    }
                }
            };
            let exit = execute(stop.clone(), tool.clone(), specs, &common, &mut totals).await;
            tool.after_run(&stop).await;
            match exit {
                Exit::Success if tool.incomplete(&totals) => Exit::SomeFailed,
                other => other,
            }
        };
        if !T::RUN_ON_WORKER || T::SCHEDULER == Scheduler::CurrentThread {
            return run.await;
        }
        tokio::spawn(run).await.unwrap_or_else(|panic| {
            eprintln!(
                "{}: internal error (a bug, please report it): {panic}",
                T::NAME
            );
            Exit::SomeFailed
        })
    })
}

/// The checking pass, on a blocking thread; bad input is exit 2 (printed).
/// A signal ends it (`Ok(None)`: no item is known whole, none is listed);
/// the deadline does not: after the check every item is still listed, as
/// `cancelled`.
async fn check<T: Tool>(
    tool: Arc<T>,
    positional: Vec<String>,
    common: &CommonArgs,
    stop: &StopToken,
) -> Result<Option<CheckedInput>, Exit> {
    let input = common.input.clone();
    let format = common.input_format;
    let signalled = stop.clone();
    let checking = tokio::task::spawn_blocking(move || {
        let keep_going = || !signalled.is_signalled();
        check_items(&*tool, &positional, input.as_deref(), format, &keep_going)
    });
    let checked = match stop.race_signals(checking).await {
        Ok(Ok(checked)) => checked,
        Ok(Err(panic)) => {
            eprintln!(
                "{}: internal error (a bug, please report it): {panic}",
                T::NAME
            );
            return Err(Exit::SomeFailed);
        }
        // Blocked on a read (a pipe that stays open): abandoned.
        Err(_) => Ok(None),
    };
    match checked {
        Ok(Some(checked)) => Ok(Some(checked)),
        Ok(None) => {
            let why = stop.reason().map_or("stopped", |reason| reason.word());
            eprintln!("{}: stopped while checking the items ({why})", T::NAME);
            Ok(None)
        }
        Err(error) => {
            print_input_error(T::NAME, &error);
            Err(Exit::Usage)
        }
    }
}

/// What makes a command line unusable before any item is read: no items
/// at all, or `--output` naming the `--input` file (writing it would
/// truncate the items while they are read).
fn usable(common: &CommonArgs, positional: &[String]) -> Result<(), InputError> {
    use std::os::unix::fs::MetadataExt;
    if common.ndjson && common.format != OutputFormat::Json {
        return Err(InputError::new(format!(
            "--ndjson is a JSON layout: it does not go with --format {}",
            common.format.word()
        ))
        .with_field("--ndjson"));
    }
    if positional.is_empty() && common.input.is_none() {
        return Err(InputError::new(
            "no items: give them as arguments or with --input FILE (see --help)",
        ));
    }
    let (Some(input), Some(output)) = (&common.input, &common.output) else {
        return Ok(());
    };
    if input.as_os_str() == "-" {
        return Ok(());
    }
    match (std::fs::metadata(input), std::fs::metadata(output)) {
        (Ok(input), Ok(output)) if input.dev() == output.dev() && input.ino() == output.ino() => {
            Err(InputError::new(
                "--output names the --input file: writing it would destroy the items being read",
            )
            .with_field("--output"))
        }
        _ => Ok(()),
    }
}

/// Runs `future` on a fresh runtime of `scheduler`. At the end, blocking
/// threads still stuck (a read on a hung network mount) are abandoned rather
/// than waited for, so a hung item can never hang the tool's exit.
pub(crate) fn block_on(scheduler: Scheduler, future: impl Future<Output = Exit>) -> Exit {
    let mut builder = match scheduler {
        Scheduler::MultiThread => tokio::runtime::Builder::new_multi_thread(),
        Scheduler::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return Exit::SomeFailed;
        }
    };
    let exit = runtime.block_on(future);
    runtime.shutdown_timeout(Duration::from_millis(100));
    exit
}

/// The run's stop token, with SIGINT/SIGTERM/SIGHUP and `--deadline`
/// already watched: from here on a signal or the deadline ends the run with
/// JSON printed.
fn watch_stop(tool: &'static str, common: &CommonArgs) -> StopToken {
    let stop = StopToken::new(common.deadline);
    if let Err(error) = watch_signals(tool, &stop) {
        eprintln!("{tool}: cannot watch signals: {error}");
    }
    if let Some(after) = common.deadline {
        watch_deadline(&stop, after);
    }
    stop
}

/// Runs `work` (a directory walk) on a blocking thread until it ends or the
/// run stops. `Ok(None)`: the run stopped first (said on stderr, `doing`
/// names the step); the thread is abandoned, never waited for.
pub(crate) async fn off_runtime<T: Send + 'static>(
    tool: &str,
    doing: &str,
    stop: &StopToken,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<Option<T>, ExpandError> {
    match stop.race(tokio::task::spawn_blocking(work)).await {
        Ok(Ok(done)) => Ok(Some(done)),
        Ok(Err(panic)) => Err(ExpandError::Internal(format!("while {doing}: {panic}"))),
        Err(reason) => {
            eprintln!("{tool}: stopped while {doing} ({})", reason.word());
            Ok(None)
        }
    }
}

/// Where the results go: `--output FILE` or stdout, buffered; a pipe or a
/// socket through the output thread ([`crate::writer_thread`]).
pub(crate) struct Destination {
    out: Writer,
    /// Whether the results go to a terminal.
    terminal: bool,
    /// The terminal's width, when the results go to one that says it.
    pub(crate) columns: Option<usize>,
}

/// How a [`Destination`] writes.
enum Writer {
    Direct(BufWriter<File>),
    Threaded(crate::writer_thread::ThreadedWriter),
}

impl io::Write for Destination {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.out {
            Writer::Direct(out) => out.write(buf),
            Writer::Threaded(out) => out.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.out {
            Writer::Direct(out) => out.write_all(buf),
            Writer::Threaded(out) => out.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Writer::Direct(out) => out.flush(),
            Writer::Threaded(out) => out.flush(),
        }
    }
}

/// Opens the destination; with the output thread, also its handle, to wait
/// on once the output is complete (and before anything else is written to
/// stdout).
fn open_output(
    common: &CommonArgs,
) -> io::Result<(Destination, Option<crate::writer_thread::WriterDone>)> {
    use std::io::IsTerminal;
    use std::os::fd::AsRawFd;
    let direct = |file| Writer::Direct(buffered(file));
    match &common.output {
        Some(path) => Ok((
            Destination {
                out: direct(File::create(path)?),
                terminal: false,
                columns: None,
            },
            None,
        )),
        None => {
            let stdout = stdout_file()?;
            let terminal = io::stdout().is_terminal();
            let (out, done) = if !terminal && crate::writer_thread::waits_on_a_reader(&stdout) {
                match crate::writer_thread::spawn(stdout) {
                    Ok((threaded, done)) => (Writer::Threaded(threaded), Some(done)),
                    Err(stdout) => (direct(stdout), None),
                }
            } else {
                (direct(stdout), None)
            };
            Ok((
                Destination {
                    out,
                    terminal,
                    columns: crate::table::terminal_columns(io::stdout().as_raw_fd()),
                },
                done,
            ))
        }
    }
}

/// `--format table` on `out`, rows from the report's [`TableRow`].
pub(crate) fn table_output<R: TableRow + 'static, T: Serialize>(
    out: Destination,
    total: u64,
) -> io::Result<Box<dyn Output<R, T>>> {
    let columns = out.columns;
    Ok(Box::new(Table::start(out, total, columns)?))
}

/// The writer `--format` asks for, on `out`.
fn start_output<T: Tool>(
    tool: &T,
    common: &CommonArgs,
    out: Destination,
    total: u64,
) -> Result<Box<dyn Output<T::Report, T::Totals>>, InputError> {
    let cannot_write = |error: io::Error| {
        let field = if common.output.is_some() {
            "--output"
        } else {
            "stdout"
        };
        InputError::new(format!("cannot write the output: {error}")).with_field(field)
    };
    match common.format {
        OutputFormat::Json => {
            let format = if common.ndjson {
                Format::Ndjson
            } else {
                Format::Document
            };
            let printer = Printer::start(T::NAME, format, out).map_err(cannot_write)?;
            Ok(Box::new(printer))
        }
        other => match tool.output(other, out, total) {
            Some(started) => started.map_err(cannot_write),
            None => Err(InputError::new(format!(
                "{} has no --format {} (see --help)",
                T::NAME,
                other.word()
            ))
            .with_field("--format")),
        },
    }
}

/// Runs the specs and prints everything, until `stop` fires; if it already
/// has, nothing runs and every spec is `cancelled`.
async fn execute<T: Tool>(
    stop: StopToken,
    tool: Arc<T>,
    specs: Feed<T::Spec>,
    common: &CommonArgs,
    totals: &mut T::Totals,
) -> Exit {
    let late_error = specs.late_error();
    let total = specs.total();
    let (opened, mut writer) = match open_output(common) {
        Ok((destination, writer)) => (Ok(destination), writer),
        Err(error) => {
            let field = if common.output.is_some() {
                "--output"
            } else {
                "stdout"
            };
            let error =
                InputError::new(format!("cannot write the output: {error}")).with_field(field);
            (Err(error), None)
        }
    };
    // The output thread's last bytes are written, and its write error
    // known, only once it is joined; and nothing else may reach stdout
    // before. Every path below drops the output first (closing its queue).
    let mut written = move || writer.take().map_or(Ok(()), |writer| writer.wait());
    let on_terminal = opened
        .as_ref()
        .is_ok_and(|destination| destination.terminal);
    let started = opened.and_then(|out| start_output(&*tool, common, out, total));
    let output = match started {
        Ok(output) => tool.arrange(output),
        Err(error) => {
            let _ = written();
            print_input_error(T::NAME, &error);
            return Exit::Usage;
        }
    };
    let progress = Progress::start(T::NAME, common.progress_choice(), total);
    // Results on the terminal the progress line is drawn on: never both on
    // one row.
    let mut printer: Box<dyn Output<T::Report, T::Totals>> = if on_terminal {
        Box::new(Paused::new(output, progress.clone()))
    } else {
        output
    };
    let config = RunConfig {
        concurrency: common.concurrency as usize,
        fail_fast: common.fail_fast,
        first: common.first,
    };
    let tallied = tool.clone();
    let outcome = run_bounded(
        tool,
        specs,
        &config,
        &stop,
        &mut *printer,
        &progress,
        |finished| tallied.tally(totals, finished),
    )
    .await;
    progress.clear();
    let run = match outcome {
        Ok(run) => run,
        Err(error) => {
            drop(printer);
            let _ = written();
            report_write_error(T::NAME, &error);
            return Exit::SomeFailed;
        }
    };
    let elapsed_ms = crate::units::millis(run.elapsed);
    let summary = Summary {
        counts: run.counts,
        elapsed_ms,
        sum_ms: run.sum_ms,
        speedup: speedup(run.sum_ms, elapsed_ms),
        concurrency: config.concurrency,
        max_in_flight: run.max_in_flight,
        latency: run.latency,
        stopped_by: run.stop.map(|reason| reason.word()),
        extra: &*totals,
    };
    let finished = printer.finish(&summary);
    let printed = finished.and(written()).and_then(|_| match &common.output {
        Some(path) => print_pointer(T::NAME, &path.display().to_string(), &summary),
        None => Ok(()),
    });
    if let Err(error) = printed {
        report_write_error(T::NAME, &error);
        return Exit::SomeFailed;
    }
    if let Some(error) = late_error.get() {
        eprintln!("{}: {error}", T::NAME);
        return Exit::Usage;
    }
    Exit::for_run(&run.counts, run.stop, common.first)
}

/// A reader that went away (`| head -1`) is not worth a message: the run
/// just stops, as `cat` and `grep` do. Any other write error is.
fn report_write_error(tool: &str, error: &std::io::Error) {
    if error.kind() != std::io::ErrorKind::BrokenPipe {
        eprintln!("{tool}: cannot write the output: {error}");
    }
}
