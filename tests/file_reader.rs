//! `async_file_reader` end to end: the real binary on real files in a
//! temporary directory, compared with GNU `wc` itself where it is installed
//! and with fixed numbers always.

mod common;

use common::tool;
use common::wire::{OutputPointer, UsageError};
use common::wire_files::{FileResult, FilesDoc, FilesLine, FilesSummary};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn reader(root: &Path) -> common::Tool {
    tool("async_file_reader")
        .args(["--no-progress", "--root"])
        .arg(root)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, bytes).unwrap();
    path
}

fn paths(doc: &FilesDoc) -> Vec<&str> {
    doc.results.iter().map(|r| r.path.as_str()).collect()
}

fn by_path<'a>(doc: &'a FilesDoc, path: &str) -> &'a FileResult {
    doc.results
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no result for {path}: {:?}", paths(doc)))
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo reads a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
}

/// `(lines, chars, bytes)` from `LC_ALL=C.UTF-8 wc -lmc`, when a GNU wc
/// with a UTF-8 locale is here to ask.
fn gnu_wc(path: &Path) -> Option<(u64, u64, u64)> {
    let output = Command::new("wc")
        .arg("-lmc")
        .arg(path)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>());
    Some((
        numbers.next()?.ok()?,
        numbers.next()?.ok()?,
        numbers.next()?.ok()?,
    ))
}

/// Whether `wc -m` here decodes UTF-8 (the locale exists).
fn wc_speaks_utf8(dir: &Path) -> bool {
    let probe = write(dir, "probe.utf8", "\u{e9}".as_bytes());
    let answer = gnu_wc(&probe);
    fs::remove_file(probe).unwrap();
    answer == Some((0, 1, 2))
}

/// (name, bytes, lines, chars, utf8_valid, trailing_newline)
type Awkward = (&'static str, Vec<u8>, u64, u64, bool, bool);

/// Files that trip naive counters, with the numbers GNU wc gives.
fn awkward_files() -> Vec<Awkward> {
    let mut split = Vec::new();
    // Multi-byte characters straddling every read-buffer boundary (256 KiB)
    // and every counting-slice boundary (32 KiB): a 1-byte shift then
    // 3- and 4-byte characters.
    split.push(b'x');
    for _ in 0..60_000 {
        split.extend_from_slice("\u{20ac}\u{1f600}".as_bytes());
    }
    split.push(b'\n');
    vec![
        ("empty.txt", Vec::new(), 0, 0, true, false),
        (
            "no_final_newline.txt",
            b"one\ntwo".to_vec(),
            1,
            7,
            true,
            false,
        ),
        ("crlf.txt", b"a\r\nb\r\n".to_vec(), 2, 6, true, true),
        (
            "invalid.txt",
            b"ok\xff\xfe then \xe2\x82 cut\n".to_vec(),
            1,
            13,
            false,
            true,
        ),
        (
            "truncated_end.txt",
            b"abc\xf0\x9f\x98".to_vec(),
            0,
            3,
            false,
            false,
        ),
        (
            "surrogate.txt",
            b"\xed\xa0\x80x".to_vec(),
            0,
            1,
            false,
            false,
        ),
        (
            "overlong.txt",
            b"\xc0\xafx\xe0\x80\xaf".to_vec(),
            0,
            1,
            false,
            false,
        ),
        (
            "beyond_unicode.txt",
            b"\xf4\x90\x80\x80\n".to_vec(),
            1,
            2,
            false,
            true,
        ),
        ("nul.txt", b"a\0b\n".to_vec(), 1, 4, true, true),
        (
            "multibyte.txt",
            "h\u{e9}llo w\u{f6}rld \u{20ac} \u{1f600}\n"
                .as_bytes()
                .to_vec(),
            1,
            16,
            true,
            true,
        ),
        ("split.txt", split, 1, 120_002, true, true),
    ]
}

#[test]
fn counts_equal_gnu_wc_on_every_awkward_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = awkward_files();
    for (name, bytes, ..) in &files {
        write(dir.path(), name, bytes);
    }
    let out = reader(dir.path()).arg("*.txt").run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: FilesDoc = out.json();
    assert_eq!(doc.results.len(), files.len());
    let ask_wc = wc_speaks_utf8(dir.path());
    let mut totals = (0, 0, 0);
    for (name, bytes, lines, chars, valid, trailing) in &files {
        let result = by_path(&doc, name);
        assert_eq!(result.status, "ok", "{name}");
        assert_eq!(result.bytes, Some(bytes.len() as u64), "bytes of {name}");
        assert_eq!(result.lines, Some(*lines), "lines of {name}");
        assert_eq!(result.chars, Some(*chars), "chars of {name}");
        assert_eq!(result.utf8_valid, Some(*valid), "utf8_valid of {name}");
        assert_eq!(result.trailing_newline, Some(*trailing), "{name}");
        assert_eq!(result.binary, Some(bytes.contains(&0)), "{name}");
        if ask_wc {
            assert_eq!(
                gnu_wc(&dir.path().join(name)),
                Some((*lines, *chars, bytes.len() as u64)),
                "GNU wc disagrees on {name}"
            );
        }
        totals.0 += bytes.len() as u64;
        totals.1 += lines;
        totals.2 += chars;
    }
    assert_eq!(
        (doc.summary.bytes, doc.summary.lines, doc.summary.chars),
        totals
    );
}

/// Random byte files (biased to the bytes that matter in UTF-8), some
/// larger than the read buffer, against `wc` itself.
#[test]
fn random_files_match_gnu_wc() {
    let dir = tempfile::tempdir().unwrap();
    if !wc_speaks_utf8(dir.path()) {
        eprintln!("skipped: no GNU wc with a C.UTF-8 locale here");
        return;
    }
    let mut rng = fastrand::Rng::with_seed(2024);
    let alphabet: &[u8] = &[
        b'a', b' ', b'\n', b'\r', 0, 0x7F, 0x80, 0x8F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED,
        0xEF, 0xF0, 0xF4, 0xF5, 0xF8, 0xFC, 0xFD, 0xFE, 0xFF,
    ];
    let pieces: &[&[u8]] = &[
        "\u{e9}".as_bytes(),
        "\u{20ac}".as_bytes(),
        "\u{1f600}".as_bytes(),
        b"plain text ",
    ];
    for index in 0..24 {
        let size = match index % 4 {
            0 => rng.usize(0..64),
            1 => rng.usize(64..4096),
            2 => rng.usize(4096..70_000),
            _ => rng.usize(260_000..600_000),
        };
        let mut data = Vec::with_capacity(size);
        while data.len() < size {
            if rng.bool() {
                data.push(alphabet[rng.usize(..alphabet.len())]);
            } else {
                data.extend_from_slice(pieces[rng.usize(..pieces.len())]);
            }
        }
        write(dir.path(), &format!("r{index:02}.bin"), &data);
    }
    let out = reader(dir.path()).arg("r*.bin").run();
    let doc: FilesDoc = out.json();
    assert_eq!(doc.results.len(), 24);
    for result in &doc.results {
        let (lines, chars, bytes) = gnu_wc(&dir.path().join(&result.path)).unwrap();
        assert_eq!(
            (result.lines, result.chars, result.bytes),
            (Some(lines), Some(chars), Some(bytes)),
            "{} differs from wc",
            result.path
        );
    }
}

#[test]
fn globs_recurse_expand_braces_sort_and_deduplicate() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "a.rs",
        "b.toml",
        "c.md",
        "src/x.rs",
        "src/deep/er/y.rs",
        "tests/z.rs",
    ] {
        write(dir.path(), name, b"x\n");
    }
    let out = reader(dir.path())
        .args(["**/*.rs", "*.{rs,toml}", "src/*.rs", "./a.rs"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: FilesDoc = out.json();
    assert_eq!(
        paths(&doc),
        [
            "a.rs",
            "b.toml",
            "src/deep/er/y.rs",
            "src/x.rs",
            "tests/z.rs"
        ]
    );
    for (index, result) in doc.results.iter().enumerate() {
        assert_eq!(result.index, index);
    }
    // `*` stays within one directory.
    let doc: FilesDoc = reader(dir.path()).arg("*.rs").run().json();
    assert_eq!(paths(&doc), ["a.rs"]);
}

#[test]
fn unmatched_patterns_are_no_match_results_and_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"a\n");
    let out = reader(dir.path())
        .args(["*.txt", "*.nothing", "missing_dir/**/*.txt", "*.nothing"])
        .run();
    assert_eq!(out.code, 1);
    let doc: FilesDoc = out.json();
    // Sorted by path with the files, each pattern once, as find_blocking_calls does.
    assert_eq!(paths(&doc), ["*.nothing", "a.txt", "missing_dir/**/*.txt"]);
    let kinds: Vec<Option<&str>> = doc
        .results
        .iter()
        .map(|result| result.error.as_ref().map(|error| error.kind.as_str()))
        .collect();
    assert_eq!(kinds, [Some("no_match"), None, Some("no_match")]);
    assert_eq!((doc.summary.ok, doc.summary.error), (1, 2));
    assert!(doc.results[0].bytes.is_none());
    assert!(out.stderr.contains("*.nothing"));

    // Nothing matched at all: one no_match result, exit 1.
    let out = reader(dir.path()).arg("*.nothing").run();
    assert_eq!(out.code, 1);
    let doc: FilesDoc = out.json();
    assert_eq!(paths(&doc), ["*.nothing"]);
    assert_eq!(doc.summary.total, 1);
}

#[test]
fn hidden_files_only_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "a.yml",
        ".hidden.yml",
        ".github/workflows/ci.yml",
        "sub/.env",
    ] {
        write(dir.path(), name, b"k: v\n");
    }
    let doc: FilesDoc = reader(dir.path()).arg("**/*.yml").run().json();
    assert_eq!(paths(&doc), ["a.yml"]);
    let doc: FilesDoc = reader(dir.path())
        .args(["--hidden", "**/*.yml"])
        .run()
        .json();
    assert_eq!(
        paths(&doc),
        [".github/workflows/ci.yml", ".hidden.yml", "a.yml"]
    );
    let doc: FilesDoc = reader(dir.path())
        .args([".github/**/*.yml", "**/.env"])
        .run()
        .json();
    assert_eq!(paths(&doc), [".github/workflows/ci.yml", "sub/.env"]);
    // A literal path is taken as is, hidden or not.
    let doc: FilesDoc = reader(dir.path()).arg("sub/.env").run().json();
    assert_eq!(paths(&doc), ["sub/.env"]);
}

#[cfg(unix)]
#[test]
fn symlink_cycles_never_loop() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "top/a.txt", b"a\n");
    write(dir.path(), "top/sub/b.txt", b"b\n");
    std::os::unix::fs::symlink("..", dir.path().join("top/sub/loop")).unwrap();
    std::os::unix::fs::symlink("../top", dir.path().join("top/sub/again")).unwrap();

    let out = reader(dir.path()).arg("top/**/*.txt").run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: FilesDoc = out.json();
    assert_eq!(paths(&doc), ["top/a.txt", "top/sub/b.txt"]);
    assert!(doc.summary.walk_errors.is_empty());

    let out = reader(dir.path()).args(["--follow", "top/**/*.txt"]).run();
    // Loops are reported, skipped, and lose no file: still exit 0.
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(20));
    let doc: FilesDoc = out.json();
    assert_eq!(paths(&doc), ["top/a.txt", "top/sub/b.txt"]);
    assert!(!doc.summary.walk_errors.is_empty());
    for error in &doc.summary.walk_errors {
        assert_eq!(error.kind, "symlink_loop", "{error:?}");
        assert!(error.path.starts_with("top/sub/"), "{error:?}");
    }
}

#[cfg(unix)]
#[test]
fn per_file_errors_never_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.txt", b"fine\n");
    fs::create_dir(dir.path().join("folder")).unwrap();
    std::os::unix::fs::symlink("gone.txt", dir.path().join("dangling.txt")).unwrap();
    let out = reader(dir.path())
        .args([
            "ok.txt",
            "missing.txt",
            "folder",
            "dangling.txt",
            "/dev/null",
        ])
        .run();
    assert_eq!(out.code, 1);
    let doc: FilesDoc = out.json();
    let kind = |path: &str| {
        by_path(&doc, path)
            .error
            .as_ref()
            .map(|error| error.kind.clone())
    };
    assert_eq!(by_path(&doc, "ok.txt").status, "ok");
    assert_eq!(kind("missing.txt").as_deref(), Some("not_found"));
    assert_eq!(kind("dangling.txt").as_deref(), Some("not_found"));
    assert_eq!(kind("folder").as_deref(), Some("is_directory"));
    assert_eq!(kind("/dev/null").as_deref(), Some("not_regular"));
    for result in &doc.results {
        if result.status != "ok" {
            assert_eq!(result.status, "error");
            assert!(!result.error.as_ref().unwrap().message.is_empty());
            // Fields that do not apply are left out.
            assert_eq!(result.bytes, None);
            assert_eq!(result.lines, None);
        }
    }
    assert_eq!(doc.summary.error, 4);
    assert_eq!(doc.summary.bytes, 5, "totals count files that were read");
}

#[cfg(unix)]
#[test]
fn a_pipe_that_never_ends_times_out_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("silent.fifo"));
    write(dir.path(), "ok.txt", b"fine\n");
    let out = reader(dir.path())
        .args(["--timeout", "300ms", "silent.fifo", "ok.txt"])
        .run();
    assert_eq!(out.code, 1);
    assert!(
        out.elapsed < Duration::from_secs(15),
        "a stuck read must not hold up the exit"
    );
    let doc: FilesDoc = out.json();
    let stuck = by_path(&doc, "silent.fifo");
    assert_eq!(stuck.status, "timeout");
    assert_eq!(stuck.error.as_ref().unwrap().kind, "timeout");
    assert_eq!(by_path(&doc, "ok.txt").status, "ok");
}

#[cfg(unix)]
#[test]
fn pipes_are_read_like_files() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("data.fifo");
    mkfifo(&fifo);
    let writer = std::thread::spawn({
        let fifo = fifo.clone();
        move || fs::write(fifo, b"one\ntwo\n").unwrap()
    });
    let out = reader(dir.path()).arg("data.fifo").run();
    writer.join().unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: FilesDoc = out.json();
    assert_eq!(doc.results[0].lines, Some(2));
    assert_eq!(doc.results[0].bytes, Some(8));
}

#[test]
fn content_is_capped_at_a_character_and_only_for_text() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "short.txt", "h\u{e9}llo\n".as_bytes());
    write(dir.path(), "long.txt", "\u{e9}".repeat(100).as_bytes());
    write(dir.path(), "binary.dat", b"PK\0\x03text");
    write(dir.path(), "latin1.txt", b"caf\xe9\n");
    let out = reader(dir.path())
        .args(["--content", "--max-content", "9", "*"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: FilesDoc = out.json();
    let short = by_path(&doc, "short.txt");
    assert_eq!(short.content.as_deref(), Some("h\u{e9}llo\n"));
    assert_eq!(short.truncated, None);
    let long = by_path(&doc, "long.txt");
    // 9 bytes would split the fifth two-byte character: four are kept.
    assert_eq!(long.content.as_deref(), Some("\u{e9}\u{e9}\u{e9}\u{e9}"));
    assert_eq!(long.truncated, Some(true));
    assert_eq!(long.bytes, Some(200), "counts cover the whole file");
    let binary = by_path(&doc, "binary.dat");
    assert_eq!(binary.binary, Some(true));
    assert_eq!(binary.content, None);
    let latin1 = by_path(&doc, "latin1.txt");
    assert_eq!(latin1.utf8_valid, Some(false));
    assert_eq!(latin1.content, None);

    // Without --content there is no text at all.
    let doc: FilesDoc = reader(dir.path()).arg("short.txt").run().json();
    assert_eq!(doc.results[0].content, None);
}

#[test]
fn head_and_tail_give_lines() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (1..=1000).map(|n| format!("line {n}\n")).collect();
    write(dir.path(), "log.txt", text.as_bytes());
    write(dir.path(), "open_end.txt", b"a\nb\nc");

    let doc: FilesDoc = reader(dir.path())
        .args(["--head", "2", "log.txt", "open_end.txt"])
        .run()
        .json();
    assert_eq!(
        by_path(&doc, "log.txt").content.as_deref(),
        Some("line 1\nline 2\n")
    );
    assert_eq!(by_path(&doc, "log.txt").lines, Some(1000));
    assert_eq!(
        by_path(&doc, "open_end.txt").content.as_deref(),
        Some("a\nb\n")
    );

    let doc: FilesDoc = reader(dir.path())
        .args(["--tail", "2", "log.txt", "open_end.txt"])
        .run()
        .json();
    assert_eq!(
        by_path(&doc, "log.txt").content.as_deref(),
        Some("line 999\nline 1000\n")
    );
    assert_eq!(
        by_path(&doc, "open_end.txt").content.as_deref(),
        Some("b\nc")
    );

    // The cap keeps the end of the tail.
    let doc: FilesDoc = reader(dir.path())
        .args(["--tail", "3", "--max-content", "12", "log.txt"])
        .run()
        .json();
    assert_eq!(doc.results[0].content.as_deref(), Some("9\nline 1000\n"));
    assert_eq!(doc.results[0].truncated, Some(true));

    let out = reader(dir.path())
        .args(["--head", "1", "--tail", "1", "log.txt"])
        .run();
    assert_eq!(out.code, 2, "--head and --tail exclude each other");
}

#[test]
fn sha256_covers_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "abc.txt", b"abc\n");
    let big: Vec<u8> = (0..700_000u32).map(|n| (n % 251) as u8).collect();
    write(dir.path(), "big.bin", &big);
    let out = reader(dir.path())
        .args(["--hash", "sha256", "abc.txt", "big.bin"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: FilesDoc = out.json();
    assert_eq!(
        by_path(&doc, "abc.txt").sha256.as_deref(),
        Some("edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb")
    );
    let digest = by_path(&doc, "big.bin").sha256.clone().unwrap();
    if let Ok(output) = Command::new("sha256sum")
        .arg(dir.path().join("big.bin"))
        .output()
    {
        let expected = String::from_utf8(output.stdout).unwrap();
        assert!(expected.starts_with(&digest), "{expected} vs {digest}");
    }
    let out = reader(dir.path()).args(["--hash", "md5", "abc.txt"]).run();
    assert_eq!(out.code, 2);
}

#[test]
fn bad_input_is_exit_2_naming_the_argument_or_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"a\n");

    let out = reader(dir.path()).args(["a.txt", "src/[ab"]).run();
    assert_eq!(out.code, 2);
    let usage: UsageError = out.json();
    assert_eq!(usage.tool, "async_file_reader");
    assert_eq!(usage.error.kind, "invalid_input");
    assert_eq!(usage.error.field.as_deref(), Some("args[1]"));
    assert!(
        usage.error.message.contains("src/[ab"),
        "{}",
        usage.error.message
    );

    let input = "\"a.txt\"\n{\"path\": \"a.txt\", \"mode\": 1}\n";
    let out = reader(dir.path()).args(["--input", "-"]).stdin(input).run();
    assert_eq!(out.code, 2);
    let usage: UsageError = out.json();
    assert_eq!(usage.error.line, Some(2));
    assert_eq!(usage.error.field.as_deref(), Some("mode"));

    let out = reader(dir.path())
        .args(["--input", "-"])
        .stdin("[\"*.{txt\"]")
        .run();
    assert_eq!(out.code, 2);
    assert_eq!(out.json::<UsageError>().error.line, Some(1));

    let out = tool("async_file_reader")
        .args(["--root", "/no/such/dir", "a.txt"])
        .run();
    assert_eq!(out.code, 2);
    assert_eq!(
        out.json::<UsageError>().error.field.as_deref(),
        Some("--root")
    );

    let out = reader(dir.path()).run();
    assert_eq!(out.code, 2, "no items at all");
}

#[test]
fn input_items_are_patterns_or_literal_paths() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a1.txt", b"1\n");
    write(dir.path(), "a2.txt", b"2\n");
    write(dir.path(), "a?.txt", b"literal\n");
    let input = "[\"a[12].txt\", {\"path\": \"a?.txt\"}]";
    let out = reader(dir.path()).args(["--input", "-"]).stdin(input).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: FilesDoc = out.json();
    assert_eq!(paths(&doc), ["a1.txt", "a2.txt", "a?.txt"]);
    assert_eq!(by_path(&doc, "a?.txt").bytes, Some(8));
}

#[test]
fn ndjson_streams_one_line_per_file_then_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    for index in 0..20 {
        write(dir.path(), &format!("f{index:02}.txt"), b"x\ny\n");
    }
    let out = reader(dir.path())
        .args(["--ndjson", "-c", "4", "*.txt", "nope.txt"])
        .run();
    assert_eq!(out.code, 1);
    let lines: Vec<FilesLine> = out.lines();
    assert_eq!(lines.len(), 22);
    let mut indices = Vec::new();
    for line in &lines[..21] {
        let FilesLine::Result(result) = line else {
            panic!("a summary before the end: {line:?}")
        };
        assert_eq!(result.line_type.as_deref(), Some("result"));
        indices.push(result.index);
    }
    indices.sort();
    assert_eq!(indices, (0..21).collect::<Vec<_>>());
    let FilesLine::Summary(summary) = &lines[21] else {
        panic!("the last line is not the summary")
    };
    let summary: &FilesSummary = summary;
    assert_eq!(summary.line_type.as_deref(), Some("summary"));
    assert_eq!(summary.tool.as_deref(), Some("async_file_reader"));
    assert_eq!((summary.ok, summary.error), (20, 1));
    assert_eq!(summary.lines, 40);
    assert!(summary.max_in_flight <= 4);
}

#[test]
fn output_file_gets_the_document_and_stdout_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"a\n");
    let target = dir.path().join("out.json");
    let out = reader(dir.path())
        .arg("--output")
        .arg(&target)
        .arg("a.txt")
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let pointer: OutputPointer<FilesSummary> = out.json();
    assert_eq!(pointer.summary.bytes, 2);
    let doc: FilesDoc = serde_json::from_str(&fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(paths(&doc), ["a.txt"]);
}

#[test]
fn fail_fast_cancels_the_files_not_yet_read() {
    let dir = tempfile::tempdir().unwrap();
    for index in 0..30 {
        write(dir.path(), &format!("f{index:02}.txt"), b"x\n");
    }
    // Sorted first, so it is read first; with -c 1 nothing else is running.
    let out = reader(dir.path())
        .args(["--fail-fast", "-c", "1", "*.txt", "a_missing.txt"])
        .run();
    assert_eq!(out.code, 1);
    let doc: FilesDoc = out.json();
    assert_eq!(doc.results[0].path, "a_missing.txt");
    assert_eq!(doc.results.len(), 31, "every file appears once");
    assert!(doc.summary.cancelled > 0);
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("fail_fast"));
}

#[cfg(unix)]
#[test]
fn deadline_turns_a_stuck_read_into_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("stuck.fifo"));
    let out = reader(dir.path())
        .args(["--deadline", "300ms", "stuck.fifo"])
        .run();
    assert_eq!(out.code, 1);
    assert!(out.elapsed < Duration::from_secs(15));
    let doc: FilesDoc = out.json();
    assert_eq!(doc.results[0].status, "timeout");
    assert_eq!(doc.results[0].error.as_ref().unwrap().kind, "deadline");
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("deadline"));
}

#[test]
fn deadline_also_covers_a_long_walk() {
    // 10,000 files in 100 folders: walking them takes far longer than 1 ms.
    let dir = tempfile::tempdir().unwrap();
    for folder in 0..100 {
        let path = dir.path().join(format!("d{folder:03}"));
        fs::create_dir(&path).unwrap();
        for file in 0..100 {
            fs::write(path.join(format!("f{file:03}.txt")), b"").unwrap();
        }
    }
    let out = reader(dir.path())
        .args(["--deadline", "1ms", "**/*.txt"])
        .run();
    assert_eq!(out.code, 1, "a run its deadline cut short is not a success");
    assert!(
        out.stderr.contains("stopped while matching patterns"),
        "{}",
        out.stderr
    );
    let doc: FilesDoc = out.json();
    assert!(doc.results.is_empty(), "no file was known yet");
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("deadline"));
}

#[cfg(unix)]
#[test]
fn sigint_prints_what_was_read_and_exits_130() {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("b_waiting.fifo");
    mkfifo(&fifo);
    write(dir.path(), "a_ready.txt", b"ready\n");
    let running = reader(dir.path())
        .args(["-c", "1", "a_ready.txt", "b_waiting.fifo", "c_later.txt"])
        .spawn();
    // Opening the write end without blocking succeeds once the tool has
    // the FIFO open for reading; holding it open (silent) keeps it reading.
    let mut writer = None;
    common::wait_until(Duration::from_secs(20), "the tool reading the FIFO", || {
        writer = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .ok();
        writer.is_some()
    });
    running.signal(libc::SIGINT);
    let out = running.wait();
    drop(writer);
    assert_eq!(out.code, 130, "{}", out.stderr);
    let doc: FilesDoc = out.json();
    let statuses: Vec<&str> = doc.results.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["ok", "cancelled", "cancelled"]);
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("sigint"));
}

#[test]
fn help_documents_every_flag_with_examples() {
    common::assert_help_documents(
        "async_file_reader",
        &[
            "--root",
            "--hidden",
            "--follow",
            "--content",
            "--head",
            "--tail",
            "--max-content",
            "--hash",
        ],
    );
}

/// Patterns globset cannot compile (or that would take long to): the
/// review's three, each bad input naming its item, never a panic (exit 101).
#[test]
fn patterns_past_the_compilers_limits_are_bad_input_naming_the_item() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"a\n");
    let nested = format!("{}a{}", "{".repeat(130), "}".repeat(130));
    let stars = "*".repeat(90_000);
    for (args, field) in [
        (vec!["a.txt", stars.as_str()], "args[1]"),
        (vec![nested.as_str(), "a.txt"], "args[0]"),
    ] {
        let out = reader(dir.path()).args(&args).run();
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        let usage: UsageError = out.json();
        assert_eq!(usage.error.kind, "invalid_input");
        assert_eq!(usage.error.field.as_deref(), Some(field));
        assert!(usage.error.message.len() < 400, "{}", usage.error.message);
    }
    // A huge pattern through --input: named by its line.
    let input = format!(
        "\"a.txt\"\n{}\n",
        serde_json::to_string(&"*".repeat(200_000)).unwrap()
    );
    let out = reader(dir.path()).args(["--input", "-"]).stdin(input).run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(out.json::<UsageError>().error.line, Some(2));
}

/// A pattern that meets FIFOs and devices lists them, unopened: every
/// name it matched is accounted for. Named as an item, a FIFO is read.
#[cfg(unix)]
#[test]
fn fifos_and_devices_a_pattern_matches_are_listed_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"a\n");
    write(dir.path(), "sub/b.txt", b"b\n");
    mkfifo(&dir.path().join("pipe.txt"));
    mkfifo(&dir.path().join("sub/only.fifo"));
    std::os::unix::fs::symlink("/dev/null", dir.path().join("null.txt")).unwrap();
    // No writer ever opens the FIFO: a read would wait for --timeout (60 s
    // here, past the watchdog); listing it must not wait at all.
    let out = reader(dir.path())
        .args(["--timeout", "60s", "*.txt", "**/*.fifo"])
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let stdout: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    common::schema::assert_valid(
        &common::schema::validator("async_file_reader.schema.json", None),
        &stdout,
        "a not_regular result",
    );
    let doc: FilesDoc = out.json();
    assert_eq!(
        paths(&doc),
        ["a.txt", "null.txt", "pipe.txt", "sub/only.fifo"]
    );
    assert_eq!(by_path(&doc, "a.txt").status, "ok");
    for (path, what) in [
        ("null.txt", "character device"),
        ("pipe.txt", "FIFO"),
        ("sub/only.fifo", "FIFO"),
    ] {
        let listed = by_path(&doc, path);
        assert_eq!(listed.status, "error", "{listed:?}");
        let error = listed.error.as_ref().unwrap();
        assert_eq!(error.kind, "not_regular");
        assert!(error.message.contains(what), "{}", error.message);
        assert!(listed.bytes.is_none(), "not opened: {listed:?}");
    }
    assert_eq!(doc.summary.error, 3);
}

/// Names that are not UTF-8 keep `path` for display and add their exact
/// bytes (`path_bytes`, base64): two names that print alike stay apart.
#[cfg(unix)]
#[test]
fn names_that_are_not_utf8_carry_their_exact_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let raw = |bytes: &[u8]| dir.path().join(std::ffi::OsStr::from_bytes(bytes));
    fs::write(raw(b"dup\xffa.txt"), b"one\n").unwrap();
    fs::write(raw(b"dup\xfea.txt"), b"two lines\nhere\n").unwrap();
    fs::write(dir.path().join("dup-plain.txt"), b"x").unwrap();
    // A symlink loop under a directory whose name is not UTF-8: the walk
    // error carries the bytes too.
    fs::create_dir(raw(b"lo\xffop")).unwrap();
    std::os::unix::fs::symlink("..", raw(b"lo\xffop/back")).unwrap();
    fs::write(raw(b"lo\xffop/c.txt"), b"c").unwrap();
    let out = reader(dir.path())
        .args(["--follow", "dup*.txt", "**/c.txt"])
        .run();
    let stdout: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    common::schema::assert_valid(
        &common::schema::validator("async_file_reader.schema.json", None),
        &stdout,
        "results with path_bytes",
    );
    let doc: FilesDoc = out.json();
    let shown: Vec<_> = doc
        .results
        .iter()
        .map(|r| (r.path.as_str(), r.path_bytes.as_deref(), r.bytes))
        .collect();
    assert_eq!(
        shown,
        [
            ("dup-plain.txt", None, Some(1)),
            ("dup\u{fffd}a.txt", Some("ZHVw/mEudHh0"), Some(15)),
            ("dup\u{fffd}a.txt", Some("ZHVw/2EudHh0"), Some(4)),
            ("lo\u{fffd}op/c.txt", Some("bG//b3AvYy50eHQ="), Some(1)),
        ]
    );
    let walk_errors = &doc.summary.walk_errors;
    assert_eq!(walk_errors.len(), 1, "{walk_errors:?}");
    assert_eq!(walk_errors[0].kind, "symlink_loop");
    assert_eq!(walk_errors[0].path, "lo\u{fffd}op/back");
    assert_eq!(
        walk_errors[0].path_bytes.as_deref(),
        Some("bG//b3AvYmFjaw==")
    );
}

/// "Which 3 files have the most lines, and how many lines do the .md files
/// have together?": one call, no jq over the whole output.
#[test]
fn sort_by_top_and_totals_per_extension_answer_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    for (name, lines) in [
        ("a.md", 3),
        ("b.md", 30),
        ("c.rs", 300),
        ("d.txt", 10),
        ("e.md", 1),
        ("Makefile", 2),
    ] {
        write(dir.path(), name, "x\n".repeat(lines).as_bytes());
    }
    let out = reader(dir.path())
        .args(["--sort-by", "lines", "--top", "3", "*", "missing.txt"])
        .run();
    assert_eq!(out.code, 1, "a missing file is not ok: {}", out.stderr);
    let doc: FilesDoc = out.json();
    assert_eq!(paths(&doc), ["c.rs", "b.md", "d.txt", "missing.txt"]);
    let indexes: Vec<usize> = doc.results.iter().map(|r| r.index).collect();
    assert_eq!(indexes, [0, 1, 2, 3], "index is the printed position");
    assert_eq!(by_path(&doc, "missing.txt").status, "error", "never hidden");
    let summary = &doc.summary;
    assert_eq!(summary.total, 7, "the summary counts every file");
    assert_eq!(summary.left_out, Some(3));
    assert_eq!(summary.lines, 346);
    let md = &summary.by_extension["md"];
    assert_eq!((md.files, md.lines), (3, 34));
    assert_eq!(summary.by_extension["rs"].lines, 300);
    assert_eq!(
        summary.by_extension[""].files, 1,
        "Makefile has no extension"
    );
    common::schema::assert_valid(
        &common::schema::validator("async_file_reader.schema.json", None),
        &serde_json::from_str(&out.stdout).unwrap(),
        "a ranked run",
    );

    // Without --sort-by, --top keeps the first files by path; bytes order works the same.
    let out = reader(dir.path()).args(["--top", "2", "*"]).run();
    let doc: FilesDoc = out.json();
    assert_eq!(paths(&doc), ["Makefile", "a.md"]);
    assert_eq!(doc.summary.left_out, Some(4));
    let out = reader(dir.path())
        .args(["--sort-by", "bytes", "*.md"])
        .run();
    let doc: FilesDoc = out.json();
    assert_eq!(paths(&doc), ["b.md", "a.md", "e.md"]);
    assert_eq!(doc.summary.left_out, None);
}
