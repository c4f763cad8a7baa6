//! `--format sarif|github` for now: fd 1 is pointed at /dev/null for the
//! length of a run, so the runner's JSON document goes nowhere, while the
//! format's writer gets the real stdout (a duplicate of it). A stopgap until
//! the shared printer takes a format; the runner is left untouched.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// fd 1 points at /dev/null; `saved` is the real stdout.
pub(crate) struct Swapped {
    saved: OwnedFd,
}

impl Swapped {
    pub(crate) fn to_dev_null() -> io::Result<Swapped> {
        let null = File::options().write(true).open("/dev/null")?;
        // SAFETY: dup(1) only duplicates a descriptor; the new one is
        // owned by `saved` alone.
        let saved = unsafe { libc::dup(1) };
        if saved < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `saved` is a fresh descriptor nothing else owns.
        let saved = unsafe { OwnedFd::from_raw_fd(saved) };
        // SAFETY: dup2 replaces fd 1 atomically; both descriptors are open.
        if unsafe { libc::dup2(null.as_raw_fd(), 1) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Swapped { saved })
    }

    /// A writable handle on the real stdout.
    pub(crate) fn real_stdout(&self) -> io::Result<File> {
        Ok(File::from(self.saved.try_clone()?))
    }

    /// Puts the real stdout back on fd 1.
    pub(crate) fn restore(self) {
        // SAFETY: both descriptors are open; dup2 only repoints fd 1.
        unsafe {
            libc::dup2(self.saved.as_raw_fd(), 1);
        }
    }
}
