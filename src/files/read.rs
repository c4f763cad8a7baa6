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
use super::count::{Counter, TextCounts};
use super::error::FileError;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes read per system call. Large enough that a 1 GB file costs 4,000
/// reads; small enough to stay in the L2 cache while it is counted.
pub const READ_BUFFER: usize = 256 * 1024;

/// What to compute besides the counts.
#[derive(Debug, Clone, Copy)]
pub struct ReadPlan {
    pub selection: Option<Selection>,
    /// `--max-content`.
    pub max_content: usize,
    pub sha256: bool,
    pub buffer_size: usize,
}

/// Everything learnt about one file.
#[derive(Debug, Clone)]
pub struct FileFacts {
    pub counts: TextCounts,
    /// Lowercase hex SHA-256 of the whole file.
    pub sha256: Option<String>,
    pub captured: Option<Captured>,
}

thread_local! {
    /// One buffer per blocking thread, reused from file to file: no
    /// allocation (or page faults on fresh memory) per small file.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads the file at `path` to its end (or until `cancel` is set, which
/// returns an `io` error nobody will see: the caller has moved on).
pub fn read_file(
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
    if file_type.is_file() {
        advise_sequential(&file);
    }
    BUFFER.with_borrow_mut(|buffer| {
        if buffer.len() != plan.buffer_size.max(1) {
            *buffer = vec![0; plan.buffer_size.max(1)];
        }
        stream(&mut file, buffer, plan, cancel)
    })
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
/// capture exactly once.
pub fn stream(
    reader: &mut impl Read,
    buffer: &mut [u8],
    plan: &ReadPlan,
    cancel: &AtomicBool,
) -> Result<FileFacts, FileError> {
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
    fn a_cancelled_read_stops() {
        let cancel = AtomicBool::new(true);
        let mut endless = io::repeat(b'x');
        let mut buffer = [0u8; 16];
        assert!(stream(&mut endless, &mut buffer, &plan(), &cancel).is_err());
    }
}
