//! The command-line flags every tool shares (see `docs/CONTRACT.md`), and parsing
//! that turns clap's usage errors into the exit-2 JSON document.

use crate::error::InputError;
use crate::exit::Exit;
use crate::input::InputFormat;
use crate::output::OutputFormat;
use crate::printer::print_input_error;
use crate::units::{parse_duration, parse_size};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, Parser};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of the contract, flattened into each tool's own `Cli`.
#[derive(Args, Debug, Clone)]
pub(crate) struct CommonArgs {
    /// Read items from FILE: a JSON array, NDJSON, or plain lines (see --input-format); `-` reads stdin.
    /// Every item is checked before anything runs. E.g. `--input items.ndjson`, `--input -`.
    #[arg(long, value_name = "FILE", help_heading = "Input and output")]
    pub(crate) input: Option<PathBuf>,

    /// How --input is split: `auto` (default: JSON when the first non-blank byte is `[`, `{` or
    /// `"`, else lines), `json` (array or NDJSON), `ndjson`, or `lines` (one URL, command, path or
    /// pattern per line; `#` starts a comment line). Results read from a file carry its `line`.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = InputFormat::Auto,
          hide_possible_values = true, help_heading = "Input and output")]
    pub(crate) input_format: InputFormat,

    /// At most N items in flight at once. E.g. `-c 50`.
    #[arg(short = 'c', long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=100_000), help_heading = "Running")]
    pub(crate) concurrency: u32,

    /// Whole-run deadline: items still running then end as `timeout` (kind `deadline`),
    /// items not yet started as `cancelled`. E.g. `--deadline 30s`.
    #[arg(long, value_name = "DUR", value_parser = nonzero_duration_arg, help_heading = "Running")]
    pub(crate) deadline: Option<Duration>,

    /// Cancel everything else as soon as one item is not ok (structured concurrency).
    #[arg(long, conflicts_with = "first", help_heading = "Running")]
    pub(crate) fail_fast: bool,

    /// Cancel everything else as soon as one item is ok (race / hedged requests); exit 0 if one was.
    #[arg(long, help_heading = "Running")]
    pub(crate) first: bool,

    /// Stream one JSON line per item as it finishes (with its `index`), then one summary line.
    #[arg(long, help_heading = "Input and output")]
    pub(crate) ndjson: bool,

    /// Write the full JSON (document or NDJSON) to FILE; stdout gets only the summary.
    /// E.g. `--output results.json` (saves tokens: read only what you need from the file).
    #[arg(long, value_name = "FILE", help_heading = "Input and output")]
    pub(crate) output: Option<PathBuf>,

    /// How results are written: `json` (default, whatever stdout is), `table` (aligned rows and a
    /// one-line summary, for people at a terminal); find_blocking_calls adds `sarif` (SARIF 2.1.0)
    /// and `github` (workflow annotations). With --output, FILE gets that format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Json,
          hide_possible_values = true, help_heading = "Input and output")]
    pub(crate) format: OutputFormat,

    /// Show progress on stderr (default: only when stderr is a terminal).
    #[arg(
        long,
        overrides_with = "no_progress",
        help_heading = "Input and output"
    )]
    pub(crate) progress: bool,

    /// Never show progress.
    #[arg(long, help_heading = "Input and output")]
    pub(crate) no_progress: bool,
}

impl CommonArgs {
    /// `Some(true)` / `Some(false)` when a flag decided, `None` to ask the terminal.
    pub(crate) fn progress_choice(&self) -> Option<bool> {
        if self.no_progress {
            Some(false)
        } else if self.progress {
            Some(true)
        } else {
            None
        }
    }
}

/// clap value parser for DUR arguments.
pub(crate) fn duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

/// clap value parser for DUR arguments that must be more than zero
/// (`--timeout`, `--deadline`: a zero limit would fail everything at once).
pub(crate) fn nonzero_duration_arg(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err(format!(
            "`{text}` is zero; give a time limit above 0 (e.g. 500ms)"
        )),
        duration => Ok(duration),
    }
}

/// clap value parser for SIZE arguments.
pub(crate) fn size_arg(text: &str) -> Result<u64, String> {
    parse_size(text)
}

/// Parses a command line (`args`, the program name first). `--help` and
/// `--version` print and end the run with [`Exit::Success`]; any usage error
/// prints the exit-2 JSON on stdout (with the offending flag as `field`) and
/// clap's explanation on stderr, and ends it with [`Exit::Usage`]. The caller
/// (a binary's `main`) owns the process exit.
pub(crate) fn parse_args<C, I, T>(tool: &'static str, args: I) -> Result<C, Exit>
where
    C: Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut command = C::command();
    let mut args = args.into_iter().map(Into::into);
    let program = args.next().unwrap_or_else(|| OsString::from(tool));
    // `async-patterns requests --help` shows that usage line, not the tool's.
    command = command.bin_name(program.to_string_lossy().into_owned());
    let matches = command.try_get_matches_from(std::iter::once(program).chain(args));
    let parsed = matches.and_then(|mut matches| C::from_arg_matches_mut(&mut matches));
    match parsed {
        Ok(cli) => Ok(cli),
        Err(error) => {
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                let _ = error.print();
                return Err(Exit::Success);
            }
            let rendered = error.render().to_string();
            let message = rendered
                .lines()
                .next()
                .unwrap_or("bad usage")
                .trim_start_matches("error: ")
                .to_string();
            let mut input_error = InputError::new(message);
            if let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) {
                let flag = arg.split([' ', '=']).next().unwrap_or(arg);
                input_error = input_error.with_field(flag.to_string());
            }
            print_input_error(tool, &input_error);
            eprintln!("{rendered}");
            Err(Exit::Usage)
        }
    }
}
