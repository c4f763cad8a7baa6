//! `--format sarif` and `--format github`: the findings in the formats
//! code-scanning services, editors and CI read, written as a stream.
//!
//! SARIF 2.1.0 (OASIS; what ruff, clippy-sarif and CodeQL write): the
//! header with the tool and every rule (its help text: why, and the async
//! replacement) first, then one result per finding as each file finishes,
//! then the invocation with a notification for every file not fully
//! scanned (syntax errors, unreadable, timed out), so a clean-looking log is
//! never made of files that were not read. Memory: the notifications are
//! kept until the end, at most [`MAX_NOTIFICATIONS`] (the rest counted).
//!
//! GitHub workflow commands (`::error file=..,line=..,col=..,title=..::..`):
//! one annotation line per finding and per file not fully scanned.
//!
//! Both writers take plain views of a file's outcome ([`FileView`]) and any
//! `impl Write`: they know nothing of the runner that produced them.

use super::finding::Finding;
use super::rules::{Category, Rule};
use super::scan::Region;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use std::io::{self, Write};

/// The schema a SARIF log names.
pub(crate) const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Notifications kept for the end of a SARIF log; past this they are counted.
pub(crate) const MAX_NOTIFICATIONS: usize = 1000;

/// What the writers need of one file's outcome.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileView<'a> {
    pub(crate) path: &'a str,
    pub(crate) findings: &'a [Finding],
    /// Regions not looked into.
    pub(crate) unscanned: &'a [Region],
    /// Why the file is not ok, when it is not for another reason than its
    /// findings: `(kind, message)` (`parse`, `io`, `timeout`, ...).
    pub(crate) problem: Option<(&'a str, &'a str)>,
}

/// A stream of findings in one output format.
pub(crate) trait FindingsWriter {
    /// Writes what one file gave.
    fn file(&mut self, file: FileView<'_>) -> io::Result<()>;
    /// Closes the output.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// A SARIF 2.1.0 log written as it goes.
pub(crate) struct SarifWriter<W: Write> {
    out: W,
    rule_index: HashMap<&'static str, usize>,
    wrote_result: bool,
    notifications: Vec<serde_json::Value>,
    notifications_omitted: u64,
    scratch: Vec<u8>,
}

#[derive(Serialize)]
struct SarifRule<'a> {
    id: &'a str,
    name: String,
    #[serde(rename = "shortDescription")]
    short_description: Text<'a>,
    #[serde(rename = "fullDescription")]
    full_description: Text<'a>,
    help: Text<'a>,
    #[serde(rename = "defaultConfiguration")]
    default_configuration: Configuration,
    properties: RuleProperties<'a>,
}

#[derive(Serialize)]
struct Text<'a> {
    text: std::borrow::Cow<'a, str>,
}

fn text<'a>(text: impl Into<std::borrow::Cow<'a, str>>) -> Text<'a> {
    Text { text: text.into() }
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties<'a> {
    language: &'static str,
    category: Category,
    calls: &'a [&'a str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ruff: &'a [&'a str],
    tags: [&'static str; 2],
}

/// `py-time-sleep` → `PyTimeSleep` (SARIF's `name` is an identifier-like word).
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect()
}

/// A replacement template with its placeholders in words (each finding's
/// own suggestion has them filled in).
fn generic(template: &str) -> String {
    template
        .replace("{tokio_path}", "the tokio::… equivalent")
        .replace("{call}", "the function")
        .replace("{receiver}", "obj")
        .replace("{method}", "method")
        .replace("{args}", "(...)")
        .replace("{args_inner}", "...")
        .replace("{comma_args}", ", ...")
}

/// The level of a finding: a call that blocks is an error, a misuse a warning.
fn level(category: Category) -> &'static str {
    match category {
        Category::Blocking => "error",
        Category::Misuse => "warning",
    }
}

/// A path as a SARIF `uri`: relative paths stay relative (resolved against
/// the working directory), absolute ones become `file://` URIs; every byte
/// outside the unreserved set and `/` is percent-encoded.
pub(crate) fn path_uri(path: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const PATH: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let encoded = utf8_percent_encode(path, PATH).to_string();
    if path.starts_with('/') {
        format!("file://{encoded}")
    } else {
        encoded
    }
}

impl<W: Write> SarifWriter<W> {
    /// Writes the log's opening: the tool, its rules, and `"results":[`.
    pub(crate) fn start(mut out: W, rules: &[Rule]) -> io::Result<Self> {
        let sarif_rules: Vec<SarifRule<'_>> = rules
            .iter()
            .map(|rule| {
                let mut help = format!("{}. Instead: {}", rule.why, generic(rule.replacement));
                if let Some(method) = rule.method_replacement {
                    help.push_str(&format!(" (on an object: {})", generic(method)));
                }
                if !rule.ruff.is_empty() {
                    help.push_str(&format!(" ruff: {}.", rule.ruff.join(", ")));
                }
                SarifRule {
                    id: rule.id,
                    name: pascal_case(rule.id),
                    short_description: text(rule.why),
                    full_description: text(format!("{}: {}", rule.why, rule.calls.join(", "))),
                    help: text(help),
                    default_configuration: Configuration {
                        level: level(rule.category),
                    },
                    properties: RuleProperties {
                        language: rule.language.word(),
                        category: rule.category,
                        calls: rule.calls,
                        ruff: rule.ruff,
                        tags: [rule.language.word(), "async"],
                    },
                }
            })
            .collect();
        let driver = json!({
            "name": super::NAME,
            "version": crate::VERSION,
            "semanticVersion": crate::VERSION,
            "rules": sarif_rules,
        });
        write!(
            out,
            "{{\"$schema\":{},\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{{\"driver\":{}}},\
             \"columnKind\":\"unicodeCodePoints\",\"results\":[",
            serde_json::to_string(SARIF_SCHEMA)?,
            serde_json::to_string(&driver)?
        )?;
        Ok(SarifWriter {
            out,
            rule_index: rules
                .iter()
                .enumerate()
                .map(|(at, rule)| (rule.id, at))
                .collect(),
            wrote_result: false,
            notifications: Vec::new(),
            notifications_omitted: 0,
            scratch: Vec::with_capacity(1024),
        })
    }

    fn notify(&mut self, notification: serde_json::Value) {
        if self.notifications.len() < MAX_NOTIFICATIONS {
            self.notifications.push(notification);
        } else {
            self.notifications_omitted += 1;
        }
    }

    fn write_result(&mut self, result: &serde_json::Value) -> io::Result<()> {
        self.scratch.clear();
        if self.wrote_result {
            self.scratch.extend_from_slice(b",\n");
        } else {
            self.scratch.push(b'\n');
        }
        serde_json::to_writer(&mut self.scratch, result)?;
        self.wrote_result = true;
        self.out.write_all(&self.scratch)
    }
}

fn location(path: &str, region: serde_json::Value) -> serde_json::Value {
    json!({
        "physicalLocation": {
            "artifactLocation": {"uri": path_uri(path)},
            "region": region,
        }
    })
}

impl<W: Write> FindingsWriter for SarifWriter<W> {
    fn file(&mut self, file: FileView<'_>) -> io::Result<()> {
        for finding in file.findings {
            let mut result = json!({
                "ruleId": finding.rule,
                "level": level(finding.category),
                "message": {"text": format!("{}. Instead: {}", finding.message, finding.suggestion)},
                "locations": [location(file.path, json!({
                    "startLine": finding.line,
                    "startColumn": finding.column,
                }))],
                "properties": {
                    "category": finding.category,
                    "function": finding.function,
                    "call": finding.call,
                    "resolved": finding.resolved,
                    "suggestion": finding.suggestion,
                },
            });
            if let Some(index) = self.rule_index.get(finding.rule) {
                result["ruleIndex"] = json!(index);
            }
            self.write_result(&result)?;
        }
        for region in file.unscanned {
            self.notify(json!({
                "level": "error",
                "descriptor": {"id": format!("unscanned-{}", reason_word(region))},
                "message": {"text": format!(
                    "not scanned here ({}): a blocking call in this region would not be reported",
                    reason_word(region).replace('_', " ")
                )},
                "locations": [location(file.path, json!({
                    "startLine": region.line,
                    "startColumn": region.column,
                    "endLine": region.end_line,
                    "endColumn": region.end_column,
                }))],
            }));
        }
        if let Some((kind, message)) = file.problem {
            self.notify(json!({
                "level": "error",
                "descriptor": {"id": kind},
                "message": {"text": format!("{}: {message}", file.path)},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": path_uri(file.path)}}
                }],
            }));
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        let clean = self.notifications.is_empty();
        let omitted = self.notifications_omitted;
        let mut invocation = json!({
            "executionSuccessful": clean,
            "toolExecutionNotifications": self.notifications,
        });
        if omitted > 0 {
            invocation["properties"] = json!({"notificationsOmitted": omitted});
        }
        writeln!(
            self.out,
            "{}],\"invocations\":[{}]}}]}}",
            if self.wrote_result { "\n" } else { "" },
            serde_json::to_string(&invocation)?
        )?;
        self.out.flush()
    }
}

fn reason_word(region: &Region) -> &'static str {
    match region.reason {
        super::scan::RegionReason::SyntaxError => "syntax_error",
        super::scan::RegionReason::TooDeep => "too_deep",
    }
}

/// GitHub Actions workflow commands: one annotation line per finding.
pub(crate) struct GithubWriter<W: Write> {
    out: W,
}

impl<W: Write> GithubWriter<W> {
    pub(crate) fn new(out: W) -> Self {
        GithubWriter { out }
    }
}

/// Escapes a workflow command's message (`%`, CR, LF).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

impl<W: Write> FindingsWriter for GithubWriter<W> {
    fn file(&mut self, file: FileView<'_>) -> io::Result<()> {
        let path = escape_property(file.path);
        for finding in file.findings {
            let command = match finding.category {
                Category::Blocking => "error",
                Category::Misuse => "warning",
            };
            writeln!(
                self.out,
                "::{command} file={path},line={},col={},title={}::{}",
                finding.line,
                finding.column,
                escape_property(finding.rule),
                escape_data(&format!(
                    "{}. Instead: {}",
                    finding.message, finding.suggestion
                ))
            )?;
        }
        for region in file.unscanned {
            writeln!(
                self.out,
                "::error file={path},line={},col={},endLine={},endColumn={},title=unscanned::{}",
                region.line,
                region.column,
                region.end_line,
                region.end_column,
                escape_data(&format!(
                    "not scanned here ({}): a blocking call in this region would not be reported",
                    reason_word(region).replace('_', " ")
                ))
            )?;
        }
        if let Some((kind, message)) = file.problem {
            writeln!(
                self.out,
                "::error file={path},title={}::{}",
                escape_property(kind),
                escape_data(message)
            )?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded_and_absolute_paths_are_file_uris() {
        assert_eq!(path_uri("src/a b.py"), "src/a%20b.py");
        assert_eq!(path_uri("/tmp/x#1.rs"), "file:///tmp/x%231.rs");
        assert_eq!(path_uri("ünï.py"), "%C3%BCn%C3%AF.py");
    }

    #[test]
    fn workflow_commands_are_escaped() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(pascal_case("py-time-sleep"), "PyTimeSleep");
    }
}
