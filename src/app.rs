//! Wiring shared by every binary: check the input, start the runtime, run
//! the items, print, and pick the exit code. A binary's `main` is a few lines
//! on top of this (see `src/bin/`).

use crate::cli::CommonArgs;
use crate::error::InputError;
use crate::exit::Exit;
use crate::input::{Feed, ParseItem, check_items, feed};
use crate::printer::{Format, Printer, print_input_error};
use crate::progress::Progress;
use crate::runner::{Job, RunConfig, run_bounded};
use crate::stop::{StopToken, watch_deadline, watch_signals};
use crate::wire::{Finished, Summary, speedup};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A tool that reads its items straight from the command line and `--input`.
pub trait Tool: Job + ParseItem<Spec = <Self as Job>::Spec> {
    /// The binary's name, shown as `"tool"` in the JSON.
    const NAME: &'static str;
    /// The tool's own summary fields (flattened into `summary`).
    type Totals: Serialize + Default + Send;
    fn tally(&self, totals: &mut Self::Totals, finished: &Finished<<Self as Job>::Report>);

    /// Runs once every item has ended and the summary is written, before
    /// [`run_tool`] returns the exit code: a last cleanup for what outlives
    /// the items (the `async_timeout` orphan sweep). Nothing by default.
    fn after_run(&self) -> impl Future<Output = ()> {
        async {}
    }
}

/// Checks the items (pass 1), reporting bad input as exit 2. With no items
/// at all (no arguments and no `--input`) there is nothing to do: also exit 2.
pub fn check_or_exit<P: ParseItem>(
    tool: &'static str,
    parser: &P,
    common: &CommonArgs,
    positional: &[String],
) -> Result<crate::input::CheckedInput, Exit> {
    if positional.is_empty() && common.input.is_none() {
        let error =
            InputError::new("no items: give them as arguments or with --input FILE (see --help)");
        print_input_error(tool, &error);
        return Err(Exit::Usage);
    }
    if let Err(error) = output_is_not_input(common) {
        print_input_error(tool, &error);
        return Err(Exit::Usage);
    }
    check_items(parser, positional, common.input.as_deref()).map_err(|error| {
        print_input_error(tool, &error);
        Exit::Usage
    })
}

/// `--output` naming the `--input` file would truncate the items while
/// they are being read (the second pass reopens the file).
fn output_is_not_input(common: &CommonArgs) -> Result<(), InputError> {
    use std::os::unix::fs::MetadataExt;
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

/// Runs `future` on a fresh multi-threaded runtime. At the end, blocking
/// threads still stuck (a read on a hung network mount) are abandoned rather
/// than waited for, so a hung item can never hang the tool's exit.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            std::process::exit(1);
        }
    };
    let output = runtime.block_on(future);
    runtime.shutdown_timeout(Duration::from_millis(100));
    output
}

/// The whole life of a [`Tool`]: check, run, print, [`Tool::after_run`],
/// exit code.
pub fn run_tool<T: Tool>(tool: T, common: &CommonArgs, positional: &[String]) -> Exit {
    let checked = match check_or_exit(T::NAME, &tool, common, positional) {
        Ok(checked) => checked,
        Err(exit) => return exit,
    };
    let total = checked.total;
    let tool = Arc::new(tool);
    let capacity = (common.concurrency as usize).saturating_mul(2).max(64);
    block_on(async move {
        let items = feed(checked, tool.clone(), capacity);
        let mut totals = T::Totals::default();
        let tallied = tool.clone();
        let stop = watch_stop(T::NAME, common);
        let exit = execute(
            stop,
            T::NAME,
            tool.clone(),
            items,
            total,
            common,
            &mut totals,
            |totals, finished| tallied.tally(totals, finished),
        )
        .await;
        tool.after_run().await;
        exit
    })
}

/// The run's stop token, with SIGINT/SIGTERM and `--deadline` already
/// watched: from here on a signal or the deadline ends the run with JSON
/// printed. Tools that do work before the runner starts (walking
/// directories) take it early, so that work counts too.
pub fn watch_stop(tool: &str, common: &CommonArgs) -> StopToken {
    let stop = StopToken::new(common.deadline);
    if let Err(error) = watch_signals(&stop) {
        eprintln!("{tool}: cannot watch signals: {error}");
    }
    if let Some(after) = common.deadline {
        watch_deadline(&stop, after);
    }
    stop
}

/// Runs already-checked items and prints everything, until `stop` (from
/// [`watch_stop`]) fires; if it already has, nothing runs and every item is
/// `cancelled`. Tools that build their own item list (glob matches) call
/// it directly. Must run inside [`block_on`].
#[allow(clippy::too_many_arguments)] // the pieces of one run, each distinct
pub async fn execute<J: Job, T: Serialize>(
    stop: StopToken,
    tool: &'static str,
    job: Arc<J>,
    items: Feed<J::Spec>,
    total: u64,
    common: &CommonArgs,
    totals: &mut T,
    mut tally: impl FnMut(&mut T, &Finished<J::Report>),
) -> Exit {
    let late_error = items.late_error.clone();
    let format = if common.ndjson {
        Format::Ndjson
    } else {
        Format::Document
    };
    let mut printer = match Printer::start(tool, format, common.output.as_deref()) {
        Ok(printer) => printer,
        Err(error) => {
            let field = if common.output.is_some() {
                "--output"
            } else {
                "stdout"
            };
            print_input_error(
                tool,
                &InputError::new(format!("cannot write the output: {error}")).with_field(field),
            );
            return Exit::Usage;
        }
    };
    let progress = Progress::start(tool, common.progress_choice(), total);
    let config = RunConfig {
        concurrency: common.concurrency as usize,
        fail_fast: common.fail_fast,
        first: common.first,
    };
    let outcome = run_bounded(
        job,
        items,
        &config,
        &stop,
        &mut printer,
        &progress,
        |finished| tally(totals, finished),
    )
    .await;
    progress.clear();
    let run = match outcome {
        Ok(run) => run,
        Err(error) => {
            report_write_error(tool, &error);
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
        stopped_by: run.stop.map(|reason| reason.word()),
        extra: &*totals,
    };
    if let Err(error) = printer.finish(&summary) {
        report_write_error(tool, &error);
        return Exit::SomeFailed;
    }
    if let Some(error) = late_error.get() {
        eprintln!("{tool}: {error}");
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
