//! `--input` as agents write it: plain lists (one URL, command, path or
//! pattern a line, `#` comments) as well as JSON, for every tool; results
//! read from a file carry the `line` they came from.

mod common;

use common::wire::{Line, RequestsDoc, UsageError};
use common::wire_blocking::BlockingDoc;
use common::wire_files::FilesDoc;
use common::wire_tasks::{TasksDoc, TasksLine};
use common::{DemoServer, tool, write_file};

#[test]
fn a_plain_list_of_urls_runs_and_maps_back_to_its_lines() {
    let server = DemoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    let text = format!(
        "# which of these fail?\n{}\n\n   {}  \r\n#{}\n{}\n",
        server.at("/json/1"),
        server.at("/status/404"),
        server.at("/never-sent"),
        server.at("/text"),
    );
    std::fs::write(&list, text).unwrap();
    let out = tool("async_requests")
        .args(["--no-progress", "--input"])
        .arg(&list)
        .run();
    assert_eq!(out.code, 1, "one 404: {}", out.stderr);
    let doc: RequestsDoc = out.json();
    let seen: Vec<(u64, &str, &str)> = doc
        .results
        .iter()
        .map(|result| {
            (
                result.line.unwrap(),
                result.status.as_str(),
                result.url.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (2, "ok", server.at("/json/1").as_str()),
            (4, "error", server.at("/status/404").as_str()),
            (6, "ok", server.at("/text").as_str()),
        ]
    );
    assert!(!out.mentions("never-sent"), "a comment line is not an item");

    // Arguments have no line; a JSON array's elements carry their own.
    let array = dir.path().join("items.json");
    std::fs::write(
        &array,
        format!(
            "[\n  \"{}\",\n\n  {{\"url\": \"{}\"}}\n]\n",
            server.at("/json/1"),
            server.at("/text")
        ),
    )
    .unwrap();
    let out = tool("async_requests")
        .args(["--no-progress", &server.at("/json/2"), "--input"])
        .arg(&array)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: RequestsDoc = out.json();
    let lines: Vec<Option<u64>> = doc.results.iter().map(|result| result.line).collect();
    assert_eq!(lines, [None, Some(2), Some(4)]);
}

#[test]
fn a_forced_format_is_kept_and_bad_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // `--input-format json` on a plain list: bad input naming line 1.
    let list = write_file(dir.path(), "urls.txt", "http://127.0.0.1:9/a\n");
    let out = tool("async_requests")
        .args(["--no-progress", "--input-format", "json", "--input"])
        .arg(&list)
        .run();
    assert_eq!(out.code, 2);
    assert_eq!(out.json::<UsageError>().error.line, Some(1));
    // A URL that does not parse, on line 3 of a plain list.
    let list = write_file(
        dir.path(),
        "bad.txt",
        "# list\nhttp://127.0.0.1:9/a\nnot a url\n",
    );
    let out = tool("async_requests")
        .args(["--no-progress", "--input"])
        .arg(&list)
        .run();
    assert_eq!(out.code, 2);
    assert_eq!(out.json::<UsageError>().error.line, Some(3));
    assert!(out.stdout.contains("\"line\":3"));
}

#[test]
fn a_file_of_shell_commands_runs_one_task_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let list = write_file(
        dir.path(),
        "commands.sh",
        "# the checks\necho first\n\nexit 3\necho \"quoted words\" | tr a-z A-Z\n",
    );
    let out = tool("async_timeout")
        .args(["--no-progress", "--timeout", "10s", "--input"])
        .arg(&list)
        .run();
    assert_eq!(out.code, 1, "one command exits 3: {}", out.stderr);
    let doc: TasksDoc = out.json();
    let seen: Vec<(u64, Option<i32>)> = doc
        .results
        .iter()
        .map(|result| (result.line.unwrap(), result.exit_code))
        .collect();
    assert_eq!(seen, [(2, Some(0)), (4, Some(3)), (5, Some(0))]);
    assert_eq!(doc.results[2].stdout.as_deref(), Some("QUOTED WORDS\n"));

    // The same from stdin, as NDJSON lines out: each carries its line.
    let out = tool("async_timeout")
        .args(["--no-progress", "--ndjson", "--input", "-"])
        .stdin("echo a\n# skip\necho b\n")
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut lines: Vec<u64> = out
        .lines::<TasksLine>()
        .into_iter()
        .filter_map(|line| match line {
            Line::Result(result) => result.line,
            Line::Summary(_) => None,
        })
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, [1, 3]);
}

#[test]
fn lists_of_paths_for_the_file_tools() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "a.txt", "one\ntwo\n");
    std::fs::create_dir(dir.path().join("src")).unwrap();
    write_file(
        dir.path(),
        "src/b.py",
        "import time\nasync def f():\n    time.sleep(1)\n",
    );
    let list = write_file(dir.path(), "list.txt", "# files\na.txt\nsrc/*.py\n");
    let out = tool("async_file_reader")
        .args(["--no-progress", "--input"])
        .arg(&list)
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: FilesDoc = out.json();
    let paths: Vec<&str> = doc.results.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["a.txt", "src/b.py"]);
    assert!(
        doc.results.iter().all(|result| result.line.is_none()),
        "a matched file has no line of its own"
    );

    let out = tool("find_blocking_calls")
        .args(["--no-progress", "--input"])
        .arg(&list)
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.summary.findings, 1);
}
