//! The command line of `async_file_reader`.

use super::rank::SortKey;
use crate::cli::{CommonArgs, nonzero_duration_arg, size_arg};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  # Lines, characters and bytes of every .txt file in uploads/ (the seed's job)
  async_file_reader 'uploads/*.txt'

  # Every Rust and TOML file under src/ and tests/, at any depth, 32 at a time
  async_file_reader -c 32 '{src,tests}/**/*.{rs,toml}'

  # The text of small files, at most 8 KiB each; the last 20 lines of logs
  async_file_reader --content --max-content 8KiB 'notes/*.md'
  async_file_reader --tail 20 --root /var/log '*.log'

  # Digests of a release directory, streamed one line per file
  async_file_reader --hash sha256 --ndjson 'dist/**'

  # Paths from a file list (a string is a path or pattern; {\"path\": ...} is always literal)
  find . -name '*.csv' | jq -R '{path: .}' | async_file_reader --input -

Patterns: * and ? (never across /), [abc], ** (any depth), {a,b}. Quote them so the shell
leaves them alone. Matches are de-duplicated and sorted; a pattern matching nothing is a result
of its own (its path is the pattern, error kind no_match), so the exit code is 1. Hidden files only with --hidden or a pattern
component starting with a dot (.github/**/*.yml). A directory given as an item is an
is_directory error: use dir/** for its files. A FIFO, socket or device a pattern matches is
listed as not_regular, not opened (a FIFO given as an item is read). A pattern is at most
4096 bytes, with {} nested at most 32 deep.

Names that are not UTF-8 show lossily in `path`, exactly in `path_bytes` (base64).

Counts: bytes, lines and chars equal `wc -c`, `wc -l` and `wc -m` in a UTF-8 locale.

Exit codes: 0 all ok, 1 some not ok (or a pattern matched nothing), 2 bad usage or input
(nothing read), 130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP).";

/// Read many files concurrently and print, per file, its bytes, lines and characters as JSON.
#[derive(Parser, Debug)]
#[command(name = "async_file_reader", version, after_help = EXAMPLES, max_term_width = 100)]
pub(crate) struct FilesCli {
    /// Files or glob patterns (quoted), relative to --root.
    #[arg(value_name = "PATH|PATTERN")]
    pub(crate) patterns: Vec<String>,

    #[command(flatten)]
    pub(crate) common: CommonArgs,

    /// Per file: give up on a file not read to its end within DUR (a hung network mount, a silent pipe).
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = nonzero_duration_arg, help_heading = "Running")]
    pub(crate) timeout: Duration,

    /// Directory that relative paths and patterns start from (default: the current directory).
    #[arg(long, value_name = "DIR", help_heading = "Finding files")]
    pub(crate) root: Option<PathBuf>,

    /// Let patterns match hidden files and directories (names starting with a dot).
    #[arg(long, help_heading = "Finding files")]
    pub(crate) hidden: bool,

    /// Follow symlinked directories while matching patterns (cycles are detected and skipped).
    #[arg(long, help_heading = "Finding files")]
    pub(crate) follow: bool,

    /// Add each file's text (`content`); only for UTF-8 files that are not binary.
    #[arg(long, help_heading = "Output per file")]
    pub(crate) content: bool,

    /// Add only the first N lines as `content`.
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "tail",
        help_heading = "Output per file"
    )]
    pub(crate) head: Option<u64>,

    /// Add only the last N lines as `content`.
    #[arg(long, value_name = "N", help_heading = "Output per file")]
    pub(crate) tail: Option<u64>,

    /// Most bytes of `content` per file; longer text is cut (at a character boundary) and marked `truncated`.
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = size_arg, help_heading = "Output per file")]
    pub(crate) max_content: u64,

    /// Add a digest of the whole file: `--hash sha256` adds `sha256` (lowercase hex).
    #[arg(long, value_name = "ALGORITHM", help_heading = "Output per file")]
    pub(crate) hash: Option<HashAlgorithm>,

    /// Order of the results: `lines`, `bytes`, `chars` (most first) or `path` (the default).
    /// Any but path holds the results until every file is read. E.g. `--sort-by lines --top 3`.
    #[arg(long, value_enum, value_name = "KEY", default_value_t = SortKey::Path, help_heading = "Ranking")]
    pub(crate) sort_by: SortKey,

    /// Print only the first N files in --sort-by order; the summary still counts every file and
    /// says how many were left out (`left_out`). Results not ok are always printed.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Ranking")]
    pub(crate) top: Option<u64>,
}

/// Digests `--hash` can add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum HashAlgorithm {
    Sha256,
}
