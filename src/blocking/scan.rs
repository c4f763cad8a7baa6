//! One file, start to end: parse with tree-sitter, run the language's
//! analyzer, drop suppressed findings. Pure CPU work on bytes already read;
//! the tool runs it on a blocking thread.

use super::error::ScanError;
use super::finding::{Finding, is_suppressed};
use super::rules::Language;
use std::cell::RefCell;
use std::collections::HashSet;
use std::ops::ControlFlow;
use tree_sitter::{Node, Parser, Tree};

/// What a scan found in one file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    pub findings: Vec<Finding>,
    /// Findings silenced by a `blocking: ok` comment.
    pub suppressed: u64,
    pub lines: u64,
}

/// Why a parse was abandoned before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    /// The caller's `keep_going` said stop (timeout or the run stopping).
    Stopped,
}

thread_local! {
    /// One parser per language per thread: creating one costs more than a small file.
    static PARSERS: RefCell<[Option<Parser>; 2]> = const { RefCell::new([None, None]) };
}

fn slot(language: Language) -> usize {
    match language {
        Language::Python => 0,
        Language::Rust => 1,
    }
}

/// Parses `source`; `keep_going` is asked now and then and may abandon the parse.
pub fn parse(
    source: &[u8],
    language: Language,
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<Option<Tree>, Abandoned> {
    PARSERS.with(|parsers| {
        let mut parsers = parsers.borrow_mut();
        let parser = &mut parsers[slot(language)];
        if parser.is_none() {
            let mut fresh = Parser::new();
            let grammar = match language {
                Language::Python => tree_sitter_python::LANGUAGE.into(),
                Language::Rust => tree_sitter_rust::LANGUAGE.into(),
            };
            if fresh.set_language(&grammar).is_err() {
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

/// Scans one file's bytes. `shown` is the path as printed in findings;
/// only the rules in `only_rules` (all when empty) are reported, or counted
/// as suppressed.
pub fn scan_source(
    shown: &str,
    source: &[u8],
    language: Language,
    only_rules: &HashSet<String>,
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<Result<Scan, ScanError>, Abandoned> {
    let lines = count_lines(source);
    let Some(tree) = parse(source, language, keep_going)? else {
        return Ok(Err(ScanError::Parse {
            line: 1,
            column: 1,
            language: language_name(language),
        }));
    };
    let root = tree.root_node();
    if root.has_error() {
        let (line, column) = first_error(root).map_or((1, 1), |node| {
            let at = node.start_position();
            (at.row as u64 + 1, at.column as u64 + 1)
        });
        return Ok(Err(ScanError::Parse {
            line,
            column,
            language: language_name(language),
        }));
    }
    let hits = match language {
        Language::Python => super::python::analyze(&tree, source),
        Language::Rust => super::rust::analyze(&tree, source),
    };
    let mut scan = Scan {
        lines,
        ..Scan::default()
    };
    let wanted = |rule: &str| only_rules.is_empty() || only_rules.contains(rule);
    for hit in hits.into_iter().filter(|hit| wanted(hit.rule.id)) {
        if is_suppressed(&tree, source, hit.node) {
            scan.suppressed += 1;
        } else {
            scan.findings.push(hit.into_finding(shown, source));
        }
    }
    scan.findings
        .sort_by(|a, b| (a.line, a.column, a.rule).cmp(&(b.line, b.column, b.rule)));
    scan.findings
        .dedup_by(|a, b| a.line == b.line && a.column == b.column && a.rule == b.rule);
    Ok(Ok(scan))
}

fn language_name(language: Language) -> &'static str {
    match language {
        Language::Python => "Python",
        Language::Rust => "Rust",
    }
}

pub fn count_lines(source: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', source).count() as u64;
    match source.last() {
        None => 0,
        Some(b'\n') => newlines,
        Some(_) => newlines + 1,
    }
}

/// The first ERROR or MISSING node, in source order.
fn first_error(root: Node<'_>) -> Option<Node<'_>> {
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            return Some(node);
        }
        // Only subtrees that contain an error are worth entering.
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return None;
            }
        }
    }
}

/// Helpers for the scanner's tests and the language modules' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Language, Scan, scan_source};
    use std::collections::HashSet;

    /// Scans `text` to the end, expecting it to parse.
    pub(crate) fn scan(language: Language, text: &str) -> Scan {
        scan_source("t", text.as_bytes(), language, &HashSet::new(), &mut || {
            true
        })
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
    use super::testing::scan;
    use super::*;

    #[test]
    fn lines_are_counted_with_or_without_a_final_newline() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a"), 1);
        assert_eq!(count_lines(b"a\n"), 1);
        assert_eq!(count_lines(b"a\nb"), 2);
    }

    #[test]
    fn a_syntax_error_is_reported_with_its_place() {
        let outcome = scan_source(
            "t",
            b"def f(:\n  pass\n",
            Language::Python,
            &HashSet::new(),
            &mut || true,
        )
        .expect("not abandoned");
        match outcome {
            Err(ScanError::Parse { line, .. }) => assert_eq!(line, 1),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn a_parse_can_be_abandoned_and_the_parser_reused() {
        let big = "x = 1\n".repeat(50_000);
        let outcome = scan_source(
            "t",
            big.as_bytes(),
            Language::Python,
            &HashSet::new(),
            &mut || false,
        );
        assert_eq!(outcome, Err(Abandoned::Stopped));
        let scan = scan(
            Language::Python,
            "import time\nasync def f():\n    time.sleep(1)\n",
        );
        assert_eq!(scan.findings.len(), 1);
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
            scan_source("t", text.as_bytes(), Language::Python, &rules, &mut || true)
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
        let deep = format!(
            "async def f():\n    x = {}1{}\n",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let _ = scan_source(
            "t",
            deep.as_bytes(),
            Language::Python,
            &HashSet::new(),
            &mut || true,
        );
        let deep = format!(
            "async fn f() {{ let x = {}1{}; }}\n",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let _ = scan_source(
            "t",
            deep.as_bytes(),
            Language::Rust,
            &HashSet::new(),
            &mut || true,
        );
    }
}
