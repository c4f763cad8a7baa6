//! The command line of `find_blocking_calls`.

use crate::cli::{CommonArgs, nonzero_duration_arg, size_arg};
use clap::Parser;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  # Scan a project (directories are walked; .gitignore is honoured)
  find_blocking_calls src/ app/

  # Only some files, by glob; one JSON line per file as it is scanned
  find_blocking_calls 'services/**/*.py' --ndjson

  # The rule table (ids, matched calls, why, the async replacement, ruff codes) as JSON
  find_blocking_calls --rules

  # SARIF 2.1.0 for code scanning (GitHub, editors); or workflow annotations
  find_blocking_calls --format sarif src/ > blocking.sarif
  find_blocking_calls --format github src/

  # Files listed by another tool: a JSON array or NDJSON of paths or {\"path\": ...}
  git diff --name-only | jq -R . | find_blocking_calls --input -

Items: files, directories (walked for .py and .rs files, skipping hidden and
.gitignore'd ones unless --hidden / --no-ignore) and glob patterns.
Each result is one file: status ok (clean, every line scanned), or error with
kind blocking_calls and its `findings` (path, line, column, function, call,
resolved, rule, category, message, suggestion; line and column are 1-based,
column in characters; past --max-findings only counted in `findings_omitted`).
category is blocking (the call blocks the event loop) or misuse (a coroutine
never awaited, asyncio.run inside a running loop); a file with only misuse
findings is kind async_misuse. The summary counts `blocking` and `misuse` apart.
--rules lists each rule's calls, async replacement and ruff (flake8-async) codes.
A file with syntax errors is still scanned around them: the regions not looked
into are listed in `unscanned` (line, column, end_line, end_column, reason
syntax_error or too_deep), and with no finding the kind is parse (or too_deep):
never ok. Other kinds: io, permission_denied, not_found, no_match,
unsupported, not_regular (a FIFO, socket or device: never opened); timeout;
too_large (skipped).
A trailing `# blocking: ok` / `// blocking: ok` comment silences a line; such
calls are listed in `suppressed_calls` (line, rule).
A file name that is not UTF-8 shows lossily in `path` and exactly, as base64 of
its bytes, in `path_bytes`.

Exit codes:
  0        every file clean, or skipped as too_large (not read: see summary.skipped);
           with --first, one file clean
  1        a file with findings, a file not scanned for any other reason (an error
           kind above, or timeout), or files cancelled by --deadline or --fail-fast
  2        bad usage or input (nothing ran)
  130/143/129  interrupted by SIGINT/SIGTERM/SIGHUP";

/// Find blocking calls (time.sleep, requests, std::fs, ...) inside async Python and Rust code.
#[derive(Parser, Debug)]
#[command(name = "find_blocking_calls", version, after_help = EXAMPLES, max_term_width = 100)]
pub(crate) struct BlockingCli {
    /// Files, directories or glob patterns to scan.
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<String>,

    #[command(flatten)]
    pub(crate) common: CommonArgs,

    /// Per file: reading and parsing longer than this ends the file as `timeout` (a read stuck
    /// on a hung mount is abandoned, not waited for). E.g. `--timeout 2s`.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = nonzero_duration_arg, help_heading = "Running")]
    pub(crate) timeout: Duration,

    /// Print the rule table as one JSON document and exit.
    #[arg(long, help_heading = "Scanning")]
    pub(crate) rules: bool,

    /// Only these rules (repeatable): `--rule py-time-sleep --rule rs-std-fs`.
    #[arg(long = "rule", value_name = "ID", help_heading = "Scanning")]
    pub(crate) only_rules: Vec<String>,

    /// Findings (and suppressed calls) listed per file; the rest are counted in
    /// `findings_omitted` (memory stays bounded on generated code).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "Scanning")]
    pub(crate) max_findings: u32,

    /// Files larger than this are not read (`skipped`, kind `too_large`).
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = size_arg, help_heading = "Scanning")]
    pub(crate) max_file_size: u64,

    /// Also walk hidden files and directories (names starting with `.`).
    #[arg(long, help_heading = "Scanning")]
    pub(crate) hidden: bool,

    /// Do not honour .gitignore files when walking directories.
    #[arg(long, help_heading = "Scanning")]
    pub(crate) no_ignore: bool,
}
