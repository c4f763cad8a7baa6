//! `async_requests`: see `async_requests --help` and SKILL.md.

use async_patterns::app::run_tool;
use async_patterns::cli::parse_or_exit;
use async_patterns::exit::Exit;
use async_patterns::http::RequestsTool;
use async_patterns::http::args::RequestsCli;
use async_patterns::printer::print_input_error;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: RequestsCli = parse_or_exit("async_requests");
    match RequestsTool::from_cli(&cli) {
        Ok(tool) => run_tool(tool, &cli.common, &cli.urls).into(),
        Err(error) => {
            print_input_error("async_requests", &error);
            Exit::Usage.into()
        }
    }
}
