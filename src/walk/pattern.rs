//! Pattern strings: whether an item is a glob pattern, the caps on its size
//! and `{...}` nesting, and compiling it into a matcher and the literal
//! directory to walk from (`src` for `src/**/*.rs`). Nothing here walks;
//! [`expand`](mod@super::expand) does, with what [`Pattern::new`] gives it.

use super::{Target, WalkOptions};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The characters that make an item a glob pattern.
const GLOB_META: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

/// Brace alternatives beyond which the hidden-file rule stops looking at
/// each one and lets the pattern see hidden entries.
const MAX_BRACE_EXPANSION: usize = 256;

/// The longest pattern accepted, in bytes (Linux's `PATH_MAX`). Compiling
/// and matching cost grow with the pattern (4,096 `*` compile in about
/// 20 ms and match a path in under a microsecond; 16,384 take 0.1 s and
/// 9 µs a path; 90,000 cannot be compiled at all). More names than fit go
/// in separate items.
pub(crate) const MAX_PATTERN_BYTES: usize = 4096;

/// The deepest `{...}` nesting accepted. globset recurses over nested
/// groups (on a blocking thread's small stack) and the regex parser gives
/// up at a few hundred levels; real patterns nest two or three deep.
pub(crate) const MAX_BRACE_DEPTH: usize = 32;

/// How much of a bad pattern an error message quotes.
const QUOTED_CHARS: usize = 80;

/// A bad pattern: bad input, reported before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a valid glob pattern: {reason}", quote(pattern))]
pub(crate) struct PatternError {
    /// Position of the item in the list given to [`expand_targets`](super::expand_targets).
    pub(crate) index: usize,
    pub(crate) pattern: String,
    pub(crate) reason: String,
}

/// Whether `text` has glob metacharacters.
pub(crate) fn is_pattern(text: &str) -> bool {
    text.contains(GLOB_META)
}

/// Whether `text` names an existing entry (a dangling symlink too), which
/// makes it a literal path even with glob metacharacters.
pub(crate) fn names_existing(text: &str, options: &WalkOptions) -> bool {
    std::fs::symlink_metadata(options.resolve(Path::new(text))).is_ok()
}

/// Checks one item before anything runs: a pattern must compile (unless
/// it names an existing file, which makes it a literal path).
pub(crate) fn check_target(target: &Target, options: &WalkOptions) -> Result<(), String> {
    match target {
        Target::Literal(_) => Ok(()),
        Target::Auto(text) if text.is_empty() => Err("an empty path".to_string()),
        Target::Auto(text) => {
            if !is_pattern(text) || names_existing(text, options) {
                return Ok(());
            }
            Pattern::new(text).map(|_| ()).map_err(|reason| {
                format!("`{}` is not a valid glob pattern: {reason}", quote(text))
            })
        }
    }
}

/// Compiles one pattern the way every pattern is compiled: within the
/// size caps, and through `GlobSet`, whose build returns the regex errors
/// that `Glob::compile_matcher` would panic on.
fn compile(text: &str) -> Result<GlobSet, String> {
    check_size(text)?;
    let glob = GlobBuilder::new(text)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|error| reason(&error))?;
    GlobSetBuilder::new()
        .add(glob)
        .build()
        .map_err(|error| reason(&error))
}

/// Why globset refused a pattern, in a line of bounded length (a regex
/// error can quote the whole generated regex).
fn reason(error: &globset::Error) -> String {
    match error.kind() {
        globset::ErrorKind::Regex(detail) => {
            format!("too complex to compile ({})", quote(detail))
        }
        kind => quote(&kind.to_string()),
    }
}

/// Refuses patterns past the caps before anything looks at their structure.
fn check_size(text: &str) -> Result<(), String> {
    if text.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "{} bytes long, more than the {MAX_PATTERN_BYTES} a pattern may have \
             (give more names as separate items)",
            text.len()
        ));
    }
    let deepest = structural_chars(text)
        .filter(|(_, c, _)| *c == '{')
        .map(|(_, _, outside)| outside + 1)
        .max()
        .unwrap_or(0);
    if deepest > MAX_BRACE_DEPTH {
        return Err(format!(
            "`{{...}}` nested {deepest} deep, more than the {MAX_BRACE_DEPTH} allowed"
        ));
    }
    Ok(())
}

/// `text` cut to [`QUOTED_CHARS`] characters for a message, saying how long
/// it was when cut.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], text.len()),
    }
}

/// A compiled pattern and where to walk for it.
pub(super) struct Pattern {
    pub(super) matcher: GlobSet,
    /// The literal leading directories (`src` for `src/**/*.rs`), normalised.
    pub(super) base: PathBuf,
    /// How deep below `base` a match can be; `None` with `**`.
    pub(super) max_depth: Option<usize>,
    /// Which hidden names the pattern asks for; `None`: any.
    pub(super) hidden_names: Option<Arc<GlobSet>>,
}

impl Pattern {
    /// Parses and compiles `text` (bad input: why, in a line).
    pub(super) fn new(text: &str) -> Result<Self, String> {
        compile(text)?;
        let components = split_components(text);
        let literal_prefix = components
            .iter()
            .take_while(|component| !is_pattern(component))
            .count();
        // The last component is what is matched; it cannot be the base.
        let literal_prefix = literal_prefix.min(components.len().saturating_sub(1));
        let absolute = text.starts_with('/');
        let mut base = PathBuf::from(if absolute { "/" } else { "" });
        for component in &components[..literal_prefix] {
            if !component.is_empty() && *component != "." {
                base.push(component);
            }
        }
        let rest = &components[literal_prefix..];
        let rest_text = rest.join("/");
        let max_depth = if rest.iter().any(|component| component.contains("**"))
            || slash_in_braces(&rest_text)
        {
            None
        } else {
            Some(rest.len())
        };
        // Match against `base/rest`, the way found paths are shown.
        let normalized = if base.as_os_str().is_empty() {
            rest_text
        } else if base == Path::new("/") {
            format!("/{rest_text}")
        } else {
            format!("{}/{rest_text}", base.to_string_lossy())
        };
        let matcher = compile(&normalized)?;
        if base.as_os_str().is_empty() {
            base.push(".");
        }
        Ok(Pattern {
            matcher,
            base,
            max_depth,
            hidden_names: hidden_names(text).map(Arc::new),
        })
    }
}

/// The characters of a pattern that give it structure, each with its byte
/// offset and the `{...}` depth it stands at (for a brace, the depth outside
/// it). Escaped characters and `[...]` classes are passed over: a `/`, `,` or
/// brace there is literal.
fn structural_chars(text: &str) -> impl Iterator<Item = (usize, char, usize)> + '_ {
    let mut chars = text.char_indices().peekable();
    let mut depth = 0usize;
    std::iter::from_fn(move || {
        loop {
            let (at, c) = chars.next()?;
            match c {
                '\\' => {
                    chars.next();
                }
                '[' => skip_class(&mut chars),
                _ => {
                    let outside = depth;
                    match c {
                        '{' => depth += 1,
                        '}' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    return Some((at, c, outside));
                }
            }
        }
    })
}

/// Splits a pattern on `/`, except inside `{...}` and `[...]`.
fn split_components(text: &str) -> Vec<&str> {
    split_top_level(text, '/')
}

/// Splits `text` on `separator` where it stands outside `{...}` and `[...]`.
fn split_top_level(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (at, c, depth) in structural_chars(text) {
        if c == separator && depth == 0 {
            parts.push(&text[start..at]);
            start = at + 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Skips a `[...]` class, whose `]` right after `[` or `[!` is literal.
fn skip_class(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) {
    if matches!(chars.peek(), Some((_, '!' | '^'))) {
        chars.next();
    }
    if matches!(chars.peek(), Some((_, ']'))) {
        chars.next();
    }
    for (_, c) in chars.by_ref() {
        if c == ']' {
            return;
        }
    }
}

/// Whether a `/` appears inside a `{...}` group (so the depth of a match
/// cannot be read off the components).
fn slash_in_braces(text: &str) -> bool {
    structural_chars(text).any(|(_, c, depth)| c == '/' && depth > 0)
}

/// The hidden names a pattern asks for: its components (in every brace
/// alternative) that start with a literal `.`. `None` when the pattern has
/// too many alternatives to look at: it then sees every hidden entry.
fn hidden_names(text: &str) -> Option<GlobSet> {
    let alternatives = expand_braces(text, MAX_BRACE_EXPANSION)?;
    let mut set = GlobSetBuilder::new();
    for alternative in &alternatives {
        for component in alternative.split('/') {
            if component.starts_with('.') && component != "." && component != ".." {
                let glob = GlobBuilder::new(component)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                    .ok()?;
                set.add(glob);
            }
        }
    }
    set.build().ok()
}

/// Expands `{a,b}` groups (nested too) into every alternative; `None` past
/// `limit` alternatives. Escapes and `[...]` classes are kept as they are.
fn expand_braces(text: &str, limit: usize) -> Option<Vec<String>> {
    let Some((open, close)) = first_brace_group(text) else {
        return Some(vec![text.to_string()]);
    };
    let prefix = &text[..open];
    let suffix = &text[close + 1..];
    let mut out = Vec::new();
    for alternative in split_alternatives(&text[open + 1..close]) {
        let joined = format!("{prefix}{alternative}{suffix}");
        out.extend(expand_braces(&joined, limit)?);
        if out.len() > limit {
            return None;
        }
    }
    Some(out)
}

/// The byte offsets of the first top-level `{` and its matching `}`.
fn first_brace_group(text: &str) -> Option<(usize, usize)> {
    let mut open = None;
    for (at, c, depth) in structural_chars(text) {
        match (c, depth) {
            ('{', 0) => open = Some(at),
            ('}', 1) => return open.map(|open| (open, at)),
            _ => {}
        }
    }
    None
}

/// Splits the inside of a brace group on its top-level commas.
fn split_alternatives(inside: &str) -> Vec<&str> {
    split_top_level(inside, ',')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::expand;
    use crate::walk::testing::{names, run, tree};

    #[test]
    fn an_existing_file_with_glob_characters_is_literal() {
        let dir = tree(&["report[1].txt", "report1.txt"]);
        let got = run(dir.path(), &["report[1].txt"], |_| {});
        assert_eq!(names(&got), ["report[1].txt"]);
        let options = WalkOptions::new(dir.path());
        assert!(check_target(&Target::Auto("report[1].txt".into()), &options).is_ok());
        assert!(check_target(&Target::Auto("other[1.txt".into()), &options).is_err());
    }

    #[test]
    fn bad_patterns_are_errors_naming_the_item() {
        let dir = tree(&[]);
        let options = WalkOptions::new(dir.path());
        for bad in ["src/[abc", "{a,b", "a}b", "trailing\\"] {
            let error = expand(&["ok.txt".to_string(), bad.to_string()], &options).unwrap_err();
            assert_eq!(error.index, 1, "{bad}");
            assert_eq!(error.pattern, bad);
            assert!(check_target(&Target::Auto(bad.into()), &options).is_err());
        }
        assert!(check_target(&Target::Auto(String::new()), &options).is_err());
    }

    #[test]
    fn patterns_past_the_caps_are_errors_never_panics() {
        let dir = tree(&["a"]);
        let options = WalkOptions::new(dir.path());
        let nested = |depth: usize| format!("{}a{}", "{".repeat(depth), "}".repeat(depth));
        let alternatives = |depth: usize| format!("{}a{}", "{a,".repeat(depth), "}".repeat(depth));
        let cases = [
            ("*".repeat(90_000), "bytes long"),
            ("*".repeat(MAX_PATTERN_BYTES + 1), "bytes long"),
            (nested(MAX_BRACE_DEPTH + 1), "nested"),
            (nested(130), "nested"),
            (alternatives(200), "nested"),
            (format!("{}*", "a/".repeat(3000)), "bytes long"),
        ];
        for (pattern, why) in &cases {
            let error = check_target(&Target::Auto(pattern.clone()), &options).unwrap_err();
            assert!(error.contains(why), "{error}");
            assert!(
                error.len() < 300,
                "the message quotes a bounded part: {error}"
            );
            let error = expand(std::slice::from_ref(pattern), &options).unwrap_err();
            assert_eq!(&error.pattern, pattern);
            assert!(error.to_string().len() < 300);
        }
        // Within the caps, the worst shapes still compile (or fail cleanly).
        for pattern in [
            "*".repeat(MAX_PATTERN_BYTES),
            "?".repeat(MAX_PATTERN_BYTES),
            "*a".repeat(MAX_PATTERN_BYTES / 2),
            "[a-z]".repeat(MAX_PATTERN_BYTES / 5),
            "{a,b}".repeat(MAX_PATTERN_BYTES / 5),
            "**/".repeat(MAX_PATTERN_BYTES / 3),
            nested(MAX_BRACE_DEPTH),
            alternatives(MAX_BRACE_DEPTH),
            format!("{{{}}}", vec!["x"; MAX_PATTERN_BYTES / 2 - 1].join(",")),
            "{a}".repeat(MAX_PATTERN_BYTES / 3),
            "[!é]".repeat(MAX_PATTERN_BYTES / 5),
        ] {
            let _ = check_target(&Target::Auto(pattern.clone()), &options);
            let _ = expand(&[pattern], &options);
        }
        assert_eq!(
            expand(&[nested(MAX_BRACE_DEPTH)], &options).unwrap().files[0].path,
            Path::new("a")
        );
    }

    #[test]
    fn brace_helpers() {
        assert_eq!(
            expand_braces("a{b,c{d,e}}f", 10).unwrap(),
            ["abf", "acdf", "acef"]
        );
        assert_eq!(expand_braces("[{]x", 10).unwrap(), ["[{]x"]);
        assert!(expand_braces("{a,b}{c,d}{e,f}", 7).is_none());
        assert_eq!(split_components("{a/b,c}/d/[/]"), ["{a/b,c}", "d", "[/]"]);
        assert!(slash_in_braces("x/{a/b,c}"));
        assert!(!slash_in_braces("x/{a,b}/c"));
        assert_eq!(
            split_alternatives("a,{b,c},[,]d,\\,e"),
            ["a", "{b,c}", "[,]d", "\\,e"]
        );
        assert_eq!(first_brace_group("\\{x}{a{b}c}"), Some((4, 10)));
    }
}
