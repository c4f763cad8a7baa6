//! Each tool's real output validates against its JSON Schema in
//! `assets/schemas/` (document, NDJSON lines, `--output` pointer, exit-2
//! error), and the schemas reject what they should.

mod common;

use common::schema::{assert_valid, validator};
use common::{DemoServer, tool};
use serde_json::{Value, json};

fn stdout_json(out: &common::Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|error| panic!("{error}: {}", out.stdout))
}

#[test]
fn async_requests_output_matches_its_schema() {
    let server = DemoServer::start();
    let schema = validator("async_requests.schema.json", None);
    let line_schema = validator("async_requests.schema.json", Some("ndjson_line"));
    let urls = [
        server.at("/json/2"),
        server.at("/text"),
        server.at("/binary"),
        server.at("/bad-json"),
        server.at("/redirect/chain/1"),
        server.at("/flaky?id=schema&fail=1"),
        server.at("/status/404"),
        server.at("/infinite"),
        "http://nowhere.invalid/".to_string(),
    ];
    let common_args = [
        "--no-progress",
        "--backoff",
        "1ms",
        "--max-body",
        "4KiB",
        "--include-headers",
    ];

    let out = tool("async_requests").args(common_args).args(&urls).run();
    assert_eq!(out.code, 1);
    assert_valid(&schema, &stdout_json(&out), "document");

    let out = tool("async_requests")
        .args(common_args)
        .args(["--ndjson", "--pick", "/total"])
        .args(&urls)
        .run();
    for line in out.stdout.lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        assert_valid(&line_schema, &value, "NDJSON line");
        assert_valid(&schema, &value, "NDJSON line against the top level");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let out = tool("async_requests")
        .args(common_args)
        .arg("--output")
        .arg(&path)
        .args(&urls)
        .run();
    assert_valid(&schema, &stdout_json(&out), "--output pointer");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_valid(&schema, &file, "--output file");

    let out = tool("async_requests")
        .args(["--dry-run", "-H", "Authorization: x", &server.at("/echo")])
        .run();
    assert_valid(&schema, &stdout_json(&out), "dry run");

    let out = tool("async_requests")
        .args([
            "--deadline",
            "300ms",
            "-c",
            "1",
            &server.at("/delay/5000"),
            &server.at("/text"),
        ])
        .run();
    assert_valid(&schema, &stdout_json(&out), "deadline");

    let out = tool("async_requests")
        .args(["--timeout", "nope", "http://x/"])
        .run();
    assert_eq!(out.code, 2);
    assert_valid(&schema, &stdout_json(&out), "usage error");
}

#[test]
fn schemas_reject_what_the_contract_forbids() {
    let schema = validator("async_requests.schema.json", Some("result"));
    let good =
        json!({"index": 0, "status": "ok", "elapsed_ms": 1, "method": "GET", "url": "http://x/"});
    assert!(schema.is_valid(&good));
    let cases = [
        json!({"index": 0, "status": "error", "elapsed_ms": 1, "method": "GET", "url": "http://x/"}),
        json!({"index": 0, "status": "ok", "elapsed_ms": 1, "method": "GET", "url": "http://x/", "error": {"kind": "x", "message": "m"}}),
        json!({"index": 0, "status": "fine", "elapsed_ms": 1, "method": "GET", "url": "http://x/"}),
        json!({"index": 0, "status": "ok", "elapsed_ms": 1, "method": "GET", "url": "http://x/", "surprise": 1}),
        json!({"index": 0, "status": "ok", "elapsed_ms": 1, "method": "GET", "url": "http://x/", "http_status": null}),
    ];
    for case in cases {
        assert!(!schema.is_valid(&case), "should be rejected: {case}");
    }
}

/// Runs `tool` with `args` in `dir`, in every output mode, and validates
/// each output against `schema_file`.
fn check_every_mode(tool_name: &str, schema_file: &str, dir: &std::path::Path, args: &[&str]) {
    let schema = validator(schema_file, None);
    let line_schema = validator(schema_file, Some("ndjson_line"));
    let out = tool(tool_name)
        .current_dir(dir)
        .arg("--no-progress")
        .args(args)
        .run();
    assert!(out.code <= 1, "{tool_name} {args:?}: {}", out.stderr);
    assert_valid(&schema, &stdout_json(&out), "document");
    let out = tool(tool_name)
        .current_dir(dir)
        .args(["--no-progress", "--ndjson"])
        .args(args)
        .run();
    for line in out.stdout.lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        assert_valid(&line_schema, &value, "NDJSON line");
    }
    let output = tempfile::NamedTempFile::new().unwrap();
    let out = tool(tool_name)
        .current_dir(dir)
        .args(["--no-progress", "--output"])
        .arg(output.path())
        .args(args)
        .run();
    assert_valid(&schema, &stdout_json(&out), "--output pointer");
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(output.path()).unwrap()).unwrap();
    assert_valid(&schema, &file, "--output file");
    let out = tool(tool_name)
        .current_dir(dir)
        .args(["--deadline", "nonsense", "x"])
        .run();
    assert_eq!(out.code, 2);
    assert_valid(&schema, &stdout_json(&out), "usage error");
}

#[test]
fn async_file_reader_output_matches_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "héllo\nworld\n").unwrap();
    std::fs::write(dir.path().join("b.bin"), [0u8, 159, 146, 150]).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/c.txt"), "x".repeat(5000)).unwrap();
    for args in [
        vec!["*.txt", "*.bin", "**/*.txt", "missing.txt", "sub", "*.none"],
        vec![
            "--content",
            "--max-content",
            "100",
            "--hash",
            "sha256",
            "**/*.txt",
        ],
        vec!["--tail", "1", "a.txt"],
    ] {
        check_every_mode(
            "async_file_reader",
            "async_file_reader.schema.json",
            dir.path(),
            &args,
        );
    }
}

#[test]
fn find_blocking_calls_output_matches_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.py"),
        "import time\nasync def f():\n    time.sleep(1)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("good.py"),
        "import asyncio\nasync def f():\n    await asyncio.sleep(1)\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.py"), "def (:\n").unwrap();
    std::fs::write(
        dir.path().join("m.rs"),
        "async fn f() { std::thread::sleep(std::time::Duration::from_secs(1)); }\n",
    )
    .unwrap();
    check_every_mode(
        "find_blocking_calls",
        "find_blocking_calls.schema.json",
        dir.path(),
        &[".", "missing.py"],
    );

    let out = tool("find_blocking_calls").arg("--rules").run();
    assert_eq!(out.code, 0);
    let rules = validator("find_blocking_calls.schema.json", Some("rules_document"));
    assert_valid(&rules, &stdout_json(&out), "--rules");
}

#[test]
fn async_timeout_output_matches_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--timeout",
        "300ms",
        "--grace",
        "100ms",
        "--max-output",
        "1KiB",
        "echo hello",
        "exit 3",
        "yes | head -c 5000",
        "sleep 5",
        "kill -9 $$",
        "/no/such/program",
    ];
    check_every_mode(
        "async_timeout",
        "async_timeout.schema.json",
        dir.path(),
        &args,
    );
    let out = tool("async_timeout")
        .args(["--timeout", "1s", "--input", "-"])
        .stdin(r#"[{"name": "Fast task", "sleep": 0.1}, {"name": "Slow task", "sleep": 5}]"#)
        .run();
    assert_eq!(out.code, 1);
    assert_valid(
        &validator("async_timeout.schema.json", None),
        &stdout_json(&out),
        "seed example",
    );
}
