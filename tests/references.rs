//! The pattern guides in `references/` are code an agent copies, so every
//! piece of them runs:
//!
//! - every ```python block of every guide runs under `python3` and must exit 0
//!   (HTTP examples talk to the bundled `demo_api` on loopback, whose URL they
//!   get in `DEMO_API_URL`);
//! - the guides' shape is checked (a table of contents past 100 lines, every
//!   fence names its language, every guide is a doc-test of
//!   `src/doc_references.rs`, where rustdoc compiles and runs the ```rust blocks).
//!
//! The service templates in `assets/templates/` are tested by `tests/templates.rs`.
//!
//! Blocks importing `aiohttp` are skipped, with a note on stderr, only when
//! aiohttp is missing and `ASYNC_PATTERNS_REQUIRE_PY_DEPS` is unset; `.ci/run`
//! installs aiohttp and sets it.

mod common;

use common::{DemoServer, python_interpreter};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The longest one Python block may run.
const BLOCK_LIMIT: Duration = Duration::from_secs(20);

/// Every guide. `doc_references_covers_every_guide` checks this list against
/// the folder and against `src/doc_references.rs`.
const GUIDES: &[&str] = &[
    "concurrency-patterns.md",
    "http-clients.md",
    "timeouts-and-cancellation.md",
    "error-handling.md",
    "mixing-sync-async.md",
    "debugging.md",
    "production-patterns.md",
    "performance.md",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A fenced code block: its language, the line of its opening fence, its code.
struct Block {
    language: String,
    line: usize,
    code: String,
}

/// The fenced blocks of a markdown text (``` fences, not nested).
fn blocks(markdown: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for (number, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.as_mut() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some(Block {
                        language: info.trim().to_string(),
                        line: number + 1,
                        code: String::new(),
                    });
                }
            }
            Some(block) => {
                if trimmed.starts_with("```") {
                    found.extend(open.take());
                } else {
                    block.code.push_str(line);
                    block.code.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "a code fence is never closed");
    found
}

#[test]
fn block_extraction_finds_languages_lines_and_code() {
    let markdown = "# T\n\n```python\nprint(1)\n```\ntext\n```rust,no_run\nfn main() {}\n```\n";
    let found = blocks(markdown);
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].language.as_str(), found[0].line), ("python", 3));
    assert_eq!(found[0].code, "print(1)\n");
    assert_eq!(found[1].language, "rust,no_run");
    assert_eq!(found[1].code, "fn main() {}\n");
}

#[test]
fn doc_references_covers_every_guide() {
    let mut on_disk: Vec<String> = std::fs::read_dir(root().join("references"))
        .expect("references/ exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = GUIDES.iter().map(|name| name.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "GUIDES must list every file in references/"
    );
    let doc_module = read(&root().join("src/doc_references.rs"));
    for guide in GUIDES {
        let include = format!("include_str!(\"../references/{guide}\")");
        assert!(
            doc_module.contains(&include),
            "src/doc_references.rs must have {include}, or its Rust blocks go unchecked"
        );
    }
}

/// Checks the shape every guide promises: Python and Rust side by side, every
/// fence labelled (an unlabelled fence would be compiled as Rust by rustdoc,
/// and skipped here), nothing `ignore`d, and a table of contents linking
/// every section when the guide is over 100 lines.
#[test]
fn guides_have_both_languages_labelled_fences_and_contents() {
    for guide in GUIDES {
        let text = read(&root().join("references").join(guide));
        let found = blocks(&text);
        for block in &found {
            assert!(
                !block.language.is_empty(),
                "{guide}:{}: label the fence (```python, ```rust, ```text, ...)",
                block.line
            );
            assert!(
                !block.language.contains("ignore"),
                "{guide}:{}: no block may be `ignore`d",
                block.line
            );
        }
        let count = |language: &str| {
            found
                .iter()
                .filter(|block| block.language.split(',').next() == Some(language))
                .count()
        };
        assert!(count("python") > 0, "{guide}: no Python block");
        assert!(count("rust") > 0, "{guide}: no Rust block");
        assert!(text.starts_with("# "), "{guide}: starts with its title");
        if text.lines().count() > 100 {
            let contents = text
                .split("\n## ")
                .nth(1)
                .filter(|section| section.starts_with("Contents"))
                .unwrap_or_else(|| {
                    panic!("{guide}: over 100 lines, so its first section is ## Contents")
                });
            // Every other section is linked from the contents by its anchor.
            for heading in text.lines().filter(|line| line.starts_with("## ")) {
                let title = &heading[3..];
                if title == "Contents" {
                    continue;
                }
                let anchor = github_anchor(title);
                assert!(
                    contents.contains(&format!("](#{anchor})")),
                    "{guide}: the contents do not link to \"{title}\" (#{anchor})"
                );
            }
        }
    }
}

/// The anchor GitHub gives a heading: lower case, spaces to dashes, most
/// punctuation dropped.
fn github_anchor(title: &str) -> String {
    title
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn github_anchor_matches_githubs_rules() {
    assert_eq!(
        github_anchor("Event vs Notify (and watch)"),
        "event-vs-notify-and-watch"
    );
    assert_eq!(
        github_anchor("FIRST_COMPLETED vs select!"),
        "first_completed-vs-select"
    );
    assert_eq!(
        github_anchor("to_thread / spawn_blocking"),
        "to_thread--spawn_blocking"
    );
}

// ---------------------------------------------------------------- Python ---

/// Whether `import aiohttp` works; decided once per test binary.
fn aiohttp_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new(python_interpreter())
            .args(["-c", "import aiohttp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|status| status.success())
            .unwrap_or(false)
    })
}

/// One demo API for the whole test binary (fast delays), started on first use.
fn demo_api_url() -> &'static str {
    static SERVER: OnceLock<DemoServer> = OnceLock::new();
    &SERVER
        .get_or_init(|| DemoServer::start_with(&["--delay-scale", "0.1"]))
        .url
}

/// A `python3` child whose output goes to files (no pipe can fill and block it).
struct PythonRun {
    label: String,
    child: Child,
    started: Instant,
    out_path: PathBuf,
    err_path: PathBuf,
}

fn python3() -> Command {
    let mut command = Command::new(python_interpreter());
    // A deprecated API (for example asyncio.get_event_loop() with no loop
    // running, 3.12+) fails the block: the guides must stay current.
    command.args(["-W", "error::DeprecationWarning"]);
    common::without_proxies(&mut command);
    command.env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// Runs every Python block of `guide` at once (they mostly sleep or wait on
/// loopback), and fails with each failing block's output.
fn run_python_blocks(guide: &str) {
    let path = root().join("references").join(guide);
    let text = read(&path);
    let python: Vec<Block> = blocks(&text)
        .into_iter()
        .filter(|block| block.language == "python")
        .collect();
    assert!(!python.is_empty(), "{guide} has no Python block");
    let dir = tempfile::tempdir().unwrap();
    let require_deps = std::env::var_os("ASYNC_PATTERNS_REQUIRE_PY_DEPS").is_some();
    let mut runs = Vec::new();
    for block in &python {
        let label = format!("{guide}:{}", block.line);
        if block.code.contains("import aiohttp") && !aiohttp_available() {
            assert!(
                !require_deps,
                "{label}: aiohttp is not installed, and ASYNC_PATTERNS_REQUIRE_PY_DEPS is set \
                 (pip install aiohttp)"
            );
            // Straight to stderr: libtest captures eprintln!, and this note
            // must show even when the test passes.
            let _ = writeln!(
                std::io::stderr(),
                "NOTE: skipped {label}: aiohttp is not installed (pip install aiohttp)"
            );
            continue;
        }
        let script = dir.path().join(format!("block_{}.py", block.line));
        std::fs::write(&script, &block.code).unwrap();
        let out_path = dir.path().join(format!("block_{}.out", block.line));
        let err_path = dir.path().join(format!("block_{}.err", block.line));
        let mut command = python3();
        command
            .arg(&script)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap());
        if block.code.contains("DEMO_API_URL") {
            command.env("DEMO_API_URL", demo_api_url());
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start python3 (is it installed?): {error}"));
        runs.push(PythonRun {
            label,
            child,
            started: Instant::now(),
            out_path,
            err_path,
        });
    }
    let mut failures = Vec::new();
    for mut run in runs {
        let status = loop {
            if let Some(status) = run.child.try_wait().unwrap() {
                break Some(status);
            }
            if run.started.elapsed() > BLOCK_LIMIT {
                let _ = run.child.kill();
                let _ = run.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let ok = status.is_some_and(|status| status.success());
        if !ok {
            failures.push(format!(
                "--- {} {}\nstdout:\n{}\nstderr:\n{}",
                run.label,
                match status {
                    Some(status) => format!("exited with {status}"),
                    None => format!("ran longer than {BLOCK_LIMIT:?} and was killed"),
                },
                std::fs::read_to_string(&run.out_path).unwrap_or_default(),
                std::fs::read_to_string(&run.err_path).unwrap_or_default(),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "Python blocks failed:\n{}",
        failures.join("\n")
    );
}

macro_rules! python_blocks_run {
    ($($test:ident => $guide:literal,)*) => {$(
        #[test]
        fn $test() {
            run_python_blocks($guide);
        }
    )*};
}

python_blocks_run! {
    concurrency_patterns_python_blocks_run => "concurrency-patterns.md",
    http_clients_python_blocks_run => "http-clients.md",
    timeouts_and_cancellation_python_blocks_run => "timeouts-and-cancellation.md",
    error_handling_python_blocks_run => "error-handling.md",
    mixing_sync_async_python_blocks_run => "mixing-sync-async.md",
    debugging_python_blocks_run => "debugging.md",
    production_patterns_python_blocks_run => "production-patterns.md",
    performance_python_blocks_run => "performance.md",
}
