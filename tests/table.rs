//! `--format table`: what a person at a terminal reads. Rows in input order
//! whatever order items finish in, one aligned line each (a scan's findings
//! under their file), a one-line summary; the exit code is the same as with
//! JSON. The default stays JSON whatever stdout is.

mod common;

use common::{DemoServer, tool, write_file};

#[test]
fn requests_as_a_table_in_input_order_with_a_summary() {
    let server = DemoServer::start();
    let out = tool("async_requests")
        .args(["--no-progress", "--format", "table", "--retries", "0"])
        .arg(server.at("/delay/300"))
        .arg(server.at("/status/503"))
        .arg(server.at("/json/2"))
        .run();
    assert_eq!(out.code, 1, "as with JSON: one not ok");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.stdout);
    assert_eq!(lines[0], "#  status     result              time  item");
    assert!(
        lines[1].starts_with("0  ok         GET 200 "),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(&format!("  {}", server.at("/delay/300"))));
    assert!(
        lines[2].starts_with("1  error      GET 503 "),
        "{}",
        lines[2]
    );
    assert!(lines[2].ends_with("http_status: HTTP 503 Service Unavailable"));
    assert!(lines[3].starts_with("2  ok "));
    assert_eq!(lines[4], "");
    assert!(
        lines[5].starts_with("3 items: 2 ok, 1 error in "),
        "{}",
        lines[5]
    );
    // Every row's columns line up.
    let time_end = lines[0].find("time").unwrap() + "time".len();
    for row in &lines[1..4] {
        assert_eq!(&row[time_end - 2..time_end], "ms", "{row}");
    }
}

#[test]
fn every_tool_has_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let source = write_file(
        dir.path(),
        "handler.py",
        "import time\nasync def handler():\n    time.sleep(1)\n",
    );
    let out = tool("find_blocking_calls")
        .args(["--no-progress", "--format", "table"])
        .arg(&source)
        .run();
    assert_eq!(out.code, 1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[1].contains("1 finding"), "{}", out.stdout);
    assert!(
        lines[2]
            .trim_start()
            .starts_with("3:5  py-time-sleep  time.sleep  ->  "),
        "the finding under its file: {}",
        out.stdout
    );

    let out = tool("async_file_reader")
        .args(["--no-progress", "--format", "table"])
        .arg(&source)
        .run();
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.lines().nth(1).unwrap().contains("3 lines"),
        "{}",
        out.stdout
    );

    let out = tool("async_timeout")
        .args(["--no-progress", "--format", "table", "exit 4"])
        .run();
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.lines().nth(1).unwrap().contains("exit 4"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .ends_with("1 item: 0 ok, 1 error in 0 ms (one after another: 0 ms)\n")
            || out.stdout.contains("1 item: 0 ok, 1 error in ")
    );
}

#[test]
fn formats_a_tool_lacks_or_that_clash_are_bad_usage() {
    for args in [
        vec!["--format", "sarif", "http://127.0.0.1:9/"],
        vec!["--format", "table", "--ndjson", "http://127.0.0.1:9/"],
    ] {
        let out = tool("async_requests").args(&args).run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(doc["error"]["kind"], "invalid_input");
    }
}

#[test]
fn with_output_the_file_gets_the_table_and_stdout_the_json_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "a.txt", "one\n");
    let table = dir.path().join("table.txt");
    let out = tool("async_file_reader")
        .args(["--no-progress", "--format", "table", "--output"])
        .arg(&table)
        .arg(&file)
        .run();
    assert_eq!(out.code, 0);
    let pointer: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(pointer["summary"]["ok"], 1);
    let text = std::fs::read_to_string(&table).unwrap();
    assert!(text.starts_with("#  status"), "{text}");
}

/// On a real terminal (a pty, as `script` gives one) the progress line and
/// the rows share the screen: what a person sees never has both on a row.
#[test]
fn progress_and_rows_never_share_a_row_on_a_terminal() {
    let server = DemoServer::start();
    let binary = common::binary("async_requests");
    let mut command = format!("{} --format table --progress -c 2", binary.display());
    for ms in [250, 700, 450, 900, 300, 650] {
        command.push_str(&format!(" {}", server.at(&format!("/delay/{ms}"))));
    }
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("run under script(1)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains("done,"),
        "the progress line was drawn: {screen:?}"
    );
    // What each row of the terminal finally shows: the text after the last
    // carriage return, erase sequences removed.
    // (The terminal turns every `\n` into `\r\n`.)
    let rows: Vec<String> = screen
        .replace("\r\n", "\n")
        .split('\n')
        .map(|row| row.rsplit('\r').next().unwrap_or("").replace("\x1b[K", ""))
        .collect();
    let results: Vec<&String> = rows.iter().filter(|row| row.contains("GET 200")).collect();
    assert_eq!(results.len(), 6, "{rows:#?}");
    for row in &rows {
        assert!(
            !(row.contains("done,") && row.contains("GET 200")),
            "a row shows both: {row:?}"
        );
    }
    assert!(
        rows.iter().any(|row| row.starts_with("6 items: 6 ok in ")),
        "{rows:#?}"
    );
}
