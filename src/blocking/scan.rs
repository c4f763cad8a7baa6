//! One file, start to end: parse (Python with ruff's parser, Rust with
//! tree-sitter), run the language's analyzer, drop suppressed findings.
//! Pure CPU work on bytes already read; the tool runs it on a scanning
//! thread (`crate::offload`).

use super::error::ScanError;
use super::finding::{Analysis, Finding, Lines, is_suppressed};
use super::nesting;
use super::rules::{Category, Language};
use ruff_python_ast::token::TokenKind;
use ruff_python_ast::{ModModule, PySourceType};
use ruff_python_parser::Parsed;
use ruff_text_size::Ranged;
use serde::Serialize;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::ops::{ControlFlow, Range};
use std::panic::AssertUnwindSafe;
use tree_sitter::{Node, Parser, Tree};

/// What a scan found in one file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    /// At most `max_findings`, in line order.
    pub(crate) findings: Vec<Finding>,
    /// Findings past `max_findings`: counted, not listed.
    pub(crate) findings_omitted: u64,
    /// All findings (listed or not) by category.
    pub(crate) blocking: u64,
    pub(crate) misuse: u64,
    /// Findings silenced by a `blocking: ok` comment.
    pub(crate) suppressed: u64,
    /// The first `max_findings` of them, in line order.
    pub(crate) suppressed_calls: Vec<Suppressed>,
    pub(crate) lines: u64,
    /// Regions not looked into (at most [`MAX_REGIONS`]), in source order.
    pub(crate) unscanned: Vec<Region>,
    /// How many regions were not looked into.
    pub(crate) unscanned_total: u64,
}

/// How many unscanned regions a result lists (the rest are counted).
pub(crate) const MAX_REGIONS: usize = 32;

/// Statements and expressions nested deeper than this are first left out
/// (the analyzers recurse; this fits a thread's default 2 MiB stack)...
const SHALLOW_DEPTH: usize = 400;
/// ...and, when a file has such nodes, it is analyzed again on a stack of
/// [`DEEP_STACK`] bytes, down to this depth. What lies deeper still
/// is reported as `too_deep` regions, never passed over in silence.
const DEEP_DEPTH: usize = 12_000;
/// Reserved, not committed: only the pages a deep file touches are used.
const DEEP_STACK: usize = 1 << 30;

/// A part of a file that was not looked into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Region {
    pub(crate) line: u64,
    /// 1-based, in characters.
    pub(crate) column: u64,
    pub(crate) end_line: u64,
    pub(crate) end_column: u64,
    pub(crate) reason: RegionReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RegionReason {
    /// The parser could not parse it. Python: where ruff's parser reported
    /// an error; the code around it is analyzed as the parser recovered it
    /// (an unclosed `time.sleep(1` is still a call), which may not be what
    /// was meant. Rust: a tree-sitter ERROR node (calls in it are not
    /// checked), or a token it had to assume was there.
    SyntaxError,
    /// Nested deeper than the analyzer follows.
    TooDeep,
}

/// A call silenced by a `blocking: ok` comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Suppressed {
    pub(crate) line: u64,
    pub(crate) rule: &'static str,
}

/// What shapes one file's scan besides its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanOptions<'a> {
    /// Only these rules are reported or counted as suppressed (all when empty).
    pub(crate) only_rules: &'a HashSet<String>,
    /// Findings listed per file (the rest are counted).
    pub(crate) max_findings: usize,
}

/// Why a parse was abandoned before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abandoned {
    /// The caller's `keep_going` said stop (timeout or the run stopping).
    Stopped,
}

thread_local! {
    /// One Rust parser per thread: creating one costs more than a small file.
    static RUST_PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Parses Rust `source` with tree-sitter; `keep_going` is asked now and
/// then and may abandon the parse.
pub(crate) fn parse_rust(
    source: &[u8],
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<Option<Tree>, Abandoned> {
    RUST_PARSER.with(|parser| {
        let mut parser = parser.borrow_mut();
        if parser.is_none() {
            let mut fresh = Parser::new();
            if fresh
                .set_language(&tree_sitter_rust::LANGUAGE.into())
                .is_err()
            {
                return Ok(None);
            }
            *parser = Some(fresh);
        }
        let Some(parser) = parser.as_mut() else {
            return Ok(None);
        };
        let mut stopped = false;
        let mut progress = |_: &tree_sitter::ParseState| {
            if keep_going() {
                ControlFlow::Continue(())
            } else {
                stopped = true;
                ControlFlow::Break(())
            }
        };
        let length = source.len();
        let options = tree_sitter::ParseOptions::new().progress_callback(&mut progress);
        let tree = parser.parse_with_options(
            &mut |at, _| if at < length { &source[at..] } else { &[] },
            None,
            Some(options),
        );
        if stopped {
            // An abandoned parse would otherwise resume on the next file.
            parser.reset();
            return Err(Abandoned::Stopped);
        }
        Ok(tree)
    })
}

/// Scans one file's bytes. `shown` is the path as printed in findings.
/// A file with syntax errors is still scanned outside the broken regions,
/// which are listed in [`Scan::unscanned`].
pub(crate) fn scan_source(
    shown: &str,
    source: &[u8],
    language: Language,
    options: ScanOptions<'_>,
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<Result<Scan, ScanError>, Abandoned> {
    let lines = count_lines(source);
    if !may_hold_async_code(source, language) {
        // Nothing can be inside async code where there is none: no parse.
        return Ok(Ok(Scan {
            lines,
            ..Scan::default()
        }));
    }
    let file = File {
        shown,
        source,
        lines,
        async_at: memchr::memmem::find_iter(source, b"async").collect(),
        options,
    };
    match language {
        Language::Python => scan_python(&file, keep_going),
        Language::Rust => scan_rust(&file, keep_going),
    }
}

/// One file being scanned, as both languages' scans need it.
struct File<'a> {
    shown: &'a str,
    source: &'a [u8],
    lines: u64,
    /// Where the word `async` occurs (see [`super::finding::may_hold_async`]).
    async_at: Vec<usize>,
    options: ScanOptions<'a>,
}

/// Python, with ruff's parser: it recovers from syntax errors (every error
/// becomes a region; the tree around it is complete) and cannot be
/// interrupted, so `keep_going` is asked before and after it (a parse of
/// the largest file `--max-file-size` allows by default, 4 MiB, takes
/// 0.05 to 0.45 s: a scan can overrun its `--timeout` by that much).
fn scan_python(
    file: &File<'_>,
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<Result<Scan, ScanError>, Abandoned> {
    if !keep_going() {
        return Err(Abandoned::Stopped);
    }
    let Some(text) = python_text(file.source) else {
        return Ok(Err(ScanError::Parse {
            regions: 1,
            line: 1,
            column: 1,
            language: language_name(Language::Python),
        }));
    };
    if nesting::may_nest_deeper(file.source, nesting::MAX_NESTING)
        && nesting::nests_deeper(&text, nesting::MAX_NESTING)
    {
        // Nested past what CPython accepts: parsing would cost gigabytes.
        let whole = Span {
            start: 0,
            end: file.source.len(),
            reason: RegionReason::TooDeep,
        };
        return Ok(Ok(report(
            file,
            vec![whole],
            Analysis::default(),
            &|_| None,
            true,
        )));
    }
    let parsed = ruff_python_parser::parse_unchecked_source(&text, PySourceType::Python);
    // The tree is dropped on a big enough stack however the scan ends: a
    // panic (a bug) is held until then, then goes on as it would have.
    let scanned = std::panic::catch_unwind(AssertUnwindSafe(|| {
        scan_parsed_python(file, &parsed, keep_going)
    }));
    let tokens = parsed.tokens().len();
    drop_deep(parsed, tokens);
    scanned.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The regions and findings of a parsed Python file, unless `keep_going`
/// says stop.
fn scan_parsed_python(
    file: &File<'_>,
    parsed: &Parsed<ModModule>,
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<Result<Scan, ScanError>, Abandoned> {
    if !keep_going() {
        return Err(Abandoned::Stopped);
    }
    let regions = parsed
        .errors()
        .iter()
        .map(|error| Span {
            start: error.location.start().to_usize(),
            end: error.location.end().to_usize(),
            reason: RegionReason::SyntaxError,
        })
        .collect();
    let analysis = deep_when_needed(|max_depth| {
        super::python::analyze(
            &parsed.syntax().body,
            parsed.tokens(),
            file.source,
            &file.async_at,
            max_depth,
        )
    });
    let comments = parsed.tokens();
    let comment_at = |byte: usize| {
        let at = comments.partition_point(|token| token.start().to_usize() <= byte);
        let token = comments[..at].last()?;
        (token.kind() == TokenKind::Comment && byte < token.end().to_usize())
            .then(|| token.start().to_usize()..token.end().to_usize())
    };
    Ok(Ok(report(file, regions, analysis, &comment_at, true)))
}

/// The bytes as `str` for ruff's parser: each byte of an invalid UTF-8
/// sequence becomes `?`, so every offset stays that of the file. `None`
/// past 4 GiB (ruff's offsets are 32-bit).
fn python_text(source: &[u8]) -> Option<Cow<'_, str>> {
    u32::try_from(source.len()).ok()?;
    if let Ok(text) = simdutf8::basic::from_utf8(source) {
        return Some(Cow::Borrowed(text));
    }
    let mut bytes = source.to_vec();
    let mut at = 0;
    while let Err(error) = std::str::from_utf8(&bytes[at..]) {
        let bad = at + error.valid_up_to();
        let length = error.error_len().unwrap_or(bytes.len() - bad);
        bytes[bad..bad + length].fill(b'?');
        at = bad + length;
    }
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

/// Stack a syntax tree may need per token when dropped: ruff's trees are
/// dropped recursively, one frame a level, and a level takes at least half
/// a token (`**x` is two levels of one token). Measured: 80 bytes a level
/// at most (`f'{f'{...}'}'`, `- - - x`).
const DROP_STACK_PER_TOKEN: usize = 256;

/// Drops a parsed file on a stack big enough for its deepest nesting
/// (`x = - - - ... 1` over a megabyte is a million levels): on this thread's
/// when it has room, else on one grown for the purpose.
fn drop_deep<T>(parsed: T, tokens: usize) {
    let needed = tokens
        .saturating_mul(DROP_STACK_PER_TOKEN)
        .saturating_add(64 * 1024);
    if stacker::remaining_stack().is_some_and(|left| left > needed) {
        drop(parsed);
    } else {
        stacker::grow(needed, move || drop(parsed));
    }
}

/// Rust, with tree-sitter: ERROR and MISSING nodes become regions.
fn scan_rust(
    file: &File<'_>,
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<Result<Scan, ScanError>, Abandoned> {
    let Some(tree) = parse_rust(file.source, keep_going)? else {
        return Ok(Err(ScanError::Parse {
            regions: 1,
            line: 1,
            column: 1,
            language: language_name(Language::Rust),
        }));
    };
    let root = tree.root_node();
    let mut regions = Vec::new();
    if root.has_error() {
        syntax_errors(root, &mut regions);
    }
    let analysis = deep_when_needed(|max_depth| {
        super::rust::analyze(&tree, file.source, &file.async_at, max_depth)
    });
    let comment_at = |byte: usize| {
        root.descendant_for_byte_range(byte, byte + 1)
            .filter(|node| node.kind().contains("comment"))
            .map(|node| node.byte_range())
    };
    Ok(Ok(report(file, regions, analysis, &comment_at, false)))
}

/// A file's result from its syntax-error regions and its analysis:
/// too-deep regions added, hits filtered by rule, deduplicated, checked
/// for a `blocking: ok` comment and capped. `merge` joins syntax errors on
/// one line (ruff's parser reports each token it expected; tree-sitter's
/// regions lie around complete definitions that were analyzed).
fn report(
    file: &File<'_>,
    mut regions: Vec<Span>,
    analysis: Analysis,
    comment_at: &dyn Fn(usize) -> Option<Range<usize>>,
    merge: bool,
) -> Scan {
    let source = file.source;
    let mut too_deep = analysis.too_deep;
    too_deep.sort_by_key(|range| (range.start, range.end));
    too_deep.dedup();
    regions.extend(too_deep.into_iter().map(|range| Span {
        start: range.start,
        end: range.end,
        reason: RegionReason::TooDeep,
    }));
    regions.sort_by_key(|span| span.start);
    let mut scan = Scan {
        lines: file.lines,
        ..Scan::default()
    };
    let options = file.options;
    let wanted = |rule: &str| options.only_rules.is_empty() || options.only_rules.contains(rule);
    let mut hits: Vec<_> = analysis
        .hits
        .into_iter()
        .filter(|hit| wanted(hit.rule.id))
        .collect();
    if regions.is_empty() && hits.is_empty() {
        return scan;
    }
    let lines = Lines::new(source);
    let regions = if merge {
        merge_lines(regions, &lines)
    } else {
        regions
    };
    scan.unscanned_total = regions.len() as u64;
    scan.unscanned = regions
        .into_iter()
        .take(MAX_REGIONS)
        .map(|span| region(span, source, &lines))
        .collect();
    hits.sort_by(|a, b| (a.call.start, a.rule.id).cmp(&(b.call.start, b.rule.id)));
    hits.dedup_by(|a, b| a.call.start == b.call.start && a.rule.id == b.rule.id);
    let mut listed = 0;
    for hit in hits {
        if is_suppressed(source, &lines, &hit.call, comment_at) {
            scan.suppressed += 1;
            if scan.suppressed_calls.len() < options.max_findings {
                scan.suppressed_calls.push(Suppressed {
                    line: lines.row(hit.call.start) as u64 + 1,
                    rule: hit.rule.id,
                });
            }
            continue;
        }
        match hit.rule.category {
            Category::Blocking => scan.blocking += 1,
            Category::Misuse => scan.misuse += 1,
        }
        if listed < options.max_findings {
            listed += 1;
            scan.findings
                .push(hit.into_finding(file.shown, source, &lines));
        } else {
            scan.findings_omitted += 1;
        }
    }
    scan
}

/// Whether the bytes can hold async code: in Python an `async def` (async
/// `with` / `for` live only inside one), in Rust the keyword `async` (an
/// async fn, block or closure). Most files of a project have neither, and a
/// byte search costs far less than a parse; words such as `asyncio` or
/// `async_trait` do not count.
pub(crate) fn may_hold_async_code(source: &[u8], language: Language) -> bool {
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    memchr::memmem::find_iter(source, b"async").any(|at| {
        if at > 0 && is_word(source[at - 1]) {
            return false;
        }
        let mut rest = &source[at + "async".len()..];
        if rest.first().is_some_and(|&byte| is_word(byte)) {
            return false;
        }
        if language == Language::Rust {
            return true;
        }
        // `async`, blanks (a backslash continues the line), then `def`.
        loop {
            match rest {
                [b' ' | b'\t' | b'\x0c', tail @ ..] => rest = tail,
                [b'\\', b'\r', b'\n', tail @ ..] | [b'\\', b'\n' | b'\r', tail @ ..] => rest = tail,
                _ => break,
            }
        }
        rest.starts_with(b"def") && !rest.get(3).is_some_and(|&byte| is_word(byte))
    })
}

/// Runs an analyzer (given its depth limit); a file nested too deep for
/// the calling thread's stack is analyzed again on a stack grown for it.
fn deep_when_needed(run: impl Fn(usize) -> Analysis) -> Analysis {
    let first = run(SHALLOW_DEPTH);
    if first.too_deep.is_empty() {
        return first;
    }
    stacker::grow(DEEP_STACK, || run(DEEP_DEPTH))
}

/// Rust node kinds that make a scope of their own: found complete inside
/// an ERROR node, they are analyzed as usual (the analyzer walks into ERROR
/// nodes but checks no call there outside such a definition).
const DEFINITIONS: &[&str] = &["function_item", "impl_item", "trait_item", "mod_item"];

/// A stretch of source, in bytes.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    reason: RegionReason,
}

impl Span {
    fn of(node: Node<'_>, reason: RegionReason) -> Span {
        Span {
            start: node.start_byte(),
            end: node.end_byte(),
            reason,
        }
    }
}

/// The regions tree-sitter could not parse: MISSING tokens, and the parts
/// of ERROR nodes that are not complete definitions.
fn syntax_errors(root: Node<'_>, out: &mut Vec<Span>) {
    super::tree::preorder(root, |node| {
        if node.is_missing() {
            out.push(Span::of(node, RegionReason::SyntaxError));
            false
        } else if node.is_error() {
            error_parts(node, out);
            false
        } else {
            node.has_error()
        }
    });
}

/// Node kinds of code that runs: an ERROR node inside one of these may
/// have swallowed the line that said whether the code around it is async.
const BODIES: &[&str] = &["function_item", "closure_expression", "async_block"];

/// The unscanned parts of one ERROR node: runs of its children that the
/// analyzers do not look into as they would without the error (nested
/// ERRORs and broken definitions are looked into).
fn error_parts(error: Node<'_>, out: &mut Vec<Span>) {
    if error.child_count() == 0 {
        out.push(Span::of(error, RegionReason::SyntaxError));
        return;
    }
    // Outside any function nothing is checked anyway, so a complete child
    // there is analyzed exactly as if the error were not there.
    let mut in_body = false;
    let mut parent = error.parent();
    while let Some(node) = parent {
        if BODIES.contains(&node.kind()) {
            in_body = true;
            break;
        }
        parent = node.parent();
    }
    let mut run: Option<Span> = None;
    let mut cursor = error.walk();
    for child in error.children(&mut cursor) {
        let complete = if in_body {
            DEFINITIONS.contains(&child.kind())
        } else {
            child.is_named() && !child.has_error()
        };
        if complete || child.is_error() || (child.is_named() && child.has_error()) {
            out.extend(run.take());
            if child.is_error() {
                error_parts(child, out);
            } else if child.has_error() {
                syntax_errors(child, out);
            }
            continue;
        }
        let span = Span::of(child, RegionReason::SyntaxError);
        run = Some(match run {
            Some(started) => Span {
                end: span.end,
                ..started
            },
            None => span,
        });
    }
    out.extend(run);
}

/// One region for syntax errors that share a line or overlap: ruff's
/// parser reports each thing it expected (`def f(:` lacks a parameter and
/// a `)`), which is one broken place to the reader.
fn merge_lines(regions: Vec<Span>, lines: &Lines) -> Vec<Span> {
    let mut merged: Vec<Span> = Vec::with_capacity(regions.len());
    for span in regions {
        if let Some(last) = merged.last_mut() {
            // The line of the region's last byte: one that ends with its
            // line's newline does not reach into the next line.
            let last_row = lines.row(last.end.saturating_sub(1).max(last.start));
            let touching = span.start <= last.end || lines.row(span.start) <= last_row;
            let both_syntax = last.reason == RegionReason::SyntaxError
                && span.reason == RegionReason::SyntaxError;
            if touching && both_syntax {
                last.end = last.end.max(span.end);
                continue;
            }
        }
        merged.push(span);
    }
    merged
}

fn region(span: Span, source: &[u8], lines: &Lines) -> Region {
    let (line, column) = lines.position(source, span.start);
    let (end_line, end_column) = lines.position(source, span.end);
    Region {
        line,
        column,
        end_line,
        end_column,
        reason: span.reason,
    }
}

fn language_name(language: Language) -> &'static str {
    match language {
        Language::Python => "Python",
        Language::Rust => "Rust",
    }
}

/// Python ends a line at `\r\n`, `\n` or a lone `\r` (old Mac files);
/// ruff's lexer knows all three, but lines and columns here are counted at
/// `\n` only. A lone `\r` becomes `\n` in place: same length, so every
/// byte offset stays right.
pub(crate) fn python_line_endings(source: &mut [u8]) {
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'\r', &source[at..]) {
        let cr = at + found;
        if source.get(cr + 1) != Some(&b'\n') {
            source[cr] = b'\n';
        }
        at = cr + 1;
    }
}

pub(crate) fn count_lines(source: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', source).count() as u64;
    match source.last() {
        None => 0,
        Some(b'\n') => newlines,
        Some(_) => newlines + 1,
    }
}

/// Helpers for the scanner's tests and the language modules' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Language, Scan, ScanOptions, scan_source};
    use std::collections::HashSet;

    /// Every rule, 1000 findings listed.
    pub(crate) fn options(only_rules: &HashSet<String>) -> ScanOptions<'_> {
        ScanOptions {
            only_rules,
            max_findings: 1000,
        }
    }

    /// Scans `text` to the end, expecting a tree.
    pub(crate) fn scan(language: Language, text: &str) -> Scan {
        let all = HashSet::new();
        scan_source("t", text.as_bytes(), language, options(&all), &mut || true)
            .expect("not abandoned")
            .expect("parses")
    }

    /// `(line, resolved)` of every finding.
    pub(crate) fn found(language: Language, text: &str) -> Vec<(u64, String)> {
        scan(language, text)
            .findings
            .into_iter()
            .map(|finding| (finding.line, finding.resolved))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{self, found, scan};
    use super::*;

    #[test]
    fn files_without_the_async_keyword_are_not_parsed() {
        // Broken and blocking, but with no async code: nothing to report.
        let scan = scan(
            Language::Python,
            "import time\ndef f(:\n    time.sleep(1)\n",
        );
        assert_eq!(scan.unscanned_total, 0);
        assert!(scan.findings.is_empty());
        assert_eq!(scan.lines, 3);
        let python = |text: &[u8]| may_hold_async_code(text, Language::Python);
        let rust = |text: &[u8]| may_hold_async_code(text, Language::Rust);
        assert!(python(b"x = 1\nasync def f(): pass\n"));
        assert!(python(b"class A:\n    async  \\\n def f(self): pass\n"));
        assert!(!python(b"def f():\n    return 1\n"));
        assert!(!python(b"import asyncio\ndef f():\n    asyncio.run(g())\n"));
        assert!(!python(b"x = 'async'\nasync_def = 1\n"));
        assert!(rust(b"let f = async move { 1 };"));
        assert!(rust(b"pub async fn f() {}"));
        assert!(!rust(b"use async_std::task;\nfn asynchronous() {}\n"));
    }

    #[test]
    fn lines_are_counted_with_or_without_a_final_newline() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a"), 1);
        assert_eq!(count_lines(b"a\n"), 1);
        assert_eq!(count_lines(b"a\nb"), 2);
    }

    #[test]
    fn a_syntax_error_is_a_region_and_the_rest_is_still_scanned() {
        let text = "import time\ndef f(:\n  pass\n\nasync def g():\n    time.sleep(1)\n";
        let python = scan(Language::Python, text);
        assert_eq!(python.findings.len(), 1, "{python:?}");
        assert_eq!(python.findings[0].line, 6);
        assert_eq!(python.unscanned_total, 1);
        let region = &python.unscanned[0];
        assert_eq!((region.line, region.reason), (2, RegionReason::SyntaxError));
        // Valid Rust that the grammar refuses (an attribute on a shorthand
        // field of a struct pattern) costs that region only.
        let text = "fn t() { let S { a, #[cfg(x)] b, c } = s; }\nasync fn f() {\n    std::thread::sleep(d);\n}\n";
        let scan = scan(Language::Rust, text);
        assert_eq!(scan.findings.len(), 1, "{scan:?}");
        assert_eq!(scan.findings[0].line, 3);
        assert!(scan.unscanned_total >= 1, "{scan:?}");
        assert!(scan.unscanned.iter().all(|region| region.line == 1));
    }

    #[test]
    fn calls_in_an_error_node_are_not_checked_but_definitions_in_it_are() {
        // Python: ruff's parser recovers the broken `def g(:` as a sync
        // `def`, so the sleep in its body is not reported, and the region
        // says where the line broke.
        let text =
            "import time\nasync def f():\n    def g(:\n        time.sleep(1)\n    return 1\n";
        let broken = scan(Language::Python, text);
        assert!(broken.findings.is_empty(), "{broken:?}");
        assert!(
            broken
                .unscanned
                .iter()
                .any(|r| r.line <= 4 && r.end_line >= 3),
            "{broken:?}"
        );
        // A whole file inside one ERROR node (the grammar gave up at the
        // top): its complete async functions are still analyzed.
        let text = "use std::thread;\nasync fn f() {\n    thread::sleep(d);\n}\nfn g() { let S { a, #[cfg(x)] b } = s; }\n}\n";
        let top = scan(Language::Rust, text);
        assert_eq!(top.findings.len(), 1, "{top:?}");
        assert!(top.unscanned_total >= 1);
    }

    #[test]
    fn deep_nesting_is_scanned_on_a_bigger_stack() {
        let ifs = 133;
        let text = format!(
            "async fn f(x: bool) {{\n{}std::thread::sleep(d);\n{}}}\n",
            "if x {\n".repeat(ifs),
            "}\n".repeat(ifs)
        );
        let ifs_deep = scan(Language::Rust, &text);
        assert_eq!(ifs_deep.unscanned_total, 0);
        assert_eq!(ifs_deep.findings.len(), 1, "{ifs_deep:?}");
        assert_eq!(ifs_deep.findings[0].line, ifs as u64 + 2);
        let blocks = 3000;
        let text = format!(
            "async fn f() {{ {} std::thread::sleep(d); {} }}\n",
            "{ ".repeat(blocks),
            "} ".repeat(blocks)
        );
        assert_eq!(scan(Language::Rust, &text).findings.len(), 1);
        let modules = 1000;
        let text = format!(
            "{} async fn f() {{ std::thread::sleep(d); }} {}\n",
            "mod m { ".repeat(modules),
            "} ".repeat(modules)
        );
        assert_eq!(scan(Language::Rust, &text).findings.len(), 1);
        let text = format!(
            "import time\nasync def f(x):\n{}\n",
            (0..90)
                .map(|level| format!("{}if x:\n", "    ".repeat(level + 1)))
                .collect::<String>()
                + &"    ".repeat(91)
                + "time.sleep(1)"
        );
        assert_eq!(scan(Language::Python, &text).findings.len(), 1);
    }

    #[test]
    fn nesting_past_the_deep_limit_is_reported_not_passed_over() {
        let blocks = DEEP_DEPTH * 2;
        let text = format!(
            "async fn f() {{ {} std::thread::sleep(d); {} }}\n",
            "{ ".repeat(blocks),
            "} ".repeat(blocks)
        );
        let scan = scan(Language::Rust, &text);
        assert!(scan.findings.is_empty());
        assert!(scan.unscanned_total >= 1);
        assert_eq!(scan.unscanned[0].reason, RegionReason::TooDeep);
    }

    #[test]
    fn lone_carriage_returns_end_python_lines() {
        let mut source = b"import time\rasync def f():\r    time.sleep(1)\r\n".to_vec();
        python_line_endings(&mut source);
        assert_eq!(
            source,
            b"import time\nasync def f():\n    time.sleep(1)\r\n"
        );
        let text = String::from_utf8(source).unwrap();
        let scan = scan(Language::Python, &text);
        assert_eq!(scan.unscanned_total, 0);
        assert_eq!(scan.findings[0].line, 3);
        assert_eq!(count_lines(text.as_bytes()), 3);
    }

    #[test]
    fn findings_are_capped_and_the_rest_counted() {
        let text = format!(
            "import time\nasync def f():\n{}    time.sleep(0)  # blocking: ok\n",
            "    time.sleep(1)\n".repeat(25)
        );
        let all = HashSet::new();
        let options = ScanOptions {
            only_rules: &all,
            max_findings: 10,
        };
        let scan = scan_source("t", text.as_bytes(), Language::Python, options, &mut || {
            true
        })
        .expect("not abandoned")
        .expect("parses");
        assert_eq!(scan.findings.len(), 10);
        assert_eq!(scan.findings_omitted, 15);
        assert_eq!(scan.findings[9].line, 12, "the first ones, in line order");
        assert_eq!(scan.suppressed, 1);
        assert_eq!(
            scan.suppressed_calls,
            [Suppressed {
                line: 28,
                rule: "py-time-sleep"
            }]
        );
    }

    #[test]
    fn a_rust_parse_can_be_abandoned_and_the_parser_reused() {
        let big = format!(
            "async fn f() {{}}\n{}",
            "fn g() { let x = 1; }\n".repeat(50_000)
        );
        let all = HashSet::new();
        let mut asked = 0;
        let outcome = scan_source(
            "t",
            big.as_bytes(),
            Language::Rust,
            testing::options(&all),
            &mut || {
                asked += 1;
                asked < 3
            },
        );
        assert_eq!(outcome, Err(Abandoned::Stopped));
        assert_eq!(asked, 3, "asked during the parse, which stopped at once");
        let scan = scan(
            Language::Rust,
            "async fn f() {\n    std::thread::sleep(d);\n}\n",
        );
        assert_eq!(scan.findings.len(), 1);
    }

    #[test]
    fn a_python_scan_is_abandoned_before_or_after_its_parse() {
        let text = "import time\nasync def f():\n    time.sleep(1)\n";
        let all = HashSet::new();
        for allowed in [0, 1] {
            let mut asked = 0;
            let outcome = scan_source(
                "t",
                text.as_bytes(),
                Language::Python,
                testing::options(&all),
                &mut || {
                    asked += 1;
                    asked <= allowed
                },
            );
            assert_eq!(outcome, Err(Abandoned::Stopped), "after {allowed} yes");
            assert_eq!(asked, allowed + 1);
        }
        assert_eq!(
            found(Language::Python, text),
            [(3, "time.sleep".to_string())]
        );
    }

    #[test]
    fn trees_deeper_than_a_thread_stack_are_dropped_whole() {
        // Ruff's syntax trees are dropped recursively, a frame a level: a
        // million nested unary minuses overflowed a 2 MiB stack.
        let depth = 200_000;
        let shapes = [
            format!("async def f():\n    x = {}1\n", "-".repeat(depth)),
            format!("async def f():\n    x = {}1\n", "*".repeat(depth)),
            format!("async def f():\n    x = a{}\n", ".b".repeat(depth / 2)),
            format!(
                "import time\nasync def f():\n    time.sleep(1)\nx = {}1\n",
                "not ".repeat(depth / 4)
            ),
        ];
        for text in shapes {
            let scanned = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || scan(Language::Python, &text))
                .expect("a thread")
                .join()
                .expect("no overflow, no panic");
            assert!(scanned.lines >= 2);
        }
    }

    #[test]
    fn nesting_past_what_cpython_accepts_is_not_parsed_but_reported_whole() {
        // 6,000 brackets: about 12 MB of the parser's stack, and a syntax
        // error to CPython (200 at most); 1,000 are still parsed.
        let levels = super::nesting::MAX_NESTING + 1_000;
        let deep = format!(
            "import time\nasync def f():\n    time.sleep(1)\n    x = {}1{}\n",
            "(".repeat(levels),
            ")".repeat(levels)
        );
        let scanned = scan(Language::Python, &deep);
        assert!(scanned.findings.is_empty(), "{scanned:?}");
        assert_eq!(scanned.unscanned_total, 1);
        let region = &scanned.unscanned[0];
        assert_eq!(
            (region.line, region.column, region.end_line, region.reason),
            (1, 1, 5, RegionReason::TooDeep)
        );
        let parsed = format!(
            "import time\nasync def f():\n    x = {}time.sleep(1){}\n",
            "(".repeat(1_000),
            ")".repeat(1_000)
        );
        assert_eq!(
            found(Language::Python, &parsed),
            [(3, "time.sleep".to_string())]
        );
    }

    #[test]
    fn invalid_utf8_keeps_offsets_and_the_rest_of_the_file() {
        let mut source = b"import time\nasync def f():\n    s = '".to_vec();
        source.extend_from_slice(b"\xff\xfe caf\xe9");
        source.extend_from_slice(b"'; time.sleep(1)\n");
        let all = HashSet::new();
        let scan = scan_source(
            "t",
            &source,
            Language::Python,
            testing::options(&all),
            &mut || true,
        )
        .expect("not abandoned")
        .expect("parses");
        assert_eq!(scan.unscanned_total, 0, "{scan:?}");
        let finding = &scan.findings[0];
        // Each invalid byte counts as one character: 19 before the call.
        assert_eq!((finding.line, finding.column), (3, 20), "{finding:?}");
    }

    #[test]
    fn syntax_errors_on_one_line_are_one_region() {
        let text =
            "import time\nasync def f():\n    x = (1 +\n    time.sleep(1)\ndef g(:\n    pass\n";
        let scan = scan(Language::Python, text);
        assert!(scan.unscanned_total >= 1, "{scan:?}");
        let lines: Vec<u64> = scan.unscanned.iter().map(|region| region.line).collect();
        let mut unique = lines.clone();
        unique.dedup();
        assert_eq!(lines, unique, "one region a line: {scan:?}");
        assert!(lines.contains(&5), "the broken def: {scan:?}");
        // An error at the end of a line (its newline) does not reach into
        // the next line's error: three broken lines are three regions.
        let text = "import time\nasync def f():\n    x = 1 +\n    y = 2 +\n    z = 3 +\n    time.sleep(1)\n";
        let chained = super::testing::scan(Language::Python, text);
        let lines: Vec<(u64, u64)> = chained
            .unscanned
            .iter()
            .map(|region| (region.line, region.end_line))
            .collect();
        assert_eq!(lines, [(3, 4), (4, 5), (5, 6)], "{chained:?}");
        assert_eq!(chained.findings[0].line, 6);
    }

    #[test]
    fn suppression_needs_a_real_comment() {
        let scan = scan(
            Language::Python,
            "import time\nasync def f():\n    time.sleep(1)  # blocking: ok (startup only)\n    time.sleep(2); x = '# blocking: ok'\n",
        );
        assert_eq!(scan.suppressed, 1);
        assert_eq!(scan.findings.len(), 1);
        assert_eq!(scan.findings[0].line, 4);
    }

    #[test]
    fn only_the_rules_asked_for_are_reported_or_counted_as_suppressed() {
        let text = "import time, requests\nasync def f():\n    time.sleep(1)  # blocking: ok\n    requests.get('x')\n    time.sleep(2)\n";
        let only = |rule: &str| {
            let rules = HashSet::from([rule.to_string()]);
            let options = testing::options(&rules);
            scan_source("t", text.as_bytes(), Language::Python, options, &mut || {
                true
            })
            .expect("not abandoned")
            .expect("parses")
        };
        let requests = only("py-requests");
        assert_eq!(requests.suppressed, 0);
        assert_eq!(requests.findings.len(), 1);
        let sleeps = only("py-time-sleep");
        assert_eq!(sleeps.suppressed, 1);
        assert_eq!(sleeps.findings.len(), 1);
        assert_eq!(sleeps.findings[0].line, 5);
    }

    #[test]
    fn columns_count_characters() {
        let scan = scan(
            Language::Python,
            "import time\nasync def f():\n    é = 1; time.sleep(1)\n",
        );
        assert_eq!(scan.findings[0].column, 12);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        // 4,900 brackets (under the nesting limit): parsed, and the call at
        // the bottom found on the grown stack; Rust's 5,000 likewise.
        let deep = format!(
            "import time\nasync def f():\n    x = {}time.sleep(1){}\n",
            "(".repeat(4_900),
            ")".repeat(4_900)
        );
        let python = scan(Language::Python, &deep);
        assert_eq!(python.unscanned_total, 0, "{:?}", python.unscanned);
        assert_eq!(python.findings.len(), 1);
        let deep = format!(
            "async fn f() {{ let x = {}1{}; }}\n",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let rust = scan(Language::Rust, &deep);
        assert_eq!(rust.unscanned_total, 0, "{:?}", rust.unscanned);
    }
}
