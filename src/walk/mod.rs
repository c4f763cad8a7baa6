//! Turning items (paths, directories, glob patterns) into a sorted,
//! de-duplicated list of files, without ever looping on a symlink cycle.
//!
//! Shared by every tool that works on files. The seed used Python's `glob`,
//! which has no `{a,b}` and follows symlinked directories into cycles; here
//! patterns are compiled by `globset` (with `*` kept inside one path
//! component) and directories are walked by the `ignore` crate's walker,
//! which detects loops when it follows links and can honour `.gitignore`.
//!
//! Two halves: [`pattern`] reads pattern strings (is an item a pattern,
//! the caps, its literal prefix and matcher) and does not walk;
//! [`expand`](mod@expand) walks (literal items, directories, patterns,
//! symlink loops, special files, walk errors). This file holds the types
//! they share.
//!
//! Rules (the same for every tool):
//! - An item without glob metacharacters (`* ? [ ] { } \`) is a literal path,
//!   taken as is, hidden or not, existing or not (the tool reports
//!   `not_found` itself). So is an item that names an existing file even
//!   though it contains metacharacters (`report[1].txt`). A literal
//!   directory is walked only with [`WalkOptions::walk_directories`].
//! - Patterns support `*`, `?`, `[...]`, `**` (any depth) and `{a,b}`; `*`
//!   does not cross `/`. A pattern is relative to [`WalkOptions::root`].
//! - A pattern is at most [`MAX_PATTERN_BYTES`](pattern::MAX_PATTERN_BYTES)
//!   long, with `{...}` nested at most
//!   [`MAX_BRACE_DEPTH`](pattern::MAX_BRACE_DEPTH) deep; a longer or deeper
//!   one is bad input, as is one the compiler refuses. Compiling is
//!   fallible all the way (`GlobSet`, never `Glob::compile_matcher`, which
//!   panics when the regex cannot be built), and the caps keep both the
//!   compile and every match cheap (16,384 `*` take 0.1 s to compile and
//!   9 µs to match each path).
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

mod expand;
mod pattern;

pub(crate) use expand::{WalkError, expand, expand_targets};
pub(crate) use pattern::{PatternError, check_target, is_pattern, names_existing};

use std::fmt;
use std::fs::FileType;
use std::path::{Path, PathBuf};

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

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Auto(text) => f.write_str(text),
            Target::Literal(path) => write!(f, "{}", path.display()),
        }
    }
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
    /// Met by a pattern or a directory walk, which saw what it is (a
    /// regular file, unless `special`), rather than named literally: a tool
    /// need not ask the file system again before opening it.
    pub(crate) walked: bool,
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

#[cfg(test)]
mod testing {
    //! Temp trees and expansions for the unit tests of both halves.

    use super::{Expansion, WalkOptions, expand};
    use std::fs;
    use std::path::Path;

    /// A tree in a temp dir: `paths` ending in `/` are directories.
    pub(super) fn tree(paths: &[&str]) -> tempfile::TempDir {
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

    pub(super) fn run(
        dir: &Path,
        patterns: &[&str],
        tweak: impl FnOnce(&mut WalkOptions),
    ) -> Expansion {
        let mut options = WalkOptions::new(dir);
        tweak(&mut options);
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        expand(&patterns, &options).unwrap()
    }

    pub(super) fn names(expansion: &Expansion) -> Vec<String> {
        expansion
            .files
            .iter()
            .map(|found| found.path.to_string_lossy().into_owned())
            .collect()
    }
}
