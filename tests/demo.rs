//! `bash scripts/demo`, the README's first command: it starts the demo API,
//! runs every tool on the seed's examples, prints their JSON, exits 0, and
//! leaves no server behind.

mod common;

use common::binary;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_demo_runs_every_tool_and_exits_0() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let elsewhere = tempfile::tempdir().unwrap();
    let output = Command::new("bash")
        .arg(repo.join("scripts/demo"))
        .current_dir(elsewhere.path())
        .env(
            "ASYNC_PATTERNS_BIN_DIR",
            binary("demo_api").parent().unwrap(),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("every step exited as expected"), "{stderr}");

    let documents: Vec<Value> = serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("stdout is a sequence of JSON documents");
    let tools: Vec<&str> = documents
        .iter()
        .map(|doc| doc["tool"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "async_requests",
            "async_file_reader",
            "async_timeout",
            "find_blocking_calls"
        ]
    );

    // The seed's three calls ran together: 1.2 + 0.9 + 1.1 s of server time.
    let requests = &documents[0]["summary"];
    assert_eq!(requests["ok"], 3);
    assert_eq!(requests["max_in_flight"], 3);
    assert!(requests["sum_ms"].as_u64().unwrap() >= 3200);
    assert!(!String::from_utf8_lossy(&output.stdout).contains("demo-key-not-a-real-secret"));

    let files = &documents[1]["summary"];
    assert!(
        files["ok"].as_u64().unwrap() >= 8,
        "every reference file was read"
    );
    let tasks = &documents[2]["results"];
    assert_eq!(tasks[0]["name"], "Fast task");
    assert_eq!(tasks[0]["status"], "ok");
    assert_eq!(tasks[1]["status"], "timeout");
    assert!(documents[3]["summary"]["findings"].as_u64().unwrap() >= 3);

    // The server it started is gone.
    let url = stderr
        .split("serving on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the demo says where its API serves");
    let authority = url.trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(authority).is_err(),
        "the demo API still listens on {authority}"
    );
}
