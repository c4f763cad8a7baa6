//! `async_file_reader`: see `async_file_reader --help` and SKILL.md.

use async_patterns::cli::parse_or_exit;
use async_patterns::files::args::FilesCli;
use async_patterns::files::{NAME, run};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: FilesCli = parse_or_exit(NAME);
    run(&cli).into()
}
