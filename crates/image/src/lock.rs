//! An exclusive `flock` on a file, released when dropped.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::ImageError;

/// Holds an exclusive lock on an open lock file until dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Opens (creating) `path` and blocks until the exclusive lock is held.
    pub fn exclusive(path: &Path) -> Result<FileLock, ImageError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(ImageError::io("opening lock file", path))?;
        loop {
            // SAFETY: flock on a valid, owned file descriptor has no memory-safety requirements.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(FileLock { _file: file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(ImageError::Io {
                    action: "locking",
                    path: path.to_path_buf(),
                    source: err,
                });
            }
        }
    }
}
