//! `find_blocking_calls` end to end: the real binary on the corpus in
//! `tests/blocking_corpus` (precision and recall against its `expect:`
//! markers) and on files written to a temp dir.

mod common;

use common::wire::UsageError;
use common::wire_blocking::{BlockingDoc, BlockingLine, FileResult, RulesDoc};
use common::{tool, write_file};
use std::collections::BTreeSet;
use std::path::Path;

const CORPUS: &str = "tests/blocking_corpus";

/// Recall the corpus must keep (its `expect-missed:` lines are the known limits).
const RECALL_FLOOR: f64 = 0.95;

fn scanner() -> common::Tool {
    tool("find_blocking_calls").args(["--no-progress"])
}

/// `(path, line, rule)` for every marker `expect:` (or, with `missed`,
/// `expect-missed:`) in the corpus files under `dir`.
fn markers(dir: &Path, missed: bool, out: &mut BTreeSet<(String, u64, String)>) {
    let marker = if missed { "expect-missed:" } else { "expect:" };
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markers(&path, missed, out);
            continue;
        }
        if !matches!(path.extension().and_then(|e| e.to_str()), Some("py" | "rs")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (number, line) in text.lines().enumerate() {
            let Some(at) = line.find(marker) else {
                continue;
            };
            // `expect-missed:` must not count as `expect:` and the reverse.
            let before = &line[..at];
            if !(before.ends_with("# ") || before.ends_with("// ")) {
                continue;
            }
            for rule in line[at + marker.len()..].split(',') {
                let rule = rule.trim();
                assert!(
                    !rule.is_empty(),
                    "{}:{}: empty marker",
                    path.display(),
                    number + 1
                );
                out.insert((
                    path.display().to_string(),
                    number as u64 + 1,
                    rule.to_string(),
                ));
            }
        }
    }
}

#[test]
fn corpus_precision_is_perfect_and_recall_above_the_floor() {
    let out = scanner().arg(CORPUS).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc: BlockingDoc = out.json();
    let mut found = BTreeSet::new();
    for result in &doc.results {
        assert!(
            matches!(result.kind(), None | Some("blocking_calls")),
            "every corpus file must parse and scan: {result:?}"
        );
        for finding in result.findings.iter().flatten() {
            assert_eq!(finding.path, result.path);
            found.insert((finding.path.clone(), finding.line, finding.rule.clone()));
        }
    }
    let mut expected = BTreeSet::new();
    markers(Path::new(CORPUS), false, &mut expected);
    let mut known_misses = BTreeSet::new();
    markers(Path::new(CORPUS), true, &mut known_misses);

    let true_positives = found.intersection(&expected).count();
    let false_positives: Vec<_> = found.difference(&expected).collect();
    let misses: Vec<_> = expected.difference(&found).collect();
    let surprise_hits: Vec<_> = found.intersection(&known_misses).collect();
    let relevant = expected.len() + known_misses.len();
    let precision = true_positives as f64 / found.len().max(1) as f64;
    let recall = true_positives as f64 / relevant.max(1) as f64;
    let score = format!(
        "find_blocking_calls corpus: {} files, {} expected findings ({} known misses), \
         {} found: precision {precision:.3}, recall {recall:.3}",
        doc.results.len(),
        relevant,
        known_misses.len(),
        found.len()
    );
    eprintln!("{score}");
    assert!(
        false_positives.is_empty(),
        "{score}\nfalse positives: {false_positives:#?}"
    );
    assert!(misses.is_empty(), "{score}\nmissed: {misses:#?}");
    assert!(
        surprise_hits.is_empty(),
        "{score}\nnow found (turn `expect-missed:` into `expect:`): {surprise_hits:#?}"
    );
    assert_eq!(precision, 1.0, "{score}");
    assert!(recall >= RECALL_FLOOR, "{score}");
    assert_eq!(doc.summary.findings, found.len() as u64, "{score}");
    assert!(doc.summary.files.python >= 9 && doc.summary.files.rust >= 4);
}

#[test]
fn a_clean_file_is_ok_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let clean = write_file(
        dir.path(),
        "clean.py",
        "import asyncio\n\nasync def main():\n    await asyncio.sleep(1)\n",
    );
    let out = scanner().arg(&clean).run();
    assert_eq!(out.code, 0, "{}", out.stdout);
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.tool, "find_blocking_calls");
    let result = &doc.results[0];
    assert_eq!(result.status, "ok");
    assert_eq!(result.language.as_deref(), Some("python"));
    assert_eq!(result.lines, Some(4));
    assert_eq!(result.findings.as_deref(), Some(&[][..]));
    assert_eq!(result.suppressed, Some(0));
    assert!(result.error.is_none());
    assert_eq!(doc.summary.ok, 1);
    assert_eq!(doc.summary.findings, 0);
    assert_eq!(doc.summary.files.python, 1);
}

#[test]
fn a_finding_carries_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "svc.py",
        "import requests as r\n\nclass Api:\n    async def fetch(self, url):\n        return r.get(url).json()\n",
    );
    let out = scanner().arg(&file).run();
    assert_eq!(out.code, 1);
    let doc: BlockingDoc = out.json();
    let result = &doc.results[0];
    assert_eq!(result.status, "error");
    assert_eq!(result.kind(), Some("blocking_calls"));
    let findings = result.findings.as_ref().unwrap();
    assert_eq!(findings.len(), 1);
    let finding = &findings[0];
    assert_eq!(finding.path, file.display().to_string());
    assert_eq!((finding.line, finding.column), (5, 16));
    assert_eq!(finding.function, "Api.fetch");
    assert_eq!(finding.call, "r.get");
    assert_eq!(finding.resolved, "requests.get");
    assert_eq!(finding.rule, "py-requests");
    assert!(finding.message.contains("Api.fetch"), "{}", finding.message);
    assert!(
        finding.suggestion.contains("aiohttp"),
        "{}",
        finding.suggestion
    );
}

#[test]
fn a_file_that_does_not_parse_is_an_error_item_and_the_rest_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write_file(dir.path(), "broken.py", "async def f(:\n    pass\n");
    let broken_rs = write_file(dir.path(), "broken.rs", "async fn f( {\n");
    let good = write_file(
        dir.path(),
        "good.rs",
        "async fn f() { std::thread::sleep(d); }\n",
    );
    let out = scanner().arg(&broken).arg(&broken_rs).arg(&good).run();
    assert_eq!(out.code, 1);
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results.len(), 3);
    for result in &doc.results[..2] {
        assert_eq!(result.status, "error");
        assert_eq!(result.kind(), Some("parse"), "{result:?}");
        let message = &result.error.as_ref().unwrap().message;
        assert!(message.contains("line 1"), "{message}");
        assert!(result.findings.is_none());
    }
    assert_eq!(doc.results[2].rules(), ["rs-thread-sleep"]);
}

#[test]
fn odd_bytes_never_crash_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let latin1 = dir.path().join("latin1.py");
    std::fs::write(
        &latin1,
        b"import time\nasync def f():\n    x = '\xe9\xff'\n    time.sleep(1)\n",
    )
    .unwrap();
    let empty = write_file(dir.path(), "empty.rs", "");
    let deep = write_file(
        dir.path(),
        "deep.py",
        &format!(
            "import time\nasync def f():\n    x = {}1{}\n    time.sleep(1)\n",
            "(".repeat(3000),
            ")".repeat(3000)
        ),
    );
    let out = scanner().arg(&latin1).arg(&empty).arg(&deep).run();
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results.len(), 3);
    assert_eq!(doc.results[1].status, "ok");
    assert_eq!(doc.results[1].lines, Some(0));
    // The deep expression is not followed, but the file still scans.
    assert_eq!(doc.results[2].rules(), ["py-time-sleep"]);
}

#[test]
fn suppressed_lines_are_counted_not_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "s.rs",
        "async fn f() {\n    std::thread::sleep(d); // blocking: ok (tests only)\n    let s = \"// blocking: ok\"; std::thread::sleep(d);\n}\n",
    );
    let out = scanner().arg(&file).run();
    let doc: BlockingDoc = out.json();
    let result = &doc.results[0];
    assert_eq!(result.suppressed, Some(1));
    let findings = result.findings.as_ref().unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].line, 3);
    assert_eq!(doc.summary.suppressed, 1);
}

#[test]
fn rules_prints_the_table() {
    let out = scanner().arg("--rules").run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: RulesDoc = out.json();
    assert_eq!(doc.tool, "find_blocking_calls");
    assert!(!doc.version.is_empty());
    let ids: Vec<&str> = doc.rules.iter().map(|rule| rule.id.as_str()).collect();
    for id in [
        "py-time-sleep",
        "py-requests",
        "py-open",
        "py-pathlib-io",
        "py-subprocess",
        "py-socket",
        "py-input",
        "py-sync-db",
        "py-asyncio-run-in-coroutine",
        "py-coroutine-not-awaited",
        "rs-thread-sleep",
        "rs-std-fs",
        "rs-stdin",
        "rs-reqwest-blocking",
        "rs-std-net",
        "rs-std-process",
        "rs-block-on",
        "rs-mutex-guard-across-await",
    ] {
        assert!(ids.contains(&id), "{id} missing from --rules");
    }
    for rule in &doc.rules {
        assert!(matches!(rule.language.as_str(), "python" | "rust"));
        assert!(matches!(
            rule.check.as_str(),
            "call" | "not_awaited" | "guard_across_await"
        ));
        assert!(!rule.calls.is_empty() && !rule.why.is_empty() && !rule.replacement.is_empty());
    }
    assert!(
        doc.types
            .iter()
            .any(|producer| producer.call == "pathlib.Path" && producer.gives == "pathlib.Path")
    );
}

#[test]
fn rule_filter_keeps_only_the_named_rules() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "two.py",
        "import time, subprocess\nasync def f():\n    time.sleep(1)\n    subprocess.run(['ls'])\n",
    );
    let out = scanner().args(["--rule", "py-subprocess"]).arg(&file).run();
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results[0].rules(), ["py-subprocess"]);

    let out = scanner().args(["--rule", "py-nonsense"]).arg(&file).run();
    assert_eq!(out.code, 2);
    let error: UsageError = out.json();
    assert_eq!(error.error.kind, "invalid_input");
    assert_eq!(error.error.field.as_deref(), Some("--rule"));
}

#[test]
fn rule_filter_also_applies_to_suppressed_counts() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "s.py",
        "import time, requests\nasync def f():\n    time.sleep(1)  # blocking: ok\n    requests.get('x')\n",
    );
    let suppressed = |rule: &str| {
        let out = scanner().args(["--rule", rule]).arg(&file).run();
        let doc: BlockingDoc = out.json();
        assert_eq!(doc.results[0].suppressed, doc.summary.suppressed.into());
        doc.summary.suppressed
    };
    assert_eq!(suppressed("py-requests"), 0, "a time.sleep suppression");
    assert_eq!(suppressed("py-time-sleep"), 1);
}

#[test]
fn missing_paths_unsupported_files_and_empty_globs_are_error_items() {
    let dir = tempfile::tempdir().unwrap();
    let notes = write_file(dir.path(), "notes.txt", "time.sleep(1)\n");
    let missing = dir.path().join("missing.py");
    let out = scanner()
        .arg(&missing)
        .arg(&notes)
        .arg(dir.path().join("nothing/*.py"))
        .run();
    assert_eq!(out.code, 1);
    let doc: BlockingDoc = out.json();
    let kinds: Vec<_> = doc.results.iter().map(FileResult::kind).collect();
    assert_eq!(
        kinds,
        [Some("not_found"), Some("unsupported"), Some("no_match")]
    );
    for result in &doc.results {
        assert_eq!(result.status, "error");
        assert!(result.lines.is_none() && result.findings.is_none());
    }
}

#[test]
fn a_dangling_symlink_named_like_a_pattern_is_taken_literally() {
    // `[1]` makes the name a glob pattern unless it names an existing
    // entry; a dangling symlink is one, for the walker and for this tool.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("gone.txt", dir.path().join("notes[1].txt")).unwrap();
    let out = scanner().current_dir(dir.path()).arg("notes[1].txt").run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results.len(), 1);
    assert_eq!(doc.results[0].path, "notes[1].txt");
    assert_eq!(doc.results[0].kind(), Some("unsupported"), "not no_match");
}

#[test]
fn no_items_and_bad_input_items_are_usage_errors() {
    let out = scanner().run();
    assert_eq!(out.code, 2);
    let _: UsageError = out.json();

    let out = scanner()
        .args(["--input", "-"])
        .stdin("\"a.py\"\n{\"path\": 3}\n")
        .run();
    assert_eq!(out.code, 2);
    let error: UsageError = out.json();
    assert_eq!(error.error.line, Some(2));
    assert_eq!(error.error.field.as_deref(), Some("path"));

    // A misspelt field is bad input too, not silently ignored.
    let dir = tempfile::tempdir().unwrap();
    let a = write_file(dir.path(), "a.py", "x = 1\n");
    let items = format!(
        "{}\n{}\n",
        serde_json::json!({"path": a.display().to_string()}),
        serde_json::json!({"path": a.display().to_string(), "pth": 1})
    );
    let out = scanner().args(["--input", "-"]).stdin(items).run();
    assert_eq!(out.code, 2, "{}", out.stdout);
    let error: UsageError = out.json();
    assert_eq!(error.error.kind, "invalid_input");
    assert_eq!(error.error.line, Some(2));
    assert_eq!(error.error.field.as_deref(), Some("pth"));
    assert!(
        error.error.message.contains("unknown field `pth`"),
        "{}",
        error.error.message
    );
}

#[test]
fn input_items_are_paths_or_objects() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_file(dir.path(), "a.py", "async def f():\n    input()\n");
    let b = write_file(dir.path(), "b.rs", "fn main() {}\n");
    let list = serde_json::json!([a.display().to_string(), {"path": b.display().to_string()}]);
    let out = scanner()
        .args(["--input", "-"])
        .stdin(list.to_string())
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results[0].rules(), ["py-input"]);
    assert_eq!(doc.results[1].status, "ok");
    assert_eq!(doc.results[1].language.as_deref(), Some("rust"));
}

#[test]
fn ndjson_streams_one_line_per_file_then_the_summary() {
    let out = scanner().args(["--ndjson", CORPUS]).run();
    assert_eq!(out.code, 1);
    let lines: Vec<BlockingLine> = out.lines();
    let (summaries, results): (Vec<_>, Vec<_>) = lines
        .into_iter()
        .partition(|line| matches!(line, BlockingLine::Summary(_)));
    assert_eq!(summaries.len(), 1);
    let BlockingLine::Summary(summary) = &summaries[0] else {
        unreachable!()
    };
    assert_eq!(summary.line_type.as_deref(), Some("summary"));
    assert_eq!(summary.total as usize, results.len());
    let mut indexes: Vec<usize> = results
        .iter()
        .map(|line| match line {
            BlockingLine::Result(result) => {
                assert_eq!(result.line_type.as_deref(), Some("result"));
                result.index
            }
            BlockingLine::Summary(_) => unreachable!(),
        })
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..results.len()).collect::<Vec<_>>());
}

#[test]
fn directories_skip_hidden_entries_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".venv/lib")).unwrap();
    std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
    write_file(
        &dir.path().join(".venv/lib"),
        "vendored.py",
        "import time\nasync def f():\n    time.sleep(1)\n",
    );
    write_file(&dir.path().join("pkg"), "ok.py", "x = 1\n");
    write_file(&dir.path().join("pkg"), "notes.md", "time.sleep\n");
    let out = scanner().arg(dir.path()).run();
    assert_eq!(out.code, 0, "{}", out.stdout);
    let doc: BlockingDoc = out.json();
    let paths: Vec<_> = doc.results.iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert!(paths[0].ends_with("pkg/ok.py"));

    let out = scanner().arg("--hidden").arg(dir.path()).run();
    assert_eq!(out.code, 1);
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results.len(), 2);
}

#[test]
fn oversized_files_are_skipped_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "big.py",
        &"import time\nasync def f():\n    time.sleep(1)\n".repeat(100),
    );
    let out = scanner().args(["--max-file-size", "1KiB"]).arg(&file).run();
    assert_eq!(out.code, 0, "skipped does not fail the run");
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results[0].status, "skipped");
    assert_eq!(doc.results[0].kind(), Some("too_large"));
    assert_eq!(doc.summary.skipped, 1);
}

#[test]
fn help_says_which_exit_code_a_skipped_file_gives() {
    let help = scanner().arg("--help").run().stdout;
    let codes = help
        .split_once("Exit codes:")
        .map(|(_, codes)| codes)
        .expect("--help has an `Exit codes:` section");
    // The text from `0` up to `1` is what exit 0 means.
    let zero = codes
        .split_once("\n  1 ")
        .map(|(zero, _)| zero)
        .expect("an entry for exit 1");
    assert!(zero.contains("too_large"), "exit 0 per --help:{zero}");

    // And the tool does what the help says.
    let dir = tempfile::tempdir().unwrap();
    let big = write_file(dir.path(), "big.py", &"x = 1\n".repeat(1000));
    let out = scanner().args(["--max-file-size", "1KiB"]).arg(&big).run();
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results[0].kind(), Some("too_large"));
    assert_eq!(out.code, 0);
}

#[test]
fn a_parse_past_the_timeout_is_abandoned() {
    let dir = tempfile::tempdir().unwrap();
    let body = "async def f(x):\n    return [y for y in range(x) if y % 3 == 0]\n".repeat(40_000);
    let file = write_file(dir.path(), "long.py", &body);
    let out = scanner().args(["--timeout", "1ms"]).arg(&file).run();
    assert_eq!(out.code, 1);
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results[0].status, "timeout");
    assert_eq!(doc.results[0].kind(), Some("timeout"));
}

#[test]
fn a_fifo_is_refused_not_opened() {
    // Opening a FIFO for reading waits for a writer; none ever comes here.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("hang.py");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let clean = write_file(dir.path(), "clean.py", "x = 1\n");
    let out = scanner()
        .args(["--timeout", "1s"])
        .arg(&fifo)
        .arg(&clean)
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let stdout: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    common::schema::assert_valid(
        &common::schema::validator("find_blocking_calls.schema.json", None),
        &stdout,
        "a not_regular result",
    );
    let doc: BlockingDoc = out.json();
    let refused = &doc.results[0];
    assert_eq!(refused.status, "error");
    assert_eq!(refused.kind(), Some("not_regular"), "{refused:?}");
    let message = &refused.error.as_ref().unwrap().message;
    assert!(message.contains("FIFO"), "{message}");
    assert!(refused.lines.is_none() && refused.findings.is_none());
    assert_eq!(doc.results[1].status, "ok", "the other file still runs");
}

#[test]
fn gitignore_is_honoured_unless_no_ignore() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("generated")).unwrap();
    write_file(dir.path(), ".gitignore", "generated/\n");
    write_file(
        &dir.path().join("generated"),
        "client.py",
        "import requests\nasync def f():\n    requests.get('x')\n",
    );
    write_file(dir.path(), "app.rs", "async fn f() {}\n");
    let out = scanner().arg(dir.path()).run();
    assert_eq!(out.code, 0, "{}", out.stdout);
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results.len(), 1);
    assert_eq!(doc.summary.files.rust, 1);

    let out = scanner().arg("--no-ignore").arg(dir.path()).run();
    assert_eq!(out.code, 1);
    let doc: BlockingDoc = out.json();
    assert_eq!(doc.results.len(), 2);
    assert_eq!(doc.summary.findings, 1);
}

#[test]
fn glob_patterns_select_python_and_rust_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    write_file(
        &dir.path().join("a/b"),
        "deep.py",
        "async def f():\n    input()\n",
    );
    write_file(&dir.path().join("a"), "top.rs", "fn main() {}\n");
    write_file(&dir.path().join("a"), "readme.md", "input()\n");
    let out = scanner()
        .current_dir(dir.path())
        .args(["a/**/*", "a/{b/deep.py,top.rs}"])
        .run();
    assert_eq!(out.code, 1, "{}", out.stdout);
    let doc: BlockingDoc = out.json();
    let paths: Vec<&str> = doc.results.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["a/b/deep.py", "a/top.rs"], "each file once, no .md");

    let out = scanner().current_dir(dir.path()).arg("a/[").run();
    assert_eq!(out.code, 2, "a bad pattern is bad input");
    let error: UsageError = out.json();
    assert_eq!(error.error.field.as_deref(), Some("args[0]"));
}

/// The speed goal (a 100k-line tree in about a second on 2 cores) is a
/// benchmark, not a test: `cargo test --release --test blocking -- --ignored
/// --nocapture benchmark`. It copies the corpus into a tree of about 100,000
/// lines and prints lines per second.
#[test]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
fn benchmark_100k_line_tree() {
    let mut sources = Vec::new();
    for language in ["python", "rust"] {
        for entry in std::fs::read_dir(Path::new(CORPUS).join(language)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let extension = path.extension().unwrap().to_str().unwrap().to_string();
            sources.push((extension, text));
        }
    }
    sources.sort();
    let dir = tempfile::tempdir().unwrap();
    let mut lines = 0;
    let mut files = 0;
    while lines < 100_000 {
        let (extension, text) = &sources[files % sources.len()];
        let package = dir.path().join(format!("pkg{}", files / 50));
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join(format!("m{files}.{extension}")), text).unwrap();
        lines += text.lines().count();
        files += 1;
    }
    for concurrency in ["2", "16"] {
        let started = std::time::Instant::now();
        let out = scanner().args(["-c", concurrency]).arg(dir.path()).run();
        let elapsed = started.elapsed();
        assert_eq!(out.code, 1);
        let doc: BlockingDoc = out.json();
        assert_eq!(doc.summary.lines as usize, lines);
        eprintln!(
            "benchmark: {files} files, {lines} lines, -c {concurrency}: {:.2} s wall \
             ({:.0} lines/s), {} findings",
            elapsed.as_secs_f64(),
            lines as f64 / elapsed.as_secs_f64(),
            doc.summary.findings
        );
    }
}

#[test]
fn deadline_also_covers_a_long_walk() {
    // 10,000 files in 100 folders: listing them takes far longer than 1 ms.
    let dir = tempfile::tempdir().unwrap();
    for folder in 0..100 {
        let path = dir.path().join(format!("pkg{folder:03}"));
        std::fs::create_dir(&path).unwrap();
        for file in 0..100 {
            std::fs::write(path.join(format!("m{file:03}.py")), b"").unwrap();
        }
    }
    let out = scanner().arg("--deadline").arg("1ms").arg(dir.path()).run();
    assert_eq!(out.code, 1, "a run its deadline cut short is not a success");
    assert!(
        out.stderr.contains("stopped while listing files"),
        "{}",
        out.stderr
    );
    let doc: BlockingDoc = out.json();
    assert!(doc.results.is_empty(), "no file was known yet");
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("deadline"));
}

#[test]
fn help_documents_every_flag_with_examples() {
    common::assert_help_documents(
        "find_blocking_calls",
        &[
            "--rules",
            "--rule ",
            "--max-file-size",
            "--hidden",
            "--no-ignore",
        ],
    );
}
