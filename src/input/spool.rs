//! Opening `--input` for the checking pass, and keeping what the running
//! pass will read again.
//!
//! A regular file is reopened for the running pass. Stdin, a pipe or a
//! process substitution can be read only once, so the checking pass copies
//! what it reads into a private temporary file (a tee), and the running
//! pass reads that copy.

use crate::error::InputError;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where `--input` items come from in the running pass.
#[derive(Debug)]
pub(super) enum Source {
    Path(PathBuf),
    /// A private copy made during the checking pass, rewound.
    Spooled(File),
}

impl Source {
    /// Opens the items for the running pass.
    pub(super) fn reader(self) -> Result<Box<dyn BufRead + Send>, InputError> {
        match self {
            Source::Path(path) => match File::open(&path) {
                Ok(file) => Ok(Box::new(BufReader::with_capacity(64 * 1024, file))),
                Err(error) => Err(InputError::new(format!(
                    "cannot reopen {}: {error}",
                    path.display()
                ))),
            },
            Source::Spooled(file) => Ok(Box::new(BufReader::with_capacity(64 * 1024, file))),
        }
    }
}

/// What the checking pass leaves for the running pass: call
/// [`Pending::finish`] once the checking reader is dropped.
pub(super) enum Pending {
    Path(PathBuf),
    Spool(SpoolHandle),
}

impl Pending {
    pub(super) fn finish(self) -> Result<Source, InputError> {
        match self {
            Pending::Path(path) => Ok(Source::Path(path)),
            Pending::Spool(spool) => spool.finish().map(Source::Spooled),
        }
    }
}

/// Shares the spool file between the tee reader (pass 1) and its owner.
#[derive(Clone)]
pub(super) struct SpoolHandle(Arc<Mutex<Option<File>>>);

impl SpoolHandle {
    fn finish(self) -> Result<File, InputError> {
        let mut guard = self
            .0
            .lock()
            .map_err(|_| InputError::new("input spool poisoned"))?;
        let mut file = guard
            .take()
            .ok_or_else(|| InputError::new("input spool already taken"))?;
        file.flush()
            .and_then(|_| file.rewind())
            .map_err(|error| InputError::new(format!("cannot rewind the input spool: {error}")))?;
        Ok(file)
    }
}

/// Copies everything read through it into the spool file.
struct TeeReader<R> {
    inner: R,
    spool: SpoolHandle,
}

impl<R: Read> Read for TeeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        let mut guard = self
            .spool
            .0
            .lock()
            .map_err(|_| io::Error::other("input spool poisoned"))?;
        if let Some(file) = guard.as_mut() {
            file.write_all(&buf[..read])?;
        }
        Ok(read)
    }
}

/// Opens `--input` (`-` is stdin) for the checking pass.
pub(super) fn open(path: &Path) -> Result<(Box<dyn BufRead + Send>, Pending), InputError> {
    let field = "--input";
    let reader: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        let file = File::open(path).map_err(|error| {
            InputError::new(format!("cannot open {}: {error}", path.display())).with_field(field)
        })?;
        let metadata = file.metadata().map_err(|error| {
            InputError::new(format!("cannot stat {}: {error}", path.display())).with_field(field)
        })?;
        if metadata.is_dir() {
            return Err(
                InputError::new(format!("{} is a directory", path.display())).with_field(field),
            );
        }
        if metadata.is_file() {
            return Ok((
                Box::new(BufReader::with_capacity(64 * 1024, file)),
                Pending::Path(path.to_path_buf()),
            ));
        }
        // A pipe or process substitution: readable once, so spool it.
        Box::new(file)
    };
    let spool_file = tempfile::tempfile().map_err(|error| {
        InputError::new(format!("cannot create a spool file for the input: {error}"))
    })?;
    let spool = SpoolHandle(Arc::new(Mutex::new(Some(spool_file))));
    let tee = TeeReader {
        inner: reader,
        spool: spool.clone(),
    };
    Ok((
        Box::new(BufReader::with_capacity(64 * 1024, tee)),
        Pending::Spool(spool),
    ))
}
