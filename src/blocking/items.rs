//! From the items given (paths, directories, glob patterns) to the files
//! scanned, one result each, in a stable order.

use super::error::ScanError;
use super::rules::Language;
use std::path::{Path, PathBuf};

/// One file to scan, or an item that could not become one.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub path: PathBuf,
    /// The path as printed.
    pub shown: String,
    pub language: Option<Language>,
    /// Set when there is nothing to scan (missing path, empty glob, ...).
    pub problem: Option<ScanError>,
}

impl FileSpec {
    fn file(path: PathBuf) -> FileSpec {
        let shown = path.display().to_string();
        let language = Language::of_path(&path);
        FileSpec {
            path,
            shown,
            language,
            problem: None,
        }
    }

    fn problem(item: &str, problem: ScanError) -> FileSpec {
        FileSpec {
            path: PathBuf::from(item),
            shown: item.to_string(),
            language: None,
            problem: Some(problem),
        }
    }
}

/// How directories are walked.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    pub hidden: bool,
    pub gitignore: bool,
}

/// The files one item stands for, appended to `out`.
pub fn expand(item: &str, options: WalkOptions, out: &mut Vec<FileSpec>) {
    let path = Path::new(item);
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            let before = out.len();
            walk_directory(path, options, out);
            out[before..].sort_by(|a, b| a.path.cmp(&b.path));
        }
        Ok(_) => {
            let spec = FileSpec::file(path.to_path_buf());
            if spec.language.is_none() {
                out.push(FileSpec::problem(
                    item,
                    ScanError::Unsupported(item.to_string()),
                ));
            } else {
                out.push(spec);
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if is_glob(item) {
                out.push(FileSpec::problem(
                    item,
                    ScanError::NoMatch(item.to_string()),
                ));
            } else {
                out.push(FileSpec::problem(
                    item,
                    ScanError::NotFound(item.to_string()),
                ));
            }
        }
        Err(error) => out.push(FileSpec::problem(
            item,
            ScanError::Io {
                path: item.to_string(),
                detail: error.to_string(),
            },
        )),
    }
}

fn is_glob(item: &str) -> bool {
    item.contains(['*', '?', '[', '{'])
}

/// Stand-in walker until the shared `walk` module lands: Python and Rust
/// files under `root`, hidden entries skipped unless asked for, symlinks
/// not followed. (No .gitignore and no globs here.)
fn walk_directory(root: &Path, options: WalkOptions, out: &mut Vec<FileSpec>) {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => {
                let shown = dir.display().to_string();
                out.push(FileSpec::problem(
                    &shown,
                    ScanError::Io {
                        path: shown.clone(),
                        detail: error.to_string(),
                    },
                ));
                continue;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !options.hidden && name.to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && Language::of_path(&path).is_some() {
                out.push(FileSpec::file(path));
            }
        }
    }
}
