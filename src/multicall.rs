//! One binary, five tools. `async-patterns` dispatches on the name it was
//! called by (`async_requests`, a link or a copy, keeps every flag, field and
//! exit code) or on its first argument (`async-patterns requests ...`).
//!
//! Why one binary: each tool re-generated the code of tokio, hyper, reqwest
//! and serde for itself, so five binaries cost five times the compile and
//! five times the disk. The tools share one library; here they share one
//! executable too, and the launchers in `scripts/` run it by subcommand.

use crate::exit::Exit;
use crate::printer::print_input_error;
use std::ffi::{OsStr, OsString};
use std::path::Path;

/// The multicall binary's own name (`async-patterns --version`).
pub(crate) const BINARY: &str = "async-patterns";

/// One tool of the binary.
#[derive(Debug)]
struct Entry {
    /// The tool's own name: its JSON `"tool"`, the launcher's and links' name.
    name: &'static str,
    /// The subcommand: `async-patterns <subcommand>`.
    subcommand: &'static str,
    /// One line for `async-patterns --help`.
    summary: &'static str,
    /// The tool's whole life.
    main: fn(Vec<OsString>) -> Exit,
}

static TOOLS: &[Entry] = &[
    Entry {
        name: crate::http::NAME,
        subcommand: "requests",
        summary: "many HTTP requests at once, one JSON result each",
        main: crate::app::main::<crate::http::RequestsTool>,
    },
    Entry {
        name: crate::files::NAME,
        subcommand: "file-reader",
        summary: "read and measure many files at once (wc-exact counts, globs, hashes)",
        main: crate::app::main::<crate::files::FilesTool>,
    },
    Entry {
        name: crate::tasks::NAME,
        subcommand: "timeout",
        summary: "run commands at once, each under a timeout that kills its process tree",
        main: crate::app::main::<crate::tasks::TasksTool>,
    },
    Entry {
        name: crate::blocking::NAME,
        subcommand: "find-blocking-calls",
        summary: "find blocking calls inside async Python and Rust code",
        main: crate::app::main::<crate::blocking::BlockingTool>,
    },
    Entry {
        name: crate::demo_api::cli::NAME,
        subcommand: "demo-api",
        summary: "the loopback API of the demo, the tests and the benchmarks",
        main: crate::demo_api::cli::main,
    },
];

/// The tool a program name names: `async_requests`, and as Windows and
/// case-blind file systems may spell it, `Async_Requests.EXE`.
fn by_program(program: &str) -> Option<&'static Entry> {
    let program = program.to_ascii_lowercase();
    let program = program.strip_suffix(".exe").unwrap_or(&program);
    TOOLS.iter().find(|entry| entry.name == program)
}

/// The tool named by a link on the way from `program` (`argv[0]`) to this
/// binary: a user's own name for a tool's link (`~/bin/areq` to
/// `bin/linux-x86_64/async_requests`, itself a link to `async-patterns`) runs
/// that tool, as calling the link it points at would. A bare name is looked
/// up on PATH, as the shell found it.
fn by_links(program: &OsStr) -> Option<&'static Entry> {
    let program = Path::new(program);
    let mut path = if program.components().count() > 1 {
        program.to_path_buf()
    } else {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.symlink_metadata().is_ok())?
    };
    // A bound, as the kernel has one: a loop of links ends somewhere.
    for _ in 0..40 {
        let target = std::fs::read_link(&path).ok()?;
        if let Some(entry) = by_program(&target.file_name()?.to_string_lossy()) {
            return Some(entry);
        }
        path = match path.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
    }
    None
}

fn by_subcommand(word: &str) -> Option<&'static Entry> {
    TOOLS
        .iter()
        .find(|entry| entry.subcommand == word || entry.name == word)
}

/// Runs the tool `args` names; `args` is the whole command line, the
/// program first. Returns the exit status: the caller (`src/main.rs`) owns
/// the process exit, the one place that ends the process.
pub fn main(args: Vec<OsString>) -> std::process::ExitCode {
    run(args).into()
}

fn run(args: Vec<OsString>) -> Exit {
    let program = args
        .first()
        .and_then(|first| Path::new(first).file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(entry) = by_program(&program) {
        return (entry.main)(args);
    }
    let own_name = program.to_ascii_lowercase();
    if own_name != BINARY
        && own_name != format!("{BINARY}.exe")
        && let Some(entry) = args.first().and_then(|first| by_links(first))
    {
        return (entry.main)(args);
    }
    let Some(word) = args.get(1).map(|word| word.to_string_lossy().into_owned()) else {
        eprint!("{}", usage());
        return usage_error("no tool named: give one as the first argument (see --help)");
    };
    match word.as_str() {
        // `help <tool>` is the tool's own help.
        "help" if args.len() > 2 => match by_subcommand(&args[2].to_string_lossy()) {
            Some(entry) => (entry.main)(vec![
                OsString::from(format!("{BINARY} {}", entry.subcommand)),
                OsString::from("--help"),
            ]),
            None => {
                eprint!("{}", usage());
                usage_error(&format!(
                    "unknown tool `{}` (one of: {})",
                    args[2].to_string_lossy(),
                    subcommands()
                ))
            }
        },
        "-h" | "--help" | "help" => {
            print!("{}", usage());
            Exit::Success
        }
        "-V" | "--version" => {
            println!("{BINARY} {}", crate::VERSION);
            Exit::Success
        }
        _ => match by_subcommand(&word) {
            Some(entry) => {
                let mut rest = args;
                rest.drain(..2);
                rest.insert(0, OsString::from(format!("{BINARY} {}", entry.subcommand)));
                (entry.main)(rest)
            }
            None => {
                eprint!("{}", usage());
                usage_error(&format!(
                    "unknown tool `{word}` (one of: {})",
                    subcommands()
                ))
            }
        },
    }
}

fn subcommands() -> String {
    TOOLS
        .iter()
        .map(|entry| entry.subcommand)
        .collect::<Vec<_>>()
        .join(", ")
}

fn usage_error(message: &str) -> Exit {
    let error = crate::error::InputError::new(message).with_field("tool");
    print_input_error(BINARY, &error);
    Exit::Usage
}

fn usage() -> String {
    let mut text = format!(
        "{BINARY} {}: concurrent I/O tools that print JSON\n\n\
         Usage: {BINARY} <TOOL> [ARGS]...   (or call a link named after the tool)\n\n\
         Tools:\n",
        crate::VERSION
    );
    for entry in TOOLS {
        text.push_str(&format!(
            "  {:<21} {:<21} {}\n",
            entry.subcommand, entry.name, entry.summary
        ));
    }
    text.push_str(&format!(
        "\n`{BINARY} <TOOL> --help` (or `{BINARY} help <TOOL>`) shows a tool's flags.\n\
         Exit codes: 0 all ok, 1 some not ok, 2 bad usage or input, 130/143/129 interrupted.\n"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_reachable_by_name_and_subcommand() {
        for entry in TOOLS {
            assert!(std::ptr::eq(by_program(entry.name).unwrap(), entry));
            assert!(std::ptr::eq(
                by_subcommand(entry.subcommand).unwrap(),
                entry
            ));
            assert!(std::ptr::eq(by_subcommand(entry.name).unwrap(), entry));
        }
        assert!(std::ptr::eq(
            by_program("Async_Requests.EXE").unwrap(),
            &TOOLS[0]
        ));
        assert!(by_program("async-patterns").is_none());
        assert!(by_program("async_requests.sh").is_none());
        assert!(by_subcommand("request").is_none());
    }
}
