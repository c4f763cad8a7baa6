//! Turning items (paths, directories, glob patterns) into a sorted,
//! de-duplicated list of files, without ever looping on a symlink cycle.
//!
//! Shared by every tool that works on files. The seed used Python's `glob`,
//! which has no `{a,b}` and follows symlinked directories into cycles; here
//! patterns are compiled by `globset` (with `*` kept inside one path
//! component) and directories are walked by the `ignore` crate's walker,
//! which detects loops when it follows links and can honour `.gitignore`.
//!
//! Rules (the same for every tool):
//! - An item without glob metacharacters (`* ? [ ] { } \`) is a literal path,
//!   taken as is, hidden or not, existing or not (the tool reports
//!   `not_found` itself). So is an item that names an existing file even
//!   though it contains metacharacters (`report[1].txt`). A literal
//!   directory is walked only with [`WalkOptions::walk_directories`].
//! - Patterns support `*`, `?`, `[...]`, `**` (any depth) and `{a,b}`; `*`
//!   does not cross `/`. A pattern is relative to [`WalkOptions::root`].
//! - A pattern is at most [`MAX_PATTERN_BYTES`] long, with `{...}` nested at
//!   most [`MAX_BRACE_DEPTH`] deep; a longer or deeper one is bad input, as
//!   is one the compiler refuses. Compiling is fallible all the way
//!   (`GlobSet`, never `Glob::compile_matcher`, which panics when the regex
//!   cannot be built), and the caps keep both the compile and every match
//!   cheap (16,384 `*` take 0.1 s to compile and 9 µs to match each path).
//! - Patterns and directory walks yield regular files and symlinks to them
//!   (a dangling symlink too, so the tool can report it); never directories.
//!   FIFOs, sockets and devices they meet are yielded too, marked
//!   [`Special`], so that every name a pattern matched is accounted for:
//!   the tools list them as `not_regular` without opening them.
//! - Hidden entries (name starting with `.`) are skipped unless
//!   [`WalkOptions::hidden`] is set or the pattern names them with a
//!   component that starts with a literal `.` (`.github/**/*.yml`, `**/.env`).
//! - Symlinked directories are descended only with
//!   [`WalkOptions::follow_links`]; a cycle is then reported as a
//!   [`WalkError::SymlinkLoop`] and skipped.
//! - Paths come out as the user wrote them, relative to the root
//!   (`src/a.rs`, not `/home/me/project/src/a.rs`); `.` components are
//!   dropped. [`WalkOptions::resolve`] gives the path to open. Names that
//!   are not UTF-8 are kept exactly; [`path_bytes`] gives their bytes for
//!   the output, where `path` is lossy.

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};
use ignore::{DirEntry, WalkBuilder};
use serde::ser::SerializeStruct;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::FileType;
use std::path::{Component, Path, PathBuf};
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

/// How items are expanded.
#[derive(Debug, Clone)]
pub(crate) struct WalkOptions {
    /// What relative items and patterns are relative to.
    pub(crate) root: PathBuf,
    /// Match hidden entries (names starting with `.`) everywhere.
    pub(crate) hidden: bool,
    /// Descend into symlinked directories (cycles are detected and skipped).
    pub(crate) follow_links: bool,
    /// Skip what `.gitignore`, `.ignore` and `.git/info/exclude` exclude
    /// (also outside a git repository).
    pub(crate) respect_gitignore: bool,
    /// When walking a literal directory, keep only these file extensions
    /// (without the dot: `["py", "pyi"]`). Patterns are not filtered.
    pub(crate) extensions: Option<Vec<String>>,
    /// A literal directory is walked for its files (recursively). Without
    /// it a directory is passed through as is, for the tool to report.
    pub(crate) walk_directories: bool,
}

impl WalkOptions {
    /// Options with everything off, relative to `root`.
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        WalkOptions {
            root: root.into(),
            hidden: false,
            follow_links: false,
            respect_gitignore: false,
            extensions: None,
            walk_directories: false,
        }
    }

    /// The path to open for a path of [`Expansion::files`].
    pub(crate) fn resolve(&self, shown: &Path) -> PathBuf {
        if shown.is_absolute() {
            shown.to_path_buf()
        } else {
            self.root.join(shown)
        }
    }
}

/// One item to expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A pattern if it has glob metacharacters (and names no existing
    /// file), a literal path otherwise.
    Auto(String),
    /// Always a literal path, whatever characters it contains.
    Literal(PathBuf),
}

/// What the items expanded to.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Expansion {
    /// Sorted (component by component) and de-duplicated.
    pub(crate) files: Vec<Found>,
    /// Patterns (and walked directories) that yielded no file, in input order.
    pub(crate) unmatched: Vec<String>,
    /// Problems met while walking; none of them stops the walk.
    pub(crate) errors: Vec<WalkError>,
}

/// One name an expansion yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// As shown to the user (see [`WalkOptions::resolve`] for the path to open).
    pub(crate) path: PathBuf,
    /// Set when a pattern or a directory walk met a FIFO, socket or device
    /// (or a symlink to one): the tool lists it without opening it (a FIFO
    /// waits for a writer, a device may do anything). Never set for a
    /// literal item: the tool decides what to do with what it is given.
    pub(crate) special: Option<Special>,
}

/// What a name a walk met is, when it is neither a regular file nor a
/// directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

impl Special {
    /// What `file_type` is, when it is not a regular file or a directory.
    pub(crate) fn of(file_type: &FileType) -> Option<Special> {
        use std::os::unix::fs::FileTypeExt;
        Some(if file_type.is_file() || file_type.is_dir() {
            return None;
        } else if file_type.is_fifo() {
            Special::Fifo
        } else if file_type.is_socket() {
            Special::Socket
        } else if file_type.is_char_device() {
            Special::CharDevice
        } else if file_type.is_block_device() {
            Special::BlockDevice
        } else {
            Special::Other
        })
    }

    /// In words, for messages (`"FIFO (named pipe)"`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Special::Fifo => "FIFO (named pipe)",
            Special::Socket => "socket",
            Special::CharDevice => "character device",
            Special::BlockDevice => "block device",
            Special::Other => "special file",
        }
    }
}

/// The exact bytes of a name that is not valid UTF-8, in standard base64
/// (as ripgrep's JSON gives them), for `path_bytes`; `None` for a UTF-8
/// name, which `path` shows exactly. `path` alone would show `a\xffb` and
/// `a\xfeb` both as `a\u{fffd}b`.
pub(crate) fn path_bytes(path: &Path) -> Option<String> {
    use base64::Engine;
    use std::os::unix::ffi::OsStrExt;
    if path.to_str().is_some() {
        return None;
    }
    Some(base64::engine::general_purpose::STANDARD.encode(path.as_os_str().as_bytes()))
}

/// A bad pattern: bad input, reported before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a valid glob pattern: {reason}", quote(pattern))]
pub(crate) struct PatternError {
    /// Position of the item in the list given to [`expand_targets`].
    pub(crate) index: usize,
    pub(crate) pattern: String,
    pub(crate) reason: String,
}

/// A problem met while walking a directory. Never fatal: the walk goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WalkError {
    #[error("symbolic link loop: {} leads back to {}", path.display(), ancestor.display())]
    SymlinkLoop { path: PathBuf, ancestor: PathBuf },
    #[error("cannot read {}: permission denied", path.display())]
    PermissionDenied { path: PathBuf },
    #[error("cannot read {}: {detail}", path.display())]
    Io { path: PathBuf, detail: String },
}

impl WalkError {
    /// The path the problem is about, as shown to the user.
    pub(crate) fn path(&self) -> &Path {
        match self {
            WalkError::SymlinkLoop { path, .. }
            | WalkError::PermissionDenied { path }
            | WalkError::Io { path, .. } => path,
        }
    }

    /// Whether files may be missing because of it (a skipped cycle loses
    /// nothing: its files are reached through the ancestor).
    pub(crate) fn loses_files(&self) -> bool {
        !matches!(self, WalkError::SymlinkLoop { .. })
    }
}

impl crate::error::Failure for WalkError {
    fn kind(&self) -> &'static str {
        match self {
            WalkError::SymlinkLoop { .. } => "symlink_loop",
            WalkError::PermissionDenied { .. } => "permission_denied",
            WalkError::Io { .. } => "io",
        }
    }
}

/// Serialised as `{"path": ..., "kind": ..., "message": ...}`, with
/// `path_bytes` after `path` when the path is not UTF-8.
impl serde::Serialize for WalkError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use crate::error::Failure;
        let bytes = path_bytes(self.path());
        let mut record = serializer.serialize_struct("WalkError", 3 + bytes.is_some() as usize)?;
        record.serialize_field("path", &self.path().to_string_lossy())?;
        if let Some(bytes) = &bytes {
            record.serialize_field("path_bytes", bytes)?;
        }
        record.serialize_field("kind", self.kind())?;
        record.serialize_field("message", &self.to_string())?;
        record.end()
    }
}

/// Whether `text` has glob metacharacters.
pub(crate) fn is_pattern(text: &str) -> bool {
    text.contains(GLOB_META)
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

/// [`expand_targets`] for plain strings (each one [`Target::Auto`]).
pub(crate) fn expand(
    patterns: &[String],
    options: &WalkOptions,
) -> Result<Expansion, PatternError> {
    let targets: Vec<Target> = patterns.iter().cloned().map(Target::Auto).collect();
    expand_targets(&targets, options)
}

/// Expands every item: literal paths as they are, directories walked (with
/// [`WalkOptions::walk_directories`]), patterns matched by walking from
/// their literal prefix. Blocking: call it on a blocking thread.
pub(crate) fn expand_targets(
    targets: &[Target],
    options: &WalkOptions,
) -> Result<Expansion, PatternError> {
    let mut files = Files::new();
    let mut unmatched = Vec::new();
    let mut errors = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        let found = match target {
            Target::Literal(path) => take_literal(path, options, &mut files, &mut errors),
            Target::Auto(text) => {
                if !is_pattern(text) || names_existing(text, options) {
                    take_literal(Path::new(text), options, &mut files, &mut errors)
                } else {
                    let pattern = Pattern::new(text).map_err(|reason| PatternError {
                        index,
                        pattern: text.clone(),
                        reason,
                    })?;
                    pattern.walk(options, &mut files, &mut errors)
                }
            }
        };
        if found == 0 {
            let shown = match target {
                Target::Auto(text) => text.clone(),
                Target::Literal(path) => path.to_string_lossy().into_owned(),
            };
            unmatched.push(shown);
        }
    }
    Ok(Expansion {
        files: files
            .into_iter()
            .map(|(path, special)| Found { path, special })
            .collect(),
        unmatched,
        errors,
    })
}

/// The names found so far, sorted, each with what a walk saw it was.
type Files = BTreeMap<PathBuf, Option<Special>>;

/// Adds a name a walk found; a literal item naming it too has the last word.
fn add_found(files: &mut Files, path: PathBuf, special: Option<Special>) {
    files.entry(path).or_insert(special);
}

/// Whether `text` names an existing entry (a dangling symlink too), which
/// makes it a literal path even with glob metacharacters.
pub(crate) fn names_existing(text: &str, options: &WalkOptions) -> bool {
    std::fs::symlink_metadata(options.resolve(Path::new(text))).is_ok()
}

/// Adds a literal item; returns how many files it yielded (a literal that
/// is not a walked directory always counts as one, existing or not).
fn take_literal(
    path: &Path,
    options: &WalkOptions,
    files: &mut Files,
    errors: &mut Vec<WalkError>,
) -> usize {
    let shown = normalize(path);
    if options.walk_directories {
        let full = options.resolve(&shown);
        if full.is_dir() {
            return walk_directory(&shown, &full, options, files, errors);
        }
    }
    files.insert(shown, None);
    1
}

/// Drops `.` components and doubled or trailing slashes; keeps `..` (which
/// cannot be resolved without following symlinks). An empty result is `.`.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `shown` joined with a path found below it (`.` joined with `a` is `a`).
fn below(shown: &Path, relative: &Path) -> PathBuf {
    if shown == Path::new(".") {
        relative.to_path_buf()
    } else {
        shown.join(relative)
    }
}

fn walk_directory(
    shown: &Path,
    full: &Path,
    options: &WalkOptions,
    files: &mut Files,
    errors: &mut Vec<WalkError>,
) -> usize {
    let hidden = options.hidden;
    let walker = walker(full, options, None, move |entry| {
        hidden || entry.depth() == 0 || !is_hidden(entry)
    });
    let extensions = options.extensions.as_ref().map(|list| {
        list.iter()
            .map(|ext| ext.trim_start_matches('.').to_string())
            .collect::<Vec<_>>()
    });
    let mut found = 0;
    for entry in walker {
        let Some((relative, special)) = visit(entry, full, shown, options, errors) else {
            continue;
        };
        if let Some(extensions) = &extensions {
            let ext = relative.extension().and_then(|ext| ext.to_str());
            if !ext.is_some_and(|ext| extensions.iter().any(|wanted| wanted == ext)) {
                continue;
            }
        }
        add_found(files, below(shown, &relative), special);
        found += 1;
    }
    found
}

/// Builds the walker shared by directory walks and pattern walks.
fn walker(
    start: &Path,
    options: &WalkOptions,
    max_depth: Option<usize>,
    keep: impl Fn(&DirEntry) -> bool + Send + Sync + 'static,
) -> ignore::Walk {
    let gitignore = options.respect_gitignore;
    WalkBuilder::new(start)
        .standard_filters(false)
        .hidden(false)
        .parents(gitignore)
        .ignore(gitignore)
        .git_ignore(gitignore)
        .git_global(gitignore)
        .git_exclude(gitignore)
        .require_git(false)
        .follow_links(options.follow_links)
        .max_depth(max_depth)
        .filter_entry(keep)
        .build()
}

fn is_hidden(entry: &DirEntry) -> bool {
    entry.file_name().as_encoded_bytes().first() == Some(&b'.')
}

/// One walker entry: its path relative to the walk's start when it is a
/// name to yield (a file, or a FIFO, socket or device: see [`Found`]),
/// `None` otherwise (errors are recorded on the way).
fn visit(
    entry: Result<DirEntry, ignore::Error>,
    start: &Path,
    shown: &Path,
    options: &WalkOptions,
    errors: &mut Vec<WalkError>,
) -> Option<(PathBuf, Option<Special>)> {
    let entry = match entry {
        Ok(entry) => entry,
        Err(error) => {
            return match walk_error(error, start, shown) {
                Problem::Dangling(path) => path
                    .strip_prefix(start)
                    .ok()
                    .filter(|relative| !relative.as_os_str().is_empty())
                    .map(|relative| (relative.to_path_buf(), None)),
                Problem::Error(error) => {
                    errors.push(error);
                    None
                }
                Problem::Nothing => None,
            };
        }
    };
    let file_type = entry.file_type()?;
    let special = if file_type.is_symlink() && !options.follow_links {
        // A link to a file is a file; a link to a directory is not followed;
        // a dangling link is kept so that the tool reports it.
        match std::fs::metadata(entry.path()) {
            Ok(target) if target.is_dir() => return None,
            Ok(target) => Special::of(&target.file_type()),
            Err(_) => None,
        }
    } else if file_type.is_dir() {
        return None;
    } else {
        Special::of(&file_type)
    };
    let relative = entry.path().strip_prefix(start).ok()?;
    if relative.as_os_str().is_empty() {
        // The start itself is a file: not something found below it.
        return None;
    }
    Some((relative.to_path_buf(), special))
}

/// What a walker error turns out to be.
enum Problem {
    /// A dangling symlink met while following links: a file, for the tool
    /// to report (as it is when links are not followed).
    Dangling(PathBuf),
    Error(WalkError),
    /// Nothing worth reporting (a file deleted during the walk, a broken
    /// ignore file).
    Nothing,
}

/// Converts a walker error into ours, with paths shown relative to the root.
fn walk_error(error: ignore::Error, start: &Path, shown: &Path) -> Problem {
    let show = |path: &Path| match path.strip_prefix(start) {
        Ok(relative) if relative.as_os_str().is_empty() => shown.to_path_buf(),
        Ok(relative) => below(shown, relative),
        Err(_) => path.to_path_buf(),
    };
    let mut path = None;
    let mut error = error;
    loop {
        match error {
            ignore::Error::WithPath { path: at, err } => {
                path.get_or_insert(at);
                error = *err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                error = *err;
            }
            ignore::Error::Loop { ancestor, child } => {
                return Problem::Error(WalkError::SymlinkLoop {
                    path: show(&child),
                    ancestor: show(&ancestor),
                });
            }
            ignore::Error::Io(io) => {
                let at = path.unwrap_or_else(|| start.to_path_buf());
                return match io.kind() {
                    std::io::ErrorKind::NotFound => {
                        let is_link = std::fs::symlink_metadata(&at)
                            .is_ok_and(|meta| meta.file_type().is_symlink());
                        if is_link {
                            Problem::Dangling(at)
                        } else {
                            Problem::Nothing
                        }
                    }
                    std::io::ErrorKind::PermissionDenied => {
                        Problem::Error(WalkError::PermissionDenied { path: show(&at) })
                    }
                    _ => Problem::Error(WalkError::Io {
                        path: show(&at),
                        detail: io.to_string(),
                    }),
                };
            }
            _ => return Problem::Nothing,
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
struct Pattern {
    matcher: GlobSet,
    /// The literal leading directories (`src` for `src/**/*.rs`), normalised.
    base: PathBuf,
    /// How deep below `base` a match can be; `None` with `**`.
    max_depth: Option<usize>,
    /// Which hidden names the pattern asks for; `None`: any.
    hidden_names: Option<Arc<GlobSet>>,
}

impl Pattern {
    fn new(text: &str) -> Result<Self, String> {
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

    /// Walks from the base; returns how many files matched.
    fn walk(&self, options: &WalkOptions, files: &mut Files, errors: &mut Vec<WalkError>) -> usize {
        let start = options.resolve(&self.base);
        if !start.is_dir() {
            return 0;
        }
        let hidden_names = if options.hidden {
            None
        } else {
            self.hidden_names.clone()
        };
        let walker = walker(&start, options, self.max_depth, move |entry| {
            if entry.depth() == 0 || !is_hidden(entry) {
                return true;
            }
            match &hidden_names {
                None => true,
                Some(names) => names.is_match(entry.file_name()),
            }
        });
        let mut found = 0;
        for entry in walker {
            let Some((relative, special)) = visit(entry, &start, &self.base, options, errors)
            else {
                continue;
            };
            let shown = below(&self.base, &relative);
            if self
                .matcher
                .is_match_candidate(&Candidate::new(shown.as_path()))
            {
                add_found(files, shown, special);
                found += 1;
            }
        }
        found
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

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Auto(text) => f.write_str(text),
            Target::Literal(path) => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A tree in a temp dir: `paths` ending in `/` are directories.
    fn tree(paths: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for path in paths {
            let full = dir.path().join(path);
            if path.ends_with('/') {
                fs::create_dir_all(&full).unwrap();
            } else {
                fs::create_dir_all(full.parent().unwrap()).unwrap();
                fs::write(&full, path).unwrap();
            }
        }
        dir
    }

    fn run(dir: &Path, patterns: &[&str], tweak: impl FnOnce(&mut WalkOptions)) -> Expansion {
        let mut options = WalkOptions::new(dir);
        tweak(&mut options);
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        expand(&patterns, &options).unwrap()
    }

    fn names(expansion: &Expansion) -> Vec<String> {
        expansion
            .files
            .iter()
            .map(|found| found.path.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn star_stays_in_one_component_and_double_star_goes_deep() {
        let dir = tree(&[
            "a.rs",
            "src/b.rs",
            "src/deep/c.rs",
            "src/deep/er/d.rs",
            "e.txt",
        ]);
        assert_eq!(names(&run(dir.path(), &["*.rs"], |_| {})), ["a.rs"]);
        assert_eq!(names(&run(dir.path(), &["src/*.rs"], |_| {})), ["src/b.rs"]);
        assert_eq!(
            names(&run(dir.path(), &["**/*.rs"], |_| {})),
            ["a.rs", "src/b.rs", "src/deep/c.rs", "src/deep/er/d.rs"]
        );
        assert_eq!(
            names(&run(dir.path(), &["src/**/*.rs"], |_| {})),
            ["src/b.rs", "src/deep/c.rs", "src/deep/er/d.rs"]
        );
        assert_eq!(
            names(&run(dir.path(), &["src/*/?.rs"], |_| {})),
            ["src/deep/c.rs"]
        );
        assert_eq!(
            names(&run(dir.path(), &["[ae].*"], |_| {})),
            ["a.rs", "e.txt"]
        );
    }

    #[test]
    fn braces_including_slashes_and_nesting() {
        let dir = tree(&[
            "a.rs",
            "b.toml",
            "c.md",
            "src/x.rs",
            "tests/y.rs",
            "docs/z.rs",
        ]);
        assert_eq!(
            names(&run(dir.path(), &["*.{rs,toml}"], |_| {})),
            ["a.rs", "b.toml"]
        );
        assert_eq!(
            names(&run(dir.path(), &["{src,tests}/*.rs"], |_| {})),
            ["src/x.rs", "tests/y.rs"]
        );
        assert_eq!(
            names(&run(
                dir.path(),
                &["{a.rs,src/x.rs,{c,b}.{md,toml}}"],
                |_| {}
            )),
            ["a.rs", "b.toml", "c.md", "src/x.rs"]
        );
    }

    #[test]
    fn matches_are_sorted_and_deduplicated_across_items() {
        let dir = tree(&["b/2.txt", "b/1.txt", "a-b.txt", "a/z.txt"]);
        let got = run(
            dir.path(),
            &["b/*.txt", "**/*.txt", "./b/1.txt", "b//2.txt"],
            |_| {},
        );
        // Component order: `a/z.txt` before `a-b.txt`.
        assert_eq!(names(&got), ["a/z.txt", "a-b.txt", "b/1.txt", "b/2.txt"]);
        assert!(got.unmatched.is_empty());
    }

    #[test]
    fn unmatched_patterns_are_listed_in_input_order() {
        let dir = tree(&["a.txt"]);
        let got = run(
            dir.path(),
            &["*.rs", "a.txt", "missing/**/*.txt", "*.txt"],
            |_| {},
        );
        assert_eq!(names(&got), ["a.txt"]);
        assert_eq!(got.unmatched, ["*.rs", "missing/**/*.txt"]);
    }

    #[test]
    fn literal_paths_pass_through_even_when_missing_or_hidden() {
        let dir = tree(&[".env", "sub/"]);
        let got = run(dir.path(), &[".env", "nope.txt", "sub", "./"], |_| {});
        assert_eq!(names(&got), [".", ".env", "nope.txt", "sub"]);
        assert!(got.unmatched.is_empty());
    }

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
    fn literal_targets_are_never_patterns() {
        let dir = tree(&["a1.txt"]);
        let options = WalkOptions::new(dir.path());
        let got = expand_targets(&[Target::Literal("a?.txt".into())], &options).unwrap();
        assert_eq!(names(&got), ["a?.txt"]);
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
    fn hidden_entries_only_when_asked_for() {
        let dir = tree(&[
            "a.yml",
            ".hidden.yml",
            ".github/workflows/ci.yml",
            ".github/workflows/.secret.yml",
            "src/.env",
            "src/x/.env",
            ".git/config",
        ]);
        assert_eq!(names(&run(dir.path(), &["**/*.yml"], |_| {})), ["a.yml"]);
        assert_eq!(names(&run(dir.path(), &["*"], |_| {})), ["a.yml"]);
        assert_eq!(
            names(&run(dir.path(), &[".*"], |_| {})),
            [".hidden.yml"],
            "a leading literal dot asks for hidden names"
        );
        assert_eq!(
            names(&run(dir.path(), &[".github/**/*.yml"], |_| {})),
            [".github/workflows/ci.yml"]
        );
        assert_eq!(
            names(&run(dir.path(), &["**/.env"], |_| {})),
            ["src/.env", "src/x/.env"]
        );
        assert_eq!(
            names(&run(dir.path(), &["{.github,src}/**/*.yml"], |_| {})),
            [".github/workflows/ci.yml"]
        );
        assert_eq!(
            names(&run(dir.path(), &["**/*.yml"], |o| o.hidden = true)),
            [
                ".github/workflows/.secret.yml",
                ".github/workflows/ci.yml",
                ".hidden.yml",
                "a.yml"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlink_cycles_never_loop() {
        let dir = tree(&["top/a.txt", "top/sub/b.txt"]);
        std::os::unix::fs::symlink("..", dir.path().join("top/sub/back")).unwrap();
        std::os::unix::fs::symlink("a.txt", dir.path().join("top/link.txt")).unwrap();
        std::os::unix::fs::symlink("gone.txt", dir.path().join("top/dangling.txt")).unwrap();

        // Not following: the linked directory is not entered; links to
        // files (even dangling ones) are files.
        let got = run(dir.path(), &["top/**/*.txt"], |_| {});
        assert_eq!(
            names(&got),
            [
                "top/a.txt",
                "top/dangling.txt",
                "top/link.txt",
                "top/sub/b.txt"
            ]
        );
        assert!(got.errors.is_empty(), "{:?}", got.errors);

        // Following: the cycle is found, reported and skipped.
        let got = run(dir.path(), &["top/**/*.txt"], |o| o.follow_links = true);
        assert_eq!(
            names(&got),
            [
                "top/a.txt",
                "top/dangling.txt",
                "top/link.txt",
                "top/sub/b.txt"
            ]
        );
        assert_eq!(got.errors.len(), 1, "{:?}", got.errors);
        let error = &got.errors[0];
        assert_eq!(crate::error::Failure::kind(error), "symlink_loop");
        assert_eq!(error.path(), Path::new("top/sub/back"));
        assert!(!error.loses_files());
        let json = serde_json::to_value(error).unwrap();
        assert_eq!(json["kind"], "symlink_loop");
        assert_eq!(json["path"], "top/sub/back");
    }

    #[test]
    fn directories_are_walked_only_when_asked() {
        let dir = tree(&[
            "src/a.py",
            "src/b.rs",
            "src/.hidden.py",
            "src/deep/c.py",
            "empty/",
        ]);
        let got = run(dir.path(), &["src", "empty"], |_| {});
        assert_eq!(names(&got), ["empty", "src"]);
        let got = run(dir.path(), &["src", "empty"], |o| o.walk_directories = true);
        assert_eq!(names(&got), ["src/a.py", "src/b.rs", "src/deep/c.py"]);
        assert_eq!(got.unmatched, ["empty"]);
        let got = run(dir.path(), &["src"], |o| {
            o.walk_directories = true;
            o.extensions = Some(vec!["py".into()]);
            o.hidden = true;
        });
        assert_eq!(names(&got), ["src/.hidden.py", "src/a.py", "src/deep/c.py"]);
        let got = run(dir.path(), &["."], |o| o.walk_directories = true);
        assert_eq!(names(&got), ["src/a.py", "src/b.rs", "src/deep/c.py"]);
    }

    #[test]
    fn gitignore_is_honoured_when_asked_even_outside_git() {
        let dir = tree(&[
            ".gitignore",
            "keep.py",
            "build/out.py",
            "gen.py",
            "sub/.gitignore",
            "sub/x.py",
            "sub/y.py",
        ]);
        fs::write(dir.path().join(".gitignore"), "build/\ngen.py\n").unwrap();
        fs::write(dir.path().join("sub/.gitignore"), "y.py\n").unwrap();
        let got = run(dir.path(), &["."], |o| {
            o.walk_directories = true;
            o.respect_gitignore = true;
        });
        assert_eq!(names(&got), ["keep.py", "sub/x.py"]);
        let got = run(dir.path(), &["**/*.py"], |o| o.respect_gitignore = true);
        assert_eq!(names(&got), ["keep.py", "sub/x.py"]);
        let got = run(dir.path(), &["**/*.py"], |_| {});
        assert_eq!(got.files.len(), 5);
    }

    #[test]
    fn absolute_patterns_show_absolute_paths() {
        let dir = tree(&["x/a.txt"]);
        let pattern = format!("{}/x/*.txt", dir.path().display());
        let got = run(Path::new("/nonexistent-root"), &[pattern.as_str()], |_| {});
        assert_eq!(names(&got), [dir.path().join("x/a.txt").to_string_lossy()]);
    }

    #[test]
    fn patterns_relative_to_root_and_parent_directories() {
        let dir = tree(&["one/a.txt", "two/b.txt"]);
        let got = run(
            &dir.path().join("one"),
            &["../two/*.txt", "./*.txt"],
            |_| {},
        );
        assert_eq!(names(&got), ["../two/b.txt", "a.txt"]);
        let options = WalkOptions::new(dir.path().join("one"));
        assert_eq!(
            options.resolve(Path::new("../two/b.txt")),
            dir.path().join("one/../two/b.txt")
        );
    }

    fn mkfifo(path: &Path) {
        let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
    }

    #[test]
    fn fifos_and_devices_are_found_marked_directories_are_not() {
        let dir = tree(&["a.txt", "sub/", "deep/b.txt"]);
        mkfifo(&dir.path().join("pipe.txt"));
        mkfifo(&dir.path().join("deep/pipe.py"));
        std::os::unix::fs::symlink("/dev/null", dir.path().join("null.txt")).unwrap();
        std::os::unix::fs::symlink("sub", dir.path().join("sub-link")).unwrap();
        let marks = |got: &Expansion| -> Vec<(String, Option<Special>)> {
            got.files
                .iter()
                .map(|found| (found.path.display().to_string(), found.special))
                .collect()
        };
        let got = run(dir.path(), &["*"], |_| {});
        assert_eq!(
            marks(&got),
            [
                ("a.txt".into(), None),
                ("null.txt".into(), Some(Special::CharDevice)),
                ("pipe.txt".into(), Some(Special::Fifo)),
            ]
        );
        assert!(got.unmatched.is_empty());
        // A pattern that matches only a FIFO matched something.
        let got = run(dir.path(), &["**/pipe.py"], |_| {});
        assert_eq!(marks(&got), [("deep/pipe.py".into(), Some(Special::Fifo))]);
        assert!(got.unmatched.is_empty());
        // Directory walks too, through the extension filter.
        let got = run(dir.path(), &["deep"], |o| {
            o.walk_directories = true;
            o.extensions = Some(vec!["py".into()]);
        });
        assert_eq!(marks(&got), [("deep/pipe.py".into(), Some(Special::Fifo))]);
        // Named as an item, it is the tool's to decide: not marked.
        let got = run(dir.path(), &["pipe.txt", "*.txt"], |_| {});
        assert_eq!(
            marks(&got),
            [
                ("a.txt".into(), None),
                ("null.txt".into(), Some(Special::CharDevice)),
                ("pipe.txt".into(), None),
            ]
        );
        assert_eq!(Special::Fifo.name(), "FIFO (named pipe)");
    }

    #[test]
    fn names_that_are_not_utf8_keep_their_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tree(&[]);
        for name in [&b"dup\xffa.txt"[..], b"dup\xfea.txt", b"plain.txt"] {
            fs::write(dir.path().join(std::ffi::OsStr::from_bytes(name)), "x").unwrap();
        }
        let got = run(dir.path(), &["dup*.txt"], |_| {});
        let shown: Vec<_> = got.files.iter().map(|f| f.path.to_string_lossy()).collect();
        assert_eq!(
            shown,
            ["dup\u{fffd}a.txt", "dup\u{fffd}a.txt"],
            "lossy alike"
        );
        let exact: Vec<_> = got.files.iter().map(|f| path_bytes(&f.path)).collect();
        assert_eq!(
            exact,
            [
                Some("ZHVw/mEudHh0".to_string()),
                Some("ZHVw/2EudHh0".to_string())
            ]
        );
        assert_eq!(path_bytes(Path::new("plain.txt")), None);
        let error = WalkError::PermissionDenied {
            path: PathBuf::from(std::ffi::OsStr::from_bytes(b"d\xff")),
        };
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["path"], "d\u{fffd}");
        assert_eq!(json["path_bytes"], "ZP8=");
        let plain = serde_json::to_value(WalkError::PermissionDenied { path: "d".into() }).unwrap();
        assert!(plain.get("path_bytes").is_none());
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
        assert_eq!(normalize(Path::new("./a//b/./c/")), Path::new("a/b/c"));
        assert_eq!(normalize(Path::new("./")), Path::new("."));
    }
}
