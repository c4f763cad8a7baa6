//! Opening `--input` for the checking pass, and keeping what the running
//! pass will read again.
//!
//! The checking pass copies what it reads into a private temporary file (a
//! tee), and the running pass reads that copy: stdin, a pipe or a process
//! substitution can be read only once, and a file may change between the
//! passes (lines appended or cut while the run goes on). So the items run
//! are exactly the items checked. The copy costs one sequential write of
//! the input, in the temporary directory (`TMPDIR`).

use crate::error::InputError;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Where `--input` items come from in the running pass: the private copy
/// the checking pass made, rewound.
#[derive(Debug)]
pub(super) struct Source(File);

impl Source {
    /// Opens the items for the running pass.
    pub(super) fn reader(self) -> Box<dyn BufRead + Send> {
        Box::new(BufReader::with_capacity(64 * 1024, self.0))
    }
}

/// Shares the spool file between the tee reader (pass 1) and its owner;
/// [`Spool::finish`] once the checking reader is dropped.
#[derive(Clone)]
pub(super) struct Spool(Arc<Mutex<Option<File>>>);

impl Spool {
    pub(super) fn finish(self) -> Result<Source, InputError> {
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
        Ok(Source(file))
    }
}

/// Copies everything read through it into the spool file.
struct TeeReader<R> {
    inner: R,
    spool: Spool,
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

/// Opens `--input` (`-` is stdin) for the checking pass, copying what is
/// read through it into the spool.
pub(super) fn open(path: &Path) -> Result<(Box<dyn BufRead + Send>, Spool), InputError> {
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
        Box::new(file)
    };
    let spool_file = tempfile::tempfile().map_err(|error| {
        InputError::new(format!("cannot create a spool file for the input: {error}"))
    })?;
    let spool = Spool(Arc::new(Mutex::new(Some(spool_file))));
    let tee = TeeReader {
        inner: reader,
        spool: spool.clone(),
    };
    Ok((Box::new(BufReader::with_capacity(64 * 1024, tee)), spool))
}
