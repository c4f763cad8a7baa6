//! `find_blocking_calls`: see `find_blocking_calls --help` and SKILL.md.

use async_patterns::blocking::args::BlockingCli;
use async_patterns::blocking::{NAME, main_with};
use async_patterns::cli::parse_or_exit;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: BlockingCli = parse_or_exit(NAME);
    main_with(cli).into()
}
