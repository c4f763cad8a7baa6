//! Reading one file on a blocking thread: one pass through a fixed-size,
//! reused buffer that feeds the counter, the optional digest and the
//! optional text capture. Memory stays flat whatever the file size.
//!
//! Blocking reads on a thread beat `tokio::fs` here: `tokio::fs` hands each
//! small read to the blocking pool anyway, one round trip per call, while
//! one blocking task per file makes one trip per file.
//!
//! What is read: regular files, and FIFOs or pipes (`<(command)`), which
//! can block, so `--timeout` bounds them. Sockets and devices are refused
//! (`not_regular`): `/dev/zero` would never end and a terminal would wait
//! for a person. The caller sets `cancel` when it gives up on the file
//! (timeout, `--deadline`, `--fail-fast`, a signal), and the loop stops at
//! the next buffer.

use super::content::{Capture, Captured, Selection};
use super::count::{Counter, TextCounts, split_offset};
use super::error::FileError;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes read per system call. Large enough that a 1 GB file costs 4,000
/// reads; small enough to stay in the L2 cache while it is counted.
pub(crate) const READ_BUFFER: usize = 256 * 1024;

/// A regular file at least this large, when only its counts are wanted, is
/// counted in parts on several threads (one per core): copying out of the
/// page cache costs as much as counting, and both split evenly.
pub(crate) const PARALLEL_MIN: u64 = 64 << 20;

/// What to compute besides the counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadPlan {
    pub(crate) selection: Option<Selection>,
    /// `--max-content`.
    pub(crate) max_content: usize,
    pub(crate) sha256: bool,
    pub(crate) buffer_size: usize,
}

/// Everything learnt about one file.
#[derive(Debug, Clone)]
pub(crate) struct FileFacts {
    pub(crate) counts: TextCounts,
    /// Lowercase hex SHA-256 of the whole file.
    pub(crate) sha256: Option<String>,
    pub(crate) captured: Option<Captured>,
}

thread_local! {
    /// One buffer per blocking thread, reused from file to file: no
    /// allocation (or page faults on fresh memory) per small file.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads the file at `path` to its end (or until `cancel` is set, which
/// returns an `io` error nobody will see: the caller has moved on).
pub(crate) fn read_file(
    path: &Path,
    plan: &ReadPlan,
    cancel: &AtomicBool,
) -> Result<FileFacts, FileError> {
    let metadata = std::fs::metadata(path).map_err(|error| {
        let dangling = error.kind() == io::ErrorKind::NotFound
            && std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink());
        if dangling {
            FileError::DanglingSymlink
        } else {
            FileError::from_io(&error)
        }
    })?;
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        return Err(FileError::IsDirectory);
    }
    if let Some(what) = refused_type(&file_type) {
        return Err(FileError::NotRegular(what));
    }
    let mut file = File::open(path).map_err(|error| FileError::from_io(&error))?;
    let mut expected_size = None;
    if file_type.is_file() {
        expected_size = Some(metadata.len());
        if metadata.len() > READ_BUFFER as u64 {
            advise_sequential(&file);
        }
        let counts_only = plan.selection.is_none() && !plan.sha256;
        if counts_only && metadata.len() >= PARALLEL_MIN && cores() > 1 {
            return count_in_parts(&file, metadata.len(), cores().min(8), plan, cancel);
        }
    }
    BUFFER.with_borrow_mut(|buffer| {
        if buffer.len() != plan.buffer_size.max(1) {
            *buffer = vec![0; plan.buffer_size.max(1)];
        }
        stream(&mut file, buffer, plan, expected_size, cancel)
    })
}

/// The cores this process may use, asked once (the answer reads cgroup
/// files, too slow to repeat per file).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Counts a large file in `parts` ranges at once, each on its own thread,
/// split where the counts join exactly (see [`split_offset`]). The last
/// range runs to the end of the file, wherever that is by then.
fn count_in_parts(
    file: &File,
    size: u64,
    parts: usize,
    plan: &ReadPlan,
    cancel: &AtomicBool,
) -> Result<FileFacts, FileError> {
    let mut starts = vec![0u64];
    for part in 1..parts as u64 {
        let nominal = size / parts as u64 * part;
        let mut window = [0u8; 8];
        let read = file
            .read_at(&mut window, nominal)
            .map_err(|error| FileError::from_io(&error))?;
        let start = nominal + split_offset(&window[..read]) as u64;
        if start > *starts.last().unwrap_or(&0) {
            starts.push(start);
        }
    }
    let ranges: Vec<(u64, Option<u64>)> = starts
        .iter()
        .enumerate()
        .map(|(at, &start)| (start, starts.get(at + 1).copied()))
        .collect();
    let buffer_size = plan.buffer_size.max(1);
    let results: Vec<Result<TextCounts, FileError>> = std::thread::scope(|scope| {
        // A thread that cannot be started (a full process table) leaves its
        // range to this one: slower, never a panic (`scope.spawn` panics).
        let workers: Vec<_> = ranges[1..]
            .iter()
            .map(|&(start, end)| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, move || {
                        let mut buffer = vec![0; buffer_size];
                        count_range(file, start, end, &mut buffer, cancel)
                    })
                    .map_err(|_| (start, end))
            })
            .collect();
        let here = |(start, end): (u64, Option<u64>)| {
            BUFFER.with_borrow_mut(|buffer| {
                if buffer.len() != buffer_size {
                    *buffer = vec![0; buffer_size];
                }
                count_range(file, start, end, buffer, cancel)
            })
        };
        let first = here(ranges[0]);
        std::iter::once(first)
            .chain(workers.into_iter().map(|worker| {
                match worker {
                    Ok(worker) => worker
                        .join()
                        .unwrap_or_else(|_| Err(FileError::Io("a counting thread failed".into()))),
                    Err(range) => here(range),
                }
            }))
            .collect()
    });
    let mut total: Option<TextCounts> = None;
    for counts in results {
        let counts = counts?;
        total = Some(match total {
            None => counts,
            Some(before) => before.then(counts),
        });
    }
    Ok(FileFacts {
        counts: total.unwrap_or_default(),
        sha256: None,
        captured: None,
    })
}

/// Counts the bytes from `start` to `end` (or to the end of the file).
fn count_range(
    file: &File,
    start: u64,
    end: Option<u64>,
    buffer: &mut [u8],
    cancel: &AtomicBool,
) -> Result<TextCounts, FileError> {
    let mut counter = Counter::new();
    let mut offset = start;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(FileError::Io("reading was abandoned".to_string()));
        }
        let want = match end {
            Some(end) => usize::try_from(end.saturating_sub(offset))
                .unwrap_or(usize::MAX)
                .min(buffer.len()),
            None => buffer.len(),
        };
        if want == 0 {
            break;
        }
        let read = match file.read_at(&mut buffer[..want], offset) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(FileError::from_io(&error)),
        };
        counter.feed(&buffer[..read]);
        offset += read as u64;
    }
    Ok(counter.finish())
}

/// The kinds of file that are never read.
fn refused_type(file_type: &std::fs::FileType) -> Option<&'static str> {
    if file_type.is_socket() {
        Some("socket")
    } else if file_type.is_char_device() {
        Some("character device")
    } else if file_type.is_block_device() {
        Some("block device")
    } else {
        None
    }
}

/// Tells the kernel to read ahead generously: the file is read once, in order.
fn advise_sequential(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: posix_fadvise only reads its integer arguments; the
    // descriptor is valid for the call, and failure changes nothing.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    }
}

/// The read loop: every byte goes through the counter, the digest and the
/// capture exactly once. With the `expected_size` of a regular file, a
/// short read that reaches it ends the loop without one more `read` to see
/// the end (a small file costs one read, not two).
pub(crate) fn stream(
    reader: &mut impl Read,
    buffer: &mut [u8],
    plan: &ReadPlan,
    expected_size: Option<u64>,
    cancel: &AtomicBool,
) -> Result<FileFacts, FileError> {
    let mut total = 0u64;
    let mut counter = Counter::new();
    let mut digest = plan.sha256.then(Sha256::new);
    let mut capture = plan
        .selection
        .map(|selection| Capture::new(selection, plan.max_content));
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(FileError::Io("reading was abandoned".to_string()));
        }
        let read = match reader.read(buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(FileError::from_io(&error)),
        };
        let chunk = &buffer[..read];
        counter.feed(chunk);
        if let Some(digest) = digest.as_mut() {
            digest.update(chunk);
        }
        if let Some(capture) = capture.as_mut() {
            capture.feed(chunk);
        }
        total += read as u64;
        if read < buffer.len() && expected_size == Some(total) {
            break;
        }
    }
    Ok(FileFacts {
        counts: counter.finish(),
        sha256: digest.map(|digest| hex(&digest.finalize())),
        captured: capture.map(Capture::finish),
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xF)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> ReadPlan {
        ReadPlan {
            selection: Some(Selection::All),
            max_content: 1024,
            sha256: true,
            buffer_size: 3,
        }
    }

    #[test]
    fn one_pass_gives_counts_digest_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "abc\n").unwrap();
        let facts = read_file(&path, &plan(), &AtomicBool::new(false)).unwrap();
        assert_eq!(facts.counts.bytes, 4);
        assert_eq!(facts.counts.lines, 1);
        assert_eq!(
            facts.sha256.as_deref(),
            Some("edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb")
        );
        assert_eq!(facts.captured.unwrap().bytes, b"abc\n");
    }

    #[test]
    fn errors_are_classified() {
        let dir = tempfile::tempdir().unwrap();
        let never = AtomicBool::new(false);
        let missing = read_file(&dir.path().join("nope"), &plan(), &never).unwrap_err();
        assert_eq!(missing, FileError::NotFound);
        let is_dir = read_file(dir.path(), &plan(), &never).unwrap_err();
        assert_eq!(is_dir, FileError::IsDirectory);
        std::os::unix::fs::symlink("nowhere", dir.path().join("link")).unwrap();
        let dangling = read_file(&dir.path().join("link"), &plan(), &never).unwrap_err();
        assert_eq!(dangling, FileError::DanglingSymlink);
        let device = read_file(Path::new("/dev/null"), &plan(), &never).unwrap_err();
        assert_eq!(device, FileError::NotRegular("character device"));
    }

    #[test]
    fn counting_in_parts_equals_counting_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mixed.bin");
        let mut rng = fastrand::Rng::with_seed(3);
        let pieces: &[&[u8]] = &[
            b"text ",
            b"\n",
            "\u{e9}\u{20ac}\u{1f600}".as_bytes(),
            b"\x80\x80",
            b"\xf0\x9f",
        ];
        let mut data = Vec::new();
        while data.len() < 200_000 {
            data.extend_from_slice(pieces[rng.usize(..pieces.len())]);
        }
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let plan = ReadPlan {
            selection: None,
            max_content: 0,
            sha256: false,
            buffer_size: 4096,
        };
        let never = AtomicBool::new(false);
        let whole = super::super::count::count_bytes(&data, 4096);
        for parts in [2, 3, 7] {
            let facts = count_in_parts(&file, data.len() as u64, parts, &plan, &never).unwrap();
            assert_eq!(facts.counts, whole, "{parts} parts");
        }
    }

    #[test]
    fn a_cancelled_read_stops() {
        let cancel = AtomicBool::new(true);
        let mut endless = io::repeat(b'x');
        let mut buffer = [0u8; 16];
        assert!(stream(&mut endless, &mut buffer, &plan(), None, &cancel).is_err());
    }
}
