//! Checking that a guest's `TMPDIR` can hold its RAM file.
//!
//! UML maps guest memory from a sparse, unlinked file in `TMPDIR`: the file system must allow
//! `PROT_EXEC` mappings (not `noexec`) and a full tmpfs kills a running guest with SIGBUS, so
//! the free space is checked before boot.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Errors of [`check_tmpdir`].
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    /// The directory cannot be used.
    #[error("the guest memory directory {dir} is not usable: {source}; it must be an existing directory")]
    Unusable {
        /// The directory.
        dir: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Not enough free space.
    #[error("the guest memory directory {dir} has {free} bytes free but the guest needs {needed}; free space there or choose a directory with at least that much room")]
    TooSmall {
        /// The directory.
        dir: PathBuf,
        /// Free bytes available to this user.
        free: u64,
        /// Bytes needed (the guest's memory size).
        needed: u64,
    },
    /// The file system is mounted `noexec`.
    #[error("the guest memory directory {dir} is on {mount_point}, which is mounted noexec; UML needs executable mappings there, so choose a directory on a mount without noexec")]
    NoExec {
        /// The directory.
        dir: PathBuf,
        /// The mount point of its file system.
        mount_point: PathBuf,
    },
}

/// Checks that `dir` has at least `mem_bytes` free (statvfs, space available to this user) and
/// is not on a `noexec` mount (from `/proc/self/mountinfo`).
pub fn check_tmpdir(dir: &Path, mem_bytes: u64) -> Result<(), RoomError> {
    let unusable = |source| RoomError::Unusable {
        dir: dir.to_path_buf(),
        source,
    };
    let canonical = std::fs::canonicalize(dir).map_err(unusable)?;
    if !canonical.is_dir() {
        return Err(unusable(io::Error::from_raw_os_error(libc::ENOTDIR)));
    }
    let c_path = CString::new(canonical.as_os_str().as_bytes())
        .map_err(|_| unusable(io::Error::from_raw_os_error(libc::EINVAL)))?;
    // SAFETY: statvfs is plain data; all-zero is a valid initial value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is NUL-terminated and st is a valid out-parameter.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut st) } != 0 {
        return Err(unusable(io::Error::last_os_error()));
    }
    let free = (st.f_bavail as u64).saturating_mul(st.f_frsize as u64);
    if free < mem_bytes {
        return Err(RoomError::TooSmall {
            dir: dir.to_path_buf(),
            free,
            needed: mem_bytes,
        });
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(unusable)?;
    if let Some(mount) = mount_of(&mountinfo, &canonical) {
        if mount.noexec {
            return Err(RoomError::NoExec {
                dir: dir.to_path_buf(),
                mount_point: mount.mount_point,
            });
        }
    }
    // statvfs also reports noexec (ST_NOEXEC) for the mount the path is on.
    if st.f_flag & libc::ST_NOEXEC != 0 {
        return Err(RoomError::NoExec {
            dir: dir.to_path_buf(),
            mount_point: canonical,
        });
    }
    Ok(())
}

/// The mount that holds a path.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) mount_point: PathBuf,
    pub(crate) noexec: bool,
}

/// Finds the mount holding `path` (absolute, canonical): the longest mount point that is a
/// prefix of it, the last such line winning (it is mounted on top).
pub(crate) fn mount_of(mountinfo: &str, path: &Path) -> Option<Mount> {
    let mut best: Option<Mount> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(mp), Some(opts)) = (fields.get(4), fields.get(5)) else {
            continue;
        };
        let mount_point = PathBuf::from(umlvnf_host::unescape_mount_path(mp));
        if !path.starts_with(&mount_point) {
            continue;
        }
        let longer = match &best {
            None => true,
            Some(b) => mount_point.as_os_str().len() >= b.mount_point.as_os_str().len(),
        };
        if longer {
            best = Some(Mount {
                noexec: opts.split(',').any(|o| o == "noexec"),
                mount_point,
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=1k
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 25 0:27 / /dev/shm rw,nosuid,noexec,relatime - tmpfs tmpfs rw
31 27 0:28 / /srv/my\\040dir rw,noexec shared:5 - tmpfs tmpfs rw
";

    #[test]
    fn finds_the_topmost_longest_mount() {
        let m = mount_of(SAMPLE, Path::new("/dev/shm/x")).unwrap();
        assert_eq!(m.mount_point, Path::new("/dev/shm"));
        assert!(m.noexec, "the later /dev/shm line is on top");
        let m = mount_of(SAMPLE, Path::new("/dev/shmother")).unwrap();
        assert_eq!(m.mount_point, Path::new("/"));
        assert!(!m.noexec);
        let m = mount_of(SAMPLE, Path::new("/srv/my dir/a")).unwrap();
        assert_eq!(m.mount_point, Path::new("/srv/my dir"));
        assert!(m.noexec);
    }

    #[test]
    fn missing_directory_and_huge_request_are_rejected() {
        assert!(matches!(
            check_tmpdir(Path::new("/nonexistent/umlvnf"), 1),
            Err(RoomError::Unusable { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            check_tmpdir(dir.path(), u64::MAX),
            Err(RoomError::TooSmall { .. })
        ));
        check_tmpdir(dir.path(), 1).unwrap();
    }
}
