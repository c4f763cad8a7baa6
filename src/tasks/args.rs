//! The command line of `async_timeout`.

use crate::cli::{CommonArgs, duration_arg, nonzero_duration_arg, size_arg};
use clap::Parser;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  # Three commands at once, each stopped after 30 s; JSON out
  async_timeout --timeout 30s 'cargo test' 'npm test' 'curl -fsS http://127.0.0.1:8080/health'

  # The seed's example: a fast and a slow simulated task, 2 s each
  echo '[{\"name\":\"Fast task\",\"sleep\":0.5},{\"name\":\"Slow task\",\"sleep\":5}]' |
      async_timeout --timeout 2s --input -

  # Probe 200 hosts, 50 at a time, 3 s each (1 s grace after SIGTERM), lines as they finish
  async_timeout -c 50 --timeout 3s --grace 1s --ndjson --input probes.ndjson

  # Whichever replica answers first wins; the others are killed
  async_timeout --first --timeout 10s \\
      'curl -fsS https://a.example/health' 'curl -fsS https://b.example/health'

  # A build and its tests: stop everything at the first failure
  async_timeout --fail-fast --timeout 10m 'make -C core' 'make -C cli' 'make lint'

Input items (--input, JSON array or NDJSON): a shell command string, or
  {\"name\", \"cmd\" | \"argv\" | \"sleep\", \"timeout\", \"cwd\", \"env\"}
  cmd runs with `sh -c`, argv without a shell, sleep (seconds) starts no process.
  env values are added to the environment and never printed.
  Secrets: the value of every variable a cmd or argv names as $VAR or ${VAR} (from this
  environment or env) shows as <redacted> in stdout and stderr, like env values.

On timeout the task's whole process group gets SIGTERM, then SIGKILL after --grace.
What a task leaves behind (background jobs, setsid escapees) is ended when it ends.
Every task sees ASYNC_TIMEOUT_TASK in its environment (how its descendants are traced).

Exit codes: 0 all ok, 1 some not ok, 2 bad usage or input (nothing ran), 130/143/129 interrupted
(SIGINT/SIGTERM/SIGHUP).";

/// Run shell commands (or programs) concurrently, each under a timeout that kills its whole
/// process group, and print one JSON result per command with its exit status and output.
#[derive(Parser, Debug)]
#[command(name = "async_timeout", version, after_help = EXAMPLES, max_term_width = 100)]
pub(crate) struct TimeoutCli {
    /// Shell commands, each run with `sh -c` (quote each one; put `--` before one that starts with `-`).
    #[arg(value_name = "COMMAND")]
    pub(crate) commands: Vec<String>,

    #[command(flatten)]
    pub(crate) common: CommonArgs,

    /// Per task: how long it may run before its process group gets SIGTERM. E.g. `--timeout 30s`.
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = nonzero_duration_arg, help_heading = "Running")]
    pub(crate) timeout: Duration,

    /// After SIGTERM, how long a task's process group has before SIGKILL. E.g. `--grace 500ms`.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = duration_arg, help_heading = "Running")]
    pub(crate) grace: Duration,

    /// Output kept per stream (stdout, stderr) and task: the first and the last half of SIZE; the
    /// rest is counted, not kept (`truncated: true`). E.g. `--max-output 1MiB`.
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = size_arg, help_heading = "Output")]
    pub(crate) max_output: u64,
}
