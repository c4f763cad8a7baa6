//! From the items given (paths, directories, glob patterns) to the files
//! scanned, one result each, through the shared [`crate::walk`] module.
//!
//! Order: items in input order, each item's files sorted; a file reached by
//! two items is scanned once. A directory is walked for `.py`, `.pyi` and
//! `.rs` files (hidden and `.gitignore`d entries skipped unless asked); a
//! pattern keeps only the Python and Rust files it matches; a file named
//! literally is scanned whatever its name, or reported `unsupported`. A
//! FIFO, socket or device that a pattern or a walk keeps is listed as
//! `not_regular`, never opened.

use super::error::ScanError;
use super::rules::Language;
use crate::walk::{self, Special, WalkOptions};
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// The extensions a walked directory is searched for.
const EXTENSIONS: &[&str] = &["py", "pyi", "rs"];

/// One file to scan, or an item that could not become one.
#[derive(Debug, Clone)]
pub(crate) struct FileSpec {
    /// The path to open.
    pub(crate) path: PathBuf,
    /// The path as printed (as the user wrote it; lossy when not UTF-8).
    pub(crate) shown: String,
    /// The exact bytes of a path that is not UTF-8, base64.
    pub(crate) path_bytes: Option<String>,
    pub(crate) language: Option<Language>,
    /// Set when there is nothing to scan (missing path, empty glob, ...).
    pub(crate) problem: Option<ScanError>,
    /// A walk met it as a regular file: it is opened without asking the
    /// file system what it is first (a literal path is asked).
    pub(crate) walked: bool,
}

impl FileSpec {
    fn file(path: PathBuf, shown: &Path) -> FileSpec {
        FileSpec {
            language: Language::of_path(shown),
            path,
            shown: shown.display().to_string(),
            path_bytes: walk::path_bytes(shown),
            problem: None,
            walked: false,
        }
    }

    fn problem(shown: String, problem: ScanError) -> FileSpec {
        FileSpec {
            path: PathBuf::from(&shown),
            shown,
            path_bytes: None,
            language: None,
            problem: Some(problem),
            walked: false,
        }
    }

    /// A problem about a path found on the disk (its name may not be UTF-8).
    fn problem_at(shown: &Path, problem: ScanError) -> FileSpec {
        FileSpec {
            path_bytes: walk::path_bytes(shown),
            ..FileSpec::problem(shown.display().to_string(), problem)
        }
    }

    /// A FIFO, socket or device a pattern or walk kept: listed, not opened.
    fn special(spec: FileSpec, special: Special) -> FileSpec {
        let problem = ScanError::NotRegular {
            path: spec.shown.clone(),
            what: special.name(),
        };
        FileSpec {
            problem: Some(problem),
            ..spec
        }
    }
}

/// How items are expanded: the shared walker's options for this tool.
pub(crate) fn walk_options(hidden: bool, respect_gitignore: bool) -> WalkOptions {
    WalkOptions {
        hidden,
        respect_gitignore,
        extensions: Some(EXTENSIONS.iter().map(|ext| ext.to_string()).collect()),
        walk_directories: true,
        ..WalkOptions::new(".")
    }
}

/// Checks one item before anything runs (a glob pattern must compile).
pub(crate) fn check_item(item: &str, options: &WalkOptions) -> Result<(), String> {
    walk::check_target(&walk::Target::Auto(item.to_string()), options)
}

/// The files the items stand for. Blocking (it walks directories): several
/// items are walked at once, one a core, and taken in input order.
pub(crate) fn expand(items: &[String], options: &WalkOptions) -> Vec<FileSpec> {
    let mut out = Vec::new();
    // By the path's bytes: the walk spells every path one way (normalized),
    // and `Path`'s own hash, component by component, was a tenth of this
    // loop's time over 20,000 files.
    let mut seen: HashSet<OsString> = HashSet::new();
    for (item, expansion) in items.iter().zip(walk_each(items, options)) {
        // The walker's own test, so both agree (a dangling symlink is a literal).
        let is_pattern = walk::is_pattern(item) && !walk::names_existing(item, options);
        let expansion = match expansion {
            Ok(expansion) => expansion,
            Err(error) => {
                // Checked before the run; only a race with the file system gets here.
                out.push(FileSpec::problem(
                    item.to_string(),
                    ScanError::NoMatch(format!("{item} ({})", error.reason)),
                ));
                continue;
            }
        };
        let mut matched = 0;
        for found in expansion.files {
            let path = options.resolve(&found.path);
            let spec = FileSpec::file(path, &found.path);
            if is_pattern && spec.language.is_none() {
                continue;
            }
            matched += 1;
            if !seen.insert(spec.path.clone().into_os_string()) {
                continue;
            }
            out.push(match found.special {
                Some(special) => FileSpec::special(spec, special),
                // A walk saw it there, a regular file (a stat each would
                // cost a tenth of a run's walk over 20,000 files).
                None if found.walked => FileSpec {
                    walked: true,
                    ..spec
                },
                None => literal_problem(spec),
            });
        }
        for error in expansion.errors {
            if error.loses_files() {
                matched += 1;
                let shown = error.path().to_path_buf();
                out.push(FileSpec::problem_at(&shown, ScanError::Walk(error)));
            }
        }
        if matched == 0 {
            out.push(FileSpec::problem(
                item.clone(),
                ScanError::NoMatch(item.to_string()),
            ));
        }
    }
    out
}

/// Each item's own walk, in input order; with several items, on up to one
/// thread a core (a run over many projects walked them one by one, a tenth
/// of its time with the cores idle).
fn walk_each(
    items: &[String],
    options: &WalkOptions,
) -> Vec<Result<walk::Expansion, walk::PatternError>> {
    let walk_one = |item: &String| walk::expand(std::slice::from_ref(item), options);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.iter().map(walk_one).collect();
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<_>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(at) else {
                        break;
                    };
                    let expansion = walk_one(item);
                    // Poisoned only if another walk panicked: that panic is
                    // the scope's to report, the slots stay whole.
                    let mut done = done.lock().unwrap_or_else(PoisonError::into_inner);
                    done[at] = Some(expansion);
                }
            });
        }
    });
    let done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    // Every slot was filled: a walk that panicked took the scope with it.
    done.into_iter().flatten().collect()
}

/// A literal path that is missing, or not Python or Rust, is reported as such.
fn literal_problem(spec: FileSpec) -> FileSpec {
    let problem = if std::fs::metadata(&spec.path).is_err()
        && std::fs::symlink_metadata(&spec.path).is_err()
    {
        ScanError::NotFound(spec.shown.clone())
    } else if spec.language.is_none() {
        ScanError::Unsupported(spec.shown.clone())
    } else {
        return spec;
    };
    FileSpec {
        path: PathBuf::from(&spec.shown),
        language: None,
        problem: Some(problem),
        ..spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(specs: &[FileSpec]) -> Vec<(String, Option<&'static str>)> {
        use crate::error::Failure;
        specs
            .iter()
            .map(|spec| {
                (
                    spec.shown.clone(),
                    spec.problem.as_ref().map(|problem| problem.kind()),
                )
            })
            .collect()
    }

    #[test]
    fn directories_patterns_and_literals() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::create_dir_all(root.join("build")).unwrap();
        for file in [
            "src/a.py",
            "src/deep/b.rs",
            "src/notes.md",
            "build/gen.py",
            "x.txt",
        ] {
            std::fs::write(root.join(file), "").unwrap();
        }
        std::fs::write(root.join(".gitignore"), "build/\n").unwrap();
        let options = WalkOptions {
            root: root.to_path_buf(),
            ..walk_options(false, true)
        };
        let items: Vec<String> = ["src", "src/**/*", "x.txt", "missing.py", "none/*.py", "."]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let specs = expand(&items, &options);
        assert_eq!(
            shown(&specs),
            [
                ("src/a.py".to_string(), None),
                ("src/deep/b.rs".to_string(), None),
                // `src/**/*` adds nothing new (and drops notes.md).
                ("x.txt".to_string(), Some("unsupported")),
                ("missing.py".to_string(), Some("not_found")),
                ("none/*.py".to_string(), Some("no_match")),
                // `.` adds nothing new either: build/ is .gitignore'd.
            ]
        );
        assert!(check_item("src/[", &options).is_err());
        assert!(check_item("src/{a,b}.py", &options).is_ok());
    }

    #[test]
    fn many_items_walked_at_once_come_out_in_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Later items walk small trees and finish first: their files must
        // still come after the earlier items' ones.
        let mut items = Vec::new();
        for project in 0..24 {
            let files = if project % 2 == 0 { 40 } else { 1 };
            for file in 0..files {
                let path = root.join(format!("p{project:02}/sub/f{file:02}.py"));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, "").unwrap();
            }
            items.push(format!("p{project:02}/**/*.py"));
        }
        // A repeat is listed once, where first named.
        items.push("p03/**/*.py".to_string());
        let options = WalkOptions {
            root: root.to_path_buf(),
            ..walk_options(false, true)
        };
        let one_by_one: Vec<_> = items
            .iter()
            .flat_map(|item| shown(&expand(std::slice::from_ref(item), &options)))
            .collect();
        let at_once = shown(&expand(&items, &options));
        assert_eq!(at_once.len(), 12 * 40 + 12);
        assert_eq!(at_once, one_by_one[..at_once.len()]);
        assert_eq!(at_once[0].0, "p00/sub/f00.py");
        assert_eq!(at_once.last().unwrap().0, "p23/sub/f00.py");
    }

    #[test]
    fn a_dangling_symlink_named_like_a_pattern_is_a_literal_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink("gone.txt", root.join("notes[1].txt")).unwrap();
        let options = WalkOptions {
            root: root.to_path_buf(),
            ..walk_options(false, true)
        };
        let item = "notes[1].txt".to_string();
        // The walker takes it as a literal path...
        let walked = walk::expand(std::slice::from_ref(&item), &options).unwrap();
        assert_eq!(walked.files[0].path, PathBuf::from("notes[1].txt"));
        assert_eq!(walked.files.len(), 1);
        // ...and so does this tool: a file named literally, not an empty glob.
        assert_eq!(
            shown(&expand(&[item], &options)),
            [("notes[1].txt".to_string(), Some("unsupported"))]
        );
    }
}
