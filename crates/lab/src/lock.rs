//! One lab, one owner: an exclusive `flock` on `LABS/.LAB.lock`.

use std::path::Path;

/// The lock of one lab, held by the runtime from the start of `up` until it exits (a forked
/// `up -d` runtime inherits it). The file holds the owner's pid, for the message a second `up`
/// gets.
#[derive(Debug)]
pub struct LabLock {
    file: std::fs::File,
}

impl LabLock {
    /// Takes the lock of lab `lab` without waiting: `Ok(None)` names nobody, `Err` carries the
    /// pid written by the holder (0 if it wrote none).
    pub fn try_acquire(labs_dir: &Path, lab: &str) -> std::io::Result<Result<LabLock, i32>> {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(labs_dir)?;
        let path = labs_dir.join(format!(".{lab}.lock"));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        // SAFETY: flock on a valid descriptor this function owns; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(err);
            }
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Ok(Err(text.trim().parse().unwrap_or(0)));
        }
        let lock = LabLock { file };
        lock.record_pid()?;
        Ok(Ok(lock))
    }

    /// Writes this process's pid into the lock file (again after a fork).
    pub fn record_pid(&self) -> std::io::Result<()> {
        use std::io::{Seek, Write};
        let mut f = &self.file;
        f.set_len(0)?;
        f.seek(std::io::SeekFrom::Start(0))?;
        writeln!(f, "{}", std::process::id())
    }
}
