//! `async_timeout`: see `async_timeout --help` and SKILL.md.

use async_patterns::cli::parse_or_exit;
use async_patterns::tasks::args::TimeoutCli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: TimeoutCli = parse_or_exit(async_patterns::tasks::NAME);
    async_patterns::tasks::run(&cli).into()
}
