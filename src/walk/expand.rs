//! Walking: items to the files they name. Literal paths pass through,
//! directories and patterns are walked with the `ignore` crate's walker
//! (symlink loops found and reported, FIFOs and devices yielded marked
//! [`Special`]), and what the walker met goes into [`WalkError`]s.

use super::pattern::{Pattern, PatternError, is_pattern, names_existing};
use super::{Expansion, Found, Special, Target, WalkOptions, path_bytes};
use globset::Candidate;
use ignore::{DirEntry, WalkBuilder};
use serde::ser::SerializeStruct;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

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
                    walk_pattern(&pattern, options, &mut files, &mut errors)
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
            .map(|(path, seen)| Found {
                path,
                special: match seen {
                    Seen::Literal => None,
                    Seen::Walked(special) => special,
                },
                walked: seen != Seen::Literal,
            })
            .collect(),
        unmatched,
        errors,
    })
}

/// The names found so far, sorted, each with what a walk saw it was.
type Files = BTreeMap<PathBuf, Seen>;

/// How a name was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Named by a literal item: nothing is known of it.
    Literal,
    /// Met by a walk: a regular file, or what it is.
    Walked(Option<Special>),
}

/// Adds a name a walk found; a literal item naming it too has the last word.
fn add_found(files: &mut Files, path: PathBuf, special: Option<Special>) {
    files.entry(path).or_insert(Seen::Walked(special));
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
    files.insert(shown, Seen::Literal);
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

/// Walks from a pattern's base; returns how many files matched.
fn walk_pattern(
    pattern: &Pattern,
    options: &WalkOptions,
    files: &mut Files,
    errors: &mut Vec<WalkError>,
) -> usize {
    let start = options.resolve(&pattern.base);
    if !start.is_dir() {
        return 0;
    }
    let hidden_names = if options.hidden {
        None
    } else {
        pattern.hidden_names.clone()
    };
    let walker = walker(&start, options, pattern.max_depth, move |entry| {
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
        let Some((relative, special)) = visit(entry, &start, &pattern.base, options, errors) else {
            continue;
        };
        let shown = below(&pattern.base, &relative);
        if pattern
            .matcher
            .is_match_candidate(&Candidate::new(shown.as_path()))
        {
            add_found(files, shown, special);
            found += 1;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::testing::{names, run, tree};
    use std::fs;

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
    fn literal_targets_are_never_patterns() {
        let dir = tree(&["a1.txt"]);
        let options = WalkOptions::new(dir.path());
        let got = expand_targets(&[Target::Literal("a?.txt".into())], &options).unwrap();
        assert_eq!(names(&got), ["a?.txt"]);
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
    fn normalize_drops_dot_components_and_extra_slashes() {
        assert_eq!(normalize(Path::new("./a//b/./c/")), Path::new("a/b/c"));
        assert_eq!(normalize(Path::new("./")), Path::new("."));
    }
}
