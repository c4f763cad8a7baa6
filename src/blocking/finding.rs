//! One finding, and what turns an analyzer's hit into it: 1-based line and
//! column, the call as written, and the `blocking: ok` suppression comment.

use super::rules::{Category, Rule};
use serde::Serialize;
use std::borrow::Cow;
use std::ops::Range;
use tree_sitter::Node;

/// The longest `call` text shown; longer callees are cut with `…`.
const MAX_CALL_CHARS: usize = 120;

/// The longest suggestion shown.
const MAX_SUGGESTION_CHARS: usize = 240;

/// A blocking call inside async code, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    pub(crate) path: String,
    /// 1-based line of the call.
    pub(crate) line: u64,
    /// 1-based column of the call, in characters.
    pub(crate) column: u64,
    /// The enclosing async function (`Class.method`, `outer.<locals>.inner`,
    /// `Type::method`, `main::{async block}`).
    pub(crate) function: String,
    /// The callee as written (`r.get`, `thread::sleep`).
    pub(crate) call: String,
    /// The callee after resolving imports and aliases (`requests.get`,
    /// `std::thread::sleep`), or `*.name` for a method matched by name alone.
    pub(crate) resolved: String,
    pub(crate) rule: &'static str,
    /// `blocking` (the call blocks the loop) or `misuse` (a coroutine never
    /// awaited, a loop started inside a loop).
    pub(crate) category: Category,
    /// One line: what is wrong and why.
    pub(crate) message: String,
    /// The async replacement, written for this call.
    pub(crate) suggestion: String,
}

/// What an analyzer returns for one file.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    pub(crate) hits: Vec<Hit>,
    /// Byte ranges nested deeper than the analyzer's limit: not looked into.
    pub(crate) too_deep: Vec<Range<usize>>,
}

/// Whether one of the offsets `async_at` (sorted: where `async` occurs in
/// the file) falls inside the byte range `start..end`.
pub(crate) fn may_hold_async(async_at: &[usize], start: usize, end: usize) -> bool {
    let first = async_at.partition_point(|&at| at < start);
    async_at
        .get(first)
        .is_some_and(|&at| at + "async".len() <= end)
}

/// What an analyzer reports, as byte ranges into the file (the two
/// languages' trees differ; findings do not); [`Hit::into_finding`]
/// completes it.
#[derive(Debug)]
pub(crate) struct Hit {
    /// The call the finding points at.
    pub(crate) call: Range<usize>,
    /// The callee, whose text becomes `call`.
    pub(crate) callee: Range<usize>,
    /// The object a method is called on (`Path(p)` in `Path(p).read_text`),
    /// when the callee is an attribute or field.
    pub(crate) receiver: Option<Range<usize>>,
    /// The callee's last name (`read_text`, `sleep`), when the tree has one.
    pub(crate) method: Option<Range<usize>>,
    /// The argument list, parentheses included.
    pub(crate) arguments: Option<Range<usize>>,
    pub(crate) function: String,
    pub(crate) resolved: String,
    pub(crate) rule: &'static Rule,
    /// Extra words for the message (such as where the `.await` is).
    pub(crate) detail: Option<String>,
    /// A method called on an object of a known type (not a module function):
    /// the rule's `method_replacement` fits it.
    pub(crate) on_instance: bool,
}

impl Hit {
    pub(crate) fn into_finding(self, path: &str, source: &[u8], lines: &Lines) -> Finding {
        let suggestion = self.suggestion(source);
        let (line, column) = lines.position(source, self.call.start);
        let call = shorten(&collapse_whitespace(&text_at(&self.callee, source)));
        let mut message = if call == self.resolved {
            format!(
                "`{call}` in async function `{}`; {}",
                self.function, self.rule.why
            )
        } else {
            format!(
                "`{call}` ({}) in async function `{}`; {}",
                self.resolved, self.function, self.rule.why
            )
        };
        if let Some(detail) = self.detail {
            message.push_str(" (");
            message.push_str(&detail);
            message.push(')');
        }
        Finding {
            path: path.to_string(),
            line,
            column,
            function: self.function,
            call,
            resolved: self.resolved,
            rule: self.rule.id,
            category: self.rule.category,
            message,
            suggestion,
        }
    }

    /// The rule's replacement with its placeholders filled from this call.
    fn suggestion(&self, source: &[u8]) -> String {
        let template = match self.rule.method_replacement {
            Some(method) if self.on_instance => method,
            _ => self.rule.replacement,
        };
        if !template.contains('{') {
            return template.to_string();
        }
        let text = |range: &Range<usize>| collapse_whitespace(&text_at(range, source));
        let call = text(&self.callee);
        let receiver = self.receiver.as_ref().map_or_else(|| call.clone(), text);
        let method = self.method.as_ref().map_or_else(
            || {
                let last = call.rsplit(['.', ':']).next().unwrap_or(&call);
                last.to_string()
            },
            text,
        );
        let inner = self
            .arguments
            .as_ref()
            .map(|arguments| {
                let all = text(arguments);
                let inner = all
                    .strip_prefix('(')
                    .and_then(|rest| rest.strip_suffix(')'))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                if inner.chars().count() > MAX_ARGS_CHARS {
                    "...".to_string()
                } else {
                    inner
                }
            })
            .unwrap_or_default();
        let comma_args = if inner.is_empty() {
            String::new()
        } else {
            format!(", {inner}")
        };
        shorten_to(
            &template
                .replace(
                    "{tokio_path}",
                    &self.resolved.replacen("std::", "tokio::", 1),
                )
                .replace("{call}", &call)
                .replace("{receiver}", &receiver)
                .replace("{method}", &method)
                .replace("{args}", &format!("({inner})"))
                .replace("{args_inner}", &inner)
                .replace("{comma_args}", &comma_args),
            MAX_SUGGESTION_CHARS,
        )
    }
}

/// Where each line of a file starts: turns byte offsets into lines and
/// columns. Built only for a file with something to report.
#[derive(Debug)]
pub(crate) struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub(crate) fn new(source: &[u8]) -> Lines {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', source).map(|at| at + 1));
        Lines { starts }
    }

    /// The 0-based line holding the byte at `byte`.
    pub(crate) fn row(&self, byte: usize) -> usize {
        self.starts.partition_point(|&start| start <= byte) - 1
    }

    /// 1-based line and column (in characters) of the byte at `byte`.
    pub(crate) fn position(&self, source: &[u8], byte: usize) -> (u64, u64) {
        let byte = byte.min(source.len());
        let row = self.row(byte);
        let line_start = self.starts[row];
        let column = String::from_utf8_lossy(&source[line_start..byte])
            .chars()
            .count() as u64
            + 1;
        (row as u64 + 1, column)
    }
}

/// Longer arguments are shown as `...` in a suggestion.
const MAX_ARGS_CHARS: usize = 60;

/// The source text of a node (lossy: names in odd encodings never fail a scan).
pub(crate) fn text_of<'a>(node: Node<'_>, source: &'a [u8]) -> Cow<'a, str> {
    text_at(&node.byte_range(), source)
}

/// The source text of a byte range (lossy, as [`text_of`]).
pub(crate) fn text_at<'a>(range: &Range<usize>, source: &'a [u8]) -> Cow<'a, str> {
    let end = range.end.min(source.len());
    String::from_utf8_lossy(&source[range.start.min(end)..end])
}

fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for ch in text.chars() {
        if ch.is_whitespace() {
            space = true;
        } else {
            // Keep one space only between two words, not around dots or `::`.
            if space && !out.is_empty() && !matches!(ch, '.' | ':' | ')' | ']') {
                let last = out.chars().next_back();
                if !matches!(last, Some('.' | ':' | '(' | '[')) {
                    out.push(' ');
                }
            }
            space = false;
            out.push(ch);
        }
    }
    out
}

fn shorten(text: &str) -> String {
    shorten_to(text, MAX_CALL_CHARS)
}

fn shorten_to(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

/// Whether a `blocking: ok` comment sits on the first or last line of the
/// call at `call`. Only real comments count, not the words inside a string:
/// `comment_at` gives the range of the comment holding a byte, if one does.
pub(crate) fn is_suppressed(
    source: &[u8],
    lines: &Lines,
    call: &Range<usize>,
    comment_at: &dyn Fn(usize) -> Option<Range<usize>>,
) -> bool {
    let first = lines.row(call.start);
    let last = lines.row(call.end.min(source.len()));
    suppressed_line(source, call.start, comment_at)
        || (last != first && suppressed_line(source, call.end, comment_at))
}

/// `at` is any byte on the line looked at.
fn suppressed_line(
    source: &[u8],
    at: usize,
    comment_at: &dyn Fn(usize) -> Option<Range<usize>>,
) -> bool {
    let at = at.min(source.len());
    let line_start = memchr::memrchr(b'\n', &source[..at]).map_or(0, |i| i + 1);
    let line_end = memchr::memchr(b'\n', &source[at..]).map_or(source.len(), |i| at + i);
    let line = &source[line_start..line_end];
    let finder = memchr::memmem::Finder::new(b"blocking:");
    for found in finder.find_iter(line) {
        let Some(comment) = comment_at(line_start + found) else {
            continue;
        };
        let text = text_at(&comment, source);
        let body = text
            .trim_start_matches('#')
            .trim_start_matches("//")
            .trim_start_matches("/*")
            .trim_start();
        if let Some(rest) = body.strip_prefix("blocking:") {
            let rest = rest.trim_start();
            if rest.starts_with("ok")
                && !rest[2..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_in_calls_is_collapsed() {
        assert_eq!(
            collapse_whitespace("Path(p)\n    .read_text"),
            "Path(p).read_text"
        );
        assert_eq!(
            collapse_whitespace("std::thread ::sleep"),
            "std::thread::sleep"
        );
        assert_eq!(collapse_whitespace("a(b, c).d"), "a(b, c).d");
    }

    #[test]
    fn long_calls_are_cut() {
        let long = "x".repeat(500);
        let cut = shorten(&long);
        assert_eq!(cut.chars().count(), MAX_CALL_CHARS);
        assert!(cut.ends_with('…'));
    }
}
